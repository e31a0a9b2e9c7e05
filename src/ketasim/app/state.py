"""The app's form <-> a :class:`~ketasim.scenario.Scenario`, both ways, without Shiny.

Owns the input ids of the form and their translation: :func:`get_scenario_from_inputs` turns the
values of the form (numbers with a unit chosen beside them, selections, text) into a scenario
(quantities as text with units, checked by :mod:`ketasim.scenario`), and
:func:`get_inputs_from_scenario` gives the form values that show an uploaded scenario. Pure
functions of plain values, so they are unit-tested without a browser.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from ketasim.errors import KetasimError
from ketasim.scenario import (
    MAX_REGIMENS,
    DosePart,
    GridSpec,
    Patient,
    RegimenSpec,
    Scenario,
    ScenarioError,
    load_scenario_text,
)
from ketasim.units import parse_quantity, to_unit

__all__ = [
    "CONDITIONS",
    "DOSE_UNITS",
    "DURATION_UNITS",
    "INTERVAL_UNITS",
    "UNITS",
    "get_default_inputs",
    "get_inputs_from_scenario",
    "get_safety_profile",
    "get_scenario_from_inputs",
    "parse_assignments",
    "slot_id",
]

DOSE_UNITS = ("mg", "mg/kg", "ug/kg")
DURATION_UNITS = ("min", "h")
INTERVAL_UNITS = ("h", "d")
UNITS = ("ng/mL", "nmol/L")
SCHEDULES = ("once", "every", "weekdays")

#: the patient's conditions as the app and scenario files spell them -> label shown
CONDITIONS: dict[str, str] = {
    "pregnant": "pregnant",
    "breastfeeding": "breastfeeding",
    "pre_eclampsia": "pre-eclampsia or eclampsia",
    "hyperthyroidism_untreated": "untreated hyperthyroidism",
    "hypertension:controlled": "hypertension, controlled",
    "hypertension:uncontrolled": "hypertension, uncontrolled",
    "cardiovascular:aneurysm": "aneurysmal vascular disease",
    "cardiovascular:avm": "arteriovenous malformation",
    "cardiovascular:ich": "history of intracerebral haemorrhage",
    "cardiovascular:recent_mi": "recent cardiovascular event",
    "cardiovascular:ihd": "ischaemic heart disease",
    "cardiovascular:stroke": "cerebrovascular disease",
    "cardiovascular:other": "other cardiovascular disease",
    "hepatic_impairment:mild": "hepatic impairment, mild",
    "hepatic_impairment:moderate": "hepatic impairment, moderate",
    "hepatic_impairment:severe": "hepatic impairment, severe",
    "renal_impairment:mild": "renal impairment, mild",
    "renal_impairment:moderate": "renal impairment, moderate",
    "renal_impairment:severe": "renal impairment, severe",
    "psychosis_history": "history of psychosis",
    "raised_intracranial_pressure": "raised intracranial pressure",
    "raised_intraocular_pressure": "raised intraocular pressure",
    "substance_use_disorder": "substance use disorder",
}


def slot_id(k: int, name: str) -> str:
    """Input id of field ``name`` of regimen slot ``k`` (1-based): ``r2_dose``."""
    return f"r{k}_{name}"


def parse_assignments(text: str, what: str) -> dict[str, float]:
    """``"NDEV=3, ASIAN=0"`` -> {"NDEV": 3.0, "ASIAN": 0.0} (empty text: {}).

    >>> parse_assignments("NDEV=3, ASIAN = 0", "covariates")
    {'NDEV': 3.0, 'ASIAN': 0.0}
    """
    out: dict[str, float] = {}
    for item in (x.strip() for x in (text or "").split(",")):
        if not item:
            continue
        name, sep, value = item.partition("=")
        name = name.strip()
        if not sep or not name.isidentifier():
            raise ScenarioError(f"{what}: {item!r} must look like NAME=NUMBER (e.g. NDEV=3)")
        try:
            out[name] = float(value)
        except ValueError:
            raise ScenarioError(f"{what}: {item!r}: {value.strip()!r} is not a number") from None
        if not math.isfinite(out[name]):
            raise ScenarioError(f"{what}: {item!r} is not a finite number")
    return out


def _number(values: Mapping[str, Any], key: str, what: str) -> float | None:
    v = values.get(key)
    if v is None or v == "":
        return None
    try:
        x = float(v)
    except (TypeError, ValueError):
        raise ScenarioError(f"{what}: {v!r} is not a number") from None
    if not math.isfinite(x):
        raise ScenarioError(f"{what}: {v!r} is not a finite number")
    return x


def _whole(x: float | None, what: str, default: int) -> int:
    if x is None:
        return default
    if x != int(x) or x < 0:
        raise ScenarioError(f"{what} {x:g} must be a whole number >= 0")
    return int(x)


def _q(x: float, unit: str) -> str:
    text = repr(float(x))  # shortest text that reads back to the same float
    return f"{text.removesuffix('.0')} {unit}"


def _items(text: Any) -> tuple[str, ...]:
    return tuple(x.strip() for x in str(text or "").split(",") if x.strip())


def _slot(values: Mapping[str, Any], k: int) -> RegimenSpec:
    def g(name: str, default: Any = None) -> Any:
        return values.get(slot_id(k, name), default)

    what = f"regimen {k}"
    dose = _number(values, slot_id(k, "dose"), f"{what} dose")
    if dose is None:
        raise ScenarioError(f"{what}: give a dose")
    dur = _number(values, slot_id(k, "dur"), f"{what} duration") or 0.0
    sched = g("sched", "once")
    every = _number(values, slot_id(k, "every"), f"{what} interval")
    count = _number(values, slot_id(k, "count"), f"{what} number of doses")
    weeks = _number(values, slot_id(k, "weeks"), f"{what} weeks")
    start = _number(values, slot_id(k, "start"), f"{what} start") or 0.0
    loading = None
    if g("load_on"):
        ld = _number(values, slot_id(k, "load_dose"), f"{what} loading dose")
        if ld is None:
            raise ScenarioError(f"{what}: give the loading dose or untick it")
        ldur = _number(values, slot_id(k, "load_dur"), f"{what} loading duration") or 0.0
        loading = DosePart(
            dose=_q(ld, g("load_unit", "mg")),
            route=str(g("load_route") or g("route") or "iv"),
            duration=_q(ldur, g("load_dur_unit", "min")) if ldur > 0 else None,
        )
    spec_kw: dict[str, Any] = {}
    if sched == "every":
        if every is None or count is None:
            raise ScenarioError(f"{what}: give the interval and the number of doses")
        if count != int(count):
            raise ScenarioError(f"{what}: number of doses {count:g} must be a whole number")
        spec_kw = {"every": _q(every, g("every_unit", "h")), "count": int(count)}
    elif sched == "weekdays":
        days = tuple(g("days") or ())
        if not days:
            raise ScenarioError(f"{what}: tick at least one weekday")
        if weeks is None or weeks != int(weeks):
            raise ScenarioError(f"{what}: number of weeks must be a whole number")
        spec_kw = {"weekdays": days, "weeks": int(weeks)}
    return RegimenSpec(
        label=str(g("label") or f"regimen {k}"),
        model=str(g("model") or ""),
        dose=_q(dose, g("dose_unit", "mg")),
        route=str(g("route") or "iv"),
        duration=_q(dur, g("dur_unit", "min")) if dur > 0 else None,
        start=_q(start, "h"),
        loading=loading,
        covariates=parse_assignments(str(g("cov") or ""), f"{what} covariates"),
        **spec_kw,
    )


def get_scenario_from_inputs(values: Mapping[str, Any]) -> Scenario:
    """The scenario the form shows (checked as strictly as a file: the same TOML round trip).

    Raises
    ------
    KetasimError
        Naming the field at fault.
    """
    weight = _number(values, "weight", "weight")
    age = _number(values, "age", "age")
    sex = values.get("sex") or None
    patient = Patient(
        weight=None if weight is None else _q(weight, "kg"),
        age=None if age is None else _q(age, "yr"),
        sex=sex,
        covariates=parse_assignments(str(values.get("covariates") or ""), "patient covariates"),
        interacting_drugs=_items(values.get("drugs")),
        conditions=tuple(values.get("conditions") or ()),
    )
    regs = [
        _slot(values, k)
        for k in range(1, MAX_REGIMENS + 1)
        if k == 1 or values.get(slot_id(k, "on"))
    ]
    until = _number(values, "until", "window")
    step = _number(values, "step", "display step")
    seed = _number(values, "seed", "seed")
    n = _number(values, "pop_n", "population size")
    s = Scenario(
        regimens=tuple(regs),
        patient=patient,
        grid=GridSpec(
            until=_q(until, "h") if until else None, step=_q(step, "min") if step else None
        ),
        seed=_whole(seed, "seed", 1),
        population_n=_whole(n, "population size", 0),
        title=str(values.get("title") or ""),
        unit=str(values.get("unit") or "ng/mL"),
    )
    # NOTE: the same checks as an uploaded file, so the form cannot hold what a file cannot
    return load_scenario_text(s.to_toml(), source="form")


def _split(q: str | None, units: tuple[str, ...], what: str) -> tuple[float | None, str]:
    if q is None:
        return None, units[0]
    pq = parse_quantity(q, what=what)
    unit = str(pq.units)
    for u in units:
        try:
            if to_unit(f"1 {unit}", u, what=what) == 1.0 or unit == u:
                return float(pq.magnitude), u
        except KetasimError:
            continue
    return to_unit(q, units[0], what=what), units[0]


def get_inputs_from_scenario(s: Scenario) -> dict[str, Any]:
    """Form values showing scenario ``s`` (input id -> value)."""
    out: dict[str, Any] = {
        "title": s.title,
        "weight": s.patient.get_weight_kg(),
        "age": s.patient.get_age_yr(),
        "sex": s.patient.sex or "",
        "covariates": ", ".join(f"{k}={v:g}" for k, v in s.patient.covariates.items()),
        "drugs": ", ".join(s.patient.interacting_drugs),
        "conditions": list(s.patient.conditions),
        "until": s.grid.get_until_h() or 0,
        "step": to_unit(s.grid.step, "min", what="grid step") if s.grid.step else 0,
        "seed": s.seed,
        "pop_n": s.population_n,
        "unit": s.unit if s.unit in UNITS else "ng/mL",
    }
    for k in range(1, MAX_REGIMENS + 1):
        on = k <= len(s.regimens)
        out[slot_id(k, "on")] = on
        if not on:
            continue
        r = s.regimens[k - 1]
        dose, dose_unit = _split(r.dose, DOSE_UNITS, "dose")
        dur, dur_unit = _split(r.duration, DURATION_UNITS, "duration")
        every, every_unit = _split(r.every, INTERVAL_UNITS, "interval")
        sched = "weekdays" if r.weekdays else ("every" if r.every is not None else "once")
        out.update(
            {
                slot_id(k, "label"): r.label,
                slot_id(k, "model"): r.model,
                slot_id(k, "dose"): dose,
                slot_id(k, "dose_unit"): dose_unit,
                slot_id(k, "route"): r.route,
                slot_id(k, "dur"): dur or 0,
                slot_id(k, "dur_unit"): dur_unit,
                slot_id(k, "sched"): sched,
                slot_id(k, "every"): every or 24,
                slot_id(k, "every_unit"): every_unit,
                slot_id(k, "count"): r.count,
                slot_id(k, "days"): list(r.weekdays),
                slot_id(k, "weeks"): r.weeks,
                slot_id(k, "start"): to_unit(r.start, "h", what="start"),
                slot_id(k, "cov"): ", ".join(f"{n}={v:g}" for n, v in r.covariates.items()),
                slot_id(k, "load_on"): r.loading is not None,
            }
        )
        if r.loading is not None:
            ld, ld_unit = _split(r.loading.dose, DOSE_UNITS, "loading dose")
            ldur, ldur_unit = _split(r.loading.duration, DURATION_UNITS, "loading duration")
            out.update(
                {
                    slot_id(k, "load_dose"): ld,
                    slot_id(k, "load_unit"): ld_unit,
                    slot_id(k, "load_route"): r.loading.route,
                    slot_id(k, "load_dur"): ldur or 0,
                    slot_id(k, "load_dur_unit"): ldur_unit,
                }
            )
    return out


def get_default_inputs() -> dict[str, Any]:
    """The form's first view: a 70-kg adult, one regimen (esketamine IV, then nasal to add)."""
    return {
        "title": "",
        "weight": 70.0,
        "age": 45.0,
        "sex": "",
        "covariates": "",
        "drugs": "",
        "conditions": [],
        "until": 0,
        "step": 0,
        "seed": 1,
        "pop_n": 1000,
        "unit": "ng/mL",
        slot_id(1, "label"): "IV 0.5 mg/kg over 40 min",
        slot_id(1, "model"): "perez_ruixo_2021",
        slot_id(1, "dose"): 0.5,
        slot_id(1, "dose_unit"): "mg/kg",
        slot_id(1, "route"): "iv",
        slot_id(1, "dur"): 40.0,
        slot_id(1, "dur_unit"): "min",
        slot_id(1, "sched"): "once",
    }


