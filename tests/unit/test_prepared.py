"""prepare(): re-solves equal simulate() with the same arguments (issue 8, one subject fast)."""

from __future__ import annotations

import numpy as np
import pytest

from ketasim import PreparedSimulation, prepare
from ketasim.binding.params import ParameterPlan
from ketasim.errors import ParameterError
from ketasim.events import Dataset, Regimen
from ketasim.individual import check_parameters, compute_individual_parameters
from ketasim.library import list_models, load_model
from ketasim.prepared.modal import Pieces, compute_modal_outputs, compute_modal_outputs_numpy
from ketasim.results import Result
from ketasim.simulate import simulate
from ketasim.spec import get_builtin_model

HERD = load_model("herd_2007")
T = np.linspace(0.0, 8.0, 33)
ESK_COV = {"AGE": 45.0, "ASIAN": 0.0, "JAPANESE": 0.0, "NDEV": 1.0}


def assert_same(a: Result, b: Result, rtol: float = 1e-12) -> None:
    """Concentrations to ``rtol`` of each output's peak; everything else equal."""
    assert list(a.conc) == list(b.conc)
    for k in a.conc:
        peak = max(float(np.max(np.abs(b.conc[k]))), 1e-300)
        assert np.max(np.abs(a.conc[k] - b.conc[k])) <= rtol * peak, k
    assert list(a.params) == list(b.params)
    for k in a.params:
        np.testing.assert_array_equal(a.params[k], b.params[k])
    np.testing.assert_array_equal(a.tad_h, b.tad_h)
    np.testing.assert_array_equal(a.ids, b.ids)
    np.testing.assert_array_equal(a.time_h, b.time_h)
    assert a.notes == b.notes and a.unit == b.unit and a.layout == b.layout
    assert (a.amounts is None) == (b.amounts is None)
    if a.amounts is not None and b.amounts is not None:
        scale = float(np.max(np.abs(b.amounts)))
        assert np.max(np.abs(a.amounts - b.amounts)) <= rtol * scale


def assert_fast(prep: PreparedSimulation, **inputs: object) -> None:
    """The re-solve with these inputs took the fast path (not the engine)."""
    keep = prep._inputs
    merged = {k: inputs.get(k, keep[k]) for k in ("covariates", "etas", "params")}
    solved = prep._solve(merged["covariates"], merged["etas"], merged["params"])
    assert not isinstance(solved, Result)


def test_run_with_new_etas_equals_simulate_issue_8() -> None:
    reg = Regimen.from_quantities("20 mg", duration="10 min")
    prep = prepare(HERD, reg, T, covariates={"WT": 20.0})
    assert isinstance(prep, PreparedSimulation) and prep.fast
    rng = np.random.default_rng(4)
    for _ in range(5):
        eta = rng.normal(0.0, 0.5, (1, 4))
        assert_fast(prep, etas=eta)
        assert_same(prep.run(etas=eta), simulate(HERD, reg, T, covariates={"WT": 20.0}, etas=eta))


def test_run_with_no_argument_is_the_prepared_simulation() -> None:
    reg = Regimen.from_quantities("20 mg")
    prep = prepare(HERD, reg, T, covariates={"WT": 30.0})
    assert_same(prep.run(), simulate(HERD, reg, T, covariates={"WT": 30.0}))


def test_run_conc_equals_run_conc_tables() -> None:
    reg = Regimen.from_quantities("20 mg")
    prep = prepare(HERD, reg, T, covariates={"WT": 30.0})
    eta = np.array([[0.2, 0.1, -0.3, 0.4]])
    conc = prep.run_conc(etas=eta)
    res = prep.run(etas=eta)
    assert conc.shape == (1, T.size, len(prep.outputs))
    for j, name in enumerate(prep.outputs):
        np.testing.assert_array_equal(conc[:, :, j], res.conc[name])


def test_new_covariates_of_a_mg_regimen_stay_on_the_fast_path() -> None:
    reg = Regimen.from_quantities("20 mg", duration="5 min", every="6 h", count=3)
    prep = prepare(HERD, reg, T, covariates={"WT": 20.0})
    for wt in (15.0, 42.0, 60.0):
        assert_fast(prep, covariates={"WT": wt})
        assert_same(prep.run(covariates={"WT": wt}), simulate(HERD, reg, T, covariates={"WT": wt}))


