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
        # NOTE: modes no subject's output sees or no dose excites are dropped first
        live = np.any(a[..., :Qmax] != 0, axis=(0, 1))  # (n, Qmax)
        c0 = np.flatnonzero(live[:, 0])
        view = out[:, int(sel[0]) : int(sel[0]) + T_k, :]
        a0, mu0 = a[:, :, c0, 0], mu[:, c0]
        irregular = _anchored(mu0, a0, b, dt, t0, view)
        if irregular.size:  # points off the regular grid: exponentials of their own
            Ex = np.exp(mu0[:, :, None] * dt[None, None, irregular])
            view[:, irregular, :] = np.swapaxes(np.matmul(a0, Ex), 1, 2) + b[:, None, :]
        cq = np.flatnonzero(np.any(live[:, 1:], axis=1))
        rq = np.flatnonzero((nq > 1) & np.any(a[:, :, :, 1:Qmax] != 0, axis=(1, 2, 3)))
        if cq.size and rq.size:  # polynomial terms (clusters of equal or close rates)
            Ex = np.exp(mu[rq][:, cq, None] * dt[None, None, :])
            fact = np.ones_like(dt)
            acc = np.zeros((rq.size, m, T_k))
            aq = a[rq][:, :, cq, :]
            for k in range(1, int(np.max(np.flatnonzero(live[cq].any(axis=0)))) + 1):
                fact = fact * dt / k
                use = nq[rq] > k
                acc[use] += np.matmul(aq[use, :, :, k], Ex[use] * fact)
            view[rq] += np.swapaxes(acc, 1, 2)
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
    """``out[:, t, :] = b + sum_j a[..., j] exp(mu_j dt_t)`` on a regular grid, by anchors.

    Maths: the grid is cut into A blocks of B points; with ``dt = d_a + i h`` (``d_a`` the
    block's first point, ``h`` the step), ``exp(mu dt) = exp(mu d_a) exp(mu i h)``, so the block
    is one small matrix product ``G H_a`` with ``G_ij = exp(mu_j i h)`` (B x n, shared by the
    blocks) and ``H_a = exp(mu d_a) o a^T`` (n x m): A + B exponentials per mode instead of
    A B, and no (subjects x modes x times) temporary. A point is used only where it lies on
    the regular grid to ``4 eps (|t0| + |dt|)``, the round-off of ``dt`` itself (so the
    exponent is as exact as the direct one); the indices of the other points are returned for
    the caller to evaluate directly. ``G`` itself is built the same way (one product of two
    exact exponentials per entry), so every value carries at most three roundings more than
    the direct sum.
    """
    N, m, n = a.shape
    T_k = dt.size
    if n == 0:  # no mode seen or excited: the constant part only
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
    G = np.empty((N, B, n + 1))
    # the same split once more: exp(mu (c s + r) h) = exp(mu c s h) exp(mu r h), exact factors
    s = max(1, math.isqrt(B))
    fine = np.exp(mu[:, None, :] * (h * np.arange(s))[None, :, None])  # (N, s, n)
    coarse = np.exp(mu[:, None, :] * (h * s * np.arange(-(-B // s)))[None, :, None])
    prod = coarse[:, :, None, :] * fine[:, None, :, :]  # (N, B/s, s, n)
    G[:, :, :n] = prod.reshape(N, -1, n)[:, :B]
    G[:, :, n] = 1.0
    H = np.empty((N, A, n + 1, m))
    H[:, :, :n, :] = (
        np.exp(mu[:, None, :] * dt[first][None, :, None])[..., None] * np.swapaxes(a, 1, 2)[:, None]
    )
    H[:, :, n, :] = b[:, None, :]
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
