"""Unit tests for ketasim.spec: built-in models, rate matrix, stoichiometry, immutability."""

from __future__ import annotations

import numpy as np
import pytest

from ketasim.errors import ModelError, ParameterError
from ketasim.spec import (
    BUILTIN_MODELS,
    Compartment,
    Flow,
    Iiv,
    ModelSpec,
    Route,
    RouteInput,
    get_builtin_model,
)
from ketasim.units import get_molar_mass_g_per_mol

PK2 = {"CL": 10.0, "V1": 20.0, "Q2": 5.0, "V2": 50.0}


def _parent_metabolite_spec(amount_basis: str = "molar", fraction: str | float = 0.5) -> ModelSpec:
    """Ketamine central -> norketamine central by clearance CL, a share ``fraction`` formed."""
    return ModelSpec(
        id="ket_nk",
        name="ketamine with norketamine formation",
        compartments=(
            Compartment("CENTRAL", "ketamine", "central", "V"),
            Compartment("NK_CENTRAL", "norketamine", "central", "VNK"),
        ),
        flows=(
            Flow("CENTRAL", "NK_CENTRAL", clearance="CL", fraction=fraction),
            Flow("NK_CENTRAL", None, clearance="CLNK"),
        ),
        routes={"iv": Route("iv", (RouteInput("CENTRAL"),), infusion=True)},
        free_parameters=("CL", "V", "CLNK", "VNK", "FM"),
        amount_basis=amount_basis,
    )


# --- built-in models -----------------------------------------------------------------------------


def test_builtin_models_are_the_generic_linear_and_michaelis_menten_models():
    assert set(BUILTIN_MODELS) == {
        "pk1",
        "pk2",
        "pk3",
        "pk1_depot",
        "pk2_depot",
        "pk3_depot",
        "pk1_mm",
        "pk1_mm_depot",
    }


@pytest.mark.parametrize(
    ("name", "compartments"),
    [
        ("pk1", ["CENTRAL"]),
        ("pk2", ["CENTRAL", "PERIPH1"]),
        ("pk3", ["CENTRAL", "PERIPH1", "PERIPH2"]),
        ("pk1_depot", ["DEPOT", "CENTRAL"]),
        ("pk2_depot", ["DEPOT", "CENTRAL", "PERIPH1"]),
        ("pk3_depot", ["DEPOT", "CENTRAL", "PERIPH1", "PERIPH2"]),
    ],
)
def test_builtin_model_compartments_in_nonmem_order(name, compartments):
    assert [c.name for c in get_builtin_model(name).compartments] == compartments


@pytest.mark.parametrize("name", ["pk1_depot", "pk2_depot", "pk3_depot"])
def test_builtin_depot_model_depot_is_compartment_1(name):
    assert get_builtin_model(name).get_compartment_index(1) == get_builtin_model(
        name
    ).get_compartment_index("DEPOT")


@pytest.mark.parametrize("name", ["pk1_depot", "pk2_depot", "pk3_depot"])
def test_builtin_depot_model_central_is_compartment_2(name):
    assert get_builtin_model(name).get_compartment_index("CENTRAL") == 1


@pytest.mark.parametrize("name", ["pk1_depot", "pk2_depot", "pk3_depot"])
def test_builtin_depot_model_default_dose_is_depot(name):
    assert get_builtin_model(name).get_default_dose_index() == 0


@pytest.mark.parametrize("name", ["pk1_depot", "pk2_depot", "pk3_depot"])
def test_builtin_depot_model_default_observation_is_central(name):
    assert get_builtin_model(name).get_default_observation_index() == 1


@pytest.mark.parametrize("name", ["pk1", "pk2", "pk3"])
def test_builtin_iv_model_default_dose_and_observation_are_central(name):
    m = get_builtin_model(name)
    assert (m.get_default_dose_index(), m.get_default_observation_index()) == (0, 0)


@pytest.mark.parametrize("name", ["pk1_depot", "pk2_depot", "pk3_depot"])
def test_builtin_depot_model_has_iv_and_extravascular_routes(name):
    assert set(get_builtin_model(name).routes) == {"iv", "extravascular"}


@pytest.mark.parametrize("name", ["pk1", "pk2", "pk3"])
def test_builtin_iv_model_has_only_iv_route(name):
    assert set(get_builtin_model(name).routes) == {"iv"}


