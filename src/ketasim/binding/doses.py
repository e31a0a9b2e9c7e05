"""Dose records meet the model's routes: compartments, F, lag, modelled rate or duration.

Owns expanding each dose record into engine records (one per route input, from the record's
``ROUTE`` or its compartment), resolving ``CMT`` numbers and names, and the dose plausibility
check. Vectorised by route input and compartment (no loop over records).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from ketasim.errors import EventError, ParameterError
from ketasim.events import Dataset
from ketasim.plausibility import check_dose_plausibility
from ketasim.spec import ModelSpec

__all__ = ["Expanded", "check_plausibility", "expand_doses", "fmt_id", "record_error"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


def fmt_id(x: float) -> object:
    return int(x) if float(x).is_integer() else float(x)


def record_error(data: Dataset, i: int, message: str) -> EventError:
    return EventError(
        message, record=int(data.record_numbers[i]), subject=str(fmt_id(data["ID"][i]))
    )


@dataclass(frozen=True)
class Expanded:
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
    dose = (evid == 1) | (evid == 4)
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
                raise record_error(
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
        raise record_error(
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


def expand_doses(
    spec: ModelSpec, data: Dataset, p: Mapping[str, FloatArray], subject: npt.NDArray[np.intp]
) -> Expanded:
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
    dose_rows = np.flatnonzero((evid == 1) | (evid == 4))
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
                raise record_error(
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
                        raise record_error(
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
                    raise record_error(
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
        return Expanded(np.zeros(0, np.int64), np.zeros(0, np.int64), z, z, z, z, z, z)
    cat = {k: np.concatenate([pt[k] for pt in parts]) for k in parts[0]}
    order = np.lexsort((cat["sub"], cat["row"]))
    return Expanded(
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


def check_plausibility(
    spec: ModelSpec, data: Dataset, covs: Mapping[str, Any], ex: Expanded
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
