"""Dosing-event semantics against NONMEM (PREDPP), with expected values from closed forms.

Every expected value is computed in the test from explicit one-compartment formulas
(``k = CL/V``), independent of ketasim's solver. The NONMEM behaviour each test pins is cited:

- [UG-VI] NONMEM Users Guide Part VI (PREDPP), ch. III.B (state times, nonevent dose times),
  III.F.6 (lag), V.B (EVID), V.F (SS), V.K (ADDL); mirrored at nmhelp.tingjieguo.com/VI/.
- [help] NONMEM online help entries ``ssdose``, ``ss``, ``dose``, ``bioavail``
  (TingjieGuo/nmhelp: ssdose.html, ss.html, dose.html, bioavail.html).
- [nmtests] mrgsolve/nmtests, dosing/results/1001-nm.csv: NONMEM 7 output tables for 29 dosing
  scenarios (ADVAN2 TRANS2, CL=1.1, V=20, KA=1.5, CP = A(2)/(V/1000)); scenario names in
  dosing/results/1001-run-key.csv. mrgsolve matches NONMEM exactly on all of them
  (dosing/results/1001.csv, column diff = 0).
- [mrg424] metrumresearchgroup/mrgsolve issue #424: "NONMEM has ADDL doses prior to
  observation" (at the same time).

Tests named ``test_nonmem_differs_*`` fail on ketasim as reviewed: ketasim is wrong there.
The others confirm conventions ketasim gets right and guard them against regressions.
"""

from __future__ import annotations

import math

import numpy as np

from ketasim.simulate import simulate
from ketasim.spec import get_builtin_model
from tests.conftest import make_dataset, obs

CL, V = 2.0, 10.0
K = CL / V  # 0.2 /h
RTOL = 1e-9


def _pk1(records, **params):
    p = dict(CL=CL, V=V)
    p.update(params)
    return simulate(get_builtin_model("pk1"), make_dataset(records), params=p)


def _amount(res):
    """Central amount per record (pk1 has one compartment)."""
    return res.amounts[:, 0]


def _inf_amount(t: float, start: float, rate: float, dur: float) -> float:
    """1-cmt amount at t from one zero-order infusion (start, rate, duration)."""
    s = t - start
    if s <= 0:
        return 0.0
    if s <= dur:
        return rate / K * (1 - math.exp(-K * s))
    return rate / K * (1 - math.exp(-K * dur)) * math.exp(-K * (s - dur))


# =================================================================================================
# Differences: ketasim is wrong here (these tests fail until fixed)
# =================================================================================================


def test_nonmem_differs_additional_dose_at_observation_time_enters_before_the_observation():
    # [UG-VI] III.B/V.K: an additional dose time is a "nonevent dose time", i.e. a state time the
    # system is advanced to (and the dose enters) on the way to the next event record; an event
    # record at the same time is processed after it. [mrg424]: "NONMEM has ADDL doses prior to
    # observation"; mrgsolve's default recsort=1 puts ADDL doses before observations to match.
    # So a sample recorded at the exact time of an ADDL dose is POST-dose in NONMEM.
    res = _pk1([{"TIME": 0, "AMT": 100, "EVID": 1, "II": 12, "ADDL": 2}, *obs([12, 24])])
    e12 = math.exp(-12 * K)
    expected = [100 * e12 + 100, (100 * e12 + 100) * e12 + 100]
    np.testing.assert_allclose(_amount(res)[1:], expected, rtol=RTOL)


def test_nonmem_differs_lagged_dose_at_observation_time_enters_before_the_observation():
    # [UG-VI] III.F.6: the lagged time t+L "is a nonevent dose time". [nmtests] scenario 17
    # (bolus 100 into CMT 2 at 0 with ALAG2=1): NONMEM prints CP=5000 (= 100/0.02) at the
    # observation at t=1, i.e. the lagged dose is in; scenario 16 (ADDL + ALAG2=5) likewise shows
    # post-dose values at t=5, 29, 53, 77.
    res = _pk1([{"TIME": 0, "AMT": 100, "EVID": 1, "ALAG1": 2}, *obs([2, 3], ALAG1=2)], ALAG1=2)
    np.testing.assert_allclose(_amount(res)[1:], [100.0, 100 * math.exp(-K)], rtol=RTOL)


