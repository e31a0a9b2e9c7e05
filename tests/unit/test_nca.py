"""NCA: Cmax/Tmax, AUC by linear-up/log-down trapezoids, terminal half-life; NaN with reasons."""

from __future__ import annotations

import numpy as np
import pytest

from ketasim.errors import ParameterError
from ketasim.nca import compute_auc, compute_cmax, compute_terminal_half_life


def test_log_down_trapezoid_is_exact_for_a_monoexponential_decline() -> None:
    t = np.array([0.0, 0.5, 2.0, 5.0, 12.0])
    c = 10.0 * np.exp(-0.3 * t)
    exact = 10.0 / 0.3 * (1 - np.exp(-0.3 * 12.0))
    assert float(compute_auc(t, c).value) == pytest.approx(exact, rel=1e-12)


def test_linear_up_trapezoid_on_rising_segment() -> None:
    t = np.array([0.0, 1.0, 2.0])
    c = np.array([0.0, 2.0, 4.0])
    assert float(compute_auc(t, c).value) == pytest.approx(4.0, rel=1e-14)


def test_auc_window_interpolates_its_ends() -> None:
    t = np.array([0.0, 1.0, 2.0])
    c = np.array([0.0, 2.0, 4.0])
    assert float(compute_auc(t, c, (0.5, 1.5)).value) == pytest.approx(2.0, rel=1e-14)


def test_auc_window_outside_samples_is_nan_with_reason() -> None:
    m = compute_auc(np.array([0.0, 1.0]), np.array([1.0, 0.5]), (0.0, 5.0))
    assert np.isnan(m.value) and "not inside" in m.reason


def test_cmax_and_tmax_per_subject() -> None:
    t = np.array([0.0, 1.0, 2.0, 3.0])
    c = np.array([[0.0, 3.0, 2.0, 1.0], [0.0, 1.0, 5.0, 4.0]])
    cmax, tmax = compute_cmax(t, c)
    np.testing.assert_array_equal(cmax.value, [3.0, 5.0])
    np.testing.assert_array_equal(tmax.value, [1.0, 2.0])


def test_terminal_half_life_of_an_exponential() -> None:
    t = np.linspace(0.0, 24.0, 25)
    c = 5.0 * np.exp(-np.log(2) / 6.0 * t)
    assert float(compute_terminal_half_life(t, c).value) == pytest.approx(6.0, rel=1e-10)


def test_terminal_half_life_of_rising_profile_is_nan_with_reason() -> None:
    m = compute_terminal_half_life(np.array([0.0, 1.0, 2.0]), np.array([1.0, 2.0, 3.0]))
    assert np.isnan(m.value) and "not declining" in m.reason


def test_unsorted_or_mismatched_times_are_refused() -> None:
    with pytest.raises(ParameterError, match="sorted"):
        compute_auc(np.array([1.0, 0.0]), np.array([1.0, 2.0]))
    with pytest.raises(ParameterError, match="points"):
        compute_cmax(np.array([0.0, 1.0]), np.array([1.0, 2.0, 3.0]))
