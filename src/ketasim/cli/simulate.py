"""``ketasim simulate``: a NONMEM dataset or a regimen through one model (thin command)."""

from __future__ import annotations

import argparse
from typing import Any, TextIO

from ketasim.cli.common import (
    UsageError,
    add_regimen_args,
    format_model_line,
    get_display_unit,
    param_values,
    parse_assignments,
    plot_result,
    print_rows,
    print_summary,
    refuse_regimen_options,
    resolve_model,
    simulate_regimen_args,
)
from ketasim.io.atomic import check_output_paths, write_csv_atomic
from ketasim.io.nonmem_csv import read_nonmem_csv
from ketasim.notices import DISCLAIMER
from ketasim.results import Result
from ketasim.simulate import simulate

__all__ = ["cmd_simulate", "register"]


def cmd_simulate(args: argparse.Namespace, out: TextIO) -> int:
    spec = resolve_model(args.model)
    params = param_values(spec, parse_assignments(args.param, "--param"))
    unit = get_display_unit(args)
    if args.data is not None:
        if args.dose is not None:
            raise UsageError("give either a DATA.csv file or --dose, not both")
        refuse_regimen_options(args, "with a DATA.csv file")
        check_output_paths({"--out": args.out}, {"DATA.csv": args.data})
        data = read_nonmem_csv(args.data)
        res = simulate(
            spec,
            data,
            None,
            params=params,
            method=args.method,
            unit=unit,
            fill=args.fill,
            time_unit=args.time_unit,
        )
        cols = res.to_columns()
        header, rows = list(cols), zip(*cols.values(), strict=True)
        if args.out:
            write_csv_atomic(args.out, header, rows)
            print(f"wrote {len(res.time_h)} rows to {args.out}", file=out)
        else:
            print(f"# {DISCLAIMER}", file=out)
            print(f"# {format_model_line(spec)}", file=out)
            print_rows(header, rows, out)
        return 0
    if args.fill != "nocb" or args.time_unit != "h":
        raise UsageError("--fill and --time-unit apply to a DATA.csv file, not to --dose")
    check_output_paths({"--out": args.out, "--plot": args.plot})
    res = simulate_regimen_args(spec, args, params, unit=unit)
    cols = res.to_columns()
    header, rows = list(cols), zip(*cols.values(), strict=True)
    print(f"# {DISCLAIMER}", file=out)
    print(f"# {format_model_line(spec)}", file=out)
    print_summary(res, unit, out)
    for mod_id in args.interaction:
        print_interaction(res, mod_id, args.route, out)
    if args.out:
        write_csv_atomic(args.out, header, rows)
        print(f"wrote {len(res.time_h)} rows to {args.out}", file=out)
    else:
        print_rows(header, rows, out)
    if args.plot:
        plot_result(res, unit, args.plot, title=f"{spec.id}: {args.dose} {args.route}")
        print(f"wrote plot to {args.plot}", file=out)
    return 0


def print_interaction(res: Result, mod_id: str, route: str, out: TextIO) -> None:
    from ketasim.interactions import compute_modified_exposure, get_modifier

    mod = get_modifier(mod_id)
    rows = compute_modified_exposure(res, mod, route)
    print(
        f"# with {mod.perpetrator} ({mod.enzyme} {mod.mechanism}; measured with "
        f"{mod.victim_dose}, {mod.victim_route}): published ratios applied to exposure; "
        f"source {mod.source}",
        file=out,
    )
    for r in rows:
        print(
            f"#   {r.analyte:<14} {r.metric:<10} x{r.ratio:<5g} {r.baseline:>10.4g} -> "
            f"{r.adjusted:>10.4g} {r.unit}   ({r.printed})",
            file=out,
        )
    if not rows:
        print("#   (this finding reports no AUC or Cmax ratio for a simulated analyte)", file=out)


def register(sub: Any) -> None:
    """Add ``simulate`` to the CLI's subparsers."""
    s = sub.add_parser(
        "simulate",
        help="simulate a NONMEM dataset or a regimen",
        description=(
            "Simulate MODEL (built-in pk1..pk3[_depot], a library model id, or a .toml file). "
            "With DATA.csv: NONMEM records (library models: TIME h, AMT mg, RATE mg/h; generic "
            "models: your own consistent units); output one row per record with ID, TIME, EVID, "
            "A1..An (amounts) and CP (central amount / central volume). Dataset columns named "
            "like a parameter or covariate are time-varying, each value applying from its record "
            "on (last observation carried forward). Without DATA.csv: a regimen (--dose ...)."
        ),
    )
    s.add_argument("model")
    s.add_argument("data", nargs="?")
    s.add_argument("--param", action="append", default=[], metavar="NAME=VALUE")
    s.add_argument("--out", metavar="FILE.csv")
    add_regimen_args(s)
    s.add_argument(
        "--method",
        choices=("auto", "exact", "ode"),
        default="auto",
        help="exact linear solution or the ODE path (auto: exact when linear)",
    )
    s.add_argument(
        "--fill",
        choices=("nocb", "locf"),
        default="nocb",
        help="DATA.csv: how time-varying covariates apply between records "
        "(NONMEM's next observation carried backward, or LOCF)",
    )
    s.add_argument("--time-unit", default="h", help="DATA.csv: unit of TIME and II (default h)")
    s.set_defaults(func=cmd_simulate)