def test_nonmem_differs_lagged_steady_state_dose_at_observation_time_is_post_dose():
    # [nmtests] scenarios 15 and 23 (SS=1 bolus with ALAG2): at the observation at TIME = ALAG
    # NONMEM reports trough + dose (scenario 23: 10349 = 5348.8 + 100/0.02).
    # SS bolus every II=12 with lag 4, observed at the lag time: F*D/(1 - exp(-k II)).
    res = _pk1(
        [{"TIME": 0, "AMT": 100, "EVID": 1, "II": 12, "SS": 1, "ALAG1": 4}, *obs([4], ALAG1=4)]
    )
    np.testing.assert_allclose(_amount(res)[1], 100 / (1 - math.exp(-12 * K)), rtol=RTOL)


def test_nonmem_differs_steady_state_constant_infusion_terminates_at_record_time():
    # [help] ssdose: "AMT=0, RATE 0,>0,-1, II=0: Steady-state with constant infusion. The infusion
    # terminates at the event time of the SS dose record." [UG-VI] V.B: "A dose event corresponds
    # to ... the time a steady-state infusion terminates". [nmtests] scenario 29 (AMT=0 RATE=100
    # SS=1 into the depot at 0): NONMEM CP 90909 at t=0, 88547 at t=1, 74.067 at t=130 (decay).
    res = _pk1([{"TIME": 0, "AMT": 0, "RATE": 5, "SS": 1, "EVID": 1}, *obs([0, 1, 10])])
    a_ss = 5 / K
    expected = [a_ss, a_ss, a_ss * math.exp(-K), a_ss * math.exp(-10 * K)]
    np.testing.assert_allclose(_amount(res), expected, rtol=RTOL)


def test_nonmem_differs_steady_state_constant_infusion_into_depot_matches_nonmem_scenario_29():
    # Same as above on the nmtests scenario-29 model: pk1_depot, CL=1.1, V=20, KA=1.5, RATE=100
    # into the depot, SS=1, AMT=0, II=0. After termination: depot A_d0 exp(-KA t), central
    # A_c0 exp(-k t) + KA A_d0 (exp(-k t) - exp(-KA t)) / (KA - k), A_d0 = R/KA, A_c0 = R/k.
    # NONMEM table values (5 significant digits): CP(1)=88547, CP(10)=54446 ng/mL (mg/L x 1000).
    cl, v, ka, rate = 1.1, 20.0, 1.5, 100.0
    k = cl / v
    times = [1.0, 10.0, 130.0]
    res = simulate(
        get_builtin_model("pk1_depot"),
        make_dataset(
            [{"TIME": 0, "AMT": 0, "RATE": rate, "SS": 1, "EVID": 1, "CMT": 1}, *obs(times, CMT=2)]
        ),
        params=dict(CL=cl, V=v, KA=ka),
    )
    ad0, ac0 = rate / ka, rate / k
    t = np.array(times)
    central = ac0 * np.exp(-k * t) + ka * ad0 * (np.exp(-k * t) - np.exp(-ka * t)) / (ka - k)
    np.testing.assert_allclose(res.cp[1:], central / v, rtol=RTOL)
    np.testing.assert_allclose(res.cp[1:3] * 1000, [88547, 54446], rtol=1e-4)


# =================================================================================================
# Conventions ketasim gets right (regression guards)
# =================================================================================================


def test_bolus_dose_record_output_is_post_dose():
    # [help] dose: a bolus "is introduced into the dose compartment at the event time (before
    # ERROR is called with the event record)".
    res = _pk1([{"TIME": 0, "AMT": 100, "EVID": 1}, *obs([1])])
    np.testing.assert_allclose(_amount(res), [100.0, 100 * math.exp(-K)], rtol=RTOL)


def test_records_at_equal_times_are_processed_in_data_order():
    # PREDPP processes event records in data-set order: an observation record before a dose
    # record at the same time is pre-dose, one after it is post-dose.
    res = _pk1(
        [
            {"TIME": 0, "AMT": 100, "EVID": 1},
            {"TIME": 5, "EVID": 0},
            {"TIME": 5, "AMT": 50, "EVID": 1},
            {"TIME": 5, "EVID": 0},
        ]
    )
    pre = 100 * math.exp(-5 * K)
    np.testing.assert_allclose(_amount(res)[1:], [pre, pre + 50, pre + 50], rtol=RTOL)


def test_additional_doses_between_observations():
    # [help] addl: ADDL doses every II after the initiating dose (observations not at dose times).
    times = [1.0, 13.0, 25.0, 37.0]
    res = _pk1([{"TIME": 0, "AMT": 100, "EVID": 1, "II": 12, "ADDL": 2}, *obs(times)])
    expected = [sum(100 * math.exp(-K * (t - s)) for s in (0, 12, 24) if s < t) for t in times]
    np.testing.assert_allclose(_amount(res)[1:], expected, rtol=RTOL)


