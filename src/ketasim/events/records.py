"""NONMEM records: the event table every simulation runs on, checked at construction.

This module owns the *records* (ID, TIME, AMT, RATE, CMT, EVID, MDV, DV, II, ADDL, SS plus
covariate, parameter, ETA and carried columns) and their checks. It does not know compartment
structures or parameters (that is :mod:`ketasim.spec`), reads no files (that is
:mod:`ketasim.io.nonmem_csv`) and computes no amounts (that is :mod:`ketasim.solver`).

Conventions (NONMEM PREDPP)
---------------------------
EVID 0 observation, 1 dose, 2 other (output only), 3 reset (all amounts to 0, infusions stopped,
pending lagged or additional doses cancelled), 4 reset then dose. RATE 0 bolus, > 0 zero-order
rate, -1 rate from model parameter ``Rn``, -2 duration from ``Dn``. SS 1 resets then sets the
steady state of the dose, SS 2 adds the steady state to the current amounts. ``AMT=0, RATE>0,
II=0, SS>0`` sets the amounts of a constant infusion run to steady state; the infusion
terminates at the record time (NONMEM). CMT 0 or missing means the model's default dose (or
observation) compartment; CMT may also be a compartment *name* of the model (a text column).
A ``ROUTE`` text column (ketasim's extension, written by :meth:`Regimen.to_records`) names the
model route of a dose; the model then decides compartments, bioavailability and lag.

Records of one ID must be contiguous and in non-decreasing TIME. Numeric extra columns named like
a covariate or parameter of the model are time-varying; how values apply between records (NONMEM's
next observation carried backward by default) is decided where records meet a model
(:mod:`ketasim.binding`). Text columns (``USUBJID``, study names ...) are carried to the output.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from ketasim.errors import DatasetError, EventError

__all__ = ["STANDARD_COLUMNS", "Dataset"]

FloatArray = npt.NDArray[np.float64]

#: NONMEM data items ketasim understands, in output order
STANDARD_COLUMNS: tuple[str, ...] = (
    "ID",
    "TIME",
    "AMT",
    "RATE",
    "CMT",
    "EVID",
    "MDV",
    "DV",
    "II",
    "ADDL",
    "SS",
)
_REQUIRED = ("ID", "TIME")
_INTEGER_COLUMNS = ("CMT", "EVID", "MDV", "ADDL", "SS")


@dataclass(frozen=True)
class Dataset:
    """A NONMEM-style event table, one entry per record, checked at construction.

    Parameters
    ----------
    columns : mapping of str to array
        Upper-case column name -> 1-D array of equal length. ``ID`` and ``TIME`` are required;
        missing standard columns are filled (AMT, RATE, II, ADDL, SS, CMT, DV with 0; EVID with 1
        where AMT > 0 or a steady-state infusion is given, else 0; MDV with 1 for EVID != 0).
    record_numbers : array of int, optional
        1-based record numbers used in messages (defaults to 1..n).

    Notes
    -----
    Units are the user's: TIME in the model's time unit (h for library models), AMT in its amount
    unit (mg), RATE in amount/time. Generic ``pk*`` models take any consistent system.
    """

    columns: Mapping[str, FloatArray]
    record_numbers: npt.NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, np.int64))
    text_columns: Mapping[str, npt.NDArray[np.str_]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        cols = {str(k).upper(): _as_float(k, v) for k, v in self.columns.items()}
        text = {str(k).upper(): np.asarray(v, dtype=str) for k, v in self.text_columns.items()}
        both = sorted(set(cols) & set(text))
        if both:
            raise DatasetError(f"column(s) {', '.join(both)} given both as numbers and as text")
        bad_text = sorted(set(text) & (set(STANDARD_COLUMNS) - {"CMT"}))
        if bad_text:
            raise DatasetError(
                f"column {bad_text[0]} must hold numbers (only CMT may hold compartment names)"
            )
        for name in _REQUIRED:
            if name not in cols:
                raise DatasetError(f"required column {name} is missing")
        n = len(cols["ID"])
        for name, arr in (*cols.items(), *text.items()):
            if arr.ndim != 1 or len(arr) != n:
                raise DatasetError(f"column {name} has {arr.size} values, expected {n}")
        if n == 0:
            raise DatasetError("the dataset has no records")
        for name in ("AMT", "RATE", "II", "ADDL", "SS", "DV"):
            cols.setdefault(name, np.zeros(n))
        if "CMT" not in text:
            cols.setdefault("CMT", np.zeros(n))
        if "EVID" not in cols:
            is_dose = (cols["AMT"] != 0) | ((cols["RATE"] > 0) & (cols["SS"] > 0))
            cols["EVID"] = np.where(is_dose, 1.0, 0.0)
        cols.setdefault("MDV", np.where(cols["EVID"] != 0, 1.0, 0.0))
        rec = np.asarray(self.record_numbers, dtype=np.int64)
        if rec.size == 0:
            rec = np.arange(1, n + 1, dtype=np.int64)
        if rec.shape != (n,):
            raise DatasetError(f"record_numbers has {rec.size} values, expected {n}")
        object.__setattr__(self, "columns", cols)
        object.__setattr__(self, "text_columns", text)
        object.__setattr__(self, "record_numbers", rec)
        _check_records(self)

    # --- accessors -------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.columns["ID"])

    def __getitem__(self, name: str) -> FloatArray:
        if name not in self.columns:
            known = ", ".join([*self.columns, *self.text_columns])
            raise DatasetError(f"no numeric column {name!r}; columns: {known}")
        return self.columns[name]

    @property
    def extra_columns(self) -> tuple[str, ...]:
        """Names of the non-standard numeric columns (covariates, parameters, ETAs, carried)."""
        return tuple(c for c in self.columns if c not in STANDARD_COLUMNS)

    @property
    def n_subjects(self) -> int:
        """Number of subjects (contiguous ID blocks)."""
        ids = self.columns["ID"]
        return int(1 + np.count_nonzero(ids[1:] != ids[:-1]))

    def get_subject_index(self) -> npt.NDArray[np.intp]:
        """0-based subject number of every record (in order of first appearance)."""
        ids = self.columns["ID"]
        return np.cumsum(np.r_[False, ids[1:] != ids[:-1]]).astype(np.intp)

    @property
    def ids(self) -> FloatArray:
        """Subject IDs in order of first appearance."""
        ids = self.columns["ID"]
        _, first = np.unique(ids, return_index=True)
        return ids[np.sort(first)]

    def get_subject_slices(self) -> list[slice]:
        """Row slices, one per subject, in dataset order."""
        ids = self.columns["ID"]
        starts = np.flatnonzero(np.r_[True, ids[1:] != ids[:-1]])
        ends = np.r_[starts[1:], len(ids)]
        return [slice(int(a), int(b)) for a, b in zip(starts, ends, strict=True)]

    def with_columns(self, **new: Any) -> Dataset:
        """Return a copy with columns added or replaced (arrays or scalars)."""
        cols = dict(self.columns)
        text = dict(self.text_columns)
        for k, v in new.items():
            arr = np.asarray(v)
            if arr.dtype.kind in "USO":
                text[k.upper()] = np.broadcast_to(arr.astype(str), (len(self),)).copy()
                cols.pop(k.upper(), None)
            else:
                cols[k.upper()] = np.broadcast_to(arr.astype(float), (len(self),)).copy()
                text.pop(k.upper(), None)
        return Dataset(cols, self.record_numbers, text)

    @classmethod
    def from_pandas(cls, frame: Any) -> Dataset:
        """Records from a pandas DataFrame: numeric columns as numbers, others as text.

        Raises
        ------
        DatasetError
            Naming a column that mixes numbers and text where numbers are required.
        """
        cols: dict[str, Any] = {}
        text: dict[str, Any] = {}
        for name in frame.columns:
            series = frame[name]
            key = str(name).strip().upper()
            if series.dtype.kind in "biuf" or series.dtype.kind == "b":
                cols[key] = series.to_numpy(dtype=float)
            else:
                values = series.astype(str).to_numpy()
                if key in STANDARD_COLUMNS and key != "CMT":
                    try:
                        cols[key] = np.array([_cell(v, key) for v in values], dtype=float)
                    except ValueError:
                        raise DatasetError(
                            f"column {key} holds text that is not a number: "
                            f"{next(v for v in values if not _is_number(v))!r}"
                        ) from None
                else:
                    text[key] = values
        return cls(cols, text_columns=text)

    def to_pandas(self) -> Any:
        """The records as a pandas DataFrame (standard columns first, then the others)."""
        import pandas as pd

        data: dict[str, Any] = {}
        for name in (*STANDARD_COLUMNS, *self.columns, *self.text_columns):
            if name in data:
                continue
            if name in self.columns:
                data[name] = self.columns[name]
            elif name in self.text_columns:
                data[name] = self.text_columns[name]
        return pd.DataFrame(data)


def _as_float(name: object, values: Any) -> FloatArray:
    try:
        return np.asarray(values, dtype=float)
    except (TypeError, ValueError):
        raise DatasetError(
            f"column {name} holds values that are not numbers; pass text columns "
            "(e.g. USUBJID) as text_columns"
        ) from None


def _is_number(v: str) -> bool:
    try:
        _cell(v, "")
    except ValueError:
        return False
    return True


def _cell(v: str, name: str) -> float:
    v = v.strip()
    if v in (".", "") or v.lower() == "nan":
        return 0.0 if v == "." else float("nan")
    return float(v)


def _fail(ds: Dataset, mask: npt.NDArray[np.bool_], message: str) -> None:
    if np.any(mask):
        i = int(np.flatnonzero(mask)[0])
        ident = ds.columns["ID"][i]
        raise EventError(
            message.format(**{k: _fmt(v[i]) for k, v in ds.columns.items()}),
            record=int(ds.record_numbers[i]),
            subject=_fmt(ident),
        )


def _fmt(x: float) -> str:
    if math.isfinite(x) and float(x).is_integer():
        return str(int(x))
    return repr(float(x))


def _check_records(ds: Dataset) -> None:
    c = ds.columns
    for name in ("ID", "TIME", "EVID"):
        _fail(ds, ~np.isfinite(c[name]), f"{name} is missing or not a number")
    for name in _INTEGER_COLUMNS:
        if name not in c:
            continue
        vals = c[name]
        _fail(
            ds,
            np.isfinite(vals) & (vals != np.round(vals)),
            f"{name}={{{name}}} must be an integer",
        )
    evid = c["EVID"]
    _fail(ds, ~np.isin(evid, (0, 1, 2, 3, 4)), "EVID={EVID} is not one of 0, 1, 2, 3, 4")
    ids = c["ID"]
    same = ids[1:] == ids[:-1]
    back = np.r_[False, same & (np.diff(c["TIME"]) < 0)]
    _fail(ds, back, "TIME={TIME} is earlier than the previous record of the same ID: sort by time")
    # an ID that reappears after another ID is almost always a sorting mistake
    starts = np.r_[True, ~same]
    seen: set[float] = set()
    for i in np.flatnonzero(starts):
        if ids[i] in seen:
            raise EventError(
                "this ID appears again after records of other IDs: keep each ID's records together",
                record=int(ds.record_numbers[i]),
                subject=_fmt(ids[i]),
            )
        seen.add(float(ids[i]))
    dose = np.isin(evid, (1, 4))
    amt, rate, ii, addl, ss = c["AMT"], c["RATE"], c["II"], c["ADDL"], c["SS"]
    _fail(ds, dose & ~np.isfinite(amt), "dose record has a missing or non-numeric AMT")
    _fail(ds, dose & (amt < 0), "dose AMT={AMT} is negative")
    _fail(ds, dose & ~np.isfinite(rate), "RATE is not a number")
    _fail(ds, dose & (rate < 0) & ~np.isin(rate, (-1, -2)), "RATE={RATE} must be >= 0, -1 or -2")
    ss_inf = dose & (ss > 0) & (amt == 0) & (rate > 0) & (ii == 0)
    _fail(
        ds,
        dose & (amt == 0) & ~ss_inf,
        "dose AMT is 0: give an amount (only a steady-state infusion, SS>0 with RATE>0 and "
        "II=0, may have AMT=0)",
    )
    _fail(ds, ~np.isfinite(ii) | (ii < 0), "II={II} must be >= 0")
    _fail(ds, ~np.isfinite(addl) | (addl < 0), "ADDL={ADDL} must be >= 0")
    _fail(ds, dose & (addl > 0) & (ii <= 0), "ADDL={ADDL} needs II > 0")
    _fail(ds, ~np.isin(ss, (0, 1, 2)), "SS={SS} is not 0, 1 or 2")
    _fail(
        ds,
        ss_inf & (addl > 0),
        "ADDL={ADDL} on a steady-state constant infusion (AMT=0, RATE>0, II=0): NONMEM does not "
        "allow additional doses there",
    )
    _fail(
        ds,
        dose & (ss > 0) & (ii <= 0) & ~ss_inf,
        "SS={SS} with II=0: a steady-state bolus or infusion needs the dosing interval II > 0 "
        "(only AMT=0 with RATE>0 means a constant steady-state infusion)",
    )
    _fail(
        ds,
        ~dose & (amt != 0) & np.isfinite(amt),
        "EVID={EVID} record has AMT={AMT}: set EVID=1 for a dose",
    )
    if "CMT" in c:
        cmt = c["CMT"]
        _fail(ds, ~np.isfinite(cmt), "CMT is not a number")
        _fail(
            ds,
            cmt < 0,
            "CMT={CMT}: negative compartments (turning compartments off) are not supported",
        )
    for name in ds.extra_columns:
        vals = c[name]
        _fail(ds, np.isinf(vals), f"column {name} value is not finite")
