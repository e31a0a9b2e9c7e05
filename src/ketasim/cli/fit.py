"""``ketasim fit``: Bayesian MAP fit of measured levels, with intervals and a forecast (thin).

Writes three tables, all only after every step succeeded: ``--out FILE.csv`` (one row per
subject: ETAs with SE and interval, individual parameters with units and intervals, OFV),
``FILE_obs.csv`` (one row per observation: DV, IPRED, PRED, IWRES) and, with ``--forecast``,
``FILE_forecast.csv``.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from ketasim.cli.common import UsageError, parse_assignments, resolve_model
from ketasim.errors import UnitError
from ketasim.estimation.data import to_conc_mg_per_L
from ketasim.estimation.fit import fit_map
from ketasim.estimation.forecast import forecast_regimen
from ketasim.estimation.likelihood import ERROR_KINDS, ResidualModel
from ketasim.events import Regimen
from ketasim.io.atomic import check_output_paths, write_csv_atomic
from ketasim.io.nonmem_csv import read_nonmem_csv
from ketasim.notices import DISCLAIMER
from ketasim.spec import ModelSpec
from ketasim.units import to_unit

__all__ = ["cmd_fit", "parse_forecast", "parse_residual", "register"]

_FORECAST = re.compile(
    r"^\s*(?P<dose>[\d.eE+-]+\s*[a-zA-Z/]+)"
    r"(?:\s+(?P<route>[a-z_]+))?"
    r"(?:\s+over\s+(?P<dur>[\d.eE+-]+\s*[a-z]+))?"
    r"(?:\s+at\s+(?P<at>[\d.eE+-]+\s*[a-z]+))?"
    r"(?:\s+every\s+(?P<every>[\d.eE+-]+\s*[a-z]+)\s+x\s*(?P<count>\d+))?\s*$"
)


def parse_forecast(text: str) -> Regimen:
    """``"50 mg iv over 10 min at 24 h every 12 h x 3"`` -> Regimen (route default iv).

    Examples
    --------
    >>> r = parse_forecast("0.5 mg/kg iv over 40 min at 24 h every 12 h x 2")
    >>> r.doses[0].time_h, r.doses[0].addl, r.doses[0].per_kg
    (24.0, 1, True)
    """
    m = _FORECAST.match(text)
    if m is None or m.group("route") in ("over", "at", "every"):
        raise UsageError(
            f"--forecast {text!r}: write DOSE [ROUTE] [over DURATION] [at TIME] "
            "[every INTERVAL x COUNT], e.g. '50 mg iv over 10 min at 24 h'"
        )
    return Regimen.from_quantities(
        m.group("dose"),
        route=m.group("route") or "iv",
        duration=m.group("dur"),
        every=m.group("every"),
        count=int(m.group("count") or 1),
        start=m.group("at") or "0 h",
    )


def parse_residual(spec: ModelSpec, items: list[str]) -> dict[str, ResidualModel]:
    """``--residual ANALYTE=KIND:SD[,ADDITIVE]`` -> residual models.

    ``proportional:0.2``, ``exponential:0.25`` (log-scale SD), ``additive:1 ng/mL``,
    ``combined:0.15,1 ng/mL``.
    """
    out: dict[str, ResidualModel] = {}
    for analyte, text in parse_assignments(items, "--residual").items():
        if analyte not in spec.get_analytes():
            raise UsageError(
                f"--residual {analyte}: model {spec.id} has analytes "
                + ", ".join(spec.get_analytes())
            )
        kind, _, values = text.partition(":")
        kind = kind.strip()
        if kind not in ERROR_KINDS or not values.strip():
            raise UsageError(
                f"--residual {analyte}={text!r}: write KIND:SD with KIND one of "
                f"{', '.join(ERROR_KINDS)} (e.g. proportional:0.2, additive:1 ng/mL)"
            )
        parts = [p.strip() for p in values.split(",")]
        try:
            if kind in ("proportional", "exponential") and len(parts) == 1:
                sd = float(parts[0])
                out[analyte] = (
                    ResidualModel(kind, proportional=sd)
                    if kind == "proportional"
                    else ResidualModel(kind, log_sd=sd)
                )
            elif kind == "additive" and len(parts) == 1:
                out[analyte] = ResidualModel(kind, additive_mg_per_L=_conc(parts[0], analyte))
            elif kind == "combined" and len(parts) == 2:
                out[analyte] = ResidualModel(
                    kind, proportional=float(parts[0]), additive_mg_per_L=_conc(parts[1], analyte)
                )
            else:
                raise ValueError
        except ValueError:
            raise UsageError(
                f"--residual {analyte}={text!r}: proportional:SD, exponential:SD, "
                "additive:SD UNIT or combined:SD,SD UNIT"
            ) from None
    return out


def _conc(text: str, analyte: str) -> float:
    num, _, unit = text.strip().partition(" ")
    if not unit.strip():
        raise UnitError(f"{text!r} has no unit: write e.g. '{text} ng/mL'")
    return float(to_conc_mg_per_L(float(num), unit.strip(), analyte, what=text))


def _lloq(items: list[str]) -> str | dict[str, str] | None:
    if not items:
        return None
    if len(items) == 1 and "=" not in items[0]:
        return items[0]
    out = parse_assignments(items, "--lloq")
    return out


def _covariates(spec: ModelSpec, items: list[str]) -> dict[str, float]:
    out: dict[str, float] = {}
    for k, v in parse_assignments(items, "--covariate").items():
        if k not in spec.covariates:
            raise UsageError(
                f"--covariate {k}: model {spec.id} has covariates "
                + (", ".join(spec.covariates) or "none")
            )
        unit = spec.covariates[k].unit
        out[k] = to_unit(v, unit, what=f"--covariate {k}") if unit else float(v)
    return out


def _sibling(out: str, suffix: str) -> Path:
    p = Path(out)
    return p.with_name(f"{p.stem}_{suffix}{p.suffix or '.csv'}")


def cmd_fit(args: argparse.Namespace, out: TextIO) -> int:
    spec = resolve_model(args.model)
    if args.sir is not None and args.sir < 1:
        raise UsageError(f"--sir {args.sir}: give a number of draws > 0 (or leave it out)")
    outputs = {"--out": args.out, "--out (observations)": str(_sibling(args.out, "obs"))}
    if args.forecast is not None:
        outputs["--out (forecast)"] = str(_sibling(args.out, "forecast"))
    if Path(args.out).suffix.lower() != ".csv":
        raise UsageError(f"--out {args.out!r}: give a .csv file name")
    check_output_paths(outputs, {"DATA.csv": args.data})
    if args.sir and args.seed is None:
        raise UsageError("--sir needs --seed (draws are reproducible only with a stated seed)")
    if args.seed is not None and not args.sir and args.forecast is None:
        raise UsageError("--seed is used only with --sir or --forecast")
    if args.forecast_until is not None and args.forecast is None:
        raise UsageError("--forecast-until needs --forecast")
    regimen = parse_forecast(args.forecast) if args.forecast is not None else None
    to_conc_mg_per_L(1.0, args.unit, "ketamine", what="--unit")
    data = read_nonmem_csv(args.data, progress=None)
    fit = fit_map(
        spec,
        data,
        dv_unit=args.dv_unit,
        analyte=args.analyte,
        lloq=_lloq(args.lloq),
        covariates=_covariates(spec, args.covariate),
        residual=parse_residual(spec, args.residual),
        prior_scale=args.prior_scale,
        level=args.level,
        sir_samples=args.sir or 0,
        rng=np.random.default_rng(args.seed if args.seed is not None else 0),
    )
    tables = [(Path(args.out), *fit.to_subject_table())]
    tables.append((_sibling(args.out, "obs"), *fit.to_obs_table(args.unit)))
    if regimen is not None:
        end = regimen.get_end_time_h()
        until = (
            to_unit(args.forecast_until, "h", what="--forecast-until")
            if args.forecast_until
            else end + 24.0
        )
        start = min(d.time_h for d in regimen.doses)
        if until <= start:
            raise UsageError(f"--forecast-until {args.forecast_until} must be after {start:g} h")
        fc = forecast_regimen(fit, regimen, np.linspace(start, until, 241))
        tables.append((_sibling(args.out, "forecast"), *fc.to_table(args.unit)))
    for header, rows in ((t[1], t[2]) for t in tables):
        _check_finite(header, rows)
    print(f"# {DISCLAIMER}", file=out)
    print(f"# model {spec.id}: {spec.name}", file=out)
    if spec.citation:
        print(f"# source: {spec.citation.format()}", file=out)
    n = fit.n_subjects
    print(
        f"# {n} subjects, {int(fit.obs.n_obs.sum())} observations "
        f"({int((fit.obs.blq & fit.obs.mask).sum())} below LLOQ, M3); "
        f"converged {int(fit.converged.sum())}/{n}; intervals {100 * fit.level:g} % "
        f"({fit.method}); prior scale {fit.prior_scale:g}",
        file=out,
    )
    for a, r in fit.residual.items():
        print(f"# residual error {a}: {r.describe()}", file=out)
    shr = ", ".join(f"{k} {100 * v:.0f} %" for k, v in fit.shrinkage_eta.items())
    print(f"# eta-shrinkage: {shr}", file=out)
    eps = ", ".join(f"{k} {100 * v:.0f} %" for k, v in fit.shrinkage_eps.items())
    print(f"# epsilon-shrinkage: {eps}", file=out)
    if not fit.converged.all():
        bad = [str(fit.obs.ids[i]) for i in np.flatnonzero(~fit.converged)]
        print(f"# not converged (CONVERGED=0 in the table): ID {', '.join(bad)}", file=out)
    for path, header, rows in tables:
        write_csv_atomic(path, header, rows)
        print(f"wrote {len(rows)} rows to {path}", file=out)
    return 0


def _check_finite(header: list[str], rows: list[list[Any]]) -> None:
    for r in rows:
        for h, v in zip(header, r, strict=True):
            if isinstance(v, float) and not np.isfinite(v):
                raise UsageError(
                    f"column {h} of ID {r[0]} is not finite: the fit failed for this subject; "
                    "check its data"
                )


def register(sub: Any) -> None:
    """Add ``fit`` to the CLI's subparsers."""
    s = sub.add_parser(
        "fit",
        help="Bayesian MAP fit of measured levels (posthoc ETAs) with intervals and a forecast",
        description=(
            "Fit each subject's ETAs to measured levels (DV of EVID 0, MDV 0 records) with the "
            "model's omega as the prior and its residual error model; BLQ observations by the "
            "M3 likelihood when an LLOQ is given. TIME in h, AMT in mg, RATE in mg/h. Writes "
            "OUT (subjects), OUT_obs (observations) and, with --forecast, OUT_forecast. "
            + DISCLAIMER
        ),
    )
    s.add_argument(
        "model",
        help="library model id (`ketasim models`), built-in pk1..pk3[_depot], or a .toml file",
    )
    s.add_argument("data", help="NONMEM-style CSV with doses and DV observations")
    s.add_argument(
        "--out",
        required=True,
        metavar="FILE.csv",
        help="per-subject results (FILE.csv) and per-observation table",
    )
    s.add_argument("--dv-unit", help="unit of DV, e.g. ng/mL (or name the column DV_ng_mL)")
    s.add_argument("--analyte", help="analyte of observations with CMT 0 (default: the parent)")
    s.add_argument(
        "--lloq", action="append", default=[], help="'1 ng/mL' or ANALYTE='1 ng/mL' (repeatable)"
    )
    s.add_argument(
        "--residual",
        action="append",
        default=[],
        metavar="ANALYTE=KIND:SD",
        help="residual error when the model states none or to override it, e.g. "
        "ketamine=proportional:0.2, ketamine=combined:0.1,1 ng/mL, ketamine=exponential:0.25",
    )
    s.add_argument(
        "--covariate",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a covariate of the model in its unit, e.g. NDEV=3 or WT='70 kg' (repeatable)",
    )
    s.add_argument(
        "--prior-scale", type=float, default=1.0, help="omega x this (> 1: tempered prior)"
    )
    s.add_argument("--level", type=float, default=0.9, help="interval level (default 0.9)")
    s.add_argument("--sir", type=int, metavar="N", help="SIR with N resampled draws")
    s.add_argument("--seed", type=int, help="seed of SIR and forecast draws")
    s.add_argument(
        "--forecast", help="next regimen, e.g. '50 mg iv over 10 min at 24 h every 12 h x 3'"
    )
    s.add_argument("--forecast-until", help="end of the forecast (dataset clock), e.g. '48 h'")
    s.add_argument("--unit", default="ng/mL", help="concentration unit of the output tables")
    s.set_defaults(func=cmd_fit)
