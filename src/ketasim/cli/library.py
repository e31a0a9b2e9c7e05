"""``ketasim models``, ``model show``, ``validate`` and ``interactions``: the library (thin)."""

from __future__ import annotations

import argparse
from typing import Any, TextIO

import numpy as np

from ketasim.cli.common import resolve_model
from ketasim.io.atomic import write_text_atomic
from ketasim.library import load_model
from ketasim.library.provenance import get_evidence_tier
from ketasim.spec import BUILTIN_MODELS, describe_domain

__all__ = ["register"]


def cmd_interactions(args: argparse.Namespace, out: TextIO) -> int:
    from ketasim.interactions import list_modifiers

    for m in list_modifiers():
        ratios = ", ".join(
            f"{e.get('analyte')} {e.get('metric')} x{e['ratio']:g}"
            for e in m.effects
            if e.get("ratio") is not None
        )
        print(f"{m.id:<44} {m.victim:<24} {m.victim_route:<10} {ratios or 'qualitative'}", file=out)
        print(f"{'':<44} source: {m.source}", file=out)
    return 0


def cmd_models(args: argparse.Namespace, out: TextIO) -> int:
    from ketasim.library.selection import find_models

    choices = find_models(drug=args.drug, route=args.route, population=args.population)
    filt = ", ".join(
        f"{k} {v}"
        for k, v in (("drug", args.drug), ("route", args.route), ("population", args.population))
        if v
    )
    if not choices:
        print(
            f"no library model fits {filt}; see docs/missing-models.md for what is missing",
            file=out,
        )
        return 0
    print(
        f"{'model':<18} {'drug':<17} {'evidence':<12} {'sampling':<9} {'population':<10} "
        f"{'validity':<27} {'routes':<24} {'analytes':<34} source",
        file=out,
    )
    for ch in choices:
        print(
            f"{ch.id:<18} {ch.drug:<17} {ch.evidence:<12} {ch.sampling:<9} {ch.population:<10} "
            f"{ch.format_ranges():<27} {','.join(ch.routes):<24} {','.join(ch.analytes):<34} "
            f"{ch.citation}",
            file=out,
        )
        if args.verbose:
            m = load_model(ch.id)
            print(f"{'':<18} population: {m.population.get('description', '')}", file=out)
            print(
                f"{'':<18} covariates: "
                + (
                    ", ".join(f"{c.name} ({c.unit or c.domain})" for c in m.covariates.values())
                    or "none"
                ),
                file=out,
            )
    if filt:
        print(f"fitting {filt}: {len(choices)} model(s)", file=out)
    else:
        print(f"built-in generic models: {', '.join(BUILTIN_MODELS)}", file=out)
    return 0


