"""Dose finding: the attainment curve of a goal over candidate doses, rates, durations or intervals.

Owns the candidate regimens (:class:`DesignSpace`), the share of a virtual population meeting a
:class:`~ketasim.design.goals.Goal` for each candidate (exact per-subject exposure,
:mod:`ketasim.design.exact`) and the values where that share crosses the requested probability.
Results are worded as "the regimen that reaches X in Y % of simulated patients", never as a
recommended dose.

Method
------
The same virtual patients (:mod:`ketasim.design.sampling`, common random numbers) are used for
every candidate, so differences between candidates are not Monte Carlo noise and the curve is
exactly monotone where the goal is (e.g. a threshold against the dose). For a linear model the
concentrations of a dose or a rate family scale with the value (superposition): one simulation
of the unit regimen serves every candidate, ``c_v(t) = v c_1(t)``. Durations and intervals are
simulated per candidate. Where the curve crosses the probability between two candidates, the
crossing is refined by bisection on the same population (``refine_steps`` halvings). The Monte
Carlo standard error of each share is ``sqrt(p (1 - p) / n)``.
"""

from __future__ import annotations

import math
import re
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from ketasim.design.exact import Profiles, compute_profiles, compute_time_above
from ketasim.design.goals import Goal
from ketasim.design.sampling import VirtualPatients, sample_virtual_patients
from ketasim.errors import ModelError, ParameterError, UnitError
from ketasim.events import Dose, Regimen
from ketasim.notices import DISCLAIMER
from ketasim.pd import get_matching_analyte
from ketasim.plausibility import check_validity_range
from ketasim.population import CovariateTable
from ketasim.simulate import simulate
from ketasim.spec import ModelSpec
from ketasim.units import parse_quantity, to_unit

__all__ = ["VARY", "DesignResult", "DesignSpace", "find_regimen", "parse_range"]

FloatArray = npt.NDArray[np.float64]
VARY = ("dose", "rate", "duration", "interval")
_UNITS = {
    "dose": ("mg", "mg/kg"),
    "rate": ("mg/h", "mg/kg/h"),
    "duration": ("h",),
    "interval": ("h",),
}
_POST_DOSE_MIN = (0.25, 0.5, 1, 2, 3, 5, 7.5, 10, 15, 20, 30, 45, 60, 90, 120, 180, 240)


def parse_range(text: str, vary: str) -> tuple[float, float, str]:
    """``"0.1-1 mg/kg"`` -> (0.1, 1.0, "mg/kg") in the canonical unit of ``vary``.

    Examples
    --------
    >>> parse_range("10-60 min", "duration")
    (0.16666666666666666, 1.0, 'h')
    """
    if vary not in VARY:
        raise ParameterError(f"--vary {vary!r} must be one of {', '.join(VARY)}")
    m = re.match(r"^\s*([0-9.eE+]+)\s*(?:-|to|\.\.)\s*([0-9.eE+]+)\s*(.*?)\s*$", text or "")
    if not m:
        raise ParameterError(f"--range {text!r}: write e.g. '0.1-1 mg/kg' or '10-60 min'")
    lo_s, hi_s, unit = m.groups()
    if not unit:
        raise UnitError(
            f"--range {text!r} has no unit: write e.g. '{lo_s}-{hi_s} "
            f"{_UNITS[vary][-1] if vary in ('dose', 'rate') else 'min'}'"
        )
    for canon in _UNITS[vary]:
        try:
            lo = to_unit(f"{lo_s} {unit}", canon, what=f"--range {text!r}")
            hi = to_unit(f"{hi_s} {unit}", canon, what=f"--range {text!r}")
        except UnitError:
            continue
        if not (0 < lo < hi and math.isfinite(hi)):
            raise ParameterError(f"--range {text!r}: give 0 < low < high")
        return lo, hi, canon
    parse_quantity(f"1 {unit}", what=f"--range {text!r}")
    raise UnitError(
        f"--range {text!r}: for --vary {vary} give a unit convertible to "
        + " or ".join(_UNITS[vary])
    )