@pytest.mark.parametrize("name", sorted(BUILTIN_MODELS))
def test_builtin_model_is_generic(name):
    assert get_builtin_model(name).generic is True


def test_builtin_pk3_free_parameters_include_macro_and_micro_constants():
    free = set(get_builtin_model("pk3").free_parameters)
    assert {"CL", "V1", "Q2", "V2", "Q3", "V3", "K10", "K12", "K21", "K13", "K31"} <= free


def test_builtin_pk2_aliases_v_and_q():
    assert dict(get_builtin_model("pk2").aliases) == {"V": "V1", "Q": "Q2"}


def test_builtin_pk1_has_no_q_alias():
    assert "Q" not in get_builtin_model("pk1").aliases


def test_get_builtin_model_unknown_raises_model_error_naming_it():
    with pytest.raises(ModelError, match="unknown built-in model 'pk4'"):
        get_builtin_model("pk4")


# --- compute_rate_matrix -------------------------------------------------------------------------


def test_compute_rate_matrix_pk2_clearances_equal_hand_written_matrix():
    CL, V1, Q, V2 = PK2["CL"], PK2["V1"], PK2["Q2"], PK2["V2"]
    expected = np.array(
        [
            [-(CL + Q) / V1, Q / V2],
            [Q / V1, -Q / V2],
        ]
    )
    np.testing.assert_allclose(
        get_builtin_model("pk2").compute_rate_matrix(PK2), expected, rtol=1e-14
    )


def test_compute_rate_matrix_pk2_micro_constants_equal_hand_written_matrix():
    p = {"K10": 0.5, "K12": 0.2, "K21": 0.1, "V1": 20.0}
    expected = np.array([[-0.7, 0.1], [0.2, -0.1]])
    np.testing.assert_allclose(
        get_builtin_model("pk2").compute_rate_matrix(p), expected, rtol=1e-14
    )


def test_compute_rate_matrix_micro_constants_win_over_clearances_when_both_given():
    p = {**PK2, "K10": 0.5, "K12": 0.2, "K21": 0.1}
    expected = np.array([[-0.7, 0.1], [0.2, -0.1]])
    np.testing.assert_allclose(
        get_builtin_model("pk2").compute_rate_matrix(p), expected, rtol=1e-14
    )


def test_compute_rate_matrix_pk1_depot_absorption_into_central():
    K = get_builtin_model("pk1_depot").compute_rate_matrix({"KA": 1.2, "CL": 6.0, "V1": 30.0})
    np.testing.assert_allclose(K, [[-1.2, 0.0], [1.2, -0.2]], rtol=1e-14)


def test_compute_rate_matrix_pk3_columns_sum_to_minus_elimination():
    p = {"CL": 10.0, "V1": 20.0, "Q2": 5.0, "V2": 50.0, "Q3": 2.0, "V3": 100.0}
    K = get_builtin_model("pk3").compute_rate_matrix(p)
    np.testing.assert_allclose(K.sum(axis=0), [-0.5, 0.0, 0.0], atol=1e-15)


def test_compute_rate_matrix_array_parameters_give_batch_shape():
    p = {**PK2, "CL": np.array([10.0, 20.0, 30.0])}
    K = get_builtin_model("pk2").compute_rate_matrix(p)
    assert K.shape == (3, 2, 2)
    np.testing.assert_allclose(K[:, 0, 0], -(p["CL"] + 5.0) / 20.0)


def test_compute_rate_matrix_missing_parameter_raises_parameter_error_naming_it():
    with pytest.raises(ParameterError, match="parameter Q2 is not given"):
        get_builtin_model("pk2").compute_rate_matrix({"CL": 10.0, "V1": 20.0, "V2": 50.0})


# --- metabolite formation stoichiometry ----------------------------------------------------------


def test_compute_rate_matrix_metabolite_formation_scaled_by_molar_mass_ratio():
    p = {"CL": 60.0, "V": 100.0, "CLNK": 30.0, "VNK": 200.0}
    K = _parent_metabolite_spec().compute_rate_matrix(p)
    expected = 0.5 * 60.0 / 100.0 * 223.70 / 237.73
    assert K[1, 0] == pytest.approx(expected, rel=1e-3)


