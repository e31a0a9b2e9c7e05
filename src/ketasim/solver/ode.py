"""Numerical (ODE) path: scipy ``solve_ivp`` between events, for nonlinear models and cross-checks.

The same :class:`~ketasim.solver.schedule.Schedule` drives it as the exact path, but steady states
are found independently, by integrating the periodic dosing cycle until the state repeats
(relative change below ``ss_rtol``), so comparing the two paths checks the closed-form sums.
One subject at a time: this path is for correctness, not speed.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import numpy.typing as npt

from ketasim.errors import SolverError
from ketasim.solver.schedule import Schedule, get_output_interval

__all__ = ["Rhs", "linear_rhs", "saturable_rhs", "solve_ode"]

FloatArray = npt.NDArray[np.float64]
#: right-hand side f(t, A, epoch) -> dA/dt without the zero-order input
Rhs = Callable[[float, FloatArray, int], FloatArray]


def saturable_rhs(
    K: FloatArray, terms: list[tuple[int, int, float, FloatArray, FloatArray, FloatArray]]
) -> Rhs:
    """Right-hand side ``K[epoch] @ A`` plus Michaelis-Menten flows.

    Each term ``(s, t, f, vmax, km, v)`` (per-epoch arrays) removes ``vmax C / (km + C)`` from
    compartment ``s`` (``C = A_s / v``) and adds ``f`` times that to ``t`` (none when ``t < 0``).
    """

    def f(t: float, a: FloatArray, ep: int) -> FloatArray:
        da = np.asarray(K[ep] @ a)
        for s, tgt, frac, vmax, km, v in terms:
            c = max(a[s], 0.0) / v[ep]
            r = vmax[ep] * c / (km[ep] + c)
            da[s] -= r
            if tgt >= 0:
                da[tgt] += frac * r
        return da

    return f


def linear_rhs(K: FloatArray) -> Rhs:
    """Right-hand side ``K[epoch] @ A`` for a linear model with K of shape (P, n, n)."""

    def f(t: float, a: FloatArray, ep: int) -> FloatArray:
        return np.asarray(K[ep] @ a)

    return f


def solve_ode(
    rhs: Rhs | list[Rhs],
    n: int,
    sched: Schedule,
    out_time: FloatArray,
    out_order: npt.NDArray[np.int64],
    *,
    method: str = "LSODA",
    rtol: float = 1e-10,
    atol: float = 1e-12,
    ss_rtol: float = 1e-11,
    max_ss_cycles: int = 20000,
) -> FloatArray:
    """Amounts at ``out_time`` for each subject, shape ``(N, T, n)``.

    Parameters
    ----------
    rhs : callable or list of callables
        ``rhs(t, A, epoch)``; one per subject when a list.
    n : int
        State size.
    sched : Schedule
        Compiled events.
    out_time, out_order : arrays (T,)
        Output times and their tie-break order.
    method, rtol, atol : solve_ivp settings.
    """
    N = sched.n_subjects
    out = np.zeros((N, len(out_time), n))
    rhs_list = rhs if isinstance(rhs, list) else [rhs] * N
    for i in range(N):
        out[i] = _one(
            rhs_list[i],
            n,
            sched.take(slice(i, i + 1)),
            out_time,
            out_order,
            method,
            rtol,
            atol,
            ss_rtol,
            max_ss_cycles,
        )
    return out


def _integrate(
    rhs: Rhs,
    a0: FloatArray,
    rate: FloatArray | Callable[[float], FloatArray],
    t0: float,
    t1: float,
    ep: int,
    method: str,
    rtol: float,
    atol: float,
) -> tuple[FloatArray, None]:
    if t1 <= t0:
        return a0.copy(), None
    rfun: Callable[[float], FloatArray] = rate if callable(rate) else (lambda t: rate)

    def f(t: float, a: FloatArray) -> FloatArray:
        return rhs(t, a, ep) + rfun(t)

    from scipy.integrate import solve_ivp  # NOTE: lazily; 0.4 s of import time

    sol = solve_ivp(f, (t0, t1), a0, method=method, rtol=rtol, atol=atol)
    if not sol.success:
        raise SolverError(f"ODE integration failed between t={t0} and {t1}: {sol.message}")
    return np.asarray(sol.y[:, -1], dtype=float).copy(), None


def _one(
    rhs: Rhs,
    n: int,
    s: Schedule,
    out_time: FloatArray,
    out_order: npt.NDArray[np.int64],
    method: str,
    rtol: float,
    atol: float,
    ss_rtol: float,
    max_cycles: int,
) -> FloatArray:
    E = s.n_events
    A = np.zeros(n)
    R = np.zeros(n)
    cur = 0
    states: list[tuple[FloatArray, FloatArray, int]] = []
    for e in range(E):
        if s.epoch[0, e] >= 0:
            cur = int(s.epoch[0, e])
        if s.reset[0, e]:
            A[:] = 0.0
            R[:] = 0.0
        if s.ss_mode[0, e] > 0:
            A = A + _periodic_ss(rhs, n, s, e, cur, method, rtol, atol, ss_rtol, max_cycles)
        if s.bolus_cmt[0, e] >= 0:
            A[s.bolus_cmt[0, e]] += s.bolus_amt[0, e]
        if s.rate_cmt[0, e] >= 0:
            R[s.rate_cmt[0, e]] += s.rate_delta[0, e]
            if abs(R[s.rate_cmt[0, e]]) < 1e-12 * abs(s.rate_delta[0, e]):
                R[s.rate_cmt[0, e]] = 0.0
        states.append((A.copy(), R.copy(), cur))
        if e + 1 < E and np.isfinite(s.time[0, e + 1]):
            A, _ = _integrate(
                rhs, A, R.copy(), s.time[0, e], s.time[0, e + 1], cur, method, rtol, atol
            )
    idx = get_output_interval(s, out_time[None, :], out_order)[0]
    out = np.zeros((len(out_time), n))
    for j, k in enumerate(idx):
        if k < 0:
            continue
        a0, r0, ep = states[k]
        out[j], _ = _integrate(
            rhs, a0, r0, s.time[0, k], float(out_time[j]), ep, method, rtol, atol
        )
    return out


def _periodic_ss(
    rhs: Rhs,
    n: int,
    s: Schedule,
    e: int,
    ep: int,
    method: str,
    rtol: float,
    atol: float,
    ss_rtol: float,
    max_cycles: int,
) -> FloatArray:
    """Steady state at the record time by repeating the dosing cycle until it converges."""
    cmt = int(s.ss_cmt[0, e])
    amt, rate = float(s.ss_amt[0, e]), float(s.ss_rate[0, e])
    dur, ii, lag = float(s.ss_dur[0, e]), float(s.ss_ii[0, e]), float(s.ss_lag[0, e])
    unit = np.zeros(n)
    unit[cmt] = 1.0
    x = np.zeros(n)
    if ii == 0:  # constant infusion: integrate over growing spans until the state stops changing
        span = 1.0
        for _ in range(200):
            x_new, _ = _integrate(rhs, x, unit * rate, 0.0, span, ep, method, rtol, atol)
            if np.max(np.abs(x_new - x)) <= ss_rtol * max(np.max(np.abs(x_new)), 1e-300):
                return x_new
            x, span = x_new, span * 2
        raise SolverError("constant-infusion steady state did not converge (no elimination?)")

    def periodic_rate(phase: float) -> FloatArray:
        # number of infusions (started every ii, lasting dur) active at this phase of the cycle
        count = np.ceil((dur - phase) / ii) if dur > phase else 0.0
        return np.asarray(unit * rate * count)

    for _cycle in range(max_cycles):
        start = x + unit * amt  # state at phase 0, after a bolus
        if dur > 0:
            # integrate piecewise between the phases where the number of active infusions changes
            cuts = sorted(
                {
                    0.0,
                    ii,
                    *[dur - k * ii for k in range(int(dur // ii) + 1) if 0 < dur - k * ii < ii],
                }
            )
            y = start
            for a, b in zip(cuts[:-1], cuts[1:], strict=True):
                y, _ = _integrate(
                    rhs, y, periodic_rate(0.5 * (a + b)), a, b, ep, method, rtol, atol
                )
        else:
            y, _ = _integrate(rhs, start, np.zeros(n), 0.0, ii, ep, method, rtol, atol)
        if np.max(np.abs(y - x)) <= ss_rtol * max(np.max(np.abs(y)), 1e-300):
            x = y
            break
        x = y
    else:
        raise SolverError(f"steady state did not converge in {max_cycles} cycles")
    # x: state just before a dose at phase 0 (= phase ii of the previous cycle). The record time is
    # `lag` before the next dose starts, i.e. at phase ii - lag of the previous cycle.
    if lag == 0:
        return x
    start = x + unit * amt
    y = start
    target = ii - lag
    if dur > 0:
        cuts = sorted(
            {
                0.0,
                target,
                *[dur - k * ii for k in range(int(dur // ii) + 1) if 0 < dur - k * ii < target],
            }
        )
        for a, b in zip(cuts[:-1], cuts[1:], strict=True):
            y, _ = _integrate(rhs, y, periodic_rate(0.5 * (a + b)), a, b, ep, method, rtol, atol)
    else:
        y, _ = _integrate(rhs, start, np.zeros(n), 0.0, target, ep, method, rtol, atol)
    return y
