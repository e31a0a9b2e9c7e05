"""Published models as data (one TOML file per model), their loader, provenance and selection."""

from ketasim.library.loader import canonical_unit_for, list_models, load_model, load_model_file
from ketasim.library.provenance import format_provenance, get_evidence_tier
from ketasim.library.selection import (
    ModelChoice,
    check_model_use,
    find_models,
    get_population_group,
    list_selectable_models,
)

__all__ = [
    "ModelChoice",
    "canonical_unit_for",
    "check_model_use",
    "find_models",
    "format_provenance",
    "get_evidence_tier",
    "get_population_group",
    "list_models",
    "list_selectable_models",
    "load_model",
    "load_model_file",
]
