"""Evidence tiers of model files: ``published``, ``transcribed`` (two independent
implementations named and checked number by number), ``derived`` (data, script, diagnostics).

Owns checking a model file's ``evidence`` field and its companion tables; the rest of the file is
:mod:`ketasim.library.loader`'s.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ketasim.errors import ModelError
from ketasim.library.schema import require_field as _req
from ketasim.spec import (
    EVIDENCE_TIERS,
    Evidence,
    Implementation,
    Parameter,
)

__all__ = ["build_evidence"]

_TRANSCRIBED_KEYS = {
    "project",
    "repository",
    "file",
    "version",
    "commit",
    "cites",
    "entry",
    "values",
}
_DERIVED_KEYS = {"data", "script", "diagnostics", "identifies", "not_identified"}


def build_evidence(doc: Mapping[str, Any], thetas: Mapping[str, Parameter]) -> Evidence:
    """The file's evidence tier, with its companion fields checked against the tier."""
    if "evidence" not in doc:
        raise ModelError(
            "required field 'evidence' is missing: write evidence = "
            + " | ".join(f'"{t}"' for t in EVIDENCE_TIERS)
            + " (see docs/model-format.md)"
        )
    tier = doc["evidence"]
    if tier not in EVIDENCE_TIERS:
        raise ModelError(f"evidence = {tier!r} must be one of {', '.join(EVIDENCE_TIERS)}")
    has_t = "transcribed_from" in doc
    has_d = "derived_from" in doc
    note = str(doc.get("evidence_note", ""))
    if tier == "published":
        if has_t or has_d:
            table = "transcribed_from" if has_t else "derived_from"
            raise ModelError(f'evidence = "published" but the file has [{table}]; remove one')
        return Evidence("published", note=note)
    if tier == "derived":
        if has_t:
            raise ModelError('evidence = "derived" but the file has [[transcribed_from]]')
        d = _req(doc, "derived_from", "model", dict)
        unknown = set(d) - _DERIVED_KEYS
        if unknown:
            raise ModelError(f"derived_from: unknown key(s) {', '.join(sorted(unknown))}")
        for k in ("data", "script", "diagnostics", "identifies"):
            _req(d, k, "derived_from")
        return Evidence(
            "derived",
            data=d["data"],
            script=d["script"],
            diagnostics=d["diagnostics"],
            identifies=d["identifies"]
            + (f" Not identified: {d['not_identified']}" if d.get("not_identified") else ""),
            note=note,
        )
    if has_d:
        raise ModelError('evidence = "transcribed" but the file has [derived_from]')
    entries = _req(doc, "transcribed_from", "model", list)
    impls: list[Implementation] = []
    for i, e in enumerate(entries):
        where = f"transcribed_from[{i}]"
        if not isinstance(e, dict):
            raise ModelError(f"{where}: expected a table")
        unknown = set(e) - _TRANSCRIBED_KEYS
        if unknown:
            raise ModelError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
        for k in ("project", "repository", "file", "version", "cites"):
            _req(e, k, where)
        raw = _req(e, "values", where, dict)
        values: dict[str, float] = {}
        for name in thetas:
            if name not in raw:
                raise ModelError(
                    f"{where} ({e['project']}): no value for theta {name}; a transcribed model "
                    "ships only the numbers every implementation encodes"
                )
        for name, text in raw.items():
            if name not in thetas:
                raise ModelError(f"{where}.values: {name} is not a theta of this file")
            values[name] = _check_transcribed_value(
                text, thetas[name], f"{where}.values.{name} ({e['project']})"
            )
        impls.append(
            Implementation(
                project=e["project"],
                repository=e["repository"],
                file=e["file"],
                version=e["version"],
                commit=str(e.get("commit", "")),
                cites=e["cites"],
                entry=e.get("entry", ""),
                values=values,
            )
        )
    repos = {i.repository.lower().rstrip("/") for i in impls}
    if len(repos) < 2:
        raise ModelError(
            'evidence = "transcribed" needs at least two independent implementations '
            f"([[transcribed_from]] with different repositories); found {len(repos)}"
        )
    return Evidence("transcribed", implementations=tuple(impls), note=note)


def _check_transcribed_value(text: Any, theta: Parameter, where: str) -> float:
    """Parse an implementation's number (a string, as printed) and check it matches the theta.

    The number must agree with the theta's printed value to the last digit the implementation
    prints: ``|value - theta| <= 0.5 x 10^-decimals``.
    """
    if not isinstance(text, str):
        raise ModelError(f'{where}: write the number as printed, in quotes (e.g. "0.438")')
    try:
        v = float(text)
    except ValueError:
        raise ModelError(f"{where}: {text!r} is not a number") from None
    frac = text.strip().lower().split("e")[0]
    decimals = len(frac.split(".")[1]) if "." in frac else 0
    exp = int(text.strip().lower().split("e")[1]) if "e" in text.strip().lower() else 0
    half_ulp = 0.5 * 10.0 ** (exp - decimals)
    if abs(v - theta.published_value) > half_ulp * (1 + 1e-9):
        raise ModelError(
            f"{where}: encodes {text} but the file's {theta.name} is {theta.published_value:g} "
            f"{theta.published_unit}; the implementations disagree, so the model cannot ship "
            "as transcribed"
        )
    return v
