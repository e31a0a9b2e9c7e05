"""Exposure summaries from the solution itself: Cmax, Tmax, AUC and time above a threshold.

Owns per-subject, per-analyte exposure metrics of a regimen that do not depend on any display
grid: peak concentration and its time over the whole run and in every dose interval, the area
under the curve over the run and every dose interval, and the time spent at or above given
concentrations. It calls :func:`ketasim.simulate.simulate` (never the solver) and deliberately
does no percentile or population bookkeeping (that is :mod:`ketasim.population`).

Method
------
- **AUC** is exact: the model is extended by one integrating compartment per analyte
  (:meth:`ModelSpec.with_auc_compartments`, ``dAUC/dt = A_central / V``), which keeps it
  linear, so the exact solver gives ``AUC(t)`` at the dose times and the end of the run; an
  interval's AUC is ``AUC(b) - AUC(a)``.
- **Cmax/Tmax**: the profile is sampled at every event time of
  :func:`ketasim.grids.get_event_times_h` (dose starts, infusion ends, lags, modelled input
  ends), the instant before each dose, and 32 geometric and 64 even points in each gap between
  events; in each dose interval the largest sample is refined
  by bracketing: 16 probes per bracket and simulation (records layout, one EVID 2 row per
  probe), keeping the neighbours of the largest, until the bracket is shorter than
  ``TIME_TOL * max(1, t_end)`` h. Corners (infusion ends, doses) are found this way to that
  tolerance. A smooth peak makes the samples tie near the top (differences below round-off)
  well before that; its time is then the root of the central-difference derivative, found by
  a secant step inside the last bracket that still separated the values (error of order
  1e-10 relative in time, round-off limited).
- **Time above** ``c*``: sign changes of ``c - c*`` between consecutive samples (the refined
  peaks included, so a brief excursion above ``c*`` around a peak is seen) are refined by the
  same bracketing to ``TIME_TOL``; the time above is the measure of ``{t : c(t) >= c*}``.

NOTE: one local maximum per dose interval is refined (the largest sample's); a second peak
in the same interval that the samples underestimate by more than the gap to the first
would be missed. On a unimodal stretch the largest sample's neighbours bracket the peak, so
the samples only need to separate distinct humps. Troughs are taken at samples and pre-dose
instants (a dip below a threshold between two samples above it is not seen).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from ketasim.errors import EventError, ParameterError
from ketasim.events import Dataset, Regimen
from ketasim.grids import get_event_times_h
from ketasim.simulate import simulate
from ketasim.spec import ModelSpec
from ketasim.units import format_unit_suffix, get_conc_factor

__all__ = ["TIME_TOL", "ExposureSummary", "compute_dose_intervals_h", "compute_exposure"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]

#: relative time tolerance of refined peaks and crossings (times of max(1, t_end) h)
TIME_TOL = 1e-9
_PROBES = 16  # probes per bracket and refinement step
_MAX_STEPS = 40  # refinement steps at most (16 probes shrink a bracket ~8.5x per step)
_FLAT = 64 * np.finfo(float).eps  # relative tie of samples: a smooth peak's top is reached
_GEOM, _EVEN = 32, 64  # samples per gap between events (geometric after the event, even)
_WORK_VALUES = 16_000_000  # summary-grid values (subjects x times x analytes) per chunk


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


def compute_exposure(
    model: ModelSpec | str,
    regimen: Regimen,
    *,
    covariates: Mapping[str, Any] | None = None,
    etas: Any = None,
    params: Mapping[str, Any] | None = None,
    weight_kg: Any = None,
    t_end_h: float | None = None,
    thresholds_mg_per_L: Mapping[str, Sequence[float]] | None = None,
    check_validity: bool = True,
) -> ExposureSummary:
    """Exact Cmax, Tmax, AUC (run and dose intervals) and time above thresholds per subject.

    Parameters
    ----------
    model : ModelSpec or str
        A linear model (library id, built-in, or spec); the method is in the module docstring.
    regimen : Regimen
    covariates, etas, params, weight_kg
        As for :func:`ketasim.simulate.simulate` (scalars or one value per subject).
    t_end_h : float, h, optional
        End of the run (default: end of the last dose + 24 h).
    thresholds_mg_per_L : mapping analyte -> sequence of float, mg/L, optional
        Concentrations whose time at or above is computed.
    check_validity : bool
        Warn when covariates leave the model's population range.

    Returns
    -------
    ExposureSummary

    Raises
    ------
    EventError
        When no dose starts before ``t_end_h``.
    ParameterError
        For a nonlinear model, a non-finite or negative threshold, or an unknown analyte.

    Examples
    --------
    >>> from ketasim import load_model
    >>> ex = compute_exposure(load_model("herd_2007"),
    ...                       Regimen.from_quantities("1 mg/kg", duration="10 min"),
    ...                       covariates={"WT": 20}, t_end_h=24.0)
    >>> round(float(ex.tmax_h["ketamine"][0]), 6)  # the end of the infusion
    0.166667
    """
    from ketasim.simulate import _resolve_model  # NOTE: the one model resolver, reused

    spec = _resolve_model(model)
    if not spec.is_linear:
        raise ParameterError(
            f"model {spec.id} has saturable (nonlinear) flows: exact exposure needs a linear model"
        )
    if not isinstance(regimen, Regimen):
        raise ParameterError(f"regimen must be a Regimen, not {type(regimen).__name__}")
    t_end = regimen.get_end_time_h() + 24.0 if t_end_h is None else float(t_end_h)
    if not (np.isfinite(t_end) and 0 < t_end <= 1e7):
        raise EventError(f"t_end_h={t_end_h!r} must be a positive number of hours up to 1e7")
    iv = compute_dose_intervals_h(regimen, t_end)
    if iv.shape[0] == 0:
        raise EventError(f"no dose starts before the end of the run ({t_end:g} h)")
    analytes = spec.get_analytes() or ("CP",)
    thr = _check_thresholds(spec, analytes, thresholds_mg_per_L)
    covs = dict(covariates or {})
    n = _count_subjects(covs, etas, params, weight_kg)
    grid = _sample_grid(regimen, spec, _typical(covs), t_end, iv)
    size = max(1, int(_WORK_VALUES // (grid.size * len(analytes))))
    parts: list[_Chunk] = []
    for lo in range(0, n, size):
        sl = slice(lo, min(n, lo + size))
        ctx = _Context(
            spec, regimen, _take(covs, sl, n), _take_etas(etas, sl, n), _take(params, sl, n),
            _take_any(weight_kg, sl, n), check_validity and lo == 0,
        )  # fmt: skip
        parts.append(_exposure_chunk(ctx, analytes, grid, iv, t_end, thr))
    return _merge(parts, analytes, iv, t_end)


def _sample_grid(
    regimen: Regimen, spec: ModelSpec, covs: Mapping[str, Any], t_end: float, iv: FloatArray
) -> FloatArray:
    """Samples that locate every peak's basin: event times, the instant before each dose, and
    per gap between events 32 geometric and 64 even points (refinement does the rest)."""
    ev = get_event_times_h(regimen, spec, covs)
    knots = np.unique(np.concatenate([[0.0, t_end], ev[(ev >= 0) & (ev <= t_end)], iv.ravel()]))
    a, b = knots[:-1, None], knots[1:, None]
    geom = np.geomspace(1e-4, 1.0, _GEOM)[None, :]
    even = np.linspace(0.0, 1.0, _EVEN, endpoint=False)[None, :]
    pre = np.nextafter(iv[1:, 0], -np.inf)
    pts = [(a + (b - a) * geom).ravel(), (a + (b - a) * even).ravel(), knots, pre]
    return np.asarray(np.unique(np.concatenate(pts)), dtype=float)


# --- inputs ------------------------------------------------------------------------------------
def _check_thresholds(
    spec: ModelSpec, analytes: tuple[str, ...], thresholds: Mapping[str, Sequence[float]] | None
) -> list[tuple[str, float]]:
    out: list[tuple[str, float]] = []
    for a, values in (thresholds or {}).items():
        if a not in analytes:
            raise ParameterError(
                f"threshold for {a!r}: model {spec.id} has analytes {', '.join(analytes)}"
            )
        for v in np.atleast_1d(np.asarray(values, dtype=float)):
            if not (np.isfinite(v) and v >= 0):
                raise ParameterError(
                    f"threshold {v:g} mg/L for {a}: give a finite concentration >= 0"
                )
            out.append((a, float(v)))
    return out


def _count_subjects(*values: Any) -> int:
    n = 1
    for v in values:
        items = v.values() if isinstance(v, Mapping) else [v]
        for x in items:
            if x is None or isinstance(x, str):
                continue
            shape = np.shape(x)
            if len(shape) >= 1 and shape[0] > 1:
                if n > 1 and shape[0] != n:
                    raise ParameterError(
                        f"per-subject inputs disagree on the number of subjects ({n} vs {shape[0]})"
                    )
                n = shape[0]
    return n


def _typical(covs: Mapping[str, Any]) -> dict[str, Any]:
    """Median covariates: event times (lags, modelled input ends) of a typical subject."""
    out: dict[str, Any] = {}
    for k, v in covs.items():
        try:
            out[k] = float(np.median(np.asarray(v, dtype=float)))
        except (TypeError, ValueError):
            out[k] = v  # NOTE: let simulate name the bad value
    return out


def _take_any(v: Any, sl: slice, n: int) -> Any:
    if v is None or isinstance(v, str) or np.ndim(v) == 0 or np.shape(v)[0] != n or n == 1:
        return v
    return np.asarray(v)[sl]


def _take(m: Mapping[str, Any] | None, sl: slice, n: int) -> dict[str, Any] | None:
    return None if m is None else {k: _take_any(v, sl, n) for k, v in m.items()}


def _take_etas(etas: Any, sl: slice, n: int) -> Any:
    if etas is None:
        return None
    e = np.atleast_2d(np.asarray(etas, dtype=float))
    return e if e.shape[0] == 1 else e[sl]


# --- evaluation at per-subject times -------------------------------------------------------------
@dataclass
class _Context:
    spec: ModelSpec
    regimen: Regimen
    covariates: dict[str, Any] | None
    etas: Any
    params: dict[str, Any] | None
    weight_kg: Any
    check_validity: bool

    def grid(self, spec: ModelSpec, times: FloatArray, keep_amounts: bool = False) -> Any:
        return simulate(
            spec, self.regimen, times, covariates=self.covariates, etas=self.etas,
            params=self.params, weight_kg=self.weight_kg, unit="mg/L",
            keep_amounts=keep_amounts, check_validity=self.check_validity,
        )  # fmt: skip

    def at(self, m: int, subj: IntArray, times: FloatArray, analytes: tuple[str, ...]) -> Any:
        """Concentrations (P, A), mg/L, of subject ``subj[p]`` at ``times[p]`` (one records run)."""
        covs = dict(self.covariates or {})
        wt = self.weight_kg if self.weight_kg is not None else covs.get("WT")
        if self.weight_kg is not None and "WT" in self.spec.covariates and "WT" not in covs:
            covs["WT"] = self.weight_kg
        w = None if wt is None else np.broadcast_to(np.asarray(wt, dtype=float), (m,))
        base = self.regimen.to_records(weight_kg=w if w is not None else np.ones(m))
        cols = {k: base[k] for k in ("ID", "TIME", "AMT", "RATE", "CMT", "EVID", "II", "ADDL")}
        routes = base.text_columns["ROUTE"]
        p = times.size
        obs = {
            "ID": subj.astype(float) + 1.0, "TIME": times, "AMT": np.zeros(p),
            "RATE": np.zeros(p), "CMT": np.zeros(p), "EVID": np.full(p, 2.0),
            "II": np.zeros(p), "ADDL": np.zeros(p),
        }  # fmt: skip
        allc = {k: np.concatenate([cols[k], obs[k]]) for k in cols}
        is_obs = np.r_[np.zeros(len(base)), np.ones(p)]
        # NOTE: an output at a dose time follows the dose (post-dose), as on a grid
        order = np.lexsort((is_obs, allc["TIME"], allc["ID"]))
        route = np.concatenate([routes, np.full(p, routes[0])])[order]
        ds = Dataset({k: v[order] for k, v in allc.items()}, text_columns={"ROUTE": route})
        res = simulate(
            self.spec, ds, None, covariates=covs or None, etas=self.etas, params=self.params,
            unit="mg/L", check_validity=False,
        )  # fmt: skip
        inv = np.empty(order.size, dtype=np.intp)
        inv[order] = np.arange(order.size)
        sel = inv[len(base) + np.arange(p)]
        return np.stack([res.conc[a][sel] for a in analytes], axis=1)


# --- one chunk of subjects ---------------------------------------------------------------------
@dataclass
class _Chunk:
    ids: FloatArray
    cmax_iv: dict[str, FloatArray]
    tmax_iv: dict[str, FloatArray]
    auc_iv: dict[str, FloatArray]
    auc: dict[str, FloatArray]
    above: dict[tuple[str, float], tuple[IntArray, FloatArray, FloatArray]]


def _exposure_chunk(
    ctx: _Context,
    analytes: tuple[str, ...],
    grid: FloatArray,
    iv: FloatArray,
    t_end: float,
    thresholds: list[tuple[str, float]],
) -> _Chunk:
    spec = ctx.spec
    res = ctx.grid(spec, grid)
    m = res.n_subjects
    tol = TIME_TOL * max(1.0, t_end)
    conc = np.stack([res.conc[a] for a in analytes])  # (A, m, T)
    A, K = len(analytes), iv.shape[0]
    # peaks: one refinement task per (analyte, subject, interval)
    lo_i, hi_i = np.searchsorted(grid, iv[:, 0], "left"), np.searchsorted(grid, iv[:, 1], "left")
    hi_i[-1] = grid.size  # the last interval includes t_end
    tasks_a, tasks_s, tasks_k, best = [], [], [], []
    for k in range(K):
        seg = conc[:, :, lo_i[k] : hi_i[k]]
        j = np.argmax(seg, axis=2) + lo_i[k]  # (A, m)
        aa, ss = np.meshgrid(np.arange(A), np.arange(m), indexing="ij")
        tasks_a.append(aa.ravel())
        tasks_s.append(ss.ravel())
        tasks_k.append(np.full(A * m, k))
        best.append(j.ravel())
    ta, ts, tk, tj = (np.concatenate(x) for x in (tasks_a, tasks_s, tasks_k, best))
    seg_lo, seg_hi = lo_i[tk], hi_i[tk] - 1
    lo = grid[np.maximum(tj - 1, seg_lo)]
    hi = grid[np.minimum(tj + 1, seg_hi)]
    t_pk, c_pk = _refine_peaks(ctx, analytes, m, ta, ts, lo, hi, conc, grid, tj, seg_lo, seg_hi,
                               tol)  # fmt: skip
    cmax_iv = {a: np.zeros((m, K)) for a in analytes}
    tmax_iv = {a: np.zeros((m, K)) for a in analytes}
    for i, a in enumerate(analytes):
        sel = ta == i
        cmax_iv[a][ts[sel], tk[sel]] = c_pk[sel]
        tmax_iv[a][ts[sel], tk[sel]] = t_pk[sel]
    # AUC: exact, from the integrating compartments
    aspec = spec.with_auc_compartments()
    bounds = np.unique(np.r_[iv[:, 0], t_end])
    r2 = ctx.grid(aspec, bounds, keep_amounts=True)
    assert r2.amounts is not None
    auc_iv, auc = {}, {}
    centrals = (
        [aspec.compartments[aspec.get_central_index(a)].name for a in analytes]
        if spec.get_analytes()
        else [aspec.compartments[aspec.get_default_observation_index()].name]
    )
    for a, cname in zip(analytes, centrals, strict=True):
        cum = r2.amounts[:, :, aspec.get_auc_index(cname)]  # (m, B)
        pos = np.searchsorted(bounds, iv)
        auc_iv[a] = np.maximum(cum[:, pos[:, 1]] - cum[:, pos[:, 0]], 0.0)
        auc[a] = np.maximum(cum[:, -1] - cum[:, 0], 0.0)
    above = {}
    for a, c_thr in thresholds:
        i = analytes.index(a)
        sel = ta == i
        above[(a, c_thr)] = _time_above(
            ctx, analytes, i, m, grid, conc[i], ts[sel], t_pk[sel], c_pk[sel], c_thr, tol
        )
    return _Chunk(res.ids, cmax_iv, tmax_iv, auc_iv, auc, above)


def _refine_peaks(
    ctx: _Context,
    analytes: tuple[str, ...],
    m: int,
    ta: IntArray,
    ts: IntArray,
    lo: FloatArray,
    hi: FloatArray,
    conc: FloatArray,
    grid: FloatArray,
    tj: IntArray,
    seg_lo: IntArray,
    seg_hi: IntArray,
    tol: float,
) -> tuple[FloatArray, FloatArray]:
    """Bracket each task's maximum to ``tol``; smooth tops get a derivative-root secant step."""
    n = ta.size
    scale = np.maximum(grid[tj] - grid[seg_lo], hi - lo)  # time scale of the rise to the peak
    j_lo, j_hi = np.maximum(tj - 1, seg_lo), np.minimum(tj + 1, seg_hi)
    c_lo, c_hi = conc[ta, ts, j_lo], conc[ta, ts, j_hi]
    t_best, c_best = grid[tj].copy(), conc[ta, ts, tj].copy()
    active = (hi - lo) > tol
    # NOTE: on a unimodal bracket a sample above both its neighbours at +-tol is the peak to
    # within tol: one cheap probe pair settles every peak at a sampled corner (infusion ends)
    q = np.flatnonzero(active)
    if q.size:
        nb = np.column_stack(
            [np.maximum(t_best[q] - tol, lo[q]), np.minimum(t_best[q] + tol, hi[q])]
        )
        v = ctx.at(m, np.repeat(ts[q], 2), nb.ravel(), analytes)
        v = v[np.arange(nb.size), np.repeat(ta[q], 2)].reshape(-1, 2)
        done = (v[:, 0] < c_best[q]) & (v[:, 1] < c_best[q])
        active[q[done]] = False
    flat = np.zeros(n, dtype=bool)
    frac = np.arange(1, _PROBES + 1) / (_PROBES + 1)
    for _ in range(_MAX_STEPS):
        idx = np.flatnonzero(active)
        if idx.size == 0:
            break
        pts = lo[idx, None] + (hi[idx] - lo[idx])[:, None] * frac[None, :]
        vals = ctx.at(m, np.repeat(ts[idx], _PROBES), pts.ravel(), analytes)
        v = vals[np.arange(pts.size), np.repeat(ta[idx], _PROBES)].reshape(idx.size, _PROBES)
        # NOTE: the best sample so far stays a candidate, so the maximum never decreases
        allt = np.column_stack([lo[idx], pts, hi[idx], t_best[idx]])
        allv = np.column_stack([c_lo[idx], v, c_hi[idx], c_best[idx]])
        srt = np.argsort(allt, axis=1, kind="stable")
        allt, allv = np.take_along_axis(allt, srt, 1), np.take_along_axis(allv, srt, 1)
        k = np.argmax(allv, axis=1)
        r = np.arange(idx.size)
        last = _PROBES + 2
        kl, kh = np.maximum(k - 1, 0), np.minimum(k + 1, last)
        top = allv[r, k]
        tie = (top - np.minimum(allv[r, kl], allv[r, kh])) <= _FLAT * np.abs(top)
        tie &= (k > 0) & (k < last)
        t_best[idx], c_best[idx] = allt[r, k], top
        keep = ~tie
        lo[idx[keep]], hi[idx[keep]] = allt[r, kl][keep], allt[r, kh][keep]
        c_lo[idx[keep]], c_hi[idx[keep]] = allv[r, kl][keep], allv[r, kh][keep]
        flat[idx[tie]] = True
        active[idx] = keep & ((hi[idx] - lo[idx]) > tol)
    # NOTE: a smooth top (tied samples, or a best sample inside its bracket) gets the secant
    # step; a corner keeps its best sample, which the secant's point would not beat
    small = (hi - lo) <= 1e-3 * scale  # a converged bracket (not one settled as a corner)
    f = np.flatnonzero(flat | ((t_best > lo) & (t_best < hi) & small))
    if f.size:
        root = _secant_root(
            ctx, analytes, m, ta[f], ts[f], lo[f], hi[f], t_best[f], scale[f],
            (grid[seg_lo[f]], grid[seg_hi[f]]),
        )  # fmt: skip
        v = ctx.at(m, ts[f], root, analytes)[np.arange(f.size), ta[f]]
        better = v >= c_best[f] - _FLAT * np.abs(c_best[f])  # a tie in round-off: smooth
        t_best[f[better]] = root[better]
        c_best[f] = np.maximum(c_best[f], np.where(better, v, -np.inf))
    return t_best, c_best


