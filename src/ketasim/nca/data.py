"""Concentration data for NCA: from columns (a DataFrame, a CSV), arrays, or a ketasim result.

Owns turning the caller's data into checked per-subject profiles with units: column names
(ID, TIME, CONC or DV, optional AMT, DOSE, EVID, MDV, ANALYTE), units from options or from
the header (``TIME_h``, ``CONC_ng_mL``, ``AMT_mg``), doses, and every refusal of bad input
(no unit, unknown column, empty data, duplicate times within a subject, negative or
non-finite concentrations). It computes no NCA parameter.

Doses: rows with EVID = 1 (or, without EVID, AMT > 0) are doses of AMT at TIME and not
observations; a DOSE column is one dose per subject at its first TIME (constant within the
subject). MDV = 1 rows that are not doses are ignored.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from ketasim.errors import DatasetError, ParameterError, UnitError
from ketasim.units import dimensionality_of

__all__ = ["ConcData", "Profile", "read_columns", "read_result"]

FloatArray = npt.NDArray[np.float64]

_KNOWN = ("ID", "TIME", "CONC", "DV", "AMT", "DOSE", "EVID", "MDV", "ANALYTE")
_MISSING = ("", ".", "NA", "NaN", "nan")


@dataclass(frozen=True)
class Profile:
    """One subject's (and analyte's) samples and doses, sorted by time.

    Attributes
    ----------
    id : str
    analyte : str
    time : (T,) array, time unit of :class:`ConcData`
    conc : (T,) array, conc unit
    doses : tuple of (time, amount), time and dose units
    """

    id: str
    analyte: str
    time: FloatArray
    conc: FloatArray
    doses: tuple[tuple[float, float], ...] = ()


@dataclass(frozen=True)
class ConcData:
    """Checked profiles with their units."""

    profiles: tuple[Profile, ...]
    time_unit: str
    conc_unit: str
    dose_unit: str | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)


def _unit_from_suffix(suffix: str) -> str:
    unit = suffix.replace("_per_", "/")
    if "/" not in unit and "_" in unit:
        unit = unit.replace("_", "/", 1)
    return unit.replace("_", "*")


def _split_header(name: str) -> tuple[str, str | None]:
    """``'CONC_ng_mL'`` -> ('CONC', 'ng/mL'); ``'CONC [ng/mL]'`` -> ('CONC', 'ng/mL')."""
    text = name.strip()
    if "[" in text and text.endswith("]"):
        base, unit = text[:-1].split("[", 1)
        return base.strip().upper(), unit.strip() or None
    if "(" in text and text.endswith(")"):
        base, unit = text[:-1].split("(", 1)
        return base.strip().upper(), unit.strip() or None
    base, _, suffix = text.partition("_")
    return base.upper(), (_unit_from_suffix(suffix) if suffix else None)


def _check_unit(unit: str, kind: str, column: str) -> str:
    expect = {"time": "h", "conc": "mg/L", "dose": "mg"}[kind]
    dim = dimensionality_of(unit)
    ok = dim == dimensionality_of(expect)
    if kind == "conc" and not ok:
        ok = dim == dimensionality_of("mol/L")
    if kind == "dose" and not ok:
        ok = dim == dimensionality_of("mol")
    if not ok:
        raise UnitError(f"column {column}: unit {unit!r} is not a {kind} unit (e.g. {expect})")
    return unit


def _resolve_unit(
    header_unit: str | None, option_unit: str | None, kind: str, column: str, flag: str
) -> str:
    if header_unit and option_unit and header_unit.replace(" ", "") != option_unit.replace(" ", ""):
        raise UnitError(
            f"column {column} says {header_unit!r} but {flag} says {option_unit!r}: give one"
        )
    unit = header_unit or option_unit
    if not unit:
        example = {"time": "h", "conc": "ng_mL", "dose": "mg"}[kind]
        raise UnitError(
            f"column {column} has no unit: name it e.g. {column}_{example} or give {flag}"
        )
    return _check_unit(unit, kind, column)


def _to_float(raw: Any, column: str, row: int) -> float:
    if raw is None:
        return math.nan
    if isinstance(raw, str):
        s = raw.strip()
        if s in _MISSING:
            return math.nan
        try:
            return float(s)
        except ValueError:
            raise DatasetError(f"column {column}: {raw!r} is not a number", record=row) from None
    try:
        return float(raw)
    except (TypeError, ValueError):
        raise DatasetError(f"column {column}: {raw!r} is not a number", record=row) from None


def read_columns(
    columns: Mapping[str, Sequence[Any]],
    *,
    time_unit: str | None = None,
    conc_unit: str | None = None,
    dose_unit: str | None = None,
    source: str = "data",
) -> ConcData:
    """Check a table given as named columns and split it into profiles.

    Parameters
    ----------
    columns : mapping of column name -> sequence
        ID (optional for one subject), TIME, CONC or DV, optional AMT, DOSE, EVID, MDV,
        ANALYTE; a name may carry its unit (``TIME_h``, ``CONC_ng_mL``, ``CONC [ng/mL]``).
    time_unit, conc_unit, dose_unit : str or None
        Units when the header does not carry them.
    source : str
        Name of the data in messages (e.g. the file name).

    Raises
    ------
    DatasetError, UnitError
        Empty data, unknown or duplicate columns, missing unit, duplicate times within a
        subject, negative or non-finite concentrations.
    """
    cols: dict[str, tuple[str, str | None, Sequence[Any]]] = {}
    for name, values in columns.items():
        base, unit = _split_header(str(name))
        if base not in _KNOWN:
            raise DatasetError(
                f"{source}: unknown column {name!r}; NCA reads {', '.join(_KNOWN)} "
                "(remove or rename the others)"
            )
        if base in ("CONC", "DV") and ("CONC" in cols or "DV" in cols):
            raise DatasetError(f"{source}: give one concentration column (CONC or DV), not two")
        if base in cols:
            raise DatasetError(f"{source}: column {base} appears twice")
        cols["CONC" if base == "DV" else base] = (str(name), unit, values)
    n = len(next(iter(cols.values()))[2]) if cols else 0
    if n == 0:
        raise DatasetError(f"{source}: no rows: give ID, TIME and CONC columns with data")
    for need in ("TIME", "CONC"):
        if need not in cols:
            raise DatasetError(f"{source}: no {need} column (columns: {', '.join(columns)})")
    for name, _u, values in cols.values():
        if len(values) != n:
            raise DatasetError(f"{source}: column {name} has {len(values)} rows, expected {n}")
    t_name, t_hdr, t_raw = cols["TIME"]
    c_name, c_hdr, c_raw = cols["CONC"]
    tu = _resolve_unit(t_hdr, time_unit, "time", t_name, "--time-unit")
    cu = _resolve_unit(c_hdr, conc_unit, "conc", c_name, "--conc-unit")
    du: str | None = None
    dose_col = [k for k in ("AMT", "DOSE") if k in cols]
    if len(dose_col) == 2:
        raise DatasetError(f"{source}: give doses as AMT records or a DOSE column, not both")
    if dose_col:
        d_name, d_hdr, _ = cols[dose_col[0]]
        du = _resolve_unit(d_hdr, dose_unit, "dose", d_name, "--dose-unit")
    elif dose_unit:
        du = _check_unit(dose_unit, "dose", "--dose-unit")
    ids = [str(x).strip() for x in cols["ID"][2]] if "ID" in cols else ["1"] * n
    analytes = [str(x).strip() for x in cols["ANALYTE"][2]] if "ANALYTE" in cols else [""] * n
    time = np.array([_to_float(x, t_name, r + 1) for r, x in enumerate(t_raw)])
    conc = np.array([_to_float(x, c_name, r + 1) for r, x in enumerate(c_raw)])
    evid = (
        np.array([_to_float(x, "EVID", r + 1) for r, x in enumerate(cols["EVID"][2])])
        if "EVID" in cols
        else None
    )
    mdv = (
        np.array([_to_float(x, "MDV", r + 1) for r, x in enumerate(cols["MDV"][2])])
        if "MDV" in cols
        else np.zeros(n)
    )
    amt = (
        np.array([_to_float(x, cols["AMT"][0], r + 1) for r, x in enumerate(cols["AMT"][2])])
        if "AMT" in cols
        else np.zeros(n)
    )
    amt = np.where(np.isnan(amt), 0.0, amt)
    if evid is not None:
        bad = ~np.isin(evid, (0, 1))
        if np.any(bad):
            r = int(np.flatnonzero(bad)[0])
            raise DatasetError(f"EVID {evid[r]:g}: NCA reads EVID 0 or 1 only", record=r + 1)
        is_dose = evid == 1
    else:
        is_dose = amt > 0
    for r in range(n):
        if not math.isfinite(time[r]):
            raise DatasetError(
                f"{t_name} {t_raw[r]!r} is not a finite time", record=r + 1, subject=ids[r]
            )
        if not (amt[r] >= 0 and math.isfinite(amt[r])):
            raise DatasetError(
                f"AMT {amt[r]:g} must be a finite amount >= 0", record=r + 1, subject=ids[r]
            )
    is_obs = ~is_dose & (mdv != 1)
    for r in (int(x) for x in np.flatnonzero(is_obs)):
        if not math.isfinite(conc[r]):
            raise DatasetError(
                f"{c_name} {c_raw[r]!r} is missing or not finite: give a value (0 or below "
                "--lloq for BLQ) or set MDV=1",
                record=r + 1, subject=ids[r],
            )  # fmt: skip
        if conc[r] < 0:
            raise DatasetError(
                f"{c_name} {conc[r]:g} {cu} is negative: concentrations must be >= 0",
                record=r + 1, subject=ids[r],
            )  # fmt: skip
    per_subject_dose: dict[str, float] = {}
    if "DOSE" in cols:
        d_name = cols["DOSE"][0]
        for r, raw in enumerate(cols["DOSE"][2]):
            x = _to_float(raw, d_name, r + 1)
            if not (math.isfinite(x) and x >= 0):
                raise DatasetError(
                    f"{d_name} {raw!r} must be a finite dose >= 0", record=r + 1, subject=ids[r]
                )
            prev = per_subject_dose.setdefault(ids[r], x)
            if prev != x:
                raise DatasetError(
                    f"{d_name} changes within the subject ({prev:g} then {x:g}): a DOSE column "
                    "is one dose per subject; give AMT dose records instead",
                    record=r + 1, subject=ids[r],
                )  # fmt: skip
    return ConcData(
        _split_profiles(ids, analytes, time, conc, is_obs, is_dose, amt, per_subject_dose),
        tu, cu, du,
    )  # fmt: skip


def _split_profiles(
    ids: list[str],
    analytes: list[str],
    time: FloatArray,
    conc: FloatArray,
    is_obs: npt.NDArray[np.bool_],
    is_dose: npt.NDArray[np.bool_],
    amt: FloatArray,
    per_subject_dose: dict[str, float],
) -> tuple[Profile, ...]:
    order: dict[tuple[str, str], list[int]] = {}
    doses: dict[str, list[tuple[float, float]]] = {}
    for r, (i, a) in enumerate(zip(ids, analytes, strict=True)):
        if is_dose[r]:
            doses.setdefault(i, []).append((float(time[r]), float(amt[r])))
        elif is_obs[r]:
            order.setdefault((i, a), []).append(r)
    out = []
    for (i, a), rows in order.items():
        t, c = time[rows], conc[rows]
        srt = np.argsort(t, kind="stable")
        t, c = t[srt], c[srt]
        dup = np.flatnonzero(np.diff(t) == 0)
        if dup.size:
            raise DatasetError(
                f"time {t[dup[0]]:g} appears twice for this subject"
                + (f" (analyte {a})" if a else "")
                + ": NCA needs one concentration per time; remove or average the duplicates",
                subject=i,
            )
        d = doses.get(i, [])
        if i in per_subject_dose:
            d = [(float(t[0]), per_subject_dose[i])]
        out.append(Profile(i, a, t, c, tuple(sorted(d))))
    if not out:
        raise DatasetError("no observations: every row is a dose or has MDV=1")
    return tuple(out)


def read_result(result: Any, *, analytes: Sequence[str] | None, conc_unit: str) -> ConcData:
    """Profiles of a ketasim result (anything with ``time_h`` and ``get_conc(analyte, unit)``).

    Parameters
    ----------
    result : RegimenResult, Result or alike
        ``get_conc(analyte, unit)`` returns (subjects, T) or (T,).
    analytes : sequence of str or None
        Analytes to analyse (default: all of ``result.analytes``).
    conc_unit : str
        Unit to read concentrations in, e.g. ``"ng/mL"``.
    """
    if not hasattr(result, "time_h") or not hasattr(result, "get_conc"):
        raise ParameterError(
            "NCA input must be a table, arrays, or a ketasim result with time_h and get_conc"
        )
    t = np.asarray(result.time_h, dtype=float)
    names = list(analytes) if analytes is not None else list(getattr(result, "analytes", []))
    if not names:
        raise ParameterError("give the analyte(s) to analyse: the result lists none")
    _check_unit(conc_unit, "conc", "conc_unit")
    profiles: list[Profile] = []
    for a in names:
        c = np.atleast_2d(np.asarray(result.get_conc(a, conc_unit), dtype=float))
        if c.shape[-1] != t.size:
            raise ParameterError(f"analyte {a}: {c.shape[-1]} concentrations for {t.size} times")
        for s in range(c.shape[0]):
            tt, cc = t, c[s]
            # NOTE: a solver grid may repeat a time (left/right limits at a dose); keep the last
            keep = np.concatenate([np.diff(tt) != 0, [True]])
            tt, cc = tt[keep], cc[keep]
            # NOTE: round-off of an exact solver can leave -1e-20 where the truth is 0
            scale = float(np.max(np.abs(cc), initial=0.0))
            cc = np.where((cc < 0) & (cc >= -1e-12 * scale), 0.0, cc)
            if np.any(~np.isfinite(cc)) or np.any(cc < 0):
                raise ParameterError(f"analyte {a}, subject {s + 1}: non-finite or negative conc")
            profiles.append(Profile(str(s + 1), a, tt, cc))
    return ConcData(tuple(profiles), "h", conc_unit, None)
