"""Uncertainty of the posterior mode: Laplace covariance and sampling-importance-resampling.

Owns the curvature of the OFV at the mode (central finite differences, all subjects and
stencil points as rows of one prediction call) and the two posterior approximations built on it:

- Laplace: ``eta | y ~ N(eta_hat, C)`` with ``C = (H / 2)^-1 = 2 H^-1``, ``H`` the Hessian of
  OFV = -2 log posterior (Tierney L, Kadane JB. J Am Stat Assoc 1986;81:82-86.
  doi:10.1080/01621459.1986.10478240);
- SIR: ``M`` proposals per subject from a defensive mixture, 80 % a multivariate t (5 degrees of
  freedom) centred at the mode with scale ``2 C`` and 20 % the prior, importance weights
  ``exp(-OFV / 2) / q``, and ``m = M / 5`` draws resampled with replacement (Rubin DB. J Am Stat
  Assoc 1987;82:543-546; the proposal widened as in Dosne AG et al. J Pharmacokinet
  Pharmacodyn 2016;43:583-596. doi:10.1007/s10928-016-9487-8). Resampling without
  replacement was tried and widened the intervals (over-coverage with a wide proposal), so it is
  not used. Seeded through an explicit ``numpy.random.Generator``.

It does not choose the mode (:mod:`ketasim.estimation.map`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import special

__all__ = ["SirSample", "compute_hessian", "compute_laplace_covariance", "sample_sir"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
OfvFn = Callable[[FloatArray, IntArray], FloatArray]

_T_DF = 5.0


def compute_hessian(ofv: OfvFn, eta: FloatArray, *, step: float = 1e-3) -> FloatArray:
    """Hessian of each subject's OFV at ``eta`` by central differences, O(step^2).

    ``H_ii = (F(+i) - 2 F0 + F(-i)) / h^2`` and
    ``H_ij = (F(+i+j) + F(-i-j) - F(+i) - F(-i) - F(+j) - F(-j) + 2 F0) / (2 h^2)``:
    ``K (K + 1) + 1`` evaluations per subject, all in one call of ``ofv``.

    Parameters
    ----------
    ofv : callable (etas (B, K), subjects (B,)) -> (B,)
    eta : ndarray (N, K)
    step : float

    Returns
    -------
    ndarray (N, K, K)

    Examples
    --------
    >>> A = np.array([[2.0, 0.5], [0.5, 1.0]])
    >>> H = compute_hessian(lambda e, s: np.einsum("bk,kl,bl->b", e, A, e), np.ones((1, 2)))
    >>> np.allclose(H[0], 2 * A)
    True
    """
    N, K = eta.shape
    h = step
    offsets = [np.zeros(K)]
    for i in range(K):
        for sgn in (1.0, -1.0):
            o = np.zeros(K)
            o[i] = sgn * h
            offsets.append(o)
    pairs = [(i, j) for i in range(K) for j in range(i + 1, K)]
    for i, j in pairs:
        for sgn in (1.0, -1.0):
            o = np.zeros(K)
            o[i] = o[j] = sgn * h
            offsets.append(o)
    off = np.asarray(offsets)  # (P, K)
    P = off.shape[0]
    values = ofv(
        (eta[:, None, :] + off[None]).reshape(N * P, K), np.repeat(np.arange(N), P)
    ).reshape(N, P)
    f0 = values[:, 0]
    fp = values[:, 1 : 1 + 2 * K : 2]
    fm = values[:, 2 : 2 + 2 * K : 2]
    H = np.zeros((N, K, K))
    idx = np.arange(K)
    H[:, idx, idx] = (fp - 2.0 * f0[:, None] + fm) / h**2
    base = 1 + 2 * K
    for n, (i, j) in enumerate(pairs):
        fpp, fmm = values[:, base + 2 * n], values[:, base + 2 * n + 1]
        hij = (fpp + fmm - fp[:, i] - fm[:, i] - fp[:, j] - fm[:, j] + 2.0 * f0) / (2.0 * h**2)
        H[:, i, j] = H[:, j, i] = hij
    return H


def compute_laplace_covariance(
    hessian: FloatArray, fallback: FloatArray
) -> tuple[FloatArray, BoolArray]:
    """Posterior covariance ``2 H^-1`` of each subject; ``fallback`` where ``H`` is not PD.

    Returns
    -------
    (cov (N, K, K), used_fallback (N,))
    """
    N = hessian.shape[0]
    cov = np.empty_like(hessian)
    bad = np.zeros(N, dtype=bool)
    for i in range(N):
        Hs = 0.5 * (hessian[i] + hessian[i].T)
        try:
            L = np.linalg.cholesky(Hs)
        except np.linalg.LinAlgError:
            bad[i] = True
            Hs = fallback[i]
            L = np.linalg.cholesky(Hs)
        inv_l = np.linalg.inv(L)
        cov[i] = 2.0 * inv_l.T @ inv_l
    return cov, bad


@dataclass(frozen=True)
class SirSample:
    """Resampled posterior draws of each subject's ETAs.

    Attributes
    ----------
    draws : ndarray (N, m, K)
    ess : ndarray (N,)
        Effective sample size of the importance weights, ``(sum w)^2 / sum w^2``, of ``M``.
    n_proposals : int
    """

    draws: FloatArray
    ess: FloatArray
    n_proposals: int


def sample_sir(
    ofv: OfvFn,
    eta: FloatArray,
    cov: FloatArray,
    n_resample: int,
    rng: np.random.Generator,
    *,
    prior_cov: FloatArray | None = None,
    inflation: float = 2.0,
    chunk_rows: int = 200_000,
) -> SirSample:
    """Sampling-importance-resampling of each subject's posterior (see module docstring).

    Parameters
    ----------
    ofv : callable (etas (B, K), subjects (B,)) -> (B,)
    eta, cov : ndarray (N, K), (N, K, K)
        Mode and Laplace covariance.
    n_resample : int
        ``m`` draws kept per subject; ``M = 5 m`` proposals are made.
    rng : numpy.random.Generator
    inflation : float
        The t proposal's scale is ``inflation * cov``.
    prior_cov : ndarray (K, K), optional
        When given, a defensive mixture: 20 % of the proposals come from the prior
        ``N(0, prior_cov)``, so that a second posterior mode far from the first (seen with
        sparse early sampling of 2-compartment models) is reached (Hesterberg T. Weighted
        average importance sampling and defensive mixture distributions. Technometrics
        1995;37:185-194. doi:10.1080/00401706.1995.10484303).
    """
    N, K = eta.shape
    M = 5 * n_resample
    L = np.asarray(np.linalg.cholesky(inflation * cov), dtype=float)
    z = rng.standard_normal((N, M, K))
    chi = rng.chisquare(_T_DF, size=(N, M))
    u = z / np.sqrt(chi / _T_DF)[..., None]
    props = eta[:, None, :] + np.einsum("nkl,nml->nmk", L, u)
    alpha = 0.2 if prior_cov is not None else 0.0
    if prior_cov is not None:
        Lp = np.asarray(np.linalg.cholesky(prior_cov), dtype=float)
        from_prior = rng.random((N, M)) < alpha
        zp = rng.standard_normal((N, M, K)) @ Lp.T
        props = np.where(from_prior[..., None], zp, props)
    log_q = _log_t_density(props, eta, L)
    if prior_cov is not None:
        log_prior = _log_normal_density(props, np.asarray(Lp, dtype=float))
        log_q = np.logaddexp(np.log1p(-alpha) + log_q, np.log(alpha) + log_prior)
    flat = props.reshape(N * M, K)
    subj = np.repeat(np.arange(N), M)
    vals = np.empty(N * M)
    for a in range(0, N * M, chunk_rows):
        sl = slice(a, min(N * M, a + chunk_rows))
        vals[sl] = ofv(flat[sl], subj[sl])
    log_w = -0.5 * vals.reshape(N, M) - log_q
    log_w = np.where(np.isfinite(log_w), log_w, -np.inf)
    log_w -= special.logsumexp(log_w, axis=1, keepdims=True)
    w = np.exp(log_w)
    ess = 1.0 / np.sum(w**2, axis=1)
    draws = np.empty((N, n_resample, K))
    for i in range(N):
        pick = rng.choice(M, size=n_resample, replace=True, p=w[i] / w[i].sum())
        draws[i] = props[i, pick]
    return SirSample(draws=draws, ess=ess, n_proposals=M)


def _log_t_density(x: FloatArray, mu: FloatArray, L: FloatArray) -> FloatArray:
    """Log density of multivariate t (``_T_DF`` d.o.f.), location ``mu`` (N, K), scale L L'."""
    K = x.shape[-1]
    u = np.linalg.solve(L[:, None], (x - mu[:, None, :])[..., None])[..., 0]
    maha = np.einsum("nmk,nmk->nm", u, u)
    log_det = np.sum(np.log(np.diagonal(L, axis1=1, axis2=2)), axis=1)[:, None]
    const = (
        special.gammaln((_T_DF + K) / 2)
        - special.gammaln(_T_DF / 2)
        - 0.5 * K * np.log(_T_DF * np.pi)
    )
    return np.asarray(const - log_det - 0.5 * (_T_DF + K) * np.log1p(maha / _T_DF))


def _log_normal_density(x: FloatArray, L: FloatArray) -> FloatArray:
    """Log density of ``N(0, L L')`` at ``x`` (N, M, K)."""
    K = x.shape[-1]
    u = np.linalg.solve(L, x.reshape(-1, K).T).T.reshape(x.shape)
    maha = np.einsum("nmk,nmk->nm", u, u)
    return np.asarray(-0.5 * maha - np.sum(np.log(np.diag(L))) - 0.5 * K * np.log(2.0 * np.pi))
