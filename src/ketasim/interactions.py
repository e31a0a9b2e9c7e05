"""Drug interactions and individual factors as published exposure ratios (``modifiers.toml``).

Owns loading and checking ``library/modifiers.toml`` and applying a published finding, only
when the regimen matches the conditions the ratio was measured under (drug form and route):
:func:`apply_modifier` changes the simulation itself (an extravascular finding's parent AUC
ratio as a change of bioavailability, which reproduces that ratio exactly in a linear model),
and :func:`compute_modified_exposure` multiplies a simulated exposure by each published ratio
(for display). It deliberately does not invent a clearance change for IV findings (the
sources report exposure ratios, not model parameters), and oral ratios (dominated by first
pass) must not be transferred to IV or nasal dosing.
"""

from __future__ import annotations

import functools
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, replace
from importlib import resources
from typing import Any

import numpy as np

from ketasim.errors import ModelError
from ketasim.events import Regimen
from ketasim.nca import compute_auc, compute_cmax
from ketasim.results import Result
from ketasim.spec import ModelSpec

__all__ = [
    "AdjustedExposure",
    "ModifiedRegimen",
    "Modifier",
    "apply_modifier",
    "compute_modified_exposure",
    "get_modifier",
    "list_modifiers",
]

_VICTIM_DRUG = {
    "S-ketamine": "esketamine",
    "esketamine nasal spray": "esketamine",
    "racemic ketamine": "racemic ketamine",
}
_ROUTE_ALIASES = {"intranasal": "intranasal", "oral": "oral", "iv": "iv", "sc": "sc", "im": "im"}


@dataclass(frozen=True)
class Modifier:
    """One published finding: who, what, measured how, with which exposure ratios."""

    id: str
    perpetrator: str
    mechanism: str
    enzyme: str
    victim: str
    victim_route: str
    victim_dose: str
    effects: tuple[Mapping[str, Any], ...]
    citation: Mapping[str, Any]
    notes: str = ""

    @property
    def source(self) -> str:
        c = self.citation
        first = str(c.get("authors", "")).split(",")[0]
        return f"{first} et al. {c.get('year', '')}, {c.get('journal', '')}, doi:{c.get('doi', '')}"


@dataclass(frozen=True)
class AdjustedExposure:
    """Baseline and interaction-adjusted exposure of one analyte for one metric."""

    analyte: str
    metric: str
    ratio: float
    printed: str
    baseline: float
    adjusted: float
    unit: str


@functools.lru_cache(maxsize=1)
def _load() -> dict[str, Modifier]:
    path = resources.files("ketasim.library") / "modifiers.toml"
    with path.open("rb") as fh:
        doc = tomllib.load(fh)
    out: dict[str, Modifier] = {}
    for i, m in enumerate(doc.get("modifier", [])):
        where = f"modifiers.toml modifier[{i}]"
        for key in ("id", "perpetrator", "victim", "victim_route", "citation"):
            if key not in m:
                raise ModelError(f"{where}: required field {key!r} is missing")
        if m["victim"] not in _VICTIM_DRUG:
            raise ModelError(
                f"{where}.victim: {m['victim']!r} is not one of {sorted(_VICTIM_DRUG)}"
            )
        for j, e in enumerate(m.get("effects", [])):
            r = e.get("ratio")
            if r is not None and not (isinstance(r, (int, float)) and r > 0):
                raise ModelError(f"{where}.effects[{j}].ratio: {r!r} must be a positive number")
        out[m["id"]] = Modifier(
            id=m["id"],
            perpetrator=m["perpetrator"],
            mechanism=m.get("mechanism", ""),
            enzyme=m.get("enzyme", ""),
            victim=m["victim"],
            victim_route=m["victim_route"],
            victim_dose=m.get("victim_dose", ""),
            effects=tuple(m.get("effects", [])),
            citation=m["citation"],
            notes=m.get("notes", ""),
        )
    return out


def list_modifiers() -> list[Modifier]:
    """Every published modifier, in file order."""
    return list(_load().values())


def get_modifier(modifier_id: str) -> Modifier:
    """One modifier by id (ModelError naming the available ids otherwise)."""
    mods = _load()
    if modifier_id not in mods:
        raise ModelError(f"unknown modifier {modifier_id!r}; available: {', '.join(mods)}")
    return mods[modifier_id]


def compute_modified_exposure(
    result: Result, modifier: Modifier, route: str
) -> list[AdjustedExposure]:
    """Apply a modifier's published AUC and Cmax ratios to a simulated regimen.

    Parameters
    ----------
    result : Result
        Simulated concentrations (mg/L); exposures are computed per subject and their median
        reported.
    modifier : Modifier
    route : str
        Route of the simulated regimen; must match the route the finding was measured for.

    Returns
    -------
    list of AdjustedExposure
        ``auc`` in ng/mL*h over the simulated span, ``cmax`` in ng/mL.

    Raises
    ------
    ModelError
        When the drug form or route differ from the study's: the published ratio does not
        transfer (for example an oral first-pass interaction applied to IV dosing).
    """
    _check_transfer(result.spec.drug, result.spec.id, modifier, route)
    out: list[AdjustedExposure] = []
    for e in modifier.effects:
        ratio = e.get("ratio")
        metric = str(e.get("metric", ""))
        if ratio is None or metric not in ("auc", "auc_0_inf", "cmax"):
            continue
        analyte = _match_analyte(result, str(e.get("analyte", "")))
        if analyte is None:
            continue
        c = result.get_conc(analyte, "ng/mL")
        if metric == "cmax":
            base = float(np.median(compute_cmax(result.time_h, c)[0].value))
            unit = "ng/mL"
        else:
            base = float(np.median(compute_auc(result.time_h, c).value))
            unit = "ng/mL*h"
        out.append(
            AdjustedExposure(
                analyte,
                metric,
                float(ratio),
                str(e.get("printed", "")),
                base,
                base * float(ratio),
                unit,
            )
        )
    return out


