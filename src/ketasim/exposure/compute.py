""":func:`compute_exposure`: exact exposure of a regimen, in chunks of subjects.

Owns the sampling grid, the per-chunk pipeline (samples, peak refinement, exact AUC from the
integrating compartments, threshold crossings) and the merge of chunks; the searches live in
:mod:`ketasim.exposure.search`, the result type in :mod:`ketasim.exposure.summary`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from ketasim.errors import EventError, ParameterError
from ketasim.events import Regimen
from ketasim.exposure.search import (
    TIME_TOL,
    _Context,
    _refine_peaks,
    _time_above,
)
from ketasim.exposure.summary import ExposureSummary, compute_dose_intervals_h
from ketasim.grids import get_event_times_h
from ketasim.spec import ModelSpec

__all__ = ["compute_exposure"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]

_GEOM, _EVEN = 32, 64  # samples per gap between events (geometric after the event, even)
_WORK_VALUES = 16_000_000  # summary-grid values (subjects x times x analytes) per chunk


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