def test_compute_rate_matrix_metabolite_formation_uses_exact_molar_masses():
    p = {"CL": 60.0, "V": 100.0, "CLNK": 30.0, "VNK": 200.0}
    K = _parent_metabolite_spec().compute_rate_matrix(p)
    ratio = get_molar_mass_g_per_mol("norketamine") / get_molar_mass_g_per_mol("ketamine")
    assert K[1, 0] == pytest.approx(0.5 * 0.6 * ratio, rel=1e-12)


def test_compute_rate_matrix_metabolite_parent_loses_whole_clearance():
    p = {"CL": 60.0, "V": 100.0, "CLNK": 30.0, "VNK": 200.0}
    K = _parent_metabolite_spec().compute_rate_matrix(p)
    assert K[0, 0] == pytest.approx(-0.6, rel=1e-14)


def test_compute_rate_matrix_metabolite_elimination_on_diagonal():
    p = {"CL": 60.0, "V": 100.0, "CLNK": 30.0, "VNK": 200.0}
    K = _parent_metabolite_spec().compute_rate_matrix(p)
    assert K[1, 1] == pytest.approx(-0.15, rel=1e-14)


def test_compute_rate_matrix_parent_mass_basis_has_no_molar_mass_ratio():
    p = {"CL": 60.0, "V": 100.0, "CLNK": 30.0, "VNK": 200.0}
    K = _parent_metabolite_spec(amount_basis="parent_mass").compute_rate_matrix(p)
    assert K[1, 0] == pytest.approx(0.3, rel=1e-14)


def test_compute_rate_matrix_fraction_given_as_parameter_name():
    p = {"CL": 60.0, "V": 100.0, "CLNK": 30.0, "VNK": 200.0, "FM": 0.25}
    K = _parent_metabolite_spec(amount_basis="parent_mass", fraction="FM").compute_rate_matrix(p)
    assert K[1, 0] == pytest.approx(0.15, rel=1e-14)


def test_compute_rate_matrix_effect_link_moves_no_drug():
    spec = ModelSpec(
        id="eff",
        name="effect link",
        compartments=(
            Compartment("CENTRAL", "ketamine", "central", "V"),
            Compartment("EFFECT", None, "effect"),
        ),
        flows=(
            Flow("CENTRAL", None, clearance="CL"),
            Flow("CENTRAL", "EFFECT", rate="KE0", kind="effect"),
        ),
        free_parameters=("CL", "V", "KE0"),
    )
    K = spec.compute_rate_matrix({"CL": 10.0, "V": 20.0, "KE0": 0.3})
    np.testing.assert_allclose(K, [[-0.5, 0.0], [0.3 / 20.0, -0.3]], rtol=1e-14)


# --- with_parameters -----------------------------------------------------------------------------


def test_with_parameters_returns_new_object():
    m = get_builtin_model("pk2")
    assert m.with_parameters(CL=3.0) is not m


def test_with_parameters_sets_default_on_copy():
    assert get_builtin_model("pk2").with_parameters(CL=3.0).defaults["CL"] == 3.0


def test_with_parameters_leaves_original_unchanged():
    m = get_builtin_model("pk2")
    before = dict(m.defaults)
    m.with_parameters(CL=3.0, V2=7.0)
    assert dict(m.defaults) == before


def test_with_parameters_alias_stored_under_canonical_name():
    assert dict(get_builtin_model("pk2").with_parameters(V=4.0).defaults) == {"V1": 4.0}


def test_with_parameters_theta_replaced_on_copy_only():
    from ketasim.library import load_model

    m = load_model("herd_2007")
    m2 = m.with_parameters(TVCL=45.0)
    assert (m2.thetas["TVCL"].value, m.thetas["TVCL"].value) == (45.0, 90.0)


def test_with_parameters_unknown_name_raises_parameter_error_naming_it():
    with pytest.raises(ParameterError, match="has no parameter 'FOO'"):
        get_builtin_model("pk2").with_parameters(FOO=1.0)


def test_model_spec_mappings_are_read_only():
    m = get_builtin_model("pk2")
    with pytest.raises(TypeError):
        m.defaults["CL"] = 1.0  # type: ignore[index]


def test_model_spec_is_frozen():
    m = get_builtin_model("pk2")
    with pytest.raises(AttributeError):
        m.id = "other"  # type: ignore[misc]


