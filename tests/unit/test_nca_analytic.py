"""Every NCA parameter on analytic profiles (mono-/bi-exponential, infusion, steady state).

Tolerance 1e-9 relative wherever the method is exact for the profile: the log-down trapezoid
and the log-linear fit are exact for exponential decay, AUCinf of a mono-exponential is exact.
Where it is not (a linear-up rise, the distribution phase of a bi-exponential) the expected
value is stated as what the rule gives or bounded by its known error, and said so.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from ketasim.nca import Interval, compute_nca

REL = 1e-9


def _check(res, expected: dict[str, float], **kw) -> None:
    for code, want in expected.items():
        row = res.get_row(code, **kw)
        assert row.reason == "", (code, row.reason)
        assert row.value == pytest.approx(want, rel=REL, abs=1e-12), code


def test_mono_exponential_iv_bolus_every_parameter() -> None:
    c0, k, dose = 10.0, 0.2, 50.0  # mg/L, 1/h, mg -> V 5 L, CL 1 L/h
    t = np.array([0.0, 0.5, 1, 2, 4, 6, 8, 12, 24])
    c = c0 * np.exp(-k * t)
    res = compute_nca(
        t, c, time_unit="h", conc_unit="mg/L", dose=f"{dose} mg", route="intravascular"
    )
    T, cl = 24.0, c0 * math.exp(-k * 24.0)
    auclast = c0 / k * (1 - math.exp(-k * T))
    aumclast = c0 / k**2 * (1 - math.exp(-k * T) * (1 + k * T))
    _check(
        res,
        {
            "CMAX": c0, "TMAX": 0.0, "CLST": cl, "TLST": T, "AUCLST": auclast,
            "AUCALL": auclast, "AUMCLST": aumclast, "MRTIVLST": aumclast / auclast,
            "LAMZ": k, "LAMZHL": math.log(2) / k, "LAMZNPT": 8, "R2": 1.0, "R2ADJ": 1.0,
            "CORRXY": -1.0, "LAMZLL": 0.5, "LAMZUL": T, "LAMZSPN": 23.5 * k / math.log(2),
            "CLSTP": cl, "AUCIFO": c0 / k, "AUCIFP": c0 / k,
            "AUCPEO": 100 * math.exp(-k * T), "AUCPEP": 100 * math.exp(-k * T),
            "AUMCIFO": c0 / k**2, "AUMCIFP": c0 / k**2, "MRTIVIFO": 1 / k,
            "CLO": dose / (c0 / k), "VZO": dose / c0,
        },
    )  # fmt: skip


def test_units_follow_the_input_units() -> None:
    t = np.array([0.0, 30, 60, 120, 240])  # min
    c = 100.0 * np.exp(-0.01 * t)  # ng/mL
    res = compute_nca(t, c, time_unit="min", conc_unit="ng/mL", dose="1 mg")
    assert res.get_row("AUCIFO").unit == "min*ng/mL"
    assert res.get_row("LAMZ").unit == "1/min"
    assert res.get_row("AUMCIFO").unit == "min^2*ng/mL"
    # CL/F = 1 mg / (1e4 min ng/mL) = 1e-4 mg/(min ng/mL) = 6 L/h
    assert res.get_row("CLFO").unit == "L/h"
    assert res.get("CLFO") == pytest.approx(6.0, rel=REL)
    assert res.get("VZFO") == pytest.approx(10.0, rel=REL)  # 1 mg / 100 ng/mL = 10 L


def test_bi_exponential_terminal_parameters_are_exact() -> None:
    # distribution phase gone (< 1e-13 relative) from 24 h on; no sample between 2 and 24 h
    a, alpha, b, beta = 8.0, 1.5, 2.0, 0.1
    t = np.array([0.0, 0.25, 0.5, 1, 2, 24, 30, 36, 48, 60, 72])
    c = a * np.exp(-alpha * t) + b * np.exp(-beta * t)
    res = compute_nca(t, c, time_unit="h", conc_unit="mg/L")
    clast = float(c[-1])
    _check(
        res,
        {
            "CMAX": a + b, "TMAX": 0.0, "CLST": clast, "TLST": 72.0, "LAMZ": beta,
            "LAMZHL": math.log(2) / beta, "LAMZNPT": 6, "R2": 1.0, "LAMZLL": 24.0,
            "LAMZUL": 72.0, "CLSTP": clast,
        },
    )  # fmt: skip
    tail = res.get("AUCIFO") - res.get("AUCLST")
    assert tail == pytest.approx(clast / beta, rel=REL)
    # the terminal-phase AUC (log-down trapezoids of an exponential) is exact
    seg = compute_nca(t, c, time_unit="h", conc_unit="mg/L", intervals=["24,72 h"])
    exact = b / beta * (math.exp(-beta * 24) - math.exp(-beta * 72))
    assert seg.get("AUCINT") == pytest.approx(exact, rel=REL)


def test_bi_exponential_auc_converges_at_second_order() -> None:
    # the log trapezoid is not exact for a sum of exponentials: error O(dt^2)
    a, alpha, b, beta = 8.0, 1.5, 2.0, 0.1
    exact = a / alpha * (1 - math.exp(-alpha * 24)) + b / beta * (1 - math.exp(-beta * 24))
    errors = []
    for dt in (0.1, 0.05):
        t = np.arange(0.0, 24 + dt / 2, dt)
        c = a * np.exp(-alpha * t) + b * np.exp(-beta * t)
        res = compute_nca(t, c, time_unit="h", conc_unit="mg/L", intervals=["0,24 h"])
        errors.append(abs(res.get("AUCINT") - exact) / exact)
    assert errors[1] < 1e-4
    assert errors[0] / errors[1] == pytest.approx(4.0, rel=0.05)


def test_infusion_post_infusion_parameters_are_exact() -> None:
    k, cl, rate, tinf = 0.3, 2.0, 10.0, 1.0  # 1/h, L/h, mg/h, h
    css = rate / cl
    t = np.array([0.0, 0.25, 0.5, 1.0, 1.5, 2, 4, 8, 12, 24])
    c = np.where(
        t <= tinf,
        css * (1 - np.exp(-k * t)),
        css * (1 - math.exp(-k * tinf)) * np.exp(-k * (t - tinf)),
    )
    cend = css * (1 - math.exp(-k * tinf))
    res = compute_nca(
        t, c, time_unit="h", conc_unit="mg/L", dose=f"{rate * tinf} mg",
        route="intravascular", infusion_duration="60 min",
    )  # fmt: skip
    # linear-up trapezoids on the rise (what the rule gives), exact log-down afterwards
    rise = t <= tinf
    lin_rise = float(np.sum(np.diff(t[rise]) * (c[rise][1:] + c[rise][:-1]) / 2))
    lin_rise_m = float(
        np.sum(np.diff(t[rise]) * (t[rise][1:] * c[rise][1:] + t[rise][:-1] * c[rise][:-1]) / 2)
    )
    tail = cend / k
    tail_m = cend * (tinf / k + 1 / k**2)
    auc = lin_rise + tail
    aumc = lin_rise_m + tail_m
    _check(
        res,
        {
            "CMAX": cend, "TMAX": tinf, "LAMZ": k, "LAMZNPT": 6, "R2": 1.0,
            "AUCIFO": auc, "AUMCIFO": aumc, "MRTIVIFO": aumc / auc - tinf / 2,
            "CLO": rate * tinf / auc, "VZO": rate * tinf / (k * auc),
        },
    )  # fmt: skip
    # the linear rise underestimates a concave rise: CL is biased high, by < 1 % here
    assert 0 < res.get("CLO") / cl - 1 < 0.01
    # from the end of the infusion on, AUC is exact
    post = compute_nca(t, c, time_unit="h", conc_unit="mg/L", intervals=[Interval(tinf)])
    assert post.get("AUCIFO") == pytest.approx(tail, rel=REL)


def test_multiple_dose_steady_state_interval() -> None:
    c0, k, tau, dose = 10.0, 0.2, 12.0, 50.0
    r = math.exp(-k * tau)
    rel = np.array([0.0, 0.5, 1, 2, 4, 6, 8, 12])
    t_obs = 120 + rel
    c_obs = c0 * np.exp(-k * rel) / (1 - r)
    c_obs[-1] = c0 * r / (1 - r)  # trough, sampled just before the 132 h dose
    dose_times = np.arange(0.0, 133.0, tau)
    cols = {
        "ID": ["1"] * (t_obs.size + dose_times.size),
        "TIME_h": [*t_obs, *dose_times],
        "CONC_mg_L": [*c_obs, *["."] * dose_times.size],
        "AMT_mg": [*[0.0] * t_obs.size, *[dose] * dose_times.size],
    }
    res = compute_nca(cols, intervals=[Interval(120.0, 132.0, tau=True)])
    cmax, cmin = c0 / (1 - r), c0 * r / (1 - r)
    cavg = c0 / (k * tau)
    _check(
        res,
        {
            "CMAX": cmax, "TMAX": 0.0, "CMIN": cmin, "TMIN": 12.0, "CTROUGH": cmin,
            "AUCTAU": c0 / k, "AUCINT": c0 / k, "AUCLST": c0 / k, "CAVG": cavg,
            "FLUCP": 100 * (cmax - cmin) / cavg, "CLFTAU": dose / (c0 / k), "LAMZ": k,
        },
    )  # fmt: skip
