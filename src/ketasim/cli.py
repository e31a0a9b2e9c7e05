"""Command-line interface: parse arguments, call the public API, print or write results.

Thin by design: no pharmacokinetics here. Errors in the user's input exit with code 2 and one
line naming the culprit; nothing is written when an error occurs (files are written atomically).

Commands::

    ketasim simulate MODEL DATA.csv [--param NAME=VALUE ...] [--out FILE.csv]
    ketasim simulate MODEL --dose "0.5 mg/kg" --route iv --duration "40 min" --weight "70 kg"
                     [--every "3.5 d" --count 6] [--until "24 h"] [--out FILE.csv] [--molar]
    ketasim models
    ketasim model show MODEL
    ketasim validate [--markdown docs/validation.md]
    ketasim demo [--out-dir out]
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from ketasim import DISCLAIMER
from ketasim.errors import KetasimError, KetasimWarning, ModelError, UnitError
from ketasim.events import Regimen, read_nonmem_csv, write_csv_atomic
from ketasim.library import list_models, load_model, load_model_file
from ketasim.nca import compute_auc, compute_cmax
from ketasim.simulate import RegimenResult, simulate_dataset, simulate_regimen
from ketasim.spec import BUILTIN_MODELS, ModelSpec, get_builtin_model
from ketasim.units import to_unit

__all__ = ["main"]

_COVARIATE_FLAGS = {"weight": ("WT", "kg"), "age": ("AGE", "yr")}


class _UsageError(KetasimError):
    """Bad command-line usage (exit code 2)."""


def _resolve_model(name: str) -> ModelSpec:
    if name in BUILTIN_MODELS:
        return get_builtin_model(name)
    if name.endswith(".toml") or os.sep in name:
        return load_model_file(name)
    try:
        return load_model(name)
    except ModelError:
        raise ModelError(
            f"unknown model {name!r}; built-ins: {', '.join(BUILTIN_MODELS)}; library: "
            f"{', '.join(list_models())}; or give a path to a .toml model file"
        ) from None


def _parse_assignments(items: Sequence[str], what: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items:
        if "=" not in item:
            raise _UsageError(f"{what} {item!r} must look like NAME=VALUE")
        k, v = item.split("=", 1)
        k = k.strip()
        if not k:
            raise _UsageError(f"{what} {item!r} has an empty name")
        out[k] = v.strip()
    return out


def _param_values(spec: ModelSpec, raw: dict[str, str]) -> dict[str, float]:
    out: dict[str, float] = {}
    for k, v in raw.items():
        try:
            out[k] = float(v)
            if not np.isfinite(out[k]):
                raise _UsageError(f"--param {k}={v}: not a finite number")
            if not spec.generic and k not in ("",):
                unit = spec.individual_units.get(k) or (
                    spec.thetas[k].unit if k in spec.thetas else None
                )
                if unit:
                    raise UnitError(f"--param {k}={v} has no unit: write e.g. {k}='{v} {unit}'")
        except ValueError:
            if spec.generic:
                raise _UsageError(
                    f"--param {k}={v!r}: generic model {spec.id} takes bare numbers in your own "
                    "consistent units"
                ) from None
            unit = spec.individual_units.get(k) or (spec.thetas[k].unit if k in spec.thetas else "")
            if not unit and k not in spec.individual_units and k not in spec.thetas:
                raise ModelError(f"model {spec.id} has no parameter {k!r}") from None
            out[k] = to_unit(v, unit, what=f"--param {k}")
    return out


# --- simulate -------------------------------------------------------------------------------------
def _cmd_simulate(args: argparse.Namespace, out: TextIO) -> int:
    spec = _resolve_model(args.model)
    params = _param_values(spec, _parse_assignments(args.param, "--param"))
    if args.data is not None:
        if args.dose is not None:
            raise _UsageError("give either a DATA.csv file or --dose, not both")
        data = read_nonmem_csv(args.data)
        dres = simulate_dataset(spec, data, params=params, method=args.method)
        header, rows = dres.to_table()
        if args.out:
            write_csv_atomic(args.out, header, rows)
            print(f"wrote {len(rows)} rows to {args.out}", file=out)
        else:
            _print_rows(header, rows, out)
        return 0
    res = _simulate_regimen_args(spec, args, params)
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
    _print_summary(res, unit, out)
    for mod_id in args.interaction:
        _print_interaction(res, mod_id, args.route, out)
    if args.out:
        write_csv_atomic(args.out, header, rows)
        print(f"wrote {len(rows)} rows to {args.out}", file=out)
    else:
        _print_rows(header, rows, out)
    if args.plot:
        _plot(res, unit, args.plot, title=f"{spec.id}: {args.dose} {args.route}")
        print(f"wrote plot to {args.plot}", file=out)
    return 0


def _simulate_regimen_args(
    spec: ModelSpec, args: argparse.Namespace, params: dict[str, float]
) -> RegimenResult:
    if args.dose is None:
        raise _UsageError("give a NONMEM DATA.csv file or a regimen with --dose")
    if spec.generic:
        raise _UsageError(f"generic model {spec.id} needs a NONMEM DATA.csv file, not --dose")
    regimen = Regimen.from_quantities(
        args.dose, route=args.route, duration=args.duration, every=args.every, count=args.count
    )
    covs = _covariates(spec, args)
    until = (
        to_unit(args.until, "h", what="--until") if args.until else regimen.get_end_time_h() + 24.0
    )
    if until <= 0:
        raise _UsageError(f"--until {args.until} must be after the first dose")
    step = to_unit(args.step, "h", what="--step") if args.step else max(1 / 60, until / 2000)
    if step <= 0:
        raise _UsageError("--step must be > 0")
    if until / step > 200_000:
        raise _UsageError(
            f"--until/--step give {until / step:.0f} time points; use a coarser --step"
        )
    times = np.arange(0.0, until + step / 2, step)
    return simulate_regimen(spec, regimen, times, covariates=covs, params=params)


def _cmd_effects(args: argparse.Namespace, out: TextIO) -> int:
    from ketasim.risk import compute_risk_summary

    spec = _resolve_model(args.model)
    params = _param_values(spec, _parse_assignments(args.param, "--param"))
    res = _simulate_regimen_args(spec, args, params)
    summary = compute_risk_summary(res)
    print(f"# {summary.disclaimer}", file=out)
    print(f"# model {spec.id} ({spec.sampling} sampling); {args.dose} {args.route}", file=out)
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


def _covariates(spec: ModelSpec, args: argparse.Namespace) -> dict[str, float]:
    given: dict[str, float] = {}
    for flag, (name, unit) in _COVARIATE_FLAGS.items():
        val = getattr(args, flag)
        if val is not None:
            given[name] = to_unit(val, unit, what=f"--{flag}")
    if args.sex is not None:
        given["SEX"] = {"male": 0.0, "m": 0.0, "female": 1.0, "f": 1.0}.get(
            args.sex.lower(), np.nan
        )
        if np.isnan(given["SEX"]):
            raise _UsageError(f"--sex {args.sex!r} must be male or female")
    for k, v in _parse_assignments(args.covariate, "--covariate").items():
        if k not in spec.covariates:
            raise ModelError(
                f"model {spec.id} has no covariate {k!r}; covariates: "
                + (", ".join(spec.covariates) or "none")
            )
        cu = spec.covariates[k].unit
        given[k] = to_unit(v, cu, what=f"--covariate {k}") if cu else float(v)
    covs: dict[str, float] = {}
    for name, cov in spec.covariates.items():
        if name in given:
            covs[name] = given[name]
        else:
            covs[name] = cov.reference
            print(
                f"note: {name} not given; using the model's reference {cov.reference:g} "
                f"{cov.unit}".rstrip(),
                file=sys.stderr,
            )
    extra = set(given) - set(spec.covariates)
    if extra - {"SEX", "AGE"}:
        raise ModelError(f"model {spec.id} does not use covariate(s) {', '.join(sorted(extra))}")
    return covs


def _print_summary(res: RegimenResult, unit: str, out: TextIO) -> None:
    t = res.time_h
    print(f"# {'analyte':<16} {'Cmax':>12} {'Tmax (h)':>10} {'AUC (' + unit + '*h)':>22}", file=out)
    for a in res.analytes:
        c = res.get_conc(a, unit)[0]
        cmax, tmax = compute_cmax(t, c)
        auc = compute_auc(t, c)
        print(
            f"# {a:<16} {float(cmax.value):>12.4g} {float(tmax.value):>10.3g} "
            f"{float(auc.value):>22.5g}",
            file=out,
        )


def _print_interaction(res: RegimenResult, mod_id: str, route: str, out: TextIO) -> None:
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


def _cmd_interactions(args: argparse.Namespace, out: TextIO) -> int:
    from ketasim.interactions import list_modifiers

    for m in list_modifiers():
        ratios = ", ".join(
            f"{e.get('analyte')} {e.get('metric')} x{e['ratio']:g}"
            for e in m.effects
            if e.get("ratio") is not None
        )
        print(f"{m.id:<44} {m.victim:<24} {m.victim_route:<10} {ratios or 'qualitative'}", file=out)
        print(f"{'':<44} source: {m.source}", file=out)
    return 0


def _print_rows(header: list[str], rows: list[list[float]], out: TextIO) -> None:
    print(",".join(header), file=out)
    for r in rows:
        print(",".join(f"{x:.6g}" for x in r), file=out)


def _plot(res: RegimenResult, unit: str, path: str, title: str) -> None:
    from ketasim.plotting import new_concentration_figure, save_concentration_figure

    fig, axes = new_concentration_figure()
    for a in res.analytes:
        c = res.get_conc(a, unit)[0]
        for ax in axes:
            ax.plot(res.time_h, c, label=a)
    allc = np.concatenate([res.get_conc(a, unit)[0] for a in res.analytes])
    pos = allc[allc > 0]
    save_concentration_figure(
        fig,
        axes,
        path,
        title,
        unit,
        float(allc.max(initial=0.0)),
        float(pos.min()) if pos.size else 0.0,
    )


# --- library commands ---------------------------------------------------------------------------
def _cmd_models(args: argparse.Namespace, out: TextIO) -> int:
    print(
        f"{'model':<18} {'drug':<17} {'routes':<28} {'analytes':<36} {'sampling':<9} source",
        file=out,
    )
    for mid in list_models():
        m = load_model(mid)
        pop = m.population.get("description", "")
        print(
            f"{mid:<18} {m.drug:<17} {','.join(m.routes):<28} {','.join(m.get_analytes()):<36} "
            f"{m.sampling:<9} {m.citation.format() if m.citation else ''}",
            file=out,
        )
        if args.verbose:
            print(f"{'':<18} population: {pop}", file=out)
    print(f"built-in generic models: {', '.join(BUILTIN_MODELS)}", file=out)
    return 0


def _cmd_model_show(args: argparse.Namespace, out: TextIO) -> int:
    m = _resolve_model(args.name)
    print(f"{m.id}: {m.name}", file=out)
    if m.citation:
        c = m.citation
        print(
            f"source: {c.authors} ({c.year}). {c.title}. {c.journal} {c.volume}:{c.pages}. "
            f"doi:{c.doi}. {c.where}",
            file=out,
        )
    print(f"drug: {m.drug}; sampling: {m.sampling}; amount basis: {m.amount_basis}", file=out)
    for k, v in m.population.items():
        print(f"population.{k}: {v}", file=out)
    print("compartments (NONMEM numbering):", file=out)
    for i, cm in enumerate(m.compartments, 1):
        print(
            f"  {i:>2} {cm.name:<14} {cm.kind:<10} {cm.analyte or '':<16} {cm.volume or ''}",
            file=out,
        )
    print(
        "routes: "
        + ", ".join(f"{r.name} -> {'+'.join(i.cmt for i in r.inputs)}" for r in m.routes.values()),
        file=out,
    )
    if m.covariates:
        print("covariates:", file=out)
        for cv in m.covariates.values():
            print(f"  {cv.name:<10} {cv.unit:<6} reference {cv.reference:g} {cv.note}", file=out)
    if m.thetas:
        print("parameters (as published -> canonical):", file=out)
        for p in m.thetas.values():
            print(
                f"  {p.name:<10} {p.published_value:>10g} {p.published_unit:<8} "
                f"-> {p.value:>10.5g} "
                f"{p.unit:<7} {p.source}",
                file=out,
            )
    if m.individual:
        print("individual parameters:", file=out)
        for k, e in m.individual.items():
            print(f"  {k:<10} [{m.individual_units.get(k, '')}] = {e.text}", file=out)
    if m.iiv:
        print(
            f"IIV omega (log scale) for {', '.join(m.iiv.names)}: diagonal "
            + ", ".join(f"{x:.4g}" for x in np.diag(m.iiv.matrix))
            + f"  [{m.iiv.source}]",
            file=out,
        )
    if m.free_parameters:
        print("parameters (user-supplied): " + ", ".join(m.free_parameters), file=out)
    if m.notes:
        print("notes:\n" + m.notes.strip(), file=out)
    return 0


def _cmd_validate(args: argparse.Namespace, out: TextIO) -> int:
    from ketasim.validation import count_failed, format_markdown, run_validation

    results = run_validation(args.models or None)
    print(
        f"{'model':<18} {'quantity':<58} {'published':>12} {'ketasim':>12} "
        f"{'diff':>8} {'tol':>6}  status",
        file=out,
    )
    for r in results:
        print(
            f"{r.model:<18} {r.label[:58]:<58} {r.published:>12.5g} {r.computed:>12.5g} "
            f"{100 * r.rel_diff:>+7.2f}% {100 * r.tolerance:>5.3g}%  {r.status}",
            file=out,
        )
    failed = count_failed(results)
    if args.markdown:
        tmp = Path(args.markdown).with_suffix(".tmp")
        tmp.write_text(format_markdown(results), encoding="utf-8")
        os.replace(tmp, args.markdown)
    known = sum(r.status == "known discrepancy" for r in results)
    if known:
        print(f"known discrepancies (documented in the model files): {known}", file=out)
    print(
        f"validated: {len({r.model for r in results})} models, {len(results)} "
        f"targets, {failed} failed",
        file=out,
    )
    return 0 if failed == 0 else 1


def _cmd_demo(args: argparse.Namespace, out: TextIO) -> int:
    outdir = Path(args.out_dir)
    outdir.mkdir(parents=True, exist_ok=True)
    model = "simons_2022"
    print(
        f"ketasim demo: {model}, S-ketamine 0.25 mg/kg IV over 40 min (the "
        "S-enantiomer share of 0.5 mg/kg racemic), 70 kg adult",
        file=out,
    )
    ns = _build_parser().parse_args(
        [
            "simulate",
            model,
            "--dose",
            "0.25 mg/kg",
            "--route",
            "iv",
            "--duration",
            "40 min",
            "--weight",
            "70 kg",
            "--until",
            "12 h",
            "--step",
            "5 min",
            "--out",
            str(outdir / "demo.csv"),
            "--plot",
            str(outdir / "demo.png"),
        ]
    )
    buf_rows: list[str] = []

    class _Capture:
        def write(self, s: str) -> int:
            buf_rows.append(s)
            return len(s)

        def flush(self) -> None:
            return None

    code = _cmd_simulate(ns, _Capture())  # type: ignore[arg-type]
    print("".join(buf_rows).rstrip(), file=out)
    import csv

    with open(outdir / "demo.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    show = {0.0, 10 / 60, 20 / 60, 40 / 60, 1.0, 1.5, 2.0, 4.0, 6.0, 12.0}
    print("\n" + "  ".join(f"{h:>22}" for h in rows[0]), file=out)
    for r in rows[1:]:
        if any(abs(float(r[0]) - s) < 1e-6 for s in show):
            print("  ".join(f"{float(x):>22.4g}" for x in r), file=out)
    return code


# --- parser ---------------------------------------------------------------------------------------
def _add_regimen_args(s: argparse.ArgumentParser) -> None:
    s.add_argument("--dose", help='e.g. "0.5 mg/kg" or "35 mg"')
    s.add_argument("--route", default="iv")
    s.add_argument("--duration", help='infusion duration, e.g. "40 min"')
    s.add_argument("--every", help='interval between doses, e.g. "3.5 d"')
    s.add_argument("--count", type=int, default=1)
    s.add_argument("--until", help='end of the output grid, e.g. "24 h"')
    s.add_argument("--step", help='output step, e.g. "5 min"')
    s.add_argument("--weight", help='body weight, e.g. "70 kg"')
    s.add_argument("--age", help='age, e.g. "45 yr"')
    s.add_argument("--sex", help="male or female")
    s.add_argument("--covariate", action="append", default=[], metavar="NAME=VALUE")
    s.add_argument("--molar", action="store_true", help="concentrations in nmol/L")
    s.add_argument("--plot", metavar="FILE.png")
    s.add_argument(
        "--interaction",
        action="append",
        default=[],
        metavar="MODIFIER",
        help="apply a published interaction's exposure ratios (see `ketasim interactions`)",
    )


def _build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="ketasim",
        description="Ketamine and metabolite pharmacokinetics. " + DISCLAIMER,
    )
    sub = p.add_subparsers(dest="command", required=True)
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
    _add_regimen_args(s)
    s.add_argument("--method", choices=("auto", "exact", "ode"), default="auto")
    s.set_defaults(func=_cmd_simulate)
    e = sub.add_parser(
        "effects",
        help="effect and side-effect risk summary of a regimen",
        description="Time within published concentration zones and effect models, with sources. "
        + DISCLAIMER,
    )
    e.add_argument("model")
    e.add_argument("--param", action="append", default=[], metavar="NAME=VALUE")
    _add_regimen_args(e)
    e.set_defaults(func=_cmd_effects)
    from ketasim.cli_population import add_population_parser

    add_population_parser(sub, _add_regimen_args)
    ia = sub.add_parser("interactions", help="published drug interactions and individual factors")
    ia.set_defaults(func=_cmd_interactions)
    m = sub.add_parser("models", help="list the library models")
    m.add_argument("-v", "--verbose", action="store_true")
    m.set_defaults(func=_cmd_models)
    ms = sub.add_parser("model", help="model details")
    ms_sub = ms.add_subparsers(dest="model_command", required=True)
    show = ms_sub.add_parser("show", help="parameters, units and sources of one model")
    show.add_argument("name")
    show.set_defaults(func=_cmd_model_show)
    v = sub.add_parser("validate", help="re-run every model's published targets")
    v.add_argument("models", nargs="*")
    v.add_argument("--markdown", metavar="FILE.md")
    v.set_defaults(func=_cmd_validate)
    d = sub.add_parser("demo", help="simulate an example infusion, print a table, write a PNG")
    d.add_argument("--out-dir", default="out")
    d.set_defaults(func=_cmd_demo)
    return p


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    """Entry point; returns the exit code (0 ok, 1 validation failures, 2 input errors)."""
    out = out or sys.stdout
    parser = _build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0)

    def show(
        message: Any,
        category: type[Warning],
        filename: str,
        lineno: int,
        file: TextIO | None = None,
        line: str | None = None,
    ) -> None:
        label = category.__name__ if issubclass(category, KetasimWarning) else "warning"
        print(f"ketasim: {label}: {message}", file=sys.stderr)

    with warnings.catch_warnings():
        warnings.showwarning = show
        warnings.simplefilter("always", KetasimWarning)
        try:
            return int(args.func(args, out))
        except KetasimError as exc:
            print(f"ketasim: error: {exc}", file=sys.stderr)
            return 2
        except OSError as exc:
            print(
                f"ketasim: error: {exc.strerror or exc}: {getattr(exc, 'filename', '') or ''}",
                file=sys.stderr,
            )
            return 2


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
