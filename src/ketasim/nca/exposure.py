"""Non-compartmental exposure metrics on observed or simulated profiles.

Owns Cmax, Tmax, AUC over a window (linear-up / log-down trapezoids) and the terminal half-life
by log-linear regression; every NaN it returns carries a reason (:class:`Metric`). It does not
simulate (callers pass profiles). Arrays may hold many subjects: the last axis is time.

References
----------
Gabrielsson J, Weiner D. Pharmacokinetic and Pharmacodynamic Data Analysis, 5th ed. (2016),
ch. 2: linear-up/log-down trapezoidal rule.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from ketasim.errors import ParameterError

__all__ = ["Metric", "compute_auc", "compute_cmax", "compute_terminal_half_life"]

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Metric:
    """A value (array over subjects) with the reason for any NaN in it."""

    value: FloatArray
    reason: str = ""


def _check(time: FloatArray, conc: FloatArray) -> tuple[FloatArray, FloatArray]:
    t = np.asarray(time, dtype=float)
    c = np.asarray(conc, dtype=float)
    if t.ndim != 1 or c.shape[-1] != t.size:
        raise ParameterError(
            f"time has {t.size} points but conc has {c.shape[-1]} on its last axis"
        )
    if t.size and np.any(np.diff(t) < 0):
        raise ParameterError("time must be sorted ascending")
    return t, c


def compute_cmax(time: FloatArray, conc: FloatArray) -> tuple[Metric, Metric]:
    """Peak concentration and its time (first occurrence), per subject.

    Parameters
    ----------
    time : (T,) array, h
    conc : (..., T) array, any concentration unit

    Returns
    -------
    (Metric, Metric)
        Cmax in the unit of ``conc``; Tmax in h.
    """
    t, c = _check(time, conc)
    if t.size == 0:
        nan = np.full(c.shape[:-1], np.nan)
        return Metric(nan, "no samples"), Metric(nan, "no samples")
    i = np.nanargmax(np.where(np.isnan(c), -np.inf, c), axis=-1)
    cmax = np.take_along_axis(c, i[..., None], axis=-1)[..., 0]
    return Metric(cmax), Metric(t[i])


def compute_auc(
    time: FloatArray, conc: FloatArray, window: tuple[float, float] | None = None
) -> Metric:
    """AUC over ``window`` (h) by linear-up / log-down trapezoids, per subject.

    The window ends must lie on the grid's span; the profile is interpolated linearly at the
    window ends when they fall between samples.

    Returns
    -------
    Metric
        AUC in (unit of conc) x h.
    """
    t, c = _check(time, conc)
    if window is not None:
        a, b = window
        if not (t[0] <= a < b <= t[-1]):
            return Metric(
                np.full(c.shape[:-1], np.nan),
                f"window [{a}, {b}] h is not inside the sampled span [{t[0]}, {t[-1]}] h",
            )
        inner = (t > a) & (t < b)
        ca = _interp_last(t, c, a)
        cb = _interp_last(t, c, b)
        t = np.concatenate([[a], t[inner], [b]])
        c = np.concatenate([ca[..., None], c[..., inner], cb[..., None]], axis=-1)
    if t.size < 2:
        return Metric(np.full(c.shape[:-1], np.nan), "fewer than 2 samples")
    dt = np.diff(t)
    c0, c1 = c[..., :-1], c[..., 1:]
    lin = 0.5 * (c0 + c1) * dt
    with np.errstate(divide="ignore", invalid="ignore"):
        logd = (c0 - c1) * dt / np.log(c0 / c1)
    use_log = (c1 < c0) & (c1 > 0) & (c0 > 0)
    seg = np.where(use_log, logd, lin)
    return Metric(np.sum(seg, axis=-1))


def _interp_last(t: FloatArray, c: FloatArray, x: float) -> FloatArray:
    j = int(np.clip(np.searchsorted(t, x, side="right") - 1, 0, t.size - 2))
    w = (x - t[j]) / (t[j + 1] - t[j])
    return np.asarray((1 - w) * c[..., j] + w * c[..., j + 1])


def compute_terminal_half_life(time: FloatArray, conc: FloatArray, n_points: int = 3) -> Metric:
    """Terminal half-life (h) from a log-linear fit of the last ``n_points`` positive samples."""
    t, c = _check(time, conc)
    if t.size < n_points or n_points < 2:
        return Metric(np.full(c.shape[:-1], np.nan), f"fewer than {n_points} samples")
    tt = t[-n_points:]
    cc = c[..., -n_points:]
    if np.any(cc <= 0):
        return Metric(
            np.full(c.shape[:-1], np.nan), "non-positive concentration in the terminal phase"
        )
    y = np.log(cc)
    tm = tt - tt.mean()
    slope = np.sum(tm * (y - y.mean(axis=-1, keepdims=True)), axis=-1) / np.sum(tm * tm)
    with np.errstate(divide="ignore"):
        hl = np.where(slope < 0, np.log(2) / -slope, np.nan)
    reason = "concentrations not declining in the terminal phase" if np.any(np.isnan(hl)) else ""
    return Metric(hl, reason)
