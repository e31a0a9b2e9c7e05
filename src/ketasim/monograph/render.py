"""Render a monograph as text or Markdown, with numbered sources and the research-only notice.

Owns presentation only: section order and headings come from ``schema.SECTIONS``; sources are
numbered in order of first citation; interaction statements show the published ratios of their
linked ``modifiers.toml`` entries (read from that file, so numbers live in one place); the PK
summary table is whatever ``pk_summary.compute_pk_summary`` returns. No facts are added here.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from ketasim.interactions import get_modifier
from ketasim.monograph.pk_summary import PkSummary
from ketasim.monograph.schema import SECTIONS, Monograph, MonographError, Source, Statement
from ketasim.notices import DISCLAIMER

__all__ = ["FORMATS", "format_modifier_effects", "render_monograph"]

FORMATS = ("text", "markdown")


def format_modifier_effects(modifier_id: str) -> str:
    """One line with a modifier's published ratios as printed in its source.

    Examples
    --------
    >>> format_modifier_effects("clarithromycin_oral_s_ketamine")[:36]
    'clarithromycin -> S-ketamine (oral, '
    """
    m = get_modifier(modifier_id)
    effects = "; ".join(
        f"{e.get('analyte')} {e.get('metric')} "
        + (f"x{float(e['ratio']):g}" if e.get("ratio") is not None else "(no ratio printed)")
        for e in m.effects
    )
    return (
        f"{m.perpetrator} -> {m.victim} ({m.victim_route}, {m.victim_dose}): "
        f"{effects or 'qualitative'} [modifier {m.id}]"
    )


class _Numbering:
    def __init__(self) -> None:
        self.order: list[Source] = []
        self._index: dict[str, int] = {}

    def ref(self, s: Statement) -> str:
        parts = []
        for c in s.cite:
            if c.source.id not in self._index:
                self.order.append(c.source)
                self._index[c.source.id] = len(self.order)
            parts.append(f"{self._index[c.source.id]}: {c.where}")
        return "[" + "; ".join(parts) + "]"


def _label(s: Statement) -> str:
    bits: list[str] = []
    if s.section == "uses":
        status = s.status.replace("_", "-")
        bits.append(", ".join(x for x in (status, s.jurisdiction, s.authority) if x))
    elif s.section == "abuse" and s.schedule:
        bits.append(f"{s.schedule}, {s.jurisdiction}")
    if s.severity != "information":
        bits.append(s.severity.replace("_", " "))
    return "".join(f"[{b}] " for b in bits)


def _statement_lines(s: Statement, num: _Numbering, md: bool) -> list[str]:
    bullet = "- " if md else "  - "
    ref = num.ref(s)
    text = f'"{s.text}"' if s.quoted else s.text
    if s.section == "faq":
        q = f"**Q: {s.question}**" if md else f"Q: {s.question}"
        return [f"{bullet}{q}", f"  A: {text} {ref}"]
    lines = [f"{bullet}{_label(s)}{text} {ref}"]
    pad = "  " if md else "      "
    if s.frequency:
        lines.append(f"{pad}Frequency: {s.frequency}")
    for mid in s.modifier_ids:
        lines.append(f"{pad}Published ratio: {format_modifier_effects(mid)}")
    if s.note:
        lines.append(f"{pad}Note: {s.note}")
    return lines


def _pk_lines(pk: PkSummary, md: bool) -> list[str]:
    if not pk.rows:
        return ["  (no library model simulates this compound)"]
    head = [
        "regimen",
        "model",
        "analyte",
        "Cmax (ng/mL)",
        "Tmax (h)",
        "AUC0-24 (ng/mL*h)",
        "t1/2 (h)",
    ]
    rows = [
        [
            r.regimen.label,
            r.model_id,
            r.analyte,
            f"{r.cmax_ng_per_mL:.4g}",
            f"{r.tmax_h:.3g}",
            f"{r.auc_0_24_ng_h_per_mL:.4g}",
            f"{r.terminal_half_life_h:.3g}"
            if math.isfinite(r.terminal_half_life_h)
            else f"n/a ({r.half_life_reason})",
        ]
        for r in pk.rows
    ]
    out: list[str] = []
    if md:
        out.append("| " + " | ".join(head) + " |")
        out.append("|" + "---|" * len(head))
        out.extend("| " + " | ".join(cells) + " |" for cells in rows)
    else:
        for cells in rows:
            out.append("  - " + "; ".join(f"{h}: {v}" for h, v in zip(head, cells, strict=True)))
    out.append("")
    seen: set[str] = set()
    for r in pk.rows:
        if r.model_id in seen:
            continue
        seen.add(r.model_id)
        out.append(
            f"  Model {r.model_id}: {r.model_citation}; sampling {r.sampling}; evidence tier: "
            f"{r.evidence_tier}."
        )
        out.append(f"  Regimen source: {r.regimen.regimen_source}.")
        for n in r.notes:
            out.append(f"  Note: {n}")
    out.append(
        "  Metrics: typical-value simulation; Cmax/Tmax on the simulated grid, AUC0-24 by "
        "linear-up/log-down trapezoids, t1/2 from a log-linear fit of the last 12 h simulated."
    )
    if pk.note:
        out.append(f"  Caveat: {pk.note}")
    return out


def render_monograph(
    mono: Monograph,
    *,
    format: str = "text",
    sections: Sequence[str] | None = None,
    pk_summary: PkSummary | None = None,
) -> str:
    """The monograph as text or Markdown, with numbered sources and the research-only notice.

    Parameters
    ----------
    mono : Monograph
    format : {"text", "markdown"}
    sections : sequence of str, optional
        Section ids to show (default: all, in ``SECTIONS`` order). ``pk_summary`` is shown only
        when ``pk_summary`` is given.
    pk_summary : PkSummary, optional
        From ``compute_pk_summary``; computed by the caller so rendering never simulates.

    Raises
    ------
    MonographError
        For an unknown format or section (names it and lists the valid ones).

    Examples
    --------
    >>> from ketasim.monograph import load_monograph
    >>> out = render_monograph(load_monograph("hnk"), sections=["uses"])
    >>> "research and education only" in out and "[1: search result" in out
    True
    """
    if format not in FORMATS:
        raise MonographError(f"unknown format {format!r}; formats: {', '.join(FORMATS)}")
    chosen = list(sections) if sections else list(SECTIONS)
    for s in chosen:
        if s not in SECTIONS:
            raise MonographError(f"unknown section {s!r}; sections: {', '.join(SECTIONS)}")
    md = format == "markdown"
    num = _Numbering()
    out: list[str] = []
    title = f"{mono.name}: monograph (sources read {mono.reviewed})"
    out.append(f"# {title}" if md else title)
    out.append("")
    out.append(f"> {DISCLAIMER}" if md else f"NOTICE: {DISCLAIMER}")
    for sec in SECTIONS:
        if sec not in chosen:
            continue
        if sec == "pk_summary":
            if pk_summary is None:
                continue
            body = _pk_lines(pk_summary, md)
        else:
            body = [ln for s in mono.get_section(sec) for ln in _statement_lines(s, num, md)]
            if not body:
                continue
        out.append("")
        out.append(f"## {SECTIONS[sec]}" if md else f"== {SECTIONS[sec]} ==")
        out.extend(body)
    out.append("")
    out.append("## Sources" if md else "== Sources ==")
    for i, src in enumerate(num.order, start=1):
        out.append(f"{i}. {src.format()}" if md else f"  [{i}] {src.format()}")
    out.append("")
    out.append(f"> {DISCLAIMER}" if md else f"NOTICE: {DISCLAIMER}")
    return "\n".join(out) + "\n"
