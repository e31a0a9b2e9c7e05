"""Posterior mode of the ETAs of many subjects at once (batched damped Fisher scoring).

Owns the optimiser. For subject ``i`` it minimises

    OFV_i(eta) = sum_j ell_ij(f_ij(eta)) + eta' P eta,        P = (c Omega)^-1

where ``ell_ij`` is -2 log L of observation ``j`` (:mod:`ketasim.estimation.likelihood`), ``f``
the prediction and ``c`` the prior scale (``c > 1`` flattens, or tempers, the prior; SEE:
nlmixr2 issue #609). ``OFV / 2`` is the negative log posterior up to a constant, so the minimum
is the maximum a posteriori (MAP, "POSTHOC") estimate.

Method: a Levenberg-Marquardt-damped quasi-Newton iteration started from Fisher scoring. With
the Jacobian ``J = df/deta`` (forward differences, all subjects and directions as rows of one
prediction call), the gradient is ``g = J' ell' + 2 P eta``; the first curvature is the expected
information ``H = J' diag(w) J + 2 P`` (``w`` > 0), later ones its BFGS updates (Nocedal J,
Wright SJ. Numerical Optimization, 2nd ed. 2006, eq. 6.19), which recover the second-order term
that Fisher scoring lacks (without it, steps overshoot along stiff directions such as V1 and
converge only linearly). A step solves ``(H + lambda diag H) delta = -g``; it is kept if the OFV
does not rise (then ``lambda /= 10``), otherwise ``lambda *= 10`` (Marquardt DW. J Soc Ind Appl
Math 1963;11:431-441. doi:10.1137/0111030). Each subject stops on its own when the
Newton decrement ``g' H^-1 g`` falls below ``tol`` (the OFV is then within about ``tol / 2`` of
its minimum); converged subjects drop out of later prediction calls.

It does not compute uncertainty (:mod:`ketasim.estimation.uncertainty`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = ["MapEstimate", "minimise_map"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

_MAX_STEP = 3.0
PredictFn = Callable[[FloatArray, IntArray], FloatArray]
TermsFn = Callable[[FloatArray, IntArray], tuple[FloatArray, FloatArray, FloatArray]]


@dataclass(frozen=True)
class MapEstimate:
    """Posterior modes and optimiser diagnostics.

    Attributes
    ----------
    eta : ndarray (n_subjects, n_eta), dimensionless
    ofv : ndarray (n_subjects,)
        -2 log posterior at the mode (without constants).
    converged : ndarray of bool (n_subjects,)
    n_iter : ndarray of int (n_subjects,)
    fisher : ndarray (n_subjects, n_eta, n_eta)
        Expected-information curvature of the OFV at the mode.
    n_predictions : int
        Rows (subject x ETA vectors) predicted in total.
    """

    eta: FloatArray
    ofv: FloatArray
    converged: BoolArray
    n_iter: IntArray
    fisher: FloatArray
    n_predictions: int


def minimise_map(
    predict: PredictFn,
    terms: TermsFn,
    precision: FloatArray,
    n_subjects: int,
    *,
    eta_bound: FloatArray | None = None,
    max_iter: int = 100,
    tol: float = 1e-9,
    fd_step: float = 1e-6,
) -> MapEstimate:
    """Minimise ``sum ell(f(eta)) + eta' P eta`` for every subject, batched.

    Parameters
    ----------
    predict : callable (etas (B, K), subjects (B,)) -> f (B, M)
        Predictions of each row's subject; padding columns must be constant.
    terms : callable (f (B, M), subjects (B,)) -> (ell, ell', w), each (B, M)
        Per-observation -2 log L, its derivative and a positive curvature; 0 in the padding.
    precision : ndarray (K, K)
        Prior precision ``P`` (the inverse of the, possibly scaled, omega).
    n_subjects : int
    eta_bound : ndarray (K,), optional
        Trial ETAs are clipped to ``+-eta_bound`` (keeps parameters finite; the default,
        10 prior SDs, is far outside any posterior).
    max_iter, tol, fd_step
        Iteration limit per subject, Newton-decrement tolerance, forward-difference step.

    Returns
    -------
    MapEstimate

    Examples
    --------
    A linear-Gaussian case, ``y = eta + e`` with ``e ~ N(0, 1)`` and ``eta ~ N(0, 1)``: the mode is
    ``y / 2``.

    >>> y = np.array([[1.0], [3.0]])
    >>> def predict(e, s): return e.copy()
    >>> def terms(f, s): return (y[s] - f) ** 2, -2 * (y[s] - f), np.full_like(f, 2.0)
    >>> est = minimise_map(predict, terms, np.eye(1), 2)
    >>> np.round(est.eta[:, 0], 4).tolist()
    [0.5, 1.5]
    """
    P = np.asarray(precision, dtype=float)
    K = P.shape[0]
    N = int(n_subjects)
    bound = 10.0 / np.sqrt(np.diag(P)) if eta_bound is None else np.asarray(eta_bound, float)
    everyone = np.arange(N, dtype=np.int64)
    eta = np.zeros((N, K))
    f = predict(eta, everyone)
    n_pred = N
    ell, d, w = terms(f, everyone)
    ofv = ell.sum(axis=1)
    lam = np.full(N, 1e-6)
    need = np.ones(N, dtype=bool)
    done = np.zeros(N, dtype=bool)
    conv = np.zeros(N, dtype=bool)
    n_iter = np.zeros(N, dtype=np.int64)
    g = np.zeros((N, K))
    H = np.zeros((N, K, K))
    fisher = np.zeros((N, K, K))
    s_last = np.zeros((N, K))
    first = np.ones(N, dtype=bool)
    last_dec = np.full(N, np.inf)
    eye = np.eye(K)
    for _ in range(max_iter):
        rows = np.flatnonzero(~done & need)
        if rows.size:
            f_plus = predict(
                np.repeat(eta[rows], K, axis=0) + np.tile(fd_step * eye, (rows.size, 1)),
                np.repeat(rows, K),
            )
            n_pred += rows.size * K
            M = f.shape[1]
            J = (f_plus.reshape(rows.size, K, M) - f[rows][:, None, :]) / fd_step
            g_new = np.einsum("nkm,nm->nk", J, d[rows]) + 2.0 * eta[rows] @ P
            fisher[rows] = np.einsum("nkm,nm,nlm->nkl", J, w[rows], J) + 2.0 * P
            H[rows] = _update_bfgs(
                H[rows], fisher[rows], s_last[rows], g_new - g[rows], first[rows]
            )
            g[rows] = g_new
            first[rows] = False
            dec = np.einsum(
                "nk,nk->n", g[rows], np.linalg.solve(H[rows], g[rows][..., None])[..., 0]
            )
            last_dec[rows] = dec
            fin = rows[dec < tol]
            done[fin] = conv[fin] = True
            need[rows] = False
        act = np.flatnonzero(~done)
        if act.size == 0:
            break
        Ha = H[act]
        damp = lam[act, None, None] * (np.diagonal(Ha, axis1=1, axis2=2)[:, :, None] * eye)
        step = -np.linalg.solve(Ha + damp, g[act][..., None])[..., 0]
        # NOTE: at most _MAX_STEP prior SDs (Mahalanobis) per step: far from the mode the local
        # model extrapolates wildly (first steps from eta = 0 with a large misfit)
        size = np.sqrt(np.einsum("nk,kl,nl->n", step, P, step))
        step *= np.minimum(1.0, _MAX_STEP / np.maximum(size, 1e-300))[:, None]
        trial = np.clip(eta[act] + step, -bound, bound)
        predicted = -(
            np.einsum("nk,nk->n", g[act], step) + 0.5 * np.einsum("nk,nkl,nl->n", step, Ha, step)
        )
        f_t = predict(trial, act)
        n_pred += act.size
        ell_t, d_t, w_t = terms(f_t, act)
        ofv_t = ell_t.sum(axis=1) + np.einsum("nk,kl,nl->n", trial, P, trial)
        ofv_a = ofv[act] + np.einsum("nk,kl,nl->n", eta[act], P, eta[act])
        ok = np.isfinite(ofv_t) & (ofv_t <= ofv_a)
        acc, rej = act[ok], act[~ok]
        s_last[acc] = trial[ok] - eta[acc]
        eta[acc], f[acc] = trial[ok], f_t[ok]
        ell[acc], d[acc], w[acc] = ell_t[ok], d_t[ok], w_t[ok]
        ofv[acc] = ell_t[ok].sum(axis=1)
        # gain ratio: shrink the damping after a step the local model predicted well, raise
        # it after a poor one even when accepted (Nielsen HB. IMM-REP-1999-05, DTU, 1999)
        gain = (ofv_a - ofv_t)[ok] / np.maximum(predicted[ok], 1e-300)
        lam[acc] = np.where(
            gain > 0.75,
            np.maximum(lam[acc] / 10.0, 1e-12),
            np.where(gain < 0.25, lam[acc] * 4, lam[acc]),
        )
        need[acc] = True
        # NOTE: no decrease possible even for tiny steps: the mode is found to rounding
        tiny = ok & (ofv_a - ofv_t <= 1e-12 * (1.0 + np.abs(ofv_a)))
        done[act[tiny]] = conv[act[tiny]] = True
        lam[rej] *= 10.0
        stuck = rej[lam[rej] > 1e6]
        done[stuck] = True
        conv[stuck] = last_dec[stuck] < 1e-3
        n_iter[act] += 1
    total = ofv + np.einsum("nk,kl,nl->n", eta, P, eta)
    return MapEstimate(
        eta=eta, ofv=total, converged=conv, n_iter=n_iter, fisher=fisher, n_predictions=n_pred
    )


def _update_bfgs(
    H: FloatArray, fisher: FloatArray, s: FloatArray, y: FloatArray, first: BoolArray
) -> FloatArray:
    """BFGS update of the curvature with step ``s`` and gradient change ``y``; the expected
    information where there is no step yet or the curvature condition ``y's > 0`` fails."""
    ys = np.einsum("nk,nk->n", y, s)
    Hs = np.einsum("nkl,nl->nk", H, s)
    sHs = np.einsum("nk,nk->n", s, Hs)
    ok = ~first & (ys > 1e-12 * np.maximum(1.0, sHs)) & (sHs > 0)
    safe_ys = np.where(ok, ys, 1.0)
    safe_shs = np.where(ok, sHs, 1.0)
    upd = (
        H
        - np.einsum("nk,nl->nkl", Hs, Hs) / safe_shs[:, None, None]
        + np.einsum("nk,nl->nkl", y, y) / safe_ys[:, None, None]
    )
    return np.where(ok[:, None, None], upd, fisher)
