"""Shared pieces of the thin commands: model lookup, NAME=VALUE options, covariates, regimens.

No pharmacokinetics here: arguments become public-API objects (models, regimens, covariates).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, TextIO

__all__ = [
    "UsageError",
    "add_patient_args",
    "add_regimen_args",
    "check_output_suffix",
    "format_model_line",
    "get_covariates",
    "get_display_unit",
    "get_population_covariates",
    "param_values",
    "parse_assignments",
    "plot_result",
    "print_rows",
    "print_summary",
    "refuse_lone_every",
    "refuse_regimen_options",
    "resolve_model",
    "simulate_regimen_args",
]

import numpy as np

from ketasim.errors import KetasimError, ModelError, UnitError
from ketasim.events import Regimen
from ketasim.grids import get_default_grid
from ketasim.individual import ResolvedCovariates, resolve_covariates
from ketasim.io.atomic import check_output_paths
from ketasim.library import format_provenance, list_models, load_model, load_model_file
from ketasim.nca import compute_auc, compute_cmax
from ketasim.results import Result
from ketasim.simulate import simulate
from ketasim.spec import BUILTIN_MODELS, ModelSpec, get_builtin_model
from ketasim.units import CONC_UNITS, to_unit

_COVARIATE_FLAGS = {"weight": ("WT", "kg"), "age": ("AGE", "yr")}


class UsageError(KetasimError):
    """Bad command-line usage (exit code 2)."""


def resolve_model(name: str) -> ModelSpec:
    if name in BUILTIN_MODELS:
        return get_builtin_model(name)
    if name.endswith(".toml") or os.sep in name:
        return load_model_file(name)
    known = list_models()
    if "+" not in name and name not in known:
        raise ModelError(
            f"unknown model {name!r}; built-ins: {', '.join(BUILTIN_MODELS)}; library: "
            f"{', '.join(known)}; or give a path to a .toml model file"
        )
    try:
        return load_model(name)
    except ModelError as exc:
        if "+" in name:  # a composed id: name it as written, then the part at fault
            raise ModelError(f"model {name!r}: {exc}") from None
        raise


def parse_assignments(items: Sequence[str], what: str) -> dict[str, str]:
    """``NAME=VALUE`` options as a mapping; a name given twice is an error."""
    out: dict[str, str] = {}
    for item in items:
        if "=" not in item:
            raise UsageError(f"{what} {item!r} must look like NAME=VALUE")
        k, v = item.split("=", 1)
        k = k.strip()
        if not k:
            raise UsageError(f"{what} {item!r} has an empty name")
        if k in out:
            raise UsageError(f"{what} {k} is given twice ({out[k]} and {v.strip()}): give it once")
        out[k] = v.strip()
    return out


def param_values(spec: ModelSpec, raw: dict[str, str]) -> dict[str, float]:
    out: dict[str, float] = {}
    for k, v in raw.items():
        try:
            out[k] = float(v)
            if not np.isfinite(out[k]):
                raise UsageError(f"--param {k}={v}: not a finite number")
            if not spec.generic and k not in ("",):
                unit = spec.individual_units.get(k) or (
                    spec.thetas[k].unit if k in spec.thetas else None
                )
                if unit:
                    raise UnitError(f"--param {k}={v} has no unit: write e.g. {k}='{v} {unit}'")
        except ValueError:
            if spec.generic:
                raise UsageError(
                    f"--param {k}={v!r}: generic model {spec.id} takes bare numbers in your own "
                    "consistent units"
                ) from None
            unit = spec.individual_units.get(k) or (spec.thetas[k].unit if k in spec.thetas else "")
            if not unit and k not in spec.individual_units and k not in spec.thetas:
                raise ModelError(f"model {spec.id} has no parameter {k!r}") from None
            out[k] = to_unit(v, unit, what=f"--param {k}")
    return out


def simulate_regimen_args(
    spec: ModelSpec, args: argparse.Namespace, params: dict[str, float], unit: str = "ng/mL"
) -> Result:
    if args.dose is None:
        raise UsageError("give a NONMEM DATA.csv file or a regimen with --dose")
    if spec.generic:
        raise UsageError(f"generic model {spec.id} needs a NONMEM DATA.csv file, not --dose")
    refuse_lone_every(args)
    regimen = Regimen.from_quantities(
        args.dose, route=args.route, duration=args.duration, every=args.every, count=args.count
    )
    resolved = get_covariates(spec, args, regimen)
    covs = dict(resolved.values)
    weight_given = args.weight is not None or any(
        k.strip().upper() == "WT" for k in parse_assignments(args.covariate or [], "--covariate")
    )
    if regimen.has_per_kg_doses and not weight_given:
        raise UsageError(
            f"--dose {args.dose!r} is per kg: give the body weight with --weight (e.g. '70 kg')"
        )
    until = to_unit(args.until, "h", what="--until") if args.until else None
    step = to_unit(args.step, "h", what="--step") if args.step else None
    if until is not None and not until > 0:
        raise UsageError(f"--until {args.until}: the output window must end after time 0")
    if until is not None and until > 1e6:
        raise UsageError(f"--until {args.until}: more than 1e6 h (114 years) is not a regimen")
    if step is not None and not step > 0:
        raise UsageError(f"--step {args.step} must be > 0")
    if step is not None and until is not None and step > until:
        raise UsageError(f"--step {args.step} is longer than --until {args.until}")
    # NOTE: library policy: an even grid that contains every dose, infusion-end and lag time
    times = get_default_grid(regimen, until_h=until, step_h=step, spec=spec, covariates=covs)
    return simulate(
        spec,
        regimen,
        times,
        covariates=covs,
        params=params,
        unit=unit,
        weight_kg=resolved.weight_kg if "WT" not in spec.covariates else None,
        method=getattr(args, "method", "auto"),
    )


def refuse_lone_every(args: argparse.Namespace) -> None:
    """``--every`` sets the interval between ``--count`` doses: with one dose it would be unused."""
    if getattr(args, "every", None) is not None and getattr(args, "count", 1) == 1:
        raise UsageError(
            f"--every {args.every!r} needs --count 2 or more (a single dose has no interval)"
        )


def get_display_unit(args: argparse.Namespace) -> str:
    """The one concentration unit of a command's outputs (``--unit``; ``--molar`` = nmol/L)."""
    unit = getattr(args, "unit", None)
    molar = getattr(args, "molar", False)
    if unit is not None and molar:
        raise UsageError("give --unit or --molar, not both")
    if molar:
        return "nmol/L"
    if unit is None:
        return "ng/mL"
    plain = unit.replace(" ", "").replace("µ", "u").replace("μ", "u").lower()
    for u in CONC_UNITS:
        if plain == u.lower():
            return u
    raise UsageError(f"--unit {unit!r} must be one of {', '.join(CONC_UNITS)}")


