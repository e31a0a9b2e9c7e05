"""Steady states (NONMEM SS=1/2) in the exact modal basis of :mod:`.eigen`, batched over subjects.

Maths (coordinates ``z = Vinv A``; ``E(t)`` the exact propagator of :func:`.eigen.propagate`
without input, ``Phi(t)`` the state reached from 0 under the infusion rate after ``t``):

- bolus ``b`` every ``II`` with lag ``L``: ``z = E(II - L) (I - E(II))^-1 b``;
- infusion of duration ``d`` every ``II``: the ``k1 = floor((d + L) / II)`` earlier infusions
  still running at the record time are summed directly, ``sum_k Phi(k II - L)``, and the rest
  as a geometric series, ``E((k1 + 1) II - L - d) (I - E(II))^-1 Phi(d)``;
- constant infusion ``r``: ``z = -B^-1 r``.

``I - E(II)`` is formed as ``-(diag(expm1(mu II)) + diag(exp(mu II)) sum_{k>=1} II^k/k! D^k)``, so
slow modes keep their digits (no ``1 - exp(-1e-10)``). Only coordinates the dose reaches are
solved; a zero eigenvalue (the solver's one zero test) among them means no steady state exists.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from ketasim.errors import SolverError
from ketasim.solver.eigen import (
    Modes,
    is_zero_eigenvalue,
    particular,
    propagate,
    series_vectors,
)
from ketasim.solver.schedule import Schedule

__all__ = ["compute_steady_state"]

Array = npt.NDArray[Any]


def _excited(md: Modes, col: Array) -> npt.NDArray[np.bool_]:
    """Coordinates reached from a unit input ``col`` (closure under the couplings D)."""
    ex = np.abs(col) > 1e-14 * np.max(np.abs(col), axis=-1, keepdims=True)
    reach = np.abs(md.D) > 0
    for _ in range(col.shape[-1]):
        new = ex | np.any(reach & ex[..., None, :], axis=-1)
        if np.array_equal(new, ex):
            break
        ex = new
    return np.asarray(ex)


def _one_minus_exp(md: Modes, t: Array, ex: npt.NDArray[np.bool_], nterms: int) -> Array:
    """``I - E(t)`` on the excited coordinates, identity elsewhere, shape (M, n, n)."""
    M, n = md.lam.shape
    t1 = np.asarray(t)[:, None]
    G = np.zeros((M, n, n), dtype=md.D.dtype)
    Dk = np.broadcast_to(np.eye(n, dtype=md.D.dtype), (M, n, n))
    fact = np.ones((M, 1, 1))
    for k in range(1, nterms):
        Dk = Dk @ md.D
        fact = fact * t1[:, :, None] / k
        G = G + fact * Dk
    G = np.exp(md.mu * t1)[:, :, None] * G
    G[:, np.arange(n), np.arange(n)] += np.expm1(md.mu * t1)
    keep = ex[:, :, None] & ex[:, None, :]
    return np.where(keep, -G, np.eye(n))


def _solve(a: Array, b: Array) -> Array:
    return np.asarray(np.linalg.solve(a, b[..., None])[..., 0])


def _advance(md: Modes, z0: Array, r: Array, t: Array, nterms: int) -> Array:
    p = particular(md, r)
    v = series_vectors(md, z0, r, p, nterms)
    return propagate(md.mu, v, p, np.asarray(t))


def compute_steady_state(md: Modes, sched: Schedule, e: int, si: npt.NDArray[np.intp]) -> Array:
    """Steady-state amounts (M, n) at the record time of SS event ``e`` for subjects ``si``.

    ``md`` holds the modes of those subjects (in force at the event), in the same order as ``si``.

    Raises
    ------
    SolverError
        When the dose reaches a compartment with no elimination (a zero eigenvalue).
    """
    cmt = sched.ss_cmt[si, e]
    amt = sched.ss_amt[si, e]
    rate = sched.ss_rate[si, e]
    dur = sched.ss_dur[si, e]
    ii = sched.ss_ii[si, e]
    lag = sched.ss_lag[si, e]
    M, n = md.lam.shape
    nterms = int(np.max(md.nterms))
    col = md.Vinv[np.arange(M), :, cmt]  # (M, n): coordinates of a unit input
    ex = _excited(md, col)
    if np.any(is_zero_eigenvalue(md.lam, md.scale[:, None]) & ex):
        raise SolverError(
            "no steady state exists: a compartment reached by this dose has no elimination "
            "(a zero eigenvalue of the rate matrix)"
        )
    col = np.where(ex, col, 0.0)
    z = np.zeros_like(col)
    zero = np.zeros_like(col)
    const = ii == 0
    if np.any(const):
        c = np.flatnonzero(const)
        z[c] = particular(md.take(c), col[c] * rate[c, None], everywhere=True)
    bolus = ~const & (dur == 0)
    if np.any(bolus):
        b = np.flatnonzero(bolus)
        mb = md.take(b)
        x = _solve(_one_minus_exp(mb, ii[b], ex[b], nterms), col[b] * amt[b, None])
        z[b] = _advance(mb, x, zero[b], ii[b] - lag[b], nterms)
    inf = ~const & ~bolus
    if np.any(inf):
        f = np.flatnonzero(inf)
        mf = md.take(f)
        r = col[f] * rate[f, None]
        iif, lgf, df = ii[f], lag[f], dur[f]
        k1 = np.floor((df + lgf) / iif)
        acc = np.zeros_like(r)
        for k in range(1, int(np.max(k1)) + 1):
            s_k = np.where(k <= k1, k * iif - lgf, 0.0)
            acc += np.where((k <= k1)[:, None], _advance(mf, zero[f], r, s_k, nterms), 0.0)
        c_end = _advance(mf, zero[f], r, df, nterms)
        x = _solve(_one_minus_exp(mf, iif, ex[f], nterms), c_end)
        z[f] = acc + _advance(mf, x, zero[f], (k1 + 1) * iif - lgf - df, nterms)
    out = np.einsum("mij,mj->mi", md.V, z)
    return np.asarray(np.real(out), dtype=float)