@dataclass(frozen=True)
class DesignSpace:
    """Candidate regimens: one quantity varies, the others are fixed.

    Attributes
    ----------
    vary : "dose", "rate", "duration" or "interval"
    unit : str
        Canonical unit of the varied value (mg, mg/kg, mg/h, mg/kg/h, h).
    route : str
    dose : str, optional
        Fixed dose (text with unit) when the duration or interval varies.
    duration_h : float, h
        Infusion duration (0: bolus/extravascular); required when the rate varies.
    every_h : float, h
        Interval between repeated doses (when count > 1 and the interval is fixed).
    count : int
    """

    vary: str
    unit: str
    route: str = "iv"
    dose: str | None = None
    duration_h: float = 0.0
    every_h: float = 0.0
    count: int = 1

    def __post_init__(self) -> None:
        if self.vary not in VARY:
            raise ParameterError(f"--vary {self.vary!r} must be one of {', '.join(VARY)}")
        if self.vary in ("duration", "interval") and self.dose is None:
            raise ParameterError(f"--vary {self.vary}: give the fixed --dose")
        if self.vary == "rate" and not self.duration_h > 0:
            raise ParameterError("--vary rate: give the infusion --duration")
        if self.vary == "interval" and self.count < 2:
            raise ParameterError("--vary interval: give --count >= 2 doses")
        if self.count > 1 and self.vary != "interval" and not self.every_h > 0:
            raise ParameterError(f"--count {self.count}: give the interval --every")

    @property
    def is_scalable(self) -> bool:
        """Concentrations scale with the value (dose or rate of a linear model)."""
        return self.vary in ("dose", "rate")

    def get_regimen(self, value: float) -> Regimen:
        """The candidate regimen for ``value`` (in :attr:`unit`)."""
        per_kg = "/kg" in self.unit
        every = self.every_h
        tinf = self.duration_h
        if self.vary == "dose":
            amt = value
        elif self.vary == "rate":
            amt = value * self.duration_h
        else:
            amt_text = self.dose or ""
            try:
                amt, per_kg = to_unit(amt_text, "mg", what="--dose"), False
            except UnitError:
                amt, per_kg = to_unit(amt_text, "mg/kg", what="--dose"), True
            if self.vary == "duration":
                tinf = value
            else:
                every = value
        if self.count > 1 and tinf > every:
            raise ParameterError(
                f"infusion of {tinf:g} h is longer than the interval {every:g} h between doses"
            )
        return Regimen(
            (
                Dose(
                    amt=amt,
                    route=self.route,
                    tinf_h=tinf,
                    ii_h=every if self.count > 1 else 0.0,
                    addl=self.count - 1,
                    per_kg=per_kg,
                ),
            )
        )


@dataclass(frozen=True)
class DesignResult:
    """Attainment of a goal over candidate values, in one virtual population.

    Attributes
    ----------
    goal : Goal
    space : DesignSpace
    values : (K,) array, ``space.unit``
    attainment : (K,) array, dimensionless
        Share of simulated patients meeting the goal at each value.
    se : (K,) array, dimensionless
        Monte Carlo standard error ``sqrt(p (1 - p) / n)``.
    probability : float
        The share asked for.
    found : tuple of (float, float) or None
        Ends (refined) of the first run of candidates whose attainment is >= ``probability``
        (for a unimodal curve, the smallest and largest such value in the range); None when
        no candidate reaches it.
    found_attainment : tuple of float
        Attainment at the two ``found`` values.
    n, seed : int
    notes : tuple of str
    """

    goal: Goal
    space: DesignSpace
    values: FloatArray
    attainment: FloatArray
    se: FloatArray
    probability: float
    found: tuple[float, float] | None
    found_attainment: tuple[float, float] | None
    n: int
    seed: int
    notes: tuple[str, ...] = field(default_factory=tuple)

    def describe(self) -> str:
        """One sentence in the research-only wording."""
        p = 100 * self.probability
        if self.found is None:
            best = int(np.argmax(self.attainment))
            return (
                f"no {self.space.vary} in the range reaches '{self.goal.text}' in {p:g} % of "
                f"{self.n} simulated patients (best: {100 * self.attainment[best]:.1f} % at "
                f"{self.values[best]:.4g} {self.space.unit})"
            )
        lo, hi = self.found
        span = (
            f"{lo:.4g} {self.space.unit}"
            if math.isclose(lo, hi)
            else f"{lo:.4g} to {hi:.4g} {self.space.unit}"
        )
        return (
            f"the regimen that reaches '{self.goal.text}' in at least {p:g} % of {self.n} "
            f"simulated patients has a {self.space.vary} of {span} (Monte Carlo SE "
            f"{100 * math.sqrt(self.probability * (1 - self.probability) / self.n):.1f} points). "
            + DISCLAIMER
        )


