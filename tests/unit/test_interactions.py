"""Published interaction ratios are applied only under the conditions they were measured in."""

from __future__ import annotations

import numpy as np
import pytest

from ketasim.errors import ModelError, ValidityWarning
from ketasim.events import Regimen
from ketasim.interactions import compute_modified_exposure, get_modifier, list_modifiers
from ketasim.library import load_model
from ketasim.simulate import simulate


def _nasal():
    m = load_model("perez_ruixo_2021")
    covs = {"AGE": 45.0, "ASIAN": 0.0, "JAPANESE": 0.0, "NDEV": 3.0}
    return simulate(
        m,
        Regimen.from_quantities("84 mg", route="intranasal"),
        np.linspace(0, 24, 1441),
        covariates=covs,
    )


def test_every_modifier_has_a_citation_and_route() -> None:
    mods = list_modifiers()
    assert len(mods) >= 10
    for m in mods:
        assert m.victim_route in ("oral", "iv", "intranasal", "sc")
        assert m.citation.get("year")


def test_published_ratio_multiplies_exposure() -> None:
    res = _nasal()
    rows = compute_modified_exposure(
        res, get_modifier("renal_impairment_esketamine_nasal"), "intranasal"
    )
    assert rows
    for r in rows:
        assert r.adjusted == pytest.approx(r.baseline * r.ratio, rel=1e-12)


def test_oral_ratio_refused_for_intranasal_regimen() -> None:
    with pytest.raises(ModelError, match="oral route"):
        compute_modified_exposure(
            _nasal(), get_modifier("clarithromycin_oral_s_ketamine"), "intranasal"
        )


def test_s_ketamine_ratio_refused_for_racemic_model() -> None:
    m = load_model("herd_2007")
    res = simulate(
        m, Regimen.from_quantities("20 mg"), np.linspace(0, 4, 9), covariates={"WT": 20.0}
    )
    with pytest.raises(ModelError, match="does not transfer"):
        compute_modified_exposure(res, get_modifier("rifampicin_iv_s_ketamine_noppers"), "iv")


def test_unknown_modifier_lists_available() -> None:
    with pytest.raises(ModelError, match="clarithromycin_oral_s_ketamine"):
        get_modifier("aspirin")


def test_weight_outside_population_warns_in_api() -> None:
    m = load_model("herd_2007")
    with pytest.warns(ValidityWarning, match="outside the range"):
        simulate(
            m, Regimen.from_quantities("20 mg"), np.linspace(0, 4, 9), covariates={"WT": 120.0}
        )


# --- issue 12: the interaction changes the simulation itself -----------------------------------
def _perez_oral(dose: str = "20 mg"):
    from ketasim.simulate import simulate

    m = load_model("perez_ruixo_2021")
    covs = {"AGE": 45.0, "ASIAN": 0.0, "JAPANESE": 0.0, "NDEV": 1.0}
    return m, covs, Regimen.from_quantities(dose, route="oral"), simulate


def test_apply_modifier_scales_the_parent_by_the_auc_ratio_issue_12() -> None:
    from ketasim.interactions import apply_modifier

    m, covs, reg, simulate = _perez_oral()
    mod = apply_modifier(reg, m, get_modifier("clarithromycin_oral_s_ketamine"))
    t = np.linspace(0.5, 24, 48)
    base = simulate(m, reg, t, covariates=covs).conc["s_ketamine"]
    adj = simulate(m, mod.regimen, t, covariates=covs).conc["s_ketamine"]
    np.testing.assert_allclose(adj / base, 2.6, rtol=1e-12)  # Hagelberg 2010 AUC0-inf ratio
    assert mod.mechanism == "bioavailability" and "x2.6" in mod.note


def test_apply_modifier_keeps_doses_on_other_routes_issue_12() -> None:
    from ketasim.interactions import apply_modifier

    m, _, reg, _ = _perez_oral()
    both = reg + Regimen.from_quantities("5 mg", route="iv", start="12 h")
    mod = apply_modifier(both, m, get_modifier("clarithromycin_oral_s_ketamine"))
    assert [d.amt for d in mod.regimen.doses] == [20 * 2.6, 5.0]


def test_apply_modifier_refuses_iv_findings_and_other_routes_issue_12() -> None:
    from ketasim.interactions import apply_modifier

    m, _, _, _ = _perez_oral()
    iv = Regimen.from_quantities("20 mg", route="iv")
    with pytest.raises(ModelError, match="does not transfer"):
        apply_modifier(iv, m, get_modifier("clarithromycin_oral_s_ketamine"))
    with pytest.raises(ModelError, match="clearance"):
        apply_modifier(iv, m, get_modifier("rifampicin_iv_s_ketamine_peltoniemi2012"))
