"""Measured levels for fitting: observations with units, LLOQ/BLQ flags and analytes.

Owns reading the observation records (EVID 0, MDV 0) of a NONMEM-style
:class:`~ketasim.events.Dataset` into per-subject padded arrays in mg/L: which analyte each DV
measures, its unit (a ``--dv-unit`` or a header like ``DV_ng_mL``; none is an error), the lower
limit of quantification (one per analyte, or an ``LLOQ`` column) and below-LLOQ flags (a
``BLQ``/``CENS`` column, or DV < LLOQ). It does not know parameters or predictions.

Policy for bad input (each an error naming the record or ID, see ``docs/estimation.md``):
a subject without any observation is refused (its "fit" would be the prior, which is not an
individual estimate); a negative DV, a DV with no unit, an LLOQ above every DV of an analyte,
a BLQ flag with no LLOQ, and an observation record in a compartment that is not an analyte's
observed (central) compartment are refused.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from ketasim.errors import EventError, UnitError
from ketasim.events import Dataset
from ketasim.spec import ModelSpec
from ketasim.units import convert_magnitude, get_molar_mass_g_per_mol

__all__ = ["DV_HEADER_UNITS", "Observations", "get_observations", "to_conc_mg_per_L"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

#: DV column names that carry their unit (headers are read upper-case) -> the unit
DV_HEADER_UNITS: dict[str, str] = {
    "DV_NG_ML": "ng/mL",
    "DV_UG_L": "ug/L",
    "DV_MG_L": "mg/L",
    "DV_UG_ML": "ug/mL",
    "DV_NMOL_L": "nmol/L",
    "DV_UMOL_L": "umol/L",
    "DV_NMOL_ML": "nmol/mL",
}
_BLQ_COLUMNS = ("BLQ", "CENS")


@dataclass(frozen=True)
class Observations:
    """Observations of ``n_subjects`` subjects, padded to the largest count per subject.

    Attributes
    ----------
    ids : tuple
        Subject IDs as written in the data, in dataset order.
    analytes : tuple of str
        Analytes measured; ``analyte`` indexes this tuple.
    time_h, dv_mg_per_L, lloq_mg_per_L : ndarray (n_subjects, max_obs)
        Time (h), measured value (mg/L; meaningless where ``blq``), LLOQ (mg/L, NaN if none).
    analyte : ndarray of int (n_subjects, max_obs)
    blq, mask : ndarray of bool (n_subjects, max_obs)
        Below the LLOQ (M3 likelihood); real observation (False in the padding).
    record : ndarray of int (n_subjects, max_obs)
        1-based record numbers (0 in the padding), for messages and output tables.
    dv_unit : str
        The unit the DVs were given in (output tables use it).
    """

    ids: tuple[object, ...]
    analytes: tuple[str, ...]
    time_h: FloatArray
    dv_mg_per_L: FloatArray  # noqa: N815 (unit suffix, STYLE.md section 3)
    lloq_mg_per_L: FloatArray  # noqa: N815 (unit suffix, STYLE.md section 3)
    analyte: IntArray
    blq: BoolArray
    mask: BoolArray
    record: IntArray
    dv_unit: str

    @property
    def n_subjects(self) -> int:
        return len(self.ids)

    @property
    def n_obs(self) -> IntArray:
        """Observations per subject."""
        return np.asarray(self.mask.sum(axis=1), dtype=np.int64)


def to_conc_mg_per_L(  # noqa: N802 (unit suffix, STYLE.md section 3)
    values: Any, unit: str, analyte: str, *, what: str = "DV"
) -> FloatArray:
    """Concentrations given in ``unit`` (mass or molar per volume) in mg/L.

    Examples
    --------
    >>> float(to_conc_mg_per_L(250.0, "ng/mL", "ketamine")[()])
    0.25
    """
    v = np.asarray(values, dtype=float)
    try:
        return np.asarray(v * convert_magnitude(1.0, unit, "mg/L", what=what))
    except UnitError:
        pass
    try:
        per_mmol = convert_magnitude(1.0, unit, "mmol/L", what=what)
    except UnitError:
        raise UnitError(
            f"{what} unit {unit!r} is not a concentration: give e.g. ng/mL, mg/L or nmol/L"
        ) from None
    # NOTE: mmol/L x g/mol = mg/L (the molar mass is physics, not a unit factor)
    return np.asarray(v * per_mmol * get_molar_mass_g_per_mol(analyte))


def _fmt_id(x: float) -> object:
    return int(x) if float(x).is_integer() else float(x)


def _dv_column(data: Dataset, dv_unit: str | None) -> tuple[str, str]:
    named = [c for c in data.columns if c in DV_HEADER_UNITS]
    other = [c for c in data.extra_columns if c.startswith("DV_") and c not in DV_HEADER_UNITS]
    if other:
        raise UnitError(
            f"column {other[0]}: unknown DV unit; name it one of {', '.join(DV_HEADER_UNITS)}"
        )
    if len(named) > 1:
        raise UnitError(f"columns {', '.join(named)} both give DV: keep one")
    if named:
        col, unit = named[0], DV_HEADER_UNITS[named[0]]
        if np.any(data["DV"] != 0):
            raise UnitError(f"both DV and {col} columns hold values: keep one")
        if dv_unit is not None and _unit_factor(dv_unit) != _unit_factor(unit):
            raise UnitError(f"--dv-unit {dv_unit} contradicts column {col} ({unit})")
        return col, unit
    if dv_unit is None:
        raise UnitError("DV has no unit: give --dv-unit (e.g. 'ng/mL') or name the column DV_ng_mL")
    return "DV", dv_unit


def _unit_factor(unit: str) -> tuple[float, float]:
    """(to mg/L, to mmol/L) factors of a unit, NaN where a dimension does not fit."""
    out = []
    for target in ("mg/L", "mmol/L"):
        try:
            out.append(convert_magnitude(1.0, unit, target))
        except UnitError:
            out.append(float("nan"))
    if all(np.isnan(out)):
        raise UnitError(f"DV unit {unit!r} is not a concentration: give e.g. ng/mL or nmol/L")
    return out[0], out[1]


def _obs_analytes(spec: ModelSpec, data: Dataset, rows: IntArray, analyte: str | None) -> list[str]:
    observed = {spec.get_central_index(a): a for a in spec.get_analytes()}
    if analyte is not None and analyte not in spec.get_analytes():
        raise EventError(
            f"--analyte {analyte!r}: model {spec.id} has analytes {', '.join(spec.get_analytes())}"
        )
    default = analyte or spec.compartments[spec.get_default_observation_index()].analyte
    out: list[str] = []
    for r in rows:
        cmt = int(data["CMT"][r])
        if cmt == 0:
            out.append(str(default))
            continue
        name = observed.get(cmt - 1)
        if name is None:
            comp = spec.compartments[cmt - 1].name if cmt <= spec.n_compartments else "none"
            raise EventError(
                f"observation in CMT={cmt} ({comp}) is not an observed compartment; observed: "
                + ", ".join(f"{i + 1} ({a})" for i, a in observed.items()),
                record=int(data.record_numbers[r]),
                subject=_fmt_id(data["ID"][r]),
            )
        if analyte is not None and name != analyte:
            raise EventError(
                f"observation in CMT={cmt} measures {name}, not --analyte {analyte}",
                record=int(data.record_numbers[r]),
                subject=_fmt_id(data["ID"][r]),
            )
        out.append(name)
    return out


def _lloq_by_analyte(lloq: Any, analytes: list[str]) -> dict[str, float]:
    if lloq is None:
        return {}
    items = lloq.items() if isinstance(lloq, Mapping) else [(a, lloq) for a in analytes]
    out: dict[str, float] = {}
    for a, q in items:
        if not isinstance(q, str):
            raise UnitError(f"LLOQ {q!r} of {a} has no unit: write e.g. '1 ng/mL'")
        num, _, unit = q.strip().partition(" ")
        try:
            value = float(num)
        except ValueError:
            raise UnitError(f"LLOQ {q!r}: expected a number and a unit, e.g. '1 ng/mL'") from None
        if not unit.strip():
            raise UnitError(f"LLOQ {q!r} has no unit: write e.g. '{q} ng/mL'")
        if not np.isfinite(value) or value <= 0:
            raise EventError(f"LLOQ {q!r} must be a positive concentration")
        out[a] = float(to_conc_mg_per_L(value, unit.strip(), a, what=f"LLOQ {q!r}"))
    return out


def get_observations(
    data: Dataset,
    spec: ModelSpec,
    *,
    dv_unit: str | None = None,
    analyte: str | None = None,
    lloq: str | Mapping[str, str] | None = None,
) -> Observations:
    """Observation records of ``data`` for ``spec``, with units, analytes and BLQ flags.

    Parameters
    ----------
    data : Dataset
        NONMEM-style records; observations are EVID 0 with MDV 0. TIME in h.
    spec : ModelSpec
    dv_unit : str, optional
        Unit of DV (``"ng/mL"``, ``"nmol/L"`` ...); or name the column ``DV_ng_mL`` etc.
    analyte : str, optional
        Analyte of observations with CMT 0 (default: the model's first observed analyte);
        observations with CMT > 0 measure that compartment's analyte and must agree.
    lloq : str or mapping, optional
        LLOQ with unit (``"1 ng/mL"``) for every analyte, or analyte -> LLOQ. A per-record
        ``LLOQ`` column (in the DV unit) takes precedence where it is > 0.

    Returns
    -------
    Observations

    Raises
    ------
    UnitError
        A DV or LLOQ without a (concentration) unit.
    EventError
        Naming the record or ID: negative DV, a subject with no observation, an LLOQ above every
        DV of an analyte, a BLQ flag with no LLOQ, an observation in a compartment that is not
        observed.

    Examples
    --------
    >>> from ketasim.library import load_model
    >>> ds = Dataset({"ID": [1, 1, 1], "TIME": [0, 1, 2], "AMT": [20, 0, 0],
    ...               "EVID": [1, 0, 0], "DV": [0, 250, 120], "WT": [70, 70, 70]})
    >>> obs = get_observations(ds, load_model("herd_2007"), dv_unit="ng/mL")
    >>> obs.dv_mg_per_L[0].tolist(), obs.analytes
    ([0.25, 0.12], ('ketamine',))
    """
    col, unit = _dv_column(data, dv_unit)
    is_obs = (data["EVID"] == 0) & (data["MDV"] == 0)
    rows = np.flatnonzero(is_obs)
    names = _obs_analytes(spec, data, rows, analyte)
    analytes = list(dict.fromkeys(names))
    dv_raw = data[col][rows]
    neg = np.flatnonzero(dv_raw < 0)
    if neg.size:
        r = rows[neg[0]]
        raise EventError(
            f"DV={dv_raw[neg[0]]:g} {unit} is negative: concentrations cannot be below 0 "
            "(mark values below the LLOQ with BLQ=1 and give --lloq)",
            record=int(data.record_numbers[r]),
            subject=_fmt_id(data["ID"][r]),
        )
    names_arr = np.asarray(names, dtype=object)
    # NOTE: one conversion factor per analyte (pint is slow per value)
    factor = np.ones(rows.size)
    for a in analytes:
        factor[names_arr == a] = float(to_conc_mg_per_L(1.0, unit, a))
    dv = dv_raw * factor
    lloq_a = _lloq_by_analyte(lloq, analytes)
    lq = np.array([lloq_a.get(a, np.nan) for a in names])
    if "LLOQ" in data.columns:
        col_lq = data["LLOQ"][rows]
        per_rec = col_lq * factor
        lq = np.where(col_lq > 0, per_rec, lq)
    flag = np.zeros(rows.size, dtype=bool)
    for c in _BLQ_COLUMNS:
        if c in data.columns:
            flag |= data[c][rows] != 0
    no_lq = np.flatnonzero(flag & ~np.isfinite(lq))
    if no_lq.size:
        r = rows[no_lq[0]]
        raise EventError(
            "observation is flagged below the LLOQ but no LLOQ is given: give --lloq "
            "(e.g. '1 ng/mL') or an LLOQ column",
            record=int(data.record_numbers[r]),
            subject=_fmt_id(data["ID"][r]),
        )
    blq = flag | (np.isfinite(lq) & (dv < lq))
    for a in analytes:
        sel = names_arr == a
        if np.any(np.isfinite(lq[sel])) and np.all(blq[sel]):
            top = float(np.max(dv_raw[sel]))
            raise EventError(
                f"the LLOQ of {a} is above every DV (largest DV {top:g} {unit}): check the "
                "LLOQ and DV units"
            )
    ids_all = data.ids
    subj_of_row = {float(v): i for i, v in enumerate(ids_all)}
    sidx = np.array([subj_of_row[float(data["ID"][r])] for r in rows], dtype=np.int64)
    counts = np.bincount(sidx, minlength=len(ids_all))
    missing = [_fmt_id(ids_all[i]) for i in np.flatnonzero(counts == 0)]
    if missing:
        shown = ", ".join(map(str, missing[:5])) + (" ..." if len(missing) > 5 else "")
        raise EventError(
            f"ID {shown}: no observation (EVID 0, MDV 0) to fit; its posterior would be the "
            "prior: remove the subject or add its measured levels"
        )
    N, M = len(ids_all), int(counts.max())
    shape = (N, M)
    time_h, dvm, lqm = np.zeros(shape), np.ones(shape), np.full(shape, np.nan)
    an, rec = np.zeros(shape, np.int64), np.zeros(shape, np.int64)
    blqm, mask = np.zeros(shape, bool), np.zeros(shape, bool)
    fill = np.zeros(N, np.int64)
    aidx = {a: i for i, a in enumerate(analytes)}
    for k, r in enumerate(rows):
        i = sidx[k]
        j = fill[i]
        fill[i] += 1
        time_h[i, j] = data["TIME"][r]
        dvm[i, j] = dv[k]
        lqm[i, j] = lq[k]
        an[i, j] = aidx[names[k]]
        rec[i, j] = data.record_numbers[r]
        blqm[i, j] = blq[k]
        mask[i, j] = True
    return Observations(
        ids=tuple(_fmt_id(v) for v in ids_all),
        analytes=tuple(analytes),
        time_h=time_h,
        dv_mg_per_L=dvm,
        lloq_mg_per_L=lqm,
        analyte=an,
        blq=blqm,
        mask=mask,
        record=rec,
        dv_unit=unit,
    )
