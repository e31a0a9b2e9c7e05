"""Records meet a model: routes, compartments, time-varying values, ETAs and subject groups.

Owns turning a checked :class:`~ketasim.events.Dataset` (any number of subjects) plus a
:class:`~ketasim.spec.ModelSpec` into what the solver needs: per-record individual parameters,
dose modifiers (F, lag, modelled rate/duration) resolved from the record's ``ROUTE`` or its
compartment, parameter epochs for values that change within a subject, and one
:class:`~ketasim.solver.RecordTemplate` per group of subjects that share a dosing structure (so a
dataset of many subjects compiles a handful of schedules, not one per subject). It does not solve
(that is :mod:`ketasim.solver`) nor shape results (that is :mod:`ketasim.results`).

Time-varying values (NONMEM semantics)
--------------------------------------
A covariate or parameter written on record *r* is, by default, the value for the interval that
*ends* at *r* (NONMEM's next observation carried backward, NOCB): it applies to the advance from
the previous record to *r*, to a dose at *r* (its F, lag, rate, duration) and to the output at
*r*. With ``fill="locf"`` the value applies from *r* onward (last observation carried forward).
The two differ only between records whose values differ (NONMEM Users Guide VI, "PK routine
evaluated at event records"; the $INPUT data item values of the current record).

ETAs
----
Columns ``ETA1``..``ETAn`` (by position in the model's IIV block) or named like the model's ETAs
(``ETA_CL``...) set each subject's random effects; they must be constant within a subject.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from ketasim.errors import DatasetError, EventError, KetasimWarning, ParameterError
from ketasim.events import Dataset
from ketasim.individual import check_parameters, compute_individual_parameters, is_modifier
from ketasim.plausibility import check_dose_plausibility, check_validity_range
from ketasim.solver import RecordTemplate
from ketasim.spec import ModelSpec

__all__ = ["FILL_RULES", "BoundRecords", "DatasetWarning", "SubjectGroup", "bind_records"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

#: how time-varying covariates and parameters apply between records
FILL_RULES = ("nocb", "locf")

#: bookkeeping columns carried to the output without a warning
_QUIET_COLUMNS = frozenset(
    {"USUBJID", "SUBJID", "STUDYID", "STUDY", "ARM", "SITE", "C", "LINE", "NOTE", "COMMENT",
     "BLQ", "LLOQ", "CENS", "DVID", "OCC", "TAD", "TAFD", "ROUTE"}
)  # fmt: skip
_ETA_POS = re.compile(r"^ETA(\d+)$")


class DatasetWarning(KetasimWarning):
    """A dataset column the model does not use (carried to the output unchanged)."""


@dataclass(frozen=True)
class SubjectGroup:
    """Subjects that share one dosing structure, with their template and rate matrices.

    ``subjects`` indexes the dataset's subjects; ``template`` holds per-subject amounts and
    modifiers (rows in the order of ``subjects``); ``K`` has shape (n, P, cmts, cmts), one matrix
    per parameter epoch; ``saturable`` holds per-subject saturable terms (ODE path) or None.
    """

    subjects: npt.NDArray[np.intp]
    template: RecordTemplate
    K: FloatArray
    epoch_params: Mapping[str, FloatArray]  # (n, P) per parameter, for the ODE path


@dataclass(frozen=True)
class BoundRecords:
    """A dataset bound to a model (see the module notes)."""

    spec: ModelSpec
    data: Dataset
    subject: npt.NDArray[np.intp]  # (R,) subject number of each record
    first_row: npt.NDArray[np.intp]  # (N,) first record of each subject
    params: Mapping[str, FloatArray]  # (R,) individual parameters per record
    groups: tuple[SubjectGroup, ...]
    fill: str
    carried: tuple[str, ...]  # columns carried to the output
    dose_times: tuple[FloatArray, IntArray]  # dose starts (h) and per-subject slice bounds
    engine_count: IntArray  # (R,) engine records of the subject at or before each record

    @property
    def n_subjects(self) -> int:
        return int(self.first_row.size)


def _fmt_id(x: float) -> object:
    return int(x) if float(x).is_integer() else float(x)


def _classify_columns(spec: ModelSpec, data: Dataset) -> dict[str, list[str]]:
    names = set(spec.get_parameter_names())
    eta_names = set(spec.get_eta_names())
    out: dict[str, list[str]] = {"param": [], "cov": [], "eta": [], "carried": []}
    for c in data.extra_columns:
        key = spec.aliases.get(c, c)
        if c in spec.covariates:
            out["cov"].append(c)
        elif key in names or is_modifier(c, spec):
            out["param"].append(c)
        elif _ETA_POS.match(c) or c in eta_names or c.startswith("ETA_"):
            out["eta"].append(c)
        else:
            out["carried"].append(c)
    for c in data.text_columns:
        if c in ("ROUTE", "CMT"):
            continue
        if c in spec.covariates or c in names:
            what = "covariate" if c in spec.covariates else "parameter"
            raise DatasetError(
                f"column {c} holds text, but it is a {what} of model {spec.id}: write numbers"
            )
        out["carried"].append(c)
    return out


def _record_error(data: Dataset, i: int, message: str) -> EventError:
    return EventError(
        message, record=int(data.record_numbers[i]), subject=str(_fmt_id(data["ID"][i]))
    )


def _etas_from_columns(
    spec: ModelSpec, data: Dataset, cols: list[str], subject: npt.NDArray[np.intp], N: int
) -> FloatArray | None:
    if not cols:
        return None
    names = list(spec.get_eta_names())
    if not names:
        raise ParameterError(
            f"dataset column {cols[0]}: model {spec.id} has no between-subject variability "
            "(no ETAs)"
        )
    etas = np.zeros((N, len(names)))
    for c in cols:
        m = _ETA_POS.match(c)
        if m:
            j = int(m.group(1)) - 1
            if not 0 <= j < len(names):
                raise ParameterError(
                    f"dataset column {c}: model {spec.id} has {len(names)} ETAs "
                    f"({', '.join(names)})"
                )
        elif c in names:
            j = names.index(c)
        else:
            raise ParameterError(
                f"dataset column {c}: model {spec.id} has no ETA of that name (no IIV on "
                f"{c[4:]}); its ETAs: {', '.join(names)}"
            )
        v = data[c]
        if not np.all(np.isfinite(v)):
            i = int(np.flatnonzero(~np.isfinite(v))[0])
            raise _record_error(data, i, f"column {c} is missing or not a number")
        first = np.zeros(N)
        first[subject] = v  # the last record's value per subject
        varying = v != first[subject]
        if np.any(varying):
            i = int(np.flatnonzero(varying)[0])
            raise _record_error(
                data, i, f"column {c} changes within a subject: ETAs are per subject"
            )
        etas[:, j] = first
    return etas


def _per_record(value: Any, N: int, subject: npt.NDArray[np.intp], what: str) -> Any:
    """A constant or per-subject argument as a per-record array (scalars stay scalars)."""
    a = np.asarray(value, dtype=float) if not isinstance(value, str) else value
    if isinstance(a, str):
        raise ParameterError(
            f"{what}={value!r}: give a number in the declared unit (e.g. 70 for WT in kg)"
        )
    if a.ndim == 0:
        return a
    if a.ndim == 1 and a.size == N:
        return a[subject]
    raise ParameterError(
        f"{what} has shape {a.shape}: expected a scalar or one value per subject ({N})"
    )


def _number_or_error(value: Any, what: str) -> Any:
    try:
        a = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise ParameterError(
            f"{what}={value!r} is not a number: give it in the declared unit (canonical units "
            "for parameters, e.g. L/h; kg for WT)"
        ) from None
    return a


def bind_records(
    spec: ModelSpec,
    data: Dataset,
    *,
    covariates: Mapping[str, Any] | None = None,
    etas: Any = None,
    params: Mapping[str, Any] | None = None,
    fill: str = "nocb",
    check_validity: bool = True,
    check_doses: bool = True,
    t_start_h: float | None = None,
) -> BoundRecords:
    """Bind ``data`` to ``spec`` (see the module notes).

    Parameters
    ----------
    spec : ModelSpec
    data : Dataset
        Records (TIME h, AMT mg, RATE mg/h for library models; the user's consistent units for
        generic ``pk*`` models).
    covariates : mapping, optional
        Covariates in their declared units: scalars or arrays with one value per subject.
    etas : array (subjects, n_eta), optional
        Random effects in the order of the model's IIV block; not together with ETA columns.
    params : mapping, optional
        Individual parameter values (canonical units): scalars or one value per subject.
    fill : {"nocb", "locf"}
        How time-varying dataset values apply between records.
    t_start_h : float, h, optional
        Earliest output time (the schedules start at it or at the first record, if earlier).

    Raises
    ------
    EventError, DatasetError, ParameterError
        Naming the record (and ID), column or argument at fault.
    """
    if fill not in FILL_RULES:
        raise ParameterError(f"fill {fill!r} must be 'nocb' (NONMEM) or 'locf'")
    R = len(data)
    subject = data.get_subject_index()
    N = int(subject[-1]) + 1
    first_row = np.flatnonzero(np.r_[True, subject[1:] != subject[:-1]])
    kinds = _classify_columns(spec, data)
    quiet = [c for c in kinds["carried"] if c in _QUIET_COLUMNS]
    loud = [c for c in kinds["carried"] if c not in _QUIET_COLUMNS]
    if loud:
        warnings.warn(
            f"dataset column(s) {', '.join(loud)} are not used by model {spec.id} (not a "
            "covariate, parameter or ETA of it); carried to the output unchanged",
            DatasetWarning,
            stacklevel=3,
        )
    # --- covariates, parameters, ETAs per record ---------------------------------------------
    covs: dict[str, Any] = {}
    for k, v in (covariates or {}).items():
        if k in kinds["cov"]:
            raise ParameterError(
                f"covariate {k} is given both as an argument and as a dataset column: give one"
            )
        covs[k] = _per_record(_number_or_error(v, f"covariate {k}"), N, subject, f"covariate {k}")
    for c in kinds["cov"]:
        v = data[c]
        if not np.all(np.isfinite(v)):
            i = int(np.flatnonzero(~np.isfinite(v))[0])
            raise _record_error(data, i, f"covariate {c} is missing or not a number")
        covs[c] = v
    p_in: dict[str, Any] = {}
    for k, v in (params or {}).items():
        key = spec.aliases.get(k, k)
        p_in[key] = _per_record(_number_or_error(v, f"parameter {k}"), N, subject, f"parameter {k}")
    for c in kinds["param"]:
        key = spec.aliases.get(c, c)
        if key in p_in and c not in data.extra_columns:
            continue
        v = data[c]
        if not np.all(np.isfinite(v)):
            i = int(np.flatnonzero(~np.isfinite(v))[0])
            raise _record_error(data, i, f"parameter column {c} is missing or not a number")
        p_in[key] = v
    col_etas = _etas_from_columns(spec, data, kinds["eta"], subject, N)
    if col_etas is not None and etas is not None:
        raise ParameterError("ETAs are given both as columns and as the etas argument: give one")
    eta_arr: FloatArray | None = None
    if etas is not None:
        eta_arr = np.atleast_2d(_number_or_error(etas, "etas"))
        if eta_arr.shape[0] not in (1, N):
            raise ParameterError(
                f"etas has {eta_arr.shape[0]} rows: expected one per subject ({N})"
            )
        eta_arr = np.broadcast_to(eta_arr, (N, eta_arr.shape[-1]))
    elif col_etas is not None:
        eta_arr = col_etas
    try:
        p = compute_individual_parameters(
            spec,
            covariates=covs,
            etas=None if eta_arr is None else eta_arr[subject],
            params=p_in,
        )
        check_parameters(spec, p)
    except ParameterError as exc:
        raise ParameterError(str(exc)) from None
    p = {k: np.broadcast_to(np.asarray(v, dtype=float), (R,)) for k, v in p.items()}
    if check_validity and not spec.generic:
        check_validity_range(spec, dict(covs), subject=subject)
    # --- dose modifiers per record -------------------------------------------------------------
    expanded = _expand_doses(spec, data, p, subject)
    if check_doses and not spec.generic:
        _check_plausibility(spec, data, covs, expanded)
    t0 = float(np.min(data["TIME"]))
    if t_start_h is not None:
        t0 = min(t0, float(t_start_h))
    groups, dose_times, engine_count = _group_subjects(
        spec, data, p, subject, first_row, expanded, fill, t0
    )
    return BoundRecords(
        spec=spec,
        data=data,
        subject=subject,
        first_row=first_row,
        params=p,
        groups=groups,
        fill=fill,
        carried=(*quiet, *loud),
        dose_times=dose_times,
        engine_count=engine_count,
    )


@dataclass(frozen=True)
class _Expanded:
    """Engine records (doses split by route input, plus resets), in dataset order."""

    row: IntArray  # dataset row of each engine record
    cmt: IntArray
    amt: FloatArray
    rate: FloatArray
    f: FloatArray
    lag: FloatArray
    mrate: FloatArray
    mdur: FloatArray


def _resolve_cmt(spec: ModelSpec, data: Dataset) -> IntArray:
    """0-based compartment of each record (default dose/observation compartment for CMT 0)."""
    evid = data["EVID"].astype(np.int64)
    dose = np.isin(evid, (1, 4))
    n = spec.n_compartments
    if "CMT" in data.text_columns:
        names = {c.name.upper(): i for i, c in enumerate(spec.compartments)}
        raw = data.text_columns["CMT"]
        out = np.empty(len(data), dtype=np.int64)
        for i, v in enumerate(raw):
            s = v.strip()
            if s in ("", ".", "0"):
                out[i] = -1
            elif s.isdigit():
                out[i] = int(s) - 1
            elif s.upper() in names:
                out[i] = names[s.upper()]
            else:
                raise _record_error(
                    data,
                    i,
                    f"CMT={s!r} is not a compartment of model {spec.id} (compartments: "
                    + ", ".join(c.name for c in spec.compartments)
                    + ")",
                )
    else:
        out = data["CMT"].astype(np.int64) - 1
    bad = out >= n
    if np.any(bad):
        i = int(np.flatnonzero(bad)[0])
        raise _record_error(
            data,
            i,
            f"CMT={out[i] + 1} does not exist in model {spec.id} (compartments 1..{n}: "
            + ", ".join(c.name for c in spec.compartments)
            + ")",
        )
    default = np.where(dose, spec.get_default_dose_index(), spec.get_default_observation_index())
    return np.where(out < 0, default, out)


def _route_of(spec: ModelSpec, name: str) -> str | None:
    key = name.strip().lower()
    if not key or key == ".":
        return None
    for r in spec.routes:
        if r.lower() == key:
            return r
    spec.get_route(name)  # raises, naming the supported routes
    return None  # pragma: no cover


def _ref_values(
    p: Mapping[str, FloatArray], ref: str | float | None, rows: IntArray, default: float
) -> FloatArray:
    if ref is None:
        return np.full(rows.size, default)
    if isinstance(ref, str):
        if ref not in p:
            raise ParameterError(f"route parameter {ref} is not defined")
        return np.asarray(p[ref], dtype=float)[rows]
    return np.full(rows.size, float(ref))


def _expand_doses(
    spec: ModelSpec, data: Dataset, p: Mapping[str, FloatArray], subject: npt.NDArray[np.intp]
) -> _Expanded:
    """Engine records of every dose and reset, vectorised by route input and compartment."""
    evid = data["EVID"].astype(np.int64)
    cmt0 = _resolve_cmt(spec, data)
    amt_col, rate_col = data["AMT"], data["RATE"]
    parts: list[dict[str, Any]] = []

    def add(rows: IntArray, sub: int, cmt: Any, rate: Any, f: Any, lag: Any, mrate: Any,
            mdur: Any) -> None:  # fmt: skip
        n = rows.size
        parts.append(
            {
                "row": rows,
                "sub": np.full(n, sub, dtype=np.int64),
                "cmt": np.broadcast_to(np.asarray(cmt, dtype=np.int64), (n,)),
                "amt": amt_col[rows] if sub >= 0 else np.zeros(n),
                "rate": np.broadcast_to(np.asarray(rate, dtype=float), (n,)),
                "f": np.broadcast_to(np.asarray(f, dtype=float), (n,)),
                "lag": np.broadcast_to(np.asarray(lag, dtype=float), (n,)),
                "mrate": np.broadcast_to(np.asarray(mrate, dtype=float), (n,)),
                "mdur": np.broadcast_to(np.asarray(mdur, dtype=float), (n,)),
            }
        )

    resets = np.flatnonzero(evid == 3)
    if resets.size:
        add(resets, -1, -1, 0.0, 1.0, 0.0, np.nan, np.nan)
    dose_rows = np.flatnonzero(np.isin(evid, (1, 4)))
    route_col = data.text_columns.get("ROUTE")
    has_route = np.zeros(len(data), dtype=bool)
    if route_col is not None and dose_rows.size:
        names = np.char.lower(np.char.strip(route_col.astype(str)))
        for name in np.unique(names[dose_rows]):
            if name in ("", "."):
                continue
            rows = dose_rows[names[dose_rows] == name]
            has_route[rows] = True
            route = spec.routes[_route_of(spec, str(name)) or ""]
            infused = rate_col[rows] > 0
            if np.any(infused) and not route.infusion:
                i = int(rows[np.flatnonzero(infused)[0]])
                raise _record_error(
                    data,
                    i,
                    f"route {route.name!r} of model {spec.id} is not an infusion route: drop the "
                    "duration (RATE)",
                )
            for k, inp in enumerate(route.inputs):
                c = spec.get_compartment_index(inp.cmt)
                rate: Any = rate_col[rows]
                mrate: Any = np.nan
                mdur: Any = np.nan
                if inp.duration is not None or inp.rate is not None:
                    if np.any(infused):
                        i = int(rows[np.flatnonzero(infused)[0]])
                        raise _record_error(
                            data,
                            i,
                            f"route {route.name!r} has a modelled absorption "
                            f"{'duration' if inp.duration is not None else 'rate'}; do not give "
                            "a duration",
                        )
                    if inp.duration is not None:
                        rate, mdur = -2.0, _ref_values(p, inp.duration, rows, np.nan)
                    else:
                        rate, mrate = -1.0, _ref_values(p, inp.rate, rows, np.nan)
                add(
                    rows,
                    k,
                    c,
                    rate,
                    _ref_values(p, inp.F, rows, 1.0),
                    _ref_values(p, inp.lag, rows, 0.0),
                    mrate,
                    mdur,
                )
    plain = dose_rows[~has_route[dose_rows]]
    if plain.size:
        by_cmt = _route_modifiers_by_compartment(spec)
        for c in np.unique(cmt0[plain]):
            c = int(c)
            rows = plain[cmt0[plain] == c]
            num = c + 1
            vals: dict[str, FloatArray] = {}
            for m, default in (("F", 1.0), ("ALAG", 0.0), ("R", np.nan), ("D", np.nan)):
                key = f"{m}{num}"
                if key in p:
                    vals[m] = np.asarray(p[key], dtype=float)[rows]
                    continue
                ref = by_cmt.get((c, m))
                if isinstance(ref, str) and ref.startswith("?"):
                    raise _record_error(
                        data,
                        int(rows[0]),
                        f"compartment {num} ({spec.compartments[c].name}) is a dose input of "
                        f"routes with different {m} ({ref[1:]}): give a {key} column or a ROUTE "
                        "column",
                    )
                vals[m] = _ref_values(p, ref, rows, default)
            add(rows, 0, c, rate_col[rows], vals["F"], vals["ALAG"], vals["R"], vals["D"])
    if not parts:
        z = np.zeros(0)
        return _Expanded(np.zeros(0, np.int64), np.zeros(0, np.int64), z, z, z, z, z, z)
    cat = {k: np.concatenate([pt[k] for pt in parts]) for k in parts[0]}
    order = np.lexsort((cat["sub"], cat["row"]))
    return _Expanded(
        row=cat["row"][order].astype(np.int64),
        cmt=cat["cmt"][order].astype(np.int64),
        amt=cat["amt"][order].astype(float),
        rate=cat["rate"][order].astype(float),
        f=cat["f"][order].astype(float),
        lag=cat["lag"][order].astype(float),
        mrate=cat["mrate"][order].astype(float),
        mdur=cat["mdur"][order].astype(float),
    )


def _route_modifiers_by_compartment(spec: ModelSpec) -> dict[tuple[int, str], str | float]:
    """(compartment index, F/ALAG/R/D) -> the model's route parameter for doses without ROUTE.

    A NONMEM dataset names compartments, not routes: a dose into a compartment that the model's
    routes feed with a bioavailability, lag or modelled rate/duration gets that parameter, so that
    dataset and regimen simulations agree. When routes disagree the value is ``"?<routes>"`` and
    the dose must say which (an ``F<n>``/``ALAG<n>`` ... or a ``ROUTE`` column).
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


