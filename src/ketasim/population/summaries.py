"""Per-subject exposure summaries of a population block: exact (from the solution), from the
simulation grid, or observed-style (noisy); Cmax, Tmax and AUC per dose interval and overall."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from ketasim.events import Regimen
from ketasim.nca import compute_auc, compute_cmax
from ketasim.population.attainment import (
    Target,
    compute_target_attainment,
    compute_target_attainment_exact,
    get_target_thresholds,
)
from ketasim.spec import ModelSpec

__all__ = [
    "dose_intervals",
    "exact_block",
    "exact_summaries",
    "grid_summaries",
    "simulation_grid",
    "summarize",
]

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


class _Job(Protocol):
    """What the summaries read of a population job (:class:`ketasim.population.run._Job`)."""

    @property
    def spec(self) -> ModelSpec: ...
    @property
    def regimen(self) -> Regimen: ...
    @property
    def times_h(self) -> FloatArray: ...
    @property
    def targets(self) -> tuple[Target, ...]: ...
    @property
    def intervals_h(self) -> FloatArray: ...


def exact_summaries(
    job: _Job, cov: Mapping[str, Any], etas: FloatArray, params: Mapping[str, Any]
) -> tuple[
    dict[str, dict[str, FloatArray]], dict[str, str], dict[str, tuple[BoolArray, FloatArray]]
]:
    """Exposure of a block from the noise-free solution (:mod:`ketasim.exposure`)."""
    from ketasim.exposure import compute_exposure

    ex = compute_exposure(
        job.spec, job.regimen, covariates=cov, etas=etas, params=params or None,
        t_end_h=float(job.times_h[-1]), thresholds_mg_per_L=get_target_thresholds(job.targets),
        check_validity=False,
    )  # fmt: skip
    return _from_exposure(job, ex)


def exact_block(
    job: _Job,
    cov: Mapping[str, Any],
    etas: FloatArray,
    params: Mapping[str, Any],
    t_sim: FloatArray,
) -> (
    tuple[
        FloatArray,
        dict[str, dict[str, FloatArray]],
        dict[str, str],
        dict[str, tuple[BoolArray, FloatArray]],
    ]
    | None
):
    """Curves on ``t_sim`` (A, m, T), mg/L, and exact summaries of a block from ONE solve.

    The model with its integrating compartments is solved once into closed-form pieces
    (:func:`ketasim.exposure.modal.solve_regimen_pieces`); the curves, the peaks (roots of the
    exact derivative), the AUCs and the threshold crossings all come from those pieces. None
    when the pieces are not supported: the caller then simulates and uses
    :func:`exact_summaries`.
    """
    from ketasim.engine import clean_concentrations
    from ketasim.exposure.compute import _merge
    from ketasim.exposure.modal import exposure_chunk_from_pieces, solve_regimen_pieces

    t_end = float(job.times_h[-1])
    got = solve_regimen_pieces(
        job.spec, job.regimen, t_end, covariates=cov, etas=etas, params=params or None,
        t_start_h=float(t_sim[0]),
    )  # fmt: skip
    if got is None:
        return None
    aspec, names, parts, ids = got
    analytes = job.spec.get_analytes()
    rows = np.array([names.index(a) for a in analytes])
    c_sim = np.empty((len(analytes), ids.size, t_sim.size))
    for subjects, sol in parts:
        c_sim[:, subjects] = np.moveaxis(sol.grid(t_sim, rows), 2, 0)
    c_sim = clean_concentrations(c_sim, job.spec)
    thresholds = get_target_thresholds(job.targets)
    thr = [(a, float(v)) for a, vals in (thresholds or {}).items() for v in vals]
    chunk = exposure_chunk_from_pieces(aspec, names, parts, ids, job.intervals_h, t_end, thr)
    ex = _merge([chunk], analytes, job.intervals_h, t_end)
    return (c_sim, *_from_exposure(job, ex))


def _from_exposure(
    job: _Job, ex: Any
) -> tuple[
    dict[str, dict[str, FloatArray]], dict[str, str], dict[str, tuple[BoolArray, FloatArray]]
]:
    summaries = {
        a: {
            "cmax_mg_per_L": ex.cmax_mg_per_L[a],
            "tmax_h": ex.tmax_h[a],
            "auc_mg_h_per_L": ex.auc_mg_h_per_L[a],
            "cmax_interval_mg_per_L": ex.cmax_interval_mg_per_L[a],
            "tmax_interval_h": ex.tmax_interval_h[a],
            "auc_interval_mg_h_per_L": ex.auc_interval_mg_h_per_L[a],
        }
        for a in ex.analytes
    }
    att = {}
    for tg in job.targets:
        r = compute_target_attainment_exact(ex, tg)
        att[tg.name] = (r.attained, r.time_above_h)
    return summaries, {}, att


def grid_summaries(
    job: _Job, t: FloatArray, conc: FloatArray, t_sim: FloatArray, c_sim: FloatArray
) -> tuple[
    dict[str, dict[str, FloatArray]], dict[str, str], dict[str, tuple[BoolArray, FloatArray]]
]:
    """Exposure of a block on the output grid ("grid" or "observed" summaries)."""
    analytes = job.spec.get_analytes()
    summaries: dict[str, dict[str, FloatArray]] = {}
    reasons: dict[str, str] = {}
    for j, a in enumerate(analytes):
        summaries[a], why = summarize(t, conc[j], t_sim, c_sim[j], job.intervals_h)
        reasons.update({f"{a}/{k}": v for k, v in why.items()})
    att = {}
    for tg in job.targets:
        r = compute_target_attainment(t, conc[analytes.index(tg.analyte)], tg)
        att[tg.name] = (r.attained, r.time_above_h)
    return summaries, reasons, att


def simulation_grid(t: FloatArray, iv: FloatArray) -> tuple[FloatArray, npt.NDArray[np.intp]]:
    """The user's times plus every dose time and the instant before it (one ulp earlier).

    NOTE: an output at a dose time is post-dose, so an interval's AUC must end on the pre-dose
    value ``c(b-)``, and start on the post-dose value ``c(a)``; without these points a trapezoid
    across the dose would add (jump x grid step / 2) to the interval's AUC.
    """
    inside = iv[(iv[:, 0] >= t[0]) & (iv[:, 0] <= t[-1]), 0]
    extra = np.concatenate([inside, np.nextafter(inside[inside > t[0]], -np.inf)])
    t_sim = np.unique(np.concatenate([t, extra]))
    return t_sim, np.searchsorted(t_sim, t)


def summarize(
    t: FloatArray, c: FloatArray, t_sim: FloatArray, c_sim: FloatArray, iv: FloatArray
) -> tuple[dict[str, FloatArray], dict[str, str]]:
    """Cmax/Tmax on the user's grid; AUCs (lin-up/log-down) with the pre/post-dose points."""
    why: dict[str, str] = {}
    cmax, tmax = compute_cmax(t, c)
    auc = compute_auc(t_sim, c_sim)
    out = {"cmax_mg_per_L": cmax.value, "tmax_h": tmax.value, "auc_mg_h_per_L": auc.value}
    if auc.reason:
        why["auc_mg_h_per_L"] = auc.reason
    K = iv.shape[0]
    ci, ti, ai = (np.full((c.shape[0], K), np.nan) for _ in range(3))
    for k, (a, b) in enumerate(iv):
        last = k == K - 1
        if a < t[0]:
            why["auc_interval_mg_h_per_L"] = f"the grid starts after dose {k + 1} at {a:g} h"
            continue
        sel = (t >= a) & ((t < b) if not last else (t <= b))
        if np.any(sel):
            cm, tm = compute_cmax(t[sel], c[:, sel])
            ci[:, k], ti[:, k] = cm.value, tm.value
        else:
            why["cmax_interval_mg_per_L"] = (
                f"no output time in dose interval {k + 1} [{a:g}, {b:g}) h"
            )
        ssel = (t_sim >= a) & ((t_sim < b) if not last else (t_sim <= b))
        m = compute_auc(t_sim[ssel], c_sim[:, ssel])
        ai[:, k] = m.value
        if m.reason:
            why["auc_interval_mg_h_per_L"] = f"dose interval {k + 1}: {m.reason}"
    out |= {"cmax_interval_mg_per_L": ci, "tmax_interval_h": ti, "auc_interval_mg_h_per_L": ai}
    return out, why


def dose_intervals(regimen: Regimen, t_end_h: float) -> FloatArray:
    starts = sorted({d.time_h + k * d.ii_h for d in regimen.doses for k in range(d.addl + 1)})
    starts = [s for s in starts if s < t_end_h]
    if not starts:
        return np.zeros((0, 2))
    return np.column_stack([starts, [*starts[1:], t_end_h]]).astype(float)
