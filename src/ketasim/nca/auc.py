"""Areas under the concentration and first-moment curves of one profile, by PKNCA's methods.

Owns the trapezoidal rules (linear; linear-up/log-down; lin-log: linear before Tmax, log
after), AUClast, AUCall, AUMClast, interpolation and extrapolation of a concentration at a
time, and partial AUCs over [a, b] with interpolation at bounds inside the data and
extrapolation by lambda_z past Tlast, as PKNCA's ``aucint`` does. It does not choose lambda_z
(see :mod:`ketasim.nca.lambda_z`) nor handle BLQ points (see :mod:`ketasim.nca.blq`): the
profile it gets is already cleaned (sorted times, concentrations >= 0).

Maths (segment [t0, t1], dt = t1 - t0, concentrations c0, c1):

- linear: AUC = dt (c0 + c1) / 2; AUMC = dt (t0 c0 + t1 c1) / 2.
- log (exponential between the points, k = ln(c0/c1)/dt): AUC = dt (c0 - c1)/ln(c0/c1),
  with ln(c1/c0) computed as ``log1p((c1 - c0)/c0)`` when c1/c0 is in (0.5, 2), which keeps
  full precision as c1 -> c0 (the plain form cancels), and as ``log(c1/c0)`` otherwise;
  AUMC = (t0 c0 - t1 c1)/k + (c0 - c1)/k^2.
- extrapolation past Tlast: C(t) = Clast exp(-lambda_z (t - Tlast)); its integral to infinity
  is Clast / lambda_z and its first moment Clast Tlast / lambda_z + Clast / lambda_z^2.

The log rule is exact for a mono-exponential decline.

References
----------
Gabrielsson J, Weiner D. Pharmacokinetic and Pharmacodynamic Data Analysis, 5th ed. (2016),
ch. 2 (trapezoidal rules, AUMC). PKNCA ``pk.calc.auxc``, ``pk.calc.aucint``,
``interpolate.conc`` (Denney W et al., github.com/humanpred/pknca, 0.12.1.9000).
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from ketasim.errors import ParameterError
from ketasim.nca.parameters import Estimate

__all__ = [
    "METHODS",
    "check_method",
    "compute_auc_all",
    "compute_auc_interval",
    "compute_auc_last",
    "compute_aumc_last",
    "compute_segment_areas",
    "interpolate_conc",
    "is_log_segment",
]

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

#: AUC integration methods, by the names the CLI and API accept
METHODS: tuple[str, ...] = ("lin-up/log-down", "linear", "lin-log")

_ALIASES = {
    "lin up/log down": "lin-up/log-down",
    "linear-up/log-down": "lin-up/log-down",
    "linuplogdown": "lin-up/log-down",
}

# NOTE: below this |ln(c1/c0)| the AUMC log formula loses digits to cancellation while the
# linear rule differs from it by < 1e-13 relative, so the linear rule is used.
_AUMC_LOG_MIN = 1e-6


def check_method(method: str) -> str:
    """The canonical name of an AUC method (raises ParameterError for an unknown one)."""
    m = _ALIASES.get(method.strip().lower(), method.strip().lower())
    if m not in METHODS:
        raise ParameterError(f"AUC method {method!r}: use one of {', '.join(METHODS)}")
    return m


def is_log_segment(
    t0: FloatArray, c0: FloatArray, c1: FloatArray, method: str, tmax: float
) -> BoolArray:
    """Which segments (start time t0, concentrations c0 -> c1) the method integrates by logs.

    linear: none; lin-up/log-down: c1 < c0 with both > 0; lin-log: t0 >= tmax with both
    > 0 and c0 != c1.
    """
    positive = (c0 > 0) & (c1 > 0) & (c0 != c1)
    if method == "linear":
        return np.zeros(c0.shape, dtype=bool)
    if method == "lin-up/log-down":
        return np.asarray(positive & (c1 < c0), dtype=bool)
    return np.asarray(positive & (t0 >= tmax), dtype=bool)


def _tmax(time: FloatArray, conc: FloatArray) -> float:
    return float(time[int(np.argmax(conc))]) if time.size else math.nan


def compute_segment_areas(
    time: FloatArray,
    conc: FloatArray,
    method: str = "lin-up/log-down",
    *,
    moment: bool = False,
    tmax: float | None = None,
) -> FloatArray:
    """Area of each segment between consecutive samples (AUC, or AUMC when ``moment``).

    Parameters
    ----------
    time : (T,) array, sorted, any time unit
    conc : (T,) array, >= 0
    method : str
        One of :data:`METHODS`.
    moment : bool
        Areas under t x C(t) (first moment) instead of C(t).
    tmax : float or None, unit of time
        Tmax that ``lin-log`` switches at (default: that of these samples).

    Returns
    -------
    (T-1,) array, conc x time (x time when ``moment``)

    Examples
    --------
    >>> t = np.array([0.0, 1.0, 2.0])
    >>> compute_segment_areas(t, np.exp(-t)).sum()  # exact: 1 - e^-2
    np.float64(0.8646647167633873)
    """
    method = check_method(method)
    t = np.asarray(time, dtype=float)
    c = np.asarray(conc, dtype=float)
    t0, t1, c0, c1 = t[:-1], t[1:], c[:-1], c[1:]
    log = is_log_segment(t0, c0, c1, method, _tmax(t, c) if tmax is None else tmax)
    return _piece_areas(t0, t1, c0, c1, log, moment)


def _log_ratio(c0: FloatArray, c1: FloatArray) -> FloatArray:
    """ln(c1/c0) to full precision: log1p of the relative step near 1, else log of the ratio.

    NOTE: (c1 - c0)/c0 is exact to rounding when c1 ~ c0 (Sterbenz), so log1p keeps every digit
    there; for a large decline 1 + x would lose digits and the ratio itself is the better input.
    """
    r = c1 / c0
    near = (r > 0.5) & (r < 2.0)
    x = np.where(near, (c1 - c0) / c0, 0.0)
    out = np.where(near, np.log1p(x), np.log(np.where(near, 1.0, r)))
    return np.asarray(out, dtype=float)


def _piece_areas(
    t0: FloatArray, t1: FloatArray, c0: FloatArray, c1: FloatArray, log: BoolArray, moment: bool
) -> FloatArray:
    """Areas of pieces whose interpolant is linear, or exponential where ``log``."""
    dt = t1 - t0
    if not moment:
        area = 0.5 * (c0 + c1) * dt
        if np.any(log):
            area[log] = dt[log] * (c1[log] - c0[log]) / _log_ratio(c0[log], c1[log])
        return np.asarray(area, dtype=float)
    area = 0.5 * (t0 * c0 + t1 * c1) * dt
    idx = np.flatnonzero(log)
    if idx.size:
        idx = idx[np.abs(np.log(c0[idx] / c1[idx])) >= _AUMC_LOG_MIN]
        k = np.log(c0[idx] / c1[idx]) / dt[idx]
        area[idx] = (t0[idx] * c0[idx] - t1[idx] * c1[idx]) / k + (c0[idx] - c1[idx]) / k**2
    return np.asarray(area, dtype=float)


def _last_positive(conc: FloatArray) -> int:
    pos = np.flatnonzero(conc > 0)
    return int(pos[-1]) if pos.size else -1


def compute_auc_last(
    time: FloatArray, conc: FloatArray, method: str = "lin-up/log-down"
) -> Estimate:
    """AUC from the first sample to Tlast (the last concentration > 0).

    All-zero profiles give 0 (as PKNCA); fewer than 2 samples up to Tlast give NaN with a
    reason.
    """
    c = np.asarray(conc, dtype=float)
    i = _last_positive(c)
    if c.size == 0:
        return Estimate.missing("no samples")
    if i < 0:
        return Estimate(0.0)
    if i == 0:
        return Estimate.missing("only one sample up to Tlast: an AUC needs two")
    return Estimate(float(np.sum(compute_segment_areas(time[: i + 1], c[: i + 1], method))))


def compute_auc_all(
    time: FloatArray, conc: FloatArray, method: str = "lin-up/log-down"
) -> Estimate:
    """AUC from the first to the last sample, BLQ (zero) points after Tlast included."""
    c = np.asarray(conc, dtype=float)
    if c.size < 2:
        return Estimate.missing("fewer than 2 samples: an AUC needs two")
    return Estimate(float(np.sum(compute_segment_areas(time, c, method))))


def compute_aumc_last(
    time: FloatArray, conc: FloatArray, method: str = "lin-up/log-down"
) -> Estimate:
    """First-moment area (AUMC) from the first sample to Tlast."""
    c = np.asarray(conc, dtype=float)
    i = _last_positive(c)
    if c.size == 0:
        return Estimate.missing("no samples")
    if i < 0:
        return Estimate(0.0)
    if i == 0:
        return Estimate.missing("only one sample up to Tlast: an AUMC needs two")
    return Estimate(
        float(np.sum(compute_segment_areas(time[: i + 1], c[: i + 1], method, moment=True)))
    )


def interpolate_conc(
    time: FloatArray, conc: FloatArray, at: float, method: str = "lin-up/log-down"
) -> float:
    """Concentration at ``at`` (within [first sample, Tlast]) by the segment's AUC rule.

    Linear between the bracketing samples, or log-linear where the method integrates that
    segment by the log rule (PKNCA ``interpolate.conc``).
    """
    method = check_method(method)
    t = np.asarray(time, dtype=float)
    c = np.asarray(conc, dtype=float)
    j = int(np.searchsorted(t, at, side="left"))
    if j < t.size and t[j] == at:
        return float(c[j])
    if j == 0 or j == t.size:
        raise ParameterError(f"time {at} is outside the samples [{t[0]}, {t[-1]}]")
    t0, t1, c0, c1 = t[j - 1], t[j], c[j - 1], c[j]
    w = (at - t0) / (t1 - t0)
    log = is_log_segment(np.array([t0]), np.array([c0]), np.array([c1]), method, _tmax(t, c))[0]
    if log:
        return float(c0 * math.exp(w * math.log(c1 / c0)))
    return float(c0 + w * (c1 - c0))


def compute_auc_interval(
    time: FloatArray,
    conc: FloatArray,
    start: float,
    end: float,
    method: str = "lin-up/log-down",
    *,
    lambda_z: float = math.nan,
    moment: bool = False,
) -> Estimate:
    """AUC (or AUMC) over [start, end] with interpolation and extrapolation at the bounds.

    Inside [first sample, Tlast] the profile is interpolated at the bounds by
    :func:`interpolate_conc`; past Tlast it is Clast exp(-lambda_z (t - Tlast)) (PKNCA's
    ``aucint.inf.obs``); ``end = inf`` gives AUC to infinity. A start before the first sample
    gives NaN with a reason (PKNCA does not extrapolate backwards).

    Parameters
    ----------
    time : (T,) array, sorted
    conc : (T,) array, >= 0
    start, end : float, unit of ``time``
    lambda_z : float, 1/(unit of time)
        Needed only when ``end`` lies past Tlast.
    """
    t = np.asarray(time, dtype=float)
    c = np.asarray(conc, dtype=float)
    if not end > start:
        raise ParameterError(f"interval [{start}, {end}]: the end must be after the start")
    if t.size == 0:
        return Estimate.missing("no samples")
    if start < t[0]:
        return Estimate.missing(
            f"interval starts at {start:g}, before the first sample at {t[0]:g}: "
            "no concentration to start from (add a sample at the interval start)"
        )
    i = _last_positive(c)
    if i < 0:
        return Estimate(0.0)
    tlast, clast = float(t[i]), float(c[i])
    total = 0.0
    a, b = start, min(end, tlast)
    if a < b:
        total += _window_area(t, c, a, b, method, moment)
    if end > tlast:
        if not (math.isfinite(lambda_z) and lambda_z > 0):
            return Estimate.missing(
                f"interval ends at {end:g}, after Tlast {tlast:g}: extrapolation needs lambda_z"
            )
        lo = max(start, tlast)
        total += _tail(clast, tlast, lambda_z, lo, end, moment)
    return Estimate(total)


def _window_area(
    t: FloatArray, c: FloatArray, a: float, b: float, method: str, moment: bool
) -> float:
    """Area over [a, b] inside the samples: each piece keeps its segment's interpolant.

    NOTE: a piece cut from a segment is integrated with that segment's rule (linear or
    exponential), not re-classified on its own ends, so partial AUCs add up exactly
    (inserting points and re-applying the rule, as PKNCA's ``aucint`` does, can turn a
    linear segment into zero into a log piece and break additivity).
    """
    j0 = max(int(np.searchsorted(t, a, side="right")) - 1, 0)
    j1 = min(int(np.searchsorted(t, b, side="left")), t.size - 1)
    seg = np.arange(j0, j1)
    log = is_log_segment(t[seg], c[seg], c[seg + 1], method, _tmax(t, c))
    lo = np.maximum(t[seg], a)
    hi = np.minimum(t[seg + 1], b)
    clo = np.array(
        [_on_segment(t, c, int(j), float(x), bool(g)) for j, x, g in zip(seg, lo, log, strict=True)]
    )
    chi = np.array(
        [_on_segment(t, c, int(j), float(x), bool(g)) for j, x, g in zip(seg, hi, log, strict=True)]
    )
    return float(np.sum(_piece_areas(lo, hi, clo, chi, log, moment)))


def _on_segment(t: FloatArray, c: FloatArray, j: int, x: float, log: bool) -> float:
    """Concentration at ``x`` on segment j's interpolant."""
    t0, t1, c0, c1 = float(t[j]), float(t[j + 1]), float(c[j]), float(c[j + 1])
    if x == t0:
        return c0
    if x == t1:
        return c1
    w = (x - t0) / (t1 - t0)
    return c0 * math.exp(w * math.log(c1 / c0)) if log else c0 + w * (c1 - c0)


def _tail(clast: float, tlast: float, lz: float, lo: float, hi: float, moment: bool) -> float:
    """Integral of Clast exp(-lz (t - tlast)) (times t when ``moment``) over [lo, hi]."""
    clo = clast * math.exp(-lz * (lo - tlast))
    chi = 0.0 if math.isinf(hi) else clast * math.exp(-lz * (hi - tlast))
    if not moment:
        return (clo - chi) / lz
    hi_term = 0.0 if math.isinf(hi) else chi * (hi / lz + 1 / lz**2)
    return clo * (lo / lz + 1 / lz**2) - hi_term
