"""Refinement on the exact solution: peaks by bracketing (and a derivative secant for smooth
tops), threshold crossings by bracketing, both through per-subject probe times.

Owns the probe evaluator (one records-layout :func:`ketasim.simulate.simulate` call per step,
one EVID 2 row per probe) and the searches; the method and its tolerances are stated in
:mod:`ketasim.exposure`. It never calls the solver.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from ketasim.events import Dataset, Regimen
from ketasim.simulate import simulate
from ketasim.spec import ModelSpec

__all__ = ["TIME_TOL"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]

#: relative time tolerance of refined peaks and crossings (times of max(1, t_end) h)
TIME_TOL = 1e-9
_PROBES = 16  # probes per bracket and refinement step
_MAX_STEPS = 40  # refinement steps at most (16 probes shrink a bracket ~8.5x per step)
_FLAT = 64 * np.finfo(float).eps  # relative tie of samples: a smooth peak's top is reached


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
    """Root of the central-difference derivative next to ``t0`` (a smooth peak's best sample).

    NOTE: ``g(x) = c(x + h) - c(x - h) = 2h c'(x) + h^3 c'''(x) / 3``, so its root is off the
    peak by about ``h^2 c''' / (6 c'')`` while its round-off moves the root by about
    ``eps c / (2 h c'')``; ``h = 1e-5`` of the time to the peak balances both near 1e-11
    relative. The secant through ``g(t0 - d), g(t0 + d)``, ``d = 1e-6`` of that time (wider
    than the top whose samples tie in round-off), is accepted within ``10 d`` of ``t0``
    (else the best sample stays). ``lo, hi`` are unused bounds kept for the caller's bracket.
    """
    d = 1e-6 * scale
    x = np.column_stack([t0 - d, t0 + d])
    # the difference stays inside the dose interval (no dose between its points)
    room = np.minimum(x[:, 0] - segment[0], segment[1] - x[:, 1])
    h = np.minimum(1e-5 * scale, np.maximum(room, 0.0))
    pts = np.column_stack([x[:, 0] - h, x[:, 0] + h, x[:, 1] - h, x[:, 1] + h])
    vals = ctx.at(m, np.repeat(ts, 4), pts.ravel(), analytes)
    v = vals[np.arange(pts.size), np.repeat(ta, 4)].reshape(-1, 4)
    g0, g1 = v[:, 1] - v[:, 0], v[:, 3] - v[:, 2]
    with np.errstate(divide="ignore", invalid="ignore"):
        root = x[:, 0] + (x[:, 1] - x[:, 0]) * g0 / (g0 - g1)
    ok = (h > 0) & (g0 != g1) & np.isfinite(root) & (np.abs(root - t0) <= 10 * d)
    return np.where(ok, root, t0)


def _time_above(
    ctx: Any,
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
    refine: Any = None,
) -> tuple[IntArray, FloatArray, FloatArray]:
    """Spans (subject, start, end) where ``c >= thr``, crossings refined to ``tol``.

    ``refine(subjects, lo, hi)``, when given, returns the crossing in each bracket directly
    (roots on closed-form pieces, :mod:`ketasim.exposure.modal`) instead of bracketing.
    """
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
    for _ in range(0 if refine is not None else _MAX_STEPS):
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
    cross = 0.5 * (lo + hi) if refine is None else refine(s_idx, lo, hi)
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
