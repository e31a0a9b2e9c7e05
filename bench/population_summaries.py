"""Cost of exact population summaries (issue 12) against grid summaries, in the same run.

Prints ``name: value`` lines: seconds of ``simulate_population`` with ``summary_method="grid"``
(Cmax/Tmax/AUC read off the 1,000-point output grid, the former behaviour) and ``"exact"``
(:func:`ketasim.exposure.compute_exposure`: refined peaks, exact AUC), their ratio, and the
median per-interval Cmax of both, which shows the grid's aliasing over six identical doses.
Cases and regimen as ``bench/population.py``.

Usage: ``python bench/population_summaries.py [--n 2048]``
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from population import CASES, TIMES_H, _regimen  # type: ignore[import-not-found]

from ketasim.library import load_model
from ketasim.population import simulate_population


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=2048)
    n = ap.parse_args().n
    for model in ("herd_2007", "perez_ruixo_2021"):
        spec = load_model(model)
        seconds = {}
        for method in ("grid", "exact"):
            t0 = time.perf_counter()
            res = simulate_population(
                spec, _regimen(model), TIMES_H, n, seed=1, covariates=CASES[model],
                progress=False, summary_method=method,
            )  # fmt: skip
            seconds[method] = time.perf_counter() - t0
            a = spec.get_analytes()[0]
            med = np.median(res.summaries[a]["cmax_interval_mg_per_L"], axis=0)
            print(f"{model}_{method}_s: {seconds[method]:.2f}")
            print(f"{model}_{method}_median_cmax_per_dose_mg_per_L: {np.round(med, 5).tolist()}")
        print(f"{model}_exact_over_grid: {seconds['exact'] / seconds['grid']:.2f}")


if __name__ == "__main__":
    main()
