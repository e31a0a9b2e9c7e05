"""Properties of TCI plans: pump limits never exceeded, targets never overshot at update times."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from ketasim.library import load_model
from ketasim.tci import Pump, TargetSchedule, TargetStep, compute_tci_rates, plan_tci

HERD = load_model("herd_2007")


def _unit_response(k10, k12, k21, v1, d, m):
    """Exact 2-compartment plasma response to 1 mg/h over [0, d), at j d (j = 0 .. m)."""
    K = np.array([[-(k10 + k12), k21], [k12, -k21]])
    lam, V = np.linalg.eig(K)
    Vi = np.linalg.inv(V)
    t = np.arange(m + 1) * d

    def during(s):  # amounts at time s < d under unit rate from zero
        return (V @ np.diag((np.exp(lam * s) - 1) / lam) @ Vi @ np.array([1.0, 0.0])).real

    end = during(d)
    out = np.zeros(m + 1)
    for j, tj in enumerate(t):
        if tj == 0:
            continue
        a = (V @ np.diag(np.exp(lam * (tj - d))) @ Vi @ end).real
        out[j] = a[0] / v1
    return out


@settings(max_examples=60, derandomize=True, deadline=None)
@given(
    k10=st.floats(0.05, 5.0),
    k12=st.floats(0.0, 5.0),
    k21=st.floats(0.01, 2.0),
    v1=st.floats(1.0, 100.0),
    d=st.floats(1 / 3600, 0.1),
    levels=st.lists(st.floats(0.0, 5.0), min_size=1, max_size=4),
    max_rate=st.one_of(st.just(math.inf), st.floats(1e-3, 1e4)),
)
def test_rates_within_limits_and_never_above_target(k10, k12, k21, v1, d, levels, max_rate):
    n = 40
    h = _unit_response(k10, k12, k21, v1, d, 2 * n + 4)
    c = np.repeat(np.asarray(levels), math.ceil(n / len(levels)))[:n]
    r = compute_tci_rates(h, c, max_rate)
    assert np.all(r >= 0) and np.all(r <= max_rate)
    for k in np.flatnonzero(r > 0):
        # with the pump off after update k, no later update exceeds the target in force at k
        pred = np.convolve(r[: k + 1], h)[k + 1 : 2 * n + 5]
        assert pred.max() <= c[k] * (1 + 1e-9) + 1e-300
        if r[k] < max_rate:
            assert math.isclose(pred.max(), c[k], rel_tol=1e-9)


@settings(max_examples=20, derandomize=True, deadline=None)
@given(
    weight=st.floats(10.8, 74.8),
    target=st.floats(0.0, 3.0),
    update_s=st.sampled_from([5, 10, 15, 30, 60]),
    max_rate=st.floats(1.0, 2e4),
    syringe=st.floats(1.0, 50.0),
)
def test_plan_never_exceeds_pump_limits(weight, target, update_s, max_rate, syringe):
    pump = Pump(update_s / 3600, max_rate_mg_per_h=max_rate, syringe_mg_per_mL=syringe)
    plan = plan_tci(HERD, target, 0.25, pump, covariates={"WT": weight}, predict=False)
    r = plan.rates_mg_per_h
    assert np.all(r >= 0) and np.all(r <= max_rate)
    header, rows = plan.to_table()
    ml = np.array([row[header.index("rate_mL_per_h")] for row in rows])
    assert np.all(ml <= max_rate / syringe * (1 + 1e-12))
    if target == 0.0:
        assert plan.regimen is None and plan.total_amt_mg == 0.0


@settings(max_examples=15, derandomize=True, deadline=None)
@given(first=st.floats(0.05, 2.0), second=st.floats(0.0, 2.0), at_min=st.integers(1, 14))
def test_target_changes_take_effect_at_their_update(first, second, at_min):
    sched = TargetSchedule((TargetStep(0.0, first), TargetStep(at_min / 60, second)))
    plan = plan_tci(HERD, sched, 0.25, Pump(10 / 3600), covariates={"WT": 30.0}, predict=False)
    k = at_min * 6
    assert np.all(plan.target_mg_per_L[:k] == first)
    assert np.all(plan.target_mg_per_L[k:] == second)
