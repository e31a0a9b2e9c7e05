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

from ketasim.binding.doses import Expanded, check_plausibility, expand_doses, record_error
from ketasim.binding.groups import SubjectGroup, group_subjects
from ketasim.errors import DatasetError, KetasimWarning, ParameterError
from ketasim.events import Dataset
from ketasim.individual import check_parameters, compute_individual_parameters, is_modifier
from ketasim.plausibility import check_validity_range
from ketasim.spec import ModelSpec

__all__ = [
    "FILL_RULES",
    "BoundRecords",
    "DatasetWarning",
    "SubjectGroup",
    "bind_records",
    "check_covariates",
    "classify_columns",
    "compute_record_covariates",
    "compute_record_parameters",
]

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


def classify_columns(spec: ModelSpec, data: Dataset) -> dict[str, list[str]]:
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
            raise record_error(data, i, f"column {c} is missing or not a number")
        first = np.zeros(N)
        first[subject] = v  # the last record's value per subject
        varying = v != first[subject]
        if np.any(varying):
            i = int(np.flatnonzero(varying)[0])
            raise record_error(
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


def compute_record_covariates(
    data: Dataset,
    kinds: Mapping[str, list[str]],
    subject: npt.NDArray[np.intp],
    N: int,
    covariates: Mapping[str, Any] | None,
) -> dict[str, Any]:
    """Covariates of every record, declared units: arguments (scalars or one value per subject)
    and dataset columns (``kinds`` from :func:`classify_columns`)."""
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
            raise record_error(data, i, f"covariate {c} is missing or not a number")
        covs[c] = v
    return covs


def check_covariates(
    spec: ModelSpec,
    data: Dataset,
    covs: Mapping[str, Any],
    expanded: Expanded,
    subject: npt.NDArray[np.intp],
    check_validity: bool,
) -> None:
    """The covariate checks of binding: validity range (ValidityWarning) and dose plausibility."""
    if spec.generic:
        return
    if check_validity:
        check_validity_range(spec, dict(covs), subject=subject)
    check_plausibility(spec, data, covs, expanded)


def compute_record_parameters(
    spec: ModelSpec,
    data: Dataset,
    kinds: Mapping[str, list[str]],
    subject: npt.NDArray[np.intp],
    N: int,
    *,
    covariates: Mapping[str, Any] | None = None,
    etas: Any = None,
    params: Mapping[str, Any] | None = None,
) -> tuple[dict[str, Any], dict[str, FloatArray]]:
    """Covariates and individual parameters of every record (the parameter step of binding).

    ``kinds`` is the column classification of ``data`` (:func:`classify_columns`). Returns the
    covariates per record (declared units) and the individual parameters broadcast to one value
    per record (canonical units). Raises as :func:`bind_records`.
    """
    covs = compute_record_covariates(data, kinds, subject, N, covariates)
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
            raise record_error(data, i, f"parameter column {c} is missing or not a number")
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
    R = len(data)
    return covs, {k: np.broadcast_to(np.asarray(v, dtype=float), (R,)) for k, v in p.items()}


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
    subject = data.get_subject_index()
    N = int(subject[-1]) + 1
    first_row = np.flatnonzero(np.r_[True, subject[1:] != subject[:-1]])
    kinds = classify_columns(spec, data)
    quiet = [c for c in kinds["carried"] if c in _QUIET_COLUMNS]
    loud = [c for c in kinds["carried"] if c not in _QUIET_COLUMNS]
    if loud:
        warnings.warn(
            f"dataset column(s) {', '.join(loud)} are not used by model {spec.id} (not a "
            "covariate, parameter or ETA of it); carried to the output unchanged",
            DatasetWarning,
            stacklevel=3,
        )
    covs, p = compute_record_parameters(
        spec, data, kinds, subject, N, covariates=covariates, etas=etas, params=params
    )
    if check_validity and not spec.generic:
        check_validity_range(spec, dict(covs), subject=subject)
    # --- dose modifiers per record -------------------------------------------------------------
    expanded = expand_doses(spec, data, p, subject)
    if check_doses and not spec.generic:
        check_plausibility(spec, data, covs, expanded)
    t0 = float(np.min(data["TIME"]))
    if t_start_h is not None:
        t0 = min(t0, float(t_start_h))
    groups, dose_times, engine_count = group_subjects(
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
