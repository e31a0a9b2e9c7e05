"""Exact exposure from closed-form pieces (issue 8): the population's one-solve path agrees with
the general path of compute_exposure, its derivatives are the derivatives of its values, and
the anchored grid path equals direct evaluation (polynomial terms included)."""

from __future__ import annotations

import numpy as np
import pytest

from ketasim.events import Regimen
from ketasim.exposure import TIME_TOL, compute_exposure
from ketasim.exposure.compute import _merge
from ketasim.exposure.modal import exposure_chunk_from_pieces, solve_regimen_pieces
from ketasim.library import load_model
from ketasim.population import TruncatedNormal, simulate_population
from ketasim.population.sampling import _covariates_for, _draw_etas, _omega_factor
from ketasim.simulate import simulate
from ketasim.solver import kernels

CASES = {
    # model: (regimen, covariate distributions, thresholds mg/L)
    "perez_ruixo_2021": (
        Regimen.from_quantities("17.5 mg", route="iv", duration="40 min", every="12 h", count=3),
        {"AGE": TruncatedNormal(45.0, 12.0, 18.0, 64.0), "ASIAN": 0.0, "JAPANESE": 0.0,
         "NDEV": 1.0},
        {"s_ketamine": [0.05]},
    ),
    "herd_2007": (
        Regimen.from_quantities("1 mg/kg", route="iv", duration="10 min", every="8 h", count=2),
        {"WT": TruncatedNormal(30.0, 8.0, 11.0, 74.0)},
        {"ketamine": [0.2, 1.0]},
    ),
}  # fmt: skip


def _inputs(model: str, n: int) -> tuple[object, dict[str, np.ndarray], np.ndarray]:
    spec = load_model(model)
    etas = _draw_etas(_omega_factor(spec, None), n, np.random.default_rng(3))
    cov = _covariates_for(spec, CASES[model][1], 0, n, lambda j: np.random.default_rng(20 + j), 0)
    return spec, cov, etas


@pytest.mark.parametrize("model", sorted(CASES))
def test_pieces_exposure_equals_general_path(model: str) -> None:
    n, t_end = 40, 30.0
    spec, cov, etas = _inputs(model, n)
    reg, _, thr = CASES[model]
    old = compute_exposure(spec, reg, covariates=cov, etas=etas, t_end_h=t_end,
                           thresholds_mg_per_L=thr, check_validity=False)  # fmt: skip
    got = solve_regimen_pieces(spec, reg, t_end, covariates=cov, etas=etas)
    assert got is not None
    aspec, names, parts, ids = got
    pairs = [(a, float(v)) for a, vs in thr.items() for v in vs]
    new = _merge(
        [exposure_chunk_from_pieces(aspec, names, parts, ids, old.intervals_h, t_end, pairs)],
        old.analytes, old.intervals_h, t_end,
    )  # fmt: skip
    tol_t = TIME_TOL * max(1.0, t_end)
    for a in old.analytes:
        np.testing.assert_allclose(new.cmax_interval_mg_per_L[a], old.cmax_interval_mg_per_L[a],
                                   rtol=1e-9, atol=0)  # fmt: skip
        np.testing.assert_allclose(new.tmax_interval_h[a], old.tmax_interval_h[a], rtol=0,
                                   atol=tol_t)  # fmt: skip
        np.testing.assert_allclose(new.auc_interval_mg_h_per_L[a],
                                   old.auc_interval_mg_h_per_L[a], rtol=1e-9, atol=0)  # fmt: skip
        np.testing.assert_allclose(new.auc_mg_h_per_L[a], old.auc_mg_h_per_L[a], rtol=1e-9)
        np.testing.assert_allclose(new.cmax_mg_per_L[a], old.cmax_mg_per_L[a], rtol=1e-9)
    for key in old.time_above_h:
        # each crossing within the general path's tolerance (two crossings per span)
        np.testing.assert_allclose(new.time_above_h[key], old.time_above_h[key], rtol=0,
                                   atol=4 * tol_t * len(old.intervals_h))  # fmt: skip


def test_smooth_peaks_are_roots_of_the_exact_derivative() -> None:
    """Every refined peak inside a dose interval has dC/dt = 0 to round-off there."""
    n, t_end = 30, 24.0
    spec, cov, etas = _inputs("perez_ruixo_2021", n)
    reg = CASES["perez_ruixo_2021"][0]
    aspec, names, parts, ids = solve_regimen_pieces(spec, reg, t_end, covariates=cov, etas=etas)  # type: ignore[misc]
    ch = exposure_chunk_from_pieces(aspec, names, parts, ids, np.array([[0.0, t_end]]), t_end, [])
    ((subjects, sol),) = parts
    row = np.array([names.index("s_norketamine")])
    t = ch.tmax_iv["s_norketamine"][subjects, 0]
    d1, d2 = sol.at(np.arange(subjects.size), t, row, (1, 2))[:, :, 0]
    c = sol.at(np.arange(subjects.size), t, row)[:, 0]
    assert np.all(d2 < 0)  # a maximum
    # |C'| below round-off of its terms: well under C / (1e9 h)
    assert np.all(np.abs(d1) <= 1e-9 * c)