def _match_analyte(result: Result, name: str) -> str | None:
    for a in result.analytes:
        if a == name or a.removeprefix("s_").removeprefix("r_") == name:
            return a
    return None


@dataclass(frozen=True)
class ModifiedRegimen:
    """A regimen with a published interaction applied, and what was done to it.

    ``regimen`` has every dose on the modifier's route multiplied by ``dose_factor`` (a change
    of bioavailability, ``F x ratio``); ``note`` says so in one line, for output headers and
    :attr:`ketasim.results.Result.notes`.
    """

    regimen: Regimen
    dose_factor: float
    mechanism: str
    analyte: str
    metric: str
    note: str


def apply_modifier(
    regimen: Regimen, spec: ModelSpec, modifier: Modifier, route: str | None = None
) -> ModifiedRegimen:
    """Apply a published exposure ratio to the simulation itself, as a bioavailability change.

    The parent's published AUC ratio ``r`` (``auc_0_inf``, else ``auc``) multiplies the amount
    of every dose on the matching extravascular route: ``F' = r F``. In a linear model the
    parent's AUC is ``F D / CL``, so its simulated AUC changes by exactly ``r`` (and, with all
    doses on that route, every concentration does); this is how a CYP3A inhibitor acting on
    first pass (the published mechanism of the oral findings) changes exposure. Not reproduced:
    a published Cmax ratio different from ``r``, and metabolite ratios (the metabolites follow
    the dose). IV findings are refused: their ratios reflect a clearance change the sources do
    not give per model parameter.

    Parameters
    ----------
    regimen : Regimen
    spec : ModelSpec
    modifier : Modifier
    route : str, optional
        Route of the doses to adjust; must be the route the finding was measured for (default:
        that route, which some dose of the regimen must use; doses on other routes are kept).

    Returns
    -------
    ModifiedRegimen

    Raises
    ------
    ModelError
        Drug form or route differ from the study's, the route is IV, or the finding reports no
        AUC ratio of the parent.

    Examples
    --------
    >>> from ketasim.library import load_model
    >>> m = load_model("perez_ruixo_2021")
    >>> mod = apply_modifier(Regimen.from_quantities("56 mg", route="oral"), m,
    ...                      get_modifier("clarithromycin_oral_s_ketamine"), "oral")
    >>> mod.dose_factor, mod.regimen.doses[0].amt
    (2.6, 145.6)
    """
    if route is None:
        names = {d.route for d in regimen.doses}
        match = [n for n in names if _ROUTE_ALIASES.get(n, n) == modifier.victim_route]
        if not match:
            raise ModelError(
                f"modifier {modifier.id} was measured for the {modifier.victim_route} route; the "
                f"regimen has doses by {', '.join(sorted(names))}: the published ratio does not "
                "transfer"
            )
        route = match[0]
    _check_transfer(spec.drug, spec.id, modifier, route)
    r = spec.get_route(route)
    if route == "iv" or r.infusion:
        raise ModelError(
            f"modifier {modifier.id}: an IV finding is a change of clearance that the source "
            "does not give per model parameter; its ratios can be shown, not applied"
        )
    effect = None
    for metric in ("auc_0_inf", "auc"):
        for e in modifier.effects:
            if e.get("metric") == metric and e.get("analyte") == "ketamine" and e.get("ratio"):
                effect = e
                break
        if effect is not None:
            break
    if effect is None:
        raise ModelError(
            f"modifier {modifier.id} reports no AUC ratio of the parent drug: nothing to apply"
        )
    ratio = float(effect["ratio"])
    doses = tuple(replace(d, amt=d.amt * ratio) if d.route == route else d for d in regimen.doses)
    note = (
        f"interaction {modifier.id} applied to the simulation as a change of {route} "
        f"bioavailability: {route} doses x{ratio:g} (published {effect['metric']} ratio of the "
        f"parent, {modifier.source}); exact for the parent's AUC in this linear model; "
        "metabolites follow the dose, not their published ratios"
    )
    return ModifiedRegimen(
        Regimen(doses), ratio, "bioavailability", "ketamine", str(effect["metric"]), note
    )


def _check_transfer(drug: str, model_id: str, modifier: Modifier, route: str) -> None:
    """Refuse a finding measured with another drug form or route (the ratio does not transfer)."""
    if _VICTIM_DRUG[modifier.victim] != drug:
        raise ModelError(
            f"modifier {modifier.id} was measured with {modifier.victim}; model {model_id} "
            f"simulates {drug}: the published ratio does not transfer"
        )
    if _ROUTE_ALIASES.get(route, route) != modifier.victim_route:
        raise ModelError(
            f"modifier {modifier.id} was measured for the {modifier.victim_route} route; the "
            f"regimen is {route}: the published ratio does not transfer"
        )
