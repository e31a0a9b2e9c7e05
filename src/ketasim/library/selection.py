"""Choosing a model: which library models fit a drug, a route and a population, and with what.

Owns the metadata questions a user asks before simulating ("which models do adult racemic IM?"):
the drug form, the population a model was built in (adults, children, both), its routes, its
sampling site and its evidence tier. It does not simulate; :mod:`ketasim.comparison` runs one
regimen on every suitable model.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

from ketasim.errors import ModelError, SamplingSiteWarning, ValidityWarning
from ketasim.library.loader import list_models, load_model
from ketasim.library.provenance import get_evidence_tier
from ketasim.spec import SAMPLING_SITES, ModelSpec

__all__ = [
    "POPULATIONS",
    "ModelChoice",
    "check_model_use",
    "find_models",
    "get_population_group",
    "list_selectable_models",
    "normalise_drug",
]

#: the age limit between children and adults used to classify populations, yr
ADULT_AGE_YR = 18.0
POPULATIONS = ("adult", "child")
_DRUG_NAMES = {
    "racemic": "racemic ketamine",
    "racemic ketamine": "racemic ketamine",
    "ketamine": "racemic ketamine",
    "esketamine": "esketamine",
    "s-ketamine": "esketamine",
    "s_ketamine": "esketamine",
}


def normalise_drug(drug: str) -> str:
    """Library drug name for a user's spelling (``racemic``, ``esketamine``, ``S-ketamine`` ...).

    Examples
    --------
    >>> normalise_drug("Racemic")
    'racemic ketamine'
    """
    key = drug.strip().lower()
    if key not in _DRUG_NAMES:
        raise ModelError(f"drug {drug!r} must be racemic or esketamine")
    return _DRUG_NAMES[key]


def get_population_group(spec: ModelSpec) -> str:
    """``adult``, ``child``, ``mixed`` (both) or ``unknown``: the population a model was built in.

    From ``population.group`` when the file states it, else from ``population.age_years``
    (upper limit <= 18 yr: child; lower limit >= 18 yr: adult; otherwise mixed).

    Examples
    --------
    >>> get_population_group(load_model("herd_2007"))
    'child'
    """
    pop = spec.population
    if "group" in pop:
        return str(pop["group"])
    if "age_years" not in pop:
        return "unknown"
    lo, hi = (float(x) for x in pop["age_years"])
    if hi <= ADULT_AGE_YR:
        return "child"
    if lo >= ADULT_AGE_YR:
        return "adult"
    return "mixed"


def _fits(group: str, population: str) -> bool:
    return group == population or group == "mixed"


@dataclass(frozen=True)
class ModelChoice:
    """What a user needs to pick a model: drug, tier, sampling, population, ranges, routes."""

    id: str
    drug: str
    evidence: str
    sampling: str
    population: str
    age_years: tuple[float, float] | None
    weight_kg: tuple[float, float] | None
    routes: tuple[str, ...]
    analytes: tuple[str, ...]
    citation: str

    def format_ranges(self) -> str:
        """Validity ranges in words, e.g. ``1-14 yr, 10.8-74.8 kg`` (``not stated`` if none)."""
        parts = []
        if self.age_years:
            parts.append(f"{self.age_years[0]:g}-{self.age_years[1]:g} yr")
        if self.weight_kg:
            parts.append(f"{self.weight_kg[0]:g}-{self.weight_kg[1]:g} kg")
        return ", ".join(parts) or "not stated"


def _choice(spec: ModelSpec) -> ModelChoice:
    pop = spec.population

    def rng(key: str) -> tuple[float, float] | None:
        return (float(pop[key][0]), float(pop[key][1])) if key in pop else None

    return ModelChoice(
        id=spec.id,
        drug=spec.drug,
        evidence=get_evidence_tier(spec),
        sampling=spec.sampling,
        population=get_population_group(spec),
        age_years=rng("age_years"),
        weight_kg=rng("weight_kg"),
        routes=tuple(spec.routes),
        analytes=spec.get_analytes(),
        citation=spec.citation.format() if spec.citation else "",
    )


def list_selectable_models() -> list[str]:
    """Every model a front end offers: the shipped models, then the reference compositions.

    A reference composition (``domino_1984+racemic_adult_norketamine+racemic_adult_routes``) is a
    shipped disposition model with the derived submodels fitted on it; it is where the
    extravascular routes and the norketamine of racemic ketamine in adults live.
    """
    from ketasim.library.compose import list_composed_models

    return list_models() + list_composed_models()


def _has_route(spec: ModelSpec, route: str) -> bool:
    """The model has ``route`` itself or a study-named variant of it (``intranasal_<study>``)."""
    return route in spec.routes or any(r.startswith(route + "_") for r in spec.routes)


def find_models(
    *,
    drug: str | None = None,
    route: str | None = None,
    population: str | None = None,
    composed: bool = True,
) -> list[ModelChoice]:
    """Library models that fit a drug form, a route and a population, sorted by id.

    Shipped models come first, then (with ``composed``) the reference compositions of a
    disposition model with its derived submodels (``domino_1984+racemic_adult_routes``...), which
    is where the extravascular routes of racemic ketamine live. A route matches by name or by a
    study-named variant of it (``intranasal`` matches ``intranasal_yanagihara_2003``).

    Parameters
    ----------
    drug : str, optional
        ``racemic`` or ``esketamine`` (any spelling :func:`normalise_drug` accepts).
    route : str, optional
        Route name (``iv``, ``im``, ``intranasal`` ...; case-insensitive).
    population : str, optional
        ``adult`` or ``child``; a model built in both (``mixed``) fits either. Models whose
        population is not stated do not fit a population filter.
    composed : bool
        Also list the reference compositions (default True).

    Returns
    -------
    list of ModelChoice

    Examples
    --------
    >>> [m.id for m in find_models(drug="racemic", route="iv", population="child")]
    ['elkomy_2015', 'herd_2007', 'herd_2007+racemic_paediatric_routes']
    """
    want_drug = normalise_drug(drug) if drug is not None else None
    want_route = route.strip().lower() if route is not None else None
    if population is not None and population not in POPULATIONS:
        raise ModelError(f"population {population!r} must be one of {', '.join(POPULATIONS)}")
    out = []
    ids = list_selectable_models() if composed else list_models()
    for mid in ids:
        with warnings.catch_warnings():
            # a composition's own notes (submodel on a disposition) are not the question here
            warnings.simplefilter("ignore", ValidityWarning)
            spec = load_model(mid)
        if want_drug is not None and spec.drug != want_drug:
            continue
        if want_route is not None and not _has_route(spec, want_route):
            continue
        if population is not None and not _fits(get_population_group(spec), population):
            continue
        out.append(_choice(spec))
    return out


def check_model_use(
    spec: ModelSpec,
    *,
    route: str | None = None,
    population: str | None = None,
    sampling: str | None = None,
) -> None:
    """Refuse a route the model lacks; warn when it is used outside its population or site.

    Raises
    ------
    ModelError
        The model has no such route.

    Warns
    -----
    ValidityWarning
        ``population`` differs from the population the model was built in.
    SamplingSiteWarning
        ``sampling`` (the site the user's question refers to, e.g. ``venous`` to compare with
        venous measurements) differs from the model's.
    """
    if route is not None:
        spec.get_route(route)
    group = get_population_group(spec)
    if population is not None:
        if population not in POPULATIONS:
            raise ModelError(f"population {population!r} must be one of {', '.join(POPULATIONS)}")
        if not _fits(group, population):
            built = {"unknown": "a population that is not stated"}.get(group, f"{group}ren")
            built = "adults" if group == "adult" else built
            warnings.warn(
                f"model {spec.id} was built in {built}; used here for {population}s its "
                "predictions are extrapolations",
                ValidityWarning,
                stacklevel=2,
            )
    if sampling is not None:
        if sampling not in SAMPLING_SITES:
            raise ModelError(f"sampling {sampling!r} must be one of {', '.join(SAMPLING_SITES)}")
        if spec.sampling != sampling:
            what = (
                f"does not state its sampling site, so it may not predict {sampling} concentrations"
                if spec.sampling == "unknown"
                else f"predicts {spec.sampling} concentrations, not {sampling}"
            )
            warnings.warn(
                f"model {spec.id} {what}: arterial and venous ketamine differ most in the "
                "first hour after IV dosing",
                SamplingSiteWarning,
                stacklevel=2,
            )
