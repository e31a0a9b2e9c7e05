"""Nonlinear (Michaelis-Menten) models on the ODE path, against the Lambert-W closed form."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import lambertw

from ketasim.errors import ParameterError
from ketasim.simulate import simulate
from ketasim.spec import get_builtin_model
from tests.conftest import make_dataset, obs

TIMES = [0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0]


def test_michaelis_menten_bolus_matches_lambert_w() -> None:
    # dC/dt = -(Vmax/V) C / (Km + C): Km ln(C/C0) + C - C0 = -(Vmax/V) t, so
    # C(t) = Km W((C0/Km) exp((C0 - Vmax t / V) / Km)) (Wagner 1973; Beal 1983, J Pharmacokinet
    # Biopharm 11:641). Tolerance 1e-6: LSODA at rtol 1e-10.
    v, vmax, km, dose = 20.0, 30.0, 2.0, 200.0
    ds = make_dataset([{"TIME": 0, "AMT": dose, "EVID": 1}, *obs(TIMES)])
    res = simulate(get_builtin_model("pk1_mm"), ds, params=dict(V=v, VMAX=vmax, KM=km))
    c0 = dose / v
    t = np.array(TIMES)
    expected = km * lambertw((c0 / km) * np.exp((c0 - vmax * t / v) / km)).real
    np.testing.assert_allclose(res.cp[1:], expected, rtol=1e-6)


def test_michaelis_menten_far_below_km_is_linear() -> None:
    # C << Km: elimination is first order with CL = Vmax/Km; relative difference ~ C/Km
    ds = make_dataset([{"TIME": 0, "AMT": 1.0, "EVID": 1, "RATE": 2.0}, *obs(TIMES)])
    mm = simulate(get_builtin_model("pk1_mm"), ds, params=dict(V=20, VMAX=5e5, KM=1e5))
    lin = simulate(get_builtin_model("pk1"), ds, params=dict(V=20, CL=5.0))
    np.testing.assert_allclose(mm.cp, lin.cp, rtol=1e-5, atol=1e-12)


def test_exact_method_refused_for_nonlinear_model() -> None:
    ds = make_dataset([{"TIME": 0, "AMT": 1.0, "EVID": 1}, *obs(TIMES)])
    with pytest.raises(ParameterError, match="saturable"):
        simulate(get_builtin_model("pk1_mm"), ds, params=dict(V=20, VMAX=5, KM=1), method="exact")
