"""A comparison of up to four regimens: the numbers the app, ``ketasim run`` and reports show.

Owns running a :class:`~ketasim.scenario.Scenario` through the public API and collecting what
every front end displays, so that they agree to the last digit:

- per regimen, the display curves (on :func:`ketasim.grids.get_default_grid`) and the exposure
  summaries, which come from a simulation on :func:`ketasim.grids.get_summary_grid` (every dose,
  infusion end, modelled input end and lag is a grid point), never from the display grid;
- per analyte: Cmax, Tmax, AUC over the window (linear-up/log-down, :mod:`ketasim.nca`), the time
  in the first published zone of that analyte (:mod:`ketasim.risk`, exact for the interpolated
  profile) and the peak accumulation ratio (module docstring of :func:`compute_comparison`);
- the risk summary against every published zone and effect model (:func:`compute_risk_summary`),
  interaction ratios for the patient's drugs (:mod:`ketasim.interactions`) and every note and
  warning, as text;
- population bands (:func:`compute_population_bands`, through
  :func:`ketasim.population.simulate_population`).

It deliberately contains no pharmacokinetics: it calls ``simulate``, ``nca`` and
``risk``. A dose the plausibility guard warns about is refused here (:class:`ParameterError`
with the guard's message), so that no front end shows numbers for a likely unit slip.
"""

from __future__ import annotations

import functools
import threading
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from ketasim.errors import KetasimError, ParameterError, PlausibilityWarning
from ketasim.events import Regimen
from ketasim.grids import get_default_grid, get_summary_grid
from ketasim.interactions import Modifier, compute_modified_exposure, list_modifiers
from ketasim.library import load_model
from ketasim.library.effects import Zone, load_effects
from ketasim.nca import compute_auc, compute_cmax
from ketasim.notices import DISCLAIMER
from ketasim.plausibility import check_validity_range
from ketasim.population import PopulationResult, simulate_population
from ketasim.results import Result
from ketasim.risk import RiskSummary, compute_risk_summary, compute_time_in_band
from ketasim.scenario import RegimenSpec, Scenario, get_covariates, get_regimen
from ketasim.simulate import simulate
from ketasim.spec import ModelSpec
from ketasim.units import get_conc_factor as _unit_factor

__all__ = [
    "MAX_POPULATION_N",
    "AnalyteSummary",
    "Arm",
    "Comparison",
    "InteractionRow",
    "compute_comparison",
    "compute_population_bands",
    "get_conc_factor",
    "get_default_zone",
    "get_matching_models",
]

FloatArray = npt.NDArray[np.float64]

#: largest population the app and ``ketasim run`` simulate per regimen (subjects)
MAX_POPULATION_N = 20_000

# NOTE: ``warnings.catch_warnings`` swaps process-wide state (Python 3.11), so two threads
# capturing at once could lose each other's warnings, and with them the plausibility refusal.
# Every capture here holds this lock (the app runs comparisons in threads).
_WARNINGS_LOCK = threading.Lock()


@dataclass(frozen=True)
class AnalyteSummary:
    """Exposure of one analyte under one regimen (typical subject), from the summary grid.

    Attributes
    ----------
    cmax : float, ``unit``
    tmax_h : float, h
    auc : float, ``unit`` x h, over [0, until]
    zone_id : str
        The published zone used for ``time_in_zone_h`` ("" when the analyte has none).
    time_in_zone_h : float, h (NaN with ``reasons["time_in_zone"]``)
    accumulation : float, dimensionless
        Cmax after the last dose / Cmax after the first dose (NaN for a single dose).
    """

    regimen: str
    model_id: str
    analyte: str
    unit: str
    cmax: float
    tmax_h: float
    auc: float
    zone_id: str
    zone_band: str
    time_in_zone_h: float
    accumulation: float
    reasons: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class InteractionRow:
    """A published interaction ratio applied to one regimen's exposure (or why it is not)."""

    regimen: str
    modifier_id: str
    perpetrator: str
    analyte: str
    metric: str
    ratio: float
    baseline: float
    adjusted: float
    unit: str
    source: str
    note: str = ""


