"""``ketasim simulate``: a NONMEM dataset or a regimen through one model (thin command)."""

from __future__ import annotations

import argparse
from typing import Any, TextIO

import numpy as np

from ketasim.cli.common import (
    UsageError,
    add_regimen_args,
    param_values,
    parse_assignments,
    plot_result,
    print_rows,
    print_summary,
    resolve_model,
    simulate_regimen_args,
)
from ketasim.io.atomic import write_csv_atomic
from ketasim.io.nonmem_csv import read_nonmem_csv
from ketasim.notices import DISCLAIMER
from ketasim.simulate import RegimenResult, simulate_dataset

__all__ = ["cmd_simulate", "register"]


def cmd_simulate(args: argparse.Namespace, out: TextIO) -> int:
    spec = resolve_model(args.model)
    params = param_values(spec, parse_assignments(args.param, "--param"))
    if args.data is not None:
        if args.dose is not None:
            raise UsageError("give either a DATA.csv file or --dose, not both")
        data = read_nonmem_csv(args.data)
        dres = simulate_dataset(spec, data, params=params, method=args.method)
        header, rows = dres.to_table()
        if args.out:
            write_csv_atomic(args.out, header, rows)
            print(f"wrote {len(rows)} rows to {args.out}", file=out)
        else:
            print_rows(header, rows, out)
        return 0
    res = simulate_regimen_args(spec, args, params)
    times = res.time_h
    unit = "nmol/L" if args.molar else "ng/mL"
    cols = {a: res.get_conc(a, unit)[0] for a in res.analytes}
    suffix = "_nmol_per_L" if args.molar else "_ng_per_mL"
    header = ["TIME_h", *[a + suffix for a in cols]]
    rows = np.column_stack([times, *cols.values()]).tolist()
    print(f"# {DISCLAIMER}", file=out)
    print(f"# model {spec.id}: {spec.name}", file=out)
    if spec.citation:
        print(f"# source: {spec.citation.format()}; sampling: {spec.sampling}", file=out)
    print_summary(res, unit, out)
    for mod_id in args.interaction:
        print_interaction(res, mod_id, args.route, out)
    if args.out:
        write_csv_atomic(args.out, header, rows)
        print(f"wrote {len(rows)} rows to {args.out}", file=out)
    else:
        print_rows(header, rows, out)
    if args.plot:
        plot_result(res, unit, args.plot, title=f"{spec.id}: {args.dose} {args.route}")
        print(f"wrote plot to {args.plot}", file=out)
    return 0


def print_interaction(res: RegimenResult, mod_id: str, route: str, out: TextIO) -> None:
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
    s.add_argument("--method", choices=("auto", "exact", "ode"), default="auto")
    s.set_defaults(func=cmd_simulate)