def test_per_kg_regimen_with_another_weight_equals_simulate() -> None:
    reg = Regimen.from_quantities("1 mg/kg")
    prep = prepare(HERD, reg, T, covariates={"WT": 20.0})
    assert_same(prep.run(covariates={"WT": 35.0}), simulate(HERD, reg, T, covariates={"WT": 35.0}))


def test_many_subjects_with_etas_equal_simulate() -> None:
    reg = Regimen.from_quantities("20 mg", duration="30 min")
    rng = np.random.default_rng(7)
    wt = rng.uniform(10, 60, 6)
    prep = prepare(HERD, reg, T, covariates={"WT": wt}, etas=np.zeros((6, 4)))
    eta = rng.normal(0, 0.4, (6, 4))
    assert_fast(prep, etas=eta)
    assert_same(prep.run(etas=eta), simulate(HERD, reg, T, covariates={"WT": wt}, etas=eta))


def test_another_number_of_subjects_equals_simulate() -> None:
    reg = Regimen.from_quantities("20 mg")
    prep = prepare(HERD, reg, T, covariates={"WT": 20.0}, etas=np.zeros((3, 4)))
    eta = np.full((1, 4), 0.1)
    assert_same(prep.run(etas=eta), simulate(HERD, reg, T, covariates={"WT": 20.0}, etas=eta))


def test_keep_amounts_equal_simulate() -> None:
    reg = Regimen.from_quantities("20 mg", duration="1 h")
    prep = prepare(HERD, reg, T, covariates={"WT": 20.0}, keep_amounts=True)
    eta = np.array([[0.3, -0.1, 0.2, 0.1]])
    assert_fast(prep, etas=eta)
    assert_same(
        prep.run(etas=eta),
        simulate(HERD, reg, T, covariates={"WT": 20.0}, etas=eta, keep_amounts=True),
    )


def test_parent_metabolite_library_models_equal_simulate() -> None:
    spec = load_model("perez_ruixo_2021")
    reg = Regimen.from_quantities("28 mg", route="intranasal", every="1 d", count=2)
    prep = prepare(spec, reg, T, covariates=ESK_COV)
    n_eta = len(spec.get_eta_names())
    eta = np.random.default_rng(2).normal(0, 0.3, (1, n_eta))
    # an ETA of the nasal bioavailability changes the doses: through the engine
    assert_same(prep.run(etas=eta), simulate(spec, reg, T, covariates=ESK_COV, etas=eta))
    eta[0, spec.get_eta_names().index("ETA_FRN")] = 0.0  # disposition only: fast
    assert_fast(prep, etas=eta)
    assert_same(prep.run(etas=eta), simulate(spec, reg, T, covariates=ESK_COV, etas=eta))


def test_dataset_with_boluses_infusions_and_addl_equals_simulate() -> None:
    spec = get_builtin_model("pk2_depot")
    ds = Dataset(
        {
            "ID": [1, 1, 1, 2, 2],
            "TIME": [0.0, 0.0, 6.0, 0.0, 3.0],
            "AMT": [100.0, 50.0, 20.0, 80.0, 10.0],
            "EVID": [1, 1, 1, 1, 1],
            "CMT": [1, 2, 2, 2, 2],
            "RATE": [0.0, 25.0, 0.0, 40.0, 0.0],
            "II": [0.0, 0.0, 4.0, 0.0, 0.0],
            "ADDL": [0, 0, 2, 0, 0],
        }
    )
    p = {"CL": 5.0, "V1": 20.0, "Q2": 12.0, "V2": 60.0, "KA": 1.3}
    times = np.linspace(0.0, 24.0, 49)
    prep = prepare(spec, ds, times, params=p)
    assert prep.fast
    q = {**p, "CL": np.array([3.0, 7.0]), "KA": 0.9}
    assert_fast(prep, params=q)
    assert_same(prep.run(params=q), simulate(spec, ds, times, params=q))


