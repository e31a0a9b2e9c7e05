"""The monograph tab and the safety-screen panel (htmltools tags: every text escaped).

Thin over :mod:`ketasim.monograph` and :mod:`ketasim.safety`: statements are shown as written in
the monograph files, each with its numbered source and where in it; screen findings each name
their source. Nothing here adds a fact or a judgement.
"""

from __future__ import annotations

from typing import Any

from htmltools import Tag, tags

from ketasim.monograph import SECTIONS, compute_pk_summary, load_monograph
from ketasim.monograph.render import format_modifier_effects
from ketasim.notices import DISCLAIMER
from ketasim.report.tables import format_number
from ketasim.safety import ScreenResult

__all__ = ["get_monograph_panel", "get_screen_panel"]


def get_monograph_panel(name: str) -> Tag:
    """A monograph by section, statements with their sources, sources listed and numbered."""
    mono = load_monograph(name)
    order: list[Any] = []
    index: dict[str, int] = {}

    def refs(st: Any) -> Tag:
        parts = []
        for c in st.cite:
            if c.source.id not in index:
                order.append(c.source)
                index[c.source.id] = len(order)
            parts.append(f"{index[c.source.id]}: {c.where}")
        return tags.span({"class": "ks-note ks-ref"}, " [" + "; ".join(parts) + "]")

    body: list[Any] = [tags.p({"class": "ks-notice"}, DISCLAIMER), tags.h4(mono.name)]
    for key, title in SECTIONS.items():
        if key == "pk_summary":
            body += [tags.h5(title), _pk_table(mono.id)]
            continue
        items = mono.get_section(key)
        if not items:
            continue
        lis = []
        for st in items:
            label = []
            if st.status:
                label.append(
                    ", ".join(
                        x for x in (st.status.replace("_", "-"), st.jurisdiction, st.authority) if x
                    )
                )
            if st.severity != "information":
                label.append(st.severity.replace("_", " "))
            head = "".join(f"[{b}] " for b in label)
            text = f'"{st.text}"' if st.quoted else st.text
            extra = (
                [tags.div({"class": "ks-note"}, f"Frequency: {st.frequency}")]
                if st.frequency
                else []
            )
            extra += [
                tags.div({"class": "ks-note"}, "Published ratio: " + format_modifier_effects(m))
                for m in st.modifier_ids
            ]
            if st.section == "faq":
                lis.append(
                    tags.li(
                        {"data-statement": st.id},
                        tags.strong(f"Q: {st.question}"),
                        tags.br(),
                        f"A: {text}",
                        refs(st),
                        *extra,
                    )
                )
            else:
                lis.append(tags.li({"data-statement": st.id}, head + text, refs(st), *extra))
        body += [tags.h5(title), tags.ul(*lis)]
    body += [
        tags.h5("Sources"),
        tags.ol({"id": "monograph_sources"}, *(tags.li(s.format()) for s in order)),
    ]
    return tags.div({"id": "monograph", "data-monograph": mono.id}, *body)


def _pk_table(mono_id: str) -> Tag:
    pk = compute_pk_summary(mono_id)
    if not pk.rows:
        return tags.p("No library model simulates this compound.")
    head = (
        "regimen",
        "model",
        "evidence",
        "analyte",
        "Cmax (ng/mL)",
        "Tmax (h)",
        "AUC0-24 (ng/mL·h)",
        "t1/2 (h)",
        "source",
    )
    rows = [
        tags.tr(
            tags.td(r.regimen.label),
            tags.td(r.model_id),
            tags.td(r.evidence_tier or "n/a"),
            tags.td(r.analyte),
            tags.td(format_number(r.cmax_ng_per_mL)),
            tags.td(format_number(r.tmax_h)),
            tags.td(format_number(r.auc_0_24_ng_h_per_mL)),
            tags.td(format_number(r.terminal_half_life_h)),
            tags.td(r.model_citation),
        )
        for r in pk.rows
    ]
    return tags.div(
        tags.table({"class": "ks-table"}, tags.tr(*(tags.th(h) for h in head)), *rows),
        tags.p({"class": "ks-note"}, pk.note),
    )


def get_screen_panel(result: ScreenResult) -> Tag:
    """Findings (each with its sources), published modifiers and whether they transfer, gaps."""
    findings = [
        tags.tr(
            {"class": f"sev-{f.severity}"},
            tags.td(f.severity.replace("_", " ")),
            tags.td(f.text),
            tags.td(f.matched),
            tags.td(tags.ul(*(tags.li(s) for s in f.sources))),
        )
        for f in result.findings
    ]
    mods = [
        tags.tr(
            tags.td(m.perpetrator),
            tags.td(m.effects),
            tags.td(m.source),
            tags.td("yes" if m.transfers else "no" if m.transfers is not None else "unknown"),
            tags.td(m.transfer_note),
            tags.td(
                "yes"
                if m.applied_to_simulation
                else "no (the curves are not adjusted; see the interaction table)"
            ),
        )
        for m in result.modifiers
    ]
    parts: list[Any] = [
        tags.p({"class": "ks-notice"}, result.disclaimer),
        tags.p(
            f"Screen of {result.drug_name} ({result.route or 'any route'}) for: "
            f"{result.profile.describe()}"
        ),
        tags.table(
            {"class": "ks-table", "id": "screen_findings"},
            tags.tr(
                tags.th("severity"), tags.th("statement"), tags.th("because"), tags.th("source")
            ),
            *findings,
        )
        if findings
        else tags.p({"id": "screen_findings"}, "No monograph statement matches this profile."),
    ]
    if mods:
        parts.append(
            tags.table(
                {"class": "ks-table", "id": "screen_modifiers"},
                tags.tr(
                    *(
                        tags.th(h)
                        for h in (
                            "drug",
                            "published effect",
                            "source",
                            "transfers to this route",
                            "why",
                            "applied to the simulation",
                        )
                    )
                ),
                *mods,
            )
        )
    if result.gaps:
        parts.append(tags.ul({"class": "ks-note"}, *(tags.li(g) for g in result.gaps)))
    return tags.div({"id": "screen"}, *parts)
