"""One regimen on every suitable library model: the spread between models, and why.

Models of the same drug disagree (simons_2022, arterial, predicts about twice the S-ketamine peak
of perez_ruixo_2021, venous, for the same infusion). :func:`compare_models` runs a regimen on every
model that fits the drug, route and population (:func:`ketasim.library.selection.find_models`)
and returns Cmax, Tmax and AUC per model and analyte with each model's evidence tier, sampling
site and population, plus the reasons the files give for the differences. It owns no numbers of
its own besides the cited statement on arterial vs venous sampling below.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import numpy.typing as npt

from ketasim.errors import ModelError, ParameterError
from ketasim.events import Regimen
from ketasim.exposure import compute_exposure
from ketasim.individual import resolve_covariates
from ketasim.library import load_model
from ketasim.library.provenance import format_provenance
from ketasim.library.selection import (
    check_model_use,
    find_models,
    get_population_group,
    normalise_drug,
)
from ketasim.results import Result
from ketasim.simulate import simulate
from ketasim.units import get_conc_factor

__all__ = ["ModelComparison", "ModelExposure", "compare_models"]

FloatArray = npt.NDArray[np.float64]

#: why arterial and venous models disagree (literature notes, ../shared/literature)
SAMPLING_REASON = (
    "arterial vs venous sampling: arterial ketamine concentrations exceed venous ones in the "
    "first hour after IV or fast input; arterial-sampled models (Leiden group) have V1 of about "
    "11-15 L, venous-sampled ones (Fanta, Otto, Perez-Ruixo) 130-190 L, so the same dose gives a "
    "higher arterial peak (Otto ME et al. 2021 Eur J Clin Pharmacol, abstract, "
    "doi:10.1007/s00228-021-03104-1; Kamp J et al. 2020 Anesthesiology, abstract, "
    "doi:10.1097/ALN.0000000000003577)"
)
_PARENT = {"racemic ketamine": "ketamine", "esketamine": "s_ketamine"}
_METABOLITE = {"racemic ketamine": "norketamine", "esketamine": "s_norketamine"}
_GRID_POINTS = 4001


@dataclass(frozen=True)
class ModelExposure:
    """Exposure of one analyte under one model (typical subject), with the model's provenance.

    ``cmax`` in the comparison's unit, ``tmax_h`` in h, ``auc`` in unit x h over the run,
    all exact (from the solution, :func:`ketasim.exposure.compute_exposure`, not from the plot
    grid). ``model`` is the model id, followed by the model's route in brackets when the model
    offers the route only as study-named variants (``[intranasal_yanagihara_2003]``).
    """

    model: str
    analyte: str
    cmax: float
    tmax_h: float
    auc: float
    evidence: str
    sampling: str
    population: str
    provenance: str
    notes: tuple[str, ...] = ()
    route: str = ""


@dataclass(frozen=True)
class ModelComparison:
    """The result of :func:`compare_models`: rows, the simulations, and the reasons for spread."""

    rows: tuple[ModelExposure, ...]
    results: Mapping[str, Result]
    reasons: tuple[str, ...]
    unit: str

    def get_spread(self, analyte: str, metric: str = "cmax") -> float:
        """Largest / smallest value of ``metric`` (``cmax`` or ``auc``) across the models.

        NaN when fewer than two models give the analyte.
        """
        vals = [getattr(r, metric) for r in self.rows if r.analyte == analyte]
        if len(vals) < 2 or min(vals) <= 0:
            return float("nan")
        return float(max(vals) / min(vals))


def _dose_grid(regimen: Regimen, until_h: float) -> FloatArray:
    """Output grid with every dose time and infusion end (so peaks there are on the grid)."""
    events = []
    for d in regimen.doses:
        for k in range(d.addl + 1):
            t0 = d.time_h + k * d.ii_h
            events += [t0, t0 + d.tinf_h]
    grid = np.linspace(0.0, until_h, _GRID_POINTS)
    ev = np.asarray([t for t in events if 0.0 <= t <= until_h], dtype=float)
    return np.unique(np.concatenate([grid, ev]))


def _route_variants(spec: Any, route: str) -> list[str]:
    """The model's own route, or every study-named variant of it (``intranasal_<study>``)."""
    if route in spec.routes:
        return [route]
    return [r for r in spec.routes if r.startswith(route + "_")]


def _on_route(regimen: Regimen, route: str) -> Regimen:
    """The same doses given by ``route``."""
    if all(d.route == route for d in regimen.doses):
        return regimen
    return replace(regimen, doses=tuple(replace(d, route=route) for d in regimen.doses))


def _check_weight(regimen: Regimen, weight_kg: float | None) -> None:
    if any(d.per_kg for d in regimen.doses) and weight_kg is None:
        raise ParameterError("a per-kg dose needs the body weight: give WT (e.g. --weight '70 kg')")


