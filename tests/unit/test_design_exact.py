"""Exact per-subject exposure (ketasim.design.exact) against closed forms."""

from __future__ import annotations

import math

import numpy as np
from scipy import optimize

from ketasim.design.exact import compute_profiles, compute_time_above

KA = np.array([0.8, 1.5, 3.0, 6.0])  # 1/h, one per subject
KE, AMP = 0.3, 1.2  # 1/h, mg/L


def _curve(t, ka):
    return AMP * ka / (ka - KE) * (np.exp(-KE * t) - np.exp(-ka * t))


def _evaluate(times, sl):
    return np.stack([_curve(np.asarray(times), ka) for ka in KA[sl]])


def _profiles(step_h=2 / 60):
    grid = np.arange(0.0, 12.0 + step_h / 2, step_h)
    return compute_profiles(_evaluate, KA.size, grid, np.array([0.0]), (0.0, 12.0), chunk=3)


def test_peak_matches_closed_form_off_grid():
    prof = _profiles(step_h=0.37)  # a coarse grid: every peak falls between grid points
    tmax = np.log(KA / KE) / (KA - KE)
    exact = _curve(tmax, KA)
    assert np.max(np.abs(prof.peak_mg_per_L / exact - 1)) < 1e-9


def test_time_above_matches_closed_form_crossings():
    prof = _profiles()
    level = 0.5
    got = compute_time_above(prof, np.full(KA.size, level))
    tmax = np.log(KA / KE) / (KA - KE)
    for i, ka in enumerate(KA):
        f = lambda t, ka=ka: _curve(t, ka) - level  # noqa: E731
        up = optimize.brentq(f, 1e-9, tmax[i], xtol=1e-14)
        down = optimize.brentq(f, tmax[i], 12.0, xtol=1e-14)
        assert math.isclose(got[i], down - up, abs_tol=1e-5)  # 1e-5 h = 0.036 s


def test_time_above_zero_when_peak_below_level():
    prof = _profiles()
    assert np.all(compute_time_above(prof, np.full(KA.size, 10.0)) == 0.0)


def test_time_above_whole_window_when_level_zero():
    prof = _profiles()
    assert np.allclose(compute_time_above(prof, np.zeros(KA.size)), 12.0)


def test_auc_gauss_legendre_matches_closed_form():
    grid = np.arange(0.0, 12.01, 0.25)
    prof = compute_profiles(
        _evaluate, KA.size, grid, np.array([0.0]), (0.0, 12.0), need_auc=True, chunk=4
    )
    T = 12.0
    exact = AMP * KA / (KA - KE) * ((1 - np.exp(-KE * T)) / KE - (1 - np.exp(-KA * T)) / KA)
    assert np.max(np.abs(prof.auc_mg_h_per_L / exact - 1)) < 1e-10
