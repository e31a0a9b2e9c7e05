"""lambda_z: PKNCA's rule in order, user override, every excluded point with its reason."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ketasim.errors import ParameterError
from ketasim.nca.lambda_z import compute_lambda_z


def test_fewer_than_three_points_after_tmax_is_nan_with_reason() -> None:
    fit = compute_lambda_z(np.array([0.0, 1, 2, 3]), np.array([0.0, 4, 2, 1]))
    assert math.isnan(fit.lambda_z)
    assert fit.reason == "fewer than 3 points above zero/LLOQ after Tmax (2 found)"


def test_tmax_point_is_excluded_by_default_and_allowed_on_request() -> None:
    t, c = np.array([0.0, 1, 2, 3]), np.array([8.0, 4, 2, 1])
    assert compute_lambda_z(t, c).n_points == 3
    assert compute_lambda_z(t, c, allow_tmax=True).n_points == 4


def test_most_points_wins_among_fits_within_tolerance() -> None:
    t = np.arange(0.0, 8.0)
    c = 16 * np.exp(-0.5 * t)
    assert compute_lambda_z(t, c).n_points == 7


def test_distribution_phase_is_left_out_by_adjusted_r2() -> None:
    t = np.array([0.0, 0.5, 1, 2, 12, 16, 24, 36])
    c = 20 * np.exp(-2.0 * t) + np.exp(-0.1 * t)
    fit = compute_lambda_z(t, c)
    assert fit.t_first == 12 and fit.lambda_z == pytest.approx(0.1, rel=1e-9)
    reasons = dict(fit.excluded)
    assert reasons[2.0] == "earlier than the chosen terminal span (best adjusted R^2 rule)"
    assert reasons[0.0] == "at Tmax"


def test_zero_concentrations_are_excluded_with_reason() -> None:
    fit = compute_lambda_z(np.array([0.0, 1, 2, 3, 4, 5]), np.array([0.0, 8, 4, 2, 1, 0]))
    assert dict(fit.excluded)[5.0] == "zero or BLQ concentration"
    assert fit.n_points == 3


def test_rising_terminal_phase_gives_no_acceptable_span() -> None:
    fit = compute_lambda_z(np.arange(5.0), np.array([10.0, 1, 1.1, 1.2, 1.3]), allow_tmax=True)
    assert math.isnan(fit.lambda_z) and "no span with lambda_z > 0" in fit.reason


def test_constant_terminal_concentrations_have_no_variability() -> None:
    fit = compute_lambda_z(np.arange(5.0), np.array([9.0, 2, 2, 2, 2]))
    assert fit.reason == "no variability in the terminal concentrations"


def test_user_points_override_the_rule() -> None:
    t = np.arange(0.0, 6.0)
    c = np.array([0.0, 10, 5, 3, 1.5, 0.7])
    fit = compute_lambda_z(t, c, points=[1.0, 2.0])
    assert fit.manual and fit.n_points == 2
    assert fit.lambda_z == pytest.approx(math.log(2), rel=1e-14)
    assert math.isnan(fit.adj_r2)
    assert dict(fit.excluded)[3.0] == "not among the user-selected points"


def test_user_point_that_is_not_a_sample_is_refused() -> None:
    with pytest.raises(ParameterError, match=r"time 2\.5 is not a sample time"):
        compute_lambda_z(np.arange(4.0), np.array([1.0, 4, 2, 1]), points=[2.5, 3.0])


def test_user_points_rising_give_nan_with_reason() -> None:
    fit = compute_lambda_z(np.arange(4.0), np.array([1.0, 2, 3, 4]), points=[1.0, 2.0, 3.0])
    assert fit.reason == "user-selected points give lambda_z <= 0"


def test_points_during_dosing_are_excluded() -> None:
    t = np.arange(0.0, 8.0)
    c = 16 * np.exp(-0.5 * t)
    fit = compute_lambda_z(t, c, after=3.0)
    assert fit.t_first == 4.0 and fit.n_points == 4
    assert dict(fit.excluded)[3.0] == "during dosing (it ends at 3)"