def get_safety_profile(patient: Patient) -> Any:
    """The :class:`ketasim.safety.PatientProfile` of a scenario's patient.

    Conditions are the keys of :data:`CONDITIONS`; interacting drugs and age and sex carry over.

    Raises
    ------
    KetasimError
        For an unknown condition or drug name (naming it), or a contradictory profile.

    Examples
    --------
    >>> p = get_safety_profile(Patient(age="45 yr", interacting_drugs=("clarithromycin",),
    ...                                conditions=("hypertension:uncontrolled",)))
    >>> p.hypertension, p.drugs_taken
    ('uncontrolled', ('clarithromycin',))
    """
    from ketasim.safety import PatientProfile

    kw: dict[str, Any] = {"cardiovascular": []}
    for c in patient.conditions:
        if c not in CONDITIONS:
            raise ScenarioError(f"condition {c!r} is not known; use one of {', '.join(CONDITIONS)}")
        key, _, level = c.partition(":")
        if key == "cardiovascular":
            kw["cardiovascular"].append(level)
        elif level:
            kw[key] = level
        else:
            kw[key] = True
    return PatientProfile(
        age_yr=patient.get_age_yr(),
        sex=patient.sex,
        drugs_taken=tuple(patient.interacting_drugs),
        **kw,
    )
