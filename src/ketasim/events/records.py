"""Dosing and observation records with NONMEM semantics, and the people-facing Regimen.

This module owns the *records*: reading and writing NONMEM-format CSV (ID, TIME, AMT, RATE, CMT,
EVID, MDV, DV, II, ADDL, SS plus covariate/parameter columns), checking each record, and building
records from a :class:`Regimen` given with units. It does not know compartment structures or
parameters (that is :mod:`ketasim.spec`) and computes no amounts (that is :mod:`ketasim.solver`).

Conventions (NONMEM PREDPP)
---------------------------
EVID 0 observation, 1 dose, 2 other (output only), 3 reset (all amounts to 0, infusions stopped,
pending lagged or additional doses cancelled), 4 reset then dose. RATE 0 bolus, > 0 zero-order
rate, -1 rate from model parameter ``Rn``, -2 duration from ``Dn``. SS 1 resets then sets the
steady state of the dose, SS 2 adds the steady state to the current amounts. ``AMT=0, RATE>0,
II=0, SS>0`` sets the amounts of a constant infusion run to steady state; the infusion
terminates at the record time (NONMEM). CMT 0 or missing
means the model's default dose (or observation) compartment. A ``.`` cell reads as 0, as in NONMEM.

Records of one ID must be contiguous and in non-decreasing TIME. Extra columns (covariates or
parameters named as in the model) are time-varying: a value applies from its record onward
(last observation carried forward). NOTE: NONMEM itself applies a record's values to the interval
*ending* at that record (next-observation carried backward for the preceding interval); LOCF is
used here because a value written on a dose record is then the value in force for that dose,
which is what people building datasets by hand expect. The convention is stated in the CLI help.
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

    def __post_init__(self) -> None:
        cols = {str(k).upper(): np.asarray(v, dtype=float) for k, v in self.columns.items()}
        for name in _REQUIRED:
            if name not in cols:
                raise DatasetError(f"required column {name} is missing")
        n = len(cols["ID"])
        for name, arr in cols.items():
            if arr.ndim != 1 or len(arr) != n:
                raise DatasetError(f"column {name} has {arr.size} values, expected {n}")
        if n == 0:
            raise DatasetError("the dataset has no records")
        for name in ("AMT", "RATE", "II", "ADDL", "SS", "CMT", "DV"):
            cols.setdefault(name, np.zeros(n))
        if "EVID" not in cols:
            is_dose = (cols["AMT"] != 0) | ((cols["RATE"] > 0) & (cols["SS"] > 0))
            cols["EVID"] = np.where(is_dose, 1.0, 0.0)
        cols.setdefault("MDV", np.where(cols["EVID"] != 0, 1.0, 0.0))
        rec = np.asarray(self.record_numbers, dtype=np.int64)
        if rec.size == 0:
            rec = np.arange(1, n + 1, dtype=np.int64)
        object.__setattr__(self, "columns", cols)
        object.__setattr__(self, "record_numbers", rec)
        _check_records(self)

    # --- accessors -------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.columns["ID"])

    def __getitem__(self, name: str) -> FloatArray:
        return self.columns[name]

    @property
    def extra_columns(self) -> tuple[str, ...]:
        """Names of the non-standard (covariate or parameter) columns, in input order."""
        return tuple(c for c in self.columns if c not in STANDARD_COLUMNS)

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
        for k, v in new.items():
            cols[k.upper()] = np.broadcast_to(np.asarray(v, dtype=float), (len(self),)).copy()
        return Dataset(cols, self.record_numbers)


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
    cmt = c["CMT"]
    _fail(ds, ~np.isfinite(cmt), "CMT is not a number")
    _fail(
        ds, cmt < 0, "CMT={CMT}: negative compartments (turning compartments off) are not supported"
    )
    for name in ds.extra_columns:
        vals = c[name]
        _fail(ds, ~np.isfinite(vals), f"column {name} is missing or not a number")
