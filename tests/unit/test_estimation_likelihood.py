"""Residual error models and per-observation -2 log L terms (normal, log-normal, M3)."""

from __future__ import annotations

import numpy as np
import pytest

from ketasim.errors import ModelError, ParameterError
from ketasim.estimation.likelihood import (
    ObsErrorArrays,
    ResidualModel,
    compute_obs_terms,
    get_residual_model,
)
from ketasim.library import load_model

MODELS = (
    ResidualModel("additive", additive_mg_per_L=0.01),
    ResidualModel("proportional", proportional=0.2),
    ResidualModel("combined", additive_mg_per_L=0.01, proportional=0.15),
    ResidualModel("exponential", log_sd=0.25),
)


def _err(kind: int, n: int) -> ObsErrorArrays:
    return ObsErrorArrays.from_models(MODELS, np.full(n, kind, dtype=np.int64))


@pytest.mark.parametrize("kind", range(4))
@pytest.mark.parametrize("blq", [False, True])
def test_obs_terms_derivative_matches_finite_difference(kind: int, blq: bool) -> None:
    f = np.array([0.02, 0.1, 0.5, 1.3])
    y = np.array([0.03, 0.08, 0.6, 1.0])
    lq = np.full(4, 0.05)
    b = np.full(4, blq)
    err = _err(kind, 4)
    ell, d, w = compute_obs_terms(f, y, lq, b, err)
    h = 1e-7 * f
    ep, _, _ = compute_obs_terms(f + h, y, lq, b, err)
    em, _, _ = compute_obs_terms(f - h, y, lq, b, err)
    np.testing.assert_allclose(d, (ep - em) / (2 * h), rtol=1e-5)
    assert np.all(np.isfinite(w) & (w >= 0))


def test_obs_terms_normal_is_minus_two_log_density() -> None:
    err = _err(2, 1)
    f, y = np.array([0.4]), np.array([0.5])
    ell, _, _ = compute_obs_terms(f, y, np.array([np.nan]), np.array([False]), err)
    v = 0.01**2 + (0.15 * 0.4) ** 2
    assert ell[0] == pytest.approx((0.1**2) / v + np.log(v), rel=1e-12)


def test_obs_terms_m3_is_minus_two_log_probability_below_lloq() -> None:
    from scipy.stats import norm

    err = _err(1, 1)
    f, lq = np.array([0.1]), np.array([0.05])
    ell, _, _ = compute_obs_terms(f, np.array([0.0]), lq, np.array([True]), err)
    assert ell[0] == pytest.approx(-2 * norm.logcdf((0.05 - 0.1) / (0.2 * 0.1)), rel=1e-12)


def test_residual_model_from_file_is_combined_with_both_parts() -> None:
    r = get_residual_model(load_model("simons_2022"), "s_norketamine")
    assert r.kind == "combined" and r.proportional == 0.102


def test_residual_model_missing_in_file_is_an_error() -> None:
    with pytest.raises(ModelError, match="no residual error for ketamine"):
        get_residual_model(load_model("herd_2007"), "ketamine")


def test_residual_model_without_sd_is_refused() -> None:
    with pytest.raises(ParameterError, match="needs its SD"):
        ResidualModel("proportional", additive_mg_per_L=0.1)
