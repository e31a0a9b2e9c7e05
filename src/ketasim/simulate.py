"""The one place where a model, a dosing history and output times meet.

:func:`simulate_dataset` runs a NONMEM-style :class:`~ketasim.events.Dataset` (one output row per
record, like a NONMEM table); :func:`simulate_regimen` runs a people-facing
:class:`~ketasim.events.Regimen` for one or many subjects on a common time grid (the population
hot path: one array computation over subjects x times, chunked to bound memory).

Both resolve individual parameters (typical values, covariate expressions, ETAs, user overrides
and dataset columns), compile the events, and call the exact solver (or the ODE path with
``method="ode"``). Library models run in canonical units (h, mg, L, mg/L); generic ``pk*`` models
in the user's own consistent units.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from ketasim.errors import (
    EventError,
    ModelError,
    ParameterError,
)
from ketasim.events import Dataset, Regimen
from ketasim.individual import check_parameters, compute_individual_parameters, is_modifier
from ketasim.plausibility import check_dose_plausibility, check_validity_range
from ketasim.solver import RecordTemplate, compile_schedule, linear_rhs, solve_linear, solve_ode
from ketasim.solver.ode import saturable_rhs
from ketasim.solver.schedule import Schedule, get_output_orders
from ketasim.spec import ModelSpec
from ketasim.units import convert_magnitude, get_molar_mass_g_per_mol

__all__ = ["DatasetResult", "RegimenResult", "simulate_dataset", "simulate_regimen"]

FloatArray = npt.NDArray[np.float64]
_AFTER_EVERYTHING = 1 << 41  # output order: after every event at the same time (post-dose)


# --- results ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class DatasetResult:
    """One row per input record: ID, TIME, EVID, amounts A1..An and central concentration CP.

    ``amounts`` has shape (records, compartments), in the model's amount unit; ``cp`` is the
    default observation compartment's amount over its volume (mg/L for library models).
    """

    spec: ModelSpec
    ids: FloatArray
    time: FloatArray
    evid: FloatArray
    amounts: FloatArray
    cp: FloatArray

    def to_table(self) -> tuple[list[str], list[list[float]]]:
        """Header and rows of the NONMEM-like output table."""
        header = [
            "ID",
            "TIME",
            "EVID",
            *[f"A{i + 1}" for i in range(self.spec.n_compartments)],
            "CP",
        ]
        rows = np.column_stack([self.ids, self.time, self.evid, self.amounts, self.cp])
        return header, rows.tolist()


@dataclass(frozen=True)
class RegimenResult:
    """Concentrations of every analyte on a time grid, for one or many subjects.

    Attributes
    ----------
    time_h : ndarray (T,), h
    conc : dict analyte -> ndarray (subjects, T), mg/L
    params : dict of individual parameter arrays (canonical units)
    """

    spec: ModelSpec
    time_h: FloatArray
    conc: Mapping[str, FloatArray]
    params: Mapping[str, FloatArray] = field(default_factory=dict)
    amounts: FloatArray | None = None

    @property
    def analytes(self) -> tuple[str, ...]:
        return tuple(self.conc)

    def get_conc(self, analyte: str, unit: str = "ng/mL") -> FloatArray:
        """Concentration of ``analyte`` in ``unit`` (mass or molar per volume).

        Examples
        --------
        >>> from ketasim.library import load_model
        >>> from ketasim.events import Regimen
        >>> import numpy as np
        >>> m = load_model("herd_2007")
        >>> r = simulate_regimen(m, Regimen.from_quantities("20 mg"), np.array([0.0]),
        ...                      covariates={"WT": 20})
        >>> round(float(r.get_conc("ketamine", "ng/mL")[0, 0]), 1)  # 20 mg / (38.7 L x 20/70)
        1808.8
        """
        if analyte not in self.conc:
            raise ModelError(f"no analyte {analyte!r}; simulated: {', '.join(self.conc)}")
        c = self.conc[analyte]
        try:
            return c * convert_magnitude(1.0, "mg/L", unit, what="output unit")
        except Exception:
            mw = get_molar_mass_g_per_mol(analyte)
            factor = convert_magnitude(1.0 / mw, "mmol/L", unit, what="output unit")
            return c * factor


# --- dataset mode -------------------------------------------------------------------------------
def simulate_dataset(
    spec: ModelSpec,
    data: Dataset,
    *,
    params: Mapping[str, Any] | None = None,
    covariates: Mapping[str, Any] | None = None,
    method: str = "auto",
    rtol: float = 1e-10,
) -> DatasetResult:
    """Simulate a NONMEM-style dataset; one output row per record.

    Parameters
    ----------
    spec : ModelSpec
    data : Dataset
        Records; TIME/AMT/RATE in the model's units (h, mg, mg/h for library models). Columns
        named like a parameter, a dose modifier (F1, ALAG2, R1, D1 ...) or a covariate give
        per-record values (carried forward from each record).
    params : mapping, optional
        Constant parameter values (overridden by dataset columns of the same name).
    covariates : mapping, optional
        Constant covariates (overridden by columns).
    method : {"auto", "exact", "ode"}
        Exact linear solution or scipy LSODA (``rtol``); "auto" is exact for linear models and
        the ODE path for models with saturable (Michaelis-Menten) flows.

    Returns
    -------
    DatasetResult

    Raises
    ------
    EventError
        Naming the record, for an unknown compartment or an invalid dose.
    """
    method = _resolve_method(spec, method)
    n = spec.n_compartments
    params = {spec.aliases.get(k, k): v for k, v in (params or {}).items()}
    covariates = dict(covariates or {})
    col_params = [
        c
        for c in data.extra_columns
        if spec.aliases.get(c, c) in spec.get_parameter_names() or is_modifier(c, spec)
    ]
    col_covs = [c for c in data.extra_columns if c in spec.covariates]
    templates: list[RecordTemplate] = []
    Ks: list[FloatArray] = []
    terms: list[Any] = []
    outs: list[tuple[FloatArray, npt.NDArray[np.int64], FloatArray]] = []
    for sl in data.get_subject_slices():
        cols = {k: v[sl] for k, v in data.columns.items()}
        nrec = len(cols["ID"])
        recnos = data.record_numbers[sl]
        ident = cols["ID"][0]
        p_in: dict[str, Any] = dict(params)
        for c in col_params:
            p_in[spec.aliases.get(c, c)] = cols[c]
        cv = dict(covariates)
        for c in col_covs:
            cv[c] = cols[c]
        try:
            p = compute_individual_parameters(spec, covariates=cv, params=p_in)
            check_parameters(spec, p)
        except (ParameterError, ModelError) as exc:
            raise EventError(str(exc), record=int(recnos[0]), subject=_fmt_id(ident)) from None
        p = {k: np.broadcast_to(v, (nrec,)) for k, v in p.items()}
        varying = any(np.any(v != v[0]) for v in p.values())
        epoch = np.arange(nrec) if varying else np.zeros(nrec, dtype=np.int64)
        if varying:
            K = spec.compute_rate_matrix(p)  # (nrec, n, n)
        else:
            K = spec.compute_rate_matrix({k: v[0] for k, v in p.items()})[None]
        cmt = cols["CMT"].astype(np.int64)
        evid = cols["EVID"].astype(np.int64)
        dose = np.isin(evid, (1, 4))
        bad = cmt > n
        if np.any(bad):
            i = int(np.flatnonzero(bad)[0])
            raise EventError(
                f"CMT={cmt[i]} does not exist in model {spec.id} (compartments 1..{n}: "
                + ", ".join(c.name for c in spec.compartments)
                + ")",
                record=int(recnos[i]),
                subject=_fmt_id(ident),
            )
        cmt0 = np.where(
            cmt > 0,
            cmt - 1,
            np.where(dose, spec.get_default_dose_index(), spec.get_default_observation_index()),
        )
        f, lag, mrate, mdur = (np.full(nrec, d) for d in (1.0, 0.0, np.nan, np.nan))
        route_mods = _route_modifiers_by_compartment(spec)
        for r in np.flatnonzero(dose):
            num = int(cmt0[r]) + 1
            for arr, m in ((f, "F"), (lag, "ALAG"), (mrate, "R"), (mdur, "D")):
                key = f"{m}{num}"
                if key in p:
                    arr[r] = p[key][r]
                    continue
                ref = route_mods.get((int(cmt0[r]), m))
                if ref is None:
                    continue
                if isinstance(ref, str) and ref.startswith("?"):
                    raise EventError(
                        f"compartment {num} ({spec.compartments[int(cmt0[r])].name}) is a dose "
                        f"input of routes with different {m} ({ref[1:]}): give a {key} column",
                        record=int(recnos[r]),
                        subject=_fmt_id(ident),
                    )
                arr[r] = float(np.asarray(p[ref])[r]) if isinstance(ref, str) else float(ref)
        if not spec.generic and np.any(dose):
            wt = cv.get("WT")
            check_dose_plausibility(
                cols["AMT"][dose],
                np.where(cols["RATE"][dose] > 0, cols["RATE"][dose], 0.0),
                None if wt is None else np.broadcast_to(np.asarray(wt, float), (nrec,))[dose],
                f"ID {_fmt_id(ident)}",
            )
        templates.append(
            RecordTemplate(
                time=cols["TIME"],
                evid=evid,
                cmt=cmt0,
                amt=cols["AMT"][None],
                rate=cols["RATE"][None],
                ii=cols["II"],
                addl=cols["ADDL"].astype(np.int64),
                ss=cols["SS"].astype(np.int64),
                f=f[None],
                lag=lag[None],
                mrate=mrate[None],
                mdur=mdur[None],
                epoch=epoch.astype(np.int64),
                record_numbers=recnos,
                subject=_fmt_id(ident),
            )
        )
        Ks.append(K)
        terms.append(spec.compute_saturable_terms(p))
        vol = spec.get_compartment(
            spec.compartments[spec.get_default_observation_index()].name
        ).volume
        outs.append(
            (cols["TIME"], get_output_orders(nrec), p[vol] if vol else np.full(nrec, np.nan))
        )
    scheds = [compile_schedule(t, 1) for t in templates]
    sched = _concat_schedules(scheds)
    P = max(k.shape[0] for k in Ks)
    K_all = np.stack([np.concatenate([k, np.repeat(k[-1:], P - k.shape[0], 0)]) for k in Ks])
    T = max(len(o[0]) for o in outs)
    out_time = np.full((len(outs), T), np.nan)
    for i, o in enumerate(outs):
        out_time[i, : len(o[0])] = o[0]
    out_order = get_output_orders(T)
    if method == "exact":
        amounts = solve_linear(K_all, sched, out_time, out_order)
    else:
        rhs = [
            saturable_rhs(k, t) if t else linear_rhs(k) for k, t in zip(K_all, terms, strict=True)
        ]
        amounts = _ode_ragged(rhs, n, sched, outs, rtol)
    rows_a, rows_cp = [], []
    obs = spec.get_default_observation_index()
    for i, o in enumerate(outs):
        a = amounts[i, : len(o[0])]
        rows_a.append(a)
        rows_cp.append(a[:, obs] / o[2])
    return DatasetResult(
        spec=spec,
        ids=data["ID"].copy(),
        time=data["TIME"].copy(),
        evid=data["EVID"].copy(),
        amounts=np.concatenate(rows_a),
        cp=np.concatenate(rows_cp),
    )


def _route_modifiers_by_compartment(spec: ModelSpec) -> dict[tuple[int, str], str | float]:
    """(compartment index, F/ALAG/R/D) -> the model's route parameter for doses written as records.

    A NONMEM dataset names compartments, not routes: a dose into a compartment that the model's
    routes feed with a bioavailability, lag or modelled rate/duration gets that parameter, so that
    dataset and regimen simulations agree. When routes disagree the value is ``"?<routes>"`` and
    the dose must say which (an ``F<n>``/``ALAG<n>`` ... column).
    """
    found: dict[tuple[int, str], dict[str, str | float]] = {}
    for route in spec.routes.values():
        for inp in route.inputs:
            i = spec.get_compartment_index(inp.cmt)
            for m, ref in (("F", inp.F), ("ALAG", inp.lag), ("R", inp.rate), ("D", inp.duration)):
                found.setdefault((i, m), {})[route.name] = (
                    ref if ref is not None else (1.0 if m == "F" else 0.0 if m == "ALAG" else "")
                )
    out: dict[tuple[int, str], str | float] = {}
    for key, by_route in found.items():
        values = set(map(str, by_route.values()))
        if len(values) > 1:
            out[key] = "?" + ", ".join(f"{r}: {v}" for r, v in sorted(by_route.items()))
        else:
            v = next(iter(by_route.values()))
            if v != "":
                out[key] = v
    return out


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


def _subject_terms(spec: ModelSpec, p: Mapping[str, Any], i: int, N: int) -> Any:
    one = {k: np.broadcast_to(np.asarray(v, dtype=float), (N,))[i : i + 1] for k, v in p.items()}
    return spec.compute_saturable_terms(one)


def _ode_ragged(
    rhs: list[Any], n: int, sched: Schedule, outs: list[Any], rtol: float
) -> FloatArray:
    T = max(len(o[0]) for o in outs)
    res = np.zeros((len(outs), T, n))
    for i, o in enumerate(outs):
        k = len(o[0])
        res[i, :k] = solve_ode(
            rhs[i],
            n,
            sched.take(slice(i, i + 1)),
            o[0],
            get_output_orders(k),
            rtol=rtol,
            atol=rtol * 1e-3,
        )[0]
    return res


def _fmt_id(x: float) -> object:
    return int(x) if float(x).is_integer() else float(x)


def _concat_schedules(scheds: Sequence[Schedule]) -> Schedule:
    E = max(s.n_events for s in scheds)
    pad_vals: dict[str, Any] = {
        "time": np.inf,
        "order": 1 << 50,
        "bolus_cmt": -1,
        "rate_cmt": -1,
        "ss_cmt": -1,
        "epoch": -1,
    }
    fields = list(Schedule.__dataclass_fields__)
    merged: dict[str, Any] = {}
    for name in fields:
        parts = []
        for s in scheds:
            a = getattr(s, name)
            if a.shape[1] < E:
                fill = pad_vals.get(name, 0)
                a = np.concatenate(
                    [a, np.full((a.shape[0], E - a.shape[1]), fill, dtype=a.dtype)], 1
                )
            parts.append(a)
        merged[name] = np.concatenate(parts, axis=0)
    return Schedule(**merged)


# --- regimen / population mode ------------------------------------------------------------------
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
) -> RegimenResult:
    """Simulate a regimen for one or many subjects on a common time grid.

    Parameters
    ----------
    spec : ModelSpec
        A library model (canonical units).
    regimen : Regimen
        Doses; per-kg doses use the covariate ``WT`` (kg) of each subject.
    times_h : ndarray (T,), h
        Output times (sorted or not; returned as given). An output at a dose time is post-dose.
    covariates : mapping, optional
        Covariates in their declared units, scalars or arrays (subjects,).
    etas : ndarray (subjects, n_eta), optional
        Random effects; their row count sets the number of subjects.
    params : mapping, optional
        Individual parameter overrides, canonical units.
    keep_amounts : bool
        Also return all compartment amounts (subjects, T, n), mg.
    chunk_size : int, optional
        Subjects per chunk (default: bounded to about 64 MB of work arrays per chunk).
    workers : int
        Threads over chunks (numpy releases the GIL in the hot loops).
    method : {"auto", "exact", "ode"}
        As for :func:`simulate_dataset`.
    check_validity : bool
        Warn (ValidityWarning) when weight or age leave the model's population range; callers
        that run many blocks of one population check once themselves.

    Returns
    -------
    RegimenResult
        Concentrations in mg/L per analyte.
    """
    times = np.asarray(times_h, dtype=float)
    if times.ndim != 1 or times.size == 0 or not np.all(np.isfinite(times)):
        raise EventError("output times must be a non-empty 1-D array of finite numbers (h)")
    method = _resolve_method(spec, method)
    p = compute_individual_parameters(spec, covariates=covariates, etas=etas, params=params)
    check_parameters(spec, p)
    if check_validity:
        check_validity_range(spec, covariates or {})
    N = max([1, *(np.shape(v)[0] for v in p.values() if np.ndim(v) >= 1)])
    for k, v in p.items():
        if np.ndim(v) > 1 or (np.ndim(v) == 1 and v.shape[0] not in (1, N)):
            raise ParameterError(
                f"parameter {k} has shape {np.shape(v)}, expected ({N},) or scalar"
            )
    weight: FloatArray | None = None
    if covariates is not None and "WT" in covariates:
        weight = np.broadcast_to(np.asarray(covariates["WT"], dtype=np.float64), (N,))
    tpl = _regimen_template(spec, regimen, p, N, weight)
    n = spec.n_compartments
    analytes = spec.get_analytes()
    W = np.zeros((N, len(analytes), n))
    for j, a in enumerate(analytes):
        i = spec.get_central_index(a)
        vol = spec.compartments[i].volume
        W[:, j, i] = 1.0 / np.broadcast_to(p[str(vol)], (N,))
    K = spec.compute_rate_matrix({k: np.broadcast_to(v, (N,)) for k, v in p.items()})[:, None]
    if chunk_size is None:
        # NOTE: about 128 MB of work arrays per chunk (outputs plus per-event states)
        per_subject = max(1, times.size * (len(analytes) + n) * 8 * 2)
        chunk_size = max(1, min(N, int(128e6 // per_subject)))
    out_order = np.full(times.size, _AFTER_EVERYTHING, dtype=np.int64)
    chunks = list(_chunks(N, chunk_size))

    def run(sl: slice) -> tuple[slice, FloatArray, FloatArray | None]:
        sub = _take_template(tpl, sl, N)
        m = sl.stop - sl.start
        sched = compile_schedule(sub, m)
        if method == "ode":
            rhs: Any = [
                saturable_rhs(K[i], _subject_terms(spec, p, i, N))
                if not spec.is_linear
                else linear_rhs(K[i])
                for i in range(sl.start, sl.stop)
            ]
            amounts = solve_ode(rhs, n, sched, times, out_order)
            return sl, np.einsum("nmi,nti->ntm", W[sl], amounts), amounts if keep_amounts else None
        if keep_amounts:
            amounts = solve_linear(K[sl], sched, times, out_order)
            return sl, np.einsum("nmi,nti->ntm", W[sl], amounts), amounts
        return sl, solve_linear(K[sl], sched, times, out_order, weights=W[sl]), None

    conc = np.empty((N, times.size, len(analytes)))
    amts = np.empty((N, times.size, n)) if keep_amounts else None
    if workers > 1 and len(chunks) > 1:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            results: Iterator[tuple[slice, FloatArray, FloatArray | None]] = pool.map(run, chunks)
            for sl, c, am in results:
                conc[sl] = c
                if amts is not None and am is not None:
                    amts[sl] = am
    else:
        for sl in chunks:
            _, c, am = run(sl)
            conc[sl] = c
            if amts is not None and am is not None:
                amts[sl] = am
    return RegimenResult(
        spec=spec,
        time_h=times,
        conc={a: conc[:, :, j] for j, a in enumerate(analytes)},
        params=p,
        amounts=amts,
    )


def _chunks(n: int, size: int) -> Iterator[slice]:
    for a in range(0, n, size):
        yield slice(a, min(n, a + size))


def _take_template(tpl: RecordTemplate, sl: slice, N: int) -> RecordTemplate:
    def cut(a: FloatArray) -> FloatArray:
        return a[sl] if a.shape[0] == N and N > 1 else a

    return RecordTemplate(
        time=tpl.time,
        evid=tpl.evid,
        cmt=tpl.cmt,
        amt=cut(tpl.amt),
        rate=cut(tpl.rate),
        ii=tpl.ii,
        addl=tpl.addl,
        ss=tpl.ss,
        f=cut(tpl.f),
        lag=cut(tpl.lag),
        mrate=cut(tpl.mrate),
        mdur=cut(tpl.mdur),
        epoch=tpl.epoch,
        record_numbers=tpl.record_numbers,
        subject=tpl.subject,
    )


def _regimen_template(
    spec: ModelSpec,
    regimen: Regimen,
    p: Mapping[str, FloatArray],
    N: int,
    weight: FloatArray | None,
) -> RecordTemplate:
    rows: list[dict[str, Any]] = []
    for dose in regimen.doses:
        route = spec.get_route(dose.route)
        if dose.tinf_h > 0 and not route.infusion:
            raise EventError(
                f"route {dose.route!r} of model {spec.id} is not an infusion "
                "route: drop the duration"
            )
        if dose.per_kg and weight is None:
            raise EventError("a per-kg dose needs the body weight: give the covariate WT (kg)")
        amt = dose.amt * weight if dose.per_kg and weight is not None else np.full(N, dose.amt)
        per_kg_amt = np.asarray(amt, dtype=float)
        if not spec.generic:
            inf_rate = per_kg_amt / dose.tinf_h if dose.tinf_h > 0 else np.zeros(N)
            check_dose_plausibility(
                np.where(dose.tinf_h > 0, 0.0, per_kg_amt),
                inf_rate,
                weight,
                f"dose at {dose.time_h:g} h",
            )
        for inp in route.inputs:
            cmt = spec.get_compartment_index(inp.cmt)
            f = _route_value(p, inp.F, N, 1.0)
            lag = _route_value(p, inp.lag, N, 0.0)
            if inp.duration is not None:
                if dose.tinf_h > 0:
                    raise EventError(
                        f"route {dose.route!r} has a modelled absorption "
                        "duration; do not give a duration"
                    )
                rate, mrate, mdur = (
                    np.full(N, -2.0),
                    np.full(N, np.nan),
                    _route_value(p, inp.duration, N, np.nan),
                )
            elif inp.rate is not None:
                rate, mrate, mdur = (
                    np.full(N, -1.0),
                    _route_value(p, inp.rate, N, np.nan),
                    np.full(N, np.nan),
                )
            elif dose.tinf_h > 0:
                rate, mrate, mdur = np.full(N, -2.0), np.full(N, np.nan), np.full(N, dose.tinf_h)
            else:
                rate, mrate, mdur = np.zeros(N), np.full(N, np.nan), np.full(N, np.nan)
            rows.append(
                dict(
                    time=dose.time_h,
                    cmt=cmt,
                    amt=per_kg_amt,
                    rate=rate,
                    ii=dose.ii_h,
                    addl=dose.addl,
                    f=f,
                    lag=lag,
                    mrate=mrate,
                    mdur=mdur,
                )
            )
    rows.sort(key=lambda r: r["time"])
    nrec = len(rows)

    def stack(key: str) -> FloatArray:
        return np.stack(
            [np.broadcast_to(np.asarray(r[key], dtype=float), (N,)) for r in rows], axis=1
        )

    return RecordTemplate(
        time=np.array([r["time"] for r in rows], dtype=float),
        evid=np.ones(nrec, dtype=np.int64),
        cmt=np.array([r["cmt"] for r in rows], dtype=np.int64),
        amt=stack("amt"),
        rate=stack("rate"),
        ii=np.array([r["ii"] for r in rows], dtype=float),
        addl=np.array([r["addl"] for r in rows], dtype=np.int64),
        ss=np.zeros(nrec, dtype=np.int64),
        f=stack("f"),
        lag=stack("lag"),
        mrate=stack("mrate"),
        mdur=stack("mdur"),
        epoch=np.zeros(nrec, dtype=np.int64),
        record_numbers=np.arange(1, nrec + 1, dtype=np.int64),
    )


def _route_value(
    p: Mapping[str, FloatArray], ref: str | float | None, N: int, default: float
) -> FloatArray:
    if ref is None:
        return np.full(N, default)
    if isinstance(ref, str):
        if ref not in p:
            raise ParameterError(f"route parameter {ref} is not defined")
        return np.broadcast_to(np.asarray(p[ref], dtype=float), (N,))
    if not math.isfinite(float(ref)):
        raise ParameterError(f"route value {ref} is not finite")
    return np.full(N, float(ref))
