"""Target attainment: how many subjects reach a concentration goal.

Owns the per-subject test of a goal (cumulative time above a threshold, never above a ceiling) on
simulated curves; it does not simulate.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from ketasim.errors import ParameterError

__all__ = ["Attainment", "Target", "compute_target_attainment"]

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


# --- target attainment --------------------------------------------------------------------------
@dataclass(frozen=True)
class Target:
    """A goal for one analyte: cumulative time above ``above_mg_per_L`` >= ``min_duration_h``
    and/or never above ``below_mg_per_L``, over grid points inside ``window_h`` (all if None)."""

    name: str
    analyte: str
    above_mg_per_L: float | None = None  # noqa: N815 - unit suffix per STYLE.md §3
    min_duration_h: float = 0.0
    below_mg_per_L: float | None = None  # noqa: N815 - unit suffix per STYLE.md §3
    window_h: tuple[float, float] | None = None

    def __post_init__(self) -> None:
        if self.above_mg_per_L is None and self.below_mg_per_L is None:
            raise ParameterError(f"target {self.name}: give above_mg_per_L and/or below_mg_per_L")
        if not self.min_duration_h >= 0:
            raise ParameterError(
                f"target {self.name}: min_duration_h {self.min_duration_h} h must be >= 0"
            )


@dataclass(frozen=True)
class Attainment:
    """Per-subject result of a :class:`Target`: ``attained`` (bool) and time above (h)."""

    attained: BoolArray
    time_above_h: FloatArray

    @property
    def probability(self) -> float:
        """Fraction of subjects attaining the target (dimensionless)."""
        return float(np.mean(self.attained)) if self.attained.size else math.nan


def compute_target_attainment(time_h: FloatArray, conc: FloatArray, target: Target) -> Attainment:
    """Whether each subject meets ``target``.

    Time above a threshold ``c*`` is summed over grid segments, with linear interpolation of
    the crossing inside a segment: a segment from ``(t0, c0)`` to ``(t1, c1)`` contributes
    ``t1 - t0`` when both ends are >= ``c*``, 0 when both are below, else the part on the
    threshold's side, ``(t1 - t0) |c_end - c*| / |c1 - c0|`` of the end above.

    Parameters
    ----------
    time_h : (T,) array, h, ascending
    conc : (subjects, T) array, mg/L
    target : Target

    Returns
    -------
    Attainment
    """
    t = np.asarray(time_h, dtype=float)
    c = np.atleast_2d(np.asarray(conc, dtype=float))
    if t.ndim != 1 or c.shape[-1] != t.size or np.any(np.diff(t) < 0):
        raise ParameterError(
            f"time ({t.size} points, ascending) must match conc's last axis {c.shape}"
        )
    if target.window_h is not None:
        keep = (t >= target.window_h[0]) & (t <= target.window_h[1])
        t, c = t[keep], c[:, keep]
    ok = np.ones(c.shape[0], dtype=bool)
    above = np.zeros(c.shape[0])
    if target.above_mg_per_L is not None and t.size:
        thr = target.above_mg_per_L
        c0, c1, dt = c[:, :-1], c[:, 1:], np.diff(t)
        with np.errstate(divide="ignore", invalid="ignore"):
            frac = np.where(c1 >= thr, c1 - thr, c0 - thr) / np.abs(c1 - c0)
        part = np.where(
            (c0 >= thr) & (c1 >= thr), 1.0, np.where((c0 < thr) & (c1 < thr), 0.0, frac)
        )
        above = np.sum(part * dt, axis=-1)
        ok &= above >= target.min_duration_h
    if target.below_mg_per_L is not None and t.size:
        ok &= np.max(c, axis=-1) <= target.below_mg_per_L
    return Attainment(attained=ok, time_above_h=above)
