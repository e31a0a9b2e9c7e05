"""Compiled inner loop of the exact solver's output stage (numba), with a numpy fallback.

Maths: within one inter-event interval, every weighted output of every subject is a sum of
exponential polynomials, ``y_im(t) = b_im + sum_j exp(mu_ij dt) sum_q a_imjq dt^q / q!``
(:mod:`ketasim.solver.eigen`; one term ``q = 0`` per mode unless eigenvalues repeat). The
kernel evaluates it fused (one exp per subject, time and mode; no temporaries), in parallel over
subjects, with each subject's own number of polynomial terms. The numpy fallback computes the
same numbers with temporaries (and serves complex modes); both are exact to round-off.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["sum_of_exponential_polynomials", "sum_of_exponentials", "sum_of_terms"]

FloatArray = npt.NDArray[np.float64]

_KERNEL: list[object] = []
_NUMBA_MIN_WORK = 200_000  # subjects x outputs from which the loaded kernel beats numpy
# NOTE: importing numba and loading the cached kernel costs 1-2 s per process, more than numpy
# needs for 10 million subject-outputs; below this the kernel is used only if already loaded
_NUMBA_LOAD_WORK = 20_000_000
_ANCHOR = 64
_ANCHOR_BLOCK = 32  # points per block of the numpy path on regular grids (A + B exponentials)
_ANCHOR_MIN_POINTS = 8


def _get_kernel() -> object | None:
    """Compile (or load from cache) the numba kernel on first use; None without numba."""
    if _KERNEL:
        return _KERNEL[0]
    try:
        import numba
    except ImportError:  # pragma: no cover - numba is a declared dependency
        _KERNEL.append(None)
        return None

    @numba.njit(parallel=True, cache=True, nogil=True)  # type: ignore[misc]
    def _kernel(mu, a, tj, tq, cnt, b, dt, sel, out, step, Q):  # type: ignore[no-untyped-def]  # pragma: no cover
        inv = np.empty(Q)
        for k in range(1, Q):
            inv[k] = 1.0 / k
        # A point one `step` after its predecessor is reached by multiplying exp(mu dt) by
        # exp(mu step); any other point, and every 64th, gets an exact exp, so accumulated
        # round-off stays below 64 x 1.1e-16 relative. Output mm of subject i sums its cnt[i, mm]
        # active terms a[i, mm, l] exp(mu_j dt) dt^q / q! with j = tj[mm, l], q = tq[mm, l]
        # (sorted by q, so a subject needing fewer polynomial terms stops earlier).
        N, m, L = a.shape
        n = mu.shape[1]
        T = dt.shape[0]
        for i in numba.prange(N):
            e = np.empty(n)
            g = np.empty(n)
            tp = np.empty(Q)
            for j in range(n):
                g[j] = np.exp(mu[i, j] * step)
            since = 64
            for t in range(T):
                regular = (
                    t > 0
                    and step > 0.0
                    and since < 64
                    and abs(dt[t] - dt[t - 1] - step) <= 1e-12 * max(abs(dt[t]), step)
                )
                if regular:
                    for j in range(n):
                        e[j] *= g[j]
                    since += 1
                else:
                    for j in range(n):
                        e[j] = np.exp(mu[i, j] * dt[t])
                    since = 0
                tp[0] = 1.0
                for k in range(1, Q):
                    tp[k] = tp[k - 1] * dt[t] * inv[k]
                col = sel[t]
                for mm in range(m):
                    acc = b[i, mm]
                    for el in range(cnt[i, mm]):
                        acc += a[i, mm, el] * e[tj[mm, el]] * tp[tq[mm, el]]
                    out[i, col, mm] = acc

    _KERNEL.append(_kernel)
    return _kernel


def _worth_kernel(work: int) -> bool:
    if work < _NUMBA_MIN_WORK:
        return False
    return bool(_KERNEL) or work >= max(_NUMBA_LOAD_WORK, _NUMBA_MIN_WORK)


def sum_of_exponential_polynomials(
    mu: npt.NDArray[Any],
    a: npt.NDArray[Any],
    b: npt.NDArray[Any],
    dt: FloatArray,
    sel: npt.NDArray[np.intp],
    out: FloatArray,
    nterms: npt.NDArray[np.int64] | None = None,
    total_work: int | None = None,
    t0: float = 0.0,
) -> None:
    """Write ``b + sum_j exp(mu_j dt) sum_q a[..., j, q] dt^q / q!`` into ``out[:, sel, :]``.

    Parameters
    ----------
    mu : (N, n) float or complex, 1/time
    a : (N, m, n, Q) float or complex
    b : (N, m) float or complex
    dt : (T_k,) float, time since the interval start
    sel : (T_k,) int, output columns to fill
    out : (N, T, m) float, written in place (real part)
    nterms : (N,) int, optional
        Polynomial terms used per subject (default Q); terms beyond must be zero or are ignored.
    total_work : int, optional
        Subjects x outputs of the whole solve this call is part of (default this call's): the
        compiled kernel is loaded when that is large, and then used for every interval.
    t0 : float, time
        Start of the interval (``dt`` is measured from it): sets the round-off of ``dt``.
    """
    N, m, n, Q = a.shape
    nq = np.full(N, Q, dtype=np.int64) if nterms is None else np.minimum(nterms, Q)
    real = mu.dtype == np.float64 and a.dtype == np.float64 and b.dtype == np.float64
    work = N * dt.size if total_work is None else total_work
    kernel = _get_kernel() if real and _worth_kernel(work) else None
    if kernel is not None:
        # NOTE: terms that are zero for every subject (modes an output does not see, modes no
        # dose excites, polynomial degrees no subject needs) are dropped before the loop
        q_live = np.arange(Q)[None, :] < nq[:, None]  # (N, Q)
        live = np.any((a != 0) & q_live[:, None, None, :], axis=0)  # (m, n, Q)
        L = max(1, int(live.reshape(m, -1).sum(axis=1).max(initial=0)))
        tj = np.zeros((m, L), dtype=np.int64)
        tq = np.zeros((m, L), dtype=np.int64)
        ac = np.zeros((N, m, L))
        cnt = np.zeros((N, m), dtype=np.int64)
        for mm in range(m):
            qq, jj = np.nonzero(live[mm].T)  # sorted by polynomial degree q
            tj[mm, : jj.size], tq[mm, : jj.size] = jj, qq
            ac[:, mm, : jj.size] = a[:, mm, jj, qq]
            cnt[:, mm] = np.searchsorted(qq, nq, side="left")
        step = float(np.median(np.diff(dt))) if dt.size > 2 else 0.0
        kernel(  # type: ignore[operator]
            np.ascontiguousarray(mu),
            ac,
            tj,
            tq,
            cnt,
            np.ascontiguousarray(b),
            np.ascontiguousarray(dt, dtype=np.float64),
            np.ascontiguousarray(sel, dtype=np.int64),
            out,
            step,
            int(tq.max(initial=0)) + 1,
        )
        return
    Qmax = int(np.max(nq)) if N else 1
    T_k = dt.size
    contiguous = T_k > 0 and int(sel[-1]) - int(sel[0]) + 1 == T_k and np.all(np.diff(sel) == 1)
    if real and contiguous and T_k >= _ANCHOR_MIN_POINTS:
        view = out[:, int(sel[0]) : int(sel[0]) + T_k, :]
        # NOTE: subjects are grouped by their own number of polynomial terms, so the length
        # of every product (hence its order of summation) depends on the subject alone:
        # chunked runs are bit-identical to single ones
        # NOTE: a first pass gives every subject its one-term value in place (subjects with
        # more terms are then recomputed by themselves and overwritten)
        groups = [(np.arange(N), 1)] + [
            (np.flatnonzero(nq == q), int(q)) for q in np.unique(nq) if q > 1
        ]
        for rows, q in groups:
            whole = rows.size == N
            dst = view if whole else np.empty((rows.size, T_k, m))
            aa = (a if whole else a[rows])[..., :q]
            mu_r, b_r = (mu, b) if whole else (mu[rows], b[rows])
            irregular = _anchored(mu_r, aa, b_r, dt, t0, dst)
            if irregular.size:  # points off the regular grid: exponentials of their own
                di = dt[irregular]
                Ex = np.exp(mu_r[:, :, None] * di[None, None, :])
                acc = np.matmul(aa[..., 0], Ex)
                fact = np.ones_like(di)
                for k in range(1, q):
                    fact = fact * di / k
                    acc += np.matmul(aa[..., k], Ex * fact)
                dst[:, irregular, :] = np.swapaxes(acc, 1, 2) + b_r[:, None, :]
            if not whole:
                view[rows] = dst
        return
    Ex = np.exp(mu[:, :, None] * dt[None, None, :])  # (N, n, T_k)
    acc = np.matmul(a[..., 0], Ex)  # (N, m, T_k)
    fact = np.ones_like(dt)
    for k in range(1, Qmax):
        fact = fact * dt / k
        # NOTE: only the subjects that need a k-th term pay for it
        rows = np.flatnonzero(nq > k)
        if rows.size == N:
            acc = acc + np.matmul(a[..., k], Ex * fact)
        else:
            acc[rows] += np.matmul(a[rows, ..., k], Ex[rows] * fact)
    out[:, sel, :] = np.swapaxes(acc, 1, 2).real + b[:, None, :].real


def _anchored(
    mu: FloatArray, a: FloatArray, b: FloatArray, dt: FloatArray, t0: float, out: FloatArray
) -> npt.NDArray[np.intp]:
    """``out[:, t, :] = b + sum_jq a[..., j, q] exp(mu_j dt_t) dt_t^q / q!`` on a regular grid.

    Maths: the grid is cut into A blocks of B points; with ``dt = d + s`` (``d`` the block's
    first point, ``s = i h`` its offset), ``exp(mu dt) = exp(mu d) exp(mu s)`` and, by Taylor,
    ``P(d + s) = sum_r P^(r)(d) s^r / r!`` for each mode's polynomial
    ``P(t) = sum_q a_q t^q / q!`` (``P^(r)(d) = sum_{q >= r} a_q d^(q-r) / (q-r)!``, by
    Horner). So the block is one small matrix product ``G H_d`` with
    ``G_i,(j,r) = exp(mu_j i h) (i h)^r / r!`` (B x nQ, shared by the blocks) and
    ``H_(j,r) = exp(mu_j d) P_j^(r)(d)`` (nQ x m): A + B exponentials per mode instead of
    A B, and no (subjects x modes x times) temporary. ``G`` is built the same way (a product
    of two exact exponentials per entry). A point is used only where it lies on the regular
    grid to ``4 eps (|t0| + |dt|)``, the round-off of ``dt`` itself (so the exponent is as
    exact as the direct one); the indices of the other points are returned for the caller to
    evaluate directly.
    """
    N, m, n, Q = a.shape
    T_k = dt.size
    if n == 0:  # no mode: the constant part only
        out[...] = b[:, None, :]
        return np.zeros(0, dtype=np.intp)
    A = -(-T_k // _ANCHOR_BLOCK)
    B = -(-T_k // A)
    h = (dt[-1] - dt[0]) / (T_k - 1)
    first = np.arange(A) * B
    idx = np.arange(T_k)
    nominal = dt[first[idx // B]] + (idx % B) * h
    tol = 4 * np.finfo(float).eps * (abs(t0) + np.abs(dt))
    irregular = np.flatnonzero(np.abs(dt - nominal) > tol)
    # G: exp(mu (c s + r) h) = exp(mu c s h) exp(mu r h), two exact factors per entry
    sq = max(1, math.isqrt(B))
    fine = np.exp(mu[:, None, :] * (h * np.arange(sq))[None, :, None])  # (N, sq, n)
    coarse = np.exp(mu[:, None, :] * (h * sq * np.arange(-(-B // sq)))[None, :, None])
    ex = (coarse[:, :, None, :] * fine[:, None, :, :]).reshape(N, -1, n)[:, :B]
    K = n * Q
    G = np.empty((N, B, K + 1))
    if Q == 1:
        G[:, :, :K] = ex
    else:
        off = h * np.arange(B)
        pw = np.empty((B, Q))
        pw[:, 0] = 1.0
        for r in range(1, Q):
            pw[:, r] = pw[:, r - 1] * off / r
        G[:, :, :K] = (ex[:, :, :, None] * pw[None, :, None, :]).reshape(N, B, K)
    G[:, :, K] = 1.0
    d = dt[first]
    E = np.exp(mu[:, None, :] * d[None, :, None])  # (N, A, n)
    H = np.empty((N, A, K + 1, m))
    if Q == 1:
        H[:, :, :K, :] = E[..., None] * np.swapaxes(a[..., 0], 1, 2)[:, None]
    else:
        D = np.empty((N, A, m, n, Q))
        dd = d[None, :, None, None]
        for r in range(Q):
            acc = np.broadcast_to(a[:, None, :, :, Q - 1], (N, A, m, n))
            for q in range(Q - 2, r - 1, -1):
                acc = a[:, None, :, :, q] + acc * (dd / (q - r + 1))
            D[..., r] = acc
        H[:, :, :K, :] = (E[:, :, None, :, None] * D).transpose(0, 1, 3, 4, 2).reshape(N, A, K, m)
    H[:, :, K, :] = b[:, None, :]
    full = T_k // B
    if full:
        np.matmul(G[:, None], H[:, :full], out=out[:, : full * B, :].reshape(N, full, B, m))
    rem = T_k - full * B
    if rem:
        out[:, full * B :, :] = np.matmul(G[:, :rem], H[:, full])
    return irregular


def sum_of_terms(
    mu: npt.NDArray[Any],
    VW: npt.NDArray[Any],
    v: npt.NDArray[Any],
    b: npt.NDArray[Any],
    dt: FloatArray,
    sel: npt.NDArray[np.intp],
    out: FloatArray,
    nterms: npt.NDArray[np.int64],
    total_work: int,
    t0: float = 0.0,
) -> None:
    """As :func:`sum_of_exponential_polynomials` with ``a[i, m, j, q] = VW[i, m, j] v[i, q, j]``.

    The terms are formed only where some subject has them (an output sees a mode, a dose
    excites it, some subject needs that polynomial degree), without the full ``a`` array.

    Parameters
    ----------
    mu : (N, n); VW : (N, m, n) output weights in the modal basis; v : (N, Q, n) series
    vectors; b : (N, m); nterms : (N,); total_work : subjects x outputs of the whole solve.
    """
    N, m, n = VW.shape
    Q = v.shape[1]
    nq = np.minimum(nterms, Q)
    real = mu.dtype == np.float64 and VW.dtype == np.float64 and v.dtype == np.float64
    kernel = _get_kernel() if real and _worth_kernel(total_work) else None
    if kernel is None:
        a = VW[:, :, :, None] * np.swapaxes(v, 1, 2)[:, None, :, :]
        sum_of_exponential_polynomials(mu, a, b, dt, sel, out, nq, total_work, t0)
        return
    seen = np.any(VW != 0, axis=0)  # (m, n)
    q_ok = np.arange(Q)[None, :] < nq[:, None]
    excited = np.any((v != 0) & q_ok[:, :, None], axis=0)  # (Q, n)
    live = seen[:, None, :] & excited[None, :, :]  # (m, Q, n)
    L = max(1, int(live.reshape(m, -1).sum(axis=1).max(initial=0)))
    tj = np.zeros((m, L), dtype=np.int64)
    tq = np.zeros((m, L), dtype=np.int64)
    ac = np.zeros((N, m, L))
    cnt = np.zeros((N, m), dtype=np.int64)
    for mm in range(m):
        qq, jj = np.nonzero(live[mm])  # sorted by polynomial degree q
        tj[mm, : jj.size], tq[mm, : jj.size] = jj, qq
        ac[:, mm, : jj.size] = VW[:, mm, jj] * v[:, qq, jj]
        cnt[:, mm] = np.searchsorted(qq, nq, side="left")
    step = float(np.median(np.diff(dt))) if dt.size > 2 else 0.0
    kernel(  # type: ignore[operator]
        np.ascontiguousarray(mu),
        ac,
        tj,
        tq,
        cnt,
        np.ascontiguousarray(b),
        np.ascontiguousarray(dt, dtype=np.float64),
        np.ascontiguousarray(sel, dtype=np.int64),
        out,
        step,
        int(tq.max(initial=0)) + 1,
    )


def sum_of_exponentials(
    lam: FloatArray,
    a: FloatArray,
    b: FloatArray,
    dt: FloatArray,
    sel: npt.NDArray[np.intp],
    out: FloatArray,
) -> None:
    """Write ``b + sum_j a[..., j] * exp(lam[:, j] * dt)`` into ``out[:, sel, :]``.

    The one-term case of :func:`sum_of_exponential_polynomials`; ``lam`` (N, n), ``a`` (N, m, n),
    ``b`` (N, m).
    """
    sum_of_exponential_polynomials(lam, a[..., None], b, dt, sel, out)
