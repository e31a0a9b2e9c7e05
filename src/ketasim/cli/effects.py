"""``ketasim effects``: time in published concentration zones and effect models (thin command)."""

from __future__ import annotations

import argparse
from typing import Any, TextIO

from ketasim.cli.common import (
    UsageError,
    add_regimen_args,
    format_model_line,
    param_values,
    parse_assignments,
    resolve_model,
    simulate_regimen_args,
)
from ketasim.notices import DISCLAIMER

__all__ = ["cmd_effects", "register"]


def cmd_effects(args: argparse.Namespace, out: TextIO) -> int:
    from ketasim.risk import compute_risk_summary

    for option in ("plot", "unit"):
        if getattr(args, option, None) is not None:
            raise UsageError(f"--{option} does not apply to effects (a table of times and shares)")
    if getattr(args, "molar", False):
        raise UsageError("--molar does not apply to effects (thresholds keep their published unit)")
    if getattr(args, "interaction", None):
        raise UsageError(
            "--interaction does not apply to effects: simulate with it and read the zones there"
        )
    spec = resolve_model(args.model)
    params = param_values(spec, parse_assignments(args.param, "--param"))
    res = simulate_regimen_args(spec, args, params)
    summary = compute_risk_summary(res)
    print(f"# {summary.disclaimer}", file=out)
    print(f"# {format_model_line(spec)}", file=out)
    print(f"# regimen: {args.dose} {args.route}", file=out)
    print(
        f"{'item':<36} {'analyte':<14} {'threshold':<24} {'time (h)':>9} {'reached':>8}  source",
        file=out,
    )
    notes: list[str] = []
    for r in summary.to_rows():
        t = r.get("time_h_median")
        share = r.get("share_reaching")
        t_txt = f"{t:9.2f}" if isinstance(t, float) else f"{'-':>9}"
        s_txt = f"{100 * share:7.0f}%" if isinstance(share, float) else f"{'-':>8}"
        print(
            f"{str(r.get('item'))[:36]:<36} {str(r.get('analyte'))[:14]:<14} "
            f"{str(r.get('threshold'))[:24]:<24} {t_txt} {s_txt}  {r.get('source')}",
            file=out,
        )
        if r.get("notes"):
            notes.append(f"{r.get('item')}: {r.get('notes')}")
    for item, why in summary.skipped:
        notes.append(f"{item}: not computed ({why})")
    if notes:
        print("notes:", file=out)
        for n_ in notes:
            print(f"  - {n_}", file=out)
    return 0


def register(sub: Any) -> None:
    """Add ``effects`` to the CLI's subparsers."""
    e = sub.add_parser(
        "effects",
        help="effect and side-effect risk summary of a regimen",
        description="Time within published concentration zones and effect models, with sources. "
        + DISCLAIMER,
    )
    e.add_argument(
        "model",
        help="library model id (`ketasim models`), built-in pk1..pk3[_depot], or a .toml file",
    )
    e.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="an individual parameter with its unit, e.g. CL='60 L/h' (repeatable)",
    )
    add_regimen_args(e)
    e.set_defaults(func=cmd_effects)