# --- lookups and validation ----------------------------------------------------------------------


def test_get_compartment_unknown_raises_model_error_naming_it():
    with pytest.raises(ModelError, match="unknown compartment 'GUT'; known: CENTRAL, PERIPH1"):
        get_builtin_model("pk2").get_compartment("GUT")


def test_get_compartment_index_by_name():
    assert get_builtin_model("pk3").get_compartment_index("PERIPH2") == 2


def test_get_compartment_index_out_of_range_number_raises_model_error():
    with pytest.raises(ModelError, match=r"compartment 5 does not exist \(1\.\.2\)"):
        get_builtin_model("pk2").get_compartment_index(5)


def test_get_route_unknown_raises_model_error_listing_supported():
    with pytest.raises(ModelError, match="does not support route 'oral'; supported: iv"):
        get_builtin_model("pk2").get_route("oral")


def test_get_central_index_of_metabolite():
    assert _parent_metabolite_spec().get_central_index("norketamine") == 1


def test_get_central_index_unknown_analyte_raises_model_error():
    with pytest.raises(ModelError, match="no analyte 'hnk'"):
        _parent_metabolite_spec().get_central_index("hnk")


def test_get_analytes_in_model_order():
    assert _parent_metabolite_spec().get_analytes() == ("ketamine", "norketamine")


def test_model_spec_flow_to_unknown_compartment_raises_model_error_naming_it():
    with pytest.raises(ModelError, match="flow names unknown compartment 'NOWHERE'"):
        ModelSpec(
            id="bad",
            name="bad",
            compartments=(Compartment("CENTRAL", "drug", "central", "V"),),
            flows=(Flow("CENTRAL", "NOWHERE", clearance="CL"),),
            free_parameters=("CL", "V"),
        )


def test_model_spec_route_to_unknown_compartment_raises_model_error_naming_it():
    with pytest.raises(ModelError, match="route po uses unknown compartment 'GUT'"):
        ModelSpec(
            id="bad",
            name="bad",
            compartments=(Compartment("CENTRAL", "drug", "central", "V"),),
            flows=(Flow("CENTRAL", None, clearance="CL"),),
            routes={"po": Route("po", (RouteInput("GUT"),))},
            free_parameters=("CL", "V"),
        )


def test_model_spec_flow_unknown_parameter_raises_model_error_naming_it():
    with pytest.raises(ModelError, match="uses unknown parameter 'CLX'"):
        ModelSpec(
            id="bad",
            name="bad",
            compartments=(Compartment("CENTRAL", "drug", "central", "V"),),
            flows=(Flow("CENTRAL", None, clearance="CLX"),),
            free_parameters=("CL", "V"),
        )


def test_model_spec_clearance_out_of_compartment_without_volume_raises_model_error():
    with pytest.raises(ModelError, match="out of PERIPH1, which has no volume"):
        ModelSpec(
            id="bad",
            name="bad",
            compartments=(
                Compartment("CENTRAL", "drug", "central", "V"),
                Compartment("PERIPH1", "drug", "peripheral"),
            ),
            flows=(Flow("PERIPH1", "CENTRAL", clearance="CL"),),
            free_parameters=("CL", "V"),
        )


def test_model_spec_duplicate_compartment_names_raise_model_error():
    with pytest.raises(ModelError, match="duplicate compartment names"):
        ModelSpec(
            id="bad",
            name="bad",
            compartments=(Compartment("CENTRAL"), Compartment("CENTRAL")),
            flows=(),
        )


def test_model_spec_no_compartments_raises_model_error():
    with pytest.raises(ModelError, match="no compartments"):
        ModelSpec(id="bad", name="bad", compartments=(), flows=())


def test_model_spec_bad_amount_basis_raises_model_error():
    with pytest.raises(ModelError, match="amount_basis"):
        ModelSpec(
            id="bad",
            name="bad",
            compartments=(Compartment("CENTRAL"),),
            flows=(),
            amount_basis="mass",
        )


def test_model_spec_bad_sampling_raises_model_error():
    with pytest.raises(ModelError, match="sampling 'capillary'"):
        ModelSpec(
            id="bad",
            name="bad",
            compartments=(Compartment("CENTRAL"),),
            flows=(),
            sampling="capillary",
        )


