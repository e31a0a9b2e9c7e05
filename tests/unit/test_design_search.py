"""Dose finding (ketasim.design.search): monotone curves, fresh-seed check, same patients."""

from __future__ import annotations

import math

import numpy as np

from ketasim.design import DesignSpace, find_regimen, parse_goal, sample_virtual_patients
from ketasim.events import Regimen
from ketasim.library import load_model
from ketasim.population import TruncatedNormal, simulate_population
from ketasim.simulate import simulate

HERD = load_model("herd_2007")
COV = {"WT": TruncatedNormal(30.0, 10.0, 10.8, 74.8)}


def test_threshold_attainment_monotone_in_dose():
    r = find_regimen(
        HERD,
        parse_goal("ketamine > 500 ng/mL for >= 10 min"),
        DesignSpace("dose", "mg/kg"),
        np.linspace(0.2, 2.0, 8),
        n=300,
        seed=1,
        covariates=COV,
        probability=0.8,
    )
    assert np.all(np.diff(r.attainment) >= 0)
    assert r.attainment[0] < 0.8 <= r.attainment[-1]


def test_ceiling_attainment_non_increasing_in_dose():
    r = find_regimen(
        HERD,
        parse_goal("ketamine < 1500 ng/mL"),
        DesignSpace("dose", "mg/kg"),
        np.linspace(0.2, 3.0, 8),
        n=300,
        seed=1,
        covariates=COV,
        probability=0.9,
    )
    assert np.all(np.diff(r.attainment) <= 0)


def test_ceiling_attainment_non_decreasing_in_infusion_duration():
    r = find_regimen(
        HERD,
        parse_goal("ketamine < 1200 ng/mL"),
        DesignSpace("duration", "h", dose="1.5 mg/kg"),
        np.linspace(1 / 60, 0.5, 6),
        n=200,
        seed=1,
        covariates=COV,
        probability=0.9,
        refine_steps=3,
    )
    assert np.all(np.diff(r.attainment) >= 0)


def test_found_dose_attains_probability_on_a_fresh_population():
    goal = parse_goal("ketamine > 500 ng/mL for >= 10 min")
    space = DesignSpace("dose", "mg/kg", duration_h=5 / 60)
    n1, n2, p = 400, 1500, 0.8
    r = find_regimen(
        HERD, goal, space, np.linspace(0.2, 3.0, 8), n=n1, seed=1, covariates=COV, probability=p
    )
    assert r.found is not None
    fresh = find_regimen(
        HERD, goal, space, [r.found[0]], n=n2, seed=2, covariates=COV, probability=p
    )
    se = math.sqrt(p * (1 - p) * (1 / n1 + 1 / n2))
    assert abs(fresh.attainment[0] - p) < 3 * se  # 3 Monte Carlo standard errors


def test_same_patients_as_simulate_population():
    times = np.linspace(0, 4, 81)
    reg = Regimen.from_quantities("1 mg/kg", duration="10 min")
    pop = simulate_population(
        HERD, reg, times, 50, seed=3, covariates=COV, progress=False, summary_method="grid"
    )
    vp = sample_virtual_patients(HERD, 50, 3, COV)
    res = simulate(HERD, reg, times, covariates=vp.covariates, etas=vp.etas)
    cmax = res.conc["ketamine"].max(axis=1)
    assert np.allclose(cmax, pop.summaries["ketamine"]["cmax_mg_per_L"], rtol=1e-12, atol=0)
    assert np.allclose(vp.covariates["WT"], pop.covariates["WT"], rtol=0, atol=0)


def test_any_route_intranasal_esketamine():
    spec = load_model("perez_ruixo_2021")
    cov = {"AGE": 40.0, "ASIAN": 0.0, "JAPANESE": 0.0, "NDEV": 1.0}
    r = find_regimen(
        spec,
        parse_goal("s_ketamine > 50 ng/mL"),
        DesignSpace("dose", "mg", route="intranasal"),
        np.linspace(28, 112, 4),
        n=100,
        seed=1,
        covariates=cov,
        probability=0.5,
        refine_steps=2,
        until_h=6.0,
    )
    assert np.all(np.diff(r.attainment) >= 0) and r.attainment[-1] > r.attainment[0]


def test_wording_is_research_only():
    r = find_regimen(
        HERD,
        parse_goal("ketamine > 750 ng/mL"),
        DesignSpace("dose", "mg/kg"),
        [0.5, 1.0, 2.0],
        n=100,
        seed=1,
        covariates={"WT": 20.0},
        probability=0.5,
        refine_steps=2,
    )
    text = r.describe()
    assert "the regimen that reaches" in text and "simulated patients" in text
    assert "recommended" not in text
