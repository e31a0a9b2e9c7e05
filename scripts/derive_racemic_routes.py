"""Fit the derived racemic adult route and norketamine submodels to published aggregate data.

Reads ``src/ketasim/library/derived/data/racemic_adult_observations.csv`` (rows marked ``fit``),
simulates them with ketasim's public ``simulate`` on the reference disposition model
(``domino_1984``) composed with ``racemic_adult_norketamine`` and ``racemic_adult_routes``, and
estimates each block of parameters by weighted least squares on log(predicted/observed)
(``scipy.optimize.least_squares``, log-parameter space, bounds).

Weights: the standard error of a log mean, ``ln(GSD)/sqrt(n)`` for geometric means,
``sqrt(ln(1 + CV^2))/sqrt(n)`` for arithmetic means with an SD, and a CV of 30 % (over
``sqrt(n)``) where no spread is printed. Approximate uncertainty: the Gauss-Newton covariance
``(J'J)^-1`` of the log parameters at the optimum (J: weighted residual Jacobian), printed as a
CV %; with as many data as parameters it measures how well the data pin the parameter, not a
statistical confidence.

Blocks are fitted in order (norketamine disposition first, then each route's ketamine part, then
its first-pass norketamine part), each with the earlier blocks fixed.

Usage (from the repository root)::

    PYTHONPATH=src python scripts/derive_racemic_routes.py            # fit, print, write the doc
    PYTHONPATH=src python scripts/derive_racemic_routes.py --write-toml  # also update the TOMLs

Research and education only; these are population-typical estimates from published means.
"""

from __future__ import annotations

import argparse
import math
import os
import re
import tempfile
import warnings
from pathlib import Path

import numpy as np
from scipy.optimize import least_squares

from ketasim import DISCLAIMER, KetasimError
from ketasim.errors import KetasimWarning
from ketasim.library.compose import load_composed_model
from ketasim.spec import ModelSpec
from ketasim.validation_external import Observation, compute_prediction, load_observations

ROOT = Path(__file__).resolve().parents[1]
SUBMODELS = ROOT / "src" / "ketasim" / "library" / "submodels"
DOC = ROOT / "docs" / "derived-racemic-routes.md"

# (block name, parameters, bounds in natural units)
BLOCKS: list[tuple[str, list[str], list[tuple[float, float]]]] = [
    ("norketamine disposition (IV, Chong 2006)", ["TVVNK", "TVCLNK"], [(0.05, 50), (0.01, 5)]),
    (
        "intranasal Pharmacotherapy 2022: ketamine",
        ["R_IN", "KM_IN", "D_IN"],
        [(0.01, 1000), (0.01, 1000), (0.02, 5)],
    ),
    (
        "intranasal Pharmacotherapy 2022: first-pass norketamine",
        ["FPS_IN", "KA_FP_IN"],
        [(0.001, 1), (0.05, 50)],
    ),
    ("intranasal Yanagihara 2003: ketamine", ["F_IN_Y03"], [(0.01, 1)]),
    ("intranasal Yanagihara 2003: first-pass norketamine", ["FP_IN_Y03"], [(0.001, 1)]),
    ("oral: ketamine (Chong 2006)", ["F_PO", "D_PO"], [(0.01, 1), (0.02, 5)]),
    ("oral: first-pass norketamine (Chong 2006)", ["FP_PO", "KA_FP_PO"], [(0.001, 1), (0.05, 50)]),
    ("sublingual: ketamine (Rolan 2014)", ["F_SL", "D_SL"], [(0.01, 1), (0.02, 5)]),
    (
        "sublingual: first-pass norketamine (Chong 2006)",
        ["FP_SL", "KA_FP_SL"],
        [(0.001, 1), (0.05, 50)],
    ),
    ("intramuscular (Hirlinger 1984, 1 mg/kg)", ["F_IM", "D_IM"], [(0.05, 1), (0.02, 5)]),
    (
        "rectal: ketamine (Yanagihara 2003 F; Malinovsky 1996 tmax)",
        ["F_PR", "D_PR"],
        [(0.01, 1), (0.02, 5)],
    ),
    ("rectal: first-pass norketamine (Yanagihara 2003)", ["FP_PR"], [(0.001, 1)]),
]


def sd_log(obs: Observation, spread_kind: str, spread: str, n: str) -> float:
    """Standard error of the log mean (dimensionless), see the module docstring."""
    k = max(1, int(n)) if n else 1
    if spread_kind == "gsd":
        return math.log(float(spread)) / math.sqrt(k)
    if spread_kind == "sd":
        cv = float(spread) / obs.value
        return math.sqrt(math.log(1 + cv * cv)) / math.sqrt(k)
    return math.sqrt(math.log(1 + 0.3**2)) / math.sqrt(k)


