"""Runs records bound to a model through the solver and shapes one :class:`Result`.

Owns what happens after :mod:`ketasim.binding`: compiling each subject group's schedule once,
solving on a shared grid (chunked over subjects, optionally threaded) or at every record, the
concentration outputs (analytes and effect sites; volumes of the epoch in force), time after
dose, and the guarantee that no NaN, inf or negative concentration leaves. It reads no files and
parses no units; :func:`ketasim.simulate.simulate` is the public entry point.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import numpy.typing as npt

from ketasim.binding import BoundRecords, SubjectGroup
from ketasim.errors import EventError, ParameterError, SolverError
from ketasim.results import Result
from ketasim.solver import compile_schedule, linear_rhs, solve_linear, solve_ode
from ketasim.solver.linear import uniform_groups
from ketasim.solver.ode import saturable_rhs
from ketasim.solver.piecewise import PiecewiseSolution, solve_piecewise
from ketasim.solver.schedule import RecordTemplate
from ketasim.spec import ModelSpec

__all__ = ["solve_grid", "solve_pieces", "solve_records"]

FloatArray = npt.NDArray[np.float64]
_TEMPLATE_FIELDS = (
    "time",
    "evid",
    "cmt",
    "amt",
    "rate",
    "ii",
    "addl",
    "ss",
    "f",
    "lag",
    "mrate",
    "mdur",
    "epoch",
    "record_numbers",
)
_AFTER_EVERYTHING = 1 << 41  # output order: after every event at the same time (post-dose)
_MAX_WORK = 2_000_000_000  # subjects x outputs x compartments beyond which a run is refused


def _output_order_after(n_engine: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """Order key of an output that follows the first ``n_engine`` template records.

    NOTE: matches :func:`ketasim.solver.schedule.get_output_orders` (record ``k``'s output is
    ``4k + 3``); before every record it is -1 (after the schedule's initial no-op event).
    """
    return (4 * n_engine - 1).astype(np.int64)


# --- outputs: which compartments, with which weights ----------------------------------------
def _outputs(spec: ModelSpec) -> list[tuple[str, int, str | None]]:
    """(name, compartment index, volume parameter or None) of every concentration output."""
    out: list[tuple[str, int, str | None]] = []
    if spec.generic and not spec.get_analytes():
        i = spec.get_default_observation_index()
        return [("CP", i, spec.compartments[i].volume)]
    for a in spec.get_analytes():
        i = spec.get_central_index(a)
        out.append((a, i, spec.compartments[i].volume))
    for i, c in enumerate(spec.compartments):
        if c.kind == "effect":
            out.append((f"{c.analyte or c.name.lower()}_ce", i, None))
    return out


def _compile(group: SubjectGroup, bound: BoundRecords) -> Any:
    """Compile a group's schedule; on an error, find the subject and record it concerns."""
    n = group.subjects.size
    try:
        return compile_schedule(group.template, n)
    except EventError:
        if n == 1:
            raise
    tpl = group.template
    for k, s in enumerate(group.subjects):
        one = RecordTemplate(
            **{
                name: (
                    getattr(tpl, name)[k : k + 1]
                    if np.ndim(getattr(tpl, name)) == 2
                    else getattr(tpl, name)
                )
                for name in _TEMPLATE_FIELDS
            },
            subject=_fmt_id(bound.data["ID"][bound.first_row[s]]),
        )
        compile_schedule(one, 1)  # raises naming this subject
    raise SolverError("schedule compilation failed for a group but for none of its subjects")


def _fmt_id(x: float) -> object:
    return int(x) if float(x).is_integer() else float(x)


def _weights(spec: ModelSpec, group: SubjectGroup, outs: list[Any]) -> FloatArray:
    n, c = group.subjects.size, spec.n_compartments
    W = np.zeros((n, len(outs), c))
    for j, (_, i, vol) in enumerate(outs):
        W[:, j, i] = 1.0 if vol is None else 1.0 / group.epoch_params[vol][:, 0]
    return W


def _chunks(n: int, size: int) -> Iterator[slice]:
    for a in range(0, n, size):
        yield slice(a, min(n, a + size))


def solve_grid(
    bound: BoundRecords,
    times: FloatArray,
    unit: str,
    keep_amounts: bool,
    method: str,
    rtol: float,
    chunk_size: int | None,
    workers: int,
) -> Result:
    spec = bound.spec
    N, T, n = bound.n_subjects, times.size, spec.n_compartments
    outs = _outputs(spec)
    if N * T * (len(outs) + n) > _MAX_WORK:
        raise ParameterError(
            f"{N} subjects x {T} output times is beyond what one call computes "
            f"({_MAX_WORK:.0e} values): use fewer times or a population run in blocks"
        )
    conc = np.empty((N, T, len(outs)))
    amts = np.empty((N, T, n)) if keep_amounts else None
    out_order = np.full(T, _AFTER_EVERYTHING, dtype=np.int64)
    for g in bound.groups:
        m = g.subjects.size
        W = _weights(spec, g, outs)
        varying_volume = any(
            vol is not None and np.any(g.epoch_params[vol] != g.epoch_params[vol][:, :1])
            for _, _, vol in outs
        )
        need_amounts = keep_amounts or varying_volume or method == "ode"
        size = chunk_size or max(1, min(m, int(128e6 // max(1, T * (len(outs) + n) * 16))))

        def run(
            sl: slice,
            g: SubjectGroup = g,
            W: FloatArray = W,
            need: bool = need_amounts,
            varying: bool = varying_volume,
        ) -> tuple[slice, FloatArray, FloatArray | None]:
            sub = _take(g, sl)
            sched = _compile(sub, bound)
            if method == "ode":
                amounts = solve_ode(_rhs(spec, sub), n, sched, times, out_order, rtol=rtol,
                                    atol=rtol * 1e-3)  # fmt: skip
            elif need:
                amounts = solve_linear(sub.K, sched, times, out_order)
            else:
                return sl, solve_linear(sub.K, sched, times, out_order, weights=W[sl]), None
            if varying:
                c = _conc_time_varying(spec, sub, outs, amounts, times)
            else:
                c = np.einsum("nmi,nti->ntm", W[sl], amounts)
            return sl, c, amounts

        chunks = list(_chunks(m, size))
        results: Any
        if workers > 1 and len(chunks) > 1:
            from threadpoolctl import threadpool_limits

            # NOTE: one BLAS/numba thread per worker thread: no oversubscription (issue 8)
            with threadpool_limits(limits=1), ThreadPoolExecutor(max_workers=workers) as pool:
                results = list(pool.map(run, chunks))
        else:
            results = [run(sl) for sl in chunks]
        for sl, c, am in results:
            rows: Any = g.subjects[sl]
            if rows.size and rows[-1] - rows[0] + 1 == rows.size and np.all(np.diff(rows) == 1):
                rows = slice(int(rows[0]), int(rows[-1]) + 1)  # a block copy, not a scatter
            conc[rows] = c
            if amts is not None and am is not None:
                amts[rows] = am
    conc = _clean(conc, spec)
    tad = _tad_grid(bound, times)
    params = {k: v[bound.first_row] for k, v in bound.params.items()}
    carried = {c: _per_subject(bound, c) for c in bound.carried}
    return Result(
        spec=spec,
        layout="grid",
        time_h=times,
        ids=bound.data["ID"][bound.first_row].copy(),
        conc={name: conc[:, :, j] for j, (name, _, _) in enumerate(outs)},
        tad_h=tad,
        amounts=amts,
        params=params,
        unit=unit,
        carried=carried,
        notes=_notes(bound),
    )


def solve_pieces(
    bound: BoundRecords, t_end: float
) -> tuple[list[str], list[tuple[npt.NDArray[np.intp], PiecewiseSolution]]] | None:
    """Closed-form pieces of every concentration output and every integral (AUC) compartment
    of a linear model (:mod:`ketasim.solver.piecewise`), per subject group.

    Returns the output names (concentrations as in :func:`solve_grid`, then ``AUC_<central>``
    amounts) and ``(subjects, solution)`` per group; None when some group is not supported
    (time-varying parameters, subject-specific event times, the expm fallback): callers then
    use :func:`solve_grid`.
    """
    spec = bound.spec
    if not spec.is_linear:
        return None
    outs = _outputs(spec)
    integral = [(c.name, i) for i, c in enumerate(spec.compartments) if c.kind == "integral"]
    names = [name for name, _, _ in outs] + [name for name, _ in integral]
    parts = []
    for g in bound.groups:
        if g.K.shape[1] != 1:
            return None
        W = _weights(spec, g, outs)
        if integral:
            extra = np.zeros((g.subjects.size, len(integral), spec.n_compartments))
            for j, (_, i) in enumerate(integral):
                extra[:, j, i] = 1.0
            W = np.concatenate([W, extra], axis=1)
        sched = _compile(g, bound)
        rows = [np.arange(g.subjects.size)] if sched.has_uniform_times() else uniform_groups(sched)
        if len(rows) > 16:
            return None
        for r in rows:
            sol = solve_piecewise(g.K[r], sched.take(r), W[r], t_end)
            if sol is None:
                return None
            parts.append((g.subjects[r], sol))
    return names, parts


def clean_concentrations(conc: FloatArray, spec: ModelSpec) -> FloatArray:
    """The guarantee of every engine output: no NaN, inf or negative concentration leaves."""
    return _clean(conc, spec)


def _per_subject(bound: BoundRecords, column: str) -> npt.NDArray[Any]:
    d = bound.data
    v = d.text_columns[column] if column in d.text_columns else d[column]
    return np.asarray(v)[bound.first_row]


def _notes(bound: BoundRecords) -> tuple[str, ...]:
    out = [f"time-varying dataset values applied {bound.fill.upper()}"]
    return tuple(out)


def _take(g: SubjectGroup, sl: slice) -> SubjectGroup:
    if sl.start == 0 and sl.stop == g.subjects.size:
        return g
    tpl = g.template

    def cut(a: Any) -> Any:
        return a[sl] if np.ndim(a) == 2 else a

    return SubjectGroup(
        subjects=g.subjects[sl],
        template=RecordTemplate(
            **{name: cut(getattr(tpl, name)) for name in _TEMPLATE_FIELDS},
            subject=tpl.subject,
        ),
        K=g.K[sl],
        epoch_params={k: v[sl] for k, v in g.epoch_params.items()},
    )


def _rhs(spec: ModelSpec, g: SubjectGroup) -> list[Any]:
    if spec.is_linear:
        return [linear_rhs(g.K[i]) for i in range(g.subjects.size)]
    out = []
    for i in range(g.subjects.size):
        one = {k: v[i] for k, v in g.epoch_params.items()}
        out.append(saturable_rhs(g.K[i], spec.compute_saturable_terms(one)))
    return out


def _conc_time_varying(
    spec: ModelSpec, g: SubjectGroup, outs: list[Any], amounts: FloatArray, times: FloatArray
) -> FloatArray:
    """Concentrations when a volume changes within a subject: V of the epoch in force."""
    tpl = g.template
    # the epoch in force after every event at time t: the last template record at or before t
    k = np.searchsorted(tpl.time, times, side="right") - 1
    ep = np.where(k >= 0, tpl.epoch[np.maximum(k, 0)], 0)
    c = np.empty((g.subjects.size, times.size, len(outs)))
    for j, (_, i, vol) in enumerate(outs):
        v = 1.0 if vol is None else g.epoch_params[vol][:, ep]
        c[:, :, j] = amounts[:, :, i] / v
    return c


def _clean(conc: FloatArray, spec: ModelSpec) -> FloatArray:
    """No NaN, inf or negative concentration leaves: round-off negatives become 0."""
    if conc.size == 0:
        return conc
    lo, hi = float(np.min(conc)), float(np.max(conc))  # NaN propagates into both
    if not (np.isfinite(lo) and np.isfinite(hi)):
        raise SolverError(
            f"model {spec.id}: the solution is not finite (overflow); check the parameters and "
            "the output times"
        )
    if lo >= 0.0:
        return conc
    if lo < -1e-9 * max(abs(hi), 1e-300) and lo < -1e-12:
        raise SolverError(
            f"model {spec.id}: a negative concentration ({lo:.3g}) came out of the solver; "
            "please report this input"
        )
    return np.maximum(conc, 0.0, out=conc)  # NOTE: in place, no second full-size array


def _tad_grid(bound: BoundRecords, times: FloatArray) -> FloatArray:
    starts, bounds = bound.dose_times
    N = bound.n_subjects
    lens = np.diff(bounds)
    first = starts[bounds[0] : bounds[1]] if N else starts
    shared = bool(np.all(lens == lens[0])) and all(
        np.array_equal(starts[bounds[i] : bounds[i + 1]], first) for i in range(min(N, 1))
    )
    if shared and N > 1:
        ref = starts[: bounds[1]]
        shared = bool(
            np.array_equal(starts.reshape(N, -1), np.broadcast_to(ref, (N, ref.size)))
            if lens[0]
            else True
        )
    if shared:
        # NOTE: one row shared by every subject (read-only view): no subjects x times writes
        return np.broadcast_to(_tad(first, times), (N, times.size))
    out = np.empty((N, times.size))
    for i in range(N):
        out[i] = _tad(starts[bounds[i] : bounds[i + 1]], times)
    return out


def _tad(dose_starts: FloatArray, t: FloatArray) -> FloatArray:
    if dose_starts.size == 0:
        return np.full(t.shape, -1.0)
    k = np.searchsorted(dose_starts, t, side="right") - 1
    return np.where(k >= 0, t - dose_starts[np.maximum(k, 0)], -1.0)


def solve_records(bound: BoundRecords, unit: str, method: str, rtol: float) -> Result:
    spec = bound.spec
    data = bound.data
    R, n = len(data), spec.n_compartments
    outs = _outputs(spec)
    amounts = np.zeros((R, n))
    counts = np.diff(np.r_[bound.first_row, R])
    time = data["TIME"]
    order_all = _output_order_after(bound.engine_count)
    for g in bound.groups:
        m = g.subjects.size
        T = int(counts[g.subjects].max())
        rows = bound.first_row[g.subjects][:, None] + np.arange(T)[None, :]
        valid = np.arange(T)[None, :] < counts[g.subjects][:, None]
        rows = np.where(valid, rows, 0)
        out_time = np.where(valid, time[rows], np.nan)
        out_order = np.where(valid, order_all[rows], _AFTER_EVERYTHING)
        sched = _compile(g, bound)
        if method == "ode":
            rhs = _rhs(spec, g)
            a = np.zeros((m, T, n))
            for i in range(m):
                k = int(counts[g.subjects[i]])
                a[i, :k] = solve_ode(
                    rhs[i], n, sched.take(slice(i, i + 1)), out_time[i, :k], out_order[i, :k],
                    rtol=rtol, atol=rtol * 1e-3,
                )[0]  # fmt: skip
        else:
            a = solve_linear(g.K, sched, out_time, out_order)
        amounts[rows[valid]] = a[valid]
    conc: dict[str, FloatArray] = {}
    for name, i, vol in outs:
        c = amounts[:, i] if vol is None else amounts[:, i] / bound.params[vol]
        conc[name] = c
    stacked = _clean(np.stack(list(conc.values()), axis=-1), spec)
    conc = {name: stacked[:, j] for j, name in enumerate(conc)}
    # NOTE: round-off negatives scale with the amounts (AMT 1e16 mg gave -2 mg): relative bound
    tiny = max(1e-12, 1e-12 * float(np.abs(amounts).max(initial=0.0)))
    amounts = np.where((amounts < 0) & (amounts > -tiny), 0.0, amounts)
    starts, bounds = bound.dose_times
    tad = np.empty(R)
    for i in range(bound.n_subjects):
        lo, hi = int(bound.first_row[i]), int(bound.first_row[i] + counts[i])
        tad[lo:hi] = _tad(starts[bounds[i] : bounds[i + 1]], time[lo:hi])
    carried = {
        c: (data.text_columns[c] if c in data.text_columns else data[c]) for c in bound.carried
    }
    return Result(
        spec=spec,
        layout="records",
        time_h=time.copy(),
        ids=data["ID"][bound.first_row].copy(),
        conc=conc,
        tad_h=tad,
        amounts=amounts,
        params=dict(bound.params),
        unit=unit,
        subject=bound.subject,
        evid=data["EVID"].copy(),
        cmt=data["CMT"].copy() if "CMT" in data.columns else None,
        carried=carried,
        notes=_notes(bound),
    )