class _Population:
    """Virtual patients of one design and the exposure metrics of a candidate."""

    def __init__(
        self,
        spec: ModelSpec,
        goal: Goal,
        vp: VirtualPatients,
        params: Mapping[str, Any] | None,
        until_h: float,
        chunk: int,
    ) -> None:
        used = get_matching_analyte(goal.analyte, spec.get_analytes())
        if used is None:
            raise ModelError(
                f"--target {goal.text!r}: model {spec.id} simulates "
                f"{', '.join(spec.get_analytes())}, not {goal.analyte}"
            )
        self.spec, self.goal, self.vp, self.params = spec, goal, vp, params
        self.analyte, self.until_h, self.chunk = used, until_h, chunk

    def profiles(self, regimen: Regimen) -> Profiles:
        events = _event_times(regimen, self.until_h)
        grid = _grid(events, self.until_h, self.goal)

        def evaluate(times: FloatArray, sl: slice) -> FloatArray:
            etas, covs = self.vp.take(sl)
            res = simulate(
                self.spec,
                regimen,
                times,
                covariates=covs,
                etas=etas,
                params=_take_params(self.params, sl),
                check_validity=False,
            )
            return np.asarray(res.conc[self.analyte], dtype=np.float64)

        return compute_profiles(
            evaluate,
            self.vp.n,
            grid,
            events,
            (0.0, self.until_h),
            auc_window_h=self.goal.auc_window_h,
            need_auc=self.goal.auc_min_mg_h_per_L is not None
            or self.goal.auc_max_mg_h_per_L is not None,
            chunk=self.chunk,
        )

    def attained(self, prof: Profiles, scale: float) -> npt.NDArray[np.bool_]:
        g = self.goal
        ok = np.ones(self.vp.n, dtype=bool)
        peak = scale * prof.peak_mg_per_L
        if g.low_mg_per_L is not None:
            if g.min_time_h > 0:
                t_in = compute_time_above(prof, np.full(self.vp.n, g.low_mg_per_L / scale))
                if g.high_mg_per_L is not None and math.isfinite(g.high_mg_per_L):
                    t_in -= compute_time_above(prof, np.full(self.vp.n, g.high_mg_per_L / scale))
                ok &= t_in >= g.min_time_h
            else:
                ok &= peak >= g.low_mg_per_L
        if g.ceiling_mg_per_L is not None:
            ok &= peak < g.ceiling_mg_per_L
        if prof.auc_mg_h_per_L is not None:
            auc = scale * prof.auc_mg_h_per_L
            if g.auc_min_mg_h_per_L is not None:
                ok &= auc >= g.auc_min_mg_h_per_L
            if g.auc_max_mg_h_per_L is not None:
                ok &= auc <= g.auc_max_mg_h_per_L
        return ok


def _take_params(params: Mapping[str, Any] | None, sl: slice) -> dict[str, Any] | None:
    if not params:
        return None
    return {k: (np.asarray(v)[sl] if np.ndim(v) == 1 else v) for k, v in params.items()}


def _event_times(regimen: Regimen, until_h: float) -> FloatArray:
    t: list[float] = []
    for d in regimen.doses:
        for k in range(d.addl + 1):
            s = d.time_h + k * d.ii_h
            t += [s, s + d.tinf_h]
    arr = np.unique(np.asarray(t, dtype=float))
    return np.asarray(arr[(arr >= 0) & (arr <= until_h)], dtype=np.float64)


def _grid(events: FloatArray, until_h: float, goal: Goal) -> FloatArray:
    step = min(1 / 60, until_h / 2000)
    k = max(2, math.ceil(until_h / step))
    post = np.asarray(_POST_DOSE_MIN) / 60
    extra = [events, (events[:, None] + post[None, :]).ravel(), np.array([0.0, until_h])]
    if goal.auc_window_h is not None:
        extra.append(np.asarray(goal.auc_window_h, dtype=float))
    g = np.unique(np.concatenate([np.linspace(0.0, until_h, k + 1), *extra]))
    return np.asarray(g[(g >= 0) & (g <= until_h)], dtype=np.float64)


