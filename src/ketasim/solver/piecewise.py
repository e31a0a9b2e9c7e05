"""The exact solution kept as closed-form pieces, evaluated anywhere with its time derivatives.

Owns :class:`PiecewiseSolution`: after one pass over the events (:func:`.linear.event_states`),
each weighted output of each subject is, on the interval after event ``e``,

    y(t) = VW [p_e + exp(mu dt) o S_0(dt)],   S_i(dt) = sum_{k >= i} dt^(k-i) / (k-i)! v_ek,

with ``dt = t - t_e`` (coordinates, clusters and series of :mod:`.eigen`). Its derivatives are
closed forms too: ``y' = VW exp(mu dt) o (mu S_0 + S_1)`` and
``y'' = VW exp(mu dt) o (mu^2 S_0 + 2 mu S_1 + S_2)`` (Leibniz), so peaks and threshold
crossings are found by root finding on exact derivatives, without solving again. Supported:
one parameter epoch, event times shared by the subjects (a regimen), no expm fallback; the
constructor returns None otherwise and callers keep their general path.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from ketasim.solver.eigen import compute_modes
from ketasim.solver.kernels import sum_of_exponential_polynomials
from ketasim.solver.linear import _outputs_shared_grid, compute_span, event_states
from ketasim.solver.schedule import Schedule

__all__ = ["PiecewiseSolution", "solve_piecewise"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]
_PROBE_CHUNK = 8192  # probes evaluated per numpy pass (bounds the gathered temporaries)


@dataclass(frozen=True)
class PiecewiseSolution:
    """Weighted outputs (``W @ amounts``) of N subjects as closed-form pieces between events.

    ``t_ev`` (E,) event times shared by the subjects (h, the model's time); outputs at an event
    time follow every event at that time (post-dose).
    """

    modes: Any
    W: FloatArray  # (N, m, n)
    VW: npt.NDArray[Any]  # (N, m, n) output weights in the modal basis
    Vs: npt.NDArray[Any]  # (N, E, nt, n)
    Ps: npt.NDArray[Any]  # (N, E, n)
    sched: Schedule
    t_ev: FloatArray

    @property
    def n_subjects(self) -> int:
        return int(self.VW.shape[0])

    def interval(self, times: FloatArray) -> IntArray:
        """Index of the last event at or before each time (-1 before the first)."""
        return np.searchsorted(self.t_ev, times, side="right") - 1

    def grid(self, times: FloatArray, rows: IntArray, order: int = 0) -> FloatArray:
        """Outputs ``rows`` (``order`` 0) or their time derivative (1) at shared ascending
        times, (N, T, len(rows)); at an event time, the piece after it."""
        idx = self.interval(times)
        before = idx < 0
        Vs, Ps = self.Vs, self.Ps
        if order == 1:
            # d/dt [exp(mu t) t^k / k!] = mu exp(mu t) t^k / k! + exp(mu t) t^(k-1) / (k-1)!
            Vs = self.modes.mu[:, None, None, :] * self.Vs
            Vs[:, :, :-1] += self.Vs[:, :, 1:]
            Ps = np.zeros_like(self.Ps)
        return _outputs_shared_grid(
            self.modes, self.W[:, rows], Vs, Ps, self.sched, times, np.maximum(idx, 0), before,
        )  # fmt: skip

    def grid_with_slope(self, times: FloatArray, rows: IntArray) -> FloatArray:
        """Outputs ``rows`` and their time derivatives at shared ascending times in one pass
        (the exponentials are shared): (N, T, 2 len(rows)), values first; at an event time,
        the piece after it."""
        idx = self.interval(times)
        N, m = self.n_subjects, len(rows)
        out = np.zeros((N, times.size, 2 * m))
        nts = self.modes.nterms
        # NOTE: subjects are grouped by series length (a subject with clustered rates needs
        # many polynomial terms; the others should not carry them)
        for nt in np.unique(nts):
            g = np.flatnonzero(nts == nt)
            q = max(1, min(int(nt), self.Vs.shape[2]))
            part = out if g.size == N else np.zeros((g.size, times.size, 2 * m))
            VW = self.VW[g][:, rows]
            mu = self.modes.mu[g]
            for k in np.unique(idx[idx >= 0]):
                sel = np.flatnonzero(idx == k)
                v = np.swapaxes(self.Vs[g, k, :q], 1, 2)  # (G, n, q)
                dv = mu[:, :, None] * v
                dv[:, :, :-1] += v[:, :, 1:]
                a = np.concatenate([VW[..., None] * v[:, None], VW[..., None] * dv[:, None]], 1)
                b = np.concatenate(
                    [np.einsum("nmj,nj->nm", VW, self.Ps[g, k]), np.zeros((g.size, m))], 1
                )
                sum_of_exponential_polynomials(
                    mu, a, b, times[sel] - self.t_ev[k], sel, part, None, N * times.size,
                    float(self.t_ev[k]),
                )  # fmt: skip
            if part is not out:
                out[g] = part
        return out

    def at(
        self,
        subj: IntArray,
        times: FloatArray,
        rows: IntArray,
        order: int | tuple[int, ...] = 0,
        interval: IntArray | None = None,
    ) -> FloatArray:
        """Output ``rows`` (or its time derivatives of ``order``, each 0-2) of subject
        ``subj[p]`` at ``times[p]``: (P, len(rows)), or (len(order), P, len(rows)) for a tuple.

        ``interval`` (P,) gives the piece to use (default: the one in force at each time), so a
        left limit at an event time is the previous piece evaluated at that time.
        """
        orders = (order,) if isinstance(order, int) else tuple(order)
        e_all = self.interval(times) if interval is None else np.asarray(interval)
        out = np.zeros((len(orders), times.size, len(rows)))
        # NOTE: probes are grouped by their subject's series length (most subjects need one
        # term; a subject with clustered rates more), so nobody pays for another's terms
        nts = self.modes.nterms[subj]
        for nt in np.unique(nts):
            idx = np.flatnonzero(nts == nt)
            for a in range(0, idx.size, _PROBE_CHUNK):
                sl = idx[a : a + _PROBE_CHUNK]
                out[:, sl] = self._at(subj[sl], times[sl], rows, orders, e_all[sl], int(nt))
        return out[0] if isinstance(order, int) else out

    def _at(
        self,
        subj: IntArray,
        t: FloatArray,
        rows: IntArray,
        orders: tuple[int, ...],
        e: IntArray,
        nt: int,
    ) -> FloatArray:
        before = e < 0
        e = np.maximum(e, 0)
        nt = max(1, min(nt, self.Vs.shape[2]))
        v = self.Vs[subj, e, :nt]  # (P, nt, n)
        mu = self.modes.mu[subj]
        dt = (t - self.t_ev[e])[:, None]
        S = []
        for i in range(max(orders) + 1):  # S_i by Horner
            acc = v[:, nt - 1] if nt - 1 >= i else np.zeros_like(v[:, 0])
            for k in range(nt - 2, i - 1, -1):
                acc = v[:, k] + acc * (dt / (k - i + 1))
            S.append(acc)
        ex = np.exp(mu * dt)
        VW = self.VW[subj][:, rows]
        res = np.empty((len(orders), t.size, len(rows)))
        for o_i, order in enumerate(orders):
            if order == 0:
                z = self.Ps[subj, e] + ex * S[0]
            elif order == 1:
                z = ex * (mu * S[0] + S[1])
            else:
                z = ex * (mu * mu * S[0] + 2.0 * mu * S[1] + S[2])
            y = np.real(np.einsum("pmj,pj->pm", VW, z))
            y[before] = 0.0
            res[o_i] = y
        return res


def solve_piecewise(
    K: FloatArray, sched: Schedule, W: FloatArray, t_end: float
) -> PiecewiseSolution | None:
    """Closed-form pieces of ``W @ amounts`` for rate matrices ``K`` (N, 1, n, n), 1/time.

    Returns None when the pieces are not supported (several parameter epochs, event times
    that differ between subjects, or a subject on the matrix-exponential fallback).
    """
    N, P, n, _ = K.shape
    if P != 1 or not sched.has_uniform_times():
        return None
    t_ev = sched.time[0]
    if np.any(np.diff(t_ev) < 0) or not np.all(np.isfinite(t_ev[t_ev < np.inf])):
        return None
    span = compute_span(sched, np.array([t_end]))
    modes = compute_modes(K.reshape(N, n, n), span)
    if np.any(modes.bad):
        return None
    Vs, Ps, _ = event_states(modes, 1, sched)
    VW = np.einsum("nmi,nij->nmj", W, modes.V)
    return PiecewiseSolution(modes, W, VW, Vs, Ps, sched, t_ev)
