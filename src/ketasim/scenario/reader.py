"""Reading scenario files: the strict schema (every key known, types and units checked, sizes
bounded); each error names the file and the key and says what to write."""

from __future__ import annotations

import math
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ketasim.errors import KetasimError
from ketasim.scenario.model import (
    _SEXES,
    _TEXT_MAX,
    MAX_DOSES,
    MAX_REGIMENS,
    MAX_SCENARIO_BYTES,
    SCHEMA,
    WEEKDAYS,
    DosePart,
    GridSpec,
    Patient,
    RegimenSpec,
    Scenario,
    ScenarioError,
)
from ketasim.scenario.resolve import get_regimen
from ketasim.units import to_unit

__all__ = ["load_scenario", "load_scenario_bytes", "load_scenario_text"]


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
            raise self.err(where, "dose", 'is required (e.g. dose = "0.5 mg/kg")')
        return DosePart(
            dose=dose,
            route=self.text(d, "route", where, "iv"),
            duration=self.quantity(d, "duration", where, "h"),
        )

    def regimen(self, d: Any, where: str) -> RegimenSpec:
        if not isinstance(d, dict):
            raise ScenarioError(f"{self.source}: {where} must be a table")
        allowed = {
            "label",
            "model",
            "dose",
            "route",
            "duration",
            "every",
            "count",
            "weekdays",
            "weeks",
            "start",
            "loading",
            "covariates",
        }
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
