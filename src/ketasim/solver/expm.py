"""Exact solution by matrix exponentials, batched over subjects: the path for defective systems.

Used only for subjects with a strongly connected block of flows (a cycle) whose own eigenvectors
are ill-conditioned; repeated rates in different blocks (transit chains, KA equal to an
elimination rate) are solved exactly by :mod:`ketasim.solver.eigen`.

Maths
-----
With the augmented matrix ``M = [[K, R], [0, 0]]``, the state after ``dt`` is
``[A(dt); 1] = expm(M dt) [A(0); 1]``, exact for any ``K`` (defective or not) and constant
zero-order input ``R`` (Moler & Van Loan 2003, SIAM Rev 45:3, method 10; van Loan 1978, IEEE
TAC 23:395). The exponential is computed entrywise accurately (:func:`compute_expm`): a
compartment matrix is essentially nonnegative (off-diagonal entries >= 0, and so is the
augmented matrix for inputs >= 0), so ``exp(M) = exp(-s) exp(M + s I)`` with ``M + s I >= 0``
and every term of its Taylor series and of the squarings is nonnegative: no cancellation, each
entry accurate to a small multiple of the unit round-off (Shao, Gao & Xue 2014, SIAM J Matrix
Anal Appl 35:317; Xue & Ye 2008, Numer Math 110:393). scipy's ``expm`` (Pade, normwise accurate
only; its 2 x 2 closed form is 1.5e-2 off for ``[[-ka, 0], [ka, -k]]`` at ``ka = nextafter(k)``)
serves matrices with a negative off-diagonal entry. On an equally spaced output grid the state
is advanced by
multiplying with ``expm(M h)`` (error below j x 1.1e-16 relative after j steps for the
decaying systems here) and re-anchored with an exact ``expm(M dt)`` every 1024 steps.
"""

from __future__ import annotations

import hashlib

import numpy as np
import numpy.typing as npt

from ketasim.errors import SolverError
from ketasim.solver.schedule import Schedule, get_output_interval

__all__ = ["compute_expm", "solve_expm", "steady_state_expm"]

FloatArray = npt.NDArray[np.float64]
_ANCHOR = 1024


def compute_expm(M: FloatArray) -> FloatArray:
    """Matrix exponentials of a batch ``M`` (..., k, k), entrywise accurate when ``M`` is Metzler.

    Maths: with ``s = max_i(-M_ii, 0)`` and ``B = M + s I >= 0``, scale ``B / 2^j`` to 1-norm
    <= 1/2, sum ``sum_{q <= 18 + k} (B / 2^j)^q / q!`` (truncation below 1e-18 relative for
    each entry that a path of length <= k reaches), multiply by ``exp(-s / 2^j)`` and square
    ``j`` times.

    Examples
    --------
    >>> import numpy as np
    >>> k = 0.1
    >>> E = compute_expm(12.0 * np.array([[-np.nextafter(k, 1), 0.0], [np.nextafter(k, 1), -k]]))
    >>> bool(abs(E[1, 0] / (1.2 * np.exp(-1.2)) - 1) < 1e-14)
    True
    """
    M = np.asarray(M, dtype=float)
    k = M.shape[-1]
    off = M - M * np.eye(k)
    if np.any(off < 0) or not np.all(np.isfinite(M)):
        import scipy.linalg

        return np.asarray(scipy.linalg.expm(M))
    s = np.maximum(-np.min(np.diagonal(M, axis1=-2, axis2=-1), axis=-1), 0.0)  # (...,)
    B = M + s[..., None, None] * np.eye(k)
    norm = np.max(np.sum(B, axis=-2), axis=-1)
    j = np.maximum(np.ceil(np.log2(np.maximum(norm, 1e-300) / 0.5)), 0).astype(np.int64)
    Bs = B / np.exp2(j)[..., None, None]
    E = np.broadcast_to(np.eye(k), B.shape).copy()
    term = E.copy()
    for q in range(1, 19 + k):
        term = term @ Bs / q
        E += term
    E *= np.exp(-s / np.exp2(j))[..., None, None]
    for step in range(int(j.max(initial=0))):
        sq = (j > step)[..., None, None]
        E = np.where(sq, E @ E, E)
    return np.asarray(E)