def find_regimen(
    spec: ModelSpec,
    goal: Goal,
    space: DesignSpace,
    values: npt.ArrayLike,
    *,
    n: int,
    seed: int,
    covariates: Mapping[str, Any] | CovariateTable,
    probability: float = 0.9,
    params: Mapping[str, Any] | None = None,
    until_h: float | None = None,
    refine_steps: int = 8,
    chunk: int = 64,
) -> DesignResult:
    """Attainment curve of ``goal`` over candidate ``values`` and where it reaches ``probability``.

    Parameters
    ----------
    spec : ModelSpec
        A library model (any route it has).
    goal : Goal
    space : DesignSpace
    values : (K,) array, ``space.unit``
        Candidates, ascending, > 0.
    n : int
        Simulated patients.
    seed : int
        The same patients as ``simulate_population`` with this seed.
    covariates : mapping or CovariateTable
        Every covariate of the model (scalars, arrays of n, TruncatedNormal) or a table.
    probability : float, dimensionless, in (0, 1)
    params : mapping, optional
        Parameter overrides (canonical units).
    until_h : float, h, optional
        End of the simulated horizon (default: end of the last dose + 24 h).
    refine_steps : int
        Bisection halvings at each crossing of ``probability``.

    Returns
    -------
    DesignResult

    Examples
    --------
    >>> from ketasim.library import load_model
    >>> from ketasim.design.goals import parse_goal
    >>> r = find_regimen(load_model("herd_2007"), parse_goal("ketamine > 750 ng/mL"),
    ...                  DesignSpace("dose", "mg/kg"), [0.5, 1.0, 2.0], n=200, seed=1,
    ...                  covariates={"WT": 20.0}, probability=0.5)
    >>> bool(np.all(np.diff(r.attainment) >= 0)), r.found is not None
    (True, True)
    """
    vals = np.asarray(values, dtype=np.float64)
    if vals.ndim != 1 or vals.size == 0 or np.any(~np.isfinite(vals)) or np.any(vals <= 0):
        raise ParameterError("candidate values must be a non-empty list of numbers > 0")
    if np.any(np.diff(vals) <= 0):
        raise ParameterError("candidate values must be strictly increasing")
    if not 0 < probability < 1:
        raise ParameterError(f"--probability {probability:g} must lie strictly between 0 and 1")
    if spec.generic:
        raise ModelError(f"generic model {spec.id} has no IIV: dose finding needs a library model")
    vp = sample_virtual_patients(
        spec, n, seed, dict(covariates) if isinstance(covariates, Mapping) else covariates
    )
    check_validity_range(spec, vp.covariates)
    horizon = (
        until_h
        if until_h is not None
        else max(space.get_regimen(float(v)).get_end_time_h() for v in vals[[0, -1]]) + 24.0
    )
    if not (math.isfinite(horizon) and horizon > 0):
        raise ParameterError(f"--until {horizon:g} h must be > 0")
    pop = _Population(spec, goal, vp, params, float(horizon), chunk)
    notes: list[str] = []
    if pop.analyte != goal.analyte:
        notes.append(f"goal for {goal.analyte} evaluated on {pop.analyte} of {spec.id}")
    scalable = space.is_scalable and spec.is_linear
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if scalable:
            unit_prof = pop.profiles(space.get_regimen(1.0))

            def share(v: float) -> float:
                return float(np.mean(pop.attained(unit_prof, v)))
        else:

            def share(v: float) -> float:
                return float(np.mean(pop.attained(pop.profiles(space.get_regimen(v)), 1.0)))

        att = np.array([share(float(v)) for v in vals])
        found, found_att = _crossings(vals, att, probability, share, refine_steps)
    for w in {str(w.message): w for w in caught}.values():
        warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    se = np.sqrt(att * (1 - att) / n)
    return DesignResult(
        goal,
        space,
        vals,
        att,
        se,
        float(probability),
        found,
        found_att,
        int(n),
        int(seed),
        tuple(notes),
    )


def _crossings(
    vals: FloatArray, att: FloatArray, p: float, share: Any, steps: int
) -> tuple[tuple[float, float] | None, tuple[float, float] | None]:
    ok = att >= p
    if not np.any(ok):
        return None, None
    first = int(np.argmax(ok))
    last = int(first + np.argmax(~ok[first:]) - 1) if np.any(~ok[first:]) else vals.size - 1
    lo, a_lo = float(vals[first]), float(att[first])
    if first > 0:
        lo, a_lo = _bisect(float(vals[first - 1]), float(vals[first]), p, share, steps, rising=True)
    hi, a_hi = float(vals[last]), float(att[last])
    if last < vals.size - 1:
        hi, a_hi = _bisect(float(vals[last]), float(vals[last + 1]), p, share, steps, rising=False)
    return (lo, hi), (a_lo, a_hi)


def _bisect(
    a: float, b: float, p: float, share: Any, steps: int, *, rising: bool
) -> tuple[float, float]:
    """The end of ``[a, b]`` where attainment is >= p, narrowed by ``steps`` halvings."""
    good, good_att = (b, share(b)) if rising else (a, share(a))
    bad = a if rising else b
    for _ in range(steps):
        mid = 0.5 * (good + bad)
        s = share(mid)
        if s >= p:
            good, good_att = mid, s
        else:
            bad = mid
    return good, good_att