def test_model_spec_effect_link_to_non_effect_compartment_raises_model_error():
    with pytest.raises(ModelError, match="effect link target PERIPH1 is not of kind effect"):
        ModelSpec(
            id="bad",
            name="bad",
            compartments=(
                Compartment("CENTRAL", "drug", "central", "V"),
                Compartment("PERIPH1", "drug", "peripheral"),
            ),
            flows=(Flow("CENTRAL", "PERIPH1", rate="KE0", kind="effect"),),
            free_parameters=("V", "KE0"),
        )


def test_compartment_bad_kind_raises_model_error_naming_it():
    with pytest.raises(ModelError, match="kind 'blood'"):
        Compartment("CENTRAL", kind="blood")


def test_compartment_bad_name_raises_model_error():
    with pytest.raises(ModelError, match="compartment name 'A-B'"):
        Compartment("A-B")


def test_flow_without_clearance_or_rate_raises_model_error():
    with pytest.raises(ModelError, match="give a clearance or a rate"):
        Flow("CENTRAL")


def test_flow_bad_kind_raises_model_error():
    with pytest.raises(ModelError, match="kind 'leak'"):
        Flow("CENTRAL", rate="K", kind="leak")


def test_flow_effect_without_target_raises_model_error():
    with pytest.raises(ModelError, match="needs a target effect compartment"):
        Flow("CENTRAL", rate="KE0", kind="effect")


def test_iiv_wrong_shape_raises_model_error():
    with pytest.raises(ModelError, match="expected 2x2"):
        Iiv(("ETA_CL", "ETA_V"), ((0.1,),))


def test_iiv_asymmetric_raises_model_error():
    with pytest.raises(ModelError, match="symmetric"):
        Iiv(("ETA_CL", "ETA_V"), ((0.1, 0.05), (0.0, 0.1)))


def test_iiv_not_positive_semidefinite_raises_model_error():
    with pytest.raises(ModelError, match="not positive semi-definite"):
        Iiv(("ETA_CL", "ETA_V"), ((0.1, 0.5), (0.5, 0.1)))


def test_iiv_matrix_is_numpy_array():
    np.testing.assert_array_equal(Iiv(("ETA_CL",), ((0.09,),)).matrix, [[0.09]])


# --- domains and evidence ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("domain", "good", "bad"),
    [
        ("positive", [1e-9, 70.0], [0.0, -1.0]),
        ("nonnegative", [0.0, 5.0], [-1e-12]),
        ("fraction", [0.0, 0.5, 1.0], [-0.1, 1.01]),
        ("binary", [0.0, 1.0], [0.5, 7.0, -1.0]),
        ("integer", [-2.0, 0.0, 3.0], [2.5]),
        ("count", [1.0, 3.0], [0.0, -3.0, 2.5]),
        ("real", [-1e9, 0.0, 1e9], [np.nan, np.inf]),
    ],
)
def test_find_outside_domain(domain, good, bad):
    from ketasim.spec import find_outside_domain

    assert not find_outside_domain(good, domain).any()
    assert find_outside_domain(bad, domain).all()


def test_find_outside_domain_hard_limits():
    from ketasim.spec import find_outside_domain

    assert find_outside_domain([0.0, 120.0, 131.0], "nonnegative", None, 130.0).tolist() == [
        False,
        False,
        True,
    ]


def test_describe_domain_count():
    from ketasim.spec import describe_domain

    assert describe_domain("count") == "a whole number >= 1"


def test_covariate_unknown_domain_refused():
    from ketasim.spec import Covariate

    with pytest.raises(ModelError, match="domain 'odd' not one of"):
        Covariate("NDEV", "", 1.0, domain="odd")


def test_evidence_unknown_tier_refused():
    from ketasim.spec import Evidence

    with pytest.raises(ModelError, match="evidence 'guessed' must be one of"):
        Evidence("guessed")


def test_evidence_format_transcribed_names_projects():
    from ketasim.spec import Evidence, Implementation

    ev = Evidence(
        "transcribed",
        implementations=(
            Implementation("a", "r/a", "f", "1.0"),
            Implementation("b", "r/b", "g", "2"),
        ),
    )
    assert ev.format() == "transcribed (a 1.0, b 2)"


def test_builtin_models_have_no_evidence_tier():
    assert all(m.evidence is None for m in BUILTIN_MODELS.values())
