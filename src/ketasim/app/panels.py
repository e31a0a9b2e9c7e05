"""HTML pieces of the app (htmltools tags, so every text is escaped): tables, notes, panels.

Each table carries the models' citations and the research-only notice in its caption. Numbers
are shown to 4 significant figures; each numeric cell also holds the full value in
``data-value`` (the browser tests compare it with the API's).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from htmltools import Tag, tags

from ketasim.library.effects import load_effects
from ketasim.notices import DISCLAIMER
from ketasim.report.comparison import Comparison
from ketasim.report.tables import format_number
from ketasim.risk import RISK_DISCLAIMER
from ketasim.spec import ModelSpec

__all__ = [
    "get_interaction_table",
    "get_model_note",
    "get_model_panel",
    "get_notes",
    "get_risk_panel",
    "get_summary_table",
]


def _caption(comp: Comparison) -> Tag:
    return tags.caption(
        {"class": "ks-caption"},
        DISCLAIMER,
        tags.br(),
        "Sources: " + "; ".join(comp.get_citations()),
    )


def _num(x: float, key: str = "") -> Tag:
    return tags.td(
        {"class": "num", "data-value": repr(float(x)), "data-key": key}, format_number(x)
    )


def get_summary_table(comp: Comparison) -> Tag:
    """Cmax, Tmax, AUC, time in zone and accumulation of every regimen and analyte."""
    u = comp.unit
    head = tags.tr(
        *(
            tags.th(h)
            for h in (
                "regimen",
                "model",
                "analyte",
                f"Cmax ({u})",
                "Tmax (h)",
                f"AUC 0-end ({u}·h)",
                "zone",
                "time in zone (h)",
                "accumulation (Cmax last/first dose)",
                "notes",
            )
        )
    )
    body = []
    for arm in comp.arms:
        for s in arm.summaries:
            body.append(
                tags.tr(
                    {"data-regimen": s.regimen, "data-analyte": s.analyte},
                    tags.td(s.regimen),
                    tags.td(s.model_id),
                    tags.td(s.analyte),
                    _num(s.cmax, "cmax"),
                    _num(s.tmax_h, "tmax_h"),
                    _num(s.auc, "auc"),
                    tags.td(f"{s.zone_id} ({s.zone_band})" if s.zone_id else "none published"),
                    _num(s.time_in_zone_h, "time_in_zone_h"),
                    _num(s.accumulation, "accumulation"),
                    tags.td({"class": "ks-note"}, "; ".join(s.reasons.values())),
                )
            )
    return tags.table(
        {"class": "ks-table", "id": "summary"},
        _caption(comp),
        head,
        *body,
    )


def get_notes(comp: Comparison) -> Tag:
    """Every note and warning of the comparison (covariates assumed, validity, plausibility)."""
    items = [tags.li(f"{a.spec.label}: {n}") for a in comp.arms for n in a.notes]
    return tags.div(
        {"class": "ks-note", "id": "notes"},
        tags.p(
            "Typical patient; summaries from the solution on a fine grid with every dose, "
            "infusion end and lag time (not from the plotted points)."
        ),
        tags.ul(*items) if items else "",
    )


def get_interaction_table(comp: Comparison) -> Tag | str:
    """Published interaction ratios for the patient's drugs, or why they do not transfer."""
    if not comp.interactions:
        return ""
    rows = [
        tags.tr(
            tags.td(i.regimen),
            tags.td(i.modifier_id),
            tags.td(i.analyte),
            tags.td(i.metric),
            _num(i.ratio),
            tags.td(f"{format_number(i.baseline)} {i.unit}"),
            tags.td(f"{format_number(i.adjusted)} {i.unit}"),
            tags.td(i.source),
            tags.td({"class": "ks-note"}, i.note),
        )
        for i in comp.interactions
    ]
    return tags.div(
        tags.h5("Interacting drugs: published exposure ratios"),
        tags.table(
            {"class": "ks-table", "id": "interactions"},
            _caption(comp),
            tags.tr(
                *(
                    tags.th(h)
                    for h in (
                        "regimen",
                        "finding",
                        "analyte",
                        "metric",
                        "ratio",
                        "baseline",
                        "with the drug",
                        "source",
                        "note",
                    )
                )
            ),
            *rows,
        ),
    )


