"""``ketasim design``: the attainment curve of an exposure goal across a virtual population.

Parses arguments into :func:`ketasim.design.find_regimen`, prints the curve and the values that
reach the goal in the requested share of simulated patients, and writes the curve (CSV) and a
plot. Wording: "the regimen that reaches X in Y % of simulated patients", never a recommended
dose.
"""

from __future__ import annotations

import argparse
from typing import Any, TextIO

import numpy as np

from ketasim.cli.common import (
    UsageError,
    add_patient_args,
    check_output_suffix,
    get_population_covariates,
    param_values,
    parse_assignments,
    refuse_lone_every,
    resolve_model,
)
from ketasim.design import DesignResult, DesignSpace, find_regimen, parse_goal, parse_range
from ketasim.io.atomic import write_csv_atomic, write_with
from ketasim.notices import DISCLAIMER
from ketasim.spec import ModelSpec
from ketasim.units import to_unit

__all__ = ["cmd_design", "register"]


def _covariates(spec: ModelSpec, args: argparse.Namespace) -> dict[str, Any]:
    # NOTE: no single regimen here (the candidates vary); per-dose covariates follow each one
    return get_population_covariates(spec, args, None)


def cmd_design(args: argparse.Namespace, out: TextIO) -> int:
    check_output_suffix(args.out, ".csv", "--out")
    check_output_suffix(args.plot, ".png", "--plot")
    spec = resolve_model(args.model)
    goal = parse_goal(args.target)
    lo, hi, unit = parse_range(args.range, args.vary)
    if args.steps < 2:
        raise UsageError(f"--steps {args.steps}: give at least 2 candidate values")
    if args.n <= 0:
        raise UsageError(f"--n {args.n}: the number of subjects must be > 0")
    if args.vary != "interval":
        refuse_lone_every(args)
    space = DesignSpace(
        vary=args.vary,
        unit=unit,
        route=args.route,
        dose=args.dose,
        duration_h=to_unit(args.duration, "h", what="--duration") if args.duration else 0.0,
        every_h=to_unit(args.every, "h", what="--every") if args.every else 0.0,
        count=args.count,
    )
    if args.vary in ("dose", "rate") and args.dose:
        raise UsageError(f"--vary {args.vary} varies the dose: drop --dose")
    spec.get_route(args.route)
    until_h = to_unit(args.until, "h", what="--until") if args.until else None
    params = param_values(spec, parse_assignments(args.param, "--param"))
    result = find_regimen(
        spec,
        goal,
        space,
        np.linspace(lo, hi, args.steps),
        n=args.n,
        seed=args.seed,
        covariates=_covariates(spec, args),
        probability=args.probability,
        params=params or None,
        until_h=until_h,
    )
    _print(spec, result, out)
    header, rows = _curve_table(result)
    if args.plot:
        _plot(result, args.plot, f"{spec.id}: {goal.text}")
    if args.out:
        write_csv_atomic(args.out, header, rows)
        print(f"wrote the attainment curve to {args.out}", file=out)
    if args.plot:
        print(f"wrote plot to {args.plot}", file=out)
    return 0


def _curve_table(r: DesignResult) -> tuple[list[str], list[list[Any]]]:
    u = r.space.unit.replace("/", "_per_")
    header = [f"{r.space.vary}_{u}", "attainment", "se", "probability_asked", "notice"]
    rows: list[list[Any]] = [
        [float(v), float(a), float(s), r.probability, DISCLAIMER if i == 0 else ""]
        for i, (v, a, s) in enumerate(zip(r.values, r.attainment, r.se, strict=True))
    ]
    return header, rows


