"""``ketasim population``: a virtual population on a regimen, in-process or on Dask (thin CLI).

Parses arguments into the public API (:func:`ketasim.population.simulate_population`,
:func:`ketasim.population.streaming.simulate_population_streaming` when the curves would
exceed 256 MB, :func:`ketasim.distributed.simulate_population_dask`), prints a summary and writes
per-subject summaries (CSV or Parquet), percentile curves (CSV) and a percentile-band plot (PNG).
"""

from __future__ import annotations

import argparse
import math
import re
import sys
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from ketasim.cli.common import (
    add_regimen_args,
    format_model_line,
    get_display_unit,
    get_population_covariates,
    param_values,
    parse_assignments,
    refuse_lone_every,
    resolve_model,
)
from ketasim.errors import KetasimError, ParameterError
from ketasim.events import Regimen
from ketasim.grids import get_default_grid
from ketasim.individual import coerce_covariates
from ketasim.io.atomic import check_output_paths, write_csv_atomic, write_with
from ketasim.notices import DISCLAIMER
from ketasim.population import CovariateTable, PopulationResult, Target
from ketasim.spec import ModelSpec
from ketasim.units import format_unit_suffix, get_conc_factor, to_unit

__all__ = ["register"]

_MAX_SUBJECTS = 10_000_000  # beyond this a run takes hours on a laptop: refused unless asked
_EXACT_MAX_BYTES = 256e6  # simulate_population's default limit of curves held for exact percentiles
_TARGET = re.compile(r"^\s*(\w+)\s*([<>])\s*(.+?)(?:\s+for\s+(.+?))?\s*$")


def parse_target(text: str, index: int) -> Target:
    """``"s_ketamine > 100 ng/mL for 30 min"`` or ``"ketamine < 2000 ng/mL"`` -> Target.

    ``>`` without ``for``: the threshold is reached at any time (exact Cmax >= threshold);
    ``> ... for D``: the cumulative time at or above it is at least D; ``<``: never above.
    """
    m = _TARGET.match(text)
    if not m:
        raise ParameterError(
            f"--target {text!r}: write e.g. 'ketamine > 100 ng/mL for 30 min' "
            "or 'ketamine < 2 mg/L'"
        )
    analyte, op, conc, dur = m.groups()
    c = to_unit(conc, "mg/L", what=f"--target {text!r} concentration")
    if not (np.isfinite(c) and c >= 0):
        raise ParameterError(
            f"--target {text!r}: the concentration {conc.strip()} must be a finite number >= 0"
        )
    d = to_unit(dur, "h", what=f"--target {text!r} duration") if dur else 0.0
    if not (np.isfinite(d) and d >= 0):
        raise ParameterError(f"--target {text!r}: the duration {dur} must be finite and >= 0")
    if op == ">":
        return Target(f"T{index}: {text.strip()}", analyte, above_mg_per_L=c, min_duration_h=d)
    if dur:
        raise ParameterError(f"--target {text!r}: a ceiling ('<') takes no duration")
    return Target(f"T{index}: {text.strip()}", analyte, below_mg_per_L=c)


def _population_covariates(spec: ModelSpec, args: argparse.Namespace, regimen: Regimen) -> Any:
    if args.patients:
        table = _read_table(args.patients)
        unknown = set(table) - set(spec.covariates)
        if unknown:
            raise ParameterError(
                f"{args.patients}: column(s) {', '.join(sorted(unknown))} are not covariates of "
                f"{spec.id} ({', '.join(spec.covariates) or 'none'})"
            )
        for flag in ("weight", "age", "sex"):
            if getattr(args, flag, None) is not None:
                raise ParameterError(f"give --{flag} in the --patients table, not both")
        try:  # every value checked against its covariate's domain before any work
            coerce_covariates(spec, table)
        except ParameterError as exc:
            raise ParameterError(f"{args.patients}: {exc}") from None
        if args.covariate or args.covariate_dist:
            raise ParameterError("give covariates in the --patients table or as options, not both")
        rows = len(next(iter(table.values())))
        if rows == args.n:
            # NOTE: as many subjects as patients: each patient once, in table order
            return {k: np.asarray(v, dtype=float) for k, v in table.items()}
        print(
            f"note: --n {args.n} subjects drawn with replacement from the {rows} patients of "
            f"{args.patients} (give --n {rows} to use each patient once)",
            file=sys.stderr,
        )
        return CovariateTable(table)
    return get_population_covariates(spec, args, regimen)


