"""The exposure result: :class:`ExposureSummary` (per subject and analyte) and dose intervals.

Owns the shape, names and units of exact exposure numbers and their tables; it computes
nothing from a model (that is :mod:`ketasim.exposure.compute`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from ketasim.errors import ParameterError
from ketasim.events import Regimen
from ketasim.units import format_unit_suffix, get_conc_factor

__all__ = ["ExposureSummary", "compute_dose_intervals_h"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]


@dataclass(frozen=True)
class ExposureSummary:
    """Exact per-subject exposure of one regimen.

    Attributes
    ----------
    analytes : tuple of str
    t_end_h : float, h
        End of the run; whole-run metrics cover [0, t_end].
    intervals_h : (K, 2) ndarray, h
        Dose intervals [dose k, dose k + 1), the last one closed at ``t_end``.
    cmax_mg_per_L, tmax_h, auc_mg_h_per_L : mapping analyte -> (N,) ndarray
        Whole run (mg/L, h, mg/L*h).
    cmax_interval_mg_per_L, tmax_interval_h, auc_interval_mg_h_per_L : mapping -> (N, K)
        Per dose interval (an interval's supremum, ``c(b-)``, when the curve rises to its end).
    time_above_h : mapping (analyte, threshold mg/L) -> (N,) ndarray, h
        Measure of ``{t in [0, t_end] : c(t) >= threshold}``.
    above_spans_h : mapping (analyte, threshold mg/L) -> (subject, start, end) arrays
        The spans making up ``time_above_h`` (for windows: :meth:`get_time_above`).
    time_tol_h : float, h
        Tolerance of refined peak and crossing times.
    """

    analytes: tuple[str, ...]
    ids: FloatArray
    t_end_h: float
    intervals_h: FloatArray
    cmax_mg_per_L: Mapping[str, FloatArray]  # noqa: N815 - unit suffix per STYLE.md §3
    tmax_h: Mapping[str, FloatArray]
    auc_mg_h_per_L: Mapping[str, FloatArray]  # noqa: N815
    cmax_interval_mg_per_L: Mapping[str, FloatArray]  # noqa: N815
    tmax_interval_h: Mapping[str, FloatArray]
    auc_interval_mg_h_per_L: Mapping[str, FloatArray]  # noqa: N815
    time_above_h: Mapping[tuple[str, float], FloatArray] = field(default_factory=dict)
    above_spans_h: Mapping[tuple[str, float], tuple[IntArray, FloatArray, FloatArray]] = field(
        default_factory=dict
    )
    time_tol_h: float = 0.0
    notes: tuple[str, ...] = ()

    @property
    def n_subjects(self) -> int:
        """Number of subjects."""
        return int(self.ids.size)

    def get_time_above(
        self, analyte: str, threshold_mg_per_L: float, window_h: tuple[float, float] | None = None
    ) -> FloatArray:
        """Time at or above a threshold (h) per subject, optionally inside a window (h)."""
        key = (analyte, float(threshold_mg_per_L))
        if key not in self.above_spans_h:
            raise ParameterError(
                f"no threshold {threshold_mg_per_L:g} mg/L for {analyte!r} was computed; "
                f"computed: {sorted(self.above_spans_h)}"
            )
        if window_h is None:
            return np.asarray(self.time_above_h[key])
        subj, a, b = self.above_spans_h[key]
        length = np.clip(np.minimum(b, window_h[1]) - np.maximum(a, window_h[0]), 0.0, None)
        return np.bincount(subj, weights=length, minlength=self.n_subjects).astype(float)

    def is_reached(
        self, analyte: str, threshold_mg_per_L: float, window_h: tuple[float, float] | None = None
    ) -> npt.NDArray[np.bool_]:
        """Whether each subject's concentration reaches the threshold at any time (in a window).

        Without a window this is ``Cmax >= threshold`` with the exact Cmax.
        """
        if window_h is None:
            return np.asarray(self.cmax_mg_per_L[analyte] >= threshold_mg_per_L)
        key = (analyte, float(threshold_mg_per_L))
        if key not in self.above_spans_h:
            raise ParameterError(f"no threshold {threshold_mg_per_L:g} mg/L for {analyte!r}")
        subj, a, b = self.above_spans_h[key]
        hit = (a <= window_h[1]) & (b >= window_h[0])
        return np.bincount(subj[hit], minlength=self.n_subjects) > 0

    def to_pandas(self, unit: str = "ng/mL") -> Any:
        """One row per subject: ``<analyte>_cmax_<unit>``, ``_tmax_h``, ``_auc_<unit>_h``, per
        interval ``..._d<k>`` and ``<analyte>_time_above_<thr><unit>_h``."""
        import pandas as pd

        sfx = format_unit_suffix(unit)
        cols: dict[str, Any] = {"ID": self.ids}
        for a in self.analytes:
            f = get_conc_factor(a, unit, what="unit")
            cols[f"{a}_cmax_{sfx}"] = self.cmax_mg_per_L[a] * f
            cols[f"{a}_tmax_h"] = self.tmax_h[a]
            cols[f"{a}_auc_{sfx}_h"] = self.auc_mg_h_per_L[a] * f
            for k in range(self.intervals_h.shape[0]):
                cols[f"{a}_cmax_d{k + 1}_{sfx}"] = self.cmax_interval_mg_per_L[a][:, k] * f
                cols[f"{a}_tmax_d{k + 1}_h"] = self.tmax_interval_h[a][:, k]
                cols[f"{a}_auc_d{k + 1}_{sfx}_h"] = self.auc_interval_mg_h_per_L[a][:, k] * f
        for (a, thr), v in self.time_above_h.items():
            f = get_conc_factor(a, unit, what="unit")
            cols[f"{a}_time_above_{thr * f:g}{sfx}_h"] = v
        return pd.DataFrame(cols)


def compute_dose_intervals_h(regimen: Regimen, t_end_h: float) -> FloatArray:
    """Dose intervals (K, 2), h: [start k, start k+1) for every dose start (ADDL repeats too)
    before ``t_end_h``, the last one ending at ``t_end_h``.

    Examples
    --------
    >>> compute_dose_intervals_h(Regimen.from_quantities("1 mg", every="12 h", count=2), 30.0)
    array([[ 0., 12.],
           [12., 30.]])
    """
    starts = sorted({d.time_h + k * d.ii_h for d in regimen.doses for k in range(d.addl + 1)})
    starts = [s for s in starts if s < t_end_h]
    if not starts:
        return np.zeros((0, 2))
    return np.column_stack([starts, [*starts[1:], t_end_h]]).astype(float)
