"""The pharmacodynamic library's types: sources, effect models, zones, observations, targets.

Frozen records of ``library/effects.toml`` after validation (loading and checking is
:mod:`ketasim.library.effects`); every entry carries its source, sampling site and drug form.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from ketasim.errors import ModelError, ParameterError

__all__ = [
    "C50_KEYS",
    "DRUG_FORMS",
    "EFFECT_FORMS",
    "EMAX_KEYS",
    "GAMMA_KEYS",
    "MATRICES",
    "SAMPLING_SITES",
    "SCHEMA",
    "SLOPE_PREFIX",
    "STATUSES",
    "TESTABLE",
    "ZONE_KINDS",
    "EffectModel",
    "EffectParameter",
    "EffectSource",
    "EffectsLibrary",
    "Observation",
    "ValidationTarget",
    "Zone",
]

SCHEMA = "ketasim-effects/1"
EFFECT_FORMS = ("sigmoid_emax", "linear_additive", "effect_site_only")
DRUG_FORMS = ("esketamine", "racemic ketamine", "racemic ketamine and esketamine")
SAMPLING_SITES = ("arterial", "venous", "unknown")
MATRICES = ("plasma", "serum", "blood", "unknown")
ZONE_KINDS = ("threshold_above", "range", "mean_sd", "value")
TESTABLE = ("now", "needs_pk", "needs_unverified")
STATUSES = ("published", "derived")
# Sigmoid-Emax parameter keys as printed in different papers -> one meaning each.
C50_KEYS = ("C50", "EC50")
GAMMA_KEYS = ("GAMMA", "gamma")
EMAX_KEYS = ("EMAX", "Emax")
SLOPE_PREFIX = "SLOPE_"
_T = TypeVar("_T")


@dataclass(frozen=True)
class EffectSource:
    """One paper of ``[sources]``; ``read`` says how much of it was actually read."""

    id: str
    authors: str
    year: int
    title: str
    journal: str
    volume: str = ""
    issue: str = ""
    pages: str = ""
    doi: str = ""
    pmid: str = ""
    read: str = ""
    where_read: str = ""

    def format(self) -> str:
        """Short citation: first author, year, journal volume:pages, DOI or PMID when known."""
        first = self.authors.split(",")[0].strip()
        etal = " et al." if "," in self.authors else ""
        vol = f" {self.volume}" if self.volume else ""
        pages = f":{self.pages}" if self.pages else ""
        ident = f"doi:{self.doi}" if self.doi else (f"PMID {self.pmid}" if self.pmid else "no DOI")
        return f"{first}{etal} {self.year}, {self.journal}{vol}{pages} ({ident}; read: {self.read})"


@dataclass(frozen=True)
class EffectParameter:
    """A model parameter as printed, plus its canonical value.

    ``value_canonical`` is in ``canonical_unit``: mg/L for a concentration, effect unit per mg/L
    for a linear slope, unchanged for dimensionless or score-valued parameters. A range
    (``C50_range``) is a 2-tuple in both places.
    """

    name: str
    value: float | tuple[float, float]
    unit: str
    status: str
    where: str
    value_canonical: float | tuple[float, float]
    canonical_unit: str
    derivation: str = ""

    def get_canonical(self) -> float:
        """The canonical value of a single-number parameter (ParameterError for a range)."""
        if isinstance(self.value_canonical, tuple):
            raise ParameterError(
                f"parameter {self.name} is a range ({self.printed}), not one value"
            )
        return self.value_canonical

    def get_canonical_range(self) -> tuple[float, float]:
        """The canonical (low, high) of a range parameter (ParameterError for one number)."""
        if not isinstance(self.value_canonical, tuple):
            raise ParameterError(
                f"parameter {self.name} is one value ({self.printed}), not a range"
            )
        return self.value_canonical

    @property
    def printed(self) -> str:
        """The value with its printed unit, e.g. ``"0.51 nmol/mL"``."""
        v = self.value
        text = f"{v[0]:g}-{v[1]:g}" if isinstance(v, tuple) else f"{v:g}"
        return f"{text} {self.unit}".strip()


@dataclass(frozen=True)
class EffectModel:
    """A published concentration-effect model (``[[model]]``), parameters as in the paper.

    ``t_half_ke0_h`` is the published effect-site equilibration half-time in h, or None when it
    was not read; it is never derived from a time to peak effect. ``other_delays`` keeps
    published delays of another structure (e.g. an onset/offset half-time in days) by name.
    """

    id: str
    name: str
    source: EffectSource
    where: str
    endpoint: str
    form: str
    drug_form: str
    analyte: str
    sampling: str
    matrix: str
    parameters: Mapping[str, EffectParameter]
    unverified: tuple[str, ...] = ()
    t_half_ke0_h: float | None = None
    t_half_ke0_printed: str = ""
    other_delays: Mapping[str, str] = field(default_factory=dict)
    metabolite_effects: tuple[Mapping[str, str], ...] = ()
    population: Mapping[str, Any] = field(default_factory=dict)
    validity: Mapping[str, Any] = field(default_factory=dict)
    sampling_basis: str = ""
    notes: str = ""

    def get_parameter(self, *names: str) -> EffectParameter | None:
        """The first parameter present among ``names`` (published spellings), else None."""
        for n in names:
            if n in self.parameters:
                return self.parameters[n]
        return None

    @property
    def slope_analytes(self) -> tuple[str, ...]:
        """Analyte ids of a linear model's ``SLOPE_<ANALYTE>`` terms, in file order."""
        return tuple(
            k.removeprefix(SLOPE_PREFIX).lower()
            for k in self.parameters
            if k.startswith(SLOPE_PREFIX)
        )

    @property
    def effect_unit(self) -> str:
        """Unit of the effect scale (from E0 or the slopes); "" when not published."""
        e0 = self.parameters.get("E0")
        if e0 is not None:
            return e0.unit
        for p in self.parameters.values():
            if p.name.startswith(SLOPE_PREFIX):
                return p.canonical_unit.split(" per ")[0]
        return ""