def get_risk_panel(comp: Comparison) -> Tag:
    """Time in each published zone and above each C50 per regimen, with every source."""
    parts: list[Any] = [tags.p({"class": "ks-notice"}, RISK_DISCLAIMER)]
    for arm in comp.arms:
        rows = [
            tags.tr(
                tags.td(r["item"]),
                tags.td(r["what"]),
                tags.td(r["threshold"]),
                tags.td(r["analyte"]),
                tags.td(r["basis"]),
                _num(float(r["time_h_median"])),
                _num(float(r["share_reaching"])),
                tags.td(r["source"]),
                tags.td(r["where"]),
                tags.td({"class": "ks-note"}, r["notes"]),
            )
            for r in arm.risk.to_rows()
        ]
        skipped = [tags.li(f"{i}: {why}") for i, why in arm.risk.skipped]
        notes = [tags.li(n) for n in arm.risk_notes]
        parts += [
            tags.h5(f"{arm.spec.label} ({arm.model.id})"),
            tags.table(
                {"class": "ks-table risk"},
                _caption(comp),
                tags.tr(
                    *(
                        tags.th(h)
                        for h in (
                            "item",
                            "what",
                            "threshold",
                            "analyte",
                            "basis",
                            "time (h)",
                            "reached",
                            "source",
                            "where",
                            "notes",
                        )
                    )
                ),
                *rows,
            ),
            tags.details(tags.summary("Not applicable here"), tags.ul(*skipped)) if skipped else "",
            tags.ul({"class": "ks-note"}, *notes) if notes else "",
        ]
    lib = load_effects()
    parts += [
        tags.h5("Published effect models"),
        tags.table(
            {"class": "ks-table", "id": "effect_models"},
            tags.tr(tags.th("model"), tags.th("endpoint"), tags.th("drug form"), tags.th("source")),
            *(
                tags.tr(
                    tags.td(m.id),
                    tags.td(m.endpoint),
                    tags.td(m.drug_form),
                    tags.td(f"{m.source.format()}; {m.where}"),
                )
                for m in lib.models.values()
            ),
        ),
    ]
    return tags.div({"id": "risk"}, *parts)


def _evidence(m: ModelSpec) -> str:
    ev = getattr(m, "evidence", None)
    if ev is None:
        return "not recorded"
    tier = getattr(ev, "tier", ev)
    note = getattr(ev, "note", "")
    return f"{tier} ({note})" if note else str(tier)


def get_model_note(m: ModelSpec) -> Tag:
    """One line under a model picker: drug, routes, population, evidence tier, citation."""
    pop = m.population
    ages = pop.get("age_years")
    return tags.div(
        {"class": "ks-note"},
        f"{m.drug}; routes {', '.join(m.routes)}; "
        + (f"age {ages[0]}-{ages[1]} yr; " if ages else "")
        + f"{pop.get('health', '')}; sampling {m.sampling}; evidence: {_evidence(m)}. "
        + (m.citation.format() if m.citation else ""),
    )


def get_model_panel(ranked: Sequence[tuple[ModelSpec, bool]]) -> Tag:
    """The library with its guidance: population, ranges, sampling, evidence, routes, source."""
    rows = []
    for m, ok in ranked:
        pop = m.population
        rows.append(
            tags.tr(
                {"class": "suitable" if ok else "outside"},
                tags.td(tags.strong(m.id), tags.br(), m.name),
                tags.td("suits the filter" if ok else "outside the filter"),
                tags.td(_evidence(m)),
                tags.td(m.drug),
                tags.td(", ".join(m.routes)),
                tags.td(", ".join(m.get_analytes())),
                tags.td(
                    str(pop.get("description", "")),
                    tags.br(),
                    f"age {pop.get('age_years', '?')} yr, weight {pop.get('weight_kg', '?')} kg",
                ),
                tags.td(m.sampling),
                tags.td(
                    m.citation.format() if m.citation else "",
                    tags.br(),
                    m.citation.where if m.citation else "",
                ),
            )
        )
    return tags.table(
        {"class": "ks-table", "id": "models"},
        tags.caption({"class": "ks-caption"}, DISCLAIMER),
        tags.tr(
            *(
                tags.th(h)
                for h in (
                    "model",
                    "filter",
                    "evidence",
                    "drug",
                    "routes",
                    "analytes",
                    "population (guidance)",
                    "sampling",
                    "source",
                )
            )
        ),
        *rows,
    )
