"""Population throughput and memory: in-process and on a Dask LocalCluster.

Prints ``name: value`` lines. Every number is measured in this run; a size that would exceed the
time budget is not run, and the line says so with the prediction from the measured rate.

Cases (issue 4): perez_ruixo_2021 (esketamine + noresketamine, 9 compartments, eigen path; 17.5 mg
IV, ages 18-64 y) and simons_2022 (S-ketamine, S-norketamine, S-HNK; 14 compartments), 0.25 mg/kg IV
over 40 min every 3.5 d x 6, 1,000 output times over 21 d, WT ~ truncated normal(70, 12) kg in
53-93 kg (the study's range). Because simons_2022's transit chains have repeated eigenvalues, the
engine solves it on its batched matrix-exponential path, which is slower; the same regimen on
herd_2007 (2 compartments, eigen path) is measured too, to show the population machinery itself.

Usage: ``python bench/population.py [--budget-s 240] [--dask-n 1000000] [--workers 2]``
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from ketasim.distributed import simulate_population_dask
from ketasim.events import Regimen
from ketasim.library import load_model
from ketasim.population import TruncatedNormal, simulate_population

REGIMEN = Regimen.from_quantities(
    "0.25 mg/kg", route="iv", duration="40 min", every="3.5 d", count=6
)
# perez_ruixo_2021 has no weight covariate: the same regimen for a 70-kg adult, in mg
REGIMEN_FIXED = Regimen.from_quantities(
    "17.5 mg", route="iv", duration="40 min", every="3.5 d", count=6
)
TIMES_H = np.linspace(0.0, 6 * 3.5 * 24, 1000)
CASES: dict[str, dict[str, Any]] = {
    "perez_ruixo_2021": {
        "AGE": TruncatedNormal(45.0, 12.0, 18.0, 64.0),
        "ASIAN": 0.0,
        "JAPANESE": 0.0,
        "NDEV": 1.0,
    },
    "simons_2022": {"WT": TruncatedNormal(70.0, 12.0, 53.0, 93.0)},
    "herd_2007": {"WT": TruncatedNormal(30.0, 8.0, 11.0, 74.0)},
}


def _regimen(model: str) -> Regimen:
    return REGIMEN_FIXED if model == "perez_ruixo_2021" else REGIMEN


def _run(model: str, n: int, **kw: Any) -> tuple[float, Any]:
    """(seconds, result) of one in-process population run."""
    spec = load_model(model)
    t0 = time.perf_counter()
    res = simulate_population(
        spec, _regimen(model), TIMES_H, n, seed=1, covariates=CASES[model], progress=False, **kw
    )
    return time.perf_counter() - t0, res


def _peak_rss_mb(model: str, n: int, method: str) -> float:
    """Peak resident memory (MB) of a fresh process running one population (os.wait4)."""
    code = (
        "import sys; sys.argv = ['x']; import population as b; "
        f"b._run({model!r}, {n}, percentile_method={method!r})"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=Path(__file__).parent)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
    if proc.returncode != 0:
        raise RuntimeError(f"memory probe for {model} n={n} failed (status {status})")
    return usage.ru_maxrss / 1024


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--budget-s", type=float, default=240.0, help="longest single run (s)")
    ap.add_argument("--dask-n", type=int, default=1_000_000)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    print(f"output_times: {TIMES_H.size}")
    print("regimen: 0.25 mg/kg IV over 40 min every 3.5 d x 6")
    rates: dict[str, float] = {}
    for model, pilot in (("perez_ruixo_2021", 2048), ("simons_2022", 256), ("herd_2007", 2048)):
        _run(model, 8)  # warm-up: numba compilation, library loading (not timed)
        dt, _ = _run(model, pilot)
        rates[model] = pilot / dt
        print(f"{model}_pilot_n: {pilot}")
        print(f"{model}_pilot_subjects_per_s: {rates[model]:.1f}")
        for n in (10_000, 100_000):
            predicted = n / rates[model]
            if predicted > args.budget_s:
                print(
                    f"{model}_in_process_{n}_subjects_per_s: not run (predicted {predicted:.0f} s "
                    f"> budget {args.budget_s:.0f} s at the pilot rate)"
                )
                continue
            dt, res = _run(model, n)
            peak = _peak_rss_mb(model, n, res.percentile_method)
            print(f"{model}_in_process_{n}_subjects_per_s: {n / dt:.1f}")
            print(f"{model}_in_process_{n}_seconds: {dt:.1f}")
            print(f"{model}_in_process_{n}_peak_rss_MB: {peak:.0f}")
            print(f"{model}_in_process_{n}_percentile_method: {res.percentile_method}")
    n = args.dask_n
    for model in CASES:
        predicted = n / rates[model]
        if predicted > args.budget_s:
            print(
                f"{model}_dask_{n}: not run (in-process predicted {predicted:.0f} s = "
                f"{predicted / 3600:.1f} h > budget {args.budget_s:.0f} s)"
            )
            continue
        spec = load_model(model)
        dt_in, ref = _run(model, n, percentile_method="histogram")
        print(f"{model}_in_process_{n}_subjects_per_s: {n / dt_in:.1f}")
        print(f"{model}_in_process_{n}_peak_rss_MB: {_peak_rss_mb(model, n, 'histogram'):.0f}")
        t0 = time.perf_counter()
        got = simulate_population_dask(
            spec,
            _regimen(model),
            TIMES_H,
            n,
            seed=1,
            covariates=CASES[model],
            percentile_method="histogram",
            n_workers=args.workers,
            progress=False,
        )
        dt_dask = time.perf_counter() - t0
        same = all(
            np.array_equal(ref.summaries[a][k], got.summaries[a][k], equal_nan=True)
            for a in ref.summaries
            for k in ref.summaries[a]
        ) and all(
            np.array_equal(ref.percentile_curves[a], got.percentile_curves[a])
            for a in ref.percentile_curves
        )
        print(
            f"{model}_dask_{args.workers}_workers_{n}_subjects_per_s: {n / dt_dask:.1f} "
            "(includes cluster start-up)"
        )
        print(f"{model}_dask_to_in_process_throughput_ratio_{n}: {dt_in / dt_dask:.2f}")
        print(f"{model}_dask_identical_to_in_process: {same}")
    usage = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak_rss_bench_process_MB: {usage:.0f} (holds two full results at once)")


if __name__ == "__main__":
    main()