@dataclass(frozen=True)
class Arm:
    """One regimen of a comparison: inputs as resolved and every result shown for it.

    ``risk`` and ``risk_notes`` (the published zones and effect models against the summary-grid
    solution, :func:`ketasim.risk.compute_risk_summary`) are computed on first use and kept.
    """

    spec: RegimenSpec
    model: ModelSpec
    regimen: Regimen
    covariates: dict[str, float]
    display: Result
    fine: Result
    summaries: tuple[AnalyteSummary, ...]
    notes: tuple[str, ...]

    @functools.cached_property
    def _risk(self) -> tuple[RiskSummary, tuple[str, ...]]:
        with _WARNINGS_LOCK, warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            risk = compute_risk_summary(self.fine)
        return risk, tuple(dict.fromkeys(str(w.message) for w in caught))

    @property
    def risk(self) -> RiskSummary:
        """Time in each published zone and above each C50 (typical subject)."""
        return self._risk[0]

    @property
    def risk_notes(self) -> tuple[str, ...]:
        """Warnings of the risk summary (sampling site, drug form), once each."""
        return self._risk[1]


@dataclass(frozen=True)
class Comparison:
    """Every number a comparison shows, with the scenario that produced it."""

    scenario: Scenario
    arms: tuple[Arm, ...]
    interactions: tuple[InteractionRow, ...] = ()
    disclaimer: str = DISCLAIMER

    @property
    def unit(self) -> str:
        return self.scenario.unit

    def get_citations(self) -> list[str]:
        """The one-line citation of each model used, in order, without repeats."""
        out: list[str] = []
        for a in self.arms:
            c = a.model.citation
            text = f"{a.model.id}: {c.format() if c else 'no citation (generic model)'}"
            if text not in out:
                out.append(text)
        return out

    def to_rows(self) -> list[dict[str, str | float]]:
        """One row per regimen and analyte; column names carry their units."""
        u = self.unit
        return [
            {
                "regimen": s.regimen,
                "model": s.model_id,
                "analyte": s.analyte,
                f"cmax_{u}": s.cmax,
                "tmax_h": s.tmax_h,
                f"auc_{u}*h": s.auc,
                "zone": s.zone_id,
                "time_in_zone_h": s.time_in_zone_h,
                "accumulation_ratio": s.accumulation,
                "notes": "; ".join(f"{k}: {v}" for k, v in s.reasons.items()),
            }
            for a in self.arms
            for s in a.summaries
        ]


def get_matching_models(
    drug: str | None = None, route: str | None = None, population: str | None = None
) -> list[tuple[ModelSpec, bool]]:
    """Library models (shipped, then reference compositions) with whether each suits the drug
    form, route (or a study-named variant of it) and population.

    Suitable models come first (library order within each group). ``population`` is
    ``"adult"`` or ``"child"`` (matched against the model's age range, 18 yr cut-off).
    """
    from ketasim.library import list_selectable_models

    out: list[tuple[ModelSpec, bool]] = []
    for mid in list_selectable_models():
        m = load_model(mid)
        has_route = route in m.routes or any(r.startswith(f"{route}_") for r in m.routes)
        ok = drug in (None, "", m.drug) and (route in (None, "") or has_route)
        ages = m.population.get("age_years")
        if ok and population and ages:
            lo, hi = (float(x) for x in ages)
            ok = hi > 18 if population == "adult" else lo < 18
        out.append((m, ok))
    return sorted(out, key=lambda mo: not mo[1])


def get_conc_factor(spec: ModelSpec, analyte: str, unit: str) -> float:
    """Factor from mg/L to ``unit`` for ``analyte`` (molar units use its molar mass), the one
    :meth:`Result.get_conc` uses, so that every front end converts the same way.

    >>> from ketasim.library import load_model
    >>> get_conc_factor(load_model("herd_2007"), "ketamine", "ng/mL")
    1000.0
    """
    del spec  # NOTE: kept for callers; the factor depends on the analyte's molar mass only
    return _unit_factor(analyte, unit)


def get_default_zone(analyte: str, drug: str) -> Zone | None:
    """The first published zone (``effects.toml`` order) of ``analyte`` for ``drug``'s form."""
    for z in load_effects().zones.values():
        if z.analyte == analyte and z.drug_form == drug:
            return z
    return None


