"""The fast re-solve of :mod:`ketasim.prepared`: dose pieces and their modal superposition.

Owns the dose pieces of compiled schedules (boluses and infusions, one term each) and the sum of
their responses in the eigenbasis of the rate matrix (maths in :mod:`ketasim.prepared`), as a
compiled kernel (numba) and as the numpy form it is tested against. Plain canonical floats only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from ketasim.solver.eigen import ZERO_RTOL, is_zero_eigenvalue

__all__ = [
    "COND_LIMIT",
    "Pieces",
    "compute_modal_outputs",
    "compute_modal_outputs_numpy",
    "get_pieces",
]

FloatArray = npt.NDArray[np.float64]
COND_LIMIT = 1e3  # largest eigenvalue condition number of the fast path (module notes)


@dataclass(frozen=True)
class Pieces:
    """Dose pieces per subject, padded: boluses (N, B) and infusions (N, I); canonical units."""

    bolus_t: FloatArray  # h, start (after lag); +inf pads
    bolus_cmt: npt.NDArray[np.intp]
    bolus_amt: FloatArray  # mg, bioavailable
    inf_t: FloatArray  # h
    inf_cmt: npt.NDArray[np.intp]
    inf_rate: FloatArray  # mg/h
    inf_dur: FloatArray  # h


def get_pieces(scheds: list[tuple[npt.NDArray[np.intp], Any]], N: int) -> Pieces | None:
    """Boluses and infusions of compiled schedules (None when one has SS, resets or epochs)."""
    boluses: list[list[tuple[float, int, float]]] = [[] for _ in range(N)]
    infusions: list[list[tuple[float, int, float, float]]] = [[] for _ in range(N)]
    for subjects, sc in scheds:
        if np.any(sc.ss_mode > 0) or np.any(sc.reset) or np.any(sc.epoch > 0):
            return None
        for row, s in enumerate(subjects):
            t = sc.time[row]
            bc, rc, rd = sc.bolus_cmt[row], sc.rate_cmt[row], sc.rate_delta[row]
            for e in np.flatnonzero(bc >= 0):
                boluses[s].append((float(t[e]), int(bc[e]), float(sc.bolus_amt[row, e])))
            # NOTE: the k-th start of a (compartment, rate) pair ends at its k-th end: any pairing
            # of sorted starts and ends gives the same input, and each infusion is one term
            on = rc >= 0
            for c in np.unique(rc[on]):
                for r in np.unique(np.abs(rd[on & (rc == c)])):
                    starts = np.sort(t[on & (rc == c) & (rd == r)])
                    ends = np.sort(t[on & (rc == c) & (rd == -r)])
                    if starts.size != ends.size or r == 0:
                        return None
                    for a, b in zip(starts, ends, strict=True):
                        if math.isfinite(a) and b > a:
                            infusions[s].append((float(a), int(c), float(r), float(b - a)))
    nb = max(1, max(len(b) for b in boluses))
    ni = max(1, max(len(i) for i in infusions))
    P = Pieces(
        np.full((N, nb), np.inf), np.zeros((N, nb), np.intp), np.zeros((N, nb)),
        np.full((N, ni), np.inf), np.zeros((N, ni), np.intp), np.zeros((N, ni)),
        np.zeros((N, ni)),
    )  # fmt: skip
    for s in range(N):
        for k, (t, c, a) in enumerate(boluses[s]):
            P.bolus_t[s, k], P.bolus_cmt[s, k], P.bolus_amt[s, k] = t, c, a
        for k, (t, c, r, d) in enumerate(infusions[s]):
            P.inf_t[s, k], P.inf_cmt[s, k], P.inf_rate[s, k], P.inf_dur[s, k] = t, c, r, d
    return P


def compute_modal_outputs_numpy(
    K: FloatArray, W: FloatArray, P: Pieces, times: FloatArray, keep_amounts: bool
) -> tuple[FloatArray, FloatArray | None] | None:
    """As :func:`compute_modal_outputs`, in numpy (the reference the kernel is tested against)."""
    modes = _modes(K)
    if modes is None:
        return None
    lam, V, Vi = modes
    if not _well_conditioned(lam, Vi):
        return None
    N, T = K.shape[0], times.size
    lam_t = lam[:, None, :]  # (N, 1, n)
    z = np.zeros((N, T, lam.shape[-1]), dtype=lam.dtype)
    rows = np.arange(N)[:, None]
    if np.any(P.bolus_amt):
        coef = np.swapaxes(Vi, 1, 2)[rows, P.bolus_cmt] * P.bolus_amt[..., None]  # (N, B, n)
        for k in range(P.bolus_t.shape[1]):
            tau = times[None, :] - P.bolus_t[:, k : k + 1]  # (N, T)
            on = tau >= 0
            g = np.exp(lam_t * np.where(on, tau, 0.0)[..., None])
            z += np.where(on[..., None], coef[:, None, k, :] * g, 0.0)
    if np.any(P.inf_rate):
        coef = np.swapaxes(Vi, 1, 2)[rows, P.inf_cmt] * P.inf_rate[..., None]  # (N, I, n)
        zero = lam_t == 0
        safe = np.where(zero, 1.0, lam_t)
        for k in range(P.inf_t.shape[1]):
            tau = times[None, :] - P.inf_t[:, k : k + 1]
            d = P.inf_dur[:, k : k + 1]
            u = np.clip(tau, 0.0, d)[..., None]
            after = np.maximum(tau - d, 0.0)[..., None]
            phi = np.where(zero, u, np.expm1(lam_t * u) / safe)
            z += coef[:, None, k, :] * (phi * np.exp(lam_t * after))
    WV = W @ V  # (N, m, n)
    out = np.einsum("nmj,ntj->ntm", WV, z)
    amounts = np.einsum("nij,ntj->nti", V, z) if keep_amounts else None
    if np.iscomplexobj(out):
        out = out.real
        amounts = None if amounts is None else amounts.real
    return np.ascontiguousarray(out), amounts


def _kernel_source(lam, V, Vi, W, bt, bc, ba, it, ic, ir, idur, times, out, amounts, keep, limit):  # type: ignore[no-untyped-def]  # pragma: no cover
    N, n = lam.shape
    T, m = times.shape[0], W.shape[1]
    for s in range(N):  # eigenvalue condition numbers: row norms of V^-1 (module notes)
        for j in range(n):
            if not (np.isfinite(lam[s, j].real) and np.isfinite(lam[s, j].imag)):
                return False
            acc2 = 0.0
            for i in range(n):
                acc2 += Vi[s, j, i].real ** 2 + Vi[s, j, i].imag ** 2
            if not acc2 <= limit * limit:
                return False
    for s in range(N):
        z = np.zeros(n, dtype=lam.dtype)
        WV = np.zeros((m, n), dtype=lam.dtype)
        for mm in range(m):
            for j in range(n):
                acc = 0.0j
                for i in range(n):
                    acc += W[s, mm, i] * V[s, i, j]
                WV[mm, j] = acc
        for t_i in range(T):
            t = times[t_i]
            for j in range(n):
                z[j] = 0.0j
            for k in range(bt.shape[1]):
                tau = t - bt[s, k]
                a = ba[s, k]
                if tau >= 0.0 and a != 0.0:
                    c = bc[s, k]
                    for j in range(n):
                        z[j] += a * Vi[s, j, c] * np.exp(lam[s, j] * tau)
            for k in range(it.shape[1]):
                tau = t - it[s, k]
                r = ir[s, k]
                if tau > 0.0 and r != 0.0:
                    d = idur[s, k]
                    u = min(tau, d)
                    after = max(tau - d, 0.0)
                    c = ic[s, k]
                    for j in range(n):
                        lj = lam[s, j]
                        if lj == 0.0:
                            phi = u + 0.0j
                        else:  # expm1 of a complex number, without cancellation
                            x = lj.real * u
                            y = lj.imag * u
                            sy = math.sin(0.5 * y)
                            em1 = (math.expm1(x) * math.cos(y) - 2.0 * sy * sy) + 1j * (
                                math.exp(x) * math.sin(y)
                            )
                            phi = em1 / lj
                        z[j] += r * Vi[s, j, c] * phi * np.exp(lj * after)
            for mm in range(m):
                acc = 0.0j
                for j in range(n):
                    acc += WV[mm, j] * z[j]
                out[s, t_i, mm] = acc.real
            if keep:
                for i in range(n):
                    acc = 0.0j
                    for j in range(n):
                        acc += V[s, i, j] * z[j]
                    amounts[s, t_i, i] = acc.real
    return True


def _real_kernel_source(K, W, bt, bc, ba, it, ic, ir, idur, times, out, amounts, keep, limit, zero):  # type: ignore[no-untyped-def]  # pragma: no cover
    # the same sums as _kernel_source, with the eigen-decomposition done here (LAPACK dgeev, as
    # numpy.linalg.eig); raises ValueError when an eigenvalue is complex, returns False when the
    # eigenvectors are ill-conditioned
    N, n = K.shape[0], K.shape[1]
    lam = np.empty((N, n))
    V = np.empty((N, n, n))
    Vi = np.empty((N, n, n))
    for s in range(N):
        w, v = np.linalg.eig(np.ascontiguousarray(K[s]))
        vi = np.linalg.inv(v)
        scale = np.max(np.abs(K[s]))
        for j in range(n):  # the solver's one zero test (ketasim.solver.eigen)
            if abs(w[j]) <= zero * scale:
                w[j] = 0.0
        for j in range(n):
            if not np.isfinite(w[j]):
                return False
            acc2 = 0.0
            for i in range(n):
                acc2 += vi[j, i] ** 2
            if not acc2 <= limit * limit:
                return False
        lam[s] = w
        V[s] = v
        Vi[s] = vi
    T, m = times.shape[0], W.shape[1]
    z = np.zeros(n)
    WV = np.zeros((m, n))
    for s in range(N):
        for mm in range(m):
            for j in range(n):
                acc = 0.0
                for i in range(n):
                    acc += W[s, mm, i] * V[s, i, j]
                WV[mm, j] = acc
        for t_i in range(T):
            t = times[t_i]
            for j in range(n):
                z[j] = 0.0
            for k in range(bt.shape[1]):
                tau = t - bt[s, k]
                a = ba[s, k]
                if tau >= 0.0 and a != 0.0:
                    c = bc[s, k]
                    for j in range(n):
                        z[j] += a * Vi[s, j, c] * math.exp(lam[s, j] * tau)
            for k in range(it.shape[1]):
                tau = t - it[s, k]
                r = ir[s, k]
                if tau > 0.0 and r != 0.0:
                    d = idur[s, k]
                    u = min(tau, d)
                    after = max(tau - d, 0.0)
                    c = ic[s, k]
                    for j in range(n):
                        lj = lam[s, j]
                        phi = u if lj == 0.0 else math.expm1(lj * u) / lj
                        z[j] += r * Vi[s, j, c] * phi * math.exp(lj * after)
            for mm in range(m):
                acc = 0.0
                for j in range(n):
                    acc += WV[mm, j] * z[j]
                out[s, t_i, mm] = acc
            if keep:
                for i in range(n):
                    acc = 0.0
                    for j in range(n):
                        acc += V[s, i, j] * z[j]
                    amounts[s, t_i, i] = acc
    return True


_KERNEL: list[Any] = []


def _get_kernel() -> Any:
    if not _KERNEL:
        try:
            import numba
        except ImportError:  # pragma: no cover - numba is a declared dependency
            _KERNEL.append(None)
        else:
            jit = numba.njit(cache=True, nogil=True)
            _KERNEL.extend([jit(_kernel_source), jit(_real_kernel_source)])
    return _KERNEL[0]


def _modes(K: FloatArray) -> tuple[Any, Any, Any] | None:
    try:
        lam, V = np.linalg.eig(K)
        Vi = np.linalg.inv(V)
    except np.linalg.LinAlgError:
        return None
    # NOTE: an eigenvalue 0 (a closed system) comes out of eig as about eps max|K|; the solver's
    # one zero test makes it exactly 0, as the engine does, so that no mode drifts over time
    scale = np.max(np.abs(K), axis=(-2, -1))[:, None]
    lam = np.where(is_zero_eigenvalue(lam, scale), 0.0, lam)
    return lam, V, Vi


def _well_conditioned(lam: Any, Vi: Any) -> bool:
    cond = math.sqrt(float(np.max(np.einsum("nij,nij->ni", Vi, Vi.conj()).real)))
    return bool(cond <= COND_LIMIT and np.all(np.isfinite(lam)))


def compute_modal_outputs(
    K: FloatArray, W: FloatArray, P: Pieces, times: FloatArray, keep_amounts: bool
) -> tuple[FloatArray, FloatArray | None] | None:
    """Weighted outputs (N, T, m) and amounts (N, T, n) or None, by the compiled kernel; None
    when an eigenvector basis is ill-conditioned (the caller then uses the engine).

    Parameters
    ----------
    K : (N, n, n) array, 1/time
    W : (N, m, n) array, output weights (1/volume)
    P : Pieces
    times : (T,) array, time
    """
    kernel = _get_kernel()
    if kernel is None:  # pragma: no cover - numba is a declared dependency
        return compute_modal_outputs_numpy(K, W, P, times, keep_amounts)
    N, T, n = K.shape[0], times.size, K.shape[-1]
    out = np.empty((N, T, W.shape[1]))
    amounts = np.empty((N, T, n) if keep_amounts else (1, 1, 1))
    try:
        ok = _KERNEL[1](
            np.ascontiguousarray(K, dtype=float), np.ascontiguousarray(W, dtype=float),
            P.bolus_t, P.bolus_cmt, P.bolus_amt, P.inf_t, P.inf_cmt, P.inf_rate, P.inf_dur,
            times, out, amounts, keep_amounts, COND_LIMIT, ZERO_RTOL,
        )  # fmt: skip
    except (ValueError, np.linalg.LinAlgError):
        ok = None  # complex eigenvalues (or a singular eigenvector matrix): below
    if ok is not None:
        return (out, (amounts if keep_amounts else None)) if ok else None
    modes = _modes(K)
    if modes is None:
        return None
    lam, V, Vi = modes
    # NOTE: complex arithmetic; the expm1 of the kernel has no cancellation for small |lam u|
    c = np.complex128
    ok = kernel(
        lam.astype(c), V.astype(c), Vi.astype(c), np.ascontiguousarray(W, dtype=c),
        P.bolus_t, P.bolus_cmt, P.bolus_amt, P.inf_t, P.inf_cmt, P.inf_rate, P.inf_dur,
        times, out, amounts, keep_amounts, COND_LIMIT,
    )  # fmt: skip
    if not ok:
        return None
    return out, (amounts if keep_amounts else None)
