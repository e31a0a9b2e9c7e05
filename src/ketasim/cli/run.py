"""``ketasim run SCENARIO.toml``: reproduce what the app shows for a scenario file (thin)."""

from __future__ import annotations

import argparse
from typing import Any, TextIO

from ketasim.notices import DISCLAIMER

__all__ = ["cmd_run", "register"]


def cmd_run(args: argparse.Namespace, out: TextIO) -> int:
    from ketasim.io.atomic import check_output_paths, write_text_atomic
    from ketasim.report.comparison import compute_comparison, compute_population_bands
    from ketasim.report.tables import format_number, get_summary_csv
    from ketasim.scenario import load_scenario

    check_output_paths({"--report": args.report, "--out": args.out}, {"SCENARIO": args.scenario})
    scenario = load_scenario(args.scenario)
    comparison = compute_comparison(scenario)
    n = args.population if args.population is not None else scenario.population_n
    population = compute_population_bands(comparison, n) if n else None
    report = None
    if args.report:
        from ketasim.report.html import get_report_html

        report = get_report_html(comparison, population=population)
    csv_text = get_summary_csv(comparison) if args.out else None
    print(f"# {DISCLAIMER}", file=out)
    for c in comparison.get_citations():
        print(f"# source {c}", file=out)
    u = comparison.unit
    print(
        f"{'regimen':<28} {'analyte':<15} {'Cmax (' + u + ')':>14} {'Tmax (h)':>9} "
        f"{'AUC (' + u + '*h)':>16} {'in zone (h)':>11} {'accum.':>7}",
        file=out,
    )
    for a in comparison.arms:
        for s in a.summaries:
            print(
                f"{s.regimen[:28]:<28} {s.analyte:<15} {format_number(s.cmax):>14} "
                f"{format_number(s.tmax_h):>9} {format_number(s.auc):>16} "
                f"{format_number(s.time_in_zone_h):>11} {format_number(s.accumulation):>7}",
                file=out,
            )
        for note in a.notes:
            print(f"# {a.spec.label}: {note}", file=out)
    for i in comparison.interactions:
        print(f"# interaction {i.modifier_id} ({i.regimen}): {i.note or i.metric}", file=out)
    if population is not None:
        print(f"# population: {population[0].n} subjects per regimen", file=out)
    if report is not None:
        write_text_atomic(args.report, report)
        print(f"wrote report to {args.report}", file=out)
    if csv_text is not None:
        write_text_atomic(args.out, csv_text)
        print(f"wrote table to {args.out}", file=out)
    return 0


def register(sub: Any) -> None:
    """Add ``run`` to the CLI's subparsers."""
    s = sub.add_parser(
        "run",
        help="run a scenario file (the app's comparison) and write its report",
        description=(
            "Run SCENARIO.toml (patient, up to four regimens, grid, seed; format in "
            "docs/app.md) and print the summary the app shows; --report writes the HTML "
            "report, --out the summary table as CSV."
        ),
    )
    s.add_argument("scenario", metavar="SCENARIO.toml")
    s.add_argument("--report", metavar="OUT.html")
    s.add_argument("--out", metavar="TABLE.csv")
    s.add_argument(
        "--population",
        type=int,
        metavar="N",
        help="subjects per regimen for the report's bands (default: the scenario's population.n)",
    )
    s.set_defaults(func=cmd_run)
