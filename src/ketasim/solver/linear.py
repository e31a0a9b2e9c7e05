"""Exact solution of linear compartment systems between events, batched over subjects.

Maths
-----
Between events the state obeys ``dA/dt = K A + R`` with constant rate matrix ``K`` and constant
zero-order input ``R``. :mod:`ketasim.solver.eigen` gives a basis ``A = V z`` in which every
coordinate evolves exactly as

    z(dt) = p + exp(mu dt) o sum_k dt^k / k! v_k

(one term per coordinate for distinct eigenvalues, a polynomial for repeated or nearly repeated
ones, the input's cluster for eigenvalue 0 and ``|lam|`` as small as you like; see that module
for the derivation and references). Outputs are gathered from the state after the last event
preceding them, so the work is one array computation over subjects x output times x terms, with
a Python loop over events only (never over subjects). Steady states (SS=1/2, NONMEM) are summed
in closed form (:mod:`ketasim.solver.steady`).

Subjects with a block of the flow graph whose own eigenvectors are ill-conditioned (a cycle of
flows with repeated eigenvalues; no library model has one) are solved with matrix exponentials
of the augmented matrix ``[[K, R], [0, 0]]`` instead (:mod:`ketasim.solver.expm`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from ketasim.solver.eigen import Modes, compute_modes, particular, propagate, series_vectors
from ketasim.solver.expm import solve_expm
from ketasim.solver.kernels import sum_of_terms
from ketasim.solver.schedule import Schedule, get_output_interval
from ketasim.solver.steady import compute_steady_state

__all__ = ["solve_linear"]

FloatArray = npt.NDArray[np.float64]


def solve_linear(
    K: FloatArray,
    sched: Schedule,
    out_time: FloatArray,
    out_order: npt.NDArray[np.int64],
    rows: npt.NDArray[np.intp] | None = None,
    weights: FloatArray | None = None,
) -> FloatArray:
    """Amounts at the output times, shape ``(N, T, m)``.

    Parameters
    ----------
    K : ndarray, shape (N, P, n, n), 1/time
        Rate matrix per subject and parameter epoch (canonical units; no unit strings).
    sched : Schedule
        Compiled events of the same N subjects.
    out_time : ndarray, shape (T,) or (N, T), time
        Output times (per subject or shared; NaN pads ragged rows).
    out_order : ndarray of int, shape (T,)
        Tie-break order of each output against events at the same time.
    rows : ndarray of int, optional
        Compartments to return (default all, in model order).
    weights : ndarray, shape (m, n) or (N, m, n), optional
        Return ``weights @ A`` instead of amounts (e.g. 1/V rows giving concentrations);
        overrides ``rows``.

    Returns
    -------
    ndarray, shape (N, T, m), amount (or weighted amount)
    """
    N, P, n, _ = K.shape
    if weights is None:
        sel = np.arange(n) if rows is None else np.asarray(rows)
        W = np.eye(n)[sel]
    else:
        W = np.asarray(weights, dtype=float)
    W = np.broadcast_to(W, (N, *W.shape[-2:])) if W.ndim == 2 else W
    modes = compute_modes(K.reshape(N * P, n, n), compute_span(sched, out_time))
    bad = np.any(modes.bad.reshape(N, P), axis=1)
    out = np.empty((N, np.shape(out_time)[-1], W.shape[-2]))
    good = ~bad
    if np.any(good):
        gi = np.flatnonzero(good)
        sub = sched if np.all(good) else sched.take(gi)
        md = modes if np.all(good) else modes.take((gi[:, None] * P + np.arange(P)).ravel())
        ot = out_time if np.ndim(out_time) == 1 else out_time[gi]
        out[gi] = _solve_modes(md, P, sub, ot, out_order, W[gi])
    if np.any(bad):
        bi = np.flatnonzero(bad)
        sub = sched.take(bi)
        ot = out_time if np.ndim(out_time) == 1 else out_time[bi]
        out[bi] = solve_expm(K[bi], sub, ot, out_order, np.ascontiguousarray(W[bi]))
    return out


def compute_span(sched: Schedule, out_time: FloatArray) -> float:
    """Longest time step the solve can ask for (events, outputs, steady-state cycles), time."""
    t = sched.time[np.isfinite(sched.time)]
    ot = np.asarray(out_time, dtype=float)
    ot = ot[np.isfinite(ot)]
    lo = min(t.min(initial=np.inf), ot.min(initial=np.inf))
    hi = max(t.max(initial=-np.inf), ot.max(initial=-np.inf))
    span = hi - lo if np.isfinite(hi - lo) else 0.0
    ss = sched.ss_mode > 0
    if np.any(ss):
        ii = sched.ss_ii[ss]
        safe = np.where(ii > 0, ii, 1.0)
        cycles = np.floor((sched.ss_dur[ss] + sched.ss_lag[ss]) / safe) + 2
        span = max(span, float(np.max(np.where(ii > 0, ii * cycles, 0.0))))
    return float(span) if span > 0 else 1.0


_MAX_TIME_GROUPS = 16  # beyond this many distinct event-time rows, the general output path


def uniform_groups(sched: Schedule) -> list[npt.NDArray[np.intp]]:
    """Subjects (row indices) grouped by identical event times and orders, in first-seen order."""
    key = np.concatenate([sched.time, sched.order.astype(float)], axis=1)
    _, first, inv = np.unique(key, axis=0, return_index=True, return_inverse=True)
    inv = inv.ravel()
    return [np.flatnonzero(inv == u) for u in np.argsort(first)]


def _gather(a: npt.NDArray[Any], idx: npt.NDArray[np.intp]) -> npt.NDArray[Any]:
    """a[i, idx[i, e]] for per-subject event indices."""
    return np.take_along_axis(a, idx.reshape(idx.shape + (1,) * (a.ndim - 2)), axis=1)


def event_states(
    modes: Modes, P: int, sched: Schedule
) -> tuple[npt.NDArray[Any], npt.NDArray[Any], npt.NDArray[np.intp]]:
    """Series vectors ``Vs`` (N, E, nt, n) and shifts ``Ps`` (N, E, n) just after every event
    (coordinates of :mod:`.eigen`), and the parameter epoch ``EP`` (N, E) in force."""
    N = sched.n_subjects
    n = modes.lam.shape[-1]
    E = sched.n_events
    dtype = modes.V.dtype
    nt = int(np.max(modes.nterms))
    A = np.zeros((N, n))
    R = np.zeros((N, n))
    cur = np.zeros(N, dtype=np.intp)
    Vs = np.empty((N, E, nt, n), dtype=dtype)
    Ps = np.empty((N, E, n), dtype=dtype)
    EP = np.empty((N, E), dtype=np.intp)
    rowsN = np.arange(N)
    md = modes
    for e in range(E):
        if P > 1:
            ep = sched.epoch[:, e]
            cur = np.where(ep >= 0, ep, cur)
            md = modes.take(rowsN * P + cur)
        rs = sched.reset[:, e]
        if np.any(rs):
            A[rs] = 0.0
            R[rs] = 0.0
        ssm = sched.ss_mode[:, e] > 0
        if np.any(ssm):
            si = np.flatnonzero(ssm)
            A[si] += compute_steady_state(md.take(si), sched, e, si)
        bc = sched.bolus_cmt[:, e]
        if np.any(bc >= 0):
            bi = np.flatnonzero(bc >= 0)
            A[bi, bc[bi]] += sched.bolus_amt[bi, e]
        rc = sched.rate_cmt[:, e]
        if np.any(rc >= 0):
            ri = np.flatnonzero(rc >= 0)
            R[ri, rc[ri]] += sched.rate_delta[ri, e]
            # NOTE: round-off of +rate then -rate may leave 1e-17 residues; snap them to zero
            R[ri, rc[ri]] = np.where(
                np.abs(R[ri, rc[ri]]) < 1e-12 * np.abs(sched.rate_delta[ri, e]), 0.0, R[ri, rc[ri]]
            )
        z = np.einsum("nij,nj->ni", md.Vinv, A)
        r = np.einsum("nij,nj->ni", md.Vinv, R)
        p = particular(md, r)
        v = series_vectors(md, z, r, p, nt)
        Vs[:, e], Ps[:, e], EP[:, e] = v, p, cur
        if e + 1 < E:
            with np.errstate(invalid="ignore"):
                dt = sched.time[:, e + 1] - sched.time[:, e]
            dt = np.where(np.isfinite(dt), dt, 0.0)
            zn = propagate(md.mu, v, p, dt)
            A = np.real(np.einsum("nij,nj->ni", md.V, zn))
    return Vs, Ps, EP


def _solve_modes(
    modes: Modes,
    P: int,
    sched: Schedule,
    out_time: FloatArray,
    out_order: npt.NDArray[np.int64],
    W: FloatArray,
) -> FloatArray:
    N = sched.n_subjects
    Vs, Ps, EP = event_states(modes, P, sched)
    # --- outputs ---------------------------------------------------------------------------
    T = np.shape(out_time)[-1]
    if P == 1 and np.ndim(out_time) == 1 and N > 1 and not sched.has_uniform_times():
        # NOTE: event times that differ by round-off (a per-kg dose's end, AMT / RATE) split
        # the subjects into a few groups, each with shared times: the fast grid path per group
        groups = uniform_groups(sched)
        if len(groups) <= _MAX_TIME_GROUPS:
            out = np.empty((N, T, W.shape[1]))
            for g in groups:
                sub = sched.take(g)
                ix = get_output_interval(sub, out_time, out_order)[0]
                out[g] = _outputs_shared_grid(
                    modes.take(g), W[g], Vs[g], Ps[g], sub, np.asarray(out_time),
                    np.maximum(ix, 0), ix < 0,
                )  # fmt: skip
            return out
    idx = get_output_interval(sched, out_time, out_order)  # (N|1, T) index of last event before
    before = idx < 0
    idx = np.maximum(idx, 0)
    if P == 1 and idx.shape[0] == 1 and np.ndim(out_time) == 1:
        return _outputs_shared_grid(
            modes, W, Vs, Ps, sched, np.asarray(out_time), idx[0], before[0]
        )
    idx = np.broadcast_to(idx, (N, T))
    before = np.broadcast_to(before, (N, T))
    v0 = _gather(Vs, idx)  # (N, T, nt, n)
    p0 = _gather(Ps, idx)  # (N, T, n)
    t_ev = np.take_along_axis(sched.time, idx, axis=1)
    with np.errstate(invalid="ignore"):
        dt = np.broadcast_to(out_time, (N, T)) - t_ev
    dt = np.where(np.isfinite(dt), dt, 0.0)
    if P == 1:
        mu_o = modes.mu[:, None, :]
        VW = np.einsum("nmi,nij->nmj", W, modes.V)  # (N, m, n): output weights in the basis
        zt = propagate(mu_o, v0, p0, dt)
        res = np.einsum("nmj,ntj->ntm", VW, zt)
    else:
        flat = np.arange(N)[:, None] * P + np.take_along_axis(EP, idx, axis=1)
        zt = propagate(modes.mu[flat], v0, p0, dt)
        res = np.einsum("nmi,ntij,ntj->ntm", W, modes.V[flat], zt)
    res = np.real(res)
    if np.any(before):
        res[before] = 0.0
    return np.asarray(res, dtype=float)


def _outputs_shared_grid(
    modes: Modes,
    W: FloatArray,
    Vs: npt.NDArray[Any],
    Ps: npt.NDArray[Any],
    sched: Schedule,
    out_time: FloatArray,
    idx: npt.NDArray[np.intp],
    before: npt.NDArray[np.bool_],
) -> FloatArray:
    """Outputs when every subject shares event times and output times (the population case).

    Per interval k, each weighted output is a sum of exponential polynomials,
    ``y_m(t) = b_m + sum_j exp(mu_j dt) sum_q a_mjq dt^q / q!`` with ``a_mjq = w_mj v_qj`` and
    ``b_m = sum_j w_mj p_j`` (``w = W V``), so no per-output gathers are needed.
    """
    VW = np.einsum("nmi,nij->nmj", W, modes.V)
    N = VW.shape[0]
    out = np.zeros((N, out_time.size, VW.shape[1]))
    t_ev = sched.time[0]
    for k in np.unique(idx[~before]):
        sel = np.flatnonzero((idx == k) & ~before)
        dt = out_time[sel] - t_ev[k]
        b = np.einsum("nmj,nj->nm", VW, Ps[:, k])
        sum_of_terms(
            modes.mu, VW, Vs[:, k], b, dt, sel, out, modes.nterms, N * out_time.size,
            float(t_ev[k]),
        )  # fmt: skip
    return out