def test_additional_doses_are_lagged_and_use_the_bioavailability_of_the_initiating_record():
    # [help] dose: "Absorption lag applies to the initiating dose and to all subsequent additional
    # doses"; [help] bioavail: F "applies to the dose and to all the additional doses".
    times = [1.0, 4.0, 16.0, 30.0]
    res = _pk1(
        [
            {"TIME": 0, "AMT": 100, "EVID": 1, "II": 12, "ADDL": 2, "ALAG1": 3, "F1": 0.6},
            *obs(times, ALAG1=3, F1=0.6),
        ]
    )
    starts = (3.0, 15.0, 27.0)
    expected = [sum(60 * math.exp(-K * (t - s)) for s in starts if s < t) for t in times]
    np.testing.assert_allclose(_amount(res)[1:], expected, rtol=RTOL)


def test_bioavailability_with_rate_in_data_changes_duration_not_rate():
    # NONMEM: with RATE>0 on the record, amount = F*AMT is infused at RATE, so the duration is
    # F*AMT/RATE ([help] dose: "Its duration is computed as amount/RATE", amount = AMT*F).
    # [nmtests] scenario 4 (F2=0.5, RATE=10, AMT=480) agrees.
    times = [1.0, 2.5, 4.0, 6.0]
    res = _pk1([{"TIME": 0, "AMT": 100, "RATE": 20, "EVID": 1, "F1": 0.5}, *obs(times, F1=0.5)])
    expected = [_inf_amount(t, 0, 20, 2.5) for t in times]
    np.testing.assert_allclose(_amount(res)[1:], expected, rtol=RTOL)


def test_bioavailability_with_modelled_duration_keeps_duration():
    # [help] dose: RATE=-2: "The duration is given by the value of Dn ... Rate is computed as
    # amount/duration" with amount = F*AMT. [nmtests] scenario 5 agrees.
    times = [1.0, 4.0, 6.0]
    res = _pk1(
        [
            {"TIME": 0, "AMT": 100, "RATE": -2, "EVID": 1, "F1": 0.5, "D1": 4},
            *obs(times, F1=0.5, D1=4),
        ]
    )
    expected = [_inf_amount(t, 0, 50 / 4, 4.0) for t in times]
    np.testing.assert_allclose(_amount(res)[1:], expected, rtol=RTOL)


def test_bioavailability_with_modelled_rate_keeps_rate():
    # [help] dose: RATE=-1: rate Rn; "duration ... computed as amount/rate" (amount = F*AMT).
    times = [1.0, 2.5, 3.0]
    res = _pk1(
        [
            {"TIME": 0, "AMT": 100, "RATE": -1, "EVID": 1, "F1": 0.5, "R1": 20},
            *obs(times, F1=0.5, R1=20),
        ]
    )
    expected = [_inf_amount(t, 0, 20, 2.5) for t in times]
    np.testing.assert_allclose(_amount(res)[1:], expected, rtol=RTOL)


def test_steady_state_bolus_with_bioavailability():
    # [UG-VI] V.F.4 (ADVAN1/SS1): A_ss (after the dose) = F*AMT / (1 - exp(-k II));
    # [help] bioavail: F applies to all implied doses.
    res = _pk1(
        [{"TIME": 0, "AMT": 100, "EVID": 1, "II": 12, "SS": 1, "F1": 0.7}, *obs([0, 6], F1=0.7)]
    )
    peak = 70 / (1 - math.exp(-12 * K))
    np.testing.assert_allclose(_amount(res), [peak, peak, peak * math.exp(-6 * K)], rtol=RTOL)


def test_steady_state_bolus_with_lag_is_at_phase_ii_minus_lag_until_the_lagged_dose():
    # [UG-VI] V.F.4 note 3 / [help] ssdose: steady state computed as if unlagged, then advanced
    # to II - ALAG; "Event records with times up to (but not including)" the lagged time have
    # the steady-state amounts. II=12, ALAG=4.
    res = _pk1(
        [
            {"TIME": 0, "AMT": 100, "EVID": 1, "II": 12, "SS": 1, "ALAG1": 4},
            *obs([0, 2, 6], ALAG1=4),
        ]
    )
    q = math.exp(-12 * K)
    at0 = 100 * math.exp(-8 * K) / (1 - q)
    expected = [at0, at0, at0 * math.exp(-2 * K), 100 / (1 - q) * math.exp(-2 * K)]
    np.testing.assert_allclose(_amount(res), expected, rtol=RTOL)


