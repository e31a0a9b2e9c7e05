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

import csv
import io
import math
import os
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from ketasim.errors import DatasetError, EventError, UnitError
from ketasim.units import parse_quantity, to_unit

__all__ = [
    "STANDARD_COLUMNS",
    "Dataset",
    "Dose",
    "Regimen",
    "read_nonmem_csv",
    "write_csv_atomic",
    "write_nonmem_csv",
]

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


# --- CSV ----------------------------------------------------------------------------------------
def read_nonmem_csv(source: str | os.PathLike[str] | io.TextIOBase) -> Dataset:
    """Read a NONMEM-format CSV file into a checked :class:`Dataset`.

    Parameters
    ----------
    source : path or text stream
        Comma-separated file with a header row. Column names are case-insensitive. ``.`` reads
        as 0 (NONMEM convention); an empty cell in a standard column is an error (except DV, which
        may be empty and reads as 0). Lines starting with ``#`` or ``C`` followed by a comma are
        skipped (NONMEM ``IGNORE=C``), as are blank lines.

    Raises
    ------
    DatasetError
        For a malformed file (names the line and column).
    EventError
        For an invalid record (names the record and ID).
    """
    if isinstance(source, (str, os.PathLike)):
        try:
            with open(source, newline="", encoding="utf-8") as fh:
                text = fh.read()
        except OSError as exc:
            raise DatasetError(f"cannot read {os.fspath(source)!r}: {exc.strerror}") from None
        except UnicodeDecodeError:
            raise DatasetError(f"{os.fspath(source)!r} is not UTF-8 text") from None
    else:
        text = source.read()
    reader = csv.reader(io.StringIO(text))
    header: list[str] | None = None
    rows: list[list[str]] = []
    lines: list[int] = []
    for row in reader:
        line = reader.line_num
        if not row or all(not cell.strip() for cell in row):
            continue
        first = row[0].strip()
        if first.startswith("#") or (header is not None and first.upper() == "C"):
            continue
        if header is None:
            header = [h.strip().upper() for h in row]
            if any(not h for h in header):
                raise DatasetError(f"line {line}: empty column name in the header")
            dup = {h for h in header if header.count(h) > 1}
            if dup:
                raise DatasetError(f"line {line}: duplicate column(s) {', '.join(sorted(dup))}")
            if "ID" not in header or "TIME" not in header:
                raise DatasetError(
                    f"line {line}: header must name ID and TIME columns, found {', '.join(header)}"
                )
            continue
        if len(row) != len(header):
            raise DatasetError(f"line {line}: {len(row)} fields, header has {len(header)}")
        rows.append(row)
        lines.append(line)
    if header is None:
        raise DatasetError("the file is empty: expected a header row and records")
    if not rows:
        raise DatasetError("the file has a header but no records")
    data = np.empty((len(rows), len(header)))
    for r, (row, line) in enumerate(zip(rows, lines, strict=True)):
        for j, cell in enumerate(row):
            data[r, j] = _parse_cell(cell.strip(), header[j], line)
    cols = {h: data[:, j] for j, h in enumerate(header)}
    return Dataset(cols, record_numbers=np.arange(1, len(rows) + 1, dtype=np.int64))


def _parse_cell(cell: str, column: str, line: int) -> float:
    if cell == ".":
        return 0.0
    if cell == "":
        if column == "DV":
            return 0.0
        raise DatasetError(f"line {line}: column {column} is empty (write 0 or '.')")
    try:
        value = float(cell)
    except ValueError:
        raise DatasetError(f"line {line}: column {column} value {cell!r} is not a number") from None
    if not math.isfinite(value):
        raise DatasetError(f"line {line}: column {column} value {cell!r} is not finite")
    return value


def write_csv_atomic(
    path: str | os.PathLike[str], header: Sequence[str], rows: Iterable[Sequence[Any]]
) -> None:
    """Write a CSV file so that it either appears complete or not at all.

    The rows are written to a temporary file in the same directory, which is renamed over
    ``path`` only once everything has been written.
    """
    target = Path(path)
    directory = target.parent if str(target.parent) else Path(".")
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh, lineterminator="\n")
            writer.writerow(header)
            for row in rows:
                writer.writerow([_format_number(v) for v in row])
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _format_number(value: Any) -> str:
    if isinstance(value, str):
        return value
    x = float(value)
    if x.is_integer() and abs(x) < 1e15:
        return str(int(x))
    return f"{x:.10g}"


def write_nonmem_csv(ds: Dataset, path: str | os.PathLike[str]) -> None:
    """Write a :class:`Dataset` as NONMEM-format CSV (standard columns first)."""
    names = [c for c in STANDARD_COLUMNS if c in ds.columns] + list(ds.extra_columns)
    rows = zip(*(ds.columns[c] for c in names), strict=True)
    write_csv_atomic(path, names, rows)


