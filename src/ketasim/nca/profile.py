"""Every NCA parameter of one profile over one interval, each with a reason when missing.

Owns the assembly of the parameters from the pieces (:mod:`~ketasim.nca.blq`,
:mod:`~ketasim.nca.auc`, :mod:`~ketasim.nca.lambda_z`), in the data's units and with times
relative to the interval start. Unit conversion of clearance and volume is the caller's
(:mod:`ketasim.nca.run`).

Definitions (PKNCA; CDISC codes):

- AUCIFO = AUCLST + CLST/LAMZ; AUCIFP = AUCLST + CLSTP/LAMZ; AUCPEO/P = 100 (1 - AUCLST/AUCIF.);
- AUMCIFO = AUMCLST + CLST TLST/LAMZ + CLST/LAMZ^2 (AUMCIFP with CLSTP);
- MRT = AUMC/AUC (intravascular: minus tinf/2);
- CL(F)O = dose/AUCIFO; VZ(F)O = dose/(LAMZ AUCIFO); CL(F)TAU = dose/AUCTAU;
- AUCINT = AUC over [start, end] (interpolated inside the data, extrapolated by LAMZ after
  TLST); CAVG = AUCINT/(end - start); CTROUGH = the concentration observed at the interval
  end; FLUCP = 100 (CMAX - CMIN)/CAVG;
- TABOVE = time the profile, interpolated by the AUC rule, spends above the threshold.

The dose of an interval is the sum of the doses at times in [start, end) (PKNCA's rule).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from ketasim.nca.auc import (
    compute_auc_all,
    compute_auc_interval,
    compute_auc_last,
    compute_aumc_last,
    interpolate_conc,
    is_log_segment,
)
from ketasim.nca.blq import apply_blq_rule
from ketasim.nca.intervals import Interval, get_interval_parameters
from ketasim.nca.lambda_z import LambdaZFit, compute_lambda_z
from ketasim.nca.options import NCAOptions
from ketasim.nca.parameters import Estimate

__all__ = ["ProfileNCA", "compute_profile_nca"]

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class ProfileNCA:
    """Parameters of one profile over one interval.

    Attributes
    ----------
    values : dict of PPTESTCD -> Estimate
        In the data's units (clearance/volume raw: dose unit / (time x conc) and dose / conc).
    lambda_z : LambdaZFit or None
        The terminal fit (None when there were no samples).
    times : (T,) array
        Sample times of the interval (relative to its start) after the BLQ rule.
    dropped : list of (time, reason)
        Samples removed by the BLQ rule (relative times).
    """

    values: dict[str, Estimate]
    lambda_z: LambdaZFit | None
    times: FloatArray
    dropped: list[tuple[float, str]]


def _need(name: str, e: Estimate) -> str:
    return "" if e.ok else f"{name} missing ({e.reason})"


def _derive(fn: object, **deps: Estimate) -> Estimate:
    for name, e in deps.items():
        if not e.ok:
            return Estimate.missing(_need(name, e))
    try:
        value = fn(*(e.value for e in deps.values()))  # type: ignore[operator]
    except ZeroDivisionError:
        zero = [name for name, e in deps.items() if e.value == 0]
        return Estimate.missing(f"{' and '.join(zero) or 'a denominator'} = 0: undefined")
    return Estimate(float(value))


def compute_profile_nca(
    time: FloatArray,
    conc: FloatArray,
    interval: Interval,
    options: NCAOptions,
    *,
    dose: float | None = None,
    dose_reason: str = "no dose given",
    lambda_z_points: Sequence[float] | None = None,
    dose_end: float | None = None,
) -> ProfileNCA:
    """All parameters of :func:`get_interval_parameters` for one profile.

    Parameters
    ----------
    time : (T,) array, sorted, unique, time unit of the data (absolute)
    conc : (T,) array, >= 0, conc unit of the data
    interval : Interval
    options : NCAOptions
    dose : float or None, dose unit
        Total dose given in [start, end); None when unknown.
    dose_reason : str
        Why there is no dose (the reason put on dose-based parameters).
    lambda_z_points : sequence of float or None, time unit (absolute)
        User-selected lambda_z points.
    dose_end : float or None, time unit (absolute)
        End of the last dose of the interval (time + infusion duration); lambda_z uses only
        later points.

    Returns
    -------
    ProfileNCA
    """
    codes = get_interval_parameters(
        interval, route=options.route, threshold=options.threshold is not None, has_dose=True
    )
    t_all = np.asarray(time, dtype=float)
    c_all = np.asarray(conc, dtype=float)
    inside = (t_all >= interval.start) & (t_all <= interval.end)
    t_in = t_all[inside] - interval.start
    if t_in.size == 0:
        why = f"no samples in the interval [{interval.start:g}, {interval.end:g}]"
        return ProfileNCA({k: Estimate.missing(why) for k in codes}, None, t_in, [])
    t, c, dropped = apply_blq_rule(t_in, c_all[inside], options.blq, options.lloq)
    # NOTE: AUCINT and TABOVE interpolate at the bounds from the samples around them, inside
    # or outside the interval (PKNCA's aucint uses the whole profile the same way)
    t_full, c_full, _ = apply_blq_rule(t_all - interval.start, c_all, options.blq, options.lloq)
    v: dict[str, Estimate] = {}
    span = interval.end - interval.start
    _peak_trough(v, t, c, interval)
    _areas(v, t, c, options, interval)
    pts = None if lambda_z_points is None else [p - interval.start for p in lambda_z_points]
    fit = compute_lambda_z(
        t, c, min_points=options.min_points, adj_r2_tolerance=options.adj_r2_tolerance,
        allow_tmax=options.allow_tmax, points=pts,
        after=None if dose_end is None else dose_end - interval.start,
    )  # fmt: skip
    _lambda_block(v, fit)
    lz, clst, tlst, auclst, aumclst = v["LAMZ"], v["CLST"], v["TLST"], v["AUCLST"], v["AUMCLST"]
    half_tinf = options.infusion_duration / 2
    mrt = "MRTIV" if options.route == "intravascular" else "MRTEV"
    v[f"{mrt}LST"] = _derive(lambda a, b: a / b - half_tinf, AUMCLST=aumclst, AUCLST=auclst)
    dose_e = Estimate(dose) if dose is not None else Estimate.missing(dose_reason)
    if interval.is_infinite:
        v["AUCIFO"] = _derive(lambda a, c_, k: a + c_ / k, AUCLST=auclst, CLST=clst, LAMZ=lz)
        v["AUCIFP"] = _derive(lambda a, c_, k: a + c_ / k, AUCLST=auclst, CLSTP=v["CLSTP"], LAMZ=lz)
        v["AUCPEO"] = _derive(lambda a, i: 100 * (1 - a / i), AUCLST=auclst, AUCIFO=v["AUCIFO"])
        v["AUCPEP"] = _derive(lambda a, i: 100 * (1 - a / i), AUCLST=auclst, AUCIFP=v["AUCIFP"])
        for code, cl_name in (("AUMCIFO", "CLST"), ("AUMCIFP", "CLSTP")):
            deps = {"AUMCLST": aumclst, cl_name: v[cl_name], "TLST": tlst, "LAMZ": lz}
            v[code] = _derive(lambda m, c_, tl, k: m + c_ * tl / k + c_ / k**2, **deps)
        v[f"{mrt}IFO"] = _derive(
            lambda a, b: a / b - half_tinf, AUMCIFO=v["AUMCIFO"], AUCIFO=v["AUCIFO"]
        )
        cl_code, vz_code = ("CLO", "VZO") if options.route == "intravascular" else ("CLFO", "VZFO")
        v[cl_code] = _derive(lambda d, a: d / a, dose=dose_e, AUCIFO=v["AUCIFO"])
        v[vz_code] = _derive(lambda d, k, a: d / (k * a), dose=dose_e, LAMZ=lz, AUCIFO=v["AUCIFO"])
    else:
        v["AUCINT"] = compute_auc_interval(
            t_full, c_full, 0.0, span, options.method, lambda_z=lz.value if lz.ok else math.nan
        )
        v["CAVG"] = _derive(lambda a: a / span, AUCINT=v["AUCINT"])
        if v["CAVG"].ok and v["CAVG"].value == 0:
            v["FLUCP"] = Estimate.missing("CAVG is 0: fluctuation is undefined")
        else:
            v["FLUCP"] = _derive(
                lambda hi, lo, avg: 100 * (hi - lo) / avg,
                CMAX=v["CMAX"], CMIN=v["CMIN"], CAVG=v["CAVG"],
            )  # fmt: skip
        if interval.tau:
            v["AUCTAU"] = v["AUCINT"]
            code = "CLTAU" if options.route == "intravascular" else "CLFTAU"
            v[code] = _derive(lambda d, a: d / a, dose=dose_e, AUCTAU=v["AUCTAU"])
    if options.threshold is not None:
        v["TABOVE"] = (
            Estimate(_time_above(t_full, c_full, options.threshold, options.method, span))
            if t.size >= 2
            else Estimate.missing("fewer than 2 samples: no time above the threshold")
        )
    out = {k: _finite(v[k]) for k in codes if k in v}
    return ProfileNCA(out, fit, t, dropped)


def _finite(e: Estimate) -> Estimate:
    if e.ok and not math.isfinite(e.value):
        return Estimate.missing("not finite (division by zero)")
    return e


def _peak_trough(v: dict[str, Estimate], t: FloatArray, c: FloatArray, iv: Interval) -> None:
    if t.size == 0:
        why = "every sample in the interval was dropped by the BLQ rule"
        for k in ("CMAX", "TMAX", "CMIN", "TMIN", "CLST", "TLST", "CTROUGH"):
            v[k] = Estimate.missing(why)
        return
    i = int(np.argmax(c))
    v["CMAX"], v["TMAX"] = Estimate(float(c[i])), Estimate(float(t[i]))
    j = int(np.argmin(c))
    v["CMIN"], v["TMIN"] = Estimate(float(c[j])), Estimate(float(t[j]))
    pos = np.flatnonzero(c > 0)
    if pos.size:
        v["CLST"], v["TLST"] = Estimate(float(c[pos[-1]])), Estimate(float(t[pos[-1]]))
    else:
        why = "no concentration above zero/LLOQ in the interval"
        v["CLST"], v["TLST"] = Estimate.missing(why), Estimate.missing(why)
    if not iv.is_infinite:
        at_end = np.flatnonzero(np.isclose(t, iv.end - iv.start, rtol=1e-12, atol=0.0))
        v["CTROUGH"] = (
            Estimate(float(c[at_end[0]]))
            if at_end.size
            else Estimate.missing(f"no sample at the interval end ({iv.end:g})")
        )


def _areas(
    v: dict[str, Estimate], t: FloatArray, c: FloatArray, o: NCAOptions, iv: Interval
) -> None:
    if t.size and t[0] > 0:
        why = (
            f"first sample at {t[0] + iv.start:g} is after the interval start {iv.start:g}: "
            "no concentration at the start (add a pre-dose sample)"
        )
        for k in ("AUCLST", "AUCALL", "AUMCLST"):
            v[k] = Estimate.missing(why)
        return
    v["AUCLST"] = compute_auc_last(t, c, o.method)
    v["AUCALL"] = compute_auc_all(t, c, o.method)
    v["AUMCLST"] = compute_aumc_last(t, c, o.method)


def _lambda_block(v: dict[str, Estimate], fit: LambdaZFit) -> None:
    fields = {
        "LAMZ": fit.lambda_z, "LAMZHL": fit.half_life, "LAMZNPT": float(fit.n_points),
        "R2": fit.r2, "R2ADJ": fit.adj_r2, "CORRXY": fit.corrxy, "LAMZLL": fit.t_first,
        "LAMZUL": fit.t_last, "LAMZSPN": fit.span_ratio, "CLSTP": fit.clast_pred,
    }  # fmt: skip
    for k, x in fields.items():
        if not fit.ok:
            v[k] = Estimate(0.0) if k == "LAMZNPT" else Estimate.missing(fit.reason)
        elif math.isnan(x):
            v[k] = Estimate.missing("undefined for a 2-point fit")
        else:
            v[k] = Estimate(x)


def _time_above(t: FloatArray, c: FloatArray, thr: float, method: str, span: float) -> float:
    """Time above ``thr`` in [0, span] within the samples, crossings by the AUC rule."""
    total = 0.0
    lo, hi = max(0.0, float(t[0])), min(span, float(t[-1]))
    if t.size < 2 or hi <= lo:
        return total
    inner = (t > lo) & (t < hi)
    c = np.concatenate(
        [[interpolate_conc(t, c, lo, method)], c[inner], [interpolate_conc(t, c, hi, method)]]
    )
    t = np.concatenate([[lo], t[inner], [hi]])
    log = is_log_segment(t[:-1], c[:-1], c[1:], method, float(t[int(np.argmax(c))]))
    for k in range(t.size - 1):
        t0, t1, c0, c1 = t[k], t[k + 1], c[k], c[k + 1]
        a0, a1 = c0 > thr, c1 > thr
        if a0 and a1:
            total += t1 - t0
        elif a0 != a1:
            if log[k]:
                tx = t0 + math.log(thr / c0) / math.log(c1 / c0) * (t1 - t0)
            else:
                tx = t0 + (thr - c0) / (c1 - c0) * (t1 - t0)
            total += (t1 - tx) if a1 else (tx - t0)
    return float(total)
