"""Published models as data (one TOML file per model) and their loader."""

from ketasim.library.loader import canonical_unit_for, list_models, load_model, load_model_file

__all__ = ["canonical_unit_for", "list_models", "load_model", "load_model_file"]