@dataclass(frozen=True)
class Zone:
    """A published concentration zone (``[[zone]]``) as a band [low, high] in mg/L.

    ``threshold_above``, ``value`` and ``mean_sd`` zones are the band [value, inf) (``high`` is
    None); a ``range`` is [low, high]. ``sd_mg_per_L`` is the published between-subject SD of a
    ``mean_sd`` zone. ``printed`` is the number and unit as in the source.
    """

    id: str
    name: str
    kind: str
    low_mg_per_L: float  # noqa: N815 (unit suffix, STYLE.md section 3)
    high_mg_per_L: float | None  # noqa: N815 (unit suffix, STYLE.md section 3)
    sd_mg_per_L: float | None  # noqa: N815 (unit suffix, STYLE.md section 3)
    printed: str
    drug_form: str
    analyte: str
    sampling: str
    matrix: str
    population: str
    source: EffectSource
    where: str
    context: str = ""
    notes: str = ""
    parent: str | None = None


@dataclass(frozen=True)
class Observation:
    """A published effect size without a concentration-effect model (``[[observation]]``)."""

    id: str
    quantity: str
    value: Any
    unit: str
    source: EffectSource
    where: str
    drug_form: str
    analyte: str
    sampling: str
    population: str = ""
    over: str = ""
    notes: str = ""


@dataclass(frozen=True)
class ValidationTarget:
    """A published number a test reproduces (``[[validation]]``)."""

    id: str
    target: str
    quantity: str
    inputs: Mapping[str, Any]
    published: str
    tolerance: float
    tolerance_kind: str
    why: str
    source: EffectSource
    where: str
    testable: str


@dataclass(frozen=True)
class EffectsLibrary:
    """Everything in ``effects.toml``, validated; look entries up with the ``get_*`` methods."""

    schema: str
    sources: Mapping[str, EffectSource]
    models: Mapping[str, EffectModel]
    zones: Mapping[str, Zone]
    observations: Mapping[str, Observation]
    validations: Mapping[str, ValidationTarget]

    def get_model(self, model_id: str) -> EffectModel:
        """Effect model by id (ModelError naming the known ids)."""
        return _get(self.models, model_id, "effect model")

    def get_zone(self, zone_id: str) -> Zone:
        """Zone by id (ModelError naming the known ids)."""
        return _get(self.zones, zone_id, "zone")

    def get_observation(self, observation_id: str) -> Observation:
        """Observation by id (ModelError naming the known ids)."""
        return _get(self.observations, observation_id, "observation")

    def get_validation(self, validation_id: str) -> ValidationTarget:
        """Validation target by id (ModelError naming the known ids)."""
        return _get(self.validations, validation_id, "validation target")


def _get(d: Mapping[str, _T], key: str, what: str) -> _T:
    if key not in d:
        raise ModelError(f"unknown {what} {key!r}; known: {', '.join(d)}")
    return d[key]
