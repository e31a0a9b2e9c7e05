"""Exact solver against a tight-tolerance scipy ODE (LSODA, rtol 1e-10) for every event kind.

Tolerance 1e-6 relative to each compartment's peak: the ODE is integrated at rtol 1e-10 /
atol 1e-12, and its steady states come from integrating dosing cycles until they repeat (not from
the closed-form sums), so agreement to 1e-6 checks both the event semantics and the SS algebra.
"""

from __future__ import annotations

import numpy as np
import pytest

from ketasim.simulate import simulate
from ketasim.spec import get_builtin_model
from tests.conftest import make_dataset, obs

P = dict(CL=4.0, V1=15.0, Q=9.0, V2=40.0, KA=1.1)
GRID = [0.0, 0.25, 0.5, 1.0, 1.7, 2.0, 3.0, 4.5, 6.0, 8.0, 12.0, 13.0, 18.0, 24.0, 30.0, 36.0]

CASES = {
    "bolus_depot": [{"TIME": 0, "AMT": 100, "EVID": 1, "CMT": 1}],
    "bolus_central": [{"TIME": 0, "AMT": 100, "EVID": 1, "CMT": 2}],
    "infusion_rate": [{"TIME": 0.5, "AMT": 100, "RATE": 30, "EVID": 1, "CMT": 2}],
    "infusion_modelled_duration": [
        {"TIME": 0, "AMT": 100, "RATE": -2, "EVID": 1, "CMT": 2, "D2": 1.7}
    ],
    "infusion_modelled_rate": [{"TIME": 0, "AMT": 100, "RATE": -1, "EVID": 1, "CMT": 2, "R2": 45}],
    "addl": [{"TIME": 0, "AMT": 50, "EVID": 1, "CMT": 1, "II": 6, "ADDL": 4}],
    "addl_infusion": [{"TIME": 0, "AMT": 50, "RATE": 25, "EVID": 1, "CMT": 2, "II": 12, "ADDL": 2}],
    "ss1_bolus": [{"TIME": 0, "AMT": 50, "EVID": 1, "CMT": 1, "II": 12, "SS": 1}],
    "ss1_bolus_addl": [{"TIME": 0, "AMT": 50, "EVID": 1, "CMT": 1, "II": 12, "SS": 1, "ADDL": 2}],
    "ss2_bolus_after_dose": [
        {"TIME": 0, "AMT": 80, "EVID": 1, "CMT": 2},
        {"TIME": 3, "AMT": 50, "EVID": 1, "CMT": 1, "II": 12, "SS": 2},
    ],
    "ss1_infusion": [{"TIME": 0, "AMT": 60, "RATE": 30, "EVID": 1, "CMT": 2, "II": 8, "SS": 1}],
    "ss1_infusion_longer_than_ii": [
        {"TIME": 0, "AMT": 60, "RATE": 4, "EVID": 1, "CMT": 2, "II": 6, "SS": 1, "ADDL": 3}
    ],
    "ss_constant_infusion": [
        {"TIME": 0, "AMT": 0, "RATE": 10, "EVID": 1, "CMT": 2, "II": 0, "SS": 1}
    ],
    "lag_and_bioavailability": [
        {"TIME": 0, "AMT": 100, "EVID": 1, "CMT": 1, "ALAG1": 0.75, "F1": 0.6}
    ],
    "lag_ss_bolus": [{"TIME": 0, "AMT": 50, "EVID": 1, "CMT": 1, "II": 12, "SS": 1, "ALAG1": 2.0}],
    "lag_ss_infusion": [
        {"TIME": 0, "AMT": 60, "RATE": 20, "EVID": 1, "CMT": 2, "II": 8, "SS": 1, "ALAG2": 1.5}
    ],
    "bioavailability_infusion": [
        {"TIME": 0, "AMT": 100, "RATE": 20, "EVID": 1, "CMT": 2, "F2": 0.5}
    ],
    "reset_evid3": [
        {"TIME": 0, "AMT": 100, "EVID": 1, "CMT": 1, "II": 6, "ADDL": 5},
        {"TIME": 13, "EVID": 3},
    ],
    "reset_and_dose_evid4": [
        {"TIME": 0, "AMT": 100, "RATE": 10, "EVID": 1, "CMT": 2},
        {"TIME": 4.5, "AMT": 30, "EVID": 4, "CMT": 1},
    ],
    "evid2_other": [
        {"TIME": 0, "AMT": 100, "EVID": 1, "CMT": 1},
        {"TIME": 5, "EVID": 2},
    ],
    "time_varying_clearance": [
        {"TIME": 0, "AMT": 100, "EVID": 1, "CMT": 1, "CL": 4.0},
        {"TIME": 6, "EVID": 2, "CL": 8.0},
        {"TIME": 18, "EVID": 2, "CL": 2.0},
    ],
}


