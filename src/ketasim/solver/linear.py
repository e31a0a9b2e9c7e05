"""Exact solution of linear compartment systems between events, batched over subjects.

Maths
-----
Between events the state obeys ``dA/dt = K A + R`` with constant rate matrix ``K`` and constant
zero-order input ``R``. With the eigen-decomposition ``K = V diag(lam) V^-1`` and ``z = V^-1 A``,
``r = V^-1 R``, every mode is a scalar equation whose exact solution after a time ``dt`` is

    z(dt) = exp(lam dt) z(0) + r (exp(lam dt) - 1) / lam          (r dt when lam = 0)

computed with ``expm1`` for accuracy at small ``lam dt``. Outputs are gathered from the state
after the last event preceding them, so the work is one array computation over
subjects x output times x modes, with a Python loop over events only (never over subjects).
Steady states (SS=1/2, NONMEM) are summed in closed form per mode: for a bolus every ``II`` with
lag ``L``, ``z = b exp(lam (II - L)) / (1 - exp(lam II))``; for infusions the finitely many
infusions still running are summed directly and the rest as a geometric series; for a constant
infusion ``z = -r / lam``.

When a subject's eigenvectors are ill-conditioned (repeated or nearly repeated eigenvalues, such
as KA equal to the elimination rate constant), that subject is solved with matrix exponentials
of the augmented matrix ``[[K, R], [0, 0]]`` instead (:mod:`ketasim.solver.expm`), which is
exact for defective matrices too.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from ketasim.errors import SolverError
from ketasim.solver.expm import solve_expm
from ketasim.solver.kernels import sum_of_exponentials
from ketasim.solver.schedule import Schedule, get_output_interval

__all__ = ["solve_linear"]

FloatArray = npt.NDArray[np.float64]
_COND_LIMIT = 1e7  # eigenvector condition number beyond which the expm path is used


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
        Output times (per subject or shared).
    out_order : ndarray of int, shape (T,)
        Tie-break order of each output against events at the same time.
    rows : ndarray of int, optional
        Compartments to return (default all, in model order).
    weights : ndarray, shape (m, n), optional
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
    lam, V, Vinv, bad = _decompose(K)
    out = np.empty((N, np.shape(out_time)[-1], W.shape[-2]))
    good = ~bad
    if np.any(good):
        gi = np.flatnonzero(good)
        sub = sched if np.all(good) else sched.take(gi)
        ot = out_time if np.ndim(out_time) == 1 else out_time[gi]
        out[gi] = _solve_eigen(lam[gi], V[gi], Vinv[gi], sub, ot, out_order, W[gi])
    if np.any(bad):
        bi = np.flatnonzero(bad)
        sub = sched.take(bi)
        ot = out_time if np.ndim(out_time) == 1 else out_time[bi]
        out[bi] = solve_expm(K[bi], sub, ot, out_order, np.ascontiguousarray(W[bi]))
    return out


def _decompose(K: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray, npt.NDArray[np.bool_]]:
    """Eigen-decompose every (subject, epoch) matrix; flag subjects to solve by expm."""
    if not np.all(np.isfinite(K)):
        raise SolverError(
            "the rate matrix has non-finite entries: check the parameters (zero volume?)"
        )
    lam, V = np.linalg.eig(K)
    n = K.shape[-1]
    with np.errstate(all="ignore"):
        try:
            Vinv = np.linalg.inv(V)
            # NOTE: max-norm bound on the condition number, O(n^2) per matrix instead of an SVD
            cond = n * np.max(np.abs(V), axis=(-2, -1)) * np.max(np.abs(Vinv), axis=(-2, -1))
        except np.linalg.LinAlgError:
            Vinv = np.zeros_like(V)
            cond = np.full(K.shape[:-2], np.inf)
    bad = ~np.isfinite(cond) | (cond > _COND_LIMIT)
    if np.any(bad):
        V = np.where(bad[..., None, None], np.eye(n), V)
        lam = np.where(bad[..., None], -1.0, lam)
        Vinv = np.linalg.inv(V)
    if np.all(np.abs(lam.imag) == 0):
        lam, V, Vinv = lam.real, V.real, Vinv.real
    return lam, V, Vinv, np.any(bad, axis=-1)


def _phi(lam: FloatArray, dt: FloatArray, em1: FloatArray) -> FloatArray:
    """(exp(lam dt) - 1) / lam, equal to dt where lam = 0."""
    zero = lam == 0
    if not np.any(zero):
        return em1 / lam
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(zero, dt, em1 / np.where(zero, 1.0, lam))


def _gather(a: FloatArray, idx: npt.NDArray[np.intp]) -> FloatArray:
    """a[i, idx[i, e]] for per-subject event indices."""
    return np.take_along_axis(a, idx.reshape(idx.shape + (1,) * (a.ndim - 2)), axis=1)


def _solve_eigen(
    lam: FloatArray,
    V: FloatArray,
    Vinv: FloatArray,
    sched: Schedule,
    out_time: FloatArray,
    out_order: npt.NDArray[np.int64],
    W: FloatArray,
) -> FloatArray:
    N, P, n = lam.shape
    E = sched.n_events
    dtype = lam.dtype
    A = np.zeros((N, n), dtype=dtype)
    R = np.zeros((N, n), dtype=dtype)
    cur = np.zeros(N, dtype=np.intp)
    Z = np.empty((N, E, n), dtype=dtype)
    Rz = np.empty((N, E, n), dtype=dtype)
    EP = np.empty((N, E), dtype=np.intp)
    rowsN = np.arange(N)
    single = P == 1
    lam1, V1, Vinv1 = lam[:, 0], V[:, 0], Vinv[:, 0]
    for e in range(E):
        ep = sched.epoch[:, e]
        if not single:
            cur = np.where(ep >= 0, ep, cur)
        lam_c = lam1 if single else lam[rowsN, cur]
        V_c = V1 if single else V[rowsN, cur]
        Vinv_c = Vinv1 if single else Vinv[rowsN, cur]
        rs = sched.reset[:, e]
        if np.any(rs):
            A[rs] = 0.0
            R[rs] = 0.0
        ssm = sched.ss_mode[:, e] > 0
        if np.any(ssm):
            si = np.flatnonzero(ssm)
            A[si] += _steady_state(lam_c[si], V_c[si], Vinv_c[si], sched, e, si)
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
        z = np.einsum("nij,nj->ni", Vinv_c, A)
        r = np.einsum("nij,nj->ni", Vinv_c, R)
        Z[:, e], Rz[:, e], EP[:, e] = z, r, cur
        if e + 1 < E:
            dt = sched.time[:, e + 1] - sched.time[:, e]
            dt = np.where(np.isfinite(dt), dt, 0.0)[:, None]
            em1 = np.expm1(lam_c * dt)
            zn = z + em1 * z + _phi(lam_c, dt, em1) * r
            A = np.einsum("nij,nj->ni", V_c, zn)
    # --- outputs ---------------------------------------------------------------------------
    T = np.shape(out_time)[-1]
    idx = get_output_interval(sched, out_time, out_order)  # (N|1, T) index of last event before
    before = idx < 0
    idx = np.maximum(idx, 0)
    if single and idx.shape[0] == 1 and not np.any(lam1 == 0) and np.ndim(out_time) == 1:
        return _outputs_shared_grid(
            lam1, V1, W, Z, Rz, sched, np.asarray(out_time), idx[0], before[0]
        )
    idx = np.broadcast_to(idx, (N, T))
    before = np.broadcast_to(before, (N, T))
    z0 = _gather(Z, idx)  # (N, T, n)
    r0 = _gather(Rz, idx)
    t_ev = np.take_along_axis(sched.time, idx, axis=1)
    dt = (np.broadcast_to(out_time, (N, T)) - t_ev)[..., None]
    if single:
        lam_o = lam1[:, None, :]
        VW = np.einsum("nmi,nij->nmj", W, V1)  # (N, m, n): output weights in eigen basis
        em1 = np.expm1(lam_o * dt)
        zt = z0 + em1 * z0 + _phi(np.broadcast_to(lam_o, em1.shape), dt, em1) * r0
        res = np.einsum("nmj,ntj->ntm", VW, zt)
    else:
        ep_o = np.take_along_axis(EP, idx, axis=1)
        lam_o = lam[np.arange(N)[:, None], ep_o]  # (N, T, n)
        em1 = np.expm1(lam_o * dt)
        zt = z0 + em1 * z0 + _phi(lam_o, dt, em1) * r0
        V_o = V[np.arange(N)[:, None], ep_o]  # (N, T, n, n)
        res = np.einsum("nmi,ntij,ntj->ntm", W, V_o, zt)
    res = np.real(res)
    if np.any(before):
        res[np.broadcast_to(before, (N, T))] = 0.0
    return np.asarray(res, dtype=float)


def _outputs_shared_grid(
    lam: FloatArray,
    V: FloatArray,
    W: FloatArray,
    Z: FloatArray,
    Rz: FloatArray,
    sched: Schedule,
    out_time: FloatArray,
    idx: npt.NDArray[np.intp],
    before: npt.NDArray[np.bool_],
) -> FloatArray:
    """Outputs when every subject shares event times and output times (the population case).

    Per interval k, each weighted output is a sum of exponentials,
    ``y_m(t) = sum_j a_mj exp(lam_j dt) + b_m`` with ``a_mj = w_mj (z_j + r_j / lam_j)`` and
    ``b_m = -sum_j w_mj r_j / lam_j`` (``w = W V``), so no per-output gathers are needed.
    """
    N, n = lam.shape
    VW = np.einsum("nmi,nij->nmj", W, V)
    out = np.zeros((N, out_time.size, VW.shape[1]))
    real = not np.iscomplexobj(lam)
    t_ev = sched.time[0]
    for k in np.unique(idx[~before]):
        sel = np.flatnonzero((idx == k) & ~before)
        dt = out_time[sel] - t_ev[k]
        r_over_lam = Rz[:, k, :] / lam
        a = VW * (Z[:, k, :] + r_over_lam)[:, None, :]  # (N, m, n)
        b = -np.sum(VW * r_over_lam[:, None, :], axis=-1)  # (N, m)
        if real:
            sum_of_exponentials(lam, a, b, dt, sel, out)
        else:
            E = np.exp(lam[:, None, :] * dt[None, :, None])  # (N, T_k, n)
            out[:, sel, :] = (np.matmul(E, np.swapaxes(a, 1, 2)) + b[:, None, :]).real
    return out


def _steady_state(
    lam: FloatArray,
    V: FloatArray,
    Vinv: FloatArray,
    sched: Schedule,
    e: int,
    si: npt.NDArray[np.intp],
) -> FloatArray:
    """Steady-state amounts at the record time for the SS events of subjects ``si``."""
    cmt = sched.ss_cmt[si, e]
    amt = sched.ss_amt[si, e][:, None]
    rate = sched.ss_rate[si, e][:, None]
    dur = sched.ss_dur[si, e][:, None]
    ii = sched.ss_ii[si, e][:, None]
    lag = sched.ss_lag[si, e][:, None]
    col = Vinv[np.arange(len(si)), :, cmt]  # (M, n): eigen coordinates of a unit input
    has_input = np.abs(col) > 1e-14 * np.max(np.abs(col), axis=1, keepdims=True)
    if np.any((np.abs(lam) < 1e-12) & has_input):
        raise SolverError(
            "no steady state exists: a compartment reached by this dose has no elimination "
            "(a zero eigenvalue of the rate matrix)"
        )
    safe = np.where(np.abs(lam) < 1e-12, -1.0, lam)
    z = np.zeros_like(col)
    with np.errstate(over="ignore", invalid="ignore"):
        const = (ii == 0)[:, 0]
        if np.any(const):
            z[const] = -(col * rate)[const] / safe[const]
        bolus = ~const & (dur[:, 0] == 0)
        if np.any(bolus):
            b = (col * amt)[bolus]
            lb, iib, lgb = safe[bolus], ii[bolus], lag[bolus]
            z[bolus] = b * np.exp(lb * (iib - lgb)) / -np.expm1(lb * iib)
        inf = ~const & ~bolus
        if np.any(inf):
            r = (col * rate)[inf]
            lf, iif, lgf, df = safe[inf], ii[inf], lag[inf], dur[inf]
            k1 = np.floor((df + lgf) / iif)  # number of earlier infusions with s_k <= dur
            acc = np.zeros_like(r)
            for k in range(1, int(np.max(k1)) + 1):
                s_k = k * iif - lgf
                acc += np.where(k <= k1, r * np.expm1(lf * s_k) / lf, 0.0)
            c_end = r * np.expm1(lf * df) / lf  # one full infusion, at its end
            tail = c_end * np.exp(lf * ((k1 + 1) * iif - lgf - df)) / -np.expm1(lf * iif)
            z[inf] = acc + tail
    return np.asarray(np.einsum("nij,nj->ni", V, z * has_input))