def _secant_root(
    ctx: _Context,
    analytes: tuple[str, ...],
    m: int,
    ta: IntArray,
    ts: IntArray,
    lo: FloatArray,
    hi: FloatArray,
    t0: FloatArray,
    scale: FloatArray,
    segment: tuple[FloatArray, FloatArray],
) -> FloatArray:
    """Root of the central-difference derivative near ``[lo, hi]`` (a smooth peak).

    NOTE: ``g(x) = c(x + h) - c(x - h) = 2h c'(x) + h^3 c'''(x) / 3``, so its root is off the
    peak by about ``h^2 c''' / (6 c'')`` while its round-off moves the root by about
    ``eps c / (2 h c'')``; ``h = 1e-5`` of the time to the peak balances both near 1e-11
    relative. ``[lo, hi]`` (the last bracket whose samples did not tie, about 1e-7 of the
    time scale) brackets the root; the secant through ``g(lo), g(hi)`` is accepted within a
    bracket width of it (else the best sample stays).
    """
    w = hi - lo
    x = np.column_stack([lo, hi])
    # the difference stays inside the dose interval (no dose between its points)
    room = np.minimum(lo - segment[0], segment[1] - hi)
    h = np.minimum(np.maximum(1e-5 * scale, w), np.maximum(room, 0.0))
    pts = np.column_stack([x[:, 0] - h, x[:, 0] + h, x[:, 1] - h, x[:, 1] + h])
    vals = ctx.at(m, np.repeat(ts, 4), pts.ravel(), analytes)
    v = vals[np.arange(pts.size), np.repeat(ta, 4)].reshape(-1, 4)
    g0, g1 = v[:, 1] - v[:, 0], v[:, 3] - v[:, 2]
    with np.errstate(divide="ignore", invalid="ignore"):
        root = x[:, 0] + (x[:, 1] - x[:, 0]) * g0 / (g0 - g1)
    ok = (h > 0) & (g0 != g1) & np.isfinite(root) & (root >= lo - w) & (root <= hi + w)
    return np.where(ok, root, t0)


