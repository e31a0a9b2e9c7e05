"""Terminal rate constant lambda_z by PKNCA's point-selection rule, with every exclusion explained.

Owns the log-linear regression of the terminal phase and the choice of its points. The rule,
in order (PKNCA ``pk.calc.half.life``, log-linear method):

1. candidates are the points with a concentration > 0 strictly after Tmax (at or after it
   when ``allow_tmax``) and strictly after the end of dosing when it is known; fewer than
   ``min_points`` (default 3) candidates give NaN;
2. each span of the last n candidates, n = min_points ... all, is fitted by least squares
   of ln C on t;
3. the spans kept are those with lambda_z > 0 whose adjusted R^2 is within
   ``adj_r2_tolerance`` (default 1e-4) of the best adjusted R^2 over all spans;
4. of those, the span with the most points is chosen.

A user may instead give the points (their times); they are fitted as given. Each point not in
the fit carries its reason (:attr:`LambdaZFit.excluded`).

Definitions (n points, residual and total sums of squares of ln C): R^2 = 1 - SSres/SStot;
adjusted R^2 = 1 - (1 - R^2)(n - 1)/(n - 2); half-life = ln 2 / lambda_z; span ratio =
(last - first fitted time) / half-life; Clast,pred = exp(intercept - lambda_z Tlast).

It does not compute AUCs (:mod:`ketasim.nca.auc`) nor handle BLQ (:mod:`ketasim.nca.blq`).

References
----------
Gabrielsson J, Weiner D. Pharmacokinetic & Pharmacodynamic Data Analysis, 4th ed. (2000),
section 2.8.4 "Strategies for estimation of lambda-z", 167-9. PKNCA ``pk.calc.half.life``
and ``fit_half_life`` (Denney W et al., github.com/humanpred/pknca, 0.12.1.9000).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from ketasim.errors import ParameterError

__all__ = ["LambdaZFit", "compute_lambda_z"]

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

_SPAN_REASON = "earlier than the chosen terminal span (best adjusted R^2 rule)"


@dataclass(frozen=True)
class LambdaZFit:
    """A terminal-phase fit (or why there is none).

    Attributes
    ----------
    lambda_z : float, 1/(time unit of the input); NaN when ``reason``
    intercept : float, ln(conc unit)
    r2, adj_r2, corrxy : float, dimensionless
    n_points : int
    t_first, t_last : float, time unit
        First and last fitted times.
    clast_pred : float, conc unit
    half_life : float, time unit
    span_ratio : float, dimensionless
    used : (T,) bool array
        Which input points are in the fit.
    excluded : tuple of (time, reason)
        Every input point not in the fit, with why.
    reason : str
        Empty when the fit exists; otherwise why not.
    manual : bool
        True when the points were given by the user.
    """

    lambda_z: float
    intercept: float
    r2: float
    adj_r2: float
    corrxy: float
    n_points: int
    t_first: float
    t_last: float
    clast_pred: float
    half_life: float
    span_ratio: float
    used: BoolArray
    excluded: tuple[tuple[float, str], ...]
    reason: str = ""
    manual: bool = False

    @property
    def ok(self) -> bool:
        """True when lambda_z is a number."""
        return not self.reason


def _fit(t: FloatArray, y: FloatArray, tlast: float) -> dict[str, float]:
    n = t.size
    tm, ym = t.mean(), y.mean()
    dt, dy = t - tm, y - ym
    sxx, sxy, syy = float(dt @ dt), float(dt @ dy), float(dy @ dy)
    slope = sxy / sxx
    intercept = ym - slope * tm
    ss_res = float(np.sum((y - (intercept + slope * t)) ** 2))
    r2 = 1.0 - ss_res / syy if syy > 0 else math.nan
    adj = 1.0 - (1.0 - r2) * (n - 1) / (n - 2) if n > 2 else math.nan
    lz = -slope
    hl = math.log(2) / lz if lz != 0 else math.nan
    return {
        "lambda_z": lz,
        "intercept": intercept,
        "r2": r2,
        "adj_r2": adj,
        "corrxy": sxy / math.sqrt(sxx * syy) if syy > 0 else math.nan,
        "n_points": float(n),
        "t_first": float(t[0]),
        "t_last": float(t[-1]),
        "clast_pred": math.exp(intercept - lz * tlast),
        "half_life": hl,
        "span_ratio": (float(t[-1]) - float(t[0])) / hl if lz > 0 else math.nan,
    }


def _scan_spans(t: FloatArray, y: FloatArray, min_points: int) -> tuple[FloatArray, FloatArray]:
    """lambda_z and adjusted R^2 of the spans of the last n points, n = min_points ... all.

    One pass of suffix sums (O(n)) about the last point, for the selection only; the chosen
    span is refitted directly by :func:`_fit` for the reported values.
    NOTE: sums lose ~1e-13 in R^2 to cancellation, far below the 1e-4 selection tolerance.
    """
    x = (t - t[-1])[::-1]
    v = (y - y[-1])[::-1]
    n = np.arange(1, x.size + 1, dtype=float)
    sx, sy = np.cumsum(x), np.cumsum(v)
    sxx = np.cumsum(x * x) - sx * sx / n
    sxy = np.cumsum(x * v) - sx * sy / n
    syy = np.cumsum(v * v) - sy * sy / n
    m = slice(min_points - 1, None)
    with np.errstate(divide="ignore", invalid="ignore"):
        slope = sxy[m] / sxx[m]
        r2 = 1.0 - (syy[m] - slope * sxy[m]) / syy[m]
        nn = n[m]
        adj = np.where(nn > 2, 1.0 - (1.0 - r2) * (nn - 1) / (nn - 2), np.nan)
    adj = np.where(syy[m] > 0, adj, np.nan)
    return np.asarray(-slope, dtype=float), np.asarray(adj, dtype=float)


def _missing(
    t: FloatArray, excluded: list[tuple[float, str]], reason: str, manual: bool
) -> LambdaZFit:
    nan = math.nan
    return LambdaZFit(
        nan, nan, nan, nan, nan, 0, nan, nan, nan, nan, nan,
        np.zeros(t.size, dtype=bool), tuple(excluded), reason, manual,
    )  # fmt: skip


def compute_lambda_z(
    time: FloatArray,
    conc: FloatArray,
    *,
    min_points: int = 3,
    adj_r2_tolerance: float = 1e-4,
    allow_tmax: bool = False,
    points: Sequence[float] | None = None,
    after: float | None = None,
) -> LambdaZFit:
    """Fit lambda_z to one cleaned profile by PKNCA's rule, or to user-chosen points.

    Parameters
    ----------
    time : (T,) array, sorted, any time unit
    conc : (T,) array, >= 0 (BLQ as 0 or already dropped)
    min_points : int
        Minimum number of points of a span (>= 2; PKNCA default 3).
    adj_r2_tolerance : float, dimensionless
        Spans within this of the best adjusted R^2 count as equally good (PKNCA 1e-4).
    allow_tmax : bool
        Let the point at Tmax be in the fit (PKNCA default False).
    points : sequence of float, unit of time, or None
        Times of the points to fit (user override); each must be a sample time.
    after : float or None, unit of time
        End of the last dose administration (dose time + infusion duration): candidates
        must be strictly later (PKNCA excludes points during dosing the same way).

    Returns
    -------
    LambdaZFit

    Examples
    --------
    >>> t = np.array([0.0, 1, 2, 4, 6, 8])
    >>> fit = compute_lambda_z(t, np.array([0.0, 10, 8, 4, 2, 1]))
    >>> round(fit.half_life, 6), fit.n_points, fit.excluded[:2]
    (2.0, 4, ((0.0, 'zero or BLQ concentration'), (1.0, 'at Tmax')))
    """
    t = np.asarray(time, dtype=float)
    c = np.asarray(conc, dtype=float)
    if min_points < 2:
        raise ParameterError(f"lambda_z min_points {min_points}: at least 2 are needed")
    excluded: list[tuple[float, str]] = []
    tlast = float(t[np.flatnonzero(c > 0)[-1]]) if np.any(c > 0) else math.nan
    if points is not None:
        return _manual(t, c, points, tlast)
    if not np.any(c > 0):
        return _missing(t, [(float(x), "zero or BLQ concentration") for x in t],
                        "no concentration above zero/LLOQ", False)  # fmt: skip
    tmax = float(t[int(np.argmax(c))])
    cand = np.zeros(t.size, dtype=bool)
    for i in range(t.size):
        if c[i] <= 0:
            excluded.append((float(t[i]), "zero or BLQ concentration"))
        elif t[i] < tmax or (t[i] == tmax and not allow_tmax):
            excluded.append((float(t[i]), "at Tmax" if t[i] == tmax else "before Tmax"))
        elif after is not None and t[i] <= after:
            excluded.append((float(t[i]), f"during dosing (it ends at {after:g})"))
        else:
            cand[i] = True
    idx = np.flatnonzero(cand)
    where = "at or after Tmax" if allow_tmax else "after Tmax"
    if idx.size < min_points:
        return _missing(
            t, excluded,
            f"fewer than {min_points} points above zero/LLOQ {where} ({idx.size} found)", False,
        )  # fmt: skip
    y = np.log(c[idx])
    if np.all(y == y[0]):
        return _missing(t, excluded, "no variability in the terminal concentrations", False)
    lz, adj = _scan_spans(t[idx], y, min_points)
    if min_points == 2 and idx.size == 2:
        keep = lz > 0
    else:
        best = np.nanmax(adj) if np.any(np.isfinite(adj)) else math.nan
        with np.errstate(invalid="ignore"):
            keep = (lz > 0) & (adj > best - adj_r2_tolerance)
    if not np.any(keep):
        reason = (
            "no span with lambda_z > 0 within the adjusted R^2 tolerance "
            f"({adj_r2_tolerance:g}) of the best fit"
        )
        excluded += [(float(t[j]), "in no acceptable terminal span") for j in idx]
        return _missing(t, sorted(excluded), reason, False)
    n_best = int(np.flatnonzero(keep)[-1]) + min_points
    chosen = _fit(t[idx[-n_best:]], y[-n_best:], tlast)
    used = np.zeros(t.size, dtype=bool)
    used[idx[-n_best:]] = True
    for i in idx[: idx.size - n_best]:
        excluded.append((float(t[i]), _SPAN_REASON))
    return _result(chosen, used, sorted(excluded), manual=False)


def _result(
    f: dict[str, float], used: BoolArray, excluded: list[tuple[float, str]], manual: bool
) -> LambdaZFit:
    return LambdaZFit(
        lambda_z=f["lambda_z"],
        intercept=f["intercept"],
        r2=f["r2"],
        adj_r2=f["adj_r2"],
        corrxy=f["corrxy"],
        n_points=int(f["n_points"]),
        t_first=f["t_first"],
        t_last=f["t_last"],
        clast_pred=f["clast_pred"],
        half_life=f["half_life"],
        span_ratio=f["span_ratio"],
        used=used,
        excluded=tuple(excluded),
        manual=manual,
    )


def _manual(t: FloatArray, c: FloatArray, points: Sequence[float], tlast: float) -> LambdaZFit:
    want = np.asarray(sorted(float(p) for p in points), dtype=float)
    used = np.zeros(t.size, dtype=bool)
    for p in want:
        hit = np.flatnonzero(np.isclose(t, p, rtol=1e-9, atol=1e-12))
        if hit.size == 0:
            raise ParameterError(
                f"lambda_z point at time {p:g} is not a sample time of this profile; "
                f"sample times: {', '.join(f'{x:g}' for x in t)}"
            )
        used[hit[0]] = True
    excluded = [(float(x), "not among the user-selected points") for x in t[~used]]
    for i in np.flatnonzero(used):
        if c[i] <= 0:
            raise ParameterError(
                f"lambda_z point at time {t[i]:g} has concentration {c[i]:g}: "
                "select points with a concentration above zero/LLOQ"
            )
    if used.sum() < 2:
        return _missing(t, excluded, "fewer than 2 user-selected points", True)
    f = _fit(t[used], np.log(c[used]), tlast)
    if not f["lambda_z"] > 0:
        for x in t[used]:
            excluded.append((float(x), "in a user selection with lambda_z <= 0"))
        return _missing(t, sorted(excluded), "user-selected points give lambda_z <= 0", True)
    return _result(f, used, excluded, manual=True)