def compare_models(
    regimen: Regimen,
    *,
    drug: str,
    population: str | None = None,
    covariates: Mapping[str, Any] | None = None,
    until_h: float | None = None,
    unit: str = "ng/mL",
    sampling: str | None = None,
) -> ModelComparison:
    """Run one regimen on every library model fitting the drug, the route and the population.

    Parameters
    ----------
    regimen : Regimen
        All doses on one route (the route selects the models).
    drug : str
        ``racemic`` or ``esketamine``.
    population : str, optional
        ``adult`` or ``child``; None: every population.
    covariates : mapping, optional
        The subject, e.g. ``{"WT": "70 kg", "AGE": "45 yr"}``; each model uses what it can
        (see :func:`ketasim.individual.resolve_covariates`); an input no model uses is refused.
    until_h : float, h, optional
        End of the simulated window (default: end of dosing + 24 h).
    unit : str
        Concentration unit of the rows.
    sampling : str, optional
        The sampling site the question refers to (e.g. ``venous`` to compare with venous
        measurements); a model predicting another site warns (SamplingSiteWarning).

    Returns
    -------
    ModelComparison

    Examples
    --------
    >>> reg = Regimen.from_quantities("0.25 mg/kg", duration="40 min")
    >>> cmp = compare_models(reg, drug="esketamine", population="adult",
    ...                      covariates={"WT": "70 kg"})
    >>> sorted({r.model for r in cmp.rows})
    ['perez_ruixo_2021', 'simons_2022']
    """
    routes = {d.route for d in regimen.doses}
    if len(routes) != 1:
        raise ModelError(
            f"compare one route at a time (the regimen has {', '.join(sorted(routes))})"
        )
    route = routes.pop()
    form = normalise_drug(drug)
    choices = find_models(drug=form, route=route, population=population)
    if not choices:
        raise ModelError(
            f"no library model of {form} has route {route!r}"
            + (f" for {population}s" if population else "")
            + "; see ketasim models and docs/missing-models.md"
        )
    given = dict(covariates or {})
    end = regimen.get_end_time_h() + 24.0 if until_h is None else float(until_h)
    if not (np.isfinite(end) and end > 0):
        raise ParameterError(f"until = {until_h} h must be a positive time")
    times = _dose_grid(regimen, end)
    rows: list[ModelExposure] = []
    results: dict[str, Result] = {}
    used_somewhere: set[str] = set()
    for ch in choices:
        spec = load_model(ch.id)
        resolved = resolve_covariates(spec, given, regimen=regimen, allow_unused=True)
        used_somewhere |= set(given) - set(resolved.unused)
        _check_weight(regimen, resolved.weight_kg)
        for model_route in _route_variants(spec, route):
            label = ch.id if model_route == route else f"{ch.id} [{model_route}]"
            reg = _on_route(regimen, model_route)
            check_model_use(spec, route=model_route, sampling=sampling)
            kw: dict[str, Any] = {
                "covariates": dict(resolved.values),
                "weight_kg": None if "WT" in spec.covariates else resolved.weight_kg,
            }
            res = simulate(spec, reg, times, check_validity=False, **kw)  # checked above
            results[label] = res
            exact = compute_exposure(spec, reg, t_end_h=end, check_validity=False, **kw)
            for analyte in (_PARENT[form], _METABOLITE[form]):
                if analyte not in res.analytes:
                    continue
                factor = get_conc_factor(analyte, unit, what="unit")
                rows.append(
                    ModelExposure(
                        model=label,
                        analyte=analyte,
                        cmax=float(exact.cmax_mg_per_L[analyte][0]) * factor,
                        tmax_h=float(exact.tmax_h[analyte][0]),
                        auc=float(exact.auc_mg_h_per_L[analyte][0]) * factor,
                        evidence=ch.evidence,
                        sampling=ch.sampling,
                        population=get_population_group(spec),
                        provenance=format_provenance(spec),
                        notes=resolved.notes,
                        route=model_route,
                    )
                )
    nobody = sorted(set(given) - used_somewhere)
    if nobody:
        raise ParameterError(
            f"no suitable model uses {', '.join(nobody)} (models: "
            + ", ".join(c.id for c in choices)
            + "); remove it"
        )
    return ModelComparison(tuple(rows), results, _reasons(rows), unit)


def _reasons(rows: list[ModelExposure]) -> tuple[str, ...]:
    """Reasons the model files give for differences between the rows."""
    out: list[str] = []
    by_model = {r.model: r for r in rows}
    sites = {r.sampling for r in by_model.values()}
    if {"arterial", "venous"} <= sites:
        art = ", ".join(m for m, r in by_model.items() if r.sampling == "arterial")
        ven = ", ".join(m for m, r in by_model.items() if r.sampling == "venous")
        out.append(f"{SAMPLING_REASON}. Arterial: {art}; venous: {ven}.")
    unknown = [m for m, r in by_model.items() if r.sampling == "unknown"]
    if unknown and len(by_model) > 1:
        out.append(
            "sampling site not stated in the source of " + ", ".join(unknown) + ": part of the "
            "difference to the other models may be arterial vs venous"
        )
    variants = sorted({r.route for r in rows if r.model.endswith(f"[{r.route}]")})
    if variants:
        out.append(
            "route given as study-named variants ("
            + ", ".join(variants)
            + "): the studies behind a derived route disagree, so each is shown, not averaged "
            "(see the submodel's notes and docs/derived-racemic-routes.md)"
        )
    groups = {r.population for r in by_model.values()}
    if len(groups) > 1:
        out.append(
            "populations differ: "
            + "; ".join(f"{m} built in {r.population}" for m, r in by_model.items())
        )
    tiers = {r.evidence for r in by_model.values()}
    if len(tiers) > 1:
        out.append(
            "evidence differs: "
            + "; ".join(f"{m} {r.evidence}" for m, r in by_model.items())
            + " (docs/model-format.md, evidence tiers)"
        )
    return tuple(out)