def test_steady_state_infusion_longer_than_interval_sums_overlapping_infusions():
    # [UG-VI] V.F.4 note 2: "Multiple infusions with duration > II are permitted"; [help] ssdose:
    # "More than one infusion continues when the duration ... is greater than II".
    # [nmtests] scenario 12 agrees. Expected: explicit superposition of 3000 past infusions.
    rate, dur, ii = 10.0, 10.0, 4.0
    times = [0.0, 1.0, 3.0, 7.0, 15.0]
    res = _pk1(
        [{"TIME": 0, "AMT": rate * dur, "RATE": rate, "EVID": 1, "II": ii, "SS": 1}, *obs(times)]
    )
    expected = [sum(_inf_amount(t, -n * ii, rate, dur) for n in range(3000)) for t in times]
    np.testing.assert_allclose(_amount(res)[1:], expected, rtol=RTOL)


def test_steady_state_infusion_with_lag_and_overlap():
    # [UG-VI] V.F.1: lag applies to all implied doses; infusions with duration + lag > II overlap.
    rate, dur, ii, lag = 10.0, 10.0, 4.0, 3.0
    times = [0.0, 1.0, 2.5, 3.5, 5.0, 14.0]
    res = _pk1(
        [
            {
                "TIME": 0,
                "AMT": rate * dur,
                "RATE": rate,
                "EVID": 1,
                "II": ii,
                "SS": 1,
                "ALAG1": lag,
            },
            *obs(times, ALAG1=lag),
        ]
    )
    expected = [sum(_inf_amount(t, lag - n * ii, rate, dur) for n in range(3000)) for t in times]
    np.testing.assert_allclose(_amount(res)[1:], expected, rtol=RTOL)


def test_steady_state_2_adds_to_current_amounts():
    # [help] ss: SS=2 "amounts ... set to the sum of the steady-state amounts ... plus whatever
    # those amounts would have been at the event time".
    res = _pk1(
        [
            {"TIME": 0, "AMT": 50, "EVID": 1},
            {"TIME": 5, "AMT": 100, "EVID": 1, "II": 12, "SS": 2},
            *obs([8]),
        ]
    )
    ss_peak = 100 / (1 - math.exp(-12 * K))
    expected = 50 * math.exp(-8 * K) + ss_peak * math.exp(-3 * K)
    np.testing.assert_allclose(_amount(res)[2], expected, rtol=RTOL)


def test_steady_state_1_cancels_pending_additional_doses_of_earlier_records():
    # [help] ss: SS=1 "Compartment amounts resulting from prior dose event records are 'zeroed
    # out,' and infusions in progress or pending additional doses are cancelled."
    res = _pk1(
        [
            {"TIME": 0, "AMT": 100, "EVID": 1, "II": 6, "ADDL": 5},
            {"TIME": 8, "AMT": 30, "EVID": 1, "II": 24, "SS": 1},
            *obs([13, 19]),
        ]
    )
    peak = 30 / (1 - math.exp(-24 * K))
    np.testing.assert_allclose(
        _amount(res)[2:], [peak * math.exp(-5 * K), peak * math.exp(-11 * K)], rtol=RTOL
    )


def test_reset_cancels_pending_additional_doses_and_stops_running_infusion():
    # [UG-VI] V.K: "a reset and a reset-dose event record will deactivate any previous dose event
    # record which happens to be active" (pending ADDL doses); V.B: amounts reset to zero.
    res = _pk1(
        [
            {"TIME": 0, "AMT": 100, "EVID": 1, "II": 6, "ADDL": 5},
            {"TIME": 1, "AMT": 100, "RATE": 10, "EVID": 1},
            {"TIME": 8, "EVID": 3},
            *obs([9, 20]),
        ]
    )
    np.testing.assert_allclose(_amount(res)[2:], [0.0, 0.0, 0.0], atol=1e-12)


def test_reset_dose_with_additional_doses_resets_only_once():
    # [nmtests] scenario 20 (EVID=4 with ADDL): NONMEM's additional doses of an EVID=4 record are
    # plain doses (no reset at each); also rxode2 PR #1353 ("matches NONMEM").
    res = _pk1(
        [
            {"TIME": 0, "AMT": 500, "EVID": 1},
            {"TIME": 10, "AMT": 100, "EVID": 4, "II": 12, "ADDL": 1},
            *obs([21, 23]),
        ]
    )
    expected = [100 * math.exp(-11 * K), 100 * math.exp(-13 * K) + 100 * math.exp(-1 * K)]
    np.testing.assert_allclose(_amount(res)[2:], expected, rtol=RTOL)