def test_changed_bioavailability_goes_through_the_engine() -> None:
    spec = get_builtin_model("pk1_depot")
    reg = Regimen.from_quantities("100 mg", route="extravascular")
    p = {"CL": 5.0, "V1": 20.0, "KA": 1.0, "F1": 0.5}
    prep = prepare(spec, reg, T, params=p)
    q = {**p, "F1": 0.8}
    assert_same(prep.run(params=q), simulate(spec, reg, T, params=q))


def test_nearly_defective_matrix_goes_through_the_engine_issue_8() -> None:
    # KA equal to the elimination rate: the eigenvectors are parallel; the exact engine is used
    spec = get_builtin_model("pk1_depot")
    reg = Regimen.from_quantities("100 mg", route="extravascular")
    prep = prepare(spec, reg, T, params={"CL": 5.0, "V1": 20.0, "KA": 1.0})
    q = {"CL": 5.0, "V1": 20.0, "KA": np.nextafter(0.25, 1.0)}
    K = spec.compute_rate_matrix({k: np.asarray([v]) for k, v in q.items()})
    W = np.zeros((1, 1, 2))
    W[0, 0, 1] = 1 / 20.0
    assert compute_modal_outputs(K, W, prep._pieces, T, False) is None
    assert_same(prep.run(params=q), simulate(spec, reg, T, params=q))


def test_closed_system_keeps_its_mass_issue_8() -> None:
    # CL = 0: eigenvalue 0; the infused amount stays in the two compartments
    spec = get_builtin_model("pk2")
    reg = Regimen.from_quantities("70 mg", duration="2 h")
    p = {"CL": 0.0, "V1": 7.0, "Q2": 1.1, "V2": 13.0}
    prep = prepare(spec, reg, T, params=p, keep_amounts=True)
    assert_fast(prep, params=p)
    res = prep.run(params=p)
    assert res.amounts is not None
    total = res.amounts[0].sum(axis=-1)
    infused = 35.0 * np.minimum(T, 2.0)
    np.testing.assert_allclose(total, infused, rtol=1e-12, atol=1e-12 * 70)
    assert_same(res, simulate(spec, reg, T, params=p, keep_amounts=True))


def test_steady_state_dose_is_solved_by_the_engine() -> None:
    spec = get_builtin_model("pk1")
    ds = Dataset(
        {"ID": [1], "TIME": [0.0], "AMT": [10.0], "EVID": [1], "II": [12.0], "SS": [1],
         "CMT": [1]}
    )  # fmt: skip
    prep = prepare(spec, ds, T, params={"CL": 2.0, "V1": 10.0})
    assert not prep.fast and prep.reason
    q = {"CL": 3.0, "V1": 10.0}
    assert_same(prep.run(params=q), simulate(spec, ds, T, params=q))


def test_bad_parameter_is_refused_as_simulate_refuses_it() -> None:
    spec = get_builtin_model("pk1")
    reg = Regimen.from_quantities("10 mg")
    prep = prepare(spec, reg, T, params={"CL": 2.0, "V1": 10.0})
    prep.run(params={"CL": 3.0, "V1": 10.0})  # a plan exists for these names
    with pytest.raises(ParameterError) as ours:
        prep.run(params={"CL": -3.0, "V1": 10.0})
    with pytest.raises(ParameterError) as theirs:
        simulate(spec, reg, T, params={"CL": -3.0, "V1": 10.0})
    assert str(ours.value) == str(theirs.value)


def test_prepare_needs_output_times() -> None:
    with pytest.raises(ParameterError, match="times_h"):
        prepare(HERD, Regimen.from_quantities("1 mg"), None, covariates={"WT": 20.0})


