"""``ketasim compare-models``: one regimen on every suitable library model (thin command)."""

from __future__ import annotations

import argparse
from typing import Any, TextIO

import numpy as np

from ketasim.cli.common import (
    UsageError,
    add_patient_args,
    check_output_suffix,
    parse_assignments,
    refuse_lone_every,
)
from ketasim.comparison import ModelComparison, compare_models
from ketasim.events import Regimen
from ketasim.notices import DISCLAIMER
from ketasim.units import to_unit

__all__ = ["cmd_compare_models", "register"]


def _given_covariates(args: argparse.Namespace) -> dict[str, Any]:
    given: dict[str, Any] = {}
    if args.weight is not None:
        given["WT"] = args.weight
    if args.age is not None:
        given["AGE"] = args.age
    if args.sex is not None:
        sex = {"male": 0.0, "m": 0.0, "female": 1.0, "f": 1.0}.get(args.sex.lower())
        if sex is None:
            raise UsageError(f"--sex {args.sex!r} must be male or female")
        given["SEX"] = sex
    for k, v in parse_assignments(args.covariate, "--covariate").items():
        if k in given:
            raise UsageError(f"--covariate {k}={v} repeats a value already given for {k}")
        given[k] = v
    return given


def cmd_compare_models(args: argparse.Namespace, out: TextIO) -> int:
    check_output_suffix(args.plot, ".png", "--plot")
    refuse_lone_every(args)
    regimen = Regimen.from_quantities(
        args.dose, route=args.route, duration=args.duration, every=args.every, count=args.count
    )
    until = to_unit(args.until, "h", what="--until") if args.until else None
    unit = "nmol/L" if args.molar else "ng/mL"
    cmp = compare_models(
        regimen,
        drug=args.drug,
        population=args.population,
        covariates=_given_covariates(args),
        until_h=until,
        unit=unit,
        sampling=args.sampling,
    )
    if args.plot:
        _plot(cmp, args.plot, f"{args.drug} {args.dose} {args.route}")
    print(f"# {DISCLAIMER}", file=out)
    print(
        f"# {args.dose} {args.route}"
        + (f" over {args.duration}" if args.duration else "")
        + f"; {len({r.model for r in cmp.rows})} suitable model(s) or route variant(s); "
        "typical subject; Cmax, Tmax and AUC exact (from the solution)",
        file=out,
    )
    w = max(18, *(len(r.model) for r in cmp.rows))
    print(
        f"{'model':<{w}} {'analyte':<14} {'Cmax (' + unit + ')':>16} {'Tmax (h)':>9} "
        f"{'AUC (' + unit + '*h)':>18}  {'evidence':<12} {'sampling':<9} population",
        file=out,
    )
    for r in cmp.rows:
        print(
            f"{r.model:<{w}} {r.analyte:<14} {r.cmax:>16.4g} {r.tmax_h:>9.3g} {r.auc:>18.5g}  "
            f"{r.evidence:<12} {r.sampling:<9} {r.population}",
            file=out,
        )
    for analyte in dict.fromkeys(r.analyte for r in cmp.rows):
        spread = cmp.get_spread(analyte)
        if np.isfinite(spread):
            print(
                f"spread {analyte}: Cmax x{spread:.2f}, AUC x{cmp.get_spread(analyte, 'auc'):.2f} "
                "(largest / smallest model)",
                file=out,
            )
    for reason in cmp.reasons:
        print(f"why: {reason}", file=out)
    for mid in dict.fromkeys(r.model for r in cmp.rows):
        row = next(r for r in cmp.rows if r.model == mid)
        print(f"# {row.provenance}", file=out)
        for note in row.notes:
            print(f"#   {note}", file=out)
    if args.plot:
        print(f"wrote plot to {args.plot}", file=out)
    return 0


def _plot(cmp: ModelComparison, path: str, title: str) -> None:
    from ketasim.plotting import new_concentration_figure, save_concentration_figure

    fig, axes = new_concentration_figure()
    values = []
    parent = cmp.rows[0].analyte
    for mid, res in cmp.results.items():
        row = next(r for r in cmp.rows if r.model == mid)
        c = np.asarray(res.get_conc(parent, cmp.unit)[0], dtype=float)
        values.append(c)
        for ax in axes:
            ax.plot(res.time_h, c, label=f"{mid} ({row.evidence}, {row.sampling})")
    allc = np.concatenate(values)
    pos = allc[allc > 0]
    save_concentration_figure(
        fig,
        axes,
        path,
        f"{title}: {parent}",
        cmp.unit,
        float(allc.max(initial=0.0)),
        float(pos.min()) if pos.size else 0.0,
    )


def register(sub: Any) -> None:
    """Add ``compare-models`` to the CLI's subparsers."""
    s = sub.add_parser(
        "compare-models",
        help="run one regimen on every suitable library model and show the spread",
    )
    s.add_argument("--drug", required=True, help="racemic or esketamine")
    s.add_argument("--dose", required=True, help='e.g. "0.5 mg/kg" or "35 mg"')
    s.add_argument("--route", default="iv", help="route; selects the models (default iv)")
    s.add_argument("--duration", help='infusion duration, e.g. "40 min"')
    s.add_argument("--every", help='interval between doses, e.g. "3.5 d"')
    s.add_argument("--count", type=int, default=1, help="number of doses (default 1)")
    s.add_argument("--population", choices=("adult", "child"), help="only models built in it")
    add_patient_args(s)
    s.add_argument(
        "--sampling",
        choices=("arterial", "venous"),
        help="the site your measurements come from: models of another site warn",
    )
    s.add_argument("--until", help='end of the simulated window, e.g. "24 h"')
    s.add_argument("--molar", action="store_true", help="concentrations in nmol/L")
    s.add_argument("--plot", metavar="FILE.png", help="plot of the parent drug, every model")
    s.set_defaults(func=cmd_compare_models)