def _augment(K: FloatArray, R: FloatArray) -> FloatArray:
    """Augmented matrices (N, n+1, n+1) from K (N, n, n) and R (N, n)."""
    N, n, _ = K.shape
    M = np.zeros((N, n + 1, n + 1))
    M[:, :n, :n] = K
    M[:, :n, n] = R
    return M


class _ExpmCache:
    """expm(M_i dt) for a batch, remembered by (M, dt) within one solve.

    Periodic regimens repeat the same intervals (same infusion state, same length), so the same
    batch of exponentials is asked for many times; the key is a 160-bit digest of the exact bytes
    of ``M`` and ``dt`` (no rounding), so a hit returns exactly what a new computation would.
    """

    def __init__(self, max_items: int = 32) -> None:
        self.store: dict[tuple[bytes, bytes], FloatArray] = {}
        self.max_items = max_items

    def __call__(self, M: FloatArray, dt: FloatArray) -> FloatArray:
        d = np.asarray(dt, dtype=float)
        key = (
            hashlib.blake2b(np.ascontiguousarray(M).tobytes(), digest_size=20).digest(),
            hashlib.blake2b(d.tobytes(), digest_size=20).digest(),
        )
        hit = self.store.get(key)
        if hit is not None:
            return hit
        val = compute_expm(M * d[:, None, None])
        if len(self.store) >= self.max_items:
            self.store.pop(next(iter(self.store)))
        self.store[key] = val
        return val


def _expm(M: FloatArray, dt: FloatArray) -> FloatArray:
    """expm(M_i dt_i) for a batch (dt broadcast per subject), without caching."""
    return compute_expm(M * np.asarray(dt, dtype=float)[:, None, None])


def solve_expm(
    K: FloatArray,
    sched: Schedule,
    out_time: FloatArray,
    out_order: npt.NDArray[np.int64],
    W: FloatArray,
) -> FloatArray:
    """Weighted amounts ``W @ A`` at the output times, shape (N, T, m).

    Parameters
    ----------
    K : (N, P, n, n) rate matrices per subject and parameter epoch, 1/time
    sched : Schedule of the same N subjects
    out_time : (T,) or (N, T) output times
    out_order : (T,) tie-break order of the outputs
    W : (N, m, n) output weights
    """
    N, P, n, _ = K.shape
    E = sched.n_events
    rows = np.arange(N)
    expm_ = _ExpmCache()
    A = np.zeros((N, n))
    R = np.zeros((N, n))
    cur = np.zeros(N, dtype=np.intp)
    SA = np.empty((N, E, n))
    SR = np.empty((N, E, n))
    EP = np.empty((N, E), dtype=np.intp)
    for e in range(E):
        ep = sched.epoch[:, e]
        cur = np.where(ep >= 0, ep, cur)
        rs = sched.reset[:, e]
        A[rs] = 0.0
        R[rs] = 0.0
        for i in np.flatnonzero(sched.ss_mode[:, e] > 0):
            A[i] += steady_state_expm(K[i, cur[i]], sched, e, int(i))
        bc = sched.bolus_cmt[:, e]
        bi = np.flatnonzero(bc >= 0)
        A[bi, bc[bi]] += sched.bolus_amt[bi, e]
        rc = sched.rate_cmt[:, e]
        ri = np.flatnonzero(rc >= 0)
        if ri.size:
            R[ri, rc[ri]] += sched.rate_delta[ri, e]
            small = np.abs(R[ri, rc[ri]]) < 1e-12 * np.abs(sched.rate_delta[ri, e])
            R[ri[small], rc[ri[small]]] = 0.0
        SA[:, e], SR[:, e], EP[:, e] = A, R, cur
        if e + 1 < E:
            dt = sched.time[:, e + 1] - sched.time[:, e]
            dt = np.where(np.isfinite(dt), dt, 0.0)
            Ex = expm_(_augment(K[rows, cur], R), dt)
            A = np.einsum("nij,nj->ni", Ex[:, :n, :n], A) + Ex[:, :n, n]
    ot = np.broadcast_to(np.atleast_2d(out_time), (N, np.shape(out_time)[-1]))
    idx = get_output_interval(sched, out_time, out_order)
    T = ot.shape[1]
    out = np.zeros((N, T, W.shape[1]))
    shared = idx.shape[0] == 1 and np.ndim(out_time) == 1
    if shared:
        idx1 = idx[0]
        for k in np.unique(idx1[idx1 >= 0]):
            sel = np.flatnonzero(idx1 == k)
            dts = np.asarray(out_time)[sel] - sched.time[0, k]
            M = _augment(K[rows, EP[:, k]], SR[:, k])
            x0 = np.concatenate([SA[:, k], np.ones((N, 1))], axis=1)
            _grid_outputs(M, x0, dts, sel, W, out, expm_)
        return out
    idx_full = np.broadcast_to(idx, (N, T))
    for j in range(T):
        k = idx_full[:, j]
        ok = k >= 0
        if not np.any(ok):
            continue
        kk = np.maximum(k, 0)
        dt = np.where(ok, ot[:, j] - sched.time[rows, kk], 0.0)
        M = _augment(K[rows, EP[rows, kk]], SR[rows, kk])
        x0 = np.concatenate([SA[rows, kk], np.ones((N, 1))], axis=1)
        x = np.einsum("nij,nj->ni", _expm(M, dt), x0)[:, :n]
        out[:, j] = np.where(ok[:, None], np.einsum("nmi,ni->nm", W, x), 0.0)
    return out


