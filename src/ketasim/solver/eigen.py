"""Exact modal decomposition of compartment rate matrices, defective or not, batched over subjects.

Owns the change of basis in which ``dA/dt = K A + R`` is solved exactly between events, the
propagation of a state over a time step in that basis, and the one zero-eigenvalue test used by
every part of the solver. It does not know about events (that is :mod:`.schedule`) or outputs.

Maths
-----
1. *Block triangular form.* The flow graph of a compartment model (edge ``j -> i`` when
   ``K[i, j] != 0``) splits into strongly connected components (a depot, one transit
   compartment, a mammillary central+peripheral block, ...). Ordered topologically, ``K`` is block
   lower triangular; each diagonal block is diagonalised on its own (``numpy.linalg.eig``; 1 x 1
   blocks exactly), so ``S^-1 K S = Lam + N`` with ``Lam`` diagonal and ``N`` strictly lower
   triangular (the couplings between blocks). Repeated rate constants in different blocks (KA
   equal to the elimination rate, equal transit rates) never meet inside one ``eig``.
2. *Separation by clusters* (Bavely & Stewart 1979, Numer Math 33:1; the clustering of
   Davies & Higham 2003, SIAM J Matrix Anal Appl 25:464, section 2). Eigenvalues closer than
   ``tau = 0.25 / span`` (``span`` the longest step asked for) are put in one cluster (single
   linkage); the input (eigenvalue 0 of the augmented matrix ``[[K, R], [0, 0]]``) is a member
   too. A unit lower triangular ``Y`` with ``Y_ij = 0`` inside clusters removes every coupling
   between different clusters: ``Y^-1 (Lam + N) Y = B = diag(lam) + Nc`` with ``Nc`` only inside
   clusters. Entry by entry (``i > j``, columns right to left, rows top down)::

       (lam_i - lam_j) Y_ij - Nc_ij = sum_{j<k<i} Y_ik Nc_kj - sum_{j<=k<i} N_ik Y_kj

   solved for ``Y_ij`` (different clusters, divisor at least ``tau``) or ``Nc_ij`` (same).
3. *Exact propagation.* In the basis ``V = S Y`` (coordinates ``z``), with ``mu`` the cluster
   centre of each coordinate (0 for the input's cluster) and ``D = B - diag(mu)`` (within-cluster,
   spectral spread ``rho = max |lam - mu| span <= 0.25 (size - 1)``)::

       z(t) = p + exp(mu t) o sum_k t^k / k! v_k,   v_0 = z(0) - p,  v_1 = D v_0 + r_0,
       v_{k+1} = D v_k,

   where ``p = -B^-1 r`` on clusters away from 0 (a constant particular solution) and ``p = 0``,
   ``r_0 = r`` on the input's cluster. The series is finite (``D`` nilpotent) for exactly
   repeated rates and is truncated where ``rho^m / m! < 1e-18`` otherwise. Nothing cancels: no
   ``1 / (lam_i - lam_j)`` below ``tau``, no ``r / lam`` for small ``lam`` (eigenvalue 0 and
   ``|lam|`` down to 1e-300 are handled by the same formula as ``lam = -1``).

References: Bavely CA, Stewart GW (1979) An algorithm for computing reducing subspaces by block
diagonalization, SIAM J Numer Anal 16:359. Davies PI, Higham NJ (2003) A Schur-Parlett algorithm
for computing matrix functions, SIAM J Matrix Anal Appl 25:464. Moler C, Van Loan C (2003)
Nineteen dubious ways to compute the exponential of a matrix, SIAM Rev 45:3 (method 15/17:
block diagonalisation, and why clusters must not be split).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from ketasim.errors import SolverError

__all__ = ["Modes", "compute_modes", "is_zero_eigenvalue", "propagate", "series_vectors"]

FloatArray = npt.NDArray[np.float64]
Array = npt.NDArray[Any]
BoolArray = npt.NDArray[np.bool_]

ZERO_RTOL = 1e-13  # |lam| <= ZERO_RTOL * max|K| counts as a zero eigenvalue (no steady state)
_COND_LIMIT = 1e7  # eigenvector condition number of one block beyond which expm is used
_CLUSTER = 0.25  # cluster width tau = _CLUSTER / span
_TRUNC = 1e-18


def is_zero_eigenvalue(lam: Array, scale: Array) -> BoolArray:
    """The solver's one zero test: ``|lam| <= 1e-13 * scale``.

    Parameters
    ----------
    lam : ndarray, 1/time
        Eigenvalues (real or complex).
    scale : ndarray, 1/time
        Size of the rate matrix they come from (``max |K_ij|``), broadcast against ``lam``.

    Examples
    --------
    >>> import numpy as np
    >>> is_zero_eigenvalue(np.array([-1.4e-17, -0.1]), np.array(0.16)).tolist()
    [True, False]
    """
    return np.asarray(np.abs(lam) <= ZERO_RTOL * np.asarray(scale), dtype=bool)


@dataclass(frozen=True)
class Modes:
    """Decomposition of M rate matrices (leading axis M); coordinates ``z = Vinv @ A``.

    ``lam``, ``mu`` (M, n); ``D``, ``V``, ``Vinv`` (M, n, n); ``zero`` (M, n) marks the
    coordinates of the input's cluster; ``nterms`` (M,) series length; ``scale`` (M,) ``max|K|``;
    ``bad`` (M,) marks matrices whose blocks could not be diagonalised (solved by expm).
    ``diagonal`` is True when every ``D`` is zero off the input cluster (the common case).
    """

    lam: Array
    mu: Array
    D: Array
    V: Array
    Vinv: Array
    zero: BoolArray
    nterms: npt.NDArray[np.int64]
    scale: FloatArray
    bad: BoolArray
    diagonal: bool

    def take(self, rows: npt.NDArray[np.intp]) -> Modes:
        """Subset of matrices."""
        return Modes(
            self.lam[rows],
            self.mu[rows],
            self.D[rows],
            self.V[rows],
            self.Vinv[rows],
            self.zero[rows],
            self.nterms[rows],
            self.scale[rows],
            self.bad[rows],
            self.diagonal,
        )


_BLOCKS: dict[bytes, tuple[npt.NDArray[np.intp], list[npt.NDArray[np.intp]]]] = {}
_MODES: dict[tuple[bytes, float], Modes] = {}
_CACHE_ITEMS = 256
_CACHE_MAX_MATRICES = 8  # only small batches (one-subject calls from TCI, fitting, the app)


def _block_order(K: FloatArray) -> tuple[npt.NDArray[np.intp], list[npt.NDArray[np.intp]]]:
    """Permutation to block lower triangular form and the blocks (strong components)."""
    n = K.shape[-1]
    pattern = np.any(K.reshape(-1, n, n) != 0, axis=0)
    key = pattern.tobytes()
    hit = _BLOCKS.get(key)
    if hit is None:
        hit = _BLOCKS[key] = _strong_components(pattern)
    return hit


def _strong_components(
    pattern: npt.NDArray[np.bool_],
) -> tuple[npt.NDArray[np.intp], list[npt.NDArray[np.intp]]]:
    n = pattern.shape[0]
    adj = pattern.T | np.eye(n, dtype=bool)  # adj[j, i]: flow j -> i
    reach = adj.copy()
    for _ in range(max(1, math.ceil(math.log2(n + 1)))):
        reach = reach | ((reach.astype(np.int64) @ reach.astype(np.int64)) > 0)
    comp = reach & reach.T
    label = np.argmax(comp, axis=1)
    ancestors = np.array([np.count_nonzero(reach[:, i] & ~comp[:, i]) for i in range(n)])
    roots = np.unique(label)
    roots = roots[np.argsort(ancestors[roots], kind="stable")]
    blocks = [np.flatnonzero(label == r) for r in roots]
    return np.concatenate(blocks), blocks


def _n_terms(rho: FloatArray) -> npt.NDArray[np.int64]:
    """Smallest m with rho^m / m! < 1e-18 (0 for rho = 0)."""
    m = np.zeros(rho.shape, dtype=np.int64)
    term = np.ones(rho.shape)
    live = rho > 0
    k = 0
    while np.any(live) and k < 200:
        k += 1
        term = term * rho / k
        m = np.where(live, k, m)
        live = live & (term >= _TRUNC)
    return m


def compute_modes(K: FloatArray, span: float) -> Modes:
    """Decompose rate matrices ``K`` (M, n, n), 1/time, for steps up to ``span`` (time).

    Raises
    ------
    SolverError
        When ``K`` has non-finite entries.

    Notes
    -----
    Small batches are remembered by the exact bytes of ``K`` and ``span`` (the result is a pure
    function of them), so repeated one-subject calls with the same parameters decompose once.
    """
    key = None
    if K.shape[0] <= _CACHE_MAX_MATRICES:
        key = (np.ascontiguousarray(K, dtype=np.float64).tobytes() + bytes(K.shape), float(span))
        hit = _MODES.get(key)
        if hit is not None:
            return hit
    modes = _compute_modes(K, span)
    if key is not None:
        if len(_MODES) >= _CACHE_ITEMS:
            _MODES.pop(next(iter(_MODES)))
        _MODES[key] = modes
    return modes


def _compute_modes(K: FloatArray, span: float) -> Modes:
    if not np.all(np.isfinite(K)):
        raise SolverError(
            "the rate matrix has non-finite entries: check the parameters (zero volume?)"
        )
    M, n, _ = K.shape
    perm, blocks = _block_order(K)
    start = np.cumsum([0] + [len(b) for b in blocks])
    Kp = K[:, perm][:, :, perm]
    complex_ = False
    parts = []
    bad = np.zeros(M, dtype=bool)
    for b in blocks:
        sub = K[:, b][:, :, b]
        if len(b) == 1:
            parts.append((sub[:, :, 0], np.ones((M, 1, 1)), np.ones((M, 1, 1))))
            continue
        w, v = np.linalg.eig(sub)
        with np.errstate(all="ignore"):
            try:
                vinv = np.linalg.inv(v)
                cond = len(b) * np.max(np.abs(v), axis=(1, 2)) * np.max(np.abs(vinv), axis=(1, 2))
            except np.linalg.LinAlgError:
                vinv = np.zeros_like(v)
                cond = np.full(M, np.inf)
        blk_bad = ~np.isfinite(cond) | (cond > _COND_LIMIT)
        if np.any(blk_bad):
            bad |= blk_bad
            eye = np.eye(len(b))
            v = np.where(blk_bad[:, None, None], eye, v)
            vinv = np.where(blk_bad[:, None, None], eye, vinv)
            w = np.where(blk_bad[:, None], -1.0, w)
        complex_ |= bool(np.iscomplexobj(w) and np.any(w.imag != 0))
        parts.append((w, v, vinv))
    dtype = np.complex128 if complex_ else np.float64
    lam = np.zeros((M, n), dtype=dtype)
    S = np.zeros((M, n, n), dtype=dtype)
    Sinv = np.zeros((M, n, n), dtype=dtype)
    for (w, v, vinv), a, e in zip(parts, start[:-1], start[1:], strict=True):
        lam[:, a:e] = w if complex_ else np.real(w)
        S[:, a:e, a:e] = v if complex_ else np.real(v)
        Sinv[:, a:e, a:e] = vinv if complex_ else np.real(vinv)
    Kp_bad = np.where(bad[:, None, None], 0.0, Kp)
    T = Sinv @ Kp_bad @ S
    Nmat = np.tril(T, -1)
    for a, e in zip(start[:-1], start[1:], strict=True):
        Nmat[:, a:e, a:e] = 0.0
    scale = np.max(np.abs(K), axis=(1, 2))
    # --- clusters (the input, eigenvalue 0, is coordinate n) -----------------------------------
    span = float(span) if span > 0 else 1.0
    tau = _CLUSTER / span
    vals = np.concatenate([lam, np.zeros((M, 1), dtype=dtype)], axis=1)
    reach = np.abs(vals[:, :, None] - vals[:, None, :]) <= tau
    for _ in range(max(1, math.ceil(math.log2(n + 1)))):
        reach = reach | (np.matmul(reach.astype(np.float64), reach.astype(np.float64)) > 0)
    zero = reach[:, :n, n]
    size = reach.sum(axis=2)
    mu = np.where(zero, 0.0, (reach * vals[:, None, :]).sum(axis=2)[:, :n] / size[:, :n])
    dev = np.where(reach[:, :n], np.abs(vals[:, None, :] - mu[:, :, None]), 0.0).max(axis=2)
    nterms = np.max(size[:, :n] + _n_terms(dev * span), axis=1).astype(np.int64)
    # --- decouple clusters: Y (unit lower triangular) and within-cluster couplings Nc -----------
    Y = np.broadcast_to(np.eye(n, dtype=dtype), (M, n, n)).copy()
    Nc = np.zeros((M, n, n), dtype=dtype)
    same = reach[:, :n, :n]
    coupled = np.any(Nmat != 0, axis=0)
    for j in range(n - 1, -1, -1):
        for i in range(j + 1, n):
            if not np.any(coupled[i, j:i]) and not np.any(Nc[:, j + 1 : i, j]):
                continue
            rhs = np.einsum("mk,mk->m", Y[:, i, j + 1 : i], Nc[:, j + 1 : i, j]) - np.einsum(
                "mk,mk->m", Nmat[:, i, j:i], Y[:, j:i, j]
            )
            s = same[:, i, j]
            gap = lam[:, i] - lam[:, j]
            with np.errstate(divide="ignore", invalid="ignore"):
                Y[:, i, j] = np.where(s, 0.0, rhs / np.where(s, 1.0, gap))
            Nc[:, i, j] = np.where(s, -rhs, 0.0)
    D = Nc + (lam - mu)[:, :, None] * np.eye(n)
    V = S @ Y
    Vinv = np.linalg.inv(Y) @ Sinv
    Vo = np.empty_like(V)
    Vo[:, perm, :] = V
    Vio = np.empty_like(Vinv)
    Vio[:, :, perm] = Vinv
    diagonal = not np.any(np.where(zero[:, :, None] | zero[:, None, :], 0.0, D))
    return Modes(lam, mu, D, Vo, Vio, zero, nterms, scale, bad, diagonal)


def particular(modes: Modes, r: Array, *, everywhere: bool = False) -> Array:
    """``p = -B^-1 r`` on clusters away from 0 and 0 on the input's cluster (coordinates z).

    With ``everywhere`` the input's cluster is solved too (steady states; the caller has checked
    that no excited eigenvalue is zero).
    """
    lam = modes.lam
    zero = np.zeros_like(modes.zero) if everywhere else modes.zero
    safe = np.where(zero | (lam == 0), 1.0, lam)
    if modes.diagonal and not everywhere:
        return np.asarray(np.where(zero, 0.0, -r / safe))
    n = lam.shape[-1]
    Nc = modes.D - (modes.D * np.eye(n))
    p = np.zeros_like(r)
    for i in range(n):
        acc = -r[..., i] - np.einsum("...k,...k->...", Nc[..., i, :i], p[..., :i])
        p[..., i] = np.where(zero[..., i], 0.0, acc / safe[..., i])
    return p


def series_vectors(modes: Modes, z0: Array, r: Array, p: Array, nterms: int) -> Array:
    """``v_k`` (..., nterms, n) of the propagation series from ``z0``, input ``r``, shift ``p``."""
    v = np.empty((*z0.shape[:-1], nterms, z0.shape[-1]), dtype=np.result_type(z0, r, p))
    v[..., 0, :] = z0 - p
    if nterms > 1:
        r0 = np.where(modes.zero, r, 0.0)
        v[..., 1, :] = np.einsum("...ij,...j->...i", modes.D, v[..., 0, :]) + r0
        for k in range(2, nterms):
            v[..., k, :] = np.einsum("...ij,...j->...i", modes.D, v[..., k - 1, :])
    return v


def propagate(mu: Array, v: Array, p: Array, dt: Array) -> Array:
    """``z(dt) = p + exp(mu dt) o sum_k dt^k / k! v_k``; ``dt`` broadcasts like ``mu[..., 0]``."""
    dtn = np.asarray(dt)[..., None]
    acc = v[..., -1, :]
    for k in range(v.shape[-2] - 1, 0, -1):
        acc = v[..., k - 1, :] + acc * (dtn / k)
    return np.asarray(p + np.exp(mu * dtn) * acc)