def test_reset_dose_with_steady_state_resets_then_sets_steady_state():
    # [nmtests] scenario 21 (EVID=4, SS=1) and mrgsolve issue #1010 ("as in NONMEM": EVID=4 SS=1
    # equals EVID=1 SS=1): reset first, then the steady state, then the dose.
    res = _pk1(
        [
            {"TIME": 0, "AMT": 500, "EVID": 1},
            {"TIME": 10, "AMT": 100, "EVID": 4, "II": 12, "SS": 1},
            *obs([13]),
        ]
    )
    expected = 100 / (1 - math.exp(-12 * K)) * math.exp(-3 * K)
    np.testing.assert_allclose(_amount(res)[2], expected, rtol=RTOL)


def test_steady_state_constant_infusion_amount_at_record_time_ignores_bioavailability():
    # [help] bioavail: "the bioavailability fraction does not apply to a steady-state infusion";
    # at the record time the amount is R/k ([UG-VI] V.F.4: input equals output).
    res = _pk1([{"TIME": 0, "AMT": 0, "RATE": 5, "SS": 1, "EVID": 1, "F1": 0.3}], F1=0.3)
    np.testing.assert_allclose(_amount(res), [5 / K], rtol=RTOL)


def test_cmt_zero_uses_default_dose_and_observation_compartments():
    # [UG-VI] V.H: CMT=0 on a dose record means the default dose compartment (depot for ADVAN2),
    # on an observation record the default observation compartment (central).
    cl, v, ka = 2.0, 10.0, 1.3
    k = cl / v
    res = simulate(
        get_builtin_model("pk1_depot"),
        make_dataset([{"TIME": 0, "AMT": 100, "EVID": 1, "CMT": 0}, *obs([2.0], CMT=0)]),
        params=dict(CL=cl, V=v, KA=ka),
    )
    central = 100 * ka / (ka - k) * (math.exp(-k * 2) - math.exp(-ka * 2))
    np.testing.assert_allclose(res.amounts[0], [100.0, 0.0], rtol=RTOL)
    np.testing.assert_allclose(res.amounts[1], [100 * math.exp(-ka * 2), central], rtol=RTOL)
    np.testing.assert_allclose(res.cp[1], central / v, rtol=RTOL)


def test_time_varying_clearance_nocb_reproduces_nonmem_issue_7():
    # [UG-VI] III.B: "Values computed by PK for the record with TIME=t(i+1) are used during the
    # advance from t(i) to t(i+1)" (NONMEM: next record's values, carried backward).
    # NONMEM data: CL=2 on records at 0 and 5, CL=4 on the record at 10. NONMEM amounts:
    # A(5) = 100 exp(-0.2*5); A(10) = A(5) exp(-0.4*5).
    records = [
        {"TIME": 0, "AMT": 100, "EVID": 1, "CL": 2.0},
        {"TIME": 5, "EVID": 0, "CL": 2.0},
        {"TIME": 10, "EVID": 0, "CL": 4.0},
    ]
    res = simulate(get_builtin_model("pk1"), make_dataset(records), params=dict(V=V))
    a5 = 100 * math.exp(-0.2 * 5)
    np.testing.assert_allclose(res.amounts[1:, 0], [a5, a5 * math.exp(-0.4 * 5)], rtol=RTOL)


def test_time_varying_clearance_locf_is_the_column_shifted_one_record_issue_7():
    # with fill="locf" a value applies from its record on: the NONMEM data above shifted one
    # record earlier (CL = 2, 4, 4) gives the same amounts
    res = simulate(
        get_builtin_model("pk1"),
        make_dataset(
            [
                {"TIME": 0, "AMT": 100, "EVID": 1, "CL": 2.0},
                {"TIME": 5, "EVID": 0, "CL": 4.0},
                {"TIME": 10, "EVID": 0, "CL": 4.0},
            ]
        ),
        params=dict(V=V),
        fill="locf",
    )
    a5 = 100 * math.exp(-0.2 * 5)
    np.testing.assert_allclose(res.amounts[1:, 0], [a5, a5 * math.exp(-0.4 * 5)], rtol=RTOL)
