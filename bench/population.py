"""Population throughput and memory: in-process and on a Dask LocalCluster.

Prints ``name: value`` lines. Every number is measured in this run; a size that would exceed the
time budget is not run, and the line says so with the prediction from the measured rate.

Cases (issue 4): perez_ruixo_2021 (esketamine + noresketamine, 9 compartments, eigen path; 17.5 mg
IV, ages 18-64 y) and simons_2022 (S-ketamine, S-norketamine, S-HNK; 14 compartments), 0.25 mg/kg IV
over 40 min every 3.5 d x 6, 1,000 output times over 21 d, WT ~ truncated normal(70, 12) kg in
53-93 kg (the study's range). Because simons_2022's transit chains have repeated eigenvalues, the
engine solves it on its batched matrix-exponential path, which is slower; the same regimen on
herd_2007 (2 compartments, eigen path) is measured too, to show the population machinery itself.

Rows of issue 8 (each ratio against a baseline measured in the same run): population
subjects/s against the engine alone (``simulate`` on the same sampled covariates and
random effects, the population layer's overhead), simons_2022 at 2,000 subjects against the
goal of 6,000/s, repeated runs with threads (no BLAS-oversubscription outlier), the predicted
time of 1,000,000 perez_ruixo_2021 subjects, and peak memory read from each child's own
``VmHWM`` (/proc/self/status; a child's ``ru_maxrss`` from ``wait4`` inherits the parent's).

One population of 1,000,000 perez_ruixo_2021 subjects (issue 8): a pilot of the streaming run
(:mod:`ketasim.population.streaming`, histogram percentiles, in bounded memory) predicts the time;
when the budget allows, the full run is made in a fresh child process in-process (``workers``
threads) and in another on a Dask LocalCluster (``workers`` processes), each printing its wall
time, its own VmHWM (and the workers' on Dask) and a SHA-256 digest of every result array: equal
digests are the bit-identity check. A per-block breakdown (solve, summaries, histogram counts,
thread CPU seconds) says where the time goes.

Usage: ``python bench/population.py [--budget-s 240] [--dask-n 1000000] [--workers 2]
[--million-n 1000000] [--million-summaries exact|grid] [--million-only]``
"""

from __future__ import annotations

import argparse
import hashlib
import json
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
from ketasim.population.streaming import StreamTimings, simulate_population_streaming

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


def _vmhwm_mb() -> float:
    """This process's own peak resident memory (VmHWM), MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return float(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _peak_rss_mb(model: str, n: int, method: str) -> float:
    """Peak resident memory (MB) of a fresh process running one population: the child's own
    VmHWM, printed by the child (not ``wait4``'s ``ru_maxrss``, which inherits the parent's)."""
    code = (
        "import sys; sys.argv = ['x']; import population as b; "
        f"b._run({model!r}, {n}, percentile_method={method!r}); print(b._vmhwm_mb())"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code],
        cwd=Path(__file__).parent,
        capture_output=True,
        text=True,
        check=True,
    )
    return float(proc.stdout.strip().splitlines()[-1])


def _engine_alone(model: str, n: int) -> float:
    """Seconds of the engine alone for ``n`` subjects: simulate on covariates and random
    effects sampled the population's way, the same regimen and grid (no summaries)."""
    from ketasim.population.sampling import _covariates_for, _draw_etas, _omega_factor
    from ketasim.simulate import simulate

    spec = load_model(model)
    rng = np.random.default_rng(1)
    etas = _draw_etas(_omega_factor(spec, None), n, rng)
    cov = _covariates_for(spec, CASES[model], 0, n, lambda j: np.random.default_rng(10 + j), 0)
    t0 = time.perf_counter()
    for a in range(0, n, 1024):
        sl = slice(a, min(n, a + 1024))
        c = {k: (v[sl] if np.ndim(v) == 1 else v) for k, v in cov.items()}
        simulate(spec, _regimen(model), TIMES_H, covariates=c, etas=etas[sl], check_validity=False)
    return time.perf_counter() - t0


