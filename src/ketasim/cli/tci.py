"""``ketasim tci``: a target-controlled infusion plan for one simulated patient (thin command).

Parses arguments into :func:`ketasim.tci.plan_tci`, prints a summary and writes the plan table
(CSV), the predicted concentrations (``<out>_predicted.csv``) and a plot. For simulation, not
pump control.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from ketasim.cli.common import (
    UsageError,
    add_patient_args,
    check_output_suffix,
    get_covariates,
    param_values,
    parse_assignments,
    resolve_model,
)
from ketasim.io.atomic import write_csv_atomic
from ketasim.tci import TCI_NOTICE, Pump, TargetSchedule, TciPlan, get_tci_compartment, plan_tci
from ketasim.units import convert_magnitude, to_unit

__all__ = ["cmd_tci", "register"]

#: most pump updates one plan may have (a 10 s update over 11.5 days); more exhausts memory
_MAX_UPDATES = 100_000


def predicted_path(path: str) -> str:
    """``plan.csv`` -> ``plan_predicted.csv``."""
    p = Path(path)
    return str(p.with_name(f"{p.stem}_predicted.csv"))


def cmd_tci(args: argparse.Namespace, out: TextIO) -> int:
    check_output_suffix(args.out, ".csv", "--out")
    check_output_suffix(args.plot, ".png", "--plot")
    spec = resolve_model(args.model)
    _, analyte = get_tci_compartment(spec)
    params = param_values(spec, parse_assignments(args.param, "--param"))
    schedule = TargetSchedule.from_texts(args.target, analyte)
    duration_h = to_unit(args.duration, "h", what="--duration")
    if duration_h <= 0:
        raise UsageError(f"--duration {args.duration!r} must be > 0")
    resolved = get_covariates(spec, args)
    covs = dict(resolved.values)
    pump = Pump.from_quantities(
        update=args.update,
        max_rate=args.max_rate,
        syringe=args.syringe,
        weight_kg=covs.get("WT", resolved.weight_kg),
    )
    if duration_h / pump.update_h > _MAX_UPDATES:
        raise UsageError(
            f"--duration {args.duration!r} with --update {args.update!r} gives "
            f"{duration_h / pump.update_h:.3g} updates (limit {_MAX_UPDATES:,}): use a shorter "
            "duration or a longer update interval"
        )
    if args.step and not (args.out or args.plot):
        raise UsageError(
            f"--step {args.step!r} sets the predicted curves of --out and --plot: give one"
        )
    step_h = to_unit(args.step, "h", what="--step") if args.step else None
    if step_h is not None and not step_h > 0:
        raise UsageError(f"--step {args.step!r} must be > 0")
    plan = plan_tci(
        spec,
        schedule,
        duration_h,
        pump,
        mode="effect" if args.effect_site else "plasma",
        covariates=covs,
        params=params or None,
        effect_model=args.effect_model,
        output_step_h=step_h,
    )
    header, rows = plan.to_table()
    if pump.syringe_mg_per_mL is None:  # NOTE: no syringe, no volumes: drop the NaN mL columns
        keep = [i for i, h in enumerate(header) if "_mL_" not in h and not h.endswith("_mL")]
        header = [header[i] for i in keep]
        rows = [[r[i] for i in keep] for r in rows]
    header.append("notice")
    rows_out: list[list[Any]] = [[*r, TCI_NOTICE if i == 0 else ""] for i, r in enumerate(rows)]
    p_header, p_rows = _predicted_table(plan)
    _print_summary(plan, out)
    if args.plot:
        _plot(plan, args.plot)
    if args.out:
        write_csv_atomic(predicted_path(args.out), p_header, p_rows)
        write_csv_atomic(args.out, header, rows_out)
        print(
            f"wrote the plan ({len(rows_out)} updates) to {args.out} and predicted concentrations "
            f"to {predicted_path(args.out)}",
            file=out,
        )
    else:
        print(",".join(header[:-1]), file=out)
        for r in rows:
            print(",".join(f"{x:.6g}" for x in r), file=out)
    if args.plot:
        print(f"wrote plot to {args.plot}", file=out)
    return 0


def _ng(x: Any) -> Any:
    return np.asarray(x) * convert_magnitude(1.0, "mg/L", "ng/mL")


def _predicted_table(plan: TciPlan) -> tuple[list[str], list[list[Any]]]:
    res = plan.predicted
    if res is None:
        return ["TIME_h", "notice"], [[0.0, TCI_NOTICE]]
    cols: dict[str, Any] = {"TIME_h": res.time_h}
    cols["target_ng_per_mL"] = _ng(plan.targets.get_conc_mg_per_L(res.time_h))
    for a in res.analytes:
        cols[f"{a}_ng_per_mL"] = res.get_conc(a, "ng/mL")[0]
    if plan.ce_mg_per_L is not None:
        cols[f"{plan.analyte}_effect_site_ng_per_mL"] = _ng(plan.ce_mg_per_L)
    header = [*cols, "notice"]
    n = res.time_h.size
    rows = [[*(float(v[i]) for v in cols.values()), TCI_NOTICE if i == 0 else ""] for i in range(n)]
    return header, rows


def _print_summary(plan: TciPlan, out: TextIO) -> None:
    spec = plan.spec
    print(f"# {TCI_NOTICE}", file=out)
    print(f"# model {spec.id}: {spec.name}", file=out)
    if spec.citation:
        print(f"# source: {spec.citation.format()}; sampling: {spec.sampling}", file=out)
    where = "effect site" if plan.mode == "effect" else "plasma"
    rate = plan.pump.max_rate_mg_per_h
    limit = f"max rate {rate:g} mg/h" if np.isfinite(rate) else "no rate limit (give --max-rate)"
    print(
        f"# {where} TCI of {plan.analyte}, update every {plan.pump.update_h * 3600:g} s, "
        f"{limit}, over {plan.duration_h:g} h",
        file=out,
    )
    if plan.effect is not None:
        print(f"# t1/2ke0 source: {plan.effect.source}", file=out)
    for note in plan.notes:
        print(f"# note: {note}", file=out)
    print(f"# total amount {plan.total_amt_mg:.4g} mg", file=out)
    res = plan.predicted
    if res is not None:
        for a in res.analytes:
            print(f"# max {a} {float(res.get_conc(a, 'ng/mL')[0].max()):.4g} ng/mL", file=out)
        if plan.ce_mg_per_L is not None:
            print(
                f"# max {plan.analyte} effect site {float(_ng(plan.ce_mg_per_L).max()):.4g} ng/mL",
                file=out,
            )


def _plot(plan: TciPlan, path: str) -> None:
    from ketasim.plotting import new_concentration_figure, save_concentration_figure

    res = plan.predicted
    if res is None:
        raise UsageError("--plot: the pump never runs (every target is 0), nothing to draw")
    fig, axes = new_concentration_figure()
    drawn = []
    tgt = _ng(plan.targets.get_conc_mg_per_L(res.time_h))
    for a in res.analytes:
        c = res.get_conc(a, "ng/mL")[0]
        drawn.append(c)
        for ax in axes:
            ax.plot(res.time_h, c, label=f"{a} (plasma)")
    if plan.ce_mg_per_L is not None:
        ce = _ng(plan.ce_mg_per_L)
        drawn.append(ce)
        for ax in axes:
            ax.plot(res.time_h, ce, label=f"{plan.analyte} (effect site)")
    for ax in axes:
        ax.step(res.time_h, tgt, where="post", color="0.4", ls="--", label="target")
    allc = np.concatenate(drawn)
    pos = allc[allc > 0]
    title = f"{plan.spec.id}: {plan.mode} TCI (simulation, not pump control)"
    save_concentration_figure(
        fig, axes, path, title, "ng/mL", float(allc.max()), float(pos.min()) if pos.size else 0.0
    )
    if not os.path.exists(path):  # pragma: no cover - save_concentration_figure raises instead
        raise UsageError(f"--plot {path!r} could not be written")


def register(sub: Any) -> None:
    """Add ``tci`` to the CLI's subparsers."""
    s = sub.add_parser(
        "tci",
        help="target-controlled infusion plan for a simulated patient (not pump control)",
        description=(
            "Plan the infusion rates that bring the predicted plasma (or, with --effect-site, "
            "effect-site) concentration of the IV route's analyte to the target and hold it "
            "there, updating every --update. " + TCI_NOTICE
        ),
    )
    s.add_argument(
        "model",
        help="library model id (`ketasim models`), built-in pk1..pk3[_depot], or a .toml file",
    )
    s.add_argument(
        "--target",
        action="append",
        required=True,
        help='"150 ng/mL" (from 0 h); more with "200 ng/mL at 30 min"',
    )
    s.add_argument("--effect-site", action="store_true", help="target the effect site")
    s.add_argument(
        "--effect-model",
        metavar="ID",
        help="effect model of effects.toml whose published t1/2ke0 to use (ketasim effects)",
    )
    s.add_argument("--duration", required=True, help='e.g. "2 h"')
    s.add_argument("--update", default="10 s", help='update interval (default "10 s")')
    s.add_argument("--max-rate", help='"1200 mg/h", "1200 mL/h" (with --syringe) or "20 mg/kg/h"')
    s.add_argument("--syringe", help='syringe concentration, e.g. "10 mg/mL"')
    add_patient_args(s)
    s.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="an individual parameter with its unit, e.g. CL='60 L/h' (repeatable)",
    )
    s.add_argument("--step", help='step of the predicted curves, e.g. "1 min"')
    s.add_argument("--out", metavar="PLAN.csv")
    s.add_argument("--plot", metavar="PLAN.png")
    s.set_defaults(func=cmd_tci)