def _check_plausibility(
    spec: ModelSpec, data: Dataset, covs: Mapping[str, Any], ex: _Expanded
) -> None:
    dose = ex.cmt >= 0
    if not np.any(dose):
        return
    rows = ex.row[dose]
    # NOTE: one dose record split over route inputs counts once (its first input)
    first = np.r_[True, rows[1:] != rows[:-1]]
    rows = rows[first]
    amt = data["AMT"][rows]
    rate = data["RATE"][rows]
    wt = covs.get("WT")
    weight = None if wt is None else np.broadcast_to(np.asarray(wt, float), (len(data),))[rows]
    check_dose_plausibility(
        np.where(rate > 0, 0.0, amt),
        np.where(rate > 0, rate, 0.0),
        weight,
        "dose records",
    )


def _epoch_keys(spec: ModelSpec, p: Mapping[str, FloatArray]) -> list[str]:
    """Parameters whose change within a subject needs a new rate matrix."""
    return [k for k in p if not is_modifier(k, spec)]


def _group_subjects(
    spec: ModelSpec,
    data: Dataset,
    p: Mapping[str, FloatArray],
    subject: npt.NDArray[np.intp],
    first_row: npt.NDArray[np.intp],
    ex: _Expanded,
    fill: str,
    t0: float,
) -> tuple[tuple[SubjectGroup, ...], tuple[FloatArray, IntArray], IntArray]:
    """Engine records per subject (doses, resets, parameter switches), grouped by structure.

    Every step is an array operation over all records; subjects with the same dosing structure
    (times, compartments, repeats, rate codes, epochs) share one template.
    """
    R = len(data)
    N = first_row.size
    time = data["TIME"]
    evid = data["EVID"].astype(np.int64)
    keys = [k for k in p if not is_modifier(k, spec)]
    mat = np.stack([p[k] for k in keys], axis=1) if keys else np.zeros((R, 0))
    same_subject = np.r_[False, subject[1:] == subject[:-1]]
    changed = np.r_[False, np.any(mat[1:] != mat[:-1], axis=1)] & same_subject
    ch = np.flatnonzero(changed)
    if fill == "locf":
        sw_row, sw_pos, sw_src = ch, 2 * ch, ch  # switch at record r, before its dose
    else:
        sw_row, sw_pos, sw_src = ch - 1, 2 * ch - 1, ch  # after record r-1, to the values of r
    n_ex, n_sw = ex.row.size, ch.size
    # NOTE: every subject starts with a no-op engine record at the common start time ``t0``
    # (kind 2), so that no output precedes the first event of its schedule
    e_pos = np.concatenate([2 * ex.row, sw_pos, 2 * first_row - 1]).astype(np.int64)
    e_kind = np.concatenate(
        [np.zeros(n_ex, np.int64), np.ones(n_sw, np.int64), np.full(N, 2, np.int64)]
    )
    e_idx = np.concatenate([np.arange(n_ex), np.arange(n_sw), np.zeros(N)]).astype(np.int64)
    e_row = np.concatenate([ex.row, sw_row, first_row]).astype(np.int64)
    e_src = np.concatenate([ex.row, sw_src, first_row]).astype(np.int64)
    # NOTE: subjects are contiguous in the dataset, so sorting by position sorts by subject too;
    # the stable sort keeps route inputs of one record in input order
    order = np.argsort(e_pos, kind="stable")
    e_pos, e_kind, e_idx, e_row, e_src = (a[order] for a in (e_pos, e_kind, e_idx, e_row, e_src))
    e_subj = subject[e_row]
    starts = np.searchsorted(e_subj, np.arange(N), side="left")
    counts = np.searchsorted(e_subj, np.arange(N), side="right") - starts
    # epochs: each switch opens a new parameter set for its subject
    is_sw = e_kind == 1
    sw_cum = np.cumsum(is_sw)
    before = np.where(starts > 0, sw_cum[np.maximum(starts - 1, 0)], 0)
    epoch = sw_cum - before[e_subj]
    n_sw_subj = np.bincount(e_subj[is_sw], minlength=N) if n_sw else np.zeros(N, np.int64)
    P = int(n_sw_subj.max(initial=0)) + 1
    ep_rows = np.repeat(first_row[:, None], P, axis=1).astype(np.int64)
    if n_sw:
        ep_rows[e_subj[is_sw], epoch[is_sw]] = e_src[is_sw]
        for k in range(1, P):  # pad: the last parameter set stays in force
            short = n_sw_subj < k
            ep_rows[short, k] = ep_rows[short, k - 1]
    # per engine record values
    is_ex = e_kind == 0
    xi = np.where(is_ex, e_idx, 0)
    ex_cmt = ex.cmt[xi] if n_ex else np.zeros(e_row.size, np.int64)
    dose = is_ex & (ex_cmt >= 0)
    reset = is_ex & (ex_cmt < 0)
    ev = np.where(~is_ex, 2, np.where(reset, 3, evid[e_row])).astype(np.int64)
    e_time = np.where(e_kind == 2, t0, time[e_row])

    def pick(a: FloatArray, default: float) -> FloatArray:
        return np.where(dose, a[xi], default) if n_ex else np.full(e_row.size, default)

    vals = {
        "time": e_time,
        "evid": ev,
        "cmt": np.where(dose, ex_cmt, 0).astype(np.int64),
        "ii": np.where(dose, data["II"][e_row], 0.0),
        "addl": np.where(dose, data["ADDL"][e_row], 0.0).astype(np.int64),
        "ss": np.where(dose, data["SS"][e_row], 0.0).astype(np.int64),
        "epoch": epoch.astype(np.int64),
        "amt": pick(ex.amt, 0.0),
        "rate": pick(ex.rate, 0.0),
        "f": pick(ex.f, 1.0),
        "lag": pick(ex.lag, 0.0),
        "mrate": pick(ex.mrate, np.nan),
        "mdur": pick(ex.mdur, np.nan),
        "recno": data.record_numbers[e_row],
    }
    groups: list[SubjectGroup] = []
    for c in np.unique(counts):
        members = np.flatnonzero(counts == c)
        idx = starts[members][:, None] + np.arange(c)[None, :]  # (n_c, c)
        rate = vals["rate"][idx]
        structure = np.concatenate(
            [
                vals["time"][idx],
                vals["evid"][idx],
                vals["cmt"][idx],
                vals["ii"][idx],
                vals["addl"][idx],
                vals["ss"][idx],
                vals["epoch"][idx],
                np.sign(rate),
                np.where(rate < 0, rate, 0.0),
                n_sw_subj[members][:, None],
            ],
            axis=1,
        )
        if np.all(structure == structure[:1]):  # the common case: one regimen for everyone
            inverse = np.zeros(members.size, dtype=np.intp)
        else:
            _, inverse = np.unique(structure, axis=0, return_inverse=True)
        for g in np.unique(inverse):
            sel = members[inverse.ravel() == g]
            gidx = idx[inverse.ravel() == g]
            ep_p = {k: np.asarray(v)[ep_rows[sel]] for k, v in p.items()}
            K = np.asarray(spec.compute_rate_matrix(ep_p), dtype=float)
            if K.ndim == 2:
                K = np.broadcast_to(K, (sel.size, P, *K.shape)).copy()
            row0 = gidx[0]
            tpl = RecordTemplate(
                time=vals["time"][row0],
                evid=vals["evid"][row0],
                cmt=vals["cmt"][row0],
                amt=vals["amt"][gidx],
                rate=vals["rate"][gidx],
                ii=vals["ii"][row0],
                addl=vals["addl"][row0],
                ss=vals["ss"][row0],
                f=vals["f"][gidx],
                lag=vals["lag"][gidx],
                mrate=vals["mrate"][gidx],
                mdur=vals["mdur"][gidx],
                epoch=vals["epoch"][row0],
                record_numbers=vals["recno"][row0].astype(np.int64),
                subject=_fmt_id(data["ID"][first_row[sel[0]]]) if sel.size == 1 else None,
            )
            groups.append(SubjectGroup(subjects=sel, template=tpl, K=K, epoch_params=ep_p))
    dose_times = _dose_times(vals, dose, e_subj, N)
    engine_count = (
        np.searchsorted(e_pos, 2 * np.arange(R), side="right") - starts[subject]
    ).astype(np.int64)
    return tuple(groups), dose_times, engine_count


def _dose_times(
    vals: Mapping[str, Any], dose: npt.NDArray[np.bool_], e_subj: npt.NDArray[np.intp], N: int
) -> tuple[FloatArray, IntArray]:
    """Start times of every dose, sorted per subject (ADDL repeats included), h, for TAD.

    Returns the times and the bounds of each subject's slice (N + 1 values).
    """
    t, ii, addl = vals["time"][dose], vals["ii"][dose], vals["addl"][dose]
    subj = e_subj[dose]
    reps = addl + 1
    if int(reps.sum(initial=0)) > 5_000_000:
        raise EventError(
            f"the dataset expands to {int(reps.sum())} doses (ADDL): more than 5000000 is refused"
        )
    k = np.arange(int(reps.sum(initial=0))) - np.repeat(np.cumsum(reps) - reps, reps)
    starts = np.repeat(t, reps) + k * np.repeat(ii, reps)
    who = np.repeat(subj, reps)
    order = np.lexsort((starts, who))
    starts, who = starts[order], who[order]
    bounds = np.searchsorted(who, np.arange(N + 1))
    return starts, bounds.astype(np.int64)
