"""Compiled inner loop of the exact solver's output stage (numba), with a numpy fallback.

Maths: within one inter-event interval, every weighted output of every subject is a sum of
exponentials, ``y_im(t) = b_im + sum_j a_imj exp(lam_ij dt_t)``. The kernel evaluates it fused
(one exp per subject, time and mode; no temporaries), in parallel over subjects. The numpy
fallback computes the same numbers with temporaries; both are exact to round-off.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = ["sum_of_exponentials"]

FloatArray = npt.NDArray[np.float64]

_KERNEL: list[object] = []
_NUMBA_MIN_WORK = 200_000  # subjects x outputs below which numpy is faster than loading numba


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
    def _kernel(lam, a, b, dt, sel, out, step):  # type: ignore[no-untyped-def]  # pragma: no cover
        # A point one `step` after its predecessor is reached by multiplying exp(lam dt) by
        # exp(lam step); any other point, and every 64th, gets an exact exp, so accumulated
        # round-off stays below 64 x 1.1e-16 relative.
        N, m, n = a.shape
        T = dt.shape[0]
        for i in numba.prange(N):
            e = np.empty(n)
            q = np.empty(n)
            for j in range(n):
                q[j] = np.exp(lam[i, j] * step)
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
                        e[j] *= q[j]
                    since += 1
                else:
                    for j in range(n):
                        e[j] = np.exp(lam[i, j] * dt[t])
                    since = 0
                col = sel[t]
                for mm in range(m):
                    acc = b[i, mm]
                    for j in range(n):
                        acc += a[i, mm, j] * e[j]
                    out[i, col, mm] = acc

    _KERNEL.append(_kernel)
    return _kernel


def sum_of_exponentials(
    lam: FloatArray,
    a: FloatArray,
    b: FloatArray,
    dt: FloatArray,
    sel: npt.NDArray[np.intp],
    out: FloatArray,
) -> None:
    """Write ``b + sum_j a[..., j] * exp(lam[:, j] * dt)`` into ``out[:, sel, :]``.

    Parameters
    ----------
    lam : (N, n) float, 1/time (real)
    a : (N, m, n) float
    b : (N, m) float
    dt : (T_k,) float, time since the interval start
    sel : (T_k,) int, output columns to fill
    out : (N, T, m) float, written in place
    """
    big = lam.shape[0] * dt.size >= _NUMBA_MIN_WORK
    real = lam.dtype == np.float64 and a.dtype == np.float64
    kernel = _get_kernel() if big and real else None
    if kernel is not None:
        step = float(np.median(np.diff(dt))) if dt.size > 2 else 0.0
        kernel(  # type: ignore[operator]
            np.ascontiguousarray(lam),
            np.ascontiguousarray(a),
            np.ascontiguousarray(b),
            np.ascontiguousarray(dt, dtype=np.float64),
            np.ascontiguousarray(sel, dtype=np.int64),
            out,
            step,
        )
        return
    E = np.exp(lam[:, :, None] * dt[None, None, :])  # (N, n, T_k)
    out[:, sel, :] = np.swapaxes(np.matmul(a, E), 1, 2).real + b[:, None, :].real