_REGIMEN_OPTIONS = (
    ("dose", None),
    ("duration", None),
    ("every", None),
    ("until", None),
    ("step", None),
    ("weight", None),
    ("age", None),
    ("sex", None),
    ("plot", None),
)


def refuse_regimen_options(args: argparse.Namespace, context: str) -> None:
    """Every option is used or refused: regimen options make no sense ``context``."""
    for name, default in _REGIMEN_OPTIONS:
        if getattr(args, name, default) is not None:
            raise UsageError(f"--{name} does not apply {context}: remove it")
    for name in ("covariate", "interaction"):
        if getattr(args, name, None):
            raise UsageError(f"--{name} does not apply {context}: use dataset columns")
    if getattr(args, "count", 1) != 1:
        raise UsageError(f"--count does not apply {context}: use ADDL/II in the dataset")
    if getattr(args, "route", "iv") != "iv":
        raise UsageError(f"--route does not apply {context}: use a ROUTE or CMT column")


def format_model_line(spec: ModelSpec) -> str:
    """One header line naming the model, its source, evidence tier and sampling site."""
    return format_provenance(spec)


def get_covariates(
    spec: ModelSpec, args: argparse.Namespace, regimen: Regimen | None = None
) -> ResolvedCovariates:
    """Covariates from ``--weight/--age/--sex/--covariate``: each used, checked or refused.

    Notes (a reference value used, a value derived from the dose) go to stderr. A covariate
    given twice (e.g. ``--weight`` and ``--covariate WT=``) is an error.
    """
    given: dict[str, Any] = {}
    flags: dict[str, str] = {}
    for flag, (name, _unit) in _COVARIATE_FLAGS.items():
        val = getattr(args, flag, None)
        if val is not None:
            given[name] = val
            flags[name] = f"--{flag}"
    sex = getattr(args, "sex", None)
    if sex is not None:
        code = {"male": 0.0, "m": 0.0, "female": 1.0, "f": 1.0}.get(sex.strip().lower())
        if code is None:
            raise UsageError(f"--sex {sex!r} must be male or female")
        given["SEX"] = code
        flags["SEX"] = "--sex"
    for k, v in parse_assignments(getattr(args, "covariate", []) or [], "--covariate").items():
        key = k.upper() if k.upper() in spec.covariates else k
        if key in given:
            raise UsageError(f"--covariate {k}={v} repeats {flags[key]}: give each covariate once")
        given[key] = v
        flags[key] = f"--covariate {k}"
    resolved = resolve_covariates(spec, given, regimen=regimen)
    for note in resolved.notes:
        print(f"note: {note}", file=sys.stderr)
    return resolved


