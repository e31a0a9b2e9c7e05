"""Scenario objects (frozen) and their TOML text; the format is in :mod:`ketasim.scenario`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from ketasim.errors import KetasimError
from ketasim.units import to_unit

__all__ = [
    "MAX_DOSES",
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
        >>> from ketasim.scenario import load_scenario_text
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
