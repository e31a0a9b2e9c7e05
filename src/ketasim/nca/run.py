"""``compute_nca``: NCA of a table, arrays or a ketasim result, per subject and interval.

Owns the one entry point of the NCA layer: it reads the input (:mod:`ketasim.nca.data`),
settles units of the options (LLOQ, threshold, doses, intervals) through
:mod:`ketasim.units`, runs :func:`~ketasim.nca.profile.compute_profile_nca` for every
profile x interval, converts clearance to L/h and volume to L, and returns the long
:class:`~ketasim.nca.table.NCAResult`. It never simulates: a result is passed in.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ketasim.errors import ParameterError, UnitError
from ketasim.nca.blq import BLQRule
from ketasim.nca.data import ConcData, Profile, read_columns, read_result
from ketasim.nca.intervals import Interval, parse_interval
from ketasim.nca.options import NCAOptions
from ketasim.nca.parameters import PARAMETERS, Estimate, get_parameter_unit
from ketasim.nca.profile import compute_profile_nca
from ketasim.nca.table import NCAPoint, NCAResult, NCARow
from ketasim.units import to_unit

__all__ = ["compute_nca"]


def _quantity(value: Any, unit: str, what: str) -> float:
    """A float already in ``unit``, or text/pint quantity converted to it."""
    if isinstance(value, (int, float, np.floating, np.integer)):
        return float(value)
    return to_unit(value, unit, what=what)


def _read(
    data: Any,
    conc: Any,
    ids: Any,
    analytes: Sequence[str] | None,
    time_unit: str | None,
    conc_unit: str | None,
    dose_unit: str | None,
) -> ConcData:
    if hasattr(data, "time_h") and hasattr(data, "get_conc"):
        if time_unit not in (None, "h"):
            raise UnitError(f"a ketasim result's time is in h; time_unit {time_unit!r} refused")
        return read_result(data, analytes=analytes, conc_unit=conc_unit or "ng/mL")
    if conc is not None:
        t = np.asarray(data, dtype=float)
        c = np.atleast_2d(np.asarray(conc, dtype=float))
        if t.ndim != 1 or c.shape[-1] != t.size:
            raise ParameterError(f"time has {t.size} points but conc has {c.shape[-1]}")
        subj = [str(x) for x in ids] if ids is not None else [str(k + 1) for k in range(c.shape[0])]
        if len(subj) != c.shape[0]:
            raise ParameterError(f"{len(subj)} ids for {c.shape[0]} profiles")
        cols = {
            "ID": [s for s in subj for _ in range(t.size)],
            "TIME": list(np.tile(t, c.shape[0])),
            "CONC": list(c.ravel()),
        }
        return read_columns(cols, time_unit=time_unit, conc_unit=conc_unit, dose_unit=dose_unit,
                            source="arrays")  # fmt: skip
    if hasattr(data, "columns") and not isinstance(data, Mapping):
        cols = {str(k): list(data[k]) for k in data.columns}
        return read_columns(cols, time_unit=time_unit, conc_unit=conc_unit, dose_unit=dose_unit,
                            source="DataFrame")  # fmt: skip
    if isinstance(data, Mapping):
        return read_columns(
            {str(k): list(v) for k, v in data.items()},
            time_unit=time_unit, conc_unit=conc_unit, dose_unit=dose_unit, source="table",
        )  # fmt: skip
    raise ParameterError(
        "NCA input must be a DataFrame or mapping of columns, time and conc arrays, or a "
        "ketasim result"
    )


def _dose_per_subject(
    dose: Any, cd: ConcData, dose_unit: str | None
) -> tuple[dict[str, list[tuple[float, float]]], str | None]:
    """Doses of each subject (time, amount) and their unit."""
    given = {p.id: list(p.doses) for p in cd.profiles}
    if dose is None:
        return given, cd.dose_unit
    if any(given.values()):
        raise ParameterError("the data already holds doses (AMT/DOSE): do not also give dose")
    unit = dose_unit or "mg"
    if isinstance(dose, Mapping):
        out = {str(k): [(0.0, _quantity(v, unit, f"dose of ID {k}"))] for k, v in dose.items()}
    else:
        if isinstance(dose, (int, float)) and dose_unit is None:
            raise UnitError(f"dose {dose!r} has no unit: write e.g. '{dose} mg' or give dose_unit")
        amount = _quantity(dose, unit, "dose")
        out = {p.id: [(0.0, amount)] for p in cd.profiles}
    for k, v in out.items():
        if not (math.isfinite(v[0][1]) and v[0][1] >= 0):
            raise ParameterError(f"dose of ID {k}: {v[0][1]:g} {unit} must be >= 0")
    return out, unit


def _default_interval(p: Profile, doses: list[tuple[float, float]]) -> Interval:
    if doses:
        return Interval(min(t for t, _ in doses))
    return Interval(min(0.0, float(p.time[0])))


def compute_nca(
    data: Any,
    conc: Any = None,
    *,
    ids: Sequence[Any] | None = None,
    analytes: Sequence[str] | None = None,
    time_unit: str | None = None,
    conc_unit: str | None = None,
    dose_unit: str | None = None,
    dose: Any = None,
    intervals: Sequence[Interval | str] | None = None,
    method: str = "lin-up/log-down",
    blq: BLQRule | str | None = None,
    lloq: Any = None,
    lambda_z_points: Sequence[float] | Mapping[str, Sequence[float]] | None = None,
    min_points: int = 3,
    adj_r2_tolerance: float = 1e-4,
    allow_tmax: bool = False,
    route: str = "extravascular",
    infusion_duration: Any = None,
    threshold: Any = None,
) -> NCAResult:
    """Non-compartmental analysis by PKNCA's conventions, one long table out.

    Parameters
    ----------
    data : DataFrame, mapping of columns, time array, or ketasim result
        A table with ID, TIME, CONC (or DV) and optional AMT/DOSE/EVID/MDV/ANALYTE
        columns (units in the header, ``CONC_ng_mL``, or in the unit arguments); or a
        (T,) time array with ``conc``; or anything with ``time_h`` and
        ``get_conc(analyte, unit)`` (time in h).
    conc : (T,) or (subjects, T) array, conc_unit
        Concentrations when ``data`` is a time array.
    ids : sequence, optional
        Subject ids for the rows of a 2-D ``conc``.
    analytes : sequence of str, optional
        Analytes of a result to analyse (default all).
    time_unit, conc_unit, dose_unit : str
        Units when the data does not carry them (a result: h, and ``conc_unit`` default
        ng/mL). A missing unit is an error.
    dose : str, float (dose_unit), or mapping ID -> dose, optional
        One dose per subject at time 0 when the data has no dose records.
    intervals : sequence of Interval or text (``"0,24 h"``), optional
        Default: one interval from the first dose (or time 0) to infinity.
    method : str
        ``"lin-up/log-down"`` (default), ``"linear"`` or ``"lin-log"``.
    blq : BLQRule or text (``"first=keep,middle=drop,last=keep"``), optional
        Default PKNCA's rule.
    lloq : str or float (conc unit), optional
        Lower limit of quantification.
    lambda_z_points : sequence of times, or mapping ID -> times (time unit), optional
        User-selected lambda_z points (absolute times).
    min_points, adj_r2_tolerance, allow_tmax
        PKNCA's lambda_z rule settings (3, 1e-4, False).
    route : str
        ``"extravascular"`` (default; CLFO, VZFO, MRTEV...) or ``"intravascular"``.
    infusion_duration : str or float (time unit), optional
        For the intravascular MRT correction (tinf/2).
    threshold : str or float (conc unit), optional
        Reports TABOVE, the time above it.

    Returns
    -------
    NCAResult
        One row per subject x analyte x interval x parameter, with units and a reason for
        every NaN.

    Raises
    ------
    KetasimError
        Bad input (see :mod:`ketasim.nca.data`) or nothing computable at all.

    Examples
    --------
    >>> import numpy as np
    >>> t = np.array([0.0, 0.5, 1, 2, 4, 8, 12])
    >>> res = compute_nca(t, 10 * np.exp(-0.2 * t), time_unit="h", conc_unit="mg/L",
    ...                   dose="50 mg", route="intravascular")
    >>> round(res.get("LAMZHL"), 6), round(res.get("CLO"), 6), res.get_row("CLO").unit
    (3.465736, 1.0, 'L/h')

    A simulated profile of a library model (ketamine 20 mg IV bolus, Herd 2007, 20 kg):

    >>> from ketasim.events import Regimen
    >>> from ketasim.library import load_model
    >>> from ketasim.simulate import simulate_regimen
    >>> sim = simulate_regimen(load_model("herd_2007"), Regimen.from_quantities("20 mg"),
    ...                        np.linspace(0, 8, 33), covariates={"WT": 20.0})
    >>> nca = compute_nca(sim, dose="20 mg", route="intravascular")
    >>> row = nca.get_row("AUCIFO")
    >>> row.analyte, row.unit, row.reason
    ('ketamine', 'h*ng/mL', '')
    """
    cd = _read(data, conc, ids, analytes, time_unit, conc_unit, dose_unit)
    doses, du = _dose_per_subject(dose, cd, dose_unit)
    tu, cu = cd.time_unit, cd.conc_unit
    rule = BLQRule.parse(blq, lambda s: to_unit(s, cu, what="--blq value")) if isinstance(
        blq, str) else (blq or BLQRule())  # fmt: skip
    opts = NCAOptions(
        method=method,
        blq=rule,
        lloq=0.0 if lloq is None else _quantity(lloq, cu, "LLOQ"),
        min_points=min_points,
        adj_r2_tolerance=adj_r2_tolerance,
        allow_tmax=allow_tmax,
        route=route,
        infusion_duration=(
            0.0 if infusion_duration is None else _quantity(infusion_duration, tu, "infusion")
        ),
        threshold=None if threshold is None else _quantity(threshold, cu, "threshold"),
    )
    if opts.lloq > 0 and not any(np.any(p.conc >= opts.lloq) for p in cd.profiles):
        raise ParameterError(
            f"LLOQ {opts.lloq:g} {cu} is above every concentration: nothing is measurable"
        )
    ivs = [parse_interval(x, tu) if isinstance(x, str) else x for x in (intervals or [])]
    units = _units(tu, cu, du)
    rows: list[NCARow] = []
    points: list[NCAPoint] = []
    for p in cd.profiles:
        p_doses = doses.get(p.id, [])
        lz_pts = (
            lambda_z_points.get(p.id) if isinstance(lambda_z_points, Mapping) else lambda_z_points
        )
        for iv in ivs or [_default_interval(p, p_doses)]:
            amt, why = _interval_dose(p_doses, iv, du)
            ends = [t + opts.infusion_duration for t, _ in p_doses if iv.start <= t < iv.end]
            res = compute_profile_nca(
                p.time, p.conc, iv, opts, dose=amt, dose_reason=why, lambda_z_points=lz_pts,
                dose_end=max(ends) if ends else None,
            )  # fmt: skip
            for code, est in res.values.items():
                info = PARAMETERS[code]
                unit, factor = units[info.kind]
                if isinstance(factor, str):
                    est = Estimate.missing(factor) if est.ok else est
                    factor = 1.0
                rows.append(
                    NCARow(p.id, p.analyte, iv.start, iv.end, code, info.name,
                           est.value * factor if est.ok else math.nan, unit, est.reason)
                )  # fmt: skip
            points.extend(_points(p, iv, res))
    if not any(not math.isnan(r.value) for r in rows):
        raise ParameterError(
            "nothing can be computed: " + (rows[0].reason if rows else "no profiles")
        )
    return NCAResult(tuple(rows), tuple(points), tu, cu, du, opts)


def _units(tu: str, cu: str, du: str | None) -> dict[str, tuple[str, float | str]]:
    out: dict[str, tuple[str, float | str]] = {}
    for kind in ("conc", "time", "auc", "aumc", "rate", "percent", "count", "dimensionless",
                 "clearance", "volume"):  # fmt: skip
        try:
            out[kind] = get_parameter_unit(kind, time_unit=tu, conc_unit=cu, dose_unit=du)
        except UnitError as exc:
            out[kind] = ("L/h" if kind == "clearance" else "L", str(exc))
    return out


def _interval_dose(
    doses: list[tuple[float, float]], iv: Interval, du: str | None
) -> tuple[float | None, str]:
    if not doses:
        return None, "no dose given (give a dose, or AMT/DOSE columns)"
    inside = [a for t, a in doses if iv.start <= t < iv.end]
    if not inside:
        return None, f"no dose in [{iv.start:g}, {iv.end:g})"
    return float(sum(inside)), ""


def _points(p: Profile, iv: Interval, res: Any) -> list[NCAPoint]:
    out: list[NCAPoint] = []
    fit = res.lambda_z
    reasons: dict[float, str] = {}
    for t, why in res.dropped:
        reasons[t] = why
    if fit is not None:
        for t, why in fit.excluded:
            reasons.setdefault(t, why)
        for t, used in zip(res.times, fit.used, strict=True):
            if used:
                out.append(NCAPoint(p.id, p.analyte, iv.start, iv.end, float(t), True, ""))
    for t, why in sorted(reasons.items()):
        out.append(NCAPoint(p.id, p.analyte, iv.start, iv.end, t, False, why))
    return sorted(out, key=lambda q: q.time)