def cmd_model_show(args: argparse.Namespace, out: TextIO) -> int:
    m = resolve_model(args.name)
    print(f"{m.id}: {m.name}", file=out)
    if m.citation:
        c = m.citation
        print(
            f"source: {c.authors} ({c.year}). {c.title}. {c.journal} {c.volume}:{c.pages}. "
            f"doi:{c.doi}. {c.where}",
            file=out,
        )
    print(f"drug: {m.drug}; sampling: {m.sampling}; amount basis: {m.amount_basis}", file=out)
    print(f"evidence: {get_evidence_tier(m)}", file=out)
    ev = m.evidence
    if ev is not None and ev.note:
        print(f"  {ev.note}", file=out)
    if ev is not None:
        for impl in ev.implementations:
            print(
                f"  transcribed from {impl.project} {impl.version} ({impl.repository}, "
                f"{impl.file}{', ' + impl.entry if impl.entry else ''}"
                f"{', commit ' + impl.commit if impl.commit else ''}); cites {impl.cites}",
                file=out,
            )
        if ev.tier == "derived":
            print(
                f"  derived: data {ev.data}; script {ev.script}; diagnostics {ev.diagnostics}",
                file=out,
            )
            print(f"  identifies: {ev.identifies}", file=out)
    for k, v in m.population.items():
        print(f"population.{k}: {v}", file=out)
    print("compartments (NONMEM numbering):", file=out)
    for i, cm in enumerate(m.compartments, 1):
        print(
            f"  {i:>2} {cm.name:<14} {cm.kind:<10} {cm.analyte or '':<16} {cm.volume or ''}",
            file=out,
        )
    print(
        "routes: "
        + ", ".join(f"{r.name} -> {'+'.join(i.cmt for i in r.inputs)}" for r in m.routes.values()),
        file=out,
    )
    if m.covariates:
        print("covariates:", file=out)
        for cv in m.covariates.values():
            extra = describe_domain(cv.domain, cv.min, cv.max)
            if cv.valid:
                extra += f"; built in {cv.valid[0]:g}-{cv.valid[1]:g}"
            if cv.per_dose:
                extra += (
                    f"; from the {cv.per_dose.route} dose at {cv.per_dose.amount_mg:g} mg per "
                    f"{cv.per_dose.what}"
                )
            print(
                f"  {cv.name:<10} {cv.unit:<6} reference {cv.reference:g} [{extra}] {cv.note}",
                file=out,
            )
    if m.thetas:
        print("parameters (as published -> canonical):", file=out)
        for p in m.thetas.values():
            print(
                f"  {p.name:<10} {p.published_value:>10g} {p.published_unit:<8} "
                f"-> {p.value:>10.5g} "
                f"{p.unit:<7} {p.source}",
                file=out,
            )
    if m.individual:
        print("individual parameters:", file=out)
        for k, e in m.individual.items():
            print(f"  {k:<10} [{m.individual_units.get(k, '')}] = {e.text}", file=out)
    if m.iiv:
        print(
            f"IIV omega (log scale) for {', '.join(m.iiv.names)}: diagonal "
            + ", ".join(f"{x:.4g}" for x in np.diag(m.iiv.matrix))
            + f"  [{m.iiv.source}]",
            file=out,
        )
    if m.free_parameters:
        print("parameters (user-supplied): " + ", ".join(m.free_parameters), file=out)
    if m.notes:
        print("notes:\n" + m.notes.strip(), file=out)
    return 0


def cmd_validate(args: argparse.Namespace, out: TextIO) -> int:
    from ketasim.validation import count_failed, format_markdown, run_validation

    if args.external:  # held-out observations (docs/external-validation.md)
        from ketasim.validation_external import run_external_cli

        return run_external_cli(args.models or None, args.markdown, out)

    results = run_validation(args.models or None)
    print(
        f"{'model':<18} {'quantity':<58} {'published':>12} {'ketasim':>12} "
        f"{'diff':>8} {'tol':>6}  status",
        file=out,
    )
    for r in results:
        print(
            f"{r.model:<18} {r.label[:58]:<58} {r.published:>12.5g} {r.computed:>12.5g} "
            f"{100 * r.rel_diff:>+7.2f}% {100 * r.tolerance:>5.3g}%  {r.status}",
            file=out,
        )
    failed = count_failed(results)
    if args.markdown:
        write_text_atomic(args.markdown, format_markdown(results))
    known = sum(r.status == "known discrepancy" for r in results)
    if known:
        print(f"known discrepancies (documented in the model files): {known}", file=out)
    print(
        f"validated: {len({r.model for r in results})} models, {len(results)} "
        f"targets, {failed} failed",
        file=out,
    )
    return 0 if failed == 0 else 1


def register(sub: Any) -> None:
    """Add the library commands to the CLI's subparsers."""
    ia = sub.add_parser("interactions", help="published drug interactions and individual factors")
    ia.set_defaults(func=cmd_interactions)
    m = sub.add_parser(
        "models", help="list the library models (evidence tier, sampling, validity ranges)"
    )
    m.add_argument("-v", "--verbose", action="store_true", help="sources and covariates too")
    m.add_argument("--drug", help="racemic or esketamine")
    m.add_argument("--route", help="iv, im, intranasal, oral, sublingual, ...")
    m.add_argument("--population", choices=("adult", "child"), help="adult or child")
    m.set_defaults(func=cmd_models)
    ms = sub.add_parser("model", help="model details")
    ms_sub = ms.add_subparsers(dest="model_command", required=True)
    show = ms_sub.add_parser("show", help="parameters, units and sources of one model")
    show.add_argument("name")
    show.set_defaults(func=cmd_model_show)
    v = sub.add_parser("validate", help="re-run every model's published targets")
    v.add_argument("models", nargs="*")
    v.add_argument("--markdown", metavar="FILE.md")
    v.add_argument(
        "--external", action="store_true", help="compare with observations no model was built from"
    )
    v.set_defaults(func=cmd_validate)