def _print(spec: ModelSpec, r: DesignResult, out: TextIO) -> None:
    print(f"# {DISCLAIMER}", file=out)
    print(f"# model {spec.id}: {spec.name}", file=out)
    print(f"# goal: {r.goal.text}; {r.n} simulated patients, seed {r.seed}", file=out)
    for note in r.notes:
        print(f"# note: {note}", file=out)
    print(
        f"{r.space.vary} ({r.space.unit}),share of simulated patients reaching the goal,SE",
        file=out,
    )
    for v, a, s in zip(r.values, r.attainment, r.se, strict=True):
        print(f"{v:.4g},{100 * a:.1f} %,{100 * s:.1f}", file=out)
    print(r.describe(), file=out)


def _plot(r: DesignResult, path: str, title: str) -> None:

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.2))
    ax.errorbar(
        r.values,
        100 * r.attainment,
        yerr=196 * r.se,
        marker="o",
        capsize=3,
        label="simulated patients reaching the goal (95 % MC interval)",
    )
    ax.axhline(100 * r.probability, color="0.4", ls="--", label=f"{100 * r.probability:g} %")
    if r.found is not None:
        ax.axvspan(r.found[0], r.found[1], color="C2", alpha=0.15, label="reaches the share")
    ax.set_xlabel(f"{r.space.vary} ({r.space.unit})")
    ax.set_ylabel("simulated patients reaching the goal (%)")
    ax.set_ylim(-2, 102)
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.text(0.5, 0.005, DISCLAIMER, ha="center", fontsize=6, color="0.3")
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    try:
        write_with(path, lambda fh: fig.savefig(fh, dpi=110, format="png"))
    finally:
        plt.close(fig)


def register(sub: Any) -> None:
    """Add ``design`` to the CLI's subparsers."""
    s = sub.add_parser(
        "design",
        help="attainment of an exposure goal over doses, rates, durations or intervals",
        description=(
            "Share of a virtual population reaching an exposure goal for each candidate value, "
            "and the values that reach it in --probability of simulated patients. " + DISCLAIMER
        ),
    )
    s.add_argument(
        "model",
        help="library model id (`ketasim models`), built-in pk1..pk3[_depot], or a .toml file",
    )
    s.add_argument(
        "--target",
        required=True,
        help='e.g. "ketamine 100-250 ng/mL for >= 30 min, peak < 400 ng/mL"',
    )
    s.add_argument(
        "--vary",
        required=True,
        choices=("dose", "rate", "duration", "interval"),
        help="what to search over",
    )
    s.add_argument("--range", required=True, help='e.g. "0.1-1 mg/kg", "10-60 min"')
    s.add_argument("--steps", type=int, default=10, help="candidate values (default 10)")
    s.add_argument(
        "--route",
        default="iv",
        help="route of the model (iv, im, intranasal, oral, ...; see `ketasim model show MODEL`)",
    )
    s.add_argument("--dose", help="fixed dose when --vary duration or interval")
    s.add_argument("--duration", help="infusion duration (fixed unless varied)")
    s.add_argument("--every", help="interval between doses (fixed unless varied)")
    s.add_argument("--count", type=int, default=1, help="number of doses (with --every)")
    s.add_argument("--until", help="end of the simulated horizon (default: last dose + 24 h)")
    s.add_argument("--n", type=int, default=500, help="simulated patients per candidate")
    s.add_argument(
        "--seed", type=int, default=1, help="random seed (the same patients for every candidate)"
    )
    s.add_argument(
        "--probability", type=float, default=0.9, help="required share of simulated patients (0-1)"
    )
    add_patient_args(s)
    s.add_argument(
        "--covariate-dist",
        action="append",
        default=[],
        metavar="NAME=MEAN,SD[,LO,HI]",
        help="truncated normal for a covariate, in its unit",
    )
    s.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="an individual parameter with its unit, e.g. CL='60 L/h' (repeatable)",
    )
    s.add_argument("--out", metavar="CURVE.csv", help="write the attainment curve (CSV)")
    s.add_argument("--plot", metavar="CURVE.png", help="plot the attainment curve (PNG)")
    s.set_defaults(func=cmd_design)