def _grid_outputs(
    M: FloatArray,
    x0: FloatArray,
    dts: FloatArray,
    sel: npt.NDArray[np.intp],
    W: FloatArray,
    out: FloatArray,
    expm_: _ExpmCache,
) -> None:
    """Outputs at offsets ``dts`` from a shared interval start, for every subject."""
    N, n1, _ = M.shape
    n = n1 - 1
    gaps = np.diff(dts)
    # the most common spacing: points one such step after their predecessor are reached by one
    # multiplication; any other point (e.g. a dose time inserted in the grid) is computed exactly
    h = float(np.median(gaps)) if gaps.size else 0.0
    step = expm_(M, np.full(N, h)) if gaps.size and h > 0 else None
    x = x0
    since_anchor = 0
    for j, dt in enumerate(dts):
        regular = j > 0 and step is not None and abs(gaps[j - 1] - h) <= 1e-12 * max(abs(dt), h)
        if regular and step is not None and since_anchor < _ANCHOR:
            x = np.einsum("nij,nj->ni", step, x)
            since_anchor += 1
        else:
            x = np.einsum("nij,nj->ni", expm_(M, np.full(N, dt)), x0)
            since_anchor = 0
        out[:, sel[j]] = np.einsum("nmi,ni->nm", W, x[:, :n])


def steady_state_expm(K: FloatArray, sched: Schedule, e: int, i: int) -> FloatArray:
    """Steady state at the record time of subject ``i``'s SS event ``e``, by matrix functions.

    Same sums as the eigen path: bolus ``expm(K (II - L)) (I - expm(K II))^-1 b``; infusions sum
    the running ones directly and the rest geometrically; constant infusion ``-K^-1 R``.
    """
    n = K.shape[0]
    cmt = int(sched.ss_cmt[i, e])
    amt, rate = float(sched.ss_amt[i, e]), float(sched.ss_rate[i, e])
    dur, ii, lag = float(sched.ss_dur[i, e]), float(sched.ss_ii[i, e]), float(sched.ss_lag[i, e])
    unit = np.zeros(n)
    unit[cmt] = 1.0

    def advance(a: FloatArray, r: FloatArray, dt: float) -> FloatArray:
        Ex = compute_expm(_augment(K[None], r[None])[0] * dt)
        return np.asarray(Ex[:n, :n] @ a + Ex[:n, n])

    try:
        if ii == 0:
            return np.asarray(np.linalg.solve(-K, unit * rate))
        inv_geo = np.linalg.inv(np.eye(n) - compute_expm(K * ii))
        if dur == 0:
            return np.asarray(compute_expm(K * (ii - lag)) @ inv_geo @ (unit * amt))
        zero = np.zeros(n)
        k1 = int(np.floor((dur + lag) / ii))
        acc = np.zeros(n)
        for k in range(1, k1 + 1):
            acc += advance(zero, unit * rate, k * ii - lag)
        c_end = advance(zero, unit * rate, dur)
        tail = compute_expm(K * ((k1 + 1) * ii - lag - dur)) @ inv_geo @ c_end
        return np.asarray(acc + tail)
    except np.linalg.LinAlgError:
        raise SolverError("no steady state exists: the rate matrix is singular") from None
