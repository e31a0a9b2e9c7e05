"""``ketasim info NAME``: a drug monograph with numbered sources (thin command)."""

from __future__ import annotations

import argparse
from typing import Any, TextIO

from ketasim.monograph import (
    SECTIONS,
    MonographError,
    compute_pk_summary,
    list_monographs,
    load_monograph,
    render_monograph,
)
from ketasim.monograph.render import FORMATS

__all__ = ["cmd_info", "register"]


def cmd_info(args: argparse.Namespace, out: TextIO) -> int:
    if args.format not in FORMATS:
        raise MonographError(f"--format {args.format!r} is not one of {', '.join(FORMATS)}")
    sections = [s.strip() for item in args.section for s in item.split(",") if s.strip()]
    for s in sections:
        if s not in SECTIONS:
            raise MonographError(f"--section {s!r} is not one of {', '.join(SECTIONS)}")
    if args.no_pk and "pk_summary" in sections:
        raise MonographError("--no-pk contradicts --section pk_summary; give one of them")
    mono = load_monograph(args.name)
    want_pk = not args.no_pk and (not sections or "pk_summary" in sections)
    pk = compute_pk_summary(mono.id) if want_pk else None
    out.write(render_monograph(mono, format=args.format, sections=sections or None, pk_summary=pk))
    return 0


def register(sub: Any) -> None:
    """Add ``info`` to the CLI's subparsers."""
    s = sub.add_parser(
        "info",
        help="drug monograph (uses, approval status, side effects, interactions...) with sources",
        description=(
            "Print the monograph of NAME (" + ", ".join(list_monographs()) + ", or an alias such "
            "as Spravato) with every statement's source and the place in it, and a PK summary "
            "computed live from the library. Sections: " + ", ".join(SECTIONS) + "."
        ),
    )
    s.add_argument("name", metavar="NAME")
    s.add_argument(
        "--section",
        action="append",
        default=[],
        metavar="SECTION",
        help="show only these sections (repeat, or comma-separated)",
    )
    s.add_argument("--format", default="text", help="text (default) or markdown")
    s.add_argument("--no-pk", action="store_true", help="skip the live PK summary (no simulation)")
    s.set_defaults(func=cmd_info)
