"""Engine benchmark: exact batched solver vs scipy solve_ivp (LSODA, rtol 1e-8), same run.

Model: 3 disposition compartments for the parent + 1 metabolite compartment (formation fraction
0.8, molar conversion), 30 % log-normal variability on every parameter. Regimen: six 40-minute
infusions of 35 mg every 2 days (12 days), 1,000 output times over 12 days.

Prints ``name: value`` lines. Each subject count runs in a fresh subprocess so that its peak
resident memory is its own. Usage: ``python bench/engine.py [--ode-subjects N]``.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

import numpy as np

N_TIMES = 1000
T_END_H = 12 * 24.0
DOSE_MG = 35.0
TINF_H = 40 / 60
II_H = 48.0
N_DOSES = 6


def build_model():
    from ketasim.spec import Compartment, Flow, ModelSpec, Route, RouteInput

    return ModelSpec(
        id="bench_pk3_met",
        name="3-compartment parent + 1-compartment metabolite",
        compartments=(
            Compartment("CENTRAL", "ketamine", "central", "V1"),
            Compartment("PERIPH1", "ketamine", "peripheral", "V2"),
            Compartment("PERIPH2", "ketamine", "peripheral", "V3"),
            Compartment("NK_CENTRAL", "norketamine", "central", "VM"),
        ),
        flows=(
            Flow("CENTRAL", "PERIPH1", clearance="Q2"),
            Flow("PERIPH1", "CENTRAL", clearance="Q2"),
            Flow("CENTRAL", "PERIPH2", clearance="Q3"),
            Flow("PERIPH2", "CENTRAL", clearance="Q3"),
            Flow("CENTRAL", "NK_CENTRAL", clearance="CL", fraction=0.8),
            Flow("NK_CENTRAL", None, clearance="CLM"),
        ),
        routes={"iv": Route("iv", (RouteInput("CENTRAL"),), infusion=True)},
        free_parameters=("CL", "V1", "Q2", "V2", "Q3", "V3", "CLM", "VM"),
        generic=True,
    )


TYPICAL = dict(CL=80.0, V1=20.0, Q2=100.0, V2=60.0, Q3=20.0, V3=180.0, CLM=40.0, VM=100.0)


def sample_params(n: int, seed: int = 1) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    omega = np.log(1 + 0.3**2)
    return {k: v * np.exp(rng.normal(0.0, np.sqrt(omega), n)) for k, v in TYPICAL.items()}


def run_exact(n: int, workers: int = 2) -> dict[str, float]:
    from ketasim.events import Regimen
    from ketasim.simulate import simulate_regimen

    model = build_model()
    times = np.linspace(0.0, T_END_H, N_TIMES)
    reg = Regimen.from_quantities(f"{DOSE_MG} mg", duration="40 min", every="2 d", count=N_DOSES)
    params = sample_params(n)
    t0 = time.perf_counter()
    res = simulate_regimen(model, reg, times, params=params, workers=workers)
    dt = time.perf_counter() - t0
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    c = res.conc["ketamine"]
    return {"seconds": dt, "peak_rss_mb": peak_mb, "checksum": float(np.sum(c[:, ::97]))}


def run_domino(n: int) -> dict[str, float]:
    """Issue 2's reference case: Domino racemic ketamine, 35 mg over 10 min, 121 times, 30 % IIV."""
    from ketasim.events import Regimen
    from ketasim.simulate import simulate_regimen
    from ketasim.spec import get_builtin_model
    from ketasim.units import to_unit

    micro = {"K10": 0.4381, "K12": 0.5921, "K13": 0.5900, "K21": 0.2470, "K31": 0.0146}
    typical = {k: to_unit(f"{v} 1/min", "1/h") for k, v in micro.items()}
    typical["V1"] = 0.063 * 70
    rng = np.random.default_rng(3)
    sd = np.sqrt(np.log(1 + 0.3**2))
    params = {k: v * np.exp(rng.normal(0.0, sd, n)) for k, v in typical.items()}
    times = np.linspace(0.0, 2.0, 121)
    reg = Regimen.from_quantities("35 mg", duration="10 min")
    model = get_builtin_model("pk3")
    simulate_regimen(model, reg, times, params={k: v[:2] for k, v in params.items()})  # warm
    t0 = time.perf_counter()
    simulate_regimen(model, reg, times, params=params)
    return {"seconds": time.perf_counter() - t0}