def test_kernel_equals_numpy_form_with_complex_eigenvalues() -> None:
    # a cycle of three flows has complex eigenvalues
    k = 2.0
    K = np.array([[[-k, 0.0, k], [k, -k, 0.0], [0.0, k, -k - 0.1]]])
    assert np.iscomplexobj(np.linalg.eigvals(K))
    W = np.eye(3)[None] / 5.0
    P = Pieces(
        np.array([[0.5, np.inf]]), np.array([[1, 0]]), np.array([[3.0, 0.0]]),
        np.array([[0.0, 2.0]]), np.array([[0, 2]]), np.array([[4.0, 1.0]]),
        np.array([[1.5, 0.25]]),
    )  # fmt: skip
    times = np.linspace(0.0, 6.0, 61)
    a = compute_modal_outputs(K, W, P, times, True)
    b = compute_modal_outputs_numpy(K, W, P, times, True)
    assert a is not None and b is not None and a[1] is not None and b[1] is not None
    np.testing.assert_allclose(a[0], b[0], rtol=0, atol=1e-13 * np.max(np.abs(b[0])))
    np.testing.assert_allclose(a[1], b[1], rtol=0, atol=1e-13 * np.max(np.abs(b[1])))


def test_parameter_plan_equals_compute_individual_parameters_on_library_models() -> None:
    rng = np.random.default_rng(11)
    covered = 0
    for model_id in list_models():
        spec = load_model(model_id)
        covs = {k: np.asarray(float(c.reference)) for k, c in spec.covariates.items()}
        if any(c.per_dose for c in spec.covariates.values()):
            covs = {
                **covs,
                **{k: np.asarray(1.0) for k, c in spec.covariates.items() if c.per_dose},
            }
        n_eta = len(spec.get_eta_names())
        built = ParameterPlan.build(spec, covs, np.zeros((1, n_eta)), {})
        assert built is not None, model_id
        plan = built[0]
        for _ in range(3):
            eta = rng.normal(0.0, 0.5, (2, n_eta))
            ours = plan.evaluate(covs, eta, {})
            theirs = compute_individual_parameters(spec, covariates=covs, etas=eta)
            check_parameters(spec, theirs)
            assert ours is not None and list(ours) == list(theirs)
            for k in ours:
                np.testing.assert_array_equal(ours[k], theirs[k])
        covered += 1
    assert covered >= 6


def test_dataset_covariate_and_parameter_columns_equal_simulate() -> None:
    ds = Dataset(
        {
            "ID": [1, 1, 2, 2],
            "TIME": [0.0, 1.0, 0.0, 2.0],
            "AMT": [20.0, 0.0, 30.0, 0.0],
            "EVID": [1, 0, 1, 0],
            "CMT": [1, 1, 1, 1],
            "RATE": [40.0, 0.0, 0.0, 0.0],
            "WT": [20.0, 20.0, 35.0, 35.0],
            "CL": [30.0, 30.0, 45.0, 45.0],
        }
    )
    prep = prepare(HERD, ds, T)
    assert prep.fast
    eta = np.random.default_rng(3).normal(0, 0.3, (2, 4))
    assert_fast(prep, etas=eta)
    assert_same(prep.run(etas=eta), simulate(HERD, ds, T, etas=eta))
    # a CL argument loses to the CL column, as in simulate
    assert_same(prep.run(params={"CL": 1.0}), simulate(HERD, ds, T, params={"CL": 1.0}))


def test_etas_that_are_not_numbers_are_refused_as_simulate_refuses_them() -> None:
    reg = Regimen.from_quantities("20 mg")
    prep = prepare(HERD, reg, T, covariates={"WT": 20.0})
    with pytest.raises(ParameterError) as ours:
        prep.run(etas=[["a", "b", "c", "d"]])
    with pytest.raises(ParameterError) as theirs:
        simulate(HERD, reg, T, covariates={"WT": 20.0}, etas=[["a", "b", "c", "d"]])
    assert str(ours.value) == str(theirs.value)


def test_closed_system_with_fast_exchange_keeps_its_mass_issue_8() -> None:
    # eig gives the zero eigenvalue as about 1e-13 here; the one zero test makes it exactly 0
    spec = get_builtin_model("pk2")
    p = {"CL": 0.0, "V1": 566.5625, "Q2": 65.87113815225135, "V2": 0.125}
    times = np.linspace(0.0, 48.0, 97)
    prep = prepare(spec, Regimen.from_quantities("1 mg"), times, params=p, keep_amounts=True)
    assert_fast(prep, params=p)
    res = prep.run(params=p)
    assert res.amounts is not None
    np.testing.assert_allclose(res.amounts[0].sum(axis=-1), 1.0, rtol=1e-13)