def load_spreads() -> dict[str, tuple[str, str, str]]:
    import csv

    path = ROOT / "src" / "ketasim" / "library" / "derived" / "data"
    with open(path / "racemic_adult_observations.csv", newline="", encoding="utf-8") as fh:
        return {r["obs_id"]: (r["spread_kind"], r["spread"], r["n"]) for r in csv.DictReader(fh)}


def build_model(disposition: str) -> ModelSpec:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", KetasimWarning)
        return load_composed_model(
            disposition, ["racemic_adult_norketamine", "racemic_adult_routes"]
        )


def predict(spec: ModelSpec, obs: Observation) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", KetasimWarning)
        return float(compute_prediction(spec, obs)[0])


def fit_block(
    spec: ModelSpec,
    names: list[str],
    bounds: list[tuple[float, float]],
    rows: list[Observation],
    weights: dict[str, float],
) -> tuple[ModelSpec, np.ndarray, np.ndarray]:
    """Weighted least squares in log-parameter space; returns spec, estimates, CV (fraction)."""
    x0 = np.log([spec.thetas[n].value for n in names])
    lo = np.log([b[0] for b in bounds])
    hi = np.log([b[1] for b in bounds])
    x0 = np.clip(x0, lo + 1e-9, hi - 1e-9)

    def resid(x: np.ndarray) -> np.ndarray:
        s = spec.with_parameters(**dict(zip(names, np.exp(x), strict=True)))
        return np.array(
            [math.log(predict(s, o) / o.get_value_canonical()) / weights[o.obs_id] for o in rows]
        )

    # NOTE: tmax lives on the output grid (6 s early, 3 min late): a coarse difference step
    res = least_squares(resid, x0, bounds=(lo, hi), diff_step=0.05, x_scale=1.0)
    est = np.exp(res.x)
    J = res.jac
    try:
        cov = np.linalg.inv(J.T @ J)
        cv = np.sqrt(np.clip(np.diag(cov), 0, None))
    except np.linalg.LinAlgError:
        cv = np.full(len(names), np.inf)
    at_bound = np.isclose(res.x, lo, atol=1e-6) | np.isclose(res.x, hi, atol=1e-6)
    cv = np.where(at_bound, np.nan, cv)
    return spec.with_parameters(**dict(zip(names, est, strict=True))), est, cv


