"""TCI plans (ketasim.tci.plan): targets reached and held, effect site, pump limits, references."""

from __future__ import annotations

import contextlib
import math

import numpy as np
import pytest

from ketasim.errors import ModelError, ParameterError, SamplingSiteWarning
from ketasim.library import list_models, load_model
from ketasim.simulate import simulate
from ketasim.tci import (
    TCI_NOTICE,
    Pump,
    TargetSchedule,
    compute_tci_rates,
    get_effect_site,
    plan_tci,
)
from ketasim.tci.reference import compute_reference_rates, compute_response_matrix

OLOFSEN = "olofsen_2022_antinociception_external_perception"


def _covariates(spec):
    """Covariates inside the model's population (middle of its weight and age ranges)."""
    pop = spec.population
    out = {}
    for name, cov in spec.covariates.items():
        if name == "WT" and "weight_kg" in pop:
            out[name] = float(np.mean(pop["weight_kg"]))
        elif name == "AGE" and "age_years" in pop:
            out[name] = float(np.mean(pop["age_years"]))
        else:
            out[name] = cov.reference
    return out


IV_MODELS = [m for m in list_models() if "iv" in load_model(m).routes]


@pytest.mark.parametrize("model_id", IV_MODELS)
def test_plasma_tci_within_1pct_after_first_update_every_iv_model(model_id):
    spec = load_model(model_id)
    pump = Pump.from_quantities(update="10 s")
    plan = plan_tci(spec, "150 ng/mL", 0.5, pump, covariates=_covariates(spec), predict=False)
    # the plan re-simulated through simulate (a fresh call), 3 points per update interval
    grid = np.linspace(0, 0.5, 541)
    res = simulate(spec, plan.regimen, grid, covariates=_covariates(spec))
    cp = res.get_conc(plan.analyte, "mg/L")[0]
    after = grid >= pump.update_h
    assert np.max(np.abs(cp[after] / 0.15 - 1)) < 0.01
    assert set(res.analytes) == set(spec.get_analytes())  # metabolites predicted along


def test_plasma_tci_hits_target_at_update_times_to_round_off():
    spec = load_model("herd_2007")
    plan = plan_tci(
        spec, 1.0, 0.25, Pump(10 / 3600), covariates={"WT": 20.0}, output_step_h=10 / 3600
    )
    cp = plan.predicted.get_conc("ketamine", "mg/L")[0]
    assert np.max(np.abs(cp[1:] - 1.0)) < 1e-9


def test_effect_site_tci_never_above_and_holds_target():
    spec = load_model("flint_2017")
    plan = plan_tci(
        spec,
        "150 ng/mL",
        0.75,
        Pump(10 / 3600),
        mode="effect",
        effect_model=OLOFSEN,
        covariates={"WT": 10.0, "TAFD": 0.0},
        output_step_h=5 / 3600,
    )
    ce = plan.ce_mg_per_L
    t = plan.predicted.time_h
    assert ce.max() <= 0.15 * (1 + 1e-3)  # bounded at update times; 0.1 % between them
    reached = t[np.argmax(ce >= 0.15 * 0.99)]
    assert 0 < reached < 0.25
    assert np.max(np.abs(ce[t >= reached] / 0.15 - 1)) < 0.01


def test_effect_site_first_rate_then_coast():
    spec = load_model("simons_2022")
    plan = plan_tci(
        spec,
        0.15,
        0.5,
        Pump(10 / 3600),
        mode="effect",
        effect_model=OLOFSEN,
        covariates={"WT": 70.0},
        predict=False,
    )
    r = plan.rates_mg_per_h
    assert r[0] > 10 * r[-1] > 0
    assert r[1] == 0.0  # the pump coasts while Ce rises to its peak


def test_effect_site_refused_without_published_ke0():
    with pytest.raises(ModelError, match="herd_2007 has no published t1/2ke0"):
        plan_tci(
            load_model("herd_2007"),
            1.0,
            0.5,
            Pump(10 / 3600),
            mode="effect",
            covariates={"WT": 20.0},
        )


def test_effect_site_refusal_names_usable_effect_models():
    with pytest.raises(ModelError, match=OLOFSEN):
        plan_tci(
            load_model("simons_2022"),
            0.15,
            0.5,
            Pump(10 / 3600),
            mode="effect",
            covariates={"WT": 70.0},
        )


def test_supplied_ke0_needs_citation():
    with pytest.raises(ParameterError, match="citation"):
        get_effect_site(load_model("herd_2007"), "CENTRAL", "ketamine", t_half_ke0_h=0.01)


def test_pump_stops_when_target_drops():
    spec = load_model("herd_2007")
    sched = TargetSchedule.from_texts(["1000 ng/mL", "300 ng/mL at 10 min"], "ketamine")
    plan = plan_tci(spec, sched, 0.5, Pump(10 / 3600), covariates={"WT": 20.0})
    r = plan.rates_mg_per_h
    assert np.all(r >= 0)
    k = round((10 / 60) / (10 / 3600))
    assert r[k] == 0.0
    cp = plan.predicted.get_conc("ketamine", "mg/L")[0]
    t = plan.predicted.time_h
    falling = (t > 10 / 60) & (cp > 0.3)
    assert np.all(r[k:][cp[np.searchsorted(t, plan.start_h[k:])] > 0.3] == 0.0)
    assert np.all(np.diff(cp[falling]) < 0)


