"""Target attainment: how many subjects reach a concentration goal.

Owns the per-subject test of a goal: a threshold reached at any time (``min_duration_h = 0``),
a cumulative time at or above a threshold, never above a ceiling. Exactly, from an
:class:`~ketasim.exposure.ExposureSummary` (:func:`compute_target_attainment_exact`: the exact
Cmax and crossings of the solution), or approximately on sampled curves
(:func:`compute_target_attainment`: only as good as the grid). It does not simulate.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from ketasim.errors import ParameterError

if TYPE_CHECKING:  # pragma: no cover - typing only
    from ketasim.exposure import ExposureSummary

__all__ = [
    "Attainment",
    "Target",
    "compute_target_attainment",
    "compute_target_attainment_exact",
    "get_target_thresholds",
]

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


# --- target attainment --------------------------------------------------------------------------
@dataclass(frozen=True)
class Target:
    """A goal for one analyte, inside ``window_h`` (h; the whole run if None).

    ``above_mg_per_L`` with ``min_duration_h = 0``: the concentration reaches the threshold at
    some time (``Cmax >= threshold``); with ``min_duration_h > 0``: the cumulative time at or
    above it is at least that long. ``below_mg_per_L``: the concentration never exceeds it.
    Concentrations must be finite and >= 0.
    """

    name: str
    analyte: str
    above_mg_per_L: float | None = None  # noqa: N815 - unit suffix per STYLE.md §3
    min_duration_h: float = 0.0
    below_mg_per_L: float | None = None  # noqa: N815 - unit suffix per STYLE.md §3
    window_h: tuple[float, float] | None = None

    def __post_init__(self) -> None:
        if self.above_mg_per_L is None and self.below_mg_per_L is None:
            raise ParameterError(f"target {self.name}: give above_mg_per_L and/or below_mg_per_L")
        if not (math.isfinite(self.min_duration_h) and self.min_duration_h >= 0):
            raise ParameterError(
                f"target {self.name}: min_duration_h {self.min_duration_h} h must be a finite "
                "number >= 0"
            )
        for what, v in (("above", self.above_mg_per_L), ("below", self.below_mg_per_L)):
            if v is not None and not (math.isfinite(v) and v >= 0):
                raise ParameterError(
                    f"target {self.name}: {what} {v} mg/L must be a finite concentration >= 0"
                )
        if self.window_h is not None and not (
            all(math.isfinite(x) for x in self.window_h) and self.window_h[0] <= self.window_h[1]
        ):
            raise ParameterError(
                f"target {self.name}: window {self.window_h} h must be (start, end)"
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
    """Whether each subject meets ``target``, on sampled curves (only as exact as the grid).

    Prefer :func:`compute_target_attainment_exact`. A threshold without a duration is reached
    when the largest sample is >= it. Time above a threshold ``c*`` is summed over grid
    segments, with linear interpolation of the crossing inside a segment: a segment from
    ``(t0, c0)`` to ``(t1, c1)`` contributes ``t1 - t0`` when both ends are >= ``c*``, 0 when
    both are below, else the part on the threshold's side,
    ``(t1 - t0) |c_end - c*| / |c1 - c0|`` of the end above.

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
        if target.min_duration_h > 0:
            ok &= above >= target.min_duration_h
        else:
            ok &= np.max(c, axis=-1) >= thr
    if target.below_mg_per_L is not None and t.size:
        ok &= np.max(c, axis=-1) <= target.below_mg_per_L
    return Attainment(attained=ok, time_above_h=above)


def compute_target_attainment_exact(exposure: ExposureSummary, target: Target) -> Attainment:
    """Whether each subject meets ``target``, from exact exposure (no grid involved).

    Parameters
    ----------
    exposure : ExposureSummary
        From :func:`ketasim.exposure.compute_exposure` with the target's thresholds among
        ``thresholds_mg_per_L`` (:func:`get_target_thresholds`).
    target : Target

    Returns
    -------
    Attainment
        ``time_above_h``: exact time at or above ``above_mg_per_L`` (0 without one).

    Examples
    --------
    >>> from ketasim.events import Regimen
    >>> from ketasim.exposure import compute_exposure
    >>> tg = Target("T1", "ketamine", above_mg_per_L=0.5)
    >>> reg = Regimen.from_quantities("1 mg/kg", duration="10 min")
    >>> ex = compute_exposure("herd_2007", reg, covariates={"WT": 20},
    ...                       thresholds_mg_per_L=get_target_thresholds([tg]))
    >>> bool(compute_target_attainment_exact(ex, tg).attained[0])
    True
    """
    a, w = target.analyte, target.window_h
    n = exposure.n_subjects
    ok = np.ones(n, dtype=bool)
    above = np.zeros(n)
    if target.above_mg_per_L is not None:
        thr = target.above_mg_per_L
        above = exposure.get_time_above(a, thr, w)
        if target.min_duration_h > 0:
            ok &= above >= target.min_duration_h
        else:
            ok &= exposure.is_reached(a, thr, w)
    if target.below_mg_per_L is not None:
        if w is None:
            ok &= exposure.cmax_mg_per_L[a] <= target.below_mg_per_L
        else:
            ok &= exposure.get_time_above(a, target.below_mg_per_L, w) <= 0.0
    return Attainment(attained=ok, time_above_h=above)


def get_target_thresholds(targets: Sequence[Target]) -> dict[str, list[float]]:
    """Thresholds (mg/L) per analyte that :func:`compute_target_attainment_exact` needs."""
    out: dict[str, list[float]] = {}
    for tg in targets:
        for v in (tg.above_mg_per_L, tg.below_mg_per_L):
            if v is not None and v not in out.setdefault(tg.analyte, []):
                out[tg.analyte].append(float(v))
    return out
