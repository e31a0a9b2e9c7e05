"""Field checks shared by the library's file loaders (model files, evidence tables)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ketasim.errors import ModelError

__all__ = ["require_field"]


def require_field(
    d: Mapping[str, Any], key: str, where: str, typ: type | tuple[type, ...] = str
) -> Any:
    if key not in d:
        raise ModelError(f"{where}: required field {key!r} is missing")
    v = d[key]
    if not isinstance(v, typ) or (isinstance(v, str) and not v.strip()):
        raise ModelError(f"{where}.{key}: expected a non-empty {getattr(typ, '__name__', typ)}")
    return v