def test_max_rate_never_exceeded_and_target_reached_later():
    spec = load_model("herd_2007")
    fast = plan_tci(spec, 1.0, 0.5, Pump(10 / 3600), covariates={"WT": 20.0})
    slow = plan_tci(
        spec, 1.0, 0.5, Pump(10 / 3600, max_rate_mg_per_h=600.0), covariates={"WT": 20.0}
    )
    assert slow.rates_mg_per_h.max() <= 600.0
    assert fast.rates_mg_per_h.max() > 600.0
    assert any("limited" in n for n in slow.notes)
    cf = fast.predicted.get_conc("ketamine", "mg/L")[0]
    cs = slow.predicted.get_conc("ketamine", "mg/L")[0]
    t = fast.predicted.time_h
    assert t[np.argmax(cs >= 0.99)] > t[np.argmax(cf >= 0.99)]


def test_table_has_pump_rates_in_ml_per_h():
    plan = plan_tci(
        load_model("herd_2007"),
        1.0,
        0.1,
        Pump.from_quantities(update="10 s", syringe="10 mg/mL"),
        covariates={"WT": 20.0},
        predict=False,
    )
    header, rows = plan.to_table()
    i, j = header.index("rate_mg_per_h"), header.index("rate_mL_per_h")
    assert all(math.isclose(r[j] * 10.0, r[i]) for r in rows)
    assert math.isclose(sum(r[header.index("amt_mg")] for r in rows), plan.total_amt_mg)
    assert plan.notice == TCI_NOTICE
    assert "for simulation, not pump control" in plan.notice


def test_plan_agrees_with_brute_force_lp_plasma():
    spec, cov = load_model("flint_2017"), {"WT": 10.0, "TAFD": 0.0}
    pump = Pump(30 / 3600)
    plan = plan_tci(spec, 0.3, 15 / 60, pump, covariates=cov, predict=False)
    n = plan.rates_mg_per_h.size
    A = compute_response_matrix(
        spec, n, pump.update_h, 2 * n + 4, covariates=cov, analyte="s_ketamine"
    )
    ref = compute_reference_rates(A, plan.target_mg_per_L)
    assert np.max(np.abs(ref - plan.rates_mg_per_h)) < 1e-9 * plan.rates_mg_per_h.max()


def test_plan_agrees_with_brute_force_lp_effect_site_with_rate_limit():
    spec, cov = load_model("simons_2022"), {"WT": 70.0}
    pump = Pump(30 / 3600, max_rate_mg_per_h=900.0)
    plan = plan_tci(
        spec, 0.2, 20 / 60, pump, covariates=cov, mode="effect", effect_model=OLOFSEN, predict=False
    )
    n = plan.rates_mg_per_h.size
    site = plan.effect
    A = compute_response_matrix(
        site.spec, n, pump.update_h, 2 * n + 4, covariates=cov, effect_cmt=site.cmt_index
    )
    ref = compute_reference_rates(A, plan.target_mg_per_L, 900.0)
    assert np.max(np.abs(ref - plan.rates_mg_per_h)) < 1e-8 * 900.0


def test_compute_rates_one_compartment_closed_form():
    # C(t) after 1 mg/h over [0, d) in a 1-cmt model: (1 - e^{-k d}) e^{-k (t - d)} / CL
    k, cl, d = 0.7, 2.0, 0.1
    j = np.arange(12.0)
    h = np.where(j >= 1, (1 - np.exp(-k * d)) * np.exp(-k * (j - 1) * d) / cl, 0.0)
    r = compute_tci_rates(h, np.full(10, 3.0))
    assert math.isclose(r[0], 3.0 / h[1])
    assert np.allclose(r[1:], 3.0 * cl)  # then the maintenance rate CL * C exactly


def test_duration_not_whole_number_of_updates_refused():
    with pytest.raises(ParameterError, match="whole number"):
        plan_tci(load_model("herd_2007"), 1.0, 0.5, Pump(7 / 3600), covariates={"WT": 20.0})


@pytest.mark.parametrize("model_id", IV_MODELS)
def test_effect_site_tci_within_1pct_once_reached_every_iv_model(model_id):
    spec = load_model(model_id)
    # Olofsen's t1/2ke0 is arterial: a venous PK model must warn (and still plan)
    venous = spec.sampling == "venous"
    with pytest.warns(SamplingSiteWarning) if venous else contextlib.nullcontext():
        plan = plan_tci(
            spec,
            "150 ng/mL",
            40 / 60,
            Pump(10 / 3600),
            mode="effect",
            effect_model=OLOFSEN,
            covariates=_covariates(spec),
            output_step_h=10 / 3600,
        )
    ce, t = plan.ce_mg_per_L, plan.predicted.time_h
    reached = t[np.argmax(ce >= 0.15 * 0.99)]
    assert 0 < reached < 0.5
    assert np.max(np.abs(ce[t >= reached] / 0.15 - 1)) < 0.01
