"""The batched optimiser and the Laplace covariance against closed forms (linear-Gaussian)."""

from __future__ import annotations

import numpy as np
import pytest

from ketasim.estimation import ResidualModel, fit_map
from ketasim.estimation.map import minimise_map
from ketasim.estimation.uncertainty import compute_hessian, compute_laplace_covariance
from ketasim.events import Dataset
from ketasim.library import load_model


def test_map_of_linear_gaussian_objective_equals_closed_form() -> None:
    # y_i = X_i eta + e, e ~ N(0, s^2 I), eta ~ N(0, Omega): mode = (X'X/s^2 + Om^-1)^-1 X'y/s^2
    rng = np.random.default_rng(7)
    N, M, K, s = 30, 5, 3, 0.3
    X = rng.normal(size=(N, M, K))
    om = np.array([[0.5, 0.2, 0.0], [0.2, 0.4, 0.1], [0.0, 0.1, 0.3]])
    y = rng.normal(size=(N, M))
    P = np.linalg.inv(om)

    def predict(e: np.ndarray, sub: np.ndarray) -> np.ndarray:
        return np.einsum("bmk,bk->bm", X[sub], e)

    def terms(f: np.ndarray, sub: np.ndarray) -> tuple[np.ndarray, ...]:
        r = y[sub] - f
        return r**2 / s**2, -2 * r / s**2, np.full_like(f, 2 / s**2)

    est = minimise_map(predict, terms, P, N, tol=1e-14)
    prec = np.einsum("nmk,nml->nkl", X, X) / s**2 + P
    exact = np.linalg.solve(prec, np.einsum("nmk,nm->nk", X, y)[..., None] / s**2)[..., 0]
    np.testing.assert_allclose(est.eta, exact, atol=1e-7)
    assert est.converged.all()

    def ofv(e: np.ndarray, sub: np.ndarray) -> np.ndarray:
        f = predict(e, sub)
        return ((y[sub] - f) ** 2).sum(1) / s**2 + np.einsum("bk,kl,bl->b", e, P, e)

    cov, fallback = compute_laplace_covariance(compute_hessian(ofv, est.eta), est.fisher)
    np.testing.assert_allclose(cov, np.linalg.inv(prec), rtol=1e-6)
    assert not fallback.any()


def test_fit_of_log_linear_case_equals_closed_form() -> None:
    # herd_2007, samples right after an IV bolus: C(0+) = dose / V1 with V1 = TVV1 exp(ETA_V1),
    # so log C = log(dose / TVV1) - ETA_V1 is linear in ETA_V1; exponential error (SD s) makes
    # the posterior of ETA_V1 Gaussian (precision n/s^2 + 1/omega) and the other ETAs keep the
    # prior (they do not act at t = 0).
    spec = load_model("herd_2007")
    s, dose, wt = 0.2, 50.0, 70.0
    y_ng = np.array([1500.0, 1200.0, 1800.0])
    ds = Dataset(
        {
            "ID": [1.0] * 4,
            "TIME": [0.0] * 4,
            "AMT": [dose, 0, 0, 0],
            "EVID": [1, 0, 0, 0],
            "DV": [0.0, *y_ng],
            "WT": [wt] * 4,
        }
    )
    fit = fit_map(
        spec, ds, dv_unit="ng/mL", residual={"ketamine": ResidualModel("exponential", log_sd=s)}
    )
    om = spec.iiv.matrix if spec.iiv else np.zeros((4, 4))
    z = np.log(y_ng / 1000.0) - np.log(dose / 38.7)  # TVV1 = 38.7 L at 70 kg (Herd 2007)
    prec = len(y_ng) / s**2 + 1 / om[0, 0]
    assert fit.eta[0, 0] == pytest.approx(-z.sum() / s**2 / prec, abs=1e-6)
    np.testing.assert_allclose(fit.eta[0, 1:], 0.0, atol=1e-6)
    expected = np.diag([1 / prec, om[1, 1], om[2, 2], om[3, 3]])
    np.testing.assert_allclose(fit.cov[0], expected, rtol=1e-5, atol=1e-8)