def _with_obs(name: str) -> list[dict[str, float]]:
    recs = [dict(r) for r in CASES[name]]
    extra = [c for c in ("ALAG1", "F1", "D2", "R2", "ALAG2", "F2", "CL") if c in recs[0]]
    fill = {c: recs[0][c] for c in extra}
    for r in recs:
        for c in extra:
            r.setdefault(c, fill[c])
    rows = recs + [dict(o, **fill) for o in obs(GRID)]
    # carry time-varying values forward into the observation records (LOCF)
    rows.sort(key=lambda r: (r["TIME"], r.get("EVID", 0) == 0))
    last = dict(fill)
    for r in rows:
        for c in extra:
            if r in recs:
                last[c] = r[c]
            else:
                r[c] = last[c]
    return rows


def _defective_params() -> dict[str, float]:
    # KA equal to the slower disposition eigenvalue makes the rate matrix defective (a Jordan
    # block), which sends every subject through the matrix-exponential path
    k10, k12, k21 = P["CL"] / P["V1"], P["Q"] / P["V1"], P["Q"] / P["V2"]
    lam = np.roots([1.0, k10 + k12 + k21, k10 * k21])
    return dict(P, KA=float(np.min(np.abs(lam))))


@pytest.mark.parametrize("defective", [False, True], ids=["eigen", "defective"])
@pytest.mark.parametrize("name", sorted(CASES))
def test_exact_equals_ode(name: str, defective: bool) -> None:
    ds = make_dataset(_with_obs(name))
    model = get_builtin_model("pk2_depot")
    base = _defective_params() if defective else P
    params = {k: v for k, v in base.items() if k not in ds.columns}
    exact = simulate(model, ds, params=params)
    ode = simulate(model, ds, params=params, method="ode", rtol=1e-10)
    scale = np.maximum(np.max(np.abs(exact.amounts), axis=0), 1e-12)
    np.testing.assert_allclose(exact.amounts / scale, ode.amounts / scale, rtol=0, atol=1e-6)
    assert np.all(np.isfinite(exact.cp))


@pytest.mark.parametrize("irregular", [False, True], ids=["grid", "grid+extra"])
@pytest.mark.parametrize("route", ["iv", "sublingual"])
def test_transit_chain_model_regimen_equals_ode(route: str, irregular: bool) -> None:
    # Simons 2022 has two-compartment transit chains with equal rate constants: a defective
    # rate matrix, solved on the shared-grid matrix-exponential path; the ODE path is independent
    from ketasim.events import Regimen
    from ketasim.library import load_model
    from ketasim.simulate import simulate

    m = load_model("simons_2022")
    reg = Regimen.from_quantities(
        "20 mg", route=route, duration="20 min" if route == "iv" else None, every="12 h", count=2
    )
    times = np.linspace(0.0, 30.0, 181)
    if irregular:  # extra points off the grid (as population runs insert dose times)
        times = np.unique(np.concatenate([times, [0.3333, 11.999, 12.0, 12.25, 29.9]]))
    etas = np.random.default_rng(2).normal(0.0, 0.2, (3, len(m.get_eta_names())))
    kw = dict(covariates={"WT": 70.0}, etas=etas)
    exact = simulate(m, reg, times, **kw)
    ode = simulate(m, reg, times, method="ode", **kw)
    for a in exact.analytes:
        scale = np.max(np.abs(exact.conc[a]))
        np.testing.assert_allclose(exact.conc[a] / scale, ode.conc[a] / scale, rtol=0, atol=1e-6)