def _read_table(path: str) -> dict[str, np.ndarray]:
    """The ``--patients`` table: a header of covariate names, one row of numbers per patient
    (blank lines skipped, a spreadsheet's byte-order mark and CRLF endings accepted)."""
    import csv

    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            rows = [
                (i, r) for i, r in enumerate(csv.reader(fh), start=1) if any(c.strip() for c in r)
            ]
    except OSError as exc:
        raise ParameterError(f"cannot read {path!r}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise ParameterError(f"{path}: not UTF-8 text") from None
    if len(rows) < 2:
        raise ParameterError(f"{path}: expected a header row and at least one patient")
    header = [h.strip().upper() for h in rows[0][1]]
    if not all(header):
        raise ParameterError(f"{path}, line {rows[0][0]}: empty column name in the header")
    dup = sorted({h for h in header if header.count(h) > 1})
    if dup:
        raise ParameterError(f"{path}, line {rows[0][0]}: duplicate column(s) {', '.join(dup)}")
    cols: dict[str, list[float]] = {h: [] for h in header}
    for i, r in rows[1:]:
        if len(r) != len(header):
            raise ParameterError(f"{path}, line {i}: {len(r)} fields, header has {len(header)}")
        for h, cell in zip(header, r, strict=True):
            try:
                x = float(cell)
            except ValueError:
                x = math.nan
            if not math.isfinite(x):
                raise ParameterError(
                    f"{path}, line {i}: {h} value {cell!r} is not a finite number"
                ) from None
            cols[h].append(x)
    return {k: np.asarray(v) for k, v in cols.items()}


def cmd_population(args: argparse.Namespace, out: TextIO) -> int:
    spec = resolve_model(args.model)
    unit = get_display_unit(args)
    check_output_paths(
        {"--out": args.out, "--out (percentiles)": _percentile_path(args.out) if args.out else None,
         "--plot": args.plot},
        {"--patients": args.patients},
    )  # fmt: skip
    if spec.generic:
        raise ParameterError(f"generic model {spec.id} has no IIV: use a library model")
    if args.n <= 0:
        raise ParameterError(f"--n {args.n}: the number of subjects must be > 0")
    if args.n > _MAX_SUBJECTS and not args.allow_large:
        raise ParameterError(
            f"--n {args.n}: more than {_MAX_SUBJECTS:,} subjects is refused (hours of work); "
            "add --allow-large to run it anyway"
        )
    if args.interaction:
        raise ParameterError(
            "--interaction does not apply to population: simulate one patient with it"
        )
    timeout = 10.0 if args.timeout is None else args.timeout
    if not (timeout > 0 and math.isfinite(timeout)):
        raise ParameterError(f"--timeout {timeout:g}: give a positive number of seconds")
    if args.timeout is not None and not (args.scheduler or args.dask):
        raise ParameterError(
            f"--timeout {timeout:g} applies to a Dask scheduler: give --dask or --scheduler"
        )
    refuse_lone_every(args)
    if not 1 <= args.workers <= 256:
        raise ParameterError(f"--workers {args.workers}: give 1 to 256 threads")
    if args.scheduler is not None:
        if args.dask:
            raise ParameterError("give --dask (a local cluster) or --scheduler ADDRESS, not both")
        if not re.match(r"^(tcp|tls|inproc|ws|wss|ucx)://[^\s/]+(:\d+)?/?$", args.scheduler):
            raise ParameterError(
                f"--scheduler {args.scheduler!r} is not a scheduler address: write e.g. "
                "tcp://127.0.0.1:8786"
            )
    params = param_values(spec, parse_assignments(args.param, "--param"))
    regimen = Regimen.from_quantities(
        args.dose, route=args.route, duration=args.duration, every=args.every, count=args.count
    )
    until = to_unit(args.until, "h", what="--until") if args.until else None
    step = to_unit(args.step, "h", what="--step") if args.step else None
    if until is not None and not 0 < until <= 1e6:
        raise ParameterError(f"--until {args.until}: give an end between 0 and 1e6 h")
    if step is not None and (not step > 0 or (until is not None and step > until)):
        raise ParameterError(f"--step {args.step}: give a step > 0 and not longer than --until")
    targets = [parse_target(t, i + 1) for i, t in enumerate(args.target)]
    covs = _population_covariates(spec, args, regimen)
    # NOTE: library policy: the grid holds every dose, infusion-end and lag time (no aliasing)
    times = get_default_grid(regimen, until_h=until, step_h=step, spec=spec)
    if times.size > 100_000:
        raise ParameterError(
            f"--until/--step give {times.size} time points: at most 100000; use a coarser --step"
        )
    common: dict[str, Any] = dict(
        seed=args.seed,
        covariates=covs,
        params=params or None,
        residual=args.residual,
        targets=targets,
        progress=not args.no_progress and sys.stderr.isatty(),
        summary_method=args.summaries,
    )
    if args.scheduler or args.dask:
        from ketasim.distributed import simulate_population_dask

        res = simulate_population_dask(
            spec, regimen, times, args.n, scheduler=args.scheduler, timeout_s=timeout, **common
        )
    elif 8.0 * args.n * times.size * len(spec.get_analytes()) > _EXACT_MAX_BYTES:
        # NOTE: curves beyond the exact-percentile limit: the streaming run (same numbers as
        # simulate_population's histogram method, bounded memory, --workers threads)
        from ketasim.population.streaming import simulate_population_streaming

        res = simulate_population_streaming(
            spec, regimen, times, args.n, workers=args.workers, **common
        )
    else:
        from ketasim.population import simulate_population

        res = simulate_population(spec, regimen, times, args.n, workers=args.workers, **common)
    _print_population(spec, res, args, out, unit)
    if args.out:
        _write_population(res, args.out, unit)
        print(
            f"wrote per-subject summaries to {args.out} and percentile curves to "
            f"{_percentile_path(args.out)}",
            file=out,
        )
    if args.plot:
        _plot_bands(res, args.plot, f"{spec.id}: {args.dose} {args.route}, n={res.n}", unit, spec)
        print(f"wrote plot to {args.plot}", file=out)
    return 0


def _print_population(
    spec: ModelSpec, res: PopulationResult, args: argparse.Namespace, out: TextIO, unit: str
) -> None:
    print(f"# {DISCLAIMER}", file=out)
    print(f"# {format_model_line(spec)}", file=out)
    print(
        f"# {res.n} subjects; seed {res.seed} (repeat with --seed {res.seed}); "
        f"percentiles by {res.percentile_method}",
        file=out,
    )
    print(f"{'analyte':<16} {'metric':<14} {'median':>10} {'5%':>10} {'95%':>10}  unit", file=out)
    for analyte, metrics in res.summaries.items():
        f = get_conc_factor(analyte, unit)
        for key, label, factor, u in (
            ("cmax_mg_per_L", "Cmax", f, unit),
            ("tmax_h", "Tmax", 1.0, "h"),
            ("auc_mg_h_per_L", "AUC", f, f"{unit}*h"),
        ):
            v = np.asarray(metrics[key]) * factor
            q = np.nanpercentile(v, [50, 5, 95]) if np.any(np.isfinite(v)) else [np.nan] * 3
            print(
                f"{analyte:<16} {label:<14} {q[0]:>10.4g} {q[1]:>10.4g} {q[2]:>10.4g}  {u}",
                file=out,
            )
    for name, att in res.attainment.items():
        print(f"target {name}: attained by {100 * att.probability:.1f}% of subjects", file=out)
    for k, why in res.reasons.items():
        print(f"note: {k}: {why}", file=out)


def _percentile_path(path: str) -> str:
    p = Path(path)
    return str(p.with_name(f"{p.stem}_percentiles.csv"))


def _write_population(res: PopulationResult, path: str, unit: str) -> None:
    sfx = format_unit_suffix(unit)
    cols: dict[str, np.ndarray] = {"subject": np.arange(1, res.n + 1, dtype=float)}
    for name, v in res.covariates.items():
        cols[name] = np.asarray(v, dtype=float)
    for analyte, metrics in res.summaries.items():
        f = get_conc_factor(analyte, unit)
        cols[f"{analyte}_cmax_{sfx}"] = np.asarray(metrics["cmax_mg_per_L"], dtype=float) * f
        cols[f"{analyte}_tmax_h"] = np.asarray(metrics["tmax_h"], dtype=float)
        cols[f"{analyte}_auc_{sfx}_h"] = np.asarray(metrics["auc_mg_h_per_L"], dtype=float) * f
    for name, att in res.attainment.items():
        cols[f"attained_{name.split(':')[0]}"] = np.asarray(att.attained, dtype=float)
    if path.endswith(".parquet"):
        try:
            import pyarrow as pa
            import pyarrow.parquet as pq
        except ImportError:  # pragma: no cover - pyarrow is a declared dependency
            raise KetasimError("writing .parquet needs pyarrow") from None
        table = pa.table(cols).replace_schema_metadata({b"ketasim.conc_unit": unit.encode()})
        write_with(path, lambda fh: pq.write_table(table, fh))
    elif path.endswith(".csv"):
        write_csv_atomic(path, list(cols), zip(*cols.values(), strict=True))
    else:
        raise ParameterError(f"--out {path!r}: use a .csv or .parquet file name")
    header = ["TIME_h"]
    series = [res.time_h]
    for analyte, curves in res.percentile_curves.items():
        f = get_conc_factor(analyte, unit)
        for q, curve in zip(res.percentiles, curves, strict=True):
            header.append(f"{analyte}_p{q:g}_{sfx}")
            series.append(np.asarray(curve) * f)
    write_csv_atomic(_percentile_path(path), header, zip(*series, strict=True))


def _plot_bands(res: PopulationResult, path: str, title: str, unit: str, spec: ModelSpec) -> None:
    from ketasim.plotting import new_concentration_figure, save_concentration_figure

    fig, axes = new_concentration_figure()
    lo, hi = min(res.percentiles), max(res.percentiles)
    mid = 50.0 if 50.0 in res.percentiles else res.percentiles[len(res.percentiles) // 2]
    drawn: list[np.ndarray] = []
    for analyte in res.percentile_curves:
        f = get_conc_factor(analyte, unit)
        a = res.get_percentile(analyte, lo) * f
        b = res.get_percentile(analyte, hi) * f
        m = res.get_percentile(analyte, mid) * f
        drawn += [a, m, b]
        for ax in axes:
            (line,) = ax.plot(res.time_h, m, label=f"{analyte} (median)")
            ax.fill_between(
                res.time_h,
                a,
                b,
                alpha=0.25,
                color=line.get_color(),
                label=f"{analyte} {lo:g}-{hi:g}%",
            )
    allc = np.concatenate(drawn)
    pos = allc[allc > 0]
    save_concentration_figure(
        fig,
        axes,
        path,
        title,
        unit,
        float(allc.max(initial=0.0)),
        float(pos.min()) if pos.size else 0.0,
        provenance=format_model_line(spec),
    )


def register(sub: Any) -> None:
    """Register ``ketasim population`` on the CLI's subparsers."""
    p = sub.add_parser(
        "population",
        help="virtual population on a regimen: per-subject exposure, percentile curves, targets",
        description="Sample between-subject variability (and covariates) and summarise. "
        + DISCLAIMER,
    )
    p.add_argument(
        "model",
        help="library model id (`ketasim models`), built-in pk1..pk3[_depot], or a .toml file",
    )
    p.add_argument("--n", type=int, required=True, help="number of subjects")
    p.add_argument("--seed", type=int, help="random seed (printed when not given)")
    p.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="an individual parameter with its unit, e.g. CL='60 L/h' (repeatable)",
    )
    add_regimen_args(p)
    p.add_argument(
        "--covariate-dist",
        action="append",
        default=[],
        metavar="NAME=MEAN,SD[,LO,HI]",
        help="truncated normal for a covariate, in its unit",
    )
    p.add_argument("--patients", metavar="FILE.csv", help="table of patients (one row each)")
    p.add_argument("--residual", action="store_true", help="add the model's residual error")
    p.add_argument(
        "--target",
        action="append",
        default=[],
        help="ANALYTE > CONC [for DURATION] or ANALYTE < CONC, with an analyte of the model "
        '(see `ketasim model show MODEL`), e.g. "s_ketamine > 100 ng/mL for 30 min"',
    )
    p.add_argument("--out", metavar="FILE.csv|FILE.parquet")
    p.add_argument(
        "--workers",
        type=int,
        default=1,
        help="threads over chunks of subjects, in-process (same numbers whatever the count)",
    )
    p.add_argument("--dask", action="store_true", help="run on a local Dask cluster")
    p.add_argument("--scheduler", metavar="ADDRESS", help="Dask scheduler, e.g. tcp://host:8786")
    p.add_argument(
        "--timeout", type=float, help="Dask scheduler connection timeout, s (default 10)"
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar on a terminal")
    p.add_argument(
        "--summaries",
        choices=("exact", "grid", "observed"),
        default="exact",
        help="Cmax/Tmax/AUC and targets from the exact solution (default), from the output grid, "
        "or from noisy observed-style values (with --residual)",
    )
    p.add_argument(
        "--allow-large",
        action="store_true",
        help=f"allow more than {_MAX_SUBJECTS:,} subjects",
    )
    p.set_defaults(func=cmd_population)