def _median_range(values: list[float]) -> str:
    v = np.asarray(values)
    return f"{np.median(v):.1f} (range {v.min():.1f}-{v.max():.1f})"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--budget-s", type=float, default=240.0, help="longest single run (s)")
    ap.add_argument("--dask-n", type=int, default=1_000_000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--million-n", type=int, default=1_000_000)
    ap.add_argument("--million-summaries", choices=("exact", "grid"), default="exact")
    ap.add_argument("--million-only", action="store_true", help="only the 1,000,000 rows")
    ap.add_argument("--child-million", choices=("in_process", "dask"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child_million:
        _million_child(args.child_million, args.million_n, args.million_summaries, args.workers)
        return
    if args.million_only:
        _million_rows(args)
        return
    print(f"output_times: {TIMES_H.size}")
    print("regimen: 0.25 mg/kg IV over 40 min every 3.5 d x 6 (perez_ruixo_2021: 17.5 mg)")
    print(f"repeats_per_point: {args.reps}; medians (ranges)")
    goals: list[tuple[str, bool, str]] = []
    rates: dict[str, float] = {}
    for model, pilot in (("perez_ruixo_2021", 2000), ("simons_2022", 2000), ("herd_2007", 2000)):
        _run(model, 1100)  # warm-up: numba kernel, library loading (not timed)
        _engine_alone(model, 64)
        pop, eng = [], []
        for _ in range(args.reps):  # interleaved, so load changes hit both alike
            dt, _ = _run(model, pilot)
            pop.append(pilot / dt)
            eng.append(pilot / _engine_alone(model, pilot))
        rates[model] = float(np.median(pop))
        overhead = float(np.median(eng) / np.median(pop))
        print(f"{model}_population_{pilot}_subjects_per_s: {_median_range(pop)}")
        print(f"{model}_engine_alone_{pilot}_subjects_per_s: {_median_range(eng)}")
        print(f"{model}_population_overhead_vs_engine: {overhead:.2f} (goal <= 1.5)")
        goals.append((f"{model} overhead <= 1.5x", overhead <= 1.5, f"{overhead:.2f}"))
        if model == "simons_2022":
            ok = rates[model] >= 6000
            print(f"simons_2022_population_goal_6000_per_s: {'met' if ok else 'not met'}")
            goals.append(("simons_2022 >= 6000 subjects/s", ok, f"{rates[model]:.0f}/s"))
    # threads: the same simons_2022 population with `workers` threads, repeated (outliers?)
    th = []
    for _ in range(max(3, args.reps)):
        dt, _ = _run("simons_2022", 2000, workers=args.workers, chunk_size=1024)
        th.append(dt)
    worst = max(th) / float(np.median(th))
    print(f"simons_2022_2000_subjects_{args.workers}_threads_seconds: {_median_range(th)}")
    print(f"simons_2022_threads_worst_to_median: {worst:.2f} (goal: no outlier, <= 2)")
    goals.append(("no thread outlier", worst <= 2.0, f"worst/median {worst:.2f}"))
    pred = 1_000_000 / rates["perez_ruixo_2021"]
    print(f"perez_ruixo_2021_1000000_subjects_predicted_in_process_s: {pred:.0f} (goal < 150)")
    goals.append(("1,000,000 perez_ruixo_2021 < 150 s (predicted)", pred < 150, f"{pred:.0f} s"))
    for model in CASES:
        n = 10_000
        dt, res = _run(model, n)
        peak = _peak_rss_mb(model, n, res.percentile_method)
        print(f"{model}_in_process_{n}_subjects_per_s: {n / dt:.1f}")
        print(f"{model}_in_process_{n}_peak_rss_MB_child_VmHWM: {peak:.0f}")
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
        peak = _peak_rss_mb(model, n, "histogram")
        print(f"{model}_in_process_{n}_peak_rss_MB_child_VmHWM: {peak:.0f}")
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
    print(f"peak_rss_bench_process_MB: {_vmhwm_mb():.0f} (holds two full results at once)")
    goals += _million_rows(args)
    for name, ok, note in goals:
        print(f"goal_{'met' if ok else 'NOT_met'}: {name} {note}".rstrip())


MILLION = "perez_ruixo_2021"


def _digest(res: Any) -> str:
    """SHA-256 of every array of a PopulationResult (summaries, percentiles, covariates,
    attainment), in a fixed order: equal digests mean bit-identical results."""
    h = hashlib.sha256()
    arrays = [res.time_h]
    for a in sorted(res.summaries):
        arrays += [res.summaries[a][k] for k in sorted(res.summaries[a])]
    arrays += [res.percentile_curves[a] for a in sorted(res.percentile_curves)]
    arrays += [res.covariates[k] for k in sorted(res.covariates)]
    for k in sorted(res.attainment):
        arrays += [res.attainment[k].attained, res.attainment[k].time_above_h]
    for x in arrays:
        h.update(np.ascontiguousarray(x).tobytes())
    return h.hexdigest()


def _million_child(mode: str, n: int, summaries: str, workers: int) -> None:
    """One 1,000,000-subject run in this fresh process; prints one JSON line."""
    spec = load_model(MILLION)
    kw: dict[str, Any] = {"seed": 1, "covariates": CASES[MILLION], "summary_method": summaries}
    tm = StreamTimings()
    workers_mb: list[float] = []
    t0 = time.perf_counter()
    if mode == "in_process":
        res = simulate_population_streaming(
            spec, REGIMEN_FIXED, TIMES_H, n, workers=workers, timings=tm, **kw
        )
    else:
        from dask.distributed import Client, LocalCluster

        env = {k: "1" for k in ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS")}
        with (
            LocalCluster(
                n_workers=workers, threads_per_worker=1, dashboard_address=":0", env=env
            ) as cluster,
            Client(cluster) as client,
        ):
            t1 = time.perf_counter()
            res = simulate_population_dask(
                spec, REGIMEN_FIXED, TIMES_H, n, client=client, percentile_method="histogram",
                timings=tm, **kw,
            )  # fmt: skip
            tm.total_s = time.perf_counter() - t1  # without the cluster's start-up
            workers_mb = sorted(client.run(_vmhwm_mb).values())
    wall = time.perf_counter() - t0
    out = {
        "wall_s": wall, "run_s": tm.total_s, "compute_s": tm.compute_s, "cpu_s": tm.cpu_s,
        "merge_s": tm.merge_s, "transfer_s": tm.transfer_s, "final_s": tm.final_s,
        "chunks": tm.chunks, "chunk_MB": tm.chunk_bytes / 1e6, "vmhwm_MB": _vmhwm_mb(),
        "workers_vmhwm_MB": workers_mb, "digest": _digest(res),
        "percentile_method": res.percentile_method,
    }  # fmt: skip
    print(json.dumps(out))


def _block_breakdown(summaries: str, reps: int) -> dict[str, list[float]]:
    """Thread CPU seconds per 1,024-subject block of perez_ruixo_2021: the engine on the
    population grid, the per-subject summaries, the histogram counts."""
    from ketasim.population.quantiles import compute_bin_counts
    from ketasim.population.run import _COV, _ETA, _prepare, _stream
    from ketasim.population.sampling import _covariates_for, _draw_etas
    from ketasim.population.summaries import exact_summaries, grid_summaries, simulation_grid
    from ketasim.simulate import simulate

    spec = load_model(MILLION)
    job = _prepare(
        spec, REGIMEN_FIXED, TIMES_H, 1024 * reps, rng=None, seed=1, covariates=CASES[MILLION],
        params=None, omega=None, residual=False, percentiles=(5.0, 50.0, 95.0),
        percentile_method="histogram", percentile_rel_error=0.01, exact_max_bytes=0.0,
        targets=(), summary_method=summaries,
    )  # fmt: skip
    out: dict[str, list[float]] = {"solve": [], "summaries": [], "counts": []}
    for b in range(reps):
        m = 1024
        etas = _draw_etas(job.factor, m, _stream(1, b, _ETA))
        cov = _covariates_for(
            spec, job.covariates, b * m, (b + 1) * m, lambda j, b=b: _stream(1, b, _COV, j), 0
        )
        t_sim, user = simulation_grid(job.times_h, job.intervals_h)
        c0 = time.thread_time()
        r = simulate(spec, job.regimen, t_sim, covariates=cov, etas=etas, check_validity=False)
        c1 = time.thread_time()
        c_sim = np.stack([r.conc[a] for a in spec.get_analytes()])
        if summaries == "exact":
            exact_summaries(job, cov, etas, {})
        else:
            grid_summaries(job, job.times_h, c_sim[..., user], t_sim, c_sim)
        c2 = time.thread_time()
        compute_bin_counts(c_sim[..., user], 0.01)
        c3 = time.thread_time()
        out["solve"].append(c1 - c0)
        out["summaries"].append(c2 - c1)
        out["counts"].append(c3 - c2)
    return out


def _million_rows(args: argparse.Namespace) -> list[tuple[str, bool, str]]:
    """Rows of the 1,000,000-subject streaming run: pilot, prediction, breakdown, full runs."""
    n, sm, w = args.million_n, args.million_summaries, args.workers
    tag = f"{MILLION}_{n}_{sm}_summaries"
    spec = load_model(MILLION)
    kw: dict[str, Any] = {"seed": 1, "covariates": CASES[MILLION], "summary_method": sm}
    simulate_population_streaming(spec, REGIMEN_FIXED, TIMES_H, 1100, **kw)  # warm-up
    pilot = 8 * 1024
    rate = []
    for _ in range(args.reps):
        tm = StreamTimings()
        simulate_population_streaming(
            spec, REGIMEN_FIXED, TIMES_H, pilot, workers=w, chunk_size=2048, timings=tm, **kw
        )
        rate.append(pilot / tm.total_s)
    print(f"{tag}_pilot_{pilot}_streaming_{w}_threads_subjects_per_s: {_median_range(rate)}")
    parts = _block_breakdown(sm, max(2, args.reps))
    for k, v in parts.items():
        print(
            f"{tag}_cpu_s_per_1024_block_{k}: {np.median(v):.3f} (range {min(v):.3f}-{max(v):.3f})"
        )
    cpu = sum(float(np.median(v)) for v in parts.values())
    print(f"{tag}_cpu_s_per_subject_total: {cpu / 1024 * 1e3:.3f} ms")
    pred = n / float(np.median(rate))
    pred_cpu = n / 1024 * cpu / w
    print(f"{tag}_predicted_in_process_s: {pred:.0f} (from the pilot; {pred_cpu:.0f} s from the "
          f"block CPU seconds on {w} free cores; goal < 150)")  # fmt: skip
    goals = [
        (f"1,000,000 {MILLION} < 150 s ({sm} summaries, predicted)", pred < 150, f"{pred:.0f} s")
    ]
    if pred > args.budget_s:
        print(f"{tag}_full_runs: not run (predicted {pred:.0f} s > budget {args.budget_s:.0f} s)")
        return goals
    got: dict[str, dict[str, Any]] = {}
    for mode in ("in_process", "dask"):
        proc = subprocess.run(
            [sys.executable, __file__, "--child-million", mode, "--million-n", str(n),
             "--million-summaries", sm, "--workers", str(w)],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        r = got[mode] = json.loads(proc.stdout.strip().splitlines()[-1])
        label = f"{tag}_{mode}" + (f"_{w}_workers" if mode == "dask" else f"_{w}_threads")
        print(f"{label}_wall_s: {r['run_s']:.1f} (process {r['wall_s']:.1f} with imports"
              + (" and cluster start-up)" if mode == "dask" else ")"))  # fmt: skip
        print(f"{label}_subjects_per_s: {n / r['run_s']:.0f}")
        print(
            f"{label}_breakdown_s: chunks {r['chunks']}, in chunks {r['compute_s']:.1f} wall / "
            f"{r['cpu_s']:.1f} CPU (summed over chunks), merge {r['merge_s']:.1f}, "
            f"transfer {r['transfer_s']:.1f}, percentiles {r['final_s']:.1f}, "
            f"sent {r['chunk_MB']:.0f} MB"
        )
        print(f"{label}_peak_rss_MB_child_VmHWM: {r['vmhwm_MB']:.0f}")
        if r["workers_vmhwm_MB"]:
            wm = ", ".join(f"{x:.0f}" for x in r["workers_vmhwm_MB"])
            print(f"{label}_worker_peak_rss_MB_VmHWM: {wm}")
        goals.append(
            (f"1,000,000 {MILLION} {mode} < 150 s", r["run_s"] < 150, f"{r['run_s']:.0f} s")
        )
    same = got["in_process"]["digest"] == got["dask"]["digest"]
    print(f"{tag}_dask_bit_identical_to_in_process: {same} (SHA-256 of every result array)")
    goals.append((f"1,000,000 {MILLION} Dask bit-identical", same, ""))
    return goals


if __name__ == "__main__":
    main()
