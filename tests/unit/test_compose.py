"""Unit tests for ketasim.library.compose: attaching route and metabolite submodels."""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import numpy as np
import pytest

from ketasim import Regimen, simulate
from ketasim.errors import KetasimWarning, ModelError, ValidityWarning
from ketasim.library import load_model
from ketasim.library.compose import (
    list_composed_models,
    list_submodels,
    load_composed_model,
    load_submodel_document,
)

ROUTES = "racemic_adult_routes"
NK = "racemic_adult_norketamine"
SUBDIR = Path(__file__).resolve().parents[2] / "src" / "ketasim" / "library" / "submodels"


def _quiet(base, subs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", KetasimWarning)
        return load_composed_model(base, subs)


def _edited(tmp_path, old, new, name=ROUTES):
    text = (SUBDIR / f"{name}.toml").read_text(encoding="utf-8")
    assert text.count(old) == 1
    p = tmp_path / f"{name}.toml"
    p.write_text(text.replace(old, new), encoding="utf-8")
    return p


def test_list_submodels_has_routes_and_norketamine():
    assert {ROUTES, NK} <= set(list_submodels())


def test_list_composed_models_uses_reference_disposition():
    assert list_composed_models() == [
        f"domino_1984+{NK}+{ROUTES}",
        "herd_2007+racemic_paediatric_routes",
    ]


def test_load_model_plus_id_composes():
    spec = load_model(f"domino_1984+{ROUTES}")
    assert spec.id == f"domino_1984+{ROUTES}"
    assert {"iv", "im", "oral", "sublingual", "rectal"} <= set(spec.routes)


def test_compose_order_metabolites_first_whatever_given():
    spec = _quiet("domino_1984", [ROUTES, NK])
    assert spec.id == f"domino_1984+{NK}+{ROUTES}"


def test_compose_keeps_disposition_numbering():
    base = load_model("domino_1984")
    spec = _quiet("domino_1984", [NK, ROUTES])
    n = base.n_compartments
    assert [c.name for c in spec.compartments[:n]] == [c.name for c in base.compartments]


def test_compose_without_norketamine_drops_first_pass_inputs():
    spec = _quiet("domino_1984", [ROUTES])
    assert [i.cmt for i in spec.routes["oral"].inputs] == ["CENTRAL"]
    assert "norketamine" not in spec.get_analytes()


def test_compose_with_norketamine_adds_first_pass_input():
    spec = _quiet("domino_1984", [NK, ROUTES])
    assert [i.cmt for i in spec.routes["oral"].inputs] == ["CENTRAL", "DEPOT_FP_ORAL"]


def test_formation_converts_elimination_with_fraction():
    spec = _quiet("domino_1984", [NK])
    (elim,) = [f for f in spec.flows if f.source == "CENTRAL" and f.target == "NK_CENTRAL"]
    assert elim.fraction == "FM_NK"
    assert not [f for f in spec.flows if f.source == "CENTRAL" and f.target is None]


def test_norketamine_mass_balance_after_iv_bolus():
    # all formed NK = FM x dose x MW ratio leaves through CLNK: AUC_NK x CLNK
    spec = _quiet("domino_1984", [NK])
    t = np.linspace(0, 200, 40001)
    res = simulate(spec, Regimen.from_quantities("10 mg"), t, covariates={"WT": 70})
    c = res.get_conc("norketamine", "mg/L")[0]
    auc = float(np.sum(0.5 * (c[1:] + c[:-1]) * np.diff(t)))
    formed = 0.8 * 10 * 223.70 / 237.73
    clnk = spec.thetas["TVCLNK"].value * 70
    assert auc * clnk == pytest.approx(formed, rel=2e-3)


def test_unknown_route_is_refused():
    spec = _quiet("domino_1984", [ROUTES])
    with pytest.raises(ModelError, match="subcutaneous"):
        simulate(
            spec,
            Regimen.from_quantities("10 mg", route="subcutaneous"),
            np.array([1.0]),
            covariates={"WT": 70, "IN_DOSE": 30},
        )


def test_plain_intranasal_is_refused_naming_the_study_variants():
    spec = _quiet("domino_1984", [ROUTES])
    with pytest.raises(ModelError, match="intranasal_yanagihara_2003"):
        spec.get_route("intranasal")


def test_unknown_submodel_is_refused():
    with pytest.raises(ModelError, match="unknown submodel 'nope'"):
        load_composed_model("domino_1984", ["nope"])


def test_unknown_disposition_is_refused():
    with pytest.raises(ModelError, match="unknown model 'nope'"):
        load_composed_model("nope", [ROUTES])


def test_no_submodel_is_refused():
    with pytest.raises(ModelError, match="at least one submodel"):
        load_composed_model("domino_1984", [])


def test_other_drug_is_refused():
    with pytest.raises(ModelError, match="attach it only to racemic ketamine"):
        load_composed_model("simons_2022", [ROUTES])


def test_children_model_warns_outside_population():
    with pytest.warns(ValidityWarning, match="outside the submodel's population"):
        load_composed_model("herd_2007", [ROUTES])


def _with_unit(tmp_path, name, unit):
    """The routes submodel with parameter ``name`` given ``unit`` (value untouched)."""
    text = (SUBDIR / f"{ROUTES}.toml").read_text(encoding="utf-8")
    pattern = re.compile(rf'^({name} = {{ value = [^,]+, unit = )"[^"]*"', re.M)
    assert len(pattern.findall(text)) == 1
    p = tmp_path / f"{ROUTES}.toml"
    p.write_text(pattern.sub(rf'\1"{unit}"', text), encoding="utf-8")
    return p


def test_submodel_rate_with_wrong_unit_is_refused(tmp_path):
    with pytest.raises(ModelError, match="KA_FP_PO is used as a rate"):
        load_submodel_document(_with_unit(tmp_path, "KA_FP_PO", "L"))


def test_submodel_duration_with_wrong_unit_is_refused(tmp_path):
    with pytest.raises(ModelError, match="D_IM is used as a duration"):
        load_submodel_document(_with_unit(tmp_path, "D_IM", "L"))


def test_submodel_bioavailability_with_time_unit_is_refused(tmp_path):
    with pytest.raises(ModelError, match="F_PR is used as a F"):
        load_submodel_document(_with_unit(tmp_path, "F_PR", "h"))


def test_submodel_time_unit_is_converted(tmp_path):
    # a duration written in min is accepted and converted by the loader (0.25 -> 0.25 min)
    spec = _quiet("domino_1984", [_with_unit(tmp_path, "D_IM", "min")])
    assert spec.thetas["D_IM"].unit == "h"
    assert spec.thetas["D_IM"].value == pytest.approx(spec.thetas["D_IM"].published_value / 60)


def test_intranasal_dose_covariate_is_derived_from_the_dose():
    from ketasim.individual import resolve_covariates

    spec = _quiet("domino_1984", [NK, ROUTES])
    reg = Regimen.from_quantities("50 mg", route="intranasal_pharmacotherapy_2022")
    assert resolve_covariates(spec, {"WT": 70}, regimen=reg).values["IN_DOSE"] == 50


def test_intranasal_bioavailability_falls_with_dose():
    from ketasim.individual import compute_individual_parameters

    spec = _quiet("domino_1984", [ROUTES])
    f = [
        float(compute_individual_parameters(spec, covariates={"WT": 70, "IN_DOSE": d})["F_IN_P22"])
        for d in (10, 30, 50)
    ]
    assert f[0] > f[1] > f[2]


def test_submodel_unknown_unit_is_refused(tmp_path):
    p = _edited(tmp_path, 'unit = "L/kg"', 'unit = "furlong"', name=NK)
    with pytest.raises(ModelError, match="furlong"):
        _quiet("domino_1984", [p])


def test_submodel_parameter_clash_is_refused(tmp_path):
    p = _edited(tmp_path, "FM_NK = {", "TVK10 = {", name=NK)
    with pytest.raises(ModelError, match="TVK10"):
        _quiet("domino_1984", [p])


def test_submodel_without_evidence_is_refused(tmp_path):
    p = _edited(tmp_path, 'evidence = "derived"\n', "")
    with pytest.raises(ModelError, match="evidence"):
        load_submodel_document(p)


def test_composed_model_is_tier_derived():
    spec = _quiet("domino_1984", [ROUTES])
    assert spec.evidence.tier == "derived"
    assert "transcribed" in spec.notes