def run_ode(n: int) -> dict[str, float]:
    from scipy.integrate import solve_ivp

    model = build_model()
    times = np.linspace(0.0, T_END_H, N_TIMES)
    params = sample_params(n)
    K = model.compute_rate_matrix(params)
    starts = [k * II_H for k in range(N_DOSES)]
    bounds = sorted(set([0.0, T_END_H, *starts, *[s + TINF_H for s in starts]]))
    rate = DOSE_MG / TINF_H
    t0 = time.perf_counter()
    out = np.zeros((n, N_TIMES))
    for i in range(n):
        Ki = K[i]
        y = np.zeros(4)
        for a, b in zip(bounds[:-1], bounds[1:], strict=True):
            on = any(s <= a < s + TINF_H for s in starts)
            u = np.array([rate if on else 0.0, 0.0, 0.0, 0.0])
            mask = (times >= a) & (times < b) if b < T_END_H else (times >= a) & (times <= b)
            sol = solve_ivp(
                lambda t, x, Ki=Ki, u=u: Ki @ x + u,
                (a, b),
                y,
                method="LSODA",
                rtol=1e-8,
                atol=1e-10,
                t_eval=times[mask],
            )
            out[i, mask] = sol.y[0] / params["V1"][i]
            y = (
                solve_ivp(
                    lambda t, x, Ki=Ki, u=u: Ki @ x + u,
                    (a, b),
                    y,
                    method="LSODA",
                    rtol=1e-8,
                    atol=1e-10,
                ).y[:, -1]
                if not mask[-1] or b < T_END_H
                else y
            )
    dt = time.perf_counter() - t0
    return {"seconds": dt, "checksum": float(np.sum(out[:, ::97]))}


def _child(kind: str, n: int) -> dict[str, float]:
    cmd = [sys.executable, __file__, "--child", kind, "--n", str(n)]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--child")
    ap.add_argument("--n", type=int, default=0)
    ap.add_argument("--ode-subjects", type=int, default=1000)
    args = ap.parse_args()
    if args.child:
        runners = {"exact": run_exact, "ode": run_ode, "domino": run_domino}
        res = runners[args.child](args.n)
        print(json.dumps(res))
        return
    print(
        "model: 3-compartment parent + 1 metabolite; 6 x 40-min infusions over 12 days; 1000 times"
    )
    r = {n: _child("exact", n) for n in (1, 1000, 100_000)}
    for n, v in r.items():
        print(f"exact_seconds_{n}_subjects: {v['seconds']:.4f}")
    print(f"exact_peak_rss_mb_100000_subjects: {r[100_000]['peak_rss_mb']:.0f}")
    print(f"exact_subjects_per_second_100000: {100_000 / r[100_000]['seconds']:.0f}")
    dom = _child("domino", 1000)
    print(f"domino_1000_subjects_121_times_seconds: {dom['seconds']:.4f}")
    print("domino_reference_elsewhere: deSolve 16.1 s; opentiva 5.7 s; PyTCI 1.7 s; numpy 0.022 s")
    ode = _child("ode", args.ode_subjects)
    ode_per_1000 = ode["seconds"] * 1000 / args.ode_subjects
    print(f"ode_lsoda_seconds_{args.ode_subjects}_subjects: {ode['seconds']:.2f}")
    print(f"speedup_vs_ode_at_1000_subjects: {ode_per_1000 / r[1000]['seconds']:.0f}")
    agree = (
        abs(ode["checksum"] / r[1000]["checksum"] - 1)
        if args.ode_subjects == 1000
        else float("nan")
    )
    print(f"ode_vs_exact_checksum_rel_diff: {agree:.2e}")
    print("goals: speedup >= 100 at 1000 subjects; 100000 subjects < 10 s and < 4096 MB")


if __name__ == "__main__":
    main()
