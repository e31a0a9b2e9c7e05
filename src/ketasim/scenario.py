"""Scenario files: a patient, up to four regimens (each on a model), a grid and a seed, as TOML.

Owns the strict schema of a scenario (every key known, every type and unit checked, sizes
bounded), reading it (:func:`load_scenario`, :func:`load_scenario_text`), writing it back
(:meth:`Scenario.to_toml`, which :func:`load_scenario_text` reads to an equal object), and turning
its people-facing parts into library objects: :func:`get_regimen` (a :class:`~ketasim.events.Regimen`)
and :func:`get_covariates` (a model's covariates from the patient, with notes on what was
assumed). It deliberately does not simulate: :mod:`ketasim.report.comparison` does, for the CLI
(``ketasim run``), the app and reports alike, so all three show the same numbers.

Format (``schema = "ketasim.scenario/1"``)::

    title = "IV vs intranasal"
    seed = 1
    [patient]                      # all optional
    weight = "70 kg"
    age = "45 yr"
    sex = "female"                 # male | female
    covariates = { NDEV = 3 }      # model covariates by name, in their declared units
    interacting_drugs = ["clarithromycin"]
    conditions = ["hypertension"]
    [grid]
    until = "24 h"                 # default: end of the last dose + 24 h
    step = "5 min"                 # display step (default: window / 1000)
    [population]
    n = 1000                       # 0: no population run
    [[regimen]]                    # 1 to 4
    label = "IV 0.5 mg/kg over 40 min"
    model = "perez_ruixo_2021"
    dose = "0.5 mg/kg"
    route = "iv"
    duration = "40 min"            # infusion duration (optional)
    every = "3.5 d"                # or weekdays = ["mon", "thu"] with weeks = 3
    count = 6
    start = "0 h"                  # first maintenance dose (after any loading dose)
    covariates = { NDEV = 1 }      # per-regimen covariates (override the patient's)
    loading = { dose = "1 mg/kg", route = "iv", duration = "10 min" }
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ketasim.errors import EventError, KetasimError, ModelError
from ketasim.events import Dose, Regimen
from ketasim.spec import ModelSpec
from ketasim.units import to_unit

__all__ = [
    "MAX_REGIMENS",
    "MAX_SCENARIO_BYTES",
    "SCHEMA",
    "WEEKDAYS",
    "DosePart",
    "GridSpec",
    "Patient",
    "RegimenSpec",
    "Scenario",
    "ScenarioError",
    "get_covariates",
    "get_regimen",
    "load_scenario",
    "load_scenario_bytes",
    "load_scenario_text",
]

SCHEMA = "ketasim.scenario/1"
MAX_REGIMENS = 4
MAX_SCENARIO_BYTES = 64 * 1024
MAX_DOSES = 10_000  # doses per regimen
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_TEXT_MAX = 200  # characters in a label, title or list item
_SEXES = ("male", "female")


class ScenarioError(KetasimError, ValueError):
    """A scenario file is malformed (names the key and says what to write)."""


@dataclass(frozen=True)
class DosePart:
    """One dose as written by a person: ``"0.5 mg/kg"``, route, optional infusion duration."""

    dose: str
    route: str = "iv"
    duration: str | None = None


@dataclass(frozen=True)
class RegimenSpec:
    """A people-facing regimen on one model (the quantities as typed, with units).

    Exactly one of ``every`` (with ``count``) or ``weekdays`` (with ``weeks``) schedules repeats;
    neither means ``count`` is 1. ``loading`` is an optional first dose at time 0; the
    maintenance doses then start at ``start``.
    """

    label: str
    model: str
    dose: str
    route: str = "iv"
    duration: str | None = None
    every: str | None = None
    count: int = 1
    weekdays: tuple[str, ...] = ()
    weeks: int = 1
    start: str = "0 h"
    loading: DosePart | None = None
    covariates: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Patient:
    """Who is simulated. Quantities carry their units (``"70 kg"``, ``"45 yr"``)."""

    weight: str | None = None
    age: str | None = None
    sex: str | None = None
    covariates: Mapping[str, float] = field(default_factory=dict)
    interacting_drugs: tuple[str, ...] = ()
    conditions: tuple[str, ...] = ()

    def get_weight_kg(self) -> float | None:
        """Body weight, kg (None when not given)."""
        return None if self.weight is None else to_unit(self.weight, "kg", what="patient weight")

    def get_age_yr(self) -> float | None:
        """Age, yr (None when not given)."""
        return None if self.age is None else to_unit(self.age, "yr", what="patient age")


@dataclass(frozen=True)
class GridSpec:
    """Display window and step as typed (``"24 h"``, ``"5 min"``); None for the defaults."""

    until: str | None = None
    step: str | None = None

    def get_until_h(self) -> float | None:
        """End of the window, h (None: the library's default)."""
        return None if self.until is None else to_unit(self.until, "h", what="grid until")

    def get_step_h(self) -> float | None:
        """Display step, h (None: the library's default)."""
        return None if self.step is None else to_unit(self.step, "h", what="grid step")


@dataclass(frozen=True)
class Scenario:
    """Everything needed to reproduce a comparison: patient, regimens, grid, seed, population."""

    regimens: tuple[RegimenSpec, ...]
    patient: Patient = field(default_factory=Patient)
    grid: GridSpec = field(default_factory=GridSpec)
    seed: int = 1
    population_n: int = 0
    title: str = ""
    unit: str = "ng/mL"

    def to_toml(self) -> str:
        """The scenario as TOML text (``load_scenario_text`` reads it back to an equal object).

        Examples
        --------
        >>> s = Scenario((RegimenSpec("a", "herd_2007", "1 mg/kg"),), Patient(weight="20 kg"))
        >>> load_scenario_text(s.to_toml()) == s
        True
        """
        lines = [f"schema = {_q(SCHEMA)}"]
        if self.title:
            lines.append(f"title = {_q(self.title)}")
        lines += [f"seed = {self.seed}", f"unit = {_q(self.unit)}", "", "[patient]"]
        p = self.patient
        for key in ("weight", "age", "sex"):
            v = getattr(p, key)
            if v is not None:
                lines.append(f"{key} = {_q(v)}")
        if p.covariates:
            lines.append(f"covariates = {_inline(p.covariates)}")
        lines.append(f"interacting_drugs = {_list(p.interacting_drugs)}")
        lines.append(f"conditions = {_list(p.conditions)}")
        lines += ["", "[grid]"]
        for key in ("until", "step"):
            v = getattr(self.grid, key)
            if v is not None:
                lines.append(f"{key} = {_q(v)}")
        lines += ["", "[population]", f"n = {self.population_n}"]
        for r in self.regimens:
            lines += ["", "[[regimen]]", f"label = {_q(r.label)}", f"model = {_q(r.model)}"]
            lines += [f"dose = {_q(r.dose)}", f"route = {_q(r.route)}"]
            if r.duration is not None:
                lines.append(f"duration = {_q(r.duration)}")
            if r.every is not None:
                lines.append(f"every = {_q(r.every)}")
            lines.append(f"count = {r.count}")
            if r.weekdays:
                lines += [f"weekdays = {_list(r.weekdays)}", f"weeks = {r.weeks}"]
            lines.append(f"start = {_q(r.start)}")
            if r.covariates:
                lines.append(f"covariates = {_inline(r.covariates)}")
            if r.loading is not None:
                ld = {"dose": r.loading.dose, "route": r.loading.route}
                if r.loading.duration is not None:
                    ld["duration"] = r.loading.duration
                lines.append(
                    "loading = { " + ", ".join(f"{k} = {_q(v)}" for k, v in ld.items()) + " }"
                )
        return "\n".join(lines) + "\n"


# --- writing helpers ----------------------------------------------------------------------------
def _q(s: str) -> str:
    out = ['"']
    for ch in s:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def _list(items: tuple[str, ...]) -> str:
    return "[" + ", ".join(_q(x) for x in items) + "]"


def _inline(d: Mapping[str, float]) -> str:
    return "{ " + ", ".join(f"{k} = {float(v)!r}" for k, v in d.items()) + " }"


# --- reading ------------------------------------------------------------------------------------
def load_scenario(path: str | Path) -> Scenario:
    """Read and check a scenario file (TOML, at most 64 KiB).

    Raises
    ------
    ScenarioError
        Naming the file and the key at fault.
    """
    p = Path(path)
    try:
        size = p.stat().st_size
    except OSError as exc:
        raise ScenarioError(f"scenario {str(path)!r}: {exc.strerror or exc}") from None
    if size > MAX_SCENARIO_BYTES:
        raise ScenarioError(
            f"scenario {str(path)!r} is {size} bytes; a scenario is at most "
            f"{MAX_SCENARIO_BYTES} bytes"
        )
    data = p.read_bytes()
    return load_scenario_bytes(data, source=str(path))


def load_scenario_bytes(data: bytes, *, source: str = "scenario") -> Scenario:
    """Check the size and the UTF-8 encoding of ``data``, then :func:`load_scenario_text`."""
    if len(data) > MAX_SCENARIO_BYTES:
        raise ScenarioError(
            f"{source} is {len(data)} bytes; a scenario is at most {MAX_SCENARIO_BYTES} bytes"
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ScenarioError(f"{source} is not UTF-8 text (byte {exc.start})") from None
    return load_scenario_text(text, source=source)


def load_scenario_text(text: str, *, source: str = "scenario") -> Scenario:
    """Parse and check scenario TOML text (schema in the module docstring).

    Examples
    --------
    >>> s = load_scenario_text('''
    ... [[regimen]]
    ... label = "IV"
    ... model = "herd_2007"
    ... dose = "1 mg/kg"
    ... ''')
    >>> s.regimens[0].route, s.seed
    ('iv', 1)
    """
    if len(text.encode("utf-8")) > MAX_SCENARIO_BYTES:
        raise ScenarioError(f"{source} is larger than {MAX_SCENARIO_BYTES} bytes")
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"{source} is not valid TOML: {exc}") from None
    w = _Reader(source)
    w.keys(doc, "", {"schema", "title", "seed", "unit", "patient", "grid", "population", "regimen"})
    schema = doc.get("schema", SCHEMA)
    if schema != SCHEMA:
        raise ScenarioError(f"{source}: schema {schema!r} is not {SCHEMA!r}")
    regs = doc.get("regimen")
    if not isinstance(regs, list) or not regs:
        raise ScenarioError(f"{source}: give 1 to {MAX_REGIMENS} [[regimen]] tables")
    if len(regs) > MAX_REGIMENS:
        raise ScenarioError(
            f"{source}: {len(regs)} regimens; a comparison holds at most {MAX_REGIMENS}"
        )
    seed = w.integer(doc, "seed", "", 1, lo=0, hi=2**63 - 1)
    unit = w.text(doc, "unit", "", "ng/mL")
    if unit not in ("ng/mL", "nmol/L", "mg/L", "ug/mL", "umol/L"):
        raise ScenarioError(f"{source}: unit {unit!r}: use ng/mL, mg/L, ug/mL, nmol/L or umol/L")
    pop = w.table(doc, "population", "")
    w.keys(pop, "population", {"n"})
    return Scenario(
        regimens=tuple(w.regimen(r, f"regimen[{i}]") for i, r in enumerate(regs)),
        patient=w.patient(w.table(doc, "patient", "")),
        grid=w.grid(w.table(doc, "grid", "")),
        seed=seed,
        population_n=w.integer(pop, "n", "population", 0, lo=0, hi=10**12),
        title=w.text(doc, "title", "", ""),
        unit=unit,
    )


class _Reader:
    """Typed lookups that name the file and key in every error."""

    def __init__(self, source: str) -> None:
        self.source = source

    def err(self, where: str, key: str, what: str) -> ScenarioError:
        path = f"{where}.{key}" if where else key
        return ScenarioError(f"{self.source}: {path} {what}")

    def keys(self, d: Mapping[str, Any], where: str, allowed: set[str]) -> None:
        for k in d:
            if k not in allowed:
                raise ScenarioError(
                    f"{self.source}: unknown key {((where + '.') if where else '') + k!r}; "
                    f"allowed: {', '.join(sorted(allowed))}"
                )

    def table(self, d: Mapping[str, Any], key: str, where: str) -> Mapping[str, Any]:
        v = d.get(key, {})
        if not isinstance(v, dict):
            raise self.err(where, key, "must be a table")
        return v

    def text(self, d: Mapping[str, Any], key: str, where: str, default: Any) -> Any:
        v = d.get(key, default)
        if v is None:
            return None
        if not isinstance(v, str):
            raise self.err(where, key, f"must be text in quotes (got {v!r})")
        if len(v) > _TEXT_MAX:
            raise self.err(where, key, f"is {len(v)} characters long (at most {_TEXT_MAX})")
        return v

    def integer(
        self, d: Mapping[str, Any], key: str, where: str, default: int, *, lo: int, hi: int
    ) -> int:
        v = d.get(key, default)
        if isinstance(v, bool) or not isinstance(v, int):
            raise self.err(where, key, f"must be a whole number (got {v!r})")
        if not lo <= v <= hi:
            raise self.err(where, key, f"= {v} must be between {lo} and {hi}")
        return v

    def strings(self, d: Mapping[str, Any], key: str, where: str) -> tuple[str, ...]:
        v = d.get(key, [])
        if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
            raise self.err(where, key, "must be a list of text items")
        if len(v) > 50:
            raise self.err(where, key, f"has {len(v)} items (at most 50)")
        for x in v:
            if len(x) > _TEXT_MAX:
                raise self.err(where, key, f"has an item longer than {_TEXT_MAX} characters")
        return tuple(v)

    def numbers(self, d: Mapping[str, Any], key: str, where: str) -> dict[str, float]:
        v = self.table(d, key, where)
        out: dict[str, float] = {}
        for k, x in v.items():
            if isinstance(x, bool) or not isinstance(x, int | float) or not math.isfinite(x):
                raise self.err(where, f"{key}.{k}", f"must be a finite number (got {x!r})")
            out[k] = float(x)
        return out

    def quantity(
        self, d: Mapping[str, Any], key: str, where: str, unit: str, default: Any = None
    ) -> str | None:
        v = self.text(d, key, where, default)
        if v is not None:
            try:
                to_unit(v, unit, what=f"{where}.{key}")
            except KetasimError as exc:
                raise self.err(where, key, f"= {v!r}: {exc}") from None
        return v  # type: ignore[no-any-return]

    def patient(self, d: Mapping[str, Any]) -> Patient:
        where = "patient"
        self.keys(
            d, where, {"weight", "age", "sex", "covariates", "interacting_drugs", "conditions"}
        )
        sex = self.text(d, "sex", where, None)
        if sex is not None and sex not in _SEXES:
            raise self.err(where, "sex", f"= {sex!r} must be 'male' or 'female'")
        p = Patient(
            weight=self.quantity(d, "weight", where, "kg"),
            age=self.quantity(d, "age", where, "yr"),
            sex=sex,
            covariates=self.numbers(d, "covariates", where),
            interacting_drugs=self.strings(d, "interacting_drugs", where),
            conditions=self.strings(d, "conditions", where),
        )
        wt, age = p.get_weight_kg(), p.get_age_yr()
        if wt is not None and not 0 < wt <= 700:
            raise self.err(where, "weight", f"= {p.weight!r} must be above 0 and at most 700 kg")
        if age is not None and not 0 <= age <= 130:
            raise self.err(where, "age", f"= {p.age!r} must be between 0 and 130 yr")
        return p

    def grid(self, d: Mapping[str, Any]) -> GridSpec:
        self.keys(d, "grid", {"until", "step"})
        g = GridSpec(self.quantity(d, "until", "grid", "h"), self.quantity(d, "step", "grid", "h"))
        for key, v in (("until", g.get_until_h()), ("step", g.get_step_h())):
            if v is not None and not (math.isfinite(v) and v > 0):
                raise self.err("grid", key, "must be a positive time")
        return g

    def dose_part(self, d: Mapping[str, Any], where: str) -> DosePart:
        self.keys(d, where, {"dose", "route", "duration"})
        dose = self.text(d, "dose", where, None)
        if dose is None:
            raise self.err(where, "dose", "is required (e.g. dose = \"0.5 mg/kg\")")
        return DosePart(
            dose=dose,
            route=self.text(d, "route", where, "iv"),
            duration=self.quantity(d, "duration", where, "h"),
        )

    def regimen(self, d: Any, where: str) -> RegimenSpec:
        if not isinstance(d, dict):
            raise ScenarioError(f"{self.source}: {where} must be a table")
        allowed = {
            "label", "model", "dose", "route", "duration", "every", "count", "weekdays",
            "weeks", "start", "loading", "covariates",
        }  # fmt: skip
        self.keys(d, where, allowed)
        for key in ("model", "dose"):
            if key not in d:
                raise self.err(where, key, "is required")
        ld = d.get("loading")
        if ld is not None and not isinstance(ld, dict):
            raise self.err(where, "loading", "must be a table { dose = ..., route = ... }")
        weekdays = self.strings(d, "weekdays", where)
        for day in weekdays:
            if day not in WEEKDAYS:
                raise self.err(where, "weekdays", f"item {day!r} is not one of {WEEKDAYS}")
        if len(set(weekdays)) != len(weekdays):
            raise self.err(where, "weekdays", "lists a day twice")
        r = RegimenSpec(
            label=self.text(d, "label", where, d["model"] if isinstance(d["model"], str) else ""),
            model=self.text(d, "model", where, None),
            dose=self.text(d, "dose", where, None),
            route=self.text(d, "route", where, "iv"),
            duration=self.quantity(d, "duration", where, "h"),
            every=self.quantity(d, "every", where, "h"),
            count=self.integer(d, "count", where, 1, lo=1, hi=MAX_DOSES),
            weekdays=weekdays,
            weeks=self.integer(d, "weeks", where, 1, lo=1, hi=520),
            start=self.quantity(d, "start", where, "h", "0 h") or "0 h",
            loading=None if ld is None else self.dose_part(ld, f"{where}.loading"),
            covariates=self.numbers(d, "covariates", where),
        )
        if r.weekdays and (r.every is not None or r.count != 1):
            raise self.err(where, "weekdays", "cannot be combined with every/count: use weeks")
        try:
            get_regimen(r, 70.0)
        except KetasimError as exc:
            raise ScenarioError(f"{self.source}: {where}: {exc}") from None
        return r


# --- people-facing parts -> library objects -----------------------------------------------------
def get_regimen(reg: RegimenSpec, weight_kg: float | None) -> Regimen:
    """The library :class:`~ketasim.events.Regimen` of a regimen spec, doses in mg.

    Per-kg doses are resolved with ``weight_kg`` (:meth:`Dose.get_amount_mg`), so that models
    without a weight covariate receive the same mg dose the person means. Weekday schedules
    start on the first listed day at the ``start`` time and repeat weekly ``weeks`` times.

    Examples
    --------
    >>> r = get_regimen(RegimenSpec("x", "m", "0.5 mg/kg", weekdays=("mon", "thu"), weeks=2), 70)
    >>> [(d.amt, d.time_h, d.addl, d.ii_h) for d in r.doses]
    [(35.0, 0.0, 1, 168.0), (35.0, 72.0, 1, 168.0)]
    """
    start_h = to_unit(reg.start, "h", what="start")
    if reg.weekdays:
        first = WEEKDAYS.index(reg.weekdays[0])
        offsets_d = sorted((WEEKDAYS.index(day) - first) % 7 for day in reg.weekdays)
        base = Regimen.from_quantities(reg.dose, route=reg.route, duration=reg.duration)
        week_h = to_unit("7 d", "h")
        day_h = to_unit("1 d", "h")
        doses = tuple(
            replace(base.doses[0], time_h=start_h + k * day_h, addl=reg.weeks - 1, ii_h=week_h)
            if reg.weeks > 1
            else replace(base.doses[0], time_h=start_h + k * day_h)
            for k in offsets_d
        )
        main = Regimen(doses)
    else:
        main = Regimen.from_quantities(
            reg.dose,
            route=reg.route,
            duration=reg.duration,
            every=reg.every,
            count=reg.count,
            start=reg.start,
        )
    if reg.loading is not None:
        ld = reg.loading
        main = Regimen.from_quantities(ld.dose, route=ld.route, duration=ld.duration) + main
    n_doses = sum(d.addl + 1 for d in main.doses)
    if n_doses > MAX_DOSES:
        raise EventError(f"{n_doses} doses; a regimen here holds at most {MAX_DOSES}")
    return Regimen(tuple(_in_mg(d, weight_kg) for d in main.doses))


def _in_mg(d: Dose, weight_kg: float | None) -> Dose:
    if not d.per_kg:
        return d
    if weight_kg is None:
        raise EventError(f"a dose of {d.amt:g} mg/kg needs the patient's weight (e.g. '70 kg')")
    return replace(d, amt=d.get_amount_mg(weight_kg), per_kg=False)


def get_covariates(
    spec: ModelSpec, patient: Patient, reg: RegimenSpec | None = None
) -> tuple[dict[str, float], list[str]]:
    """A model's covariates from the patient (and regimen overrides), with notes.

    ``WT`` comes from the weight and ``AGE`` from the age; other covariates from
    ``patient.covariates`` then ``reg.covariates``; anything missing takes the model's
    reference value, said in a note. A given covariate the model does not have is refused;
    a patient attribute it does not use is noted.

    Returns
    -------
    (dict, list of str)
        Covariates in their declared units, and the notes.
    """
    given: dict[str, float] = {}
    notes: list[str] = []
    wt, age = patient.get_weight_kg(), patient.get_age_yr()
    for name, value, what in (("WT", wt, "weight"), ("AGE", age, "age")):
        if value is None:
            continue
        if name in spec.covariates:
            given[name] = value
        else:
            notes.append(f"model {spec.id} does not use the patient's {what}")
    if patient.sex is not None:
        notes.append(f"model {spec.id} does not use sex")
    extra = dict(patient.covariates)
    if reg is not None:
        extra.update(reg.covariates)
    for k, v in extra.items():
        if k not in spec.covariates:
            raise ModelError(
                f"model {spec.id} has no covariate {k!r}; covariates: "
                + (", ".join(spec.covariates) or "none")
            )
        given[k] = v
    covs: dict[str, float] = {}
    for name, cov in spec.covariates.items():
        if name in given:
            covs[name] = given[name]
        else:
            covs[name] = cov.reference
            notes.append(
                f"{name} not given; the model's reference {cov.reference:g} {cov.unit}".rstrip()
                + " is used"
            )
    return covs, notes
