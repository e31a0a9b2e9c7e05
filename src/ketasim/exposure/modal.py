"""Exact exposure from the closed-form pieces of one solve (no further simulation).

Owns the fast path of :func:`ketasim.exposure.compute_exposure` used by population blocks:
the model with its integrating compartments is solved once into closed-form pieces between
events (:mod:`ketasim.solver.piecewise`); then

- samples: event times, the instant before each dose and 16 even points per gap between
  events, with the exact value and slope ``dC/dt`` at each (one pass, shared exponentials);
- every gap between samples where ``dC/dt`` turns from + to - on its piece holds a local
  maximum, found by safeguarded Newton steps on ``dC/dt`` and ``d2C/dt2`` (regula falsi
  whenever a step leaves the bracket) to 1e-13 relative in time; Cmax is the largest of the
  samples and these maxima (a corner, such as an infusion end, is a sample);
- threshold crossings are roots of ``C - c*`` between samples of different sides, by the same
  Newton steps on ``C`` and ``dC/dt``;
- AUC is read from the integrating compartments of the same solve.

Between two consecutive samples there is no event (every event time is a sample), so each
search works on one smooth piece; a left limit at an event time is the earlier piece
evaluated there.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt

from ketasim.events import Regimen
from ketasim.exposure.compute import _Chunk
from ketasim.exposure.search import TIME_TOL, _time_above
from ketasim.solver.piecewise import PiecewiseSolution
from ketasim.spec import ModelSpec

__all__ = ["exposure_chunk_from_pieces", "sample_grid", "solve_regimen_pieces"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]

_EVEN = 16  # samples per gap between events (with the exact slope at each)
_X_TOL = 1e-13  # relative step or bracket at which a root is final (Tmax to 1e-13 relative)
_NEWTON_STEPS = 100  # at most (a bisection halves the bracket; 100 exhaust a double's range)


def sample_grid(
    event_times: FloatArray, t_end: float, iv: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """Samples: event times, the instant before each dose and 64 even points per gap between
    events: (all samples sorted, the even ones; each gap's even points are a regular grid)."""
    ev = event_times[np.isfinite(event_times)]
    knots = np.unique(np.concatenate([[0.0, t_end], ev[(ev >= 0) & (ev <= t_end)], iv.ravel()]))
    a, b = knots[:-1, None], knots[1:, None]
    even = np.linspace(0.0, 1.0, _EVEN, endpoint=False)[None, :]
    pre = np.nextafter(iv[1:, 0], -np.inf)
    regular = np.unique((a + (b - a) * even).ravel())
    pts = [regular, knots, pre]
    return np.asarray(np.unique(np.concatenate(pts)), dtype=float), regular


def _on_samples(
    sol: PiecewiseSolution, grid: FloatArray, regular: FloatArray, rows: IntArray
) -> FloatArray:
    """Outputs and their derivatives (N, G, 2 len(rows)) on the samples: the regular ones on
    the fast grid path, the others (knots, pre-dose instants) by themselves."""
    out = np.empty((sol.n_subjects, grid.size, 2 * rows.size))
    pos = np.searchsorted(grid, regular)
    rest = np.ones(grid.size, dtype=bool)
    rest[pos] = False
    out[:, pos] = sol.grid_with_slope(regular, rows)
    out[:, rest] = sol.grid_with_slope(grid[rest], rows)
    return out


def newton_root(
    fun: Callable[[IntArray, FloatArray], tuple[FloatArray, FloatArray]],
    lo: FloatArray,
    hi: FloatArray,
    f_lo: FloatArray,
    f_hi: FloatArray,
) -> FloatArray:
    """Roots of ``f`` in brackets ``[lo, hi]`` where ``f(lo)`` and ``f(hi)`` differ in sign.

    ``fun(tasks, x)`` returns ``(f, f')`` at ``x`` for the given task indices. Each step takes
    the Newton point when it falls inside the current bracket, else the regula falsi point of
    the bracket (Illinois variant: the end kept twice has its value halved), and the bracket
    shrinks to the side of the sign change. A task stops at ``f(x) == 0`` or when its step or
    bracket is below ``1e-13 max(1, |x|)`` (after a Newton step of that size the next one is
    far below round-off; a peak's value is insensitive to its time to second order).
    """
    lo, hi, f_lo, f_hi = lo.copy(), hi.copy(), f_lo.copy(), f_hi.copy()
    sign_lo = np.sign(f_lo)
    x = lo - f_lo * (hi - lo) / (f_hi - f_lo)
    x = np.where((x > lo) & (x < hi), x, 0.5 * (lo + hi))
    kept = np.zeros(lo.size, dtype=np.int8)  # +1: lo kept last step, -1: hi kept
    active = np.arange(lo.size)
    for _ in range(_NEWTON_STEPS):
        if active.size == 0:
            break
        a = active
        f, d = fun(a, x[a])
        same = np.sign(f) == sign_lo[a]
        lo[a] = np.where(same, x[a], lo[a])
        f_lo[a] = np.where(same, f, np.where(kept[a] == 1, 0.5 * f_lo[a], f_lo[a]))
        hi[a] = np.where(same, hi[a], x[a])
        f_hi[a] = np.where(same, np.where(kept[a] == -1, 0.5 * f_hi[a], f_hi[a]), f)
        kept[a] = np.where(same, -1, 1)
        with np.errstate(divide="ignore", invalid="ignore"):
            nx = x[a] - f / d
            rf = lo[a] - f_lo[a] * (hi[a] - lo[a]) / (f_hi[a] - f_lo[a])
        inside = np.isfinite(nx) & (nx > lo[a]) & (nx < hi[a])
        rf_ok = np.isfinite(rf) & (rf > lo[a]) & (rf < hi[a])
        nx = np.where(inside, nx, np.where(rf_ok, rf, 0.5 * (lo[a] + hi[a])))
        nx = np.where(f == 0, x[a], nx)  # an exact root stays
        tiny = _X_TOL * np.maximum(np.abs(nx), 1.0)
        done = (f == 0) | (np.abs(nx - x[a]) <= tiny) | ((hi[a] - lo[a]) <= tiny)
        x[a] = nx
        active = a[~done]
    return x


def solve_regimen_pieces(
    spec: ModelSpec,
    regimen: Regimen,
    t_end: float,
    *,
    covariates: Any = None,
    etas: Any = None,
    params: Any = None,
    weight_kg: Any = None,
    check_validity: bool = False,
    t_start_h: float = 0.0,
) -> tuple[ModelSpec, list[str], list[tuple[IntArray, PiecewiseSolution]], FloatArray] | None:
    """One solve of ``spec`` with its integrating compartments for a regimen, kept as pieces.

    Inputs as :func:`ketasim.simulate.simulate` (regimen records, binding: the same
    functions). Returns (augmented spec, output names, pieces per subject group, subject ids),
    or None when the pieces are not supported (see :func:`ketasim.engine.solve_pieces`).
    """
    from ketasim.binding import bind_records
    from ketasim.engine import solve_pieces
    from ketasim.simulate import _regimen_records  # NOTE: simulate's own regimen -> records

    aspec = spec.with_auc_compartments()
    data, covs = _regimen_records(aspec, regimen, covariates, etas, params, weight_kg)
    bound = bind_records(
        aspec, data, covariates=covs, etas=etas, params=params, fill="nocb",
        check_validity=check_validity, t_start_h=min(0.0, t_start_h),
    )  # fmt: skip
    got = solve_pieces(bound, t_end)
    if got is None:
        return None
    names, parts = got
    return aspec, names, parts, bound.data["ID"][bound.first_row].copy()


class _Probe:
    """The probe interface of :mod:`ketasim.exposure.search` on closed-form pieces."""

    def __init__(self, sol: PiecewiseSolution, rows: IntArray) -> None:
        self.sol, self.rows = sol, rows

    def at(self, m: int, subj: IntArray, times: FloatArray, analytes: tuple[str, ...]) -> Any:
        return self.sol.at(subj, times, self.rows)


class _Crossing:
    """Roots of ``C - c*`` in brackets between samples (one smooth piece each)."""

    def __init__(self, sol: PiecewiseSolution, rows: IntArray, thr: float) -> None:
        self.sol, self.rows, self.thr = sol, rows, thr

    def __call__(self, s: IntArray, lo: FloatArray, hi: FloatArray) -> FloatArray:
        sol, r, thr = self.sol, self.rows, self.thr
        e = sol.interval(lo)
        f_ab = sol.at(np.r_[s, s], np.r_[lo, hi], r, 0, np.r_[e, e])[:, 0] - thr
        f_lo, f_hi = f_ab[: s.size], f_ab[s.size :]

        def fun(t: IntArray, x: FloatArray) -> Any:
            d = sol.at(s[t], x, r, (0, 1), e[t])
            return d[0, :, 0] - thr, d[1, :, 0]

        return newton_root(fun, lo, hi, f_lo, f_hi)


def _peaks(
    sol: PiecewiseSolution,
    row: int,
    conc: FloatArray,
    slope: FloatArray,
    grid: FloatArray,
    seg_lo: IntArray,
    seg_hi: IntArray,
) -> tuple[FloatArray, FloatArray]:
    """Cmax and Tmax (m, K) of one output over the segments [seg_lo[k], seg_hi[k]] of the grid.

    Every gap between samples where the exact ``dC/dt`` goes from > 0 to < 0 on its piece
    holds a local maximum, refined by :func:`newton_root` on ``dC/dt``; the result is the
    largest of the samples and those maxima.
    """
    m, K = conc.shape[0], seg_lo.size
    rows = np.array([row])
    G = grid.size
    d_right = slope  # dC/dt on the piece starting at each sample
    d_left = d_right[:, 1:].copy()  # ... and at the next sample, on the same piece
    e_gap = sol.interval(grid[:-1])
    jump = np.flatnonzero(sol.interval(grid[1:]) != e_gap)  # the next sample is an event time
    if jump.size:
        ss = np.repeat(np.arange(m), jump.size)
        jj = np.tile(jump, m)
        d_left[:, jump] = sol.at(ss, grid[jj + 1], rows, 1, e_gap[jj])[:, 0].reshape(m, -1)
    seg = np.full(G, -1)
    for k in range(K):
        seg[seg_lo[k] : seg_hi[k] + 1] = k
    same_seg = (seg[:-1] == seg[1:]) & (seg[:-1] >= 0)
    s_t, j_t = np.nonzero((d_right[:, :-1] > 0) & (d_left < 0) & same_seg[None, :])
    cmax, tmax = np.empty((m, K)), np.empty((m, K))
    for k in range(K):
        j = np.argmax(conc[:, seg_lo[k] : seg_hi[k] + 1], axis=1) + seg_lo[k]
        cmax[:, k], tmax[:, k] = conc[np.arange(m), j], grid[j]
    if s_t.size:
        e_t = e_gap[j_t]

        def fun(t: IntArray, x: FloatArray) -> Any:
            d = sol.at(s_t[t], x, rows, (1, 2), e_t[t])
            return d[0, :, 0], d[1, :, 0]

        root = newton_root(fun, grid[j_t], grid[j_t + 1], d_right[s_t, j_t], d_left[s_t, j_t])
        c_root = sol.at(s_t, root, rows, 0, e_t)[:, 0]
        k_t = seg[j_t]
        # the largest root per (subject, interval): sort by key, then by value descending
        key = s_t * K + k_t
        o = np.lexsort((-c_root, key))
        first = np.r_[True, key[o][1:] != key[o][:-1]]
        best = o[first]
        bs, bk = s_t[best], k_t[best]
        better = c_root[best] > cmax[bs, bk]
        cmax[bs[better], bk[better]] = c_root[best][better]
        tmax[bs[better], bk[better]] = root[best][better]
    return cmax, tmax


def exposure_chunk_from_pieces(
    spec: ModelSpec,
    names: list[str],
    parts: list[tuple[IntArray, PiecewiseSolution]],
    ids: FloatArray,
    iv: FloatArray,
    t_end: float,
    thresholds: list[tuple[str, float]],
) -> _Chunk:
    """Exact exposure of every subject from the pieces of ``spec`` with integral compartments
    (:meth:`ModelSpec.with_auc_compartments`), as :func:`ketasim.exposure.compute_exposure`."""
    analytes = spec.get_analytes() or ("CP",)
    if spec.get_analytes():
        centrals = [spec.compartments[spec.get_central_index(a)].name for a in analytes]
    else:
        centrals = [spec.compartments[spec.get_default_observation_index()].name]
    n, K = ids.size, iv.shape[0]
    tol = TIME_TOL * max(1.0, t_end)
    cmax_iv = {a: np.zeros((n, K)) for a in analytes}
    tmax_iv = {a: np.zeros((n, K)) for a in analytes}
    auc_iv = {a: np.zeros((n, K)) for a in analytes}
    auc = {a: np.zeros(n) for a in analytes}
    spans: dict[tuple[str, float], list[tuple[IntArray, FloatArray, FloatArray]]] = {
        key: [] for key in thresholds
    }
    bounds = np.unique(np.r_[iv[:, 0], t_end])
    pos = np.searchsorted(bounds, iv)
    for subjects, sol in parts:
        grid, regular = sample_grid(sol.t_ev, t_end, iv)
        rows = np.array([names.index(a) for a in analytes])
        both = np.moveaxis(_on_samples(sol, grid, regular, rows), 2, 0)  # (2A, m, G)
        conc, slope = np.maximum(both[: rows.size], 0.0), both[rows.size :]
        m = subjects.size
        lo_i, hi_i = np.searchsorted(grid, iv[:, 0], "left"), np.searchsorted(grid, iv[:, 1])
        hi_i[-1] = grid.size
        for i, a in enumerate(analytes):
            c, t = _peaks(sol, int(rows[i]), conc[i], slope[i], grid, lo_i, hi_i - 1)
            cmax_iv[a][subjects], tmax_iv[a][subjects] = c, t
        cum = sol.grid(bounds, np.array([names.index(f"AUC_{c}") for c in centrals]))
        for i, a in enumerate(analytes):
            auc_iv[a][subjects] = np.maximum(cum[:, pos[:, 1], i] - cum[:, pos[:, 0], i], 0.0)
            auc[a][subjects] = np.maximum(cum[:, -1, i] - cum[:, 0, i], 0.0)
        for a, thr in thresholds:
            i = analytes.index(a)
            s_k = np.repeat(np.arange(m)[:, None], K, axis=1).ravel()
            probe = _Probe(sol, rows)
            refine = _Crossing(sol, rows[i : i + 1], thr)
            ss, sa, sb = _time_above(
                probe, analytes, i, m, grid, conc[i], s_k,
                tmax_iv[a][subjects].ravel(), cmax_iv[a][subjects].ravel(), thr, tol, refine,
            )  # fmt: skip
            spans[(a, thr)].append((subjects[ss], sa, sb))
    return _Chunk(
        ids,
        cmax_iv,
        tmax_iv,
        auc_iv,
        auc,
        {key: tuple(np.concatenate(x) for x in zip(*v, strict=True)) for key, v in spans.items()},  # type: ignore[misc]
    )
