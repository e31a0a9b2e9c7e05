"""Unit tests for ketasim.population: IIV, covariate and residual sampling, population runs.

Statistical checks state their Monte Carlo error: an estimate must lie within 4 standard errors
of the closed-form value (a false failure about once in 16,000 runs; seeds are fixed anyway).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from ketasim.errors import ParameterError, ValidityWarning
from ketasim.events import Regimen
from ketasim.expressions import parse_expression
from ketasim.individual import compute_individual_parameters
from ketasim.library import load_model
from ketasim.population import (
    BLOCK_SIZE,
    CovariateTable,
    Target,
    TruncatedNormal,
    add_residual_error,
    compute_target_attainment,
    sample_covariates,
    sample_etas,
    simulate_population,
)
from ketasim.spec import Compartment, Covariate, Flow, Iiv, ModelSpec, Parameter, Route, RouteInput

DOSE_MG = 100.0
TV_V_L, TV_K_PER_H = 20.0, 0.3
OMEGA_V = 0.09  # variance of ETA_V (log scale): omega = 0.3


def _one_cmt(
    names: tuple[str, ...] = ("ETA_V",), omega: list[list[float]] | None = None
) -> ModelSpec:
    """One compartment, V = TVV exp(ETA_V) (L), K = TVK exp(ETA_K) (1/h): built by hand."""
    thetas = {
        "TVV": Parameter("TVV", TV_V_L, "L", TV_V_L, "L"),
        "TVK": Parameter("TVK", TV_K_PER_H, "1/h", TV_K_PER_H, "1/h"),
    }
    v = "TVV * exp(ETA_V)" if "ETA_V" in names else "TVV"
    k = "TVK * exp(ETA_K)" if "ETA_K" in names else "TVK"
    return ModelSpec(
        id="one_cmt_test",
        name="one compartment, IV",
        compartments=(Compartment("CENTRAL", "drug", "central", "V"),),
        flows=(Flow("CENTRAL", None, rate="K"),),
        routes={"iv": Route("iv", (RouteInput("CENTRAL"),), infusion=True)},
        thetas=thetas,
        covariates={"WT": Covariate("WT", "kg", 70.0)},
        individual={"V": parse_expression(v), "K": parse_expression(k)},
        iiv=Iiv(names, tuple(tuple(r) for r in (omega or [[OMEGA_V]]))),
        residual={"drug": {"proportional": 0.1, "additive_mg_per_L": 0.05}},
        generic=True,
        population={"weight_kg": [40, 120]},
    )


BOLUS = Regimen.from_quantities(f"{DOSE_MG} mg", route="iv")
TIMES_H = np.linspace(0.0, 12.0, 25)


def _run(n: int, **kw: object) -> object:
    kw.setdefault("covariates", {"WT": 70.0})
    kw.setdefault("progress", False)
    return simulate_population(_one_cmt(), BOLUS, TIMES_H, n, **kw)  # type: ignore[arg-type]


def _assert_same(a, b) -> None:  # type: ignore[no-untyped-def]
    assert a.seed == b.seed
    for an in a.summaries:
        for k in a.summaries[an]:
            np.testing.assert_array_equal(a.summaries[an][k], b.summaries[an][k])
        np.testing.assert_array_equal(a.percentile_curves[an], b.percentile_curves[an])
    for k in a.covariates:
        np.testing.assert_array_equal(a.covariates[k], b.covariates[k])
    for k in a.attainment:
        np.testing.assert_array_equal(a.attainment[k].attained, b.attainment[k].attained)
        np.testing.assert_array_equal(a.attainment[k].time_above_h, b.attainment[k].time_above_h)


# --- ETAs -----------------------------------------------------------------------------------------
def test_sample_etas_reproduces_omega_with_correlation() -> None:
    omega = np.array([[0.09, 0.03], [0.03, 0.04]])
    spec = _one_cmt(("ETA_V", "ETA_K"), omega.tolist())
    n = 200_000
    eta = sample_etas(spec, n, np.random.default_rng(11))
    assert eta.shape == (n, 2)
    est = np.cov(eta, rowvar=False)
    # SE of a sample (co)variance of normals: sqrt((s_ii s_jj + s_ij^2) / n)
    se = np.sqrt((np.outer(np.diag(omega), np.diag(omega)) + omega**2) / n)
    assert np.all(np.abs(est - omega) < 4 * se)
    assert np.all(np.abs(eta.mean(axis=0)) < 4 * np.sqrt(np.diag(omega) / n))


def test_sample_etas_user_omega_replaces_model_omega() -> None:
    spec = _one_cmt(("ETA_V", "ETA_K"), [[0.09, 0.0], [0.0, 0.04]])
    omega = [[0.25, -0.1], [-0.1, 0.16]]
    eta = sample_etas(spec, 100_000, np.random.default_rng(2), omega=omega)
    corr = np.corrcoef(eta, rowvar=False)[0, 1]
    # SE of a correlation coefficient ~ (1 - rho^2) / sqrt(n)
    assert abs(corr - (-0.1 / 0.2)) < 4 * (1 - 0.25) / math.sqrt(100_000)


def test_geometric_mean_clearance_equals_typical_value_simons_2022() -> None:
    m = load_model("simons_2022")
    n = 50_000
    eta = sample_etas(m, n, np.random.default_rng(5))
    p = compute_individual_parameters(m, covariates={"WT": 70.0}, etas=eta)
    tv_cl_l_per_h = 1.48 * 60  # Table 4: CLK1 1.48 L/min at 70 kg
    log_gm = float(np.mean(np.log(p["CLK1"])))
    omega_cl = math.sqrt(m.iiv.matrix[1, 1])  # type: ignore[union-attr]
    assert abs(log_gm - math.log(tv_cl_l_per_h)) < 4 * omega_cl / math.sqrt(n)


def test_sample_etas_is_reproducible_with_the_same_generator_seed() -> None:
    spec = _one_cmt()
    a = sample_etas(spec, 10, np.random.default_rng(3))
    b = sample_etas(spec, 10, np.random.default_rng(3))
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("n", [0, -3, 2.5, True])
def test_sample_etas_bad_n_raises(n: object) -> None:
    with pytest.raises(ParameterError, match="positive integer"):
        sample_etas(_one_cmt(), n, np.random.default_rng(0))  # type: ignore[arg-type]


def test_sample_etas_not_positive_definite_user_omega_raises() -> None:
    spec = _one_cmt(("ETA_V", "ETA_K"), [[0.09, 0.0], [0.0, 0.04]])
    with pytest.raises(ParameterError, match="not positive definite"):
        sample_etas(spec, 10, np.random.default_rng(0), omega=[[0.09, 0.1], [0.1, 0.04]])


def test_sample_etas_wrong_shape_omega_raises() -> None:
    with pytest.raises(ParameterError, match="1x1"):
        sample_etas(_one_cmt(), 10, np.random.default_rng(0), omega=[[0.1, 0], [0, 0.1]])


# --- covariates -----------------------------------------------------------------------------------
@settings(max_examples=50, deadline=None)
@given(
    mean=st.floats(-50, 150),
    sd=st.floats(0.1, 40),
    a=st.floats(-100, 100),
    w=st.floats(0.01, 100),
    seed=st.integers(0, 2**32),
)
def test_truncated_normal_stays_in_bounds(
    mean: float, sd: float, a: float, w: float, seed: int
) -> None:
    d = TruncatedNormal(mean, sd, a, a + w)
    x = d.sample(200, np.random.default_rng(seed))
    assert np.all((x >= a) & (x <= a + w)) and np.all(np.isfinite(x))


def test_truncated_normal_mean_matches_closed_form() -> None:
    d = TruncatedNormal(80.0, 15.0, 50.0, 140.0)
    n = 100_000
    x = d.sample(n, np.random.default_rng(8))
    ref = stats.truncnorm((50 - 80) / 15, (140 - 80) / 15, loc=80, scale=15)
    assert abs(x.mean() - ref.mean()) < 4 * ref.std() / math.sqrt(n)


def test_sample_covariates_table_keeps_rows_together() -> None:
    spec = load_model("perez_ruixo_2021")
    table = CovariateTable(
        {"AGE": [30, 60, 80], "ASIAN": [0, 1, 0], "JAPANESE": [0, 1, 0], "NDEV": [1, 2, 3]}
    )
    cov = sample_covariates(spec, 500, np.random.default_rng(4), table)
    rows = {(30, 0, 1), (60, 1, 2), (80, 0, 3)}
    assert {
        (a, s, d) for a, s, d in zip(cov["AGE"], cov["ASIAN"], cov["NDEV"], strict=True)
    } == rows


def test_sample_covariates_unknown_covariate_raises() -> None:
    with pytest.raises(ParameterError, match="no covariate 'HEIGHT'"):
        sample_covariates(_one_cmt(), 5, np.random.default_rng(0), {"WT": 70, "HEIGHT": 170})


def test_sample_covariates_missing_covariate_raises() -> None:
    with pytest.raises(ParameterError, match=r"covariate WT .* is not given"):
        sample_covariates(_one_cmt(), 5, np.random.default_rng(0), {})


def test_sample_covariates_wrong_length_array_raises() -> None:
    with pytest.raises(ParameterError, match="5 per-subject values"):
        sample_covariates(_one_cmt(), 5, np.random.default_rng(0), {"WT": [70, 80]})


# --- residual error -------------------------------------------------------------------------------
def test_add_residual_error_variance_matches_model() -> None:
    spec = _one_cmt()
    c, n = 2.0, 200_000
    y = add_residual_error(np.full(n, c), spec, "drug", np.random.default_rng(9))
    var = (c * 0.1) ** 2 + 0.05**2  # Var(c (1 + sp e1) + sa e2)
    assert abs(y.mean() - c) < 4 * math.sqrt(var / n)
    assert abs(y.var() - var) < 4 * var * math.sqrt(2 / n)


def test_add_residual_error_unknown_analyte_raises() -> None:
    with pytest.raises(ParameterError, match="no residual error model for 'x'"):
        add_residual_error(np.ones(3), _one_cmt(), "x", np.random.default_rng(0))


# --- target attainment ----------------------------------------------------------------------------
def test_target_attainment_time_above_by_linear_crossings() -> None:
    t = np.array([0.0, 1.0, 2.0, 3.0])
    c = np.array([[0.0, 2.0, 2.0, 0.0], [0.0, 1.5, 0.5, 0.0]])
    r = compute_target_attainment(t, c, Target("t", "drug", above_mg_per_L=1.0, min_duration_h=1.5))
    np.testing.assert_allclose(r.time_above_h, [2.0, 0.5 / 1.5 + 0.5])
    assert r.attained.tolist() == [True, False] and r.probability == 0.5


def test_target_attainment_below_ceiling() -> None:
    t = np.array([0.0, 1.0])
    c = np.array([[1.0, 3.0], [1.0, 2.0]])
    r = compute_target_attainment(t, c, Target("safe", "drug", below_mg_per_L=2.5))
    assert r.attained.tolist() == [False, True]


def test_target_needs_a_threshold() -> None:
    with pytest.raises(ParameterError, match="above_mg_per_L and/or below_mg_per_L"):
        Target("x", "drug")


def test_population_attainment_matches_closed_form_probability() -> None:
    # C(t) = D/V exp(-K t) > c* for t < ln(D/(V c*)) / K; >= 2 h  <=>  V < D / (c* exp(2 K))
    c_star = 2.0
    r = _run(
        20_000, seed=21, targets=[Target("2h", "drug", above_mg_per_L=c_star, min_duration_h=2.0)]
    )
    p = stats.norm.cdf(
        math.log(DOSE_MG / (c_star * math.exp(2 * TV_K_PER_H)) / TV_V_L) / math.sqrt(OMEGA_V)
    )
    # grid of 0.5 h: linear interpolation of a convex curve overstates time above by < 1 %
    assert abs(r.attainment["2h"].probability - p) < 4 * math.sqrt(p * (1 - p) / 20_000) + 0.01


# --- population runs ------------------------------------------------------------------------------
@pytest.mark.parametrize("method", ["exact", "histogram"])
def test_percentiles_match_closed_form_lognormal(method: str) -> None:
    n = 20_000
    r = _run(n, seed=7, percentile_method=method, percentiles=(5.0, 50.0, 95.0))
    assert r.percentile_method == method
    omega = math.sqrt(OMEGA_V)
    for q in (5.0, 50.0, 95.0):
        z = stats.norm.ppf(q / 100)
        # ln C = ln(D / TVV) - K t - ETA_V: quantile q of C uses quantile 1 - q of ETA_V
        expected = DOSE_MG / TV_V_L * np.exp(-TV_K_PER_H * TIMES_H) * math.exp(omega * z)
        # SE of ln(sample quantile) = omega sqrt(q (1 - q)) / (phi(z) sqrt(n)); plus the bound
        se = omega * math.sqrt(q / 100 * (1 - q / 100)) / (stats.norm.pdf(z) * math.sqrt(n))
        tol = 4 * se + r.percentile_rel_error
        np.testing.assert_allclose(r.get_percentile("drug", q), expected, rtol=tol)


def test_histogram_percentiles_within_stated_bound_of_exact() -> None:
    kw = {"seed": 3, "residual": True, "percentiles": (2.5, 10.0, 50.0, 90.0, 97.5)}
    ex = _run(3000, percentile_method="exact", **kw)
    hi = _run(3000, percentile_method="histogram", percentile_rel_error=0.005, **kw)
    e, h = ex.percentile_curves["drug"], hi.percentile_curves["drug"]
    assert np.all(np.abs(h - e) <= 0.005 * (np.abs(e) + 1e-4))


def test_same_seed_same_result_whatever_chunk_size_and_threads() -> None:
    n = 2 * BLOCK_SIZE + 500
    kw = {
        "seed": 12345,
        "residual": True,
        "covariates": {"WT": TruncatedNormal(75, 15, 40, 120)},
        "targets": [Target("t", "drug", above_mg_per_L=3.0, min_duration_h=1.0)],
        "percentile_method": "histogram",
    }
    ref = _run(n, chunk_size=BLOCK_SIZE, **kw)
    for chunk_size, workers in ((1, 1), (3 * BLOCK_SIZE, 1), (None, 1), (BLOCK_SIZE, 2)):
        _assert_same(ref, _run(n, chunk_size=chunk_size, workers=workers, **kw))


def test_rng_gives_reproducible_runs_and_records_its_seed() -> None:
    a = _run(50, rng=np.random.default_rng(1))
    b = _run(50, rng=np.random.default_rng(1))
    _assert_same(a, b)
    _assert_same(a, _run(50, seed=a.seed))


def test_different_seeds_differ() -> None:
    a, b = _run(50, seed=1), _run(50, seed=2)
    assert not np.array_equal(
        a.summaries["drug"]["cmax_mg_per_L"], b.summaries["drug"]["cmax_mg_per_L"]
    )


def test_summaries_per_dose_interval_match_closed_form() -> None:
    reg = Regimen.from_quantities(f"{DOSE_MG} mg", every="12 h", count=2)
    t = np.linspace(0, 24, 2401)
    r = simulate_population(
        _one_cmt(), reg, t, 4, seed=1, covariates={"WT": 70.0}, omega=[[1e-12]], progress=False
    )
    s = r.summaries["drug"]
    np.testing.assert_array_equal(r.intervals_h, [[0, 12], [12, 24]])
    c0 = DOSE_MG / TV_V_L
    auc_12 = c0 * (1 - math.exp(-TV_K_PER_H * 12)) / TV_K_PER_H
    np.testing.assert_allclose(s["auc_interval_mg_h_per_L"][:, 0], auc_12, rtol=1e-4)
    np.testing.assert_allclose(
        s["cmax_interval_mg_per_L"][:, 1], c0 * (1 + math.exp(-TV_K_PER_H * 12)), rtol=1e-5
    )
    np.testing.assert_allclose(s["tmax_interval_h"][:, 1], 12.0)
    # second interval starts on the trough c0 exp(-12 K): its AUC is auc_12 (1 + exp(-12 K))
    np.testing.assert_allclose(
        s["auc_mg_h_per_L"], auc_12 * (2 + math.exp(-TV_K_PER_H * 12)), rtol=1e-4
    )


def test_weight_outside_model_population_warns() -> None:
    # the engine warns (once per block of subjects) for weights outside the model's population
    with pytest.warns(ValidityWarning, match=r"outside the range .* \(40-120 kg\)"):
        _run(10, seed=1, covariates={"WT": 150.0})


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"seed": 1, "rng": np.random.default_rng(1)}, "either rng or seed"),
        ({"seed": -1}, "non-negative integer"),
        ({"seed": 1, "percentiles": (5, 101)}, r"\[0, 100\]"),
        ({"seed": 1, "covariates": {"WT": 70, "AGE": 3}}, "no covariate 'AGE'"),
        (
            {"seed": 1, "percentile_method": "exact", "exact_max_bytes": 10},
            "exact percentiles need",
        ),
        ({"seed": 1, "omega": [[-1.0]]}, "not positive definite"),
    ],
)
def test_simulate_population_bad_input_raises(kw: dict[str, object], match: str) -> None:
    with pytest.raises(ParameterError, match=match):
        _run(10, **kw)


def test_simulate_population_zero_subjects_raises() -> None:
    with pytest.raises(ParameterError, match="n=0"):
        _run(0, seed=1)


def test_simulate_population_unsorted_times_raise() -> None:
    with pytest.raises(ParameterError, match="ascending"):
        simulate_population(
            _one_cmt(),
            BOLUS,
            np.array([1.0, 0.0]),
            5,
            seed=1,
            covariates={"WT": 70.0},
            progress=False,
        )


# --- issue 12: exact summaries and targets, residual error without negatives ------------------
def _herd_run(**kw: Any) -> Any:
    from ketasim.population import simulate_population

    reg = Regimen.from_quantities("1 mg/kg", duration="10 min", every="6 h", count=3)
    return simulate_population(
        load_model("herd_2007"), reg, np.linspace(0.0, 24.0, 25), 64, seed=5,
        covariates={"WT": 25.0}, progress=False, **kw,
    )  # fmt: skip


def test_threshold_without_duration_means_reached_issue_12() -> None:
    from ketasim.population import Target

    res = _herd_run()
    cmax = res.summaries["ketamine"]["cmax_mg_per_L"]
    thr = float(np.median(cmax))
    r = _herd_run(targets=[Target("T1", "ketamine", above_mg_per_L=thr)])
    assert np.array_equal(r.attainment["T1"].attained, cmax >= thr)
    assert 0.3 < r.attainment["T1"].probability < 0.7


def test_grid_attainment_without_duration_needs_the_threshold_issue_12() -> None:
    from ketasim.population import Target, compute_target_attainment

    t = np.array([0.0, 1.0, 2.0])
    r = compute_target_attainment(t, np.array([[0.0, 0.001, 0.0]]), Target("T", "x", 100.0))
    assert not r.attained[0]


def test_residual_summaries_come_from_predictions_issue_12() -> None:
    from ketasim.population import simulate_population

    m = load_model("perez_ruixo_2021")
    covs = {k: c.reference for k, c in m.covariates.items()}
    reg = Regimen.from_quantities("56 mg", route="intranasal", every="24 h", count=2)
    kw: dict[str, Any] = dict(seed=4, covariates=covs, progress=False)
    plain = simulate_population(m, reg, np.linspace(0.0, 48.0, 49), 50, **kw)
    noisy = simulate_population(m, reg, np.linspace(0.0, 48.0, 49), 50, residual=True, **kw)
    for key in ("cmax_mg_per_L", "auc_mg_h_per_L", "cmax_interval_mg_per_L"):
        np.testing.assert_array_equal(
            noisy.summaries["s_norketamine"][key], plain.summaries["s_norketamine"][key]
        )
    assert noisy.summary_method == "exact"
    assert np.min(noisy.percentile_curves["s_norketamine"]) >= 0.0


def test_residual_curves_are_never_negative_issue_12() -> None:
    from ketasim.population import simulate_population

    m = load_model("simons_2022")  # combined error on norketamine: additive SD 0.058 nmol/mL
    res = simulate_population(
        m, Regimen.from_quantities("20 mg", duration="40 min"), np.linspace(0.0, 24.0, 13), 60,
        seed=2, covariates={"WT": 70.0}, residual=True, progress=False,
        summary_method="observed", percentiles=(0.0, 5.0, 50.0),
    )  # fmt: skip
    for curves in res.percentile_curves.values():
        assert np.min(curves) >= 0.0
    assert np.min(res.summaries["s_norketamine"]["cmax_mg_per_L"]) >= 0.0


def test_observed_summaries_need_residual_issue_12() -> None:
    with pytest.raises(ParameterError, match="residual"):
        _herd_run(summary_method="observed")


@pytest.mark.parametrize("form", ["proportional", "additive", "combined", "exponential"])
def test_residual_forms_are_never_negative(form: str) -> None:
    from ketasim.population import add_residual_error

    m = load_model("simons_2022")
    y = add_residual_error(
        np.full(10_000, 1e-3), m, "s_norketamine", np.random.default_rng(0), form=form
    )
    assert y.min() >= 0.0


def test_exponential_residual_is_lognormal() -> None:
    from ketasim.population import add_residual_error

    m = load_model("flint_2017")
    y = add_residual_error(
        np.full(200_000, 2.0), m, "s_ketamine", np.random.default_rng(0), form="exponential"
    )
    # log(y) ~ N(log 2, 0.419^2): 5 SE of the SD estimate is ~0.0066
    assert np.std(np.log(y)) == pytest.approx(0.419, abs=0.0066)