def _dose_starts_h(regimen: Regimen) -> FloatArray:
    return np.unique(
        np.concatenate([d.time_h + d.ii_h * np.arange(d.addl + 1) for d in regimen.doses])
    )


def _summaries(label: str, fine: Result, regimen: Regimen, unit: str) -> tuple[AnalyteSummary, ...]:
    t = fine.time_h
    starts = _dose_starts_h(regimen)
    starts = starts[starts <= t[-1]]
    out: list[AnalyteSummary] = []
    for a in fine.spec.get_analytes():
        c = fine.get_conc(a, unit)[0]
        cmax, tmax = compute_cmax(t, c)
        auc = compute_auc(t, c)
        reasons = {k: m.reason for k, m in (("cmax", cmax), ("auc", auc)) if m.reason}
        zone = get_default_zone(a, fine.spec.drug)
        if zone is None:
            tz = float("nan")
            reasons["time_in_zone"] = f"no published zone for {a} ({fine.spec.drug})"
            zid, band = "", ""
        else:
            c_mg = fine.conc[a][0]
            tz = float(compute_time_in_band(t, c_mg, zone.low_mg_per_L, zone.high_mg_per_L))
            zid, band = zone.id, zone.printed
        if starts.size > 1:
            first = (t >= starts[0]) & (t < starts[1])
            last = t >= starts[-1]
            c_first = float(np.max(c[first]))
            acc = float(np.max(c[last])) / c_first if c_first > 0 else float("nan")
            if not c_first > 0:
                reasons["accumulation"] = "no exposure after the first dose"
        else:
            acc = float("nan")
            reasons["accumulation"] = "a single dose (in the window)"
        out.append(
            AnalyteSummary(
                regimen=label,
                model_id=fine.spec.id,
                analyte=a,
                unit=unit,
                cmax=float(cmax.value[()]),
                tmax_h=float(tmax.value[()]),
                auc=float(auc.value[()]),
                zone_id=zid,
                zone_band=band,
                time_in_zone_h=tz,
                accumulation=acc,
                reasons=reasons,
            )
        )
    return tuple(out)


def _run_arm(scenario: Scenario, reg: RegimenSpec) -> Arm:
    spec = load_model(reg.model)
    notes: list[str] = []
    weight = scenario.patient.get_weight_kg()
    regimen = get_regimen(reg, weight)
    for route in (reg.route, *((reg.loading.route,) if reg.loading else ())):
        if route not in spec.routes:
            raise ParameterError(
                f"regimen {reg.label!r}: model {spec.id} has no route {route!r}; its routes: "
                f"{', '.join(spec.routes)}"
            )
    covs, cov_notes = get_covariates(spec, scenario.patient, reg)
    notes += cov_notes
    until_h, step_h = scenario.grid.get_until_h(), scenario.grid.get_step_h()
    with _WARNINGS_LOCK, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        age = scenario.patient.get_age_yr()
        check_validity_range(
            spec,
            {k: v for k, v in (("WT", weight), ("AGE", age)) if v is not None},
        )
        display_t = get_default_grid(
            regimen, until_h=until_h, step_h=step_h, spec=spec, covariates=covs
        )
        until = float(display_t[-1])
        fine_t = get_summary_grid(regimen, until_h=until, spec=spec, covariates=covs)
        fine = simulate(spec, regimen, fine_t, covariates=covs, check_validity=False)
        display = simulate(spec, regimen, display_t, covariates=covs, check_validity=False)
    seen: set[str] = set()
    for w in caught:
        msg = str(w.message)
        if issubclass(w.category, PlausibilityWarning):
            raise ParameterError(
                f"regimen {reg.label!r}, dose {reg.dose}: refused (no numbers shown for a likely "
                f"unit slip): {msg}"
            )
        if msg not in seen:
            seen.add(msg)
            notes.append(f"{w.category.__name__}: {msg}")
    return Arm(
        spec=reg,
        model=spec,
        regimen=regimen,
        covariates=covs,
        display=display,
        fine=fine,
        summaries=_summaries(reg.label, fine, regimen, scenario.unit),
        notes=tuple(notes),
    )


