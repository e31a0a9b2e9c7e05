"""The app's response to a regimen change, and a 1,000-subject population, with goals.

Prints ``name: value`` lines. Every number is measured in this run.

1. **Regimen change (server side).** What the server does between an input change and the
   rendered output, timed directly (no browser): form values -> scenario
   (:func:`ketasim.app.state.get_scenario_from_inputs`) -> comparison (two regimens on
   perez_ruixo_2021: IV 0.5 mg/kg over 40 min and intranasal 84 mg, each simulated on the display
   grid and on the summary grid) -> Plotly figure as JSON -> summary table and notes as HTML.
   Repeated over ``--changes`` different doses. Baseline in the same run: one
   :func:`ketasim.simulate.simulate` call of one regimen on the display grid (the engine's part).
   **Goal: median < 300 ms per change** (what people perceive as immediate for a form update).
   The same change on simons_2022 (sublingual vs IV; transit chains solved on the engine's
   matrix-exponential path, about 20x slower per point) is printed too; it does not meet the goal
   (about 1.5 s here) and says so.
2. **Population of 1,000 subjects per regimen** through the app's path
   (:func:`ketasim.report.compute_population_bands`, one regimen), against a direct
   :func:`ketasim.population.simulate_population` call with the same arguments (ratio: the app's
   overhead). **Goal: < 5 s for 1,000 subjects** on one core.
3. With ``--browser``: the same change end to end in Debian's chromium (Playwright), from filling
   the dose field to the plot's re-render (client included; informative, no goal).

Usage: ``python bench/app.py [--changes 30] [--browser]``
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from typing import Any

from ketasim.app.panels import get_notes, get_summary_table
from ketasim.app.plots import get_concentration_figure
from ketasim.app.state import get_default_inputs, get_scenario_from_inputs
from ketasim.population import simulate_population
from ketasim.report import compute_comparison, compute_population_bands
from ketasim.simulate import simulate

GOAL_CHANGE_S = 0.300
GOAL_POP_S = 5.0

FORM: dict[str, Any] = {
    **get_default_inputs(),
    "r2_on": True,
    "r2_label": "Intranasal 84 mg",
    "r2_model": "perez_ruixo_2021",
    "r2_dose": 84.0,
    "r2_dose_unit": "mg",
    "r2_route": "intranasal",
    "r2_sched": "once",
    "r2_cov": "NDEV=3",
}


def one_change(values: dict[str, Any]) -> float:
    t0 = time.perf_counter()
    comp = compute_comparison(get_scenario_from_inputs(values))
    json.dumps(get_concentration_figure(comp))
    str(get_summary_table(comp))
    str(get_notes(comp))
    return time.perf_counter() - t0


def bench_changes(n: int) -> None:
    one_change(FORM)  # warm caches (model files, unit registry), as in a running server
    times = [one_change({**FORM, "r1_dose": 0.3 + 0.01 * i}) for i in range(n)]
    comp = compute_comparison(get_scenario_from_inputs(FORM))
    arm = comp.arms[0]
    base = []
    for _ in range(n):
        t0 = time.perf_counter()
        simulate(arm.model, arm.regimen, arm.display.time_h, covariates=arm.covariates)
        base.append(time.perf_counter() - t0)
    med, p95 = statistics.median(times), sorted(times)[int(0.95 * (n - 1))]
    med_base = statistics.median(base)
    print(f"change_median_ms: {1e3 * med:.1f}")
    print(f"change_p95_ms: {1e3 * p95:.1f}")
    print(f"change_baseline_simulate_ms: {1e3 * med_base:.1f}")
    print(f"change_vs_one_simulate_ratio: {med / med_base:.1f}")
    print(f"change_goal_ms: {1e3 * GOAL_CHANGE_S:.0f}")
    print(f"change_goal_met: {med < GOAL_CHANGE_S}")


def bench_changes_expm(n: int) -> None:
    """The same on simons_2022 (transit chains: the engine's matrix-exponential path)."""
    form = {
        **FORM, "r1_model": "simons_2022", "r1_dur": 20.0, "r1_dose": 20.0, "r1_dose_unit": "mg",
        "r2_model": "simons_2022", "r2_route": "sublingual", "r2_dose": 50.0, "r2_cov": "",
    }  # fmt: skip
    one_change(form)
    times = [one_change({**form, "r1_dose": 15.0 + i}) for i in range(n)]
    med = statistics.median(times)
    print(f"change_expm_model_median_ms: {1e3 * med:.1f}")
    print(f"change_expm_model_goal_met: {med < GOAL_CHANGE_S}")


def bench_population(n: int = 1000) -> None:
    form = {**FORM, "r2_on": False}
    comp = compute_comparison(get_scenario_from_inputs(form))
    arm = comp.arms[0]
    compute_population_bands(comp, 50, seed=2)  # NOTE: warm-up (first-call costs) for both paths
    t_direct, t_app = float("inf"), float("inf")
    for _ in range(2):  # best of two, alternating, so load on a shared machine hits both alike
        t0 = time.perf_counter()
        direct = simulate_population(
            arm.model,
            arm.regimen,
            arm.display.time_h,
            n,
            seed=1,
            covariates=arm.covariates,
            progress=False,
        )
        t_direct = min(t_direct, time.perf_counter() - t0)
        t0 = time.perf_counter()
        (via_app,) = compute_population_bands(comp, n, seed=1)
        t_app = min(t_app, time.perf_counter() - t0)
    same = bool(
        (via_app.percentile_curves["s_ketamine"] == direct.percentile_curves["s_ketamine"]).all()
    )
    print(f"population_n: {n}")
    print(f"population_app_s: {t_app:.2f}")
    print(f"population_direct_s: {t_direct:.2f}")
    print(f"population_app_vs_direct_ratio: {t_app / t_direct:.2f}")
    print(f"population_same_numbers: {same}")
    print(f"population_goal_s: {GOAL_POP_S:.0f}")
    print(f"population_goal_met: {t_app < GOAL_POP_S}")


def bench_browser(n: int) -> None:
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from playwright.sync_api import sync_playwright

    from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, start_app, stop

    proc, line = start_app()
    url = line.split()[2]
    try:
        with sync_playwright() as p:
            b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            pg = b.new_page()
            pg.goto(url)
            pg.wait_for_selector("#conc_plot[data-renders]", timeout=60_000)
            times = []
            for i in range(n):
                before = pg.get_attribute("#conc_plot", "data-renders")
                t0 = time.perf_counter()
                pg.fill("#r1_dose", f"{0.3 + 0.01 * i:g}")
                pg.wait_for_function(
                    f"document.getElementById('conc_plot').dataset.renders !== '{before}'"
                )
                times.append(time.perf_counter() - t0)
            b.close()
    finally:
        stop(proc)
    print(f"browser_change_median_ms: {1e3 * statistics.median(times):.1f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--changes", type=int, default=30)
    ap.add_argument("--browser", action="store_true")
    args = ap.parse_args()
    bench_changes(args.changes)
    bench_changes_expm(max(3, args.changes // 5))
    bench_population()
    if args.browser:
        bench_browser(min(args.changes, 15))


if __name__ == "__main__":
    main()
