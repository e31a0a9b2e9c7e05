"""Provenance of a comparison: ketasim version, model files and their SHA-256, inputs, seed."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from importlib import metadata, resources

from ketasim.report.comparison import Comparison

__all__ = ["ModelProvenance", "Provenance", "get_model_sha256", "get_provenance"]


@dataclass(frozen=True)
class ModelProvenance:
    """One model used: id, name, citation, and the SHA-256 of its library file."""

    id: str
    name: str
    citation: str
    where: str
    file: str
    sha256: str
    evidence: str


@dataclass(frozen=True)
class Provenance:
    """What produced a comparison: enough to reproduce it."""

    ketasim_version: str
    models: tuple[ModelProvenance, ...]
    scenario_toml: str
    seed: int


def get_model_sha256(model_id: str) -> tuple[str, str]:
    """(file name, SHA-256 hex digest) of a library model's TOML file ("" for none)."""
    f = resources.files("ketasim.library") / f"{model_id}.toml"
    if not f.is_file():
        return "", ""
    return f"ketasim/library/{model_id}.toml", hashlib.sha256(f.read_bytes()).hexdigest()


def _version() -> str:
    try:
        return metadata.version("ketasim")
    except metadata.PackageNotFoundError:  # NOTE: running from a source tree without install
        import ketasim

        return str(ketasim.__version__)


def get_provenance(comparison: Comparison) -> Provenance:
    """Provenance of ``comparison`` (models in order, without repeats)."""
    models: list[ModelProvenance] = []
    for arm in comparison.arms:
        m = arm.model
        if any(x.id == m.id for x in models):
            continue
        file, sha = get_model_sha256(m.id)
        ev = getattr(m, "evidence", None)
        models.append(
            ModelProvenance(
                id=m.id,
                name=m.name,
                citation=m.citation.format() if m.citation else "",
                where=m.citation.where if m.citation else "",
                file=file,
                sha256=sha,
                evidence="" if ev is None else str(getattr(ev, "tier", ev)),
            )
        )
    return Provenance(
        ketasim_version=_version(),
        models=tuple(models),
        scenario_toml=comparison.scenario.to_toml(),
        seed=comparison.scenario.seed,
    )