def _matching_modifiers(drug_names: Sequence[str]) -> list[Modifier]:
    wanted = [d.strip().lower() for d in drug_names if d.strip()]
    return [m for m in list_modifiers() if any(w and w in m.perpetrator.lower() for w in wanted)]


def _interactions(arms: Sequence[Arm], drug_names: Sequence[str]) -> list[InteractionRow]:
    out: list[InteractionRow] = []
    for mod in _matching_modifiers(drug_names):
        for a in arms:
            try:
                rows = compute_modified_exposure(a.fine, mod, a.spec.route)
            except KetasimError as exc:
                out.append(
                    InteractionRow(
                        a.spec.label,
                        mod.id,
                        mod.perpetrator,
                        "",
                        "",
                        float("nan"),
                        float("nan"),
                        float("nan"),
                        "",
                        mod.source,
                        note=str(exc),
                    )
                )
                continue
            for r in rows:
                out.append(
                    InteractionRow(
                        a.spec.label,
                        mod.id,
                        mod.perpetrator,
                        r.analyte,
                        r.metric,
                        r.ratio,
                        r.baseline,
                        r.adjusted,
                        r.unit,
                        mod.source,
                        note="published ratio applied to this summary only; curves unadjusted",
                    )
                )
    return out


def compute_comparison(scenario: Scenario) -> Comparison:
    """Simulate every regimen of ``scenario`` for the typical patient and summarise it.

    Summaries are computed on :func:`~ketasim.grids.get_summary_grid` (typical individual
    parameters). The peak accumulation ratio of an analyte is
    ``max c(t), t >= last dose`` / ``max c(t), first dose <= t < second dose``.

    Raises
    ------
    KetasimError
        For an unknown model or route, a missing weight for a per-kg dose, a grid beyond the
        limits, or a dose the plausibility guard flags (refused, not warned).

    Examples
    --------
    >>> from ketasim.scenario import Patient, RegimenSpec, Scenario
    >>> s = Scenario((RegimenSpec("IV", "herd_2007", "1 mg/kg", duration="10 min"),),
    ...              Patient(weight="20 kg"))
    >>> row = compute_comparison(s).to_rows()[0]
    >>> row["analyte"], round(row["tmax_h"], 4)
    ('ketamine', 0.1667)
    """
    arms = tuple(_run_arm(scenario, r) for r in scenario.regimens)
    return Comparison(
        scenario=scenario,
        arms=arms,
        interactions=tuple(_interactions(arms, scenario.patient.interacting_drugs)),
    )


def compute_population_bands(
    comparison: Comparison,
    n: int,
    *,
    seed: int | None = None,
    on_arm: Callable[[int, int], None] | None = None,
) -> list[PopulationResult]:
    """Population percentiles (5/50/95 %) of every regimen on its display grid.

    Parameters
    ----------
    comparison : Comparison
    n : int
        Subjects per regimen, 1 to :data:`MAX_POPULATION_N`.
    seed : int, optional
        Default: the scenario's seed (regimen ``i`` uses ``seed + i``).
    on_arm : callable(done, total), optional
        Called after each regimen (progress).

    Raises
    ------
    ParameterError
        For ``n`` outside 1..MAX_POPULATION_N.
    """
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or not 1 <= n <= MAX_POPULATION_N:
        raise ParameterError(
            f"population n = {n} subjects: give 1 to {MAX_POPULATION_N} (larger runs: "
            "`ketasim population` on the command line)"
        )
    base = comparison.scenario.seed if seed is None else seed
    out: list[PopulationResult] = []
    for i, arm in enumerate(comparison.arms):
        # NOTE: no warning capture here (it would swap process-wide state for seconds); a
        # validity warning the typical run already noted may be shown again by the caller
        out.append(
            simulate_population(
                arm.model,
                arm.regimen,
                arm.display.time_h,
                int(n),
                seed=base + i,
                covariates=arm.covariates,
                progress=False,
            )
        )
        if on_arm is not None:
            on_arm(i + 1, len(comparison.arms))
    return out