def _time_above(
    ctx: _Context,
    analytes: tuple[str, ...],
    i: int,
    m: int,
    grid: FloatArray,
    c: FloatArray,
    pk_s: IntArray,
    pk_t: FloatArray,
    pk_c: FloatArray,
    thr: float,
    tol: float,
) -> tuple[IntArray, FloatArray, FloatArray]:
    """Spans (subject, start, end) where ``c >= thr``, crossings refined to ``tol``."""
    T = grid.size
    # per subject: the grid plus its refined peaks, sorted (peaks per subject: K each)
    K = pk_t.size // m
    order = np.argsort(pk_s, kind="stable")
    tt = np.concatenate([np.broadcast_to(grid, (m, T)), pk_t[order].reshape(m, K)], axis=1)
    cc = np.concatenate([c, pk_c[order].reshape(m, K)], axis=1)
    srt = np.argsort(tt, axis=1, kind="stable")
    tt, cc = np.take_along_axis(tt, srt, 1), np.take_along_axis(cc, srt, 1)
    up = cc >= thr
    s_idx, j_idx = np.nonzero(up[:, :-1] != up[:, 1:])
    lo, hi = tt[s_idx, j_idx].copy(), tt[s_idx, j_idx + 1].copy()
    lo_up = up[s_idx, j_idx]
    frac = np.arange(1, _PROBES + 1) / (_PROBES + 1)
    for _ in range(_MAX_STEPS):
        act = np.flatnonzero((hi - lo) > tol)
        if act.size == 0:
            break
        pts = lo[act, None] + (hi[act] - lo[act])[:, None] * frac[None, :]
        v = ctx.at(m, np.repeat(s_idx[act], _PROBES), pts.ravel(), analytes)[:, i]
        side = (v.reshape(act.size, _PROBES) >= thr) != lo_up[act, None]
        first = np.where(side.any(axis=1), np.argmax(side, axis=1), _PROBES)
        allt = np.column_stack([lo[act], pts, hi[act]])
        r = np.arange(act.size)
        lo[act], hi[act] = allt[r, first], allt[r, first + 1]
    cross = 0.5 * (lo + hi)
    # spans: pieces of consecutive samples where both ends are up, plus partial pieces
    both = up[:, :-1] & up[:, 1:]
    bs, bj = np.nonzero(both)
    span_s = [bs, s_idx]
    span_a = [tt[bs, bj], np.where(lo_up, tt[s_idx, j_idx], cross)]
    span_b = [tt[bs, bj + 1], np.where(lo_up, cross, tt[s_idx, j_idx + 1])]
    # a single up sample with both neighbours down adds nothing (a touch of measure zero)
    return (
        np.concatenate(span_s).astype(np.intp),
        np.concatenate(span_a),
        np.concatenate(span_b),
    )