# --- people-facing regimen ----------------------------------------------------------------------
@dataclass(frozen=True)
class Dose:
    """One dose (optionally repeated), with canonical units.

    Parameters
    ----------
    amt : float, mg (or mg/kg when ``per_kg``)
    time_h : float, h
    route : str
        Route name understood by the model (``iv``, ``im``, ``intranasal``, ``oral`` ...).
    tinf_h : float, h
        Infusion duration; 0 for a bolus or an extravascular dose.
    ii_h : float, h
        Interval between repeats.
    addl : int
        Number of additional doses after the first.
    per_kg : bool
        ``amt`` is per kg of body weight.
    """

    amt: float
    time_h: float = 0.0
    route: str = "iv"
    tinf_h: float = 0.0
    ii_h: float = 0.0
    addl: int = 0
    per_kg: bool = False

    def __post_init__(self) -> None:
        if not (math.isfinite(self.amt) and self.amt > 0):
            raise EventError(f"dose amount {self.amt} must be a positive number")
        for name in ("time_h", "tinf_h", "ii_h"):
            v = getattr(self, name)
            if not math.isfinite(v) or (name != "time_h" and v < 0):
                raise EventError(f"{name}={v} must be finite and not negative")
        if self.addl < 0:
            raise EventError(f"repeat count addl={self.addl} must be >= 0")
        if self.addl > 0 and self.ii_h <= 0:
            raise EventError(f"{self.addl + 1} doses need an interval > 0 (got {self.ii_h} h)")
        if self.addl > 0 and self.tinf_h > self.ii_h:
            raise EventError(
                f"infusion of {self.tinf_h} h is longer than the interval "
                f"{self.ii_h} h between doses"
            )

    def get_amount_mg(self, weight_kg: float | None) -> float:
        """Dose amount in mg, using ``weight_kg`` for a per-kg dose."""
        if not self.per_kg:
            return self.amt
        if weight_kg is None or not (weight_kg > 0):
            raise EventError("a per-kg dose needs the body weight (e.g. --weight '70 kg')")
        return self.amt * weight_kg


@dataclass(frozen=True)
class Regimen:
    """A dosing regimen for people: doses with units, resolved to NONMEM records later.

    Examples
    --------
    >>> reg = Regimen.from_quantities("0.5 mg/kg", duration="40 min", every="3.5 d", count=6)
    >>> reg.doses[0].amt, round(reg.doses[0].tinf_h, 4), reg.doses[0].addl
    (0.5, 0.6667, 5)
    """

    doses: tuple[Dose, ...]

    def __post_init__(self) -> None:
        if not self.doses:
            raise EventError("a regimen needs at least one dose")

    @classmethod
    def from_quantities(
        cls,
        dose: Any,
        *,
        route: str = "iv",
        duration: Any = None,
        every: Any = None,
        count: int = 1,
        start: Any = "0 h",
    ) -> Regimen:
        """Build a regimen of ``count`` equal doses from quantities with units.

        Parameters
        ----------
        dose : str or Quantity
            Mass (``"35 mg"``) or mass per body mass (``"0.5 mg/kg"``, ``"500 ug/kg"``).
        route : str
            Route name.
        duration : str or Quantity, optional
            Infusion duration (time).
        every : str or Quantity, optional
            Interval between doses (time); required when ``count > 1``.
        count : int
            Number of doses.
        start : str or Quantity
            Time of the first dose.
        """
        q = parse_quantity(dose, what="dose")
        if str(q.units) == "dimensionless" and "/" not in str(dose):
            raise UnitError(f"dose {dose!r} has no unit: write e.g. '{dose} mg' or '{dose} mg/kg'")
        try:
            amt, per_kg = to_unit(dose, "mg", what="dose"), False
        except UnitError:
            try:
                amt, per_kg = to_unit(dose, "mg/kg", what="dose"), True
            except UnitError:
                raise UnitError(
                    f"dose {dose!r} must be a mass (e.g. '35 mg') or a mass per body mass "
                    "(e.g. '0.5 mg/kg')"
                ) from None
        tinf = to_unit(duration, "h", what="duration") if duration is not None else 0.0
        if count < 1:
            raise EventError(f"count={count}: give at least one dose")
        if count > 1 and every is None:
            raise EventError(f"count={count} needs an interval (e.g. every='3.5 d')")
        ii = to_unit(every, "h", what="interval") if every is not None else 0.0
        t0 = to_unit(start, "h", what="start time")
        return cls(
            (
                Dose(
                    amt=amt,
                    time_h=t0,
                    route=route,
                    tinf_h=tinf,
                    ii_h=ii if count > 1 else 0.0,
                    addl=count - 1,
                    per_kg=per_kg,
                ),
            )
        )

    def get_end_time_h(self) -> float:
        """Time of the end of the last dose (start + repeats + infusion), h."""
        return max(d.time_h + d.addl * d.ii_h + d.tinf_h for d in self.doses)

    def __add__(self, other: Regimen) -> Regimen:
        return Regimen(tuple(sorted(self.doses + other.doses, key=lambda d: d.time_h)))
