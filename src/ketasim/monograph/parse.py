"""Check a parsed monograph document and build its ``Monograph`` (the schema check).

Owns :func:`parse_monograph`: every statement must cite a declared source (or a
``modifiers.toml`` entry) and say where in it; labels state jurisdiction and version; approval
status, severity and screen conditions use the vocabularies of ``schema.py``; linked modifier
ids must exist. Any failure raises :class:`MonographError` naming the file and field.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ketasim.monograph.schema import (
    APPROVAL_STATUSES,
    CONDITION_KEYS,
    SECTIONS,
    SEVERITIES,
    SOURCE_KINDS,
    Monograph,
    MonographError,
    PkRegimen,
    Screen,
    Source,
    SourceRef,
    Statement,
)

__all__ = ["parse_monograph"]

_SECTION_FIELDS: dict[str, frozenset[str]] = {
    "uses": frozenset({"status", "jurisdiction", "authority"}),
    "abuse": frozenset({"schedule", "jurisdiction", "authority"}),
    "side_effects": frozenset({"frequency"}),
    "faq": frozenset({"question"}),
}
_STATEMENT_KEYS = frozenset(
    {
        "id",
        "section",
        "text",
        "quoted",
        "cite",
        "severity",
        "status",
        "jurisdiction",
        "authority",
        "schedule",
        "frequency",
        "question",
        "modifier_ids",
        "screen",
        "note",
    }
)
_SCREEN_KEYS = frozenset({"conditions", "agents", "age_below_yr", "age_at_least_yr"})
_SOURCE_KEYS = frozenset(
    {
        "kind",
        "title",
        "authors",
        "publisher",
        "year",
        "journal",
        "volume",
        "pages",
        "doi",
        "jurisdiction",
        "version",
        "url",
        "read",
        "unverified",
    }
)
_PK_KEYS = frozenset(
    {"model", "dose", "route", "duration", "covariates", "until", "regimen_source", "label"}
)


def _str(d: Mapping[str, Any], key: str, where: str, *, required: bool = True) -> str:
    v = d.get(key)
    if v is None:
        if required:
            raise MonographError(f"{where}: required field {key!r} is missing")
        return ""
    if not isinstance(v, str):
        raise MonographError(f"{where}.{key}: {v!r} must be text")
    if required and not v.strip():
        raise MonographError(f"{where}.{key}: must not be empty")
    return v.strip()


def _unknown_keys(d: Mapping[str, Any], allowed: frozenset[str], where: str) -> None:
    extra = sorted(set(d) - allowed)
    if extra:
        raise MonographError(
            f"{where}: unknown field(s) {', '.join(extra)}; allowed: {', '.join(sorted(allowed))}"
        )


def _parse_source(sid: str, d: Any, where: str) -> Source:
    if not isinstance(d, Mapping):
        raise MonographError(f"{where}: must be a table")
    _unknown_keys(d, _SOURCE_KEYS, where)
    kind = _str(d, "kind", where)
    if kind not in SOURCE_KINDS:
        raise MonographError(f"{where}.kind: {kind!r} is not one of {', '.join(SOURCE_KINDS)}")
    url = _str(d, "url", where, required=False)
    if not url and kind != "library_model":
        raise MonographError(f"{where}: a {kind} source needs the 'url' where it was read")
    jurisdiction = _str(d, "jurisdiction", where, required=kind in ("label", "regulator"))
    version = _str(d, "version", where, required=kind == "label")
    year = d.get("year")
    if year is not None and not isinstance(year, int):
        raise MonographError(f"{where}.year: {year!r} must be an integer")
    return Source(
        id=sid,
        kind=kind,
        title=_str(d, "title", where),
        url=url,
        read=_str(d, "read", where, required=False),
        authors=_str(d, "authors", where, required=False),
        publisher=_str(d, "publisher", where, required=False),
        year=year,
        journal=_str(d, "journal", where, required=False),
        volume=_str(d, "volume", where, required=False),
        pages=_str(d, "pages", where, required=False),
        doi=_str(d, "doi", where, required=False),
        jurisdiction=jurisdiction,
        version=version,
        unverified=_str(d, "unverified", where, required=False),
    )


def _modifier_source(modifier_id: str, modifiers: Mapping[str, Any], where: str) -> Source:
    if modifier_id not in modifiers:
        raise MonographError(
            f"{where}: modifier {modifier_id!r} is not in library/modifiers.toml; available: "
            f"{', '.join(modifiers)}"
        )
    m = modifiers[modifier_id]
    c = m.citation
    journal = str(c.get("journal", "")).lower()
    kind = (
        "manufacturer_information"
        if "manufacturer" in journal
        else "label"
        if "label" in journal
        else "article"
    )
    doi = str(c.get("doi", ""))
    # one source per paper: two findings of the same study share a number in the source list
    return Source(
        id=f"doi:{doi}" if doi.startswith("10.") else f"modifier:{modifier_id}",
        kind=kind,
        title=str(c.get("title", "")),
        url="library/modifiers.toml (and the pages it records as read)",
        read=str(getattr(m, "notes", "")),
        authors=str(c.get("authors", "")),
        year=int(c["year"]) if "year" in c else None,
        journal=str(c.get("journal", "")),
        volume=str(c.get("volume", "")),
        pages=str(c.get("pages", "")),
        doi=str(c.get("doi", "")),
    )


def _parse_cite(
    raw: Any, sources: Mapping[str, Source], modifiers: Mapping[str, Any], where: str
) -> tuple[SourceRef, ...]:
    if raw is None or (isinstance(raw, Sequence) and len(raw) == 0):
        raise MonographError(
            f'{where}: statement has no source; add cite = [{{ source = "<id>", where = '
            '"section ..." }]'
        )
    if not isinstance(raw, Sequence) or isinstance(raw, str):
        raise MonographError(f"{where}.cite: must be a list of tables")
    out: list[SourceRef] = []
    for j, c in enumerate(raw):
        w = f"{where}.cite[{j}]"
        if not isinstance(c, Mapping):
            raise MonographError(f"{w}: must be a table with 'source' (or 'modifier') and 'where'")
        _unknown_keys(c, frozenset({"source", "modifier", "where"}), w)
        if "modifier" in c:
            src = _modifier_source(str(c["modifier"]), modifiers, w)
            loc = _str(c, "where", w, required=False) or str(
                modifiers[str(c["modifier"])].citation.get("where", "")
            )
            if not loc:
                raise MonographError(f"{w}: required field 'where' is missing")
        else:
            sid = _str(c, "source", w)
            if sid not in sources:
                raise MonographError(
                    f"{w}.source: {sid!r} is not a declared source; declared: "
                    f"{', '.join(sources) or 'none'}"
                )
            src = sources[sid]
            loc = _str(c, "where", w)
        out.append(SourceRef(src, loc))
    return tuple(out)


def _parse_screen(raw: Any, where: str) -> Screen:
    if raw is None:
        return Screen()
    if not isinstance(raw, Mapping):
        raise MonographError(f"{where}: must be a table")
    _unknown_keys(raw, _SCREEN_KEYS, where)
    conds = tuple(str(x) for x in raw.get("conditions", ()))
    for c in conds:
        if c not in CONDITION_KEYS:
            raise MonographError(
                f"{where}.conditions: {c!r} is not a known condition; known: "
                f"{', '.join(CONDITION_KEYS)}"
            )
    ages: dict[str, float | None] = {}
    for key in ("age_below_yr", "age_at_least_yr"):
        v = raw.get(key)
        if v is not None and (not isinstance(v, (int, float)) or isinstance(v, bool) or v < 0):
            raise MonographError(f"{where}.{key}: {v!r} must be a non-negative number of years")
        ages[key] = float(v) if v is not None else None
    return Screen(
        conditions=conds,
        agents=tuple(str(x).lower() for x in raw.get("agents", ())),
        age_below_yr=ages["age_below_yr"],
        age_at_least_yr=ages["age_at_least_yr"],
    )


def _parse_statement(
    i: int,
    d: Any,
    sources: Mapping[str, Source],
    modifiers: Mapping[str, Any],
    file: str,
) -> Statement:
    where = f"{file} statement[{i}]"
    if not isinstance(d, Mapping):
        raise MonographError(f"{where}: must be a table")
    sid = _str(d, "id", where)
    where = f"{file} statement {sid!r}"
    _unknown_keys(d, _STATEMENT_KEYS, where)
    section = _str(d, "section", where)
    if section not in SECTIONS or section == "pk_summary":
        allowed = [s for s in SECTIONS if s != "pk_summary"]
        raise MonographError(f"{where}.section: {section!r} is not one of {', '.join(allowed)}")
    for key in ("status", "schedule", "frequency", "question", "authority"):
        if key in d and key not in _SECTION_FIELDS.get(section, frozenset()):
            raise MonographError(f"{where}: field {key!r} is not used in section {section!r}")
    cite = _parse_cite(d.get("cite"), sources, modifiers, where)
    severity = _str(d, "severity", where, required=False) or "information"
    if severity not in SEVERITIES:
        raise MonographError(
            f"{where}.severity: {severity!r} is not one of {', '.join(SEVERITIES)}"
        )
    status = _str(d, "status", where, required=section == "uses")
    if status and status not in APPROVAL_STATUSES:
        raise MonographError(
            f"{where}.status: {status!r} is not one of {', '.join(APPROVAL_STATUSES)}"
        )
    jurisdiction = _str(d, "jurisdiction", where, required=section in ("uses", "abuse"))
    authority = _str(d, "authority", where, required=status in ("approved", "off_label"))
    question = _str(d, "question", where, required=section == "faq")
    mods = tuple(str(m) for m in d.get("modifier_ids", ()))
    for m in mods:
        if m not in modifiers:
            raise MonographError(
                f"{where}.modifier_ids: {m!r} is not in library/modifiers.toml; available: "
                f"{', '.join(modifiers)}"
            )
    quoted = d.get("quoted", False)
    if not isinstance(quoted, bool):
        raise MonographError(f"{where}.quoted: {quoted!r} must be true or false")
    return Statement(
        id=sid,
        section=section,
        text=_str(d, "text", where),
        cite=cite,
        quoted=quoted,
        severity=severity,
        status=status,
        jurisdiction=jurisdiction,
        authority=authority,
        schedule=_str(d, "schedule", where, required=False),
        frequency=_str(d, "frequency", where, required=False),
        question=question,
        modifier_ids=mods,
        screen=_parse_screen(d.get("screen"), f"{where}.screen"),
        note=_str(d, "note", where, required=False),
    )


def _parse_pk(i: int, d: Any, file: str) -> PkRegimen:
    where = f"{file} pk_regimen[{i}]"
    if not isinstance(d, Mapping):
        raise MonographError(f"{where}: must be a table")
    _unknown_keys(d, _PK_KEYS, where)
    covs = d.get("covariates", {})
    if not isinstance(covs, Mapping) or not all(
        isinstance(v, (int, float)) and not isinstance(v, bool) for v in covs.values()
    ):
        raise MonographError(f"{where}.covariates: must map covariate names to numbers")
    return PkRegimen(
        model=_str(d, "model", where),
        dose=_str(d, "dose", where),
        route=_str(d, "route", where),
        label=_str(d, "label", where),
        regimen_source=_str(d, "regimen_source", where),
        duration=_str(d, "duration", where, required=False) or None,
        covariates={str(k): float(v) for k, v in covs.items()},
        until=_str(d, "until", where, required=False) or "48 h",
    )


def parse_monograph(
    doc: Mapping[str, Any], *, file: str, modifiers: Mapping[str, Any]
) -> Monograph:
    """Check one parsed monograph document and build its :class:`Monograph`.

    Parameters
    ----------
    doc : mapping
        The parsed TOML document.
    file : str
        File name used in error messages.
    modifiers : mapping of str to Modifier
        ``modifiers.toml`` entries by id, for ``modifier_ids`` and ``cite = [{modifier=...}]``.

    Raises
    ------
    MonographError
        Naming the file and field, e.g. a statement without a source.
    """
    _unknown_keys(
        doc,
        frozenset(
            {
                "id",
                "name",
                "aliases",
                "analytes",
                "library_drug",
                "reviewed",
                "sources",
                "statement",
                "pk_regimen",
                "pk_note",
            }
        ),
        file,
    )
    mid = _str(doc, "id", file)
    raw_sources = doc.get("sources", {})
    if not isinstance(raw_sources, Mapping) or not raw_sources:
        raise MonographError(f"{file}: no [sources.<id>] tables; every statement needs a source")
    sources = {
        str(k): _parse_source(str(k), v, f"{file} sources.{k}") for k, v in raw_sources.items()
    }
    raw_statements = doc.get("statement", [])
    if not isinstance(raw_statements, Sequence) or not raw_statements:
        raise MonographError(f"{file}: no [[statement]] tables")
    statements = tuple(
        _parse_statement(i, s, sources, modifiers, file) for i, s in enumerate(raw_statements)
    )
    ids = [s.id for s in statements]
    dup = sorted({x for x in ids if ids.count(x) > 1})
    if dup:
        raise MonographError(f"{file}: duplicate statement id(s) {', '.join(dup)}")
    if not any(s.section == "disclaimer" for s in statements):
        raise MonographError(f"{file}: a monograph needs a 'disclaimer' statement")
    pk = tuple(_parse_pk(i, p, file) for i, p in enumerate(doc.get("pk_regimen", [])))
    return Monograph(
        id=mid,
        name=_str(doc, "name", file),
        aliases=tuple(str(a).lower() for a in doc.get("aliases", ())),
        analytes=tuple(str(a) for a in doc.get("analytes", ())),
        library_drug=_str(doc, "library_drug", file, required=False),
        reviewed=_str(doc, "reviewed", file),
        sources=sources,
        statements=statements,
        pk_regimens=pk,
        pk_note=_str(doc, "pk_note", file, required=False),
    )
