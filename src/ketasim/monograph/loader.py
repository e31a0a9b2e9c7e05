"""Load monograph data files (``monograph/data/<id>.toml``) by name or alias.

Owns finding, reading and caching the bundled monographs and resolving names typed by users
(``"Spravato"``, ``"S-ketamine"``, ``"racemic ketamine"``) to a monograph id, with a close-match
suggestion when a name is unknown. The checks themselves live in ``parse.py``.
"""

from __future__ import annotations

import difflib
import functools
import os
import tomllib
from importlib import resources
from pathlib import Path
from typing import Any

from ketasim.interactions import list_modifiers
from ketasim.monograph.parse import parse_monograph
from ketasim.monograph.schema import Monograph, MonographError

__all__ = ["list_monographs", "load_monograph", "load_monograph_file", "resolve_monograph_name"]


def _modifiers() -> dict[str, Any]:
    return {m.id: m for m in list_modifiers()}


def _data_files() -> dict[str, Any]:
    root = resources.files("ketasim.monograph") / "data"
    return {
        p.name.removesuffix(".toml"): p
        for p in root.iterdir()
        if p.name.endswith(".toml") and not p.name.startswith("_")
    }


def load_monograph_file(path: str | os.PathLike[str]) -> Monograph:
    """Load and check one monograph TOML file.

    Raises
    ------
    MonographError
        When the file is not valid TOML or breaks the schema (e.g. a statement without a
        source); the message names the file and the field.
    """
    p = Path(path)
    try:
        with p.open("rb") as fh:
            doc = tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise MonographError(f"{p.name}: not valid TOML: {exc}") from None
    return parse_monograph(doc, file=p.name, modifiers=_modifiers())


@functools.cache
def _load_bundled(mid: str) -> Monograph:
    f = _data_files()[mid]
    with f.open("rb") as fh:
        doc = tomllib.load(fh)
    mono = parse_monograph(doc, file=f"monograph/data/{f.name}", modifiers=_modifiers())
    if mono.id != mid:
        raise MonographError(f"monograph/data/{f.name}: id {mono.id!r} differs from the file name")
    return mono


def list_monographs() -> list[str]:
    """Ids of the bundled monographs, sorted.

    Examples
    --------
    >>> list_monographs()
    ['esketamine', 'hnk', 'ketamine', 'norketamine']
    """
    return sorted(_data_files())


@functools.lru_cache(maxsize=1)
def _aliases() -> dict[str, str]:
    out: dict[str, str] = {}
    for mid in list_monographs():
        out[mid] = mid
        for a in _load_bundled(mid).aliases:
            out[a.lower()] = mid
    return out


def resolve_monograph_name(name: str) -> str:
    """Monograph id for a name or alias, case-insensitive.

    Raises
    ------
    MonographError
        Naming the input, the available monographs and the closest match, if any.

    Examples
    --------
    >>> resolve_monograph_name("Spravato")
    'esketamine'
    """
    key = name.strip().lower()
    table = _aliases()
    if key in table:
        return table[key]
    close = difflib.get_close_matches(key, list(table), n=1, cutoff=0.6)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    raise MonographError(
        f"unknown drug {name!r} for a monograph; available: {', '.join(list_monographs())}{hint}"
    )


def load_monograph(name: str) -> Monograph:
    """A bundled monograph by id or alias (``"ketamine"``, ``"esketamine"``, ``"Spravato"``).

    Examples
    --------
    >>> m = load_monograph("esketamine")
    >>> all(s.cite for s in m.statements)
    True
    """
    return _load_bundled(resolve_monograph_name(name))
