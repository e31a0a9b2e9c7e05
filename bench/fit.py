"""MAP fitting throughput: subjects fitted per second, against a naive per-subject scipy fit.

Prints ``name: value`` lines. Case (issue 10): herd_2007 (2-compartment racemic ketamine),
1 mg/kg IV bolus, 6 samples per subject (10 min to 6 h), WT 15-60 kg, proportional error 20 %
(assumed for the virtual assay; the paper states none). Goal: >= 100 subjects per second for the
whole fit (posterior modes, Laplace covariance, intervals, IPRED/PRED/IWRES).

Baseline, measured in the same run on the first ``--baseline-n`` subjects: for each subject
alone, ``scipy.optimize.minimize`` (BFGS, numerical gradient) of the same objective, each
evaluation one ``simulate`` call for that subject; the modes are compared with the
batched fit's.

Usage: ``python bench/fit.py [--n 1000] [--baseline-n 20] [--seed 1]``
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from scipy import optimize

from ketasim.estimation import ResidualModel, fit_map
from ketasim.estimation.design import sample_observations
from ketasim.events import Regimen
from ketasim.library import load_model
from ketasim.simulate import simulate
from ketasim.units import to_unit

GOAL_PER_S = 100.0
TIMES_H = np.array([10 / 60, 0.5, 1.0, 2.0, 4.0, 6.0])
SD_PROP = 0.2


def baseline(spec, ds, wt, n):  # type: ignore[no-untyped-def]
    """Per-subject scipy BFGS fits of the first ``n`` subjects: (seconds, modes, OFVs)."""
    P = np.linalg.inv(spec.iiv.matrix)
    ids, time_col, dv = ds["ID"], ds["TIME"], ds["DV_MG_L"]
    amt = ds["AMT"]
    modes = np.zeros((n, P.shape[0]))
    ofvs = np.zeros(n)
    t0 = time.perf_counter()
    for i in range(n):
        sel = (ids == i + 1) & (ds["EVID"] == 0)
        y, times = dv[sel], time_col[sel]
        dose = float(amt[(ids == i + 1) & (ds["EVID"] == 1)][0])
        reg = Regimen.from_quantities(f"{dose} mg")

        def ofv(
            e: np.ndarray,
            reg: Regimen = reg,
            times: np.ndarray = times,
            w: float = wt[i],
            y: np.ndarray = y,
        ) -> float:
            f = simulate(
                spec, reg, times, covariates={"WT": w}, etas=e[None], check_validity=False
            ).conc["ketamine"][0]
            v = (SD_PROP * f) ** 2
            return float(np.sum((y - f) ** 2 / v + np.log(v)) + e @ P @ e)

        r = optimize.minimize(ofv, np.zeros(P.shape[0]), method="BFGS")
        modes[i], ofvs[i] = r.x, r.fun
    return time.perf_counter() - t0, modes, ofvs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--baseline-n", type=int, default=20)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    spec = load_model("herd_2007")
    rng = np.random.default_rng(args.seed)
    wt = rng.uniform(15.0, 60.0, size=args.n)
    residual = {"ketamine": ResidualModel("proportional", proportional=SD_PROP)}
    ds, _ = sample_observations(
        spec,
        Regimen.from_quantities("1 mg/kg"),
        TIMES_H,
        args.n,
        rng,
        covariates={"WT": wt},
        residual=residual,
        lloq_mg_per_L=to_unit("0.1 ng/mL", "mg/L"),
    )
    fit_map(spec, ds, residual=residual)  # warm-up (imports, caches)
    t0 = time.perf_counter()
    fit = fit_map(spec, ds, residual=residual)
    elapsed = time.perf_counter() - t0
    rate = args.n / elapsed
    b_s, b_modes, b_ofv = baseline(spec, ds, wt, args.baseline_n)
    b_rate = args.baseline_n / b_s
    print(f"subjects: {args.n}")
    print(f"observations_per_subject: {TIMES_H.size}")
    print(f"fit_s: {elapsed:.3f}")
    print(f"fit_subjects_per_s: {rate:.1f}")
    print(f"goal_subjects_per_s: {GOAL_PER_S:.0f}")
    print(f"ratio_to_goal: {rate / GOAL_PER_S:.2f}")
    print(f"baseline_scipy_subjects_per_s: {b_rate:.2f}")
    print(f"speedup_vs_scipy: {rate / b_rate:.1f}")
    print(f"converged_share: {fit.converged.mean():.4f}")
    print(f"predictions_per_subject: {fit.n_predictions / args.n:.1f}")
    m = args.baseline_n
    diff = np.abs(fit.eta[:m] - b_modes).max(axis=1)
    print(f"modes_equal_to_scipy_share: {np.mean(diff < 1e-3):.3f}  (|eta diff| < 1e-3)")
    print(f"median_abs_eta_diff_vs_scipy: {np.median(diff):.2e}")
    # where they differ, two local modes: which optimiser found the lower objective
    lower = fit.ofv[:m] <= b_ofv + 1e-6
    print(f"batched_ofv_not_above_scipy_share: {np.mean(lower):.3f}")


if __name__ == "__main__":
    main()