def test_piece_derivatives_are_derivatives_of_values() -> None:
    n, t_end = 8, 24.0
    spec, cov, etas = _inputs("herd_2007", n)
    reg = CASES["herd_2007"][0]
    _, names, parts, _ = solve_regimen_pieces(spec, reg, t_end, covariates=cov, etas=etas)  # type: ignore[misc]
    ((subjects, sol),) = parts
    rows = np.array([names.index("ketamine")])
    s = np.repeat(np.arange(subjects.size), 5)
    t = np.tile([0.05, 0.9, 3.3, 9.1, 20.0], subjects.size)
    h = 1e-5
    v = sol.at(np.r_[s, s], np.r_[t - h, t + h], rows)[:, 0]
    fd = (v[t.size :] - v[: t.size]) / (2 * h)
    d = sol.at(s, t, rows, 1)[:, 0]
    np.testing.assert_allclose(d, fd, rtol=1e-6, atol=1e-9 * np.max(np.abs(d)))
    # one pass of values and slopes equals the separate evaluations
    grid = np.linspace(0.0, t_end, 97)
    both = sol.grid_with_slope(grid, rows)
    np.testing.assert_allclose(both[:, :, 0], sol.grid(grid, rows)[:, :, 0], rtol=1e-13,
                               atol=1e-15)  # fmt: skip
    ss = np.repeat(np.arange(subjects.size), grid.size)
    slope = sol.at(ss, np.tile(grid, subjects.size), rows, 1)[:, 0].reshape(subjects.size, -1)
    np.testing.assert_allclose(both[:, :, 1], slope, rtol=1e-11, atol=1e-13 * np.max(np.abs(slope)))


def test_population_curves_and_summaries_from_one_solve_match_simulate() -> None:
    """The population's curves (one solve with AUC compartments) equal simulate's to round-off,
    and its exact summaries equal compute_exposure's."""
    model, n = "herd_2007", 50
    reg, covs, thr = CASES[model]
    times = np.linspace(0.0, 20.0, 81)
    spec = load_model(model)
    pop = simulate_population(spec, reg, times, n, seed=5, covariates=covs, progress=False,
                              percentiles=(5.0, 50.0, 95.0))  # fmt: skip
    ref = simulate(spec, reg, times, covariates={"WT": pop.covariates["WT"]}, unit="mg/L",
                   etas=_draw_etas(_omega_factor(spec, None), n, _eta_stream(5)),
                   check_validity=False)  # fmt: skip
    c = ref.conc["ketamine"]
    np.testing.assert_allclose(pop.percentile_curves["ketamine"],
                               np.percentile(c, (5.0, 50.0, 95.0), axis=0), rtol=1e-12,
                               atol=1e-15)  # fmt: skip
    ex = compute_exposure(spec, reg, covariates={"WT": pop.covariates["WT"]},
                          etas=_draw_etas(_omega_factor(spec, None), n, _eta_stream(5)),
                          t_end_h=20.0, check_validity=False)  # fmt: skip
    np.testing.assert_allclose(pop.summaries["ketamine"]["cmax_interval_mg_per_L"],
                               ex.cmax_interval_mg_per_L["ketamine"], rtol=1e-9)  # fmt: skip
    np.testing.assert_allclose(pop.summaries["ketamine"]["auc_mg_h_per_L"],
                               ex.auc_mg_h_per_L["ketamine"], rtol=1e-9)  # fmt: skip


def _eta_stream(seed: int) -> np.random.Generator:
    from ketasim.population.run import _ETA, _stream

    return _stream(seed, 0, _ETA)


@pytest.mark.parametrize("Q", [1, 3])
def test_anchored_grid_path_equals_direct_evaluation(
    Q: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = np.random.default_rng(11)
    N, T, n, m = 40, 300, 5, 2
    mu = -rng.uniform(0.001, 6.0, (N, n))
    a = rng.normal(size=(N, m, n, Q))
    b = rng.normal(size=(N, m))
    nq = rng.integers(1, Q + 1, N)
    for i in range(N):
        a[i, :, :, nq[i] :] = 0.0
    t0 = 84.0
    dt = np.linspace(0.0, 40.0, T)
    sel = np.arange(T)
    fast = np.zeros((N, T, m))
    kernels.sum_of_exponential_polynomials(mu, a, b, dt, sel, fast, nq, 0, t0)
    monkeypatch.setattr(kernels, "_ANCHOR_MIN_POINTS", 10**9)
    slow = np.zeros((N, T, m))
    kernels.sum_of_exponential_polynomials(mu, a, b, dt, sel, slow, nq, 0, t0)
    scale = np.max(np.abs(slow))
    np.testing.assert_allclose(fast, slow, rtol=0, atol=1e-13 * scale)
    # a subject's numbers do not depend on the other subjects evaluated with it
    one = np.zeros((1, T, m))
    monkeypatch.setattr(kernels, "_ANCHOR_MIN_POINTS", 8)
    kernels.sum_of_exponential_polynomials(mu[3:4], a[3:4], b[3:4], dt, sel, one, nq[3:4], 0, t0)
    np.testing.assert_array_equal(one[0], fast[3])


def test_transit_chain_grid_is_bit_identical_in_chunks() -> None:
    spec = load_model("simons_2022")
    n = 24
    reg = Regimen.from_quantities("0.25 mg/kg", route="iv", duration="40 min", every="12 h",
                                  count=2)  # fmt: skip
    wt = np.linspace(55.0, 90.0, n)
    etas = _draw_etas(_omega_factor(spec, None), n, np.random.default_rng(2))
    times = np.linspace(0.0, 36.0, 200)
    one = simulate(spec, reg, times, covariates={"WT": wt}, etas=etas, check_validity=False)
    chunked = simulate(spec, reg, times, covariates={"WT": wt}, etas=etas, chunk_size=5,
                       check_validity=False)  # fmt: skip
    for a in one.conc:
        np.testing.assert_array_equal(one.conc[a], chunked.conc[a])
