"""Individual parameters: domains checked at the edge, errors naming the user's input, and
resolve_covariates (every covariate used, range-checked or refused by name; NDEV from the dose)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from ketasim.errors import ParameterError, ValidityWarning
from ketasim.events import Regimen
from ketasim.individual import (
    check_parameters,
    coerce_covariates,
    compute_individual_parameters,
    resolve_covariates,
)
from ketasim.library import load_model
from ketasim.spec import get_builtin_model

PR_BASE = {"AGE": 45.0, "ASIAN": 0.0, "JAPANESE": 0.0, "NDEV": 1.0}


@pytest.mark.parametrize(
    ("model", "covs", "match"),
    [
        ("herd_2007", {"WT": 0.0}, r"covariate WT = 0 kg is not possible: it must be a number > 0"),
        ("herd_2007", {"WT": -70.0}, r"covariate WT = -70 kg"),
        ("herd_2007", {"WT": np.nan}, r"covariate WT = nan kg"),
        ("perez_ruixo_2021", {**PR_BASE, "NDEV": -3.0}, r"NDEV = -3 .*whole number >= 1"),
        ("perez_ruixo_2021", {**PR_BASE, "NDEV": 2.5}, r"NDEV = 2.5 .*whole number >= 1"),
        ("perez_ruixo_2021", {**PR_BASE, "NDEV": 0.0}, r"NDEV = 0 .*whole number >= 1"),
        ("perez_ruixo_2021", {**PR_BASE, "ASIAN": 7.0}, r"ASIAN = 7 .*0 or 1"),
        ("perez_ruixo_2021", {**PR_BASE, "AGE": -5.0}, r"AGE = -5 yr .*>= 0"),
        ("perez_ruixo_2021", {**PR_BASE, "AGE": 300.0}, r"AGE = 300 yr .*<= 130"),
    ],
)
def test_covariate_outside_domain_names_the_covariate(model, covs, match):
    with pytest.raises(ParameterError, match=match):
        compute_individual_parameters(load_model(model), covariates=covs)


def test_covariate_outside_domain_never_blames_derived_parameter():
    with pytest.raises(ParameterError) as info:
        compute_individual_parameters(load_model("herd_2007"), covariates={"WT": 0.0})
    assert "V1" not in str(info.value)


def test_covariate_array_with_one_bad_subject_names_that_value():
    with pytest.raises(ParameterError, match=r"WT = 0 kg"):
        compute_individual_parameters(
            load_model("herd_2007"), covariates={"WT": np.array([20.0, 0.0, 30.0])}
        )


def test_covariate_quantity_string_is_converted():
    p = compute_individual_parameters(load_model("herd_2007"), covariates={"WT": "70000 g"})
    assert float(p["CL"]) == pytest.approx(90.0)


def test_covariate_unreadable_string_names_covariate():
    with pytest.raises(ParameterError, match=r"covariate WT = 'seventy'"):
        coerce_covariates(load_model("herd_2007"), {"WT": "seventy"})


def test_covariate_unknown_name_refused():
    with pytest.raises(ParameterError, match=r"has no covariate 'AGE'"):
        coerce_covariates(load_model("herd_2007"), {"AGE": 40.0})


def test_param_override_negative_clearance_names_param():
    with pytest.raises(ParameterError, match=r"params CL = -5 L/h is not possible"):
        compute_individual_parameters(
            load_model("herd_2007"), covariates={"WT": 70.0}, params={"CL": -5.0}
        )


def test_param_override_text_refused_by_name():
    with pytest.raises(ParameterError, match=r"params V1 = 'ten'"):
        compute_individual_parameters(
            load_model("herd_2007"), covariates={"WT": 70.0}, params={"V1": "ten"}
        )


def test_fraction_parameter_override_above_one_refused():
    with pytest.raises(ParameterError, match=r"params F_NASAL = 1.5 is not possible"):
        compute_individual_parameters(
            load_model("perez_ruixo_2021"), covariates=PR_BASE, params={"F_NASAL": 1.5}
        )


def test_generic_model_negative_clearance_refused():
    spec = get_builtin_model("pk1")
    p = compute_individual_parameters(spec, params={"CL": -5.0, "V1": 10.0})
    with pytest.raises(ParameterError, match=r"parameter CL = -5 is not possible"):
        check_parameters(spec, p)


def test_derived_parameter_outside_domain_names_inputs():
    spec = load_model("herd_2007").with_parameters(TVCL=-1.0)
    with pytest.raises(ParameterError, match=r"covariate WT = 70 kg give CL = -1 L/h"):
        compute_individual_parameters(spec, covariates={"WT": 70.0})


# --- resolve_covariates ------------------------------------------------------------------------


@pytest.mark.parametrize(("dose", "ndev"), [("28 mg", 1.0), ("56 mg", 2.0), ("84 mg", 3.0)])
def test_ndev_derived_from_label_dose_per_device(dose, ndev):
    reg = Regimen.from_quantities(dose, route="intranasal")
    r = resolve_covariates(load_model("perez_ruixo_2021"), {"AGE": "45 yr"}, regimen=reg)
    assert r.values["NDEV"] == ndev
    assert any("NDEV" in n and "SPRAVATO" in n for n in r.notes)


def test_ndev_contradicting_dose_refused():
    reg = Regimen.from_quantities("84 mg", route="intranasal")
    with pytest.raises(ParameterError, match=r"NDEV = 1 contradicts the dose.*84 mg is 3 x 28 mg"):
        resolve_covariates(load_model("perez_ruixo_2021"), {"NDEV": 1}, regimen=reg)


def test_ndev_dose_not_multiple_of_device_refused():
    reg = Regimen.from_quantities("50 mg", route="intranasal")
    with pytest.raises(ParameterError, match=r"50 mg is not a whole number of 28-mg devices"):
        resolve_covariates(load_model("perez_ruixo_2021"), {}, regimen=reg)


def test_ndev_given_matching_dose_accepted():
    reg = Regimen.from_quantities("56 mg", route="intranasal")
    r = resolve_covariates(load_model("perez_ruixo_2021"), {"NDEV": "2"}, regimen=reg)
    assert r.values["NDEV"] == 2.0


def test_ndev_not_noted_for_iv_dose():
    reg = Regimen.from_quantities("20 mg", route="iv", duration="40 min")
    r = resolve_covariates(load_model("perez_ruixo_2021"), {"AGE": 45}, regimen=reg)
    assert not any(n.startswith("NDEV") for n in r.notes)


def test_unused_covariate_refused_by_name():
    with pytest.raises(ParameterError, match=r"model herd_2007 does not use SEX"):
        resolve_covariates(load_model("herd_2007"), {"WT": 20.0, "SEX": 1.0})


def test_age_without_covariate_checked_against_population_range():
    with pytest.warns(ValidityWarning, match=r"AGE 40 yr is outside the range model herd_2007"):
        r = resolve_covariates(load_model("herd_2007"), {"WT": 20.0, "AGE": "40 yr"})
    assert any(n.startswith("AGE = 40 yr: not a covariate") for n in r.notes)


def test_covariate_outside_validity_range_warns():
    with pytest.warns(ValidityWarning, match=r"NDEV 4 is outside the range"):
        resolve_covariates(load_model("perez_ruixo_2021"), {"NDEV": 4})


def test_weight_used_for_per_kg_dose_of_model_without_wt():
    reg = Regimen.from_quantities("0.2 mg/kg", route="iv", duration="40 min")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        r = resolve_covariates(load_model("perez_ruixo_2021"), {"WT": "70 kg"}, regimen=reg)
    assert r.weight_kg == 70.0
    assert "WT" not in r.values


def test_missing_covariate_reference_is_stated():
    r = resolve_covariates(load_model("herd_2007"), {})
    assert r.values["WT"] == 70.0
    assert r.notes == ("WT not given; using the model's reference 70 kg",)


def test_allow_unused_lists_instead_of_refusing():
    r = resolve_covariates(load_model("herd_2007"), {"SEX": 1.0}, allow_unused=True)
    assert r.unused == ("SEX",)
