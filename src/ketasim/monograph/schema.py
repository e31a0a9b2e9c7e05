"""The monograph data model and its schema check: every statement names its source.

Owns the frozen types of a drug monograph (``Monograph``, ``Statement``, ``Source``,
``SourceRef``, ``PkRegimen``) and the controlled vocabularies. The checks that turn a parsed
TOML document into a ``Monograph`` live in ``parse.py``; files in ``loader.py``; simulation in
``pk_summary.py``; presentation in ``render.py``.

Rules the vocabularies and ``parse.py`` enforce:

- every statement has at least one citation, and every citation names a declared source (or a
  ``modifiers.toml`` entry) and says where in it (``where``: section, table, page);
- every source says what it is (``kind``), its title, and where it was read (``url`` or the
  library file); a label states its jurisdiction and its version/date as shown;
- approval status, severity words and controlled-substance schedules use a fixed vocabulary, so
  a statement cannot claim more than "approved / off-label / investigational" by whom;
- interaction statements may link ``modifiers.toml`` entries by id, which must exist.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from ketasim.errors import KetasimError

__all__ = [
    "APPROVAL_STATUSES",
    "CONDITION_KEYS",
    "SECTIONS",
    "SEVERITIES",
    "SOURCE_KINDS",
    "Monograph",
    "MonographError",
    "PkRegimen",
    "Screen",
    "Source",
    "SourceRef",
    "Statement",
]


class MonographError(KetasimError, ValueError):
    """A monograph file is invalid (names the file and field), or a monograph name is unknown."""


#: section ids in display order, with their headings
SECTIONS: dict[str, str] = {
    "names_forms": "Names and forms",
    "uses": "Uses and approval status",
    "mechanism": "How it works",
    "routes": "Routes",
    "pharmacokinetics": "Pharmacokinetics (sources)",
    "pk_summary": "Pharmacokinetic summary (computed live from the ketasim library)",
    "side_effects": "Side effects",
    "contraindications": "Who should not take it (contraindications)",
    "warnings": "Warnings and precautions",
    "interactions": "Interactions",
    "abuse": "Abuse potential and controlled-substance status",
    "pregnancy_lactation": "Pregnancy and breastfeeding",
    "special_populations": "Special populations",
    "faq": "Frequently asked questions",
    "disclaimer": "Disclaimer",
}

#: what a source is; ``search_record`` documents a search that found no label (an absence)
SOURCE_KINDS = (
    "label",
    "regulator",
    "review",
    "article",
    "textbook",
    "manufacturer_information",
    "drug_information",
    "library_model",
    "search_record",
    "project",
)

#: approval status of a use, as the source states it (never stronger)
APPROVAL_STATUSES = ("approved", "off_label", "investigational", "no_label_found")

#: severity words as labels use them; "drug_interaction" for an item of a label's Drug
#: Interactions section (which carries no severity word of its own); "information" otherwise
SEVERITIES = (
    "boxed_warning",
    "contraindication",
    "warning",
    "precaution",
    "not_recommended",
    "drug_interaction",
    "information",
)

#: patient-profile conditions a statement may be screened against (see ketasim.safety.profile)
CONDITION_KEYS = (
    "pregnant",
    "breastfeeding",
    "pre_eclampsia",
    "hyperthyroidism_untreated",
    "hypertension_uncontrolled",
    "hypertension_controlled",
    "aneurysmal_vascular_disease",
    "av_malformation",
    "intracerebral_haemorrhage_history",
    "recent_cardiovascular_event",
    "ischaemic_heart_disease",
    "cerebrovascular_disease",
    "other_cardiovascular_disease",
    "hepatic_impairment_mild",
    "hepatic_impairment_moderate",
    "hepatic_impairment_severe",
    "renal_impairment_mild",
    "renal_impairment_moderate",
    "renal_impairment_severe",
    "psychosis_history",
    "raised_intracranial_pressure",
    "raised_intraocular_pressure",
    "substance_use_disorder",
)


@dataclass(frozen=True)
class Source:
    """One source a statement rests on (a label, review, paper, library model or search)."""

    id: str
    kind: str
    title: str
    url: str = ""
    read: str = ""
    authors: str = ""
    publisher: str = ""
    year: int | None = None
    journal: str = ""
    volume: str = ""
    pages: str = ""
    doi: str = ""
    jurisdiction: str = ""
    version: str = ""
    unverified: str = ""

    def format(self) -> str:
        """One-line reference: who, what, where published, version/date, DOI or URL."""
        who = self.authors or self.publisher
        parts = [p for p in (who, f"({self.year})" if self.year else "") if p]
        head = " ".join(parts).rstrip(".")
        out = f"{head}. {self.title}" if head else self.title
        if self.journal:
            vol = f" {self.volume}" if self.volume else ""
            pages = f":{self.pages}" if self.pages else ""
            sep = " " if out.endswith(("?", "!", ".")) else ". "
            out += f"{sep}{self.journal}{vol}{pages}"
        if self.jurisdiction:
            out += f". Jurisdiction: {self.jurisdiction}"
        if self.version:
            out += f". Version: {self.version}"
        if self.doi:
            out += f". doi:{self.doi}"
        if self.url:
            out += f". Read at {self.url}"
        if self.unverified:
            out += f". Not verified in the text read: {self.unverified}"
        return out


@dataclass(frozen=True)
class SourceRef:
    """A citation of one source by a statement, with the place in the source."""

    source: Source
    where: str


@dataclass(frozen=True)
class Screen:
    """When a statement applies to a patient profile (used by ketasim.safety.screen)."""

    conditions: tuple[str, ...] = ()
    agents: tuple[str, ...] = ()
    age_below_yr: float | None = None
    age_at_least_yr: float | None = None

    @property
    def is_empty(self) -> bool:
        return not (
            self.conditions
            or self.agents
            or self.age_below_yr is not None
            or self.age_at_least_yr is not None
        )


@dataclass(frozen=True)
class Statement:
    """One sourced statement of a monograph section."""

    id: str
    section: str
    text: str
    cite: tuple[SourceRef, ...]
    quoted: bool = False
    severity: str = "information"
    status: str = ""
    jurisdiction: str = ""
    authority: str = ""
    schedule: str = ""
    frequency: str = ""
    question: str = ""
    modifier_ids: tuple[str, ...] = ()
    screen: Screen = field(default_factory=Screen)
    note: str = ""


@dataclass(frozen=True)
class PkRegimen:
    """A standard regimen to simulate on a library model for the live PK summary.

    ``dose``, ``duration`` and ``until`` are quantities with units as text (``"84 mg"``,
    ``"40 min"``, ``"48 h"``); ``regimen_source`` says where the regimen comes from.
    """

    model: str
    dose: str
    route: str
    label: str
    regimen_source: str
    duration: str | None = None
    covariates: Mapping[str, float] = field(default_factory=dict)
    until: str = "48 h"


@dataclass(frozen=True)
class Monograph:
    """A drug monograph: sourced statements by section, sources, and PK regimens."""

    id: str
    name: str
    aliases: tuple[str, ...]
    analytes: tuple[str, ...]
    library_drug: str
    reviewed: str
    sources: Mapping[str, Source]
    statements: tuple[Statement, ...]
    pk_regimens: tuple[PkRegimen, ...] = ()
    pk_note: str = ""

    def get_section(self, section: str) -> tuple[Statement, ...]:
        """Statements of one section, in file order (MonographError for an unknown section)."""
        if section not in SECTIONS:
            raise MonographError(f"unknown section {section!r}; sections: {', '.join(SECTIONS)}")
        return tuple(s for s in self.statements if s.section == section)

    def to_dict(self) -> dict[str, Any]:
        """Plain data (dicts, lists, str, numbers) for JSON or a web page."""
        d = asdict(self)
        d["sources"] = {k: asdict(v) for k, v in self.sources.items()}
        return d

    def get_statement(self, statement_id: str) -> Statement:
        """One statement by id (MonographError naming the monograph otherwise)."""
        for s in self.statements:
            if s.id == statement_id:
                return s
        raise MonographError(f"monograph {self.id} has no statement {statement_id!r}")
