"""AUC rules: linear, lin-up/log-down, lin-log, log1p-safe log-down, partial AUCs."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ketasim.errors import ParameterError
from ketasim.nca.auc import (
    check_method,
    compute_auc_interval,
    compute_auc_last,
    compute_aumc_last,
    compute_segment_areas,
    interpolate_conc,
)


def test_log_down_segment_keeps_precision_when_concentrations_nearly_equal() -> None:
    # (c0 - c1)/ln(c0/c1) cancels for c1 -> c0; the log1p form gives c0 * (1 - x/2 + ...)
    c0, c1 = 1.0, 1.0 - 1e-13
    area = compute_segment_areas(np.array([0.0, 1.0]), np.array([c0, c1]))[0]
    assert area == pytest.approx(1.0 - 0.5e-13, rel=1e-15)


def test_linear_method_never_uses_logs() -> None:
    t, c = np.array([0.0, 1.0]), np.array([4.0, 2.0])
    assert compute_segment_areas(t, c, "linear")[0] == 3.0


def test_lin_log_is_linear_before_tmax_and_log_after() -> None:
    t, c = np.array([0.0, 1.0, 2.0, 3.0]), np.array([1.0, 2.0, 4.0, 2.0])
    seg = compute_segment_areas(t, c, "lin-log")
    assert seg[0] == 1.5 and seg[1] == 3.0
    assert seg[2] == pytest.approx(2.0 / math.log(2), rel=1e-14)


def test_log_down_not_used_into_zero() -> None:
    seg = compute_segment_areas(np.array([0.0, 2.0]), np.array([3.0, 0.0]))
    assert seg[0] == 3.0


def test_aumc_log_segment_is_exact_for_an_exponential() -> None:
    k, t = 0.7, np.array([1.0, 3.0])
    c = np.exp(-k * t)
    exact = (t[0] / k + 1 / k**2) * c[0] - (t[1] / k + 1 / k**2) * c[1]
    got = compute_segment_areas(t, c, moment=True)[0]
    assert got == pytest.approx(exact, rel=1e-13)


def test_auc_last_of_all_zero_profile_is_zero() -> None:
    assert compute_auc_last(np.array([0.0, 1.0]), np.zeros(2)).value == 0.0


def test_auc_last_with_one_sample_to_tlast_is_nan_with_reason() -> None:
    e = compute_auc_last(np.array([0.0, 1.0]), np.array([5.0, 0.0]))
    assert math.isnan(e.value) and "one sample" in e.reason


def test_aumc_last_stops_at_tlast() -> None:
    t, c = np.array([0.0, 1.0, 2.0]), np.array([2.0, 2.0, 0.0])
    assert compute_aumc_last(t, c, "linear").value == 1.0


def test_interpolation_is_log_linear_on_a_log_segment() -> None:
    t, c = np.array([0.0, 2.0]), np.array([4.0, 1.0])
    assert interpolate_conc(t, c, 1.0) == pytest.approx(2.0, rel=1e-15)
    assert interpolate_conc(t, c, 1.0, "linear") == 2.5


def test_partial_auc_extrapolates_past_tlast_with_lambda_z() -> None:
    t = np.array([0.0, 1.0, 2.0])
    c = np.exp(-t)
    e = compute_auc_interval(t, c, 1.5, 4.0, lambda_z=1.0)
    assert e.value == pytest.approx(math.exp(-1.5) - math.exp(-4.0), rel=1e-13)


def test_partial_auc_past_tlast_without_lambda_z_is_nan_with_reason() -> None:
    e = compute_auc_interval(np.array([0.0, 1.0]), np.array([2.0, 1.0]), 0.0, 3.0)
    assert math.isnan(e.value) and "needs lambda_z" in e.reason


def test_partial_auc_before_first_sample_is_nan_with_reason() -> None:
    e = compute_auc_interval(np.array([1.0, 2.0]), np.array([2.0, 1.0]), 0.0, 2.0)
    assert math.isnan(e.value) and "before the first sample" in e.reason


def test_unknown_method_is_refused() -> None:
    with pytest.raises(ParameterError, match="AUC method 'spline'"):
        check_method("spline")


def test_pknca_spelling_of_the_method_is_accepted() -> None:
    assert check_method("lin up/log down") == "lin-up/log-down"
