"""Reference solution of ``dA/dt = K A + R`` with explicit events, in 50-digit arithmetic.

Independent of the solver's method: the matrix exponential of the augmented matrix
``M = [[K, R], [0, 0]]`` (zero-order input, van Loan 1978, IEEE TAC 23:395) is computed by its
Taylor series with scaling and squaring in mpmath at 50 significant digits (Moler & Van Loan
2003, SIAM Rev 45:3, method 3): ``M dt`` is scaled by ``2^-s`` until its 1-norm is below 1/2,
the series is summed until a term is below 1e-60 of the sum, and the result squared ``s``
times. No eigenvalues are computed, so repeated, nearly repeated, zero and complex eigenvalues
are all the same case.

Events are explicit (the NONMEM expansion of ADDL, lag, F, RATE -1/-2 is written by each test,
so the reference checks the semantics too): a bolus, an infusion (rate for a duration), a reset.
Steady state is the fixed point of the exact one-period map, ``x = Phi x + c`` with
``Phi = exp(K II)`` and ``c`` the state reached from 0 over one period under the periodic input
(every infusion still running summed), solved in 50 digits.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import mpmath
import numpy as np

mp = mpmath.mp.clone() if hasattr(mpmath.mp, "clone") else mpmath.mp
DPS = 50


@dataclass(frozen=True)
class Dose:
    """A dose: bolus (``dur`` 0) or zero-order infusion of ``amt`` over ``dur``."""

    time: float
    cmt: int
    amt: float
    dur: float = 0.0


@dataclass(frozen=True)
class Reset:
    """EVID 3: every amount to 0, running infusions stop."""

    time: float


@dataclass(frozen=True)
class SteadyState:
    """SS=1 at ``time`` for a dose of ``amt`` over ``dur`` every ``ii`` (lag already in phase).

    ``lag`` shifts the implied doses: the state at ``time`` is the periodic state at phase
    ``ii - lag`` after a dose. The record's own dose is a separate :class:`Dose`.
    """

    time: float
    cmt: int
    amt: float
    ii: float
    dur: float = 0.0
    lag: float = 0.0
    add: bool = False  # SS=2: add to the current state instead of resetting


def _expm_aug(K: list[list[mpmath.mpf]], R: list[mpmath.mpf], dt: mpmath.mpf) -> mpmath.matrix:
    n = len(K)
    M = mpmath.matrix(n + 1, n + 1)
    for i in range(n):
        for j in range(n):
            M[i, j] = K[i][j] * dt
        M[i, n] = R[i] * dt
    norm = mpmath.mnorm(M, 1)
    s = 0
    while norm > mpmath.mpf("0.5"):
        norm /= 2
        s += 1
    M = M / (mpmath.mpf(2) ** s)
    E = mpmath.eye(n + 1)
    term = mpmath.eye(n + 1)
    k = 0
    while True:
        k += 1
        term = term * M / k
        E += term
        if mpmath.mnorm(term, 1) < mpmath.mpf(10) ** (-60):
            break
    for _ in range(s):
        E = E * E
    return E


class Reference:
    """Reference solver for one subject with rate matrix ``K`` (n x n, 1/time)."""

    def __init__(self, K: np.ndarray):
        mpmath.mp.dps = DPS
        self.n = K.shape[0]
        self.K = [[mpmath.mpf(float(K[i, j])) for j in range(self.n)] for i in range(self.n)]
        self._cache: dict[tuple[object, ...], mpmath.matrix] = {}

    def advance(self, A: list[mpmath.mpf], R: list[mpmath.mpf], dt: float) -> list[mpmath.mpf]:
        if dt == 0:
            return list(A)
        key = (*R, mpmath.mpf(dt))
        E = self._cache.get(key)
        if E is None:
            E = self._cache[key] = _expm_aug(self.K, R, mpmath.mpf(dt))
        n = self.n
        return [sum((E[i, j] * A[j] for j in range(n)), E[i, n]) for i in range(n)]

    def _period_map(self, ss: SteadyState) -> tuple[mpmath.matrix, list[mpmath.mpf]]:
        """(Phi, c): state at the end of one period from x is Phi x + c (phase: a dose at 0)."""
        n = self.n
        ii = mpmath.mpf(ss.ii)
        zero = [mpmath.mpf(0)] * n
        Phi = _expm_aug(self.K, zero, ii)
        # periodic input over [0, ii): infusions started at -k ii for k >= 0 still running
        cuts = {mpmath.mpf(0), ii}
        dur = mpmath.mpf(ss.dur)
        k = 0
        while ss.dur > 0 and dur - k * ii > 0:
            end = dur - k * ii
            if end < ii:
                cuts.add(end)
            k += 1
        pts = sorted(cuts)
        A = list(zero)
        if ss.dur == 0:
            A[ss.cmt] += mpmath.mpf(ss.amt)
        for a, b in zip(pts[:-1], pts[1:], strict=True):
            running = 0
            kk = 0
            while ss.dur > 0 and a + kk * ii < dur:
                running += 1
                kk += 1
            R = list(zero)
            if running:
                R[ss.cmt] = running * mpmath.mpf(ss.amt) / dur
            A = self.advance(A, R, float(b - a))
        return Phi, A

    def steady_state(self, ss: SteadyState) -> list[mpmath.mpf]:
        """State at phase ``ii - lag`` after a dose of the periodic solution (+ running rate)."""
        n = self.n
        Phi, c = self._period_map(ss)
        Mx = mpmath.eye(n) - mpmath.matrix([[Phi[i, j] for j in range(n)] for i in range(n)])
        x0 = mpmath.lu_solve(Mx, mpmath.matrix(c))
        x = [x0[i] for i in range(n)]
        # from phase 0 (just before a dose... x is the state at the period end = before next dose)
        # state right at a dose time (before the dose): x; advance to phase ii - lag
        phase = ss.ii - ss.lag
        A = list(x)
        if ss.dur == 0:
            A[ss.cmt] += mpmath.mpf(ss.amt)
            return self.advance(A, [mpmath.mpf(0)] * n, phase) if phase > 0 else A
        # infusion: walk [0, phase) with the periodic input
        ii = mpmath.mpf(ss.ii)
        dur = mpmath.mpf(ss.dur)
        cuts = {mpmath.mpf(0), mpmath.mpf(phase)}
        k = 0
        while dur - k * ii > 0:
            end = dur - k * ii
            if end < phase:
                cuts.add(end)
            k += 1
        pts = sorted(cuts)
        for a, b in zip(pts[:-1], pts[1:], strict=True):
            running = 0
            kk = 0
            while a + kk * ii < dur:
                running += 1
                kk += 1
            R = [mpmath.mpf(0)] * n
            R[ss.cmt] = running * mpmath.mpf(ss.amt) / dur
            A = self.advance(A, R, float(b - a))
        return A

    def running_rate_after_ss(self, ss: SteadyState) -> float:
        """Rate still running at the record time from implied infusions (continues after it)."""
        if ss.dur == 0:
            return 0.0
        phase = ss.ii - ss.lag
        count = 0
        k = 0
        while phase + k * ss.ii < ss.dur:
            count += 1
            k += 1
        return count * ss.amt / ss.dur

    def solve(
        self,
        events: Sequence[Dose | Reset | SteadyState],
        times: Sequence[float],
    ) -> np.ndarray:
        """Amounts (T, n) at ``times`` (after every event at the same time), as floats."""
        n = self.n
        zero = [mpmath.mpf(0)] * n
        # change points: (time, kind order, payload)
        pts: list[tuple[float, int, int, object]] = []
        for i, ev in enumerate(events):
            if isinstance(ev, Reset):
                pts.append((ev.time, 0, i, ("reset",)))
            elif isinstance(ev, SteadyState):
                pts.append((ev.time, 1, i, ("ss", ev)))
                r = self.running_rate_after_ss(ev)
                if r:
                    phase = ev.ii - ev.lag
                    k = 0
                    while phase + k * ev.ii < ev.dur:
                        left = ev.dur - (phase + k * ev.ii)
                        pts.append((ev.time, 2, i, ("rate", ev.cmt, ev.amt / ev.dur)))
                        pts.append((ev.time + left, 3, i, ("rate", ev.cmt, -ev.amt / ev.dur)))
                        k += 1
            elif ev.dur == 0:
                pts.append((ev.time, 2, i, ("bolus", ev.cmt, ev.amt)))
            else:
                pts.append((ev.time, 2, i, ("rate", ev.cmt, ev.amt / ev.dur)))
                pts.append((ev.time + ev.dur, 3, i, ("rate", ev.cmt, -ev.amt / ev.dur)))
        pts.sort(key=lambda p: (p[0], p[2], p[1]))
        out = np.zeros((len(times), n))
        order = np.argsort(times, kind="stable")
        A = list(zero)
        t = min([*(p[0] for p in pts), *times]) if pts else min(times)
        active: list[list[object]] = []  # [cmt, rate, source index]
        pi = 0

        def rate_now() -> list[mpmath.mpf]:
            R = list(zero)
            for cmt, rate, _ in active:
                R[cmt] += rate  # type: ignore[index, operator]
            return R

        for oi in order:
            target = float(times[oi])
            while pi < len(pts) and pts[pi][0] <= target:
                tp, _, src, payload = pts[pi]
                A = self.advance(A, rate_now(), tp - t)
                t = tp
                kind = payload[0]  # type: ignore[index]
                if kind == "reset" or (kind == "ss" and not payload[1].add):  # type: ignore[index]
                    A = list(zero)
                    active = [a for a in active if a[2] > src]
                    pts = pts[: pi + 1] + [p for p in pts[pi + 1 :] if p[2] >= src]
                if kind == "ss":
                    ssA = self.steady_state(payload[1])  # type: ignore[index]
                    A = [a + b for a, b in zip(A, ssA, strict=True)]
                elif kind == "bolus":
                    A[payload[1]] += mpmath.mpf(payload[2])  # type: ignore[index]
                elif kind == "rate":
                    _, cmt, rate = payload  # type: ignore[misc]
                    if rate > 0:
                        active.append([cmt, mpmath.mpf(rate), src])
                    else:
                        for a in active:
                            if a[0] == cmt and a[2] == src and abs(a[1] + rate) < 1e-12 * abs(rate):
                                active.remove(a)
                                break
                pi += 1
            A = self.advance(A, rate_now(), target - t)
            t = target
            out[oi] = [float(a) for a in A]
        return out
