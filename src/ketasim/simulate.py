"""The one place where a model, a dosing history and output times meet: :func:`simulate`.

Every simulation takes one path: the events (a people-facing
:class:`~ketasim.events.Regimen`, NONMEM records as a :class:`~ketasim.events.Dataset`, a pandas
DataFrame or a CSV path) become records (:meth:`Regimen.to_records`), the records are bound to
the model (:mod:`ketasim.binding`: routes, compartments, time-varying values, ETAs, dose
plausibility, validity ranges, subject groups), each group of subjects is compiled once and solved
in one batch (exact linear solution, or the ODE path for nonlinear models), and one
:class:`~ketasim.results.Result` comes out. Library models run in canonical units (h, mg, L,
mg/L); generic ``pk*`` models in the user's own consistent units.

``simulate_regimen`` and ``simulate_dataset`` are kept as thin wrappers of :func:`simulate`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import numpy.typing as npt

from ketasim.binding import BoundRecords, SubjectGroup, bind_records
from ketasim.errors import EventError, ParameterError, SolverError
from ketasim.events import Dataset, Regimen
from ketasim.individual import derive_per_dose_covariates
from ketasim.results import Result
from ketasim.solver import compile_schedule, linear_rhs, solve_linear, solve_ode
from ketasim.solver.ode import saturable_rhs
from ketasim.solver.schedule import RecordTemplate
from ketasim.spec import ModelSpec
from ketasim.units import convert_magnitude, get_conc_factor

__all__ = ["Result", "simulate", "simulate_dataset", "simulate_regimen"]

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


def _as_dataset(events: Any, time_unit: str, generic: bool) -> Dataset:
    if isinstance(events, Dataset):
        data = events
    elif isinstance(events, (str, os.PathLike)):
        from ketasim.io.nonmem_csv import read_nonmem_csv

        data = read_nonmem_csv(events)
    elif hasattr(events, "columns") and hasattr(events, "dtypes"):
        data = Dataset.from_pandas(events)
    else:
        raise EventError(
            f"events must be a Regimen, a Dataset, a pandas DataFrame or a CSV path, not "
            f"{type(events).__name__}"
        )
    if time_unit != "h":
        if generic:
            raise ParameterError(
                f"time_unit={time_unit!r}: generic models run in your own units; convert TIME "
                "yourself"
            )
        f = convert_magnitude(1.0, time_unit, "h", what="time_unit")
        rate = data["RATE"]
        data = data.with_columns(
            TIME=data["TIME"] * f,
            II=data["II"] * f,
            RATE=np.where(rate > 0, rate / f, rate),
        )
    return data


def _n_subjects(*values: Any) -> int:
    n = 1
    for v in values:
        if v is None:
            continue
        items = v.values() if isinstance(v, Mapping) else [v]
        for x in items:
            shape = np.shape(x) if not isinstance(x, str) else ()
            if len(shape) >= 1 and shape[0] > 1:
                if n > 1 and shape[0] != n:
                    raise ParameterError(
                        f"per-subject inputs disagree on the number of subjects ({n} vs {shape[0]})"
                    )
                n = shape[0]
    return n


def _regimen_records(
    spec: ModelSpec,
    regimen: Regimen,
    covariates: Mapping[str, Any] | None,
    etas: Any,
    params: Mapping[str, Any] | None,
    weight_kg: Any,
) -> tuple[Dataset, dict[str, Any] | None]:
    covs = dict(covariates or {})
    covs.update(derive_per_dose_covariates(spec, regimen, covs))
    n = _n_subjects(covs, None if etas is None else np.atleast_2d(np.asarray(etas)), params,
                    weight_kg)  # fmt: skip
    wt = covs.get("WT")
    if weight_kg is not None:
        if wt is not None and not np.allclose(np.asarray(wt, float), np.asarray(weight_kg, float)):
            raise ParameterError("weight_kg and covariate WT disagree: give the weight once")
        if "WT" in spec.covariates and wt is None:
            covs["WT"] = weight_kg
        wt = weight_kg
    if wt is not None and not isinstance(wt, str):
        try:
            w = np.broadcast_to(np.asarray(wt, dtype=float), (n,))
        except (TypeError, ValueError):
            raise ParameterError(
                f"covariate WT={wt!r}: give the body weight as a number in kg (e.g. 70)"
            ) from None
    elif isinstance(wt, str):
        raise ParameterError(f"covariate WT={wt!r}: give the body weight as a number in kg")
    else:
        w = None
    if regimen.has_per_kg_doses and w is None:
        raise EventError(
            "a per-kg dose needs the body weight: give weight_kg (or the covariate WT, kg)"
        )
    weights = w if w is not None else np.ones(n)
    return regimen.to_records(weight_kg=weights), (covs or None)


def simulate(
    model: ModelSpec | str,
    events: Any,
    times_h: Any = None,
    *,
    covariates: Mapping[str, Any] | None = None,
    etas: Any = None,
    params: Mapping[str, Any] | None = None,
    weight_kg: Any = None,
    fill: str = "nocb",
    time_unit: str = "h",
    unit: str = "ng/mL",
    keep_amounts: bool = False,
    method: str = "auto",
    rtol: float = 1e-10,
    chunk_size: int | None = None,
    workers: int = 1,
    check_validity: bool = True,
) -> Result:
    """Simulate a model for a regimen or NONMEM records; one :class:`Result`.

    Parameters
    ----------
    model : ModelSpec or str
        A library model id (``"simons_2022"``), a built-in generic model (``"pk2"``), a path
        to a model file, or a loaded :class:`ModelSpec`.
    events : Regimen, Dataset, pandas.DataFrame or path
        A regimen (doses with units) or NONMEM records (TIME in ``time_unit``, AMT mg, RATE
        mg/``time_unit`` for library models).
    times_h : array (T,), h, optional
        Output grid shared by every subject (an output at a dose time is post-dose). Required
        for a regimen; for records, omit it for one output per record (NONMEM table).
    covariates : mapping, optional
        Covariates in their declared units (e.g. ``WT`` kg), scalars or one value per subject.
    etas : array (subjects, n_eta), optional
        Random effects in the order of the model's IIV block (or ETA columns in the records).
    params : mapping, optional
        Individual parameter values, canonical units (L/h, L, h, 1/h, dimensionless), scalars
        or one value per subject.
    weight_kg : float or array, kg, optional
        Body weight for per-kg doses of a model without a ``WT`` covariate (for a model with
        one, it sets ``WT``).
    fill : {"nocb", "locf"}
        How time-varying covariates and parameters in records apply between records: NONMEM's
        next observation carried backward (default) or last observation carried forward.
    time_unit : str
        Unit of TIME, II (and the time in RATE) in records (default ``"h"``).
    unit : str
        Display unit of concentrations in tables: ng/mL (default), mg/L, ug/mL, ug/L, nmol/L,
        umol/L.
    keep_amounts : bool
        Also keep compartment amounts (always kept for records).
    method : {"auto", "exact", "ode"}
        Exact linear solution, or scipy LSODA (``rtol``); "auto" is exact for linear models and
        the ODE path for models with saturable (Michaelis-Menten) flows.
    chunk_size : int, optional
        Subjects per chunk on a grid (default: about 128 MB of work arrays per chunk).
    workers : int
        Threads over chunks (numpy releases the GIL in the hot loops).
    check_validity : bool
        Warn (ValidityWarning) when covariates leave the model's population range; callers that
        run many blocks of one population check once themselves.

    Returns
    -------
    Result

    Raises
    ------
    EventError, DatasetError, ParameterError, UnitError, ModelError
        Naming the input, record or argument at fault.

    Examples
    --------
    >>> import numpy as np
    >>> from ketasim import Regimen, load_model, simulate
    >>> res = simulate(load_model("herd_2007"), Regimen.from_quantities("1 mg/kg"),
    ...                np.array([0.0, 1.0]), covariates={"WT": 20})
    >>> list(res.to_pandas().columns)[:4]
    ['ID', 'TIME_h', 'TAD_h', 'ketamine_ng_mL']
    """
    spec = _resolve_model(model)
    method = _resolve_method(spec, method)
    get_conc_factor("ketamine", unit, what="unit")
    if not isinstance(workers, int) or isinstance(workers, bool) or workers < 1:
        raise ParameterError(f"workers={workers!r} must be a whole number >= 1")
    if chunk_size is not None and (
        not isinstance(chunk_size, int) or isinstance(chunk_size, bool) or chunk_size < 1
    ):
        raise ParameterError(f"chunk_size={chunk_size!r} must be a whole number >= 1")
    if isinstance(events, Regimen):
        # NOTE: for a generic model the regimen's mg and h are the model's amount and time units
        if times_h is None:
            raise EventError("a regimen needs output times: give times_h (h)")
        data, covariates = _regimen_records(spec, events, covariates, etas, params, weight_kg)
    else:
        if weight_kg is not None:
            raise ParameterError(
                "weight_kg applies to per-kg doses of a Regimen; records carry AMT in mg"
            )
        data = _as_dataset(events, time_unit, spec.generic)
    times = _check_times(times_h) if times_h is not None else None
    bound = bind_records(
        spec,
        data,
        covariates=covariates,
        etas=etas,
        params=params,
        fill=fill,
        check_validity=check_validity,
        t_start_h=float(np.min(times)) if times is not None else None,
    )
    if times is not None:
        return _solve_grid(bound, times, unit, keep_amounts, method, rtol, chunk_size, workers)
    return _solve_records(bound, unit, method, rtol)


def _check_times(times_h: Any) -> FloatArray:
    try:
        times = np.asarray(times_h, dtype=float)
    except (TypeError, ValueError):
        raise EventError("times_h must be numbers (h)") from None
    if times.ndim != 1 or times.size == 0 or not np.all(np.isfinite(times)):
        raise EventError("output times must be a non-empty 1-D array of finite numbers (h)")
    if np.max(np.abs(times)) > 1e7:
        raise EventError(
            f"output time {float(np.max(np.abs(times))):g} h is beyond 1e7 h (1,100 years): "
            "give times in hours"
        )
    return times


def _resolve_model(model: ModelSpec | str) -> ModelSpec:
    if isinstance(model, ModelSpec):
        return model
    if not isinstance(model, str):
        raise ParameterError(f"model must be a ModelSpec or a model id, not {type(model).__name__}")
    from ketasim.library import load_model, load_model_file
    from ketasim.spec import BUILTIN_MODELS, get_builtin_model

    if model in BUILTIN_MODELS:
        return get_builtin_model(model)
    if model.endswith(".toml") or os.sep in model:
        return load_model_file(model)
    return load_model(model)


def _resolve_method(spec: ModelSpec, method: str) -> str:
    if method not in ("auto", "exact", "ode"):
        raise ParameterError(f"method {method!r} must be 'auto', 'exact' or 'ode'")
    if method == "auto":
        return "exact" if spec.is_linear else "ode"
    if method == "exact" and not spec.is_linear:
        raise ParameterError(
            f"model {spec.id} has saturable (nonlinear) flows: use method 'ode' or 'auto'"
        )
    return method


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


def _solve_grid(
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
            with ThreadPoolExecutor(max_workers=workers) as pool:
                results = list(pool.map(run, chunks))
        else:
            results = [run(sl) for sl in chunks]
        for sl, c, am in results:
            rows = g.subjects[sl]
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
    return np.maximum(conc, 0.0)


def _tad_grid(bound: BoundRecords, times: FloatArray) -> FloatArray:
    starts, bounds = bound.dose_times
    N = bound.n_subjects
    lens = np.diff(bounds)
    out = np.empty((N, times.size))
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
        out[:] = _tad(first, times)
        return out
    for i in range(N):
        out[i] = _tad(starts[bounds[i] : bounds[i + 1]], times)
    return out


def _tad(dose_starts: FloatArray, t: FloatArray) -> FloatArray:
    if dose_starts.size == 0:
        return np.full(t.shape, -1.0)
    k = np.searchsorted(dose_starts, t, side="right") - 1
    return np.where(k >= 0, t - dose_starts[np.maximum(k, 0)], -1.0)


def _solve_records(bound: BoundRecords, unit: str, method: str, rtol: float) -> Result:
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
    amounts = np.where((amounts < 0) & (amounts > -1e-12), 0.0, amounts)
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


# --- the former two entry points, kept as thin wrappers ------------------------------------
def simulate_dataset(
    spec: ModelSpec,
    data: Dataset,
    *,
    params: Mapping[str, Any] | None = None,
    covariates: Mapping[str, Any] | None = None,
    method: str = "auto",
    rtol: float = 1e-10,
    fill: str = "nocb",
) -> Result:
    """One output row per record: ``simulate(spec, data, None, ...)`` (kept for callers)."""
    return simulate(
        spec, data, None, params=params, covariates=covariates, method=method, rtol=rtol,
        fill=fill,
    )  # fmt: skip


def simulate_regimen(
    spec: ModelSpec,
    regimen: Regimen,
    times_h: FloatArray,
    *,
    covariates: Mapping[str, Any] | None = None,
    etas: FloatArray | None = None,
    params: Mapping[str, Any] | None = None,
    keep_amounts: bool = False,
    chunk_size: int | None = None,
    workers: int = 1,
    method: str = "auto",
    check_validity: bool = True,
    weight_kg: Any = None,
) -> Result:
    """A regimen on a shared grid: ``simulate(spec, regimen, times_h, ...)`` (kept for callers)."""
    return simulate(
        spec, regimen, times_h, covariates=covariates, etas=etas, params=params,
        keep_amounts=keep_amounts, chunk_size=chunk_size, workers=workers, method=method,
        check_validity=check_validity, weight_kg=weight_kg,
    )  # fmt: skip
