"""compare_models: every suitable model, the spread, and the reasons the files give."""

from __future__ import annotations

import numpy as np
import pytest

from ketasim.comparison import SAMPLING_REASON, compare_models
from ketasim.errors import ModelError, ParameterError
from ketasim.events import Regimen
from ketasim.library import find_models, load_model
from ketasim.simulate import simulate

ESK = Regimen.from_quantities("0.25 mg/kg", duration="40 min")
NK_ROUTES = "racemic_adult_norketamine+racemic_adult_routes"


def _esk():
    return compare_models(ESK, drug="esketamine", population="adult", covariates={"WT": "70 kg"})


def test_compare_lists_every_suitable_model():
    cmp = _esk()
    want = {m.id for m in find_models(drug="esketamine", route="iv", population="adult")}
    assert {r.model for r in cmp.rows} == want


def test_compare_rows_carry_tier_and_sampling():
    for r in _esk().rows:
        spec = load_model(r.model)
        assert r.sampling == spec.sampling
        assert r.evidence == spec.evidence.tier
        assert f"evidence: {r.evidence}" in r.provenance


def test_compare_cmax_equals_the_models_own_simulation():
    cmp = _esk()
    res = simulate(
        load_model("simons_2022"), ESK, cmp.results["simons_2022"].time_h, covariates={"WT": 70}
    )
    c = res.get_conc("s_ketamine", "ng/mL")[0]
    (row,) = [r for r in cmp.rows if r.model == "simons_2022" and r.analyte == "s_ketamine"]
    assert row.cmax == pytest.approx(float(np.max(c)), rel=1e-12)


def test_compare_arterial_vs_venous_spread_and_reason():
    # issue 9: simons_2022 (arterial) ~144 vs perez_ruixo_2021 (venous) ~62 ng/mL S-ketamine
    cmp = _esk()
    assert cmp.get_spread("s_ketamine") > 2.0
    assert any(reason.startswith(SAMPLING_REASON) for reason in cmp.reasons)


def test_compare_population_difference_stated():
    cmp = compare_models(
        Regimen.from_quantities("0.5 mg/kg", duration="40 min"),
        drug="racemic",
        covariates={"WT": "30 kg"},
    )
    assert any(r.startswith("populations differ") for r in cmp.reasons)


def test_compare_per_kg_dose_without_weight_refused():
    with pytest.raises(ParameterError, match="per-kg dose needs the body weight"):
        compare_models(ESK, drug="esketamine", population="adult")


def test_compare_covariate_no_model_uses_refused_by_name():
    with pytest.raises(ParameterError, match="no suitable model uses SEX"):
        compare_models(ESK, drug="esketamine", population="adult", covariates={"WT": 70, "SEX": 1})


def test_compare_route_without_models_refused():
    with pytest.raises(ModelError, match="no library model of racemic ketamine has route 'subcut"):
        compare_models(Regimen.from_quantities("35 mg", route="subcutaneous"), drug="racemic")


def test_compare_runs_every_study_variant_of_a_route_and_says_why():
    cmp = compare_models(
        Regimen.from_quantities("30 mg", route="intranasal"),
        drug="racemic",
        population="adult",
        covariates={"WT": "70 kg"},
    )
    labels = sorted({r.model for r in cmp.rows})
    assert labels == [
        f"domino_1984+{NK_ROUTES} [intranasal_pharmacotherapy_2022]",
        f"domino_1984+{NK_ROUTES} [intranasal_yanagihara_2003]",
    ]
    assert set(cmp.results) == set(labels)
    assert any("study-named variants" in why for why in cmp.reasons)


def test_compare_summaries_are_exact_not_from_the_plot_grid():
    from ketasim.exposure import compute_exposure

    reg = Regimen.from_quantities("0.5 mg/kg", route="im")
    cmp = compare_models(reg, drug="racemic", population="adult", covariates={"WT": "70 kg"})
    row = next(r for r in cmp.rows if r.analyte == "ketamine")
    from ketasim.individual import resolve_covariates

    spec = load_model(f"domino_1984+{NK_ROUTES}")
    covs = resolve_covariates(spec, {"WT": "70 kg"}, regimen=reg).values
    ex = compute_exposure(spec, reg, covariates=dict(covs), weight_kg=70.0, t_end_h=24.0)
    assert row.cmax == pytest.approx(float(ex.cmax_mg_per_L["ketamine"][0]) * 1000, rel=1e-12)
    assert row.tmax_h == pytest.approx(float(ex.tmax_h["ketamine"][0]), rel=1e-12)


def test_compare_peak_at_infusion_end_is_on_the_grid():
    cmp = _esk()
    (row,) = [r for r in cmp.rows if r.model == "simons_2022" and r.analyte == "s_ketamine"]
    assert row.tmax_h == pytest.approx(40 / 60, abs=1e-12)


def test_compare_other_sampling_site_warns():
    from ketasim.errors import SamplingSiteWarning

    with pytest.warns(SamplingSiteWarning, match="simons_2022 predicts arterial"):
        compare_models(
            ESK,
            drug="esketamine",
            population="adult",
            covariates={"WT": "70 kg"},
            sampling="venous",
        )