def get_population_covariates(
    spec: ModelSpec, args: argparse.Namespace, regimen: Regimen | None = None
) -> dict[str, Any]:
    """Covariates of a virtual population: fixed ones as :func:`get_covariates` resolves them
    (used, range-checked or refused by name), plus ``--covariate-dist NAME=MEAN,SD[,LO,HI]``
    truncated normals in the covariate's unit (the mean is checked like a fixed value)."""
    from ketasim.population import TruncatedNormal

    dists: dict[str, Any] = {}
    means: list[str] = []
    for item in getattr(args, "covariate_dist", []) or []:
        k, _, v = item.partition("=")
        k = k.strip()
        if k not in spec.covariates:
            raise UsageError(
                f"--covariate-dist {item!r}: model {spec.id} has no covariate {k!r}; "
                f"covariates: {', '.join(spec.covariates) or 'none'}"
            )
        if k in dists:
            raise UsageError(f"--covariate-dist {k} is given twice: give it once")
        try:
            parts = [float(x) for x in v.split(",")]
        except ValueError:
            raise UsageError(
                f"--covariate-dist {item!r}: write NAME=mean,sd[,low,high] in "
                f"{spec.covariates[k].unit or 'its unit'}"
            ) from None
        if len(parts) not in (2, 4) or not all(np.isfinite(parts)) or parts[1] < 0:
            raise UsageError(
                f"--covariate-dist {item!r}: give finite mean,sd (sd >= 0) or mean,sd,low,high"
            )
        dists[k] = TruncatedNormal(*parts)
        unit = spec.covariates[k].unit
        means.append(f"{k}={parts[0]:g} {unit}".strip())
    extra = argparse.Namespace(**vars(args))
    extra.covariate = [*(getattr(args, "covariate", []) or []), *means]
    covs: dict[str, Any] = dict(get_covariates(spec, extra, regimen).values)
    covs.update(dists)
    return covs


