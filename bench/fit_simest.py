"""Simulation-estimation of MAP fitting: bias, precision, shrinkage and interval coverage.

Prints ``name: value`` lines. For each case, ``n`` virtual subjects are drawn from the model
(ETAs from its omega, residual error from its residual model), sampled on a sparse (3 times) or
a rich (9 times) design, fitted with :func:`ketasim.estimation.fit_map`, and the individual
clearance and central volume are compared with the truth:

- bias: mean of ``P_hat / P_true - 1`` (%); precision: root mean square of it (%);
- shrinkage of the ETAs of CL and V (Savic & Karlsson 2009);
- coverage: share of subjects whose true CL (V) lies inside the 90 % interval, with its Monte
  Carlo SE ``sqrt(0.9 x 0.1 / n)``; Laplace, and SIR when ``--sir`` is given.

Cases: simons_2022 (S-ketamine -> S-norketamine -> S-HNK, all three measured; 20 mg IV over
20 min, WT 55-90 kg) and herd_2007 (2-compartment racemic ketamine, 1 mg/kg IV bolus, WT 15-60
kg). herd_2007 states no residual error; a proportional 20 % is ASSUMED here for the simulation
and the fit alike (it is a property of the virtual assay, not a published number).
LLOQ 0.1 ng/mL (BLQ by M3).

Usage: ``python bench/fit_simest.py [--n 500] [--seed 1] [--sir 400] [--cases herd,simons]``
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import numpy as np

from ketasim.estimation import ResidualModel, fit_map
from ketasim.estimation.design import sample_observations
from ketasim.events import Regimen
from ketasim.library import load_model
from ketasim.units import to_unit

MIN = 1 / 60

CASES: dict[str, dict[str, Any]] = {
    "herd": {
        "model": "herd_2007",
        "regimen": Regimen.from_quantities("1 mg/kg"),
        "wt": (15.0, 60.0),
        "residual": {"ketamine": ResidualModel("proportional", proportional=0.2)},
        "cl": "CL",
        "v": "V1",
        "sparse": [10 * MIN, 1.0, 4.0],
        "rich": [2 * MIN, 5 * MIN, 10 * MIN, 20 * MIN, 40 * MIN, 1.0, 2.0, 4.0, 6.0],
    },
    "simons": {
        "model": "simons_2022",
        "regimen": Regimen.from_quantities("20 mg", duration="20 min"),
        "wt": (55.0, 90.0),
        "residual": None,
        "cl": "CLK1",
        "v": "VK1",
        "sparse": [30 * MIN, 2.0, 6.0],
        "rich": [10 * MIN, 20 * MIN, 30 * MIN, 45 * MIN, 1.0, 2.0, 4.0, 6.0, 8.0],
    },
}


def run_case(name: str, design: str, n: int, seed: int, sir: int) -> dict[str, float]:
    case = CASES[name]
    spec = load_model(case["model"])
    rng = np.random.default_rng(seed)
    wt = rng.uniform(*case["wt"], size=n)
    ds, eta_true = sample_observations(
        spec,
        case["regimen"],
        case[design],
        n,
        rng,
        covariates={"WT": wt},
        residual=case["residual"],
        lloq_mg_per_L=to_unit("0.1 ng/mL", "mg/L"),
    )
    t0 = time.perf_counter()
    fit = fit_map(spec, ds, residual=case["residual"])
    elapsed = time.perf_counter() - t0
    from ketasim.individual import compute_individual_parameters

    truth = compute_individual_parameters(spec, covariates={"WT": wt}, etas=eta_true)
    out: dict[str, float] = {"n": n, "fit_s": elapsed, "converged": float(fit.converged.mean())}
    for key in ("cl", "v"):
        p = case[key]
        ratio = fit.params[p] / truth[p] - 1.0
        out[f"{p}_bias_pct"] = 100 * float(np.mean(ratio))
        out[f"{p}_rmse_pct"] = 100 * float(np.sqrt(np.mean(ratio**2)))
        lo, hi = fit.param_interval[p][:, 0], fit.param_interval[p][:, 1]
        out[f"{p}_coverage90_laplace"] = float(np.mean((truth[p] >= lo) & (truth[p] <= hi)))
        eta_name = next(e for e in fit.eta_names if e.endswith(p))
        out[f"{eta_name}_shrinkage_pct"] = 100 * fit.shrinkage_eta[eta_name]
    if sir:
        t0 = time.perf_counter()
        fs = fit_map(
            spec, ds, residual=case["residual"], sir_samples=sir, rng=np.random.default_rng(seed)
        )
        out["sir_s"] = time.perf_counter() - t0
        for key in ("cl", "v"):
            p = case[key]
            lo, hi = fs.param_interval[p][:, 0], fs.param_interval[p][:, 1]
            out[f"{p}_coverage90_sir"] = float(np.mean((truth[p] >= lo) & (truth[p] <= hi)))
    out["coverage_mc_se"] = float(np.sqrt(0.9 * 0.1 / n))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=500)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--sir", type=int, default=0, help="also fit with SIR (draws per subject)")
    ap.add_argument("--cases", default="herd,simons")
    args = ap.parse_args()
    for name in args.cases.split(","):
        for design in ("sparse", "rich"):
            res = run_case(name, design, args.n, args.seed, args.sir)
            n_obs = len(CASES[name][design])
            print(f"case: {CASES[name]['model']} {design} ({n_obs} sampling times)")
            for k, v in res.items():
                print(f"{name}_{design}_{k}: {v:.4g}")


if __name__ == "__main__":
    main()
