"""Where a model's numbers come from: the citation and the evidence tier with the independent
implementations a ``transcribed`` model was checked against."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from ketasim.errors import ModelError

__all__ = ["EVIDENCE_TIERS", "Citation", "Evidence", "Implementation"]

EVIDENCE_TIERS = ("published", "transcribed", "derived")


@dataclass(frozen=True)
class Implementation:
    """Another project's encoding of a model's parameters (for ``transcribed`` models).

    ``values`` maps theta names to the numbers that project encodes, in the theta's printed unit;
    ``cites`` is the reference that project gives for them.
    """

    project: str
    repository: str
    file: str
    version: str
    commit: str = ""
    cites: str = ""
    entry: str = ""
    values: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "values", MappingProxyType(dict(self.values)))

    def format(self) -> str:
        """Short label, e.g. ``opentiva 1.1.2 opentiva/ketamine.py``."""
        return f"{self.project} {self.version} {self.file}"


@dataclass(frozen=True)
class Evidence:
    """Where a model's numbers come from: its evidence tier and the tier's companion fields.

    ``published``: parameters read in the paper (or its abstract where it prints them).
    ``transcribed``: the paper's table could not be read; the parameters are those at least two
    independent implementations encode identically for the citation (``implementations``).
    ``derived``: estimated by ketasim from published aggregate data (``data``, ``script`` and
    ``diagnostics`` are repository paths; ``identifies`` says what the data do and do not
    identify).
    """

    tier: str
    implementations: tuple[Implementation, ...] = ()
    data: str = ""
    script: str = ""
    diagnostics: str = ""
    identifies: str = ""
    note: str = ""

    def __post_init__(self) -> None:
        if self.tier not in EVIDENCE_TIERS:
            raise ModelError(f"evidence {self.tier!r} must be one of {', '.join(EVIDENCE_TIERS)}")

    def format(self) -> str:
        """One phrase, e.g. ``transcribed (opentiva 1.1.2, stanpumpR 0.0.1.9002)``."""
        if self.tier == "transcribed" and self.implementations:
            return (
                "transcribed ("
                + ", ".join(f"{i.project} {i.version}" for i in self.implementations)
                + ")"
            )
        if self.tier == "derived" and self.script:
            return f"derived ({self.script})"
        return self.tier


@dataclass(frozen=True)
class Citation:
    """Where a model comes from."""

    authors: str
    year: int
    title: str
    journal: str
    doi: str
    where: str = ""
    volume: str = ""
    pages: str = ""

    def format(self) -> str:
        """One-line reference, e.g. ``Herd DW et al. (2007) Paediatr Anaesth. doi:...``."""
        first = self.authors.split(",")[0].strip()
        etal = " et al." if "," in self.authors else ""
        return f"{first}{etal} ({self.year}) {self.journal}. doi:{self.doi}"