def print_summary(res: Result, unit: str, out: TextIO, exposure: Any = None) -> None:
    """Cmax, Tmax and AUC of the first subject, one line per analyte.

    With ``exposure`` (a :class:`ketasim.exposure.ExposureSummary` of the same run) the values
    are exact, from the solution, whatever the output step; without it they are read off the
    output grid, and the header says so.
    """
    from ketasim.units import get_conc_factor

    if exposure is not None:
        print(
            f"# exposure from the solution over [0, {exposure.t_end_h:g}] h (peaks refined to "
            f"{exposure.time_tol_h:.1g} h, AUC exact), independent of --step",
            file=out,
        )
    else:
        print("# exposure read off the output grid (approximate)", file=out)
    print(
        f"# {'analyte':<16} {'Cmax (' + unit + ')':>16} {'Tmax (h)':>10} "
        f"{'AUC (' + unit + '*h)':>22}",
        file=out,
    )
    for a in res.analytes:
        if exposure is not None and a in exposure.analytes:
            f = get_conc_factor(a, unit)
            cmax = float(exposure.cmax_mg_per_L[a][0]) * f
            tmax = float(exposure.tmax_h[a][0])
            auc = float(exposure.auc_mg_h_per_L[a][0]) * f
        else:
            t = res.time_h
            c = res.get_conc(a, unit)[0]
            cm, tm = compute_cmax(t, c)
            cmax, tmax = float(cm.value), float(tm.value)
            auc = float(compute_auc(t, c).value)
        print(f"# {a:<16} {cmax:>16.4g} {tmax:>10.4g} {auc:>22.5g}", file=out)


def print_rows(header: Sequence[str], rows: Iterable[Sequence[Any]], out: TextIO) -> None:
    """Print a CSV table (numbers with 6 significant digits, text as given)."""
    print(",".join(header), file=out)
    for r in rows:
        print(",".join(x if isinstance(x, str) else f"{x:.6g}" for x in r), file=out)


def plot_result(res: Result, unit: str, path: str, title: str) -> None:
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
        provenance=format_model_line(res.spec),
    )


def add_patient_args(s: argparse.ArgumentParser) -> None:
    """The patient options every simulating command shares (see :func:`get_covariates`)."""
    s.add_argument("--weight", help='body weight, e.g. "70 kg" (needed for mg/kg doses)')
    s.add_argument("--age", help='age, e.g. "45 yr"')
    s.add_argument("--sex", help="male or female")
    s.add_argument(
        "--covariate",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a covariate of the model in its unit, e.g. NDEV=3 or WT='70 kg' (repeatable)",
    )


def check_output_suffix(path: str | None, suffix: str, flag: str) -> None:
    """An output path given with ``flag`` must end in ``suffix`` and be writable (checked before
    any work, by :func:`ketasim.io.atomic.check_output_paths`)."""
    if path is None:
        return
    if Path(path).suffix.lower() != suffix:
        raise UsageError(f"{flag} {path!r}: give a {suffix} file name")
    check_output_paths({flag: path})


def add_regimen_args(s: argparse.ArgumentParser) -> None:
    s.add_argument("--dose", help='e.g. "0.5 mg/kg" or "35 mg"')
    s.add_argument(
        "--route",
        default="iv",
        help="route of the model (iv, im, intranasal, oral, ...; see `ketasim model show MODEL`)",
    )
    s.add_argument("--duration", help='infusion duration, e.g. "40 min"')
    s.add_argument("--every", help='interval between doses, e.g. "3.5 d"')
    s.add_argument("--count", type=int, default=1, help="number of doses (with --every)")
    s.add_argument("--until", help='end of the output grid, e.g. "24 h"')
    s.add_argument("--step", help='output step, e.g. "5 min"')
    add_patient_args(s)
    s.add_argument("--molar", action="store_true", help="concentrations in nmol/L")
    s.add_argument(
        "--unit",
        help="concentration unit of every output: " + ", ".join(CONC_UNITS) + " (default ng/mL)",
    )
    s.add_argument(
        "--plot", metavar="FILE.png", help="write a PNG (linear and log panels) of the curves"
    )
    s.add_argument(
        "--interaction",
        action="append",
        default=[],
        metavar="MODIFIER",
        help="apply a published interaction's exposure ratios (see `ketasim interactions`)",
    )
