"""``ketasim simulate``: a NONMEM dataset or a regimen through one model (thin command)."""

from __future__ import annotations

import argparse
import warnings
from dataclasses import replace
from typing import Any, TextIO

import numpy as np

from ketasim.cli.common import (
    UsageError,
    add_regimen_args,
    format_model_line,
    get_covariates,
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
from ketasim.errors import PlausibilityWarning
from ketasim.events import Regimen
from ketasim.exposure import compute_exposure
from ketasim.interactions import (
    Modifier,
    apply_modifier,
    compute_modified_exposure,
    get_modifier,
)
from ketasim.io.atomic import check_output_paths, write_csv_atomic, write_with
from ketasim.io.nonmem_csv import read_nonmem_csv
from ketasim.notices import DISCLAIMER
from ketasim.results import Result
from ketasim.simulate import simulate
from ketasim.spec import ModelSpec

__all__ = ["cmd_simulate", "register"]


def cmd_simulate(args: argparse.Namespace, out: TextIO) -> int:
    spec = resolve_model(args.model)
    params = param_values(spec, parse_assignments(args.param, "--param"))
    unit = get_display_unit(args)
    if args.out:
        _check_out_suffix(args.out)
    if args.data is not None:
        if args.dose is not None:
            raise UsageError("give either a DATA.csv file or --dose, not both")
        refuse_regimen_options(args, "with a DATA.csv file")
        check_output_paths({"--out": args.out}, {"DATA.csv": args.data})
        data = read_nonmem_csv(args.data, progress=None)
        if not np.isin(data["EVID"], (1, 4)).any():
            warnings.warn(
                f"DATA.csv {args.data!r} has no dose record (EVID 1 or 4, or AMT > 0): every "
                "concentration is 0",
                PlausibilityWarning,
                stacklevel=2,
            )
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
        if args.out:
            _write_result(res, args.out)
            print(f"wrote {len(res.time_h)} rows to {args.out}", file=out)
        else:
            cols = res.to_columns()
            print(f"# {DISCLAIMER}", file=out)
            print(f"# {format_model_line(spec)}", file=out)
            print_rows(list(cols), zip(*cols.values(), strict=True), out)
        return 0
    if args.fill != "nocb" or args.time_unit != "h":
        raise UsageError("--fill and --time-unit apply to a DATA.csv file, not to --dose")
    check_output_paths({"--out": args.out, "--plot": args.plot})
    res = simulate_regimen_args(spec, args, params, unit=unit)
    regimen, covs, weight = _regimen_inputs(spec, args)
    applied: list[str] = []
    shown: list[Modifier] = []
    for mod_id in args.interaction:
        mod = get_modifier(mod_id)
        if mod.victim_route == "iv" and args.route == "iv":
            compute_modified_exposure(res, mod, args.route)  # refuses a drug-form mismatch
            shown.append(mod)
            continue
        m = apply_modifier(regimen, spec, mod, args.route)
        regimen = m.regimen
        applied.append(m.note)
        shown.append(mod)
    baseline = res
    if applied:
        res = simulate(
            spec, regimen, res.time_h, covariates=covs, params=params, unit=unit,
            weight_kg=weight, method=args.method,
        )  # fmt: skip
        res = replace(res, notes=(*res.notes, *applied))
    exposure = None
    if spec.is_linear:
        exposure = compute_exposure(
            spec, regimen, covariates=covs, params=params or None, weight_kg=weight,
            t_end_h=float(res.time_h[-1]), check_validity=False,
        )  # fmt: skip
    print(f"# {DISCLAIMER}", file=out)
    print(f"# {format_model_line(spec)}", file=out)
    for note in applied:
        print(f"# {note}", file=out)
    print_summary(res, unit, out, exposure=exposure)
    for mod in shown:
        print_interaction(baseline, mod, args.route, out, applied=mod.victim_route != "iv")
    if args.out:
        _write_result(res, args.out)
        print(f"wrote {len(res.time_h)} rows to {args.out}", file=out)
    else:
        cols = res.to_columns()
        print_rows(list(cols), zip(*cols.values(), strict=True), out)
    if args.plot:
        plot_result(res, unit, args.plot, title=f"{spec.id}: {args.dose} {args.route}")
        print(f"wrote plot to {args.plot}", file=out)
    return 0


def _regimen_inputs(spec: ModelSpec, args: argparse.Namespace) -> tuple[Regimen, Any, Any]:
    """The regimen, covariates and weight exactly as :func:`simulate_regimen_args` uses them."""
    regimen = Regimen.from_quantities(
        args.dose, route=args.route, duration=args.duration, every=args.every, count=args.count
    )
    resolved = get_covariates(spec, args, regimen)
    weight = resolved.weight_kg if "WT" not in spec.covariates else None
    return regimen, dict(resolved.values), weight


def _check_out_suffix(path: str) -> None:
    """A file is named .csv or .parquet; a device or FIFO (not a regular file) gets CSV."""
    import os
    import stat

    if path.lower().endswith((".csv", ".parquet")):
        return
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            return
    except OSError:
        pass
    raise UsageError(f"--out {path!r}: use a .csv or .parquet file name")


def _write_result(res: Result, path: str) -> None:
    """The wide table as CSV (.csv) or Parquet (.parquet), units in the column names."""
    if path.lower().endswith(".parquet"):
        import pyarrow.parquet as pq

        table = res.to_arrow()
        write_with(path, lambda fh: pq.write_table(table, fh))
        return
    cols = res.to_columns()
    write_csv_atomic(path, list(cols), zip(*cols.values(), strict=True))


def print_interaction(
    res: Result, mod: Modifier, route: str, out: TextIO, applied: bool = False
) -> None:
    """The published ratios next to the baseline exposure (for comparison)."""
    rows = compute_modified_exposure(res, mod, route)
    status = (
        "the table above is adjusted (see the note); published ratios for comparison"
        if applied
        else "NOT applied to the table (an IV finding): published ratios x baseline exposure"
    )
    print(
        f"# with {mod.perpetrator} ({mod.enzyme} {mod.mechanism}; measured with "
        f"{mod.victim_dose}, {mod.victim_route}): {status}; source {mod.source}",
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
    s.add_argument(
        "model",
        help="library model id (`ketasim models`), built-in pk1..pk3[_depot], or a .toml file",
    )
    s.add_argument("data", nargs="?")
    s.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="an individual parameter with its unit, e.g. CL='60 L/h' (repeatable)",
    )
    s.add_argument(
        "--out", metavar="FILE.csv|FILE.parquet", help="write the table (CSV or Parquet)"
    )
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
