"""Exact solver against textbook closed forms (1-, 2-, 3-compartment; bolus, infusion, oral).

Tolerance 1e-9 relative: both sides are exact formulas in double precision; the closed forms use
polynomial roots (np.roots) for the exponents, independent of the solver's matrix eigenvalues.

References: Gibaldi M, Perrier D. Pharmacokinetics, 2nd ed. (1982), ch. 2-3 (bi- and
tri-exponential disposition, infusion and first-order absorption by superposition).
"""

from __future__ import annotations

import numpy as np
import pytest

from ketasim.simulate import simulate
from ketasim.spec import get_builtin_model
from tests.conftest import make_dataset, obs

TIMES = np.array([0.05, 0.3, 1.0, 2.0, 2.5, 4.0, 7.0, 12.0, 24.0, 48.0])
RTOL = 1e-9


def _disposition(k10: float, k12: float, k21: float, k13: float = 0.0, k31: float = 0.0):
    """Exponents lam_i and unit-bolus coefficients c_i of C(t) = sum c_i exp(-lam_i t) / V."""
    if k13 == 0.0 and k12 == 0.0:
        return np.array([k10]), np.array([1.0])
    if k13 == 0.0:
        lam = np.sort(np.roots([1.0, k10 + k12 + k21, k10 * k21]).real * -1)
        lam = np.abs(lam)
        c = np.array([(k21 - lam[0]) / (lam[1] - lam[0]), (k21 - lam[1]) / (lam[0] - lam[1])])
        return lam, c
    a2 = k10 + k12 + k13 + k21 + k31
    a1 = k10 * k21 + k10 * k31 + k12 * k31 + k13 * k21 + k21 * k31
    a0 = k10 * k21 * k31
    lam = np.sort(np.abs(np.roots([1.0, a2, a1, a0]).real))
    c = np.array(
        [(k21 - li) * (k31 - li) / np.prod([lj - li for lj in lam if lj != li]) for li in lam]
    )
    return lam, c


def _bolus(lam, c, dose, v, t):
    return dose / v * np.sum(c[:, None] * np.exp(-lam[:, None] * t), axis=0)


def _infusion(lam, c, rate, tinf, v, t):
    def f(tt):
        tt = np.maximum(tt, 0.0)
        return (
            rate / v * np.sum(c[:, None] / lam[:, None] * (1 - np.exp(-lam[:, None] * tt)), axis=0)
        )

    return f(t) - f(t - tinf)


def _oral(lam, c, dose, f_bio, ka, v, t):
    terms = c[:, None] * (np.exp(-lam[:, None] * t) - np.exp(-ka * t)) / (ka - lam[:, None])
    return f_bio * dose * ka / v * np.sum(terms, axis=0)


MODELS = {
    "pk1": dict(CL=5.0, V1=20.0),
    "pk2": dict(CL=5.0, V1=20.0, Q2=12.0, V2=60.0),
    "pk3": dict(CL=5.0, V1=20.0, Q2=12.0, V2=60.0, Q3=1.5, V3=150.0),
}


def _micro(p):
    v = p["V1"]
    k = dict(
        k10=p["CL"] / v,
        k12=p.get("Q2", 0.0) / v,
        k21=p.get("Q2", 0.0) / p.get("V2", 1.0),
        k13=p.get("Q3", 0.0) / v,
        k31=p.get("Q3", 0.0) / p.get("V3", 1.0),
    )
    return _disposition(**k)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_bolus_matches_closed_form(name: str) -> None:
    p = MODELS[name]
    ds = make_dataset([{"TIME": 0, "AMT": 100, "EVID": 1}, *obs(TIMES)])
    res = simulate(get_builtin_model(name), ds, params=p)
    lam, c = _micro(p)
    np.testing.assert_allclose(res.cp[1:], _bolus(lam, c, 100, p["V1"], TIMES), rtol=RTOL)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_infusion_matches_closed_form(name: str) -> None:
    p = MODELS[name]
    ds = make_dataset([{"TIME": 0, "AMT": 100, "RATE": 40, "EVID": 1}, *obs(TIMES)])
    res = simulate(get_builtin_model(name), ds, params=p)
    lam, c = _micro(p)
    np.testing.assert_allclose(res.cp[1:], _infusion(lam, c, 40.0, 2.5, p["V1"], TIMES), rtol=RTOL)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_first_order_absorption_matches_closed_form(name: str) -> None:
    p = dict(MODELS[name], KA=1.3, F1=0.7)
    ds = make_dataset([{"TIME": 0, "AMT": 100, "EVID": 1, "CMT": 1}, *obs(TIMES, CMT=2)])
    res = simulate(get_builtin_model(f"{name}_depot"), ds, params=p)
    lam, c = _micro(MODELS[name])
    expected = _oral(lam, c, 100, 0.7, 1.3, p["V1"], TIMES)
    np.testing.assert_allclose(res.cp[1:], expected, rtol=RTOL)


def test_absorption_equal_to_elimination_rate_uses_defective_path() -> None:
    # KA == k10 makes the rate matrix defective; the closed form is F D k t exp(-k t) / V
    p = dict(CL=5.0, V1=20.0, KA=0.25)
    ds = make_dataset([{"TIME": 0, "AMT": 100, "EVID": 1}, *obs(TIMES)])
    res = simulate(get_builtin_model("pk1_depot"), ds, params=p)
    k = 0.25
    np.testing.assert_allclose(res.cp[1:], 100 * k * TIMES * np.exp(-k * TIMES) / 20.0, rtol=RTOL)


def test_micro_constants_equal_clearances() -> None:
    p = MODELS["pk3"]
    ds = make_dataset([{"TIME": 0, "AMT": 100, "RATE": 40, "EVID": 1}, *obs(TIMES)])
    micro = dict(V1=20.0, K10=0.25, K12=0.6, K21=0.2, K13=0.075, K31=0.01)
    a = simulate(get_builtin_model("pk3"), ds, params=p).cp
    b = simulate(get_builtin_model("pk3"), ds, params=micro).cp
    np.testing.assert_allclose(a, b, rtol=1e-12)


def test_domino_reference_values_issue_2() -> None:
    # Issue 2 "numbers to beat": Domino racemic ketamine, 70 kg, 35 mg over 10 min; exact Cp (mg/L)
    # printed to 5 significant figures, hence 5e-5 relative tolerance (rounding of the reference).
    times_min = [1, 5, 10, 15, 30, 60, 120]
    ref = [0.40209, 0.62135, 0.72724, 0.17117, 0.06754, 0.04705, 0.03265]
    ds = make_dataset([{"TIME": 0, "AMT": 35, "RATE": 3.5, "EVID": 1}, *obs(times_min)])
    micro = dict(V1=0.063 * 70, K10=0.4381, K12=0.5921, K13=0.5900, K21=0.2470, K31=0.0146)
    res = simulate(get_builtin_model("pk3"), ds, params=micro)
    np.testing.assert_allclose(res.cp[1:], ref, rtol=5e-5, atol=5e-6)
