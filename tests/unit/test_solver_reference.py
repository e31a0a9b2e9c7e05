"""Exact solver against the 50-digit reference (tests/reference) in degenerate regimes (issue 8).

Every case is run on the three output paths of :func:`ketasim.solver.solve_linear`: per-subject
output times (the dataset path), a shared grid (the regimen/population path, numpy) and the
shared grid through the compiled numba kernel. Tolerance: ``|got - ref| <= 1e-9 max|ref|``
(relative to the profile's peak: both are exact methods, so any error is round-off; 1e-9 leaves
room for the ~1e3 growth of round-off where rates differ by just over the cluster width) and
``1e-9`` pointwise relative wherever ``ref >= 1e-3`` of the peak.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest

from ketasim.solver import RecordTemplate, compile_schedule, kernels, solve_linear
from tests.reference.mp_solver import Dose, Reference, Reset, SteadyState

RTOL = 1e-9
AFTER = np.int64(1 << 41)
PATHS = ("dataset", "shared", "kernel")


def template(records: Sequence[dict[str, float]]) -> RecordTemplate:
    """Template from record dicts (time, evid, cmt 0-based, amt, rate, ii, addl, ss, f, lag...)."""

    def col(key: str, default: float) -> np.ndarray:
        return np.array([r.get(key, default) for r in records], dtype=float)

    n = len(records)
    return RecordTemplate(
        time=col("time", 0.0),
        evid=col("evid", 1).astype(np.int64),
        cmt=col("cmt", 0).astype(np.int64),
        amt=col("amt", 0.0)[None],
        rate=col("rate", 0.0)[None],
        ii=col("ii", 0.0),
        addl=col("addl", 0).astype(np.int64),
        ss=col("ss", 0).astype(np.int64),
        f=col("f", 1.0)[None],
        lag=col("lag", 0.0)[None],
        mrate=col("mrate", np.nan)[None],
        mdur=col("mdur", np.nan)[None],
        epoch=np.zeros(n, dtype=np.int64),
        record_numbers=np.arange(1, n + 1),
    )


def solve(
    K: np.ndarray, records: Sequence[dict[str, float]], times: np.ndarray, path: str, mp: Any
) -> np.ndarray:
    """Amounts (T, n) of one subject on one output path (the subject repeated to reach numba)."""
    n_sub = 300 if path == "kernel" else 2
    if path == "kernel":
        mp.setattr(kernels, "_NUMBA_MIN_WORK", 0)
        mp.setattr(kernels, "_NUMBA_LOAD_WORK", 0)
    sched = compile_schedule(template(records), n_sub)
    Kb = np.broadcast_to(K, (n_sub, 1, *K.shape)).copy()
    order = np.full(times.size, AFTER)
    ot = np.broadcast_to(times, (n_sub, times.size)).copy() if path == "dataset" else times
    out = solve_linear(Kb, sched, ot, order)
    np.testing.assert_array_equal(out[0], out[-1])
    return out[0]


def check(got: np.ndarray, ref: np.ndarray) -> None:
    peak = np.max(np.abs(ref))
    assert np.all(np.isfinite(got))
    err = np.abs(got - ref)
    assert np.max(err) <= RTOL * peak, f"max error {np.max(err) / peak:.2e} of the peak"
    big = np.abs(ref) >= 1e-3 * peak
    rel = np.max(err[big] / np.abs(ref[big]))
    assert rel <= RTOL, f"pointwise relative error {rel:.2e}"


def pk2(cl: float) -> np.ndarray:
    v1, q, v2 = 7.0, 1.1, 13.0
    return np.array([[-(cl + q) / v1, q / v2], [q / v1, -q / v2]])


def depot(ka: float, k: float) -> np.ndarray:
    return np.array([[-ka, 0.0], [ka, -k]])


def chain(n: int, k: float, k_out: float | None = None) -> np.ndarray:
    K = np.diag(np.full(n, -k)) + np.diag(np.full(n - 1, k), -1)
    if k_out is not None:
        K[-1, -1] = -k_out
    return K


TIMES = np.array([0.0, 0.01, 0.2, 1.0, 2.5, 6.0, 12.0, 24.0, 48.0])


# --- eigenvalue 0 and near 0 (issue 8: pk2 with CL = 0 was off by 206 % of the dose) ----------
@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("cl", [0.0, 1e-18, 1e-15, 1e-13, 1e-10, 1e-6])
def test_small_eigenvalue_bolus_and_infusion_match_reference(
    cl: float, path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    K = pk2(cl)
    recs = [dict(time=0, amt=100), dict(time=1.0, amt=50, rate=20)]
    ref = Reference(K).solve([Dose(0, 0, 100), Dose(1.0, 0, 50, 2.5)], TIMES)
    check(solve(K, recs, TIMES, path, monkeypatch), ref)


@pytest.mark.parametrize("path", PATHS)
def test_closed_system_conserves_mass(path: str, monkeypatch: pytest.MonkeyPatch) -> None:
    K = pk2(0.0)
    recs = [dict(time=0, amt=100), dict(time=3.0, amt=40, rate=10)]
    got = solve(K, recs, TIMES, path, monkeypatch)
    dosed = 100 + 10 * np.clip(TIMES - 3.0, 0.0, 4.0)
    np.testing.assert_allclose(got.sum(axis=1), dosed, rtol=1e-12)


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("ka_factor", [1.0, 1.0 + 2**-52, 1 + 1e-12, 1 + 1e-9, 1 - 1e-6, 1 + 1e-3])
def test_system_with_sink_conserves_mass(
    ka_factor: float, path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # depot -> central -> sink: the amounts (sink included) always sum to what was dosed
    k = 0.3
    ka = k * ka_factor
    K = np.array([[-ka, 0, 0], [ka, -k, 0], [0, k, 0]])
    recs = [dict(time=0, amt=100), dict(time=2.0, amt=30, rate=15)]
    got = solve(K, recs, TIMES, path, monkeypatch)
    dosed = 100 + 15 * np.clip(TIMES - 2.0, 0.0, 2.0)
    np.testing.assert_allclose(got.sum(axis=1), dosed, rtol=1e-12)


# --- KA = k and nearly so (issue 8: expm fallback was 1.5e-2 off at ka = nextafter(k)) --------
@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize(
    "factor", [1.0, 1.0 + 2**-52, 1 + 1e-15, 1 - 1e-15, 1 + 1e-12, 1 - 1e-9, 1 + 1e-6, 1 - 1e-6]
)
def test_absorption_rate_near_elimination_rate_matches_reference(
    factor: float, path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    k = 0.25
    K = depot(k * factor, k)
    ref = Reference(K).solve([Dose(0, 0, 100)], TIMES)
    check(solve(K, [dict(time=0, amt=100)], TIMES, path, monkeypatch), ref)


def test_nextafter_absorption_rate_at_12_h_is_exact_issue_8() -> None:
    k = 0.1
    K = depot(float(np.nextafter(k, 1.0)), k)
    t = np.array([12.0])
    ref = Reference(K).solve([Dose(0, 0, 1.0)], t)
    got = solve(K, [dict(time=0, amt=1.0)], t, "shared", None)
    np.testing.assert_allclose(got, ref, rtol=1e-13)


# --- transit chains ----------------------------------------------------------------------------
@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("n", [1, 2, 3, 5, 8, 13, 20])
def test_transit_chain_of_equal_rates_matches_erlang_closed_form(
    n: int, path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # bolus D into the first of n compartments draining at k each: A_j(t) = D (kt)^j/j! exp(-kt)
    # (Poisson probabilities; the mpmath sum is the reference)
    import mpmath

    k, dose = 1.7, 100.0
    times = np.array([0.0, 0.1, 0.5, 1.0, 3.0, 7.0, 15.0])
    ref = np.array(
        [
            [
                float(dose * (mpmath.mpf(k) * t) ** j / mpmath.factorial(j) * mpmath.exp(-k * t))
                for j in range(n)
            ]
            for t in times
        ]
    )
    got = solve(chain(n, k), [dict(time=0, amt=dose)], times, path, monkeypatch)
    for j in range(n):
        check(got[:, j], ref[:, j])


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("eps", [0.0, 1e-15, 1e-12, 1e-9, 1e-6])
def test_transit_chain_of_nearly_equal_rates_matches_reference(
    eps: float, path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    n = 6
    rates = 1.3 * (1 + eps * np.array([0.0, 1.0, -1.0, 0.5, -0.5, 2.0]))
    K = np.diag(-rates) + np.diag(rates[:-1], -1)
    times = np.array([0.0, 0.5, 2.0, 5.0, 12.0])
    recs = [dict(time=0, amt=100), dict(time=1.0, amt=20, rate=10)]
    ref = Reference(K).solve([Dose(0, 0, 100), Dose(1.0, 0, 20, 2.0)], times)
    got = solve(K, recs, times, path, monkeypatch)
    for j in range(n):
        check(got[:, j], ref[:, j])


# --- stiff and complex -------------------------------------------------------------------------
@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("ratio", [1e2, 1e5, 1e8])
def test_stiff_three_compartment_matches_reference(
    ratio: float, path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    k10, k12, k21, k13, k31 = 0.5, 0.6 * ratio**0.5, 0.2, 0.05, 0.5 / ratio
    K = np.array([[-(k10 + k12 + k13), k21, k31], [k12, -k21, 0.0], [k13, 0.0, -k31]], dtype=float)
    recs = [dict(time=0, amt=100, rate=200)]
    ref = Reference(K).solve([Dose(0, 0, 100, 0.5)], TIMES)
    got = solve(K, recs, TIMES, path, monkeypatch)
    check(got[:, 0], ref[:, 0])


@pytest.mark.parametrize("path", PATHS)
def test_cyclic_flows_with_complex_eigenvalues_match_reference(
    path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 0 -> 1 -> 2 -> 0 at equal rates: eigenvalues -a + a exp(2 pi i k / 3) (complex pair)
    a, e = 2.0, 0.1
    K = np.array([[-a, 0, a], [a, -a, 0], [0, a, -a - e]])
    assert np.any(np.abs(np.linalg.eigvals(K).imag) > 0.1)
    recs = [dict(time=0, amt=100), dict(time=1.0, amt=10, rate=5)]
    ref = Reference(K).solve([Dose(0, 0, 100), Dose(1.0, 0, 10, 2.0)], TIMES)
    got = solve(K, recs, TIMES, path, monkeypatch)
    for j in range(3):
        check(got[:, j], ref[:, j])


# --- every event kind --------------------------------------------------------------------------
K_EV = np.array([[-1.2, 0, 0], [1.2, -0.4, 0.05], [0, 0.1, -0.05]])  # depot + 2-cpt
EV_TIMES = np.array([0.0, 0.5, 1.0, 2.0, 3.0, 4.5, 6.0, 9.0, 12.0, 24.0, 30.0])

EVENT_CASES: dict[str, tuple[list[dict[str, float]], list[Any]]] = {
    "bolus": ([dict(time=0, amt=100)], [Dose(0, 0, 100)]),
    "infusion": ([dict(time=0, amt=100, rate=40, cmt=1)], [Dose(0, 1, 100, 2.5)]),
    "rate_minus_1": (
        [dict(time=0, amt=100, rate=-1, mrate=25, cmt=1)],
        [Dose(0, 1, 100, 4.0)],
    ),
    "rate_minus_2_with_f": (
        [dict(time=0, amt=100, rate=-2, mdur=3.0, f=0.6, cmt=1)],
        [Dose(0, 1, 60, 3.0)],
    ),
    "lag_and_f": ([dict(time=0, amt=100, lag=0.75, f=0.8)], [Dose(0.75, 0, 80)]),
    "addl": (
        [dict(time=0, amt=50, ii=6, addl=3)],
        [Dose(0, 0, 50), Dose(6, 0, 50), Dose(12, 0, 50), Dose(18, 0, 50)],
    ),
    "ss1_bolus": (
        [dict(time=0, amt=50, ii=6, ss=1)],
        [SteadyState(0, 0, 50, 6), Dose(0, 0, 50)],
    ),
    "ss1_bolus_with_lag": (
        [dict(time=0, amt=50, ii=6, ss=1, lag=1.0)],
        [SteadyState(0, 0, 50, 6, lag=1.0), Dose(1.0, 0, 50)],
    ),
    "ss2_on_top_of_bolus": (
        [dict(time=0, amt=30), dict(time=2.0, amt=50, ii=6, ss=2)],
        [Dose(0, 0, 30), SteadyState(2.0, 0, 50, 6, add=True), Dose(2.0, 0, 50)],
    ),
    "ss1_infusion_overlapping": (
        [dict(time=0, amt=60, rate=6, ii=4, ss=1, cmt=1)],
        [SteadyState(0, 1, 60, 4, dur=10.0), Dose(0, 1, 60, 10.0)],
    ),
    "ss_constant_infusion": (
        [dict(time=0, amt=0, rate=7, ii=0, ss=1, cmt=1)],
        [],  # filled below: the state is -K^-1 R, the infusion stops at the record time
    ),
    "reset_evid3": (
        [dict(time=0, amt=100), dict(time=3.0, evid=3, amt=0)],
        [Dose(0, 0, 100), Reset(3.0)],
    ),
    "reset_and_dose_evid4": (
        [dict(time=0, amt=100, rate=20, cmt=1), dict(time=3.0, evid=4, amt=40)],
        [Dose(0, 1, 100, 5.0), Reset(3.0), Dose(3.0, 0, 40)],
    ),
}


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("case", sorted(EVENT_CASES))
def test_event_kind_matches_reference(
    case: str, path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    recs, events = EVENT_CASES[case]
    got = solve(K_EV, recs, EV_TIMES, path, monkeypatch)
    if case == "ss_constant_infusion":
        ss = np.linalg.solve(-K_EV, np.array([0.0, 7.0, 0.0]))
        ref = np.array([Reference(K_EV).advance([*map(float, ss)], [0.0] * 3, t) for t in EV_TIMES])
        ref = ref.astype(float)
    else:
        ref = Reference(K_EV).solve(events, EV_TIMES)
    for j in range(3):
        if np.max(np.abs(ref[:, j])) > 0:
            check(got[:, j], ref[:, j])
        else:
            np.testing.assert_array_equal(got[:, j], 0.0)


@pytest.mark.parametrize("path", PATHS)
def test_amounts_after_reset_are_exactly_zero_issue_8(
    path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    recs = [dict(time=0, amt=100, rate=30, cmt=1), dict(time=1.0, evid=3, amt=0)]
    got = solve(K_EV, recs, np.array([1.0, 2.0, 5.0]), path, monkeypatch)
    np.testing.assert_array_equal(got, 0.0)