def write_text_atomic(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.replace(tmp, path)


def update_toml(values: dict[str, float], note: dict[str, str]) -> None:
    for f in SUBMODELS.glob("*.toml"):
        text = f.read_text(encoding="utf-8")
        for name, v in values.items():
            pat = re.compile(
                rf"^({name} = \{{ value = )([^,]+)(, unit = \"[^\"]*\", source = \")"
                rf"([^\"]*)(\" \}})",
                re.M,
            )
            text = pat.sub(
                lambda m, v=v, n=name: f"{m.group(1)}{v:.4g}{m.group(3)}{note[n]}{m.group(5)}", text
            )
        write_text_atomic(f, text)


def fmt(o: Observation, v: float) -> str:
    q = o.quantity
    if q == "F":
        return f"{v:.3f}"
    if q in ("conc", "cmax"):
        return f"{v * 1000:.4g} ng/mL"
    if q == "tmax":
        return f"{v * 60:.3g} min"
    if q == "auc":
        return f"{v * 1000:.4g} ng*h/mL"
    return f"{v:.4g} L/h"


def saturable_fraction(dose_mg: float, r_mg: float, km_mg: float) -> float:
    """Fraction of a nasal dose taken up when uptake saturates and clearance competes.

    Nasal depot ``dA/dt = -Vmax A/(Km + A) - kmc A``; the uptake share of each increment is
    ``Vmax / (Vmax + kmc (Km + A))``, so the absorbed fraction is
    ``F(D) = (r / D) ln(1 + D / (r + Km))`` with ``r = Vmax / kmc`` (mg) and ``Km`` in mg.
    """
    return r_mg / dose_mg * math.log1p(dose_mg / (r_mg + km_mg))


def saturable_nasal_analysis(obs: list[Observation]) -> list[str]:
    """Fit F(D) to the 10 and 50 mg arms of Pharmacotherapy 2022; predict the 30 mg arm."""
    f_obs = {
        o.dose: o.value for o in obs if o.study == "pharmacotherapy_2022" and o.quantity == "F"
    }

    def resid(x: np.ndarray) -> np.ndarray:
        r, km = np.exp(x)
        return np.array(
            [math.log(saturable_fraction(d, r, km) / f_obs[f"{d:g} mg"]) for d in (10.0, 50.0)]
        )

    sol = least_squares(resid, np.log([5.0, 20.0]))
    r, km = np.exp(sol.x)
    f30 = saturable_fraction(30.0, r, km)
    return [
        "## Dose dependence within Pharmacotherapy 2022",
        "",
        "A nasal depot emptied by saturable uptake (Vmax, Km) competing with first-order "
        "clearance kmc (run-off, mucociliary transport to the gut) has the absorbed fraction "
        "F(D) = (R/D) ln(1 + D/(R + KM)), R = Vmax/kmc, independent of the disposition model. "
        f"Fitted to F alone at 10 and 50 mg: R = {r:.3g} mg, KM = {km:.3g} mg; predicted F at the "
        f"held-out 30 mg: {f30:.3f} (observed {f_obs['30 mg']:.2f}). The rising norketamine/"
        "ketamine AUC ratio (3.95 at 30 mg, 4.54 at 50 mg) points the same way (more of a larger "
        "dose reaches the gut). The shipped route uses this F(D) with D = the covariate IN_DOSE "
        "(derived from the intranasal dose), fitted jointly with Cmax and tmax (table above), and "
        "the first-pass share FPS_IN x (1 - F(D)). A fully nonlinear version (the saturable "
        "depot itself in the ODE) was built and dropped: ketasim's ODE path (rtol 1e-10) took "
        "about 75 ms per output time for this model, too slow to fit or to use, and the closed "
        "form gives the same F.",
    ]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--disposition", default="domino_1984", help="reference disposition model")
    ap.add_argument("--write-toml", action="store_true", help="write the estimates into the files")
    args = ap.parse_args()
    obs = load_observations()
    spreads = load_spreads()
    weights = {o.obs_id: sd_log(o, *spreads[o.obs_id]) for o in obs}
    try:
        spec = build_model(args.disposition)
    except KetasimError as exc:
        print(f"error: {exc}")
        return 2
    fit_rows = [o for o in obs if o.use == "fit"]
    estimates: dict[str, float] = {}
    notes: dict[str, str] = {}
    table = []
    for title, names, bounds in BLOCKS:
        rows = [o for o in fit_rows if set(o.fits.split()) & set(names)]
        spec, est, cv = fit_block(spec, names, bounds, rows, weights)
        # NOTE: the files carry 4 significant digits; residuals are computed with those values
        est = np.array([float(f"{e:.4g}") for e in est])
        spec = spec.with_parameters(**dict(zip(names, est, strict=True)))
        used = ", ".join(o.obs_id for o in rows)
        for n, e, c in zip(names, est, cv, strict=True):
            estimates[n] = float(e)
            unc = "at a bound (not identified)" if np.isnan(c) else f"+/- {100 * c:.0f} % (CV)"
            notes[n] = (
                f"derived: fitted by scripts/derive_racemic_routes.py ({title}) to {used}; "
                f"approx. {unc}; see docs/derived-racemic-routes.md"
            )
            table.append((title, n, e, spec.thetas[n].unit, unc, used))
        print(f"{title}: " + ", ".join(f"{n}={e:.4g}" for n, e in zip(names, est, strict=True)))
        if "KA_FP_PO" in names:
            # NOTE: no rectal norketamine time course: the rectal first-pass rate is the oral one
            k = estimates["KA_FP_PO"]
            spec = spec.with_parameters(KA_FP_PR=k)
            estimates["KA_FP_PR"] = k
            notes["KA_FP_PR"] = (
                "ASSUMED equal to the oral first-pass rate KA_FP_PO (no rectal norketamine time "
                "course); set by scripts/derive_racemic_routes.py"
            )
            table.append((title, "KA_FP_PR", k, "1/h", "assumed = KA_FP_PO", "none"))
    lines = [
        "# Derived racemic adult routes and norketamine: data, fit, residuals",
        "",
        "Generated by `PYTHONPATH=src python scripts/derive_racemic_routes.py`; do not edit by "
        "hand.",
        "",
        f"> {DISCLAIMER}",
        "",
        f"Reference disposition: `{args.disposition}` (weights as in the data file). Data: "
        "`src/ketasim/library/derived/data/racemic_adult_observations.csv` (one row per "
        "published number, with its source and caveats). Rows marked `fit` were used here; rows "
        "marked `check` were held out and are compared in `docs/external-validation.md`.",
        "",
        "## Parameters",
        "",
        "| block | parameter | estimate | unit | approximate uncertainty | fitted to |",
        "|---|---|---|---|---|---|",
    ]
    for title, n, e, unit, unc, used in table:
        lines.append(f"| {title} | {n} | {e:.4g} | {unit or '-'} | {unc} | {used} |")
    lines += [
        "",
        "Uncertainty: Gauss-Newton CV of the log parameter with each observation weighted by the "
        "standard error of its (log) mean. With as many observations as parameters the fit is "
        "exact and the CV measures how strongly the data pin the parameter, not a confidence "
        "interval. `FM_NK` = 0.8 is fixed (assumption, see the submodel notes).",
        "",
        "## Residuals (reference composition, fitted and held-out rows)",
        "",
        "| observation | use | study | quantity | observed | predicted | log residual / SE |",
        "|---|---|---|---|---|---|---|",
    ]
    ratios = []
    for o in obs:
        route = "iv" if o.route == "iv+infusion" else o.route
        if route not in spec.routes or o.analyte not in spec.get_analytes():
            continue
        if o.use == "check" and route == "iv" and o.analyte == "ketamine":
            continue  # disposition checks: docs/external-validation.md
        p = predict(spec, o)
        r = math.log(p / o.get_value_canonical())
        ratios.append((o.use, r))
        lines.append(
            f"| {o.obs_id} | {o.use} | {o.study} | {o.get_label()} | "
            f"{fmt(o, o.get_value_canonical())} | {fmt(o, p)} (x{math.exp(r):.2f}) | "
            f"{r / weights[o.obs_id]:+.2f} |"
        )
    for use in ("fit", "check"):
        rs = np.array([r for u, r in ratios if u == use])
        if rs.size:
            lines.append("")
            lines.append(
                f"{use}: {rs.size} rows, geometric mean ratio {math.exp(rs.mean()):.2f}, "
                f"{int(np.sum(np.abs(rs) <= math.log(1.5)))} within 1.5x"
            )
    lines += ["", *saturable_nasal_analysis(obs), "", IDENTIFIABILITY, ""]
    write_text_atomic(DOC, "\n".join(lines))
    if args.write_toml:
        update_toml(estimates, notes)
    print(f"wrote {DOC.relative_to(ROOT)}" + (" and the submodel TOMLs" if args.write_toml else ""))
    return 0


IDENTIFIABILITY = """## What the data identify, and what they do not

- **F (all routes)** is the studies' own AUC ratio against an IV arm (Pharmacotherapy 2022,
  Chong 2006, Rolan 2014, Yanagihara 2003) and does not depend on the disposition model. The
  intramuscular F is fitted from one Cmax (Hirlinger 1984, trauma patients, no IV AUC) and is
  confounded with the disposition model's early volume.
- **Input durations** (zero-order, D_*) come from tmax and Cmax *with the reference
  disposition*. First-order absorption was tried first and could not give both tmax and Cmax
  with the reference disposition's fast distribution (ketamine Cmax after intranasal x0.25-0.37,
  oral x0.54 at the best fit); zero-order input fits all 31 fitted observations within 1.5x. On
  another disposition model the same durations give a different Cmax.
- **Intranasal**: Pharmacotherapy 2022 (F falls with dose, 17 to 11 %) and Yanagihara 2003
  (about 45 %, n = 3) disagree; no source read gives both devices, volumes or concentrations,
  so the cause is not modelled: each study is its own route, and one F is fitted to the
  Pharmacotherapy 10 and 50 mg arms (the 30 mg arm is held out). Yanagihara's time course is
  not reported; it shares the Pharmacotherapy input duration (assumption).
- **First-pass norketamine (FP_*)** is identified by norketamine AUC/Cmax after each route,
  conditional on the norketamine disposition fitted to Chong 2006's IV arm and on FM_NK = 0.8.
- **Norketamine disposition**: CLNK and VNK are fitted to one IV arm (Chong 2006, n = 6,
  meeting abstract read on a vendor page: low confidence). The Pharmacotherapy 2022 IV
  norketamine AUC (22 ug.h/L for 10 mg) is about 6x below Chong's and is not reproduced; it is
  shown in the external validation, not dropped.
- **Rectal input duration**: no adult time course was found; it is fitted to the children's
  tmax of Malinovsky 1996 (population mismatch, stated in the data file); the rectal first-pass
  rate is set to the oral one.
- **Not identified**: lag times, between-subject variability, norketamine distribution (one
  compartment), DHNK and HNK (no time courses), subcutaneous (no data: listed as missing).
"""

if __name__ == "__main__":
    raise SystemExit(main())
