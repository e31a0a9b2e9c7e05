"""Mergeable percentiles of many curves: fixed-bin histograms per time point with an error bound.

Owns the binning of concentrations and the percentile estimate from the merged counts; it does
not simulate. Per series (analyte x time point) values are counted in fixed bins of
``y = asinh(c / s)`` (``s`` = 1e-4 mg/L) of width ``d = log1p(rel_error)`` over -10 to 1000 mg/L,
plus an underflow and an overflow bin; the exact minimum and maximum are kept beside the counts.
Integer counts add exactly, so the result never depends on how the subjects were split.

Maths: for the percentile rank ``h = (n - 1) q / 100`` (numpy's "linear" definition), the order
statistics ``j = floor(h)`` and ``j + 1`` are located in their bins and placed inside them by
interpolation in ``y``; each estimate lies in the same bin as the true order statistic, so
``|c_hat - c| <= s (sinh(y + d) - sinh(y)) <= (e^d - 1)(|c| + s) = rel_error (|c| + s)``, and the
linear interpolation between them keeps that bound. In the under/overflow bins the estimate is
interpolated between the range edge and the exact extreme (no bound beyond the range).
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

__all__ = [
    "HIST_RANGE_MG_PER_L",
    "HIST_SCALE_MG_PER_L",
    "compute_bin_counts",
    "compute_histogram_percentiles",
    "get_histogram_grid",
]

FloatArray = npt.NDArray[np.float64]
HIST_SCALE_MG_PER_L = 1e-4
HIST_RANGE_MG_PER_L = (-10.0, 1000.0)


def get_histogram_grid(rel_error: float) -> tuple[float, float, int]:
    """(y of the lowest edge, bin width d, number of regular bins) for ``rel_error``."""
    s = HIST_SCALE_MG_PER_L
    y0 = float(np.arcsinh(HIST_RANGE_MG_PER_L[0] / s))
    d = math.log1p(rel_error)
    return y0, d, math.ceil((float(np.arcsinh(HIST_RANGE_MG_PER_L[1] / s)) - y0) / d)


def compute_bin_counts(conc: FloatArray, rel_error: float) -> npt.NDArray[np.int64]:
    """Counts per series and bin, flat ``(A * T * (nb + 2),)``, of ``conc`` (A, subjects, T), mg/L.

    Bin 0 is the underflow, ``nb + 1`` the overflow.
    """
    A, _, T = conc.shape
    y0, d, nb = get_histogram_grid(rel_error)
    k = np.floor((np.arcsinh(conc / HIST_SCALE_MG_PER_L) - y0) / d)
    k = np.clip(k, -1, nb).astype(np.int64) + 1
    series = np.arange(A * T).reshape(A, 1, T)
    return np.bincount((series * (nb + 2) + k).ravel(), minlength=A * T * (nb + 2))


def compute_histogram_percentiles(
    counts: npt.NDArray[np.int64],
    lo: FloatArray,
    hi: FloatArray,
    n: int,
    q: tuple[float, ...],
    rel_error: float,
) -> FloatArray:
    """Percentiles (P, A, T), mg/L, from merged counts and the exact extremes (A, T), mg/L."""
    y0, d, nb = get_histogram_grid(rel_error)
    A, T = lo.shape
    cnt = counts.reshape(A, T, nb + 2)
    cum = np.cumsum(cnt, axis=-1)
    s = HIST_SCALE_MG_PER_L
    e_lo, e_hi = HIST_RANGE_MG_PER_L[0], float(s * np.sinh(y0 + nb * d))

    def order_stat(j: int) -> FloatArray:
        b = np.argmax(cum > j, axis=-1)  # bin holding the j-th smallest value (0-based)
        before = (
            np.take_along_axis(cum, b[..., None], -1)[..., 0]
            - np.take_along_axis(cnt, b[..., None], -1)[..., 0]
        )
        c = np.take_along_axis(cnt, b[..., None], -1)[..., 0]
        u = (j - before + 0.5) / c
        mid = s * np.sinh(y0 + (b - 1 + u) * d)
        under = lo + u * (np.minimum(e_lo, hi) - lo)
        over = e_hi + u * (hi - e_hi)
        v = np.where(b == 0, under, np.where(b == nb + 1, over, mid))
        return np.asarray(np.clip(v, lo, hi))

    out = np.empty((len(q), A, T))
    for i, x in enumerate(q):
        h = (n - 1) * x / 100.0
        j = math.floor(h)
        lo_v = order_stat(j)
        out[i] = lo_v if j + 1 >= n or h == j else lo_v + (h - j) * (order_stat(j + 1) - lo_v)
    return out