def _merge(
    parts: list[_Chunk], analytes: tuple[str, ...], iv: FloatArray, t_end: float
) -> ExposureSummary:
    ids = np.concatenate([p.ids for p in parts])
    offs = np.cumsum([0, *[p.ids.size for p in parts]])

    def cat(name: str) -> dict[str, FloatArray]:
        return {a: np.concatenate([getattr(p, name)[a] for p in parts]) for a in analytes}

    cmax_iv, tmax_iv, auc_iv, auc = cat("cmax_iv"), cat("tmax_iv"), cat("auc_iv"), cat("auc")
    cmax, tmax = {}, {}
    for a in analytes:
        k = np.argmax(cmax_iv[a], axis=1)
        r = np.arange(ids.size)
        cmax[a], tmax[a] = cmax_iv[a][r, k], tmax_iv[a][r, k]
    spans: dict[tuple[str, float], tuple[IntArray, FloatArray, FloatArray]] = {}
    above: dict[tuple[str, float], FloatArray] = {}
    for key in parts[0].above:
        s = np.concatenate([p.above[key][0] + offs[q] for q, p in enumerate(parts)])
        a0 = np.concatenate([p.above[key][1] for p in parts])
        b0 = np.concatenate([p.above[key][2] for p in parts])
        spans[key] = (s.astype(np.intp), a0, b0)
        above[key] = np.bincount(s, weights=b0 - a0, minlength=ids.size).astype(float)
    return ExposureSummary(
        analytes=analytes,
        ids=ids,
        t_end_h=t_end,
        intervals_h=iv,
        cmax_mg_per_L=cmax,
        tmax_h=tmax,
        auc_mg_h_per_L=auc,
        cmax_interval_mg_per_L=cmax_iv,
        tmax_interval_h=tmax_iv,
        auc_interval_mg_h_per_L=auc_iv,
        time_above_h=above,
        above_spans_h=spans,
        time_tol_h=TIME_TOL * max(1.0, t_end),
        notes=(
            "Cmax/Tmax refined from the solution to "
            f"{TIME_TOL * max(1.0, t_end):.2g} h; AUC exact (integrating compartments)",
        ),
    )
