"""Individual parameters: typical values, covariate expressions, ETAs and overrides.

Owns turning a ModelSpec plus a subject's covariates, random effects and user overrides into
arrays of individual parameters in canonical units, and checking that the rate matrix has what
it needs. It does not simulate (that is :mod:`ketasim.simulate`).

Every input is checked at the edge against its domain from the model file (``positive``,
``count``, ``binary``, limits ...; see :func:`ketasim.spec.find_outside_domain`), and an error
names the input as the user gave it (``covariate WT = 0 kg``), never a parameter derived from it.
A derived parameter that still leaves its domain (e.g. a clearance driven negative by an
extreme age) is reported with the inputs it was computed from.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from ketasim.errors import ModelError, ParameterError, UnitError
from ketasim.events import Regimen
from ketasim.spec import ModelSpec, describe_domain, find_outside_domain
from ketasim.units import parse_quantity, to_unit

__all__ = [
    "ResolvedCovariates",
    "check_parameters",
    "coerce_covariates",
    "compute_individual_parameters",
    "derive_per_dose_covariates",
    "is_modifier",
    "resolve_covariates",
]

FloatArray = npt.NDArray[np.float64]
_MODIFIERS = ("F", "ALAG", "R", "D")


def compute_individual_parameters(
    spec: ModelSpec,
    *,
    covariates: Mapping[str, Any] | None = None,
    etas: FloatArray | None = None,
    params: Mapping[str, Any] | None = None,
) -> dict[str, FloatArray]:
    """Individual parameters of a model, canonical units, as arrays broadcast over subjects.

    Parameters
    ----------
    spec : ModelSpec
    covariates : mapping, optional
        Covariate name -> value(s) in the covariate's declared unit (e.g. WT in kg); scalars or
        arrays (subjects,) or (subjects, records).
    etas : ndarray (subjects, n_eta), optional
        Between-subject random effects in the order of ``spec.iiv.names``; zeros when omitted.
    params : mapping, optional
        Direct values for individual parameters (override the expressions), canonical units
        for library models, the user's units for generic models.

    Returns
    -------
    dict of str to ndarray
    """
    covariates = coerce_covariates(spec, covariates)
    params = {
        spec.aliases.get(k, k): _as_number_array(v, f"params {k}")
        for k, v in (params or {}).items()
    }
    known = set(spec.get_parameter_names()) | set(_modifier_names(spec)) | set(spec.thetas)
    for k in params:
        if k not in known and not is_modifier(k, spec):
            raise ParameterError(
                f"model {spec.id} has no parameter {k!r}; parameters: "
                + ", ".join(spec.get_parameter_names())
            )
    for k in covariates:
        if k not in spec.covariates:
            raise ParameterError(
                f"model {spec.id} has no covariate {k!r}; covariates: "
                + (", ".join(spec.covariates) or "none")
            )
    env: dict[str, Any] = {name: p.value for name, p in spec.thetas.items()}
    env.update({k: float(v) for k, v in spec.defaults.items()})
    for name in spec.covariates:
        if name not in covariates:
            raise ParameterError(
                f"model {spec.id}: covariate {name} "
                f"({spec.covariates[name].unit or 'dimensionless'})"
                " is not given"
            )
        env[name] = covariates[name]
    names = spec.get_eta_names()
    if etas is not None:
        etas = np.atleast_2d(np.asarray(etas, dtype=float))
        if etas.shape[-1] != len(names):
            raise ParameterError(
                f"model {spec.id}: {etas.shape[-1]} ETAs given, model has {len(names)}"
            )
    for j, name in enumerate(names):
        env[name] = etas[:, j] if etas is not None else 0.0
    out: dict[str, Any] = {}
    pending = dict(spec.individual)
    for k, v in params.items():
        _check_domain(spec, k, v, f"params {k}", spec.individual_units.get(k, ""))
        out[k] = v
        env[k] = out[k]
        pending.pop(k, None)
    for _ in range(len(pending) + 1):
        done = [k for k, e in pending.items() if e.names <= set(env)]
        if not done:
            break
        for k in done:
            with np.errstate(all="ignore"):
                env[k] = out[k] = np.asarray(pending.pop(k).evaluate(env), dtype=float)
    if pending:
        raise ModelError(
            f"model {spec.id}: circular individual parameter definitions: {sorted(pending)}"
        )
    for name in spec.free_parameters:
        if name in env and name not in out:
            out[name] = np.asarray(env[name], dtype=float)
    for name, p in spec.thetas.items():
        out.setdefault(name, np.asarray(p.value))
    for k, v in out.items():
        if k in params:
            continue
        domain = spec.parameter_domains.get(k, "real")
        bad = find_outside_domain(v, domain)
        if np.any(bad):
            value = float(np.asarray(v)[bad].ravel()[0]) if np.ndim(v) else float(v)
            raise ParameterError(
                f"model {spec.id}: {_describe_inputs(spec, k, covariates, params, etas)} give "
                f"{k} = {value:g} {spec.individual_units.get(k, '')}".rstrip()
                + f", which must be {describe_domain(domain)}; check those inputs"
            )
    return out


def coerce_covariates(
    spec: ModelSpec, covariates: Mapping[str, Any] | None
) -> dict[str, FloatArray]:
    """Covariates as float arrays in the model's units, each checked against its domain.

    Parameters
    ----------
    spec : ModelSpec
    covariates : mapping, optional
        Name -> number(s) in the covariate's declared unit, or a quantity string with a unit
        (``"70 kg"``), as the CLI writes them.

    Returns
    -------
    dict of str to ndarray

    Raises
    ------
    ParameterError
        For a covariate the model does not have, a non-number, or a value outside the
        covariate's domain (``WT = 0 kg``, ``NDEV = 2.5``, ``ASIAN = 7``), naming the input.

    Examples
    --------
    >>> from ketasim.library import load_model
    >>> coerce_covariates(load_model("herd_2007"), {"WT": "20 kg"})["WT"]
    array(20.)
    """
    out: dict[str, FloatArray] = {}
    for k, v in (covariates or {}).items():
        if k not in spec.covariates:
            raise ParameterError(
                f"model {spec.id} has no covariate {k!r}; covariates: "
                + (", ".join(spec.covariates) or "none")
            )
        cov = spec.covariates[k]
        if isinstance(v, str):
            try:
                val = (
                    to_unit(v, cov.unit, what=f"covariate {k}")
                    if cov.unit
                    else float(parse_quantity(v, what=f"covariate {k}", allow_bare=True).magnitude)
                )
            except UnitError as exc:
                raise ParameterError(f"covariate {k} = {v!r}: {exc} (model {spec.id})") from None
            arr = np.asarray(val, dtype=float)
        else:
            arr = _as_number_array(v, f"covariate {k}")
        _check_domain(spec, k, arr, f"covariate {k}", cov.unit, cov.domain, cov.min, cov.max)
        out[k] = arr
    return out


def _as_number_array(v: Any, what: str) -> FloatArray:
    if isinstance(v, str):
        raise ParameterError(f"{what} = {v!r}: give a number (in canonical units)")
    try:
        return np.asarray(v, dtype=float)
    except (TypeError, ValueError):
        raise ParameterError(f"{what} = {v!r} is not a number") from None


def _check_domain(
    spec: ModelSpec,
    name: str,
    value: Any,
    what: str,
    unit: str = "",
    domain: str | None = None,
    lo: float | None = None,
    hi: float | None = None,
) -> None:
    dom = domain or spec.parameter_domains.get(name, "real")
    bad = find_outside_domain(value, dom, lo, hi)
    if np.any(bad):
        v = np.asarray(value, dtype=float)
        first = float(v[bad].ravel()[0]) if v.ndim else float(v)
        raise ParameterError(
            f"{what} = {first:g} {unit}".rstrip()
            + f" is not possible: it must be {describe_domain(dom, lo, hi)} (model {spec.id})"
        )


def _describe_inputs(
    spec: ModelSpec,
    name: str,
    covariates: Mapping[str, Any],
    params: Mapping[str, Any],
    etas: Any,
) -> str:
    """The user inputs an individual parameter depends on, e.g. ``covariate AGE = 300 yr``."""
    seen: set[str] = set()
    stack = [name]
    while stack:
        n = stack.pop()
        if n in seen:
            continue
        seen.add(n)
        if n in spec.individual:
            stack.extend(spec.individual[n].names)
    parts = []
    for c in spec.covariates:
        if c in seen and c in covariates:
            v = np.asarray(covariates[c], dtype=float).ravel()
            shown = f"{v[0]:g}" if v.size == 1 else f"{v.min():g}..{v.max():g}"
            parts.append(f"covariate {c} = {shown} {spec.covariates[c].unit}".rstrip())
    parts += [f"params {p}" for p in params if p in seen]
    used_etas = [e for e in spec.get_eta_names() if e in seen]
    if used_etas and etas is not None:
        parts.append("random effects " + ", ".join(used_etas))
    return ", ".join(parts) if parts else "the model's typical values"


def is_modifier(name: str, spec: ModelSpec) -> bool:
    for m in _MODIFIERS:
        if name.startswith(m) and name[len(m) :].isdigit():
            return 1 <= int(name[len(m) :]) <= spec.n_compartments
    return False


def _modifier_names(spec: ModelSpec) -> list[str]:
    return [f"{m}{i}" for m in _MODIFIERS for i in range(1, spec.n_compartments + 1)]


def check_parameters(spec: ModelSpec, p: Mapping[str, FloatArray]) -> None:
    need = spec.get_required_flow_parameters()
    for f in spec.flows:  # either form of a flow is acceptable for generic models
        if f.rate is not None and f.clearance is not None:
            if f.rate in p:
                need.discard(str(f.clearance))
            else:
                need.discard(f.rate)
                need.add(str(spec.get_compartment(f.source).volume))
    for c in spec.compartments:
        if c.kind == "central" and c.volume:
            need.add(c.volume)
    missing = sorted(n for n in need if n not in p)
    if missing:
        raise ParameterError(
            f"model {spec.id}: parameter(s) {', '.join(missing)} not given"
            + (" (pass --param NAME=VALUE or a dataset column)" if spec.generic else "")
        )
    # every rate-type parameter that was given (not only the form a flow uses) must be >= 0:
    # a negative clearance with micro-constants absent would make amounts grow
    rate_like = need | {n for n in spec.free_parameters if n in p and not n.startswith("F")}
    for name in sorted(rate_like):
        v = np.asarray(p[name])
        if np.any(v < 0):
            raise ParameterError(
                f"model {spec.id}: parameter {name} = {float(np.min(v)):g} is not possible: "
                "it must be >= 0"
            )
    for c in spec.compartments:
        if c.volume and c.volume in p and np.any(np.asarray(p[c.volume]) <= 0):
            raise ParameterError(f"model {spec.id}: volume {c.volume} of {c.name} must be > 0")


# --- covariates as a user gives them ------------------------------------------------------------
# people-facing covariates that may be checked against a model's population range even when the
# model has no such covariate: name -> (population key, unit, domain, hard max)
_POPULATION_COVARIATES = {
    "WT": ("weight_kg", "kg", "positive", 400.0),
    "AGE": ("age_years", "yr", "nonnegative", 130.0),
}


@dataclass(frozen=True)
class ResolvedCovariates:
    """Covariates for one model, with what was done to each input (for the output's notes).

    ``values`` are the model's covariates in their units; ``notes`` are one-line statements to
    show the user (a default used, a value derived from the dose, an input checked only
    against the population range); ``weight_kg`` is the body weight for per-kg doses (None when
    not given).
    """

    values: Mapping[str, float]
    notes: tuple[str, ...]
    weight_kg: float | None
    unused: tuple[str, ...] = ()


def resolve_covariates(
    spec: ModelSpec,
    given: Mapping[str, Any],
    *,
    regimen: Regimen | None = None,
    allow_unused: bool = False,
) -> ResolvedCovariates:
    """Every covariate a user gives is used, checked against the model's range, or refused.

    Parameters
    ----------
    spec : ModelSpec
    given : mapping
        Name -> value in the covariate's unit or a quantity string (``"45 yr"``), e.g. from
        ``--weight``, ``--age``, ``--sex``, ``--covariate NAME=VALUE``. ``SEX`` is 0 (male) or 1.
    regimen : Regimen, optional
        The doses; covariates the model file derives from the dose (``per_dose``, e.g. the
        number of 28-mg nasal devices) are computed from it, or checked against it when given.
    allow_unused : bool
        When comparing several models: an input this model cannot use is listed in
        ``unused`` (and a note) instead of refused; the caller refuses it if no model uses it.

    Returns
    -------
    ResolvedCovariates

    Raises
    ------
    ParameterError
        An input the model neither uses nor can check (e.g. ``SEX`` for a model without it),
        a value outside its domain, or a given per-dose covariate that contradicts the dose.

    Warns
    -----
    ValidityWarning
        A value outside the range the model was built in (``population.weight_kg``,
        ``population.age_years`` or the covariate's ``valid`` range), also for ``WT``/``AGE``
        given to a model that does not use them.

    Examples
    --------
    >>> from ketasim.library import load_model
    >>> reg = Regimen.from_quantities("84 mg", route="intranasal")
    >>> r = resolve_covariates(load_model("perez_ruixo_2021"), {"AGE": "45 yr"}, regimen=reg)
    >>> r.values["NDEV"]
    3.0
    """
    from ketasim.plausibility import check_validity_range

    notes: list[str] = []
    unused: list[str] = []
    model_given = {k: v for k, v in given.items() if k in spec.covariates}
    values = {k: float(np.asarray(v)) for k, v in coerce_covariates(spec, model_given).items()}
    checked: dict[str, float] = {}
    for k, v in given.items():
        if k in spec.covariates:
            continue
        if k in _POPULATION_COVARIATES and (
            _POPULATION_COVARIATES[k][0] in spec.population
            or (k == "WT" and regimen is not None and any(d.per_kg for d in regimen.doses))
        ):
            key, unit, dom, hi = _POPULATION_COVARIATES[k]
            x = to_unit(v, unit, what=k) if isinstance(v, str) else float(np.asarray(v))
            bad = find_outside_domain(x, dom, None, hi)
            if np.any(bad):
                raise ParameterError(
                    f"{k} = {x:g} {unit} is not possible: it must be "
                    + describe_domain(dom, None, hi)
                )
            checked[k] = x
            use = (
                "used for the per-kg dose and "
                if k == "WT" and regimen is not None and any(d.per_kg for d in regimen.doses)
                else ""
            )
            if key in spec.population:
                notes.append(
                    f"{k} = {x:g} {unit}: not a covariate of {spec.id}; {use}checked against "
                    "the range it was built in"
                )
            else:
                notes.append(f"{k} = {x:g} {unit}: {use.removesuffix(' and ')}")
            continue
        uses = ", ".join(spec.covariates) or "no covariates"
        if allow_unused:
            unused.append(k)
            notes.append(f"{k} not used by {spec.id} (it uses {uses})")
            continue
        raise ParameterError(
            f"model {spec.id} does not use {k} (given as {v!r}); it uses {uses}: remove {k} "
            "or choose a model that has it (ketasim models -v)"
        )
    for name, cov in spec.covariates.items():
        if cov.per_dose is not None and regimen is not None:
            derived = _count_from_dose(spec, name, regimen)
            if derived is not None:
                if name in values and values[name] != derived:
                    raise ParameterError(
                        f"covariate {name} = {values[name]:g} contradicts the dose: "
                        f"{_dose_text(regimen, cov.per_dose.route)} is {derived:g} x "
                        f"{cov.per_dose.amount_mg:g} mg ({cov.per_dose.source.split(':')[0]})"
                    )
                if name not in values:
                    values[name] = derived
                    notes.append(
                        f"{name} = {derived:g} from the {cov.per_dose.route} dose at "
                        f"{cov.per_dose.amount_mg:g} mg per {cov.per_dose.what} "
                        f"({cov.per_dose.source.split(':')[0]})"
                    )
        if name not in values:
            values[name] = cov.reference
            if cov.per_dose is not None and regimen is not None:
                continue  # no dose on its route: the covariate plays no part
            notes.append(
                f"{name} not given; using the model's reference {cov.reference:g} "
                f"{cov.unit}".rstrip()
            )
    check_validity_range(spec, {**checked, **values})
    weight = values.get("WT", checked.get("WT"))
    return ResolvedCovariates(values, tuple(notes), weight, tuple(unused))


def derive_per_dose_covariates(
    spec: ModelSpec, regimen: Regimen, given: Mapping[str, Any]
) -> dict[str, float]:
    """Covariates the model file derives from the dose (``per_dose``) that ``given`` lacks.

    A covariate whose route has no dose in ``regimen`` does not act on it; it takes the
    covariate's reference value so that the model's expressions can be evaluated.

    Raises
    ------
    ParameterError
        When the doses on that route are per kg, differ in size, or are not a whole number of
        units (e.g. 28-mg nasal devices).
    """
    out: dict[str, float] = {}
    for name, cov in spec.covariates.items():
        if cov.per_dose is None or name in given:
            continue
        n = _count_from_dose(spec, name, regimen)
        out[name] = float(cov.reference) if n is None else n
    return out


def _dose_text(regimen: Regimen, route: str) -> str:
    amts = sorted({d.amt for d in regimen.doses if d.route == route})
    return f"the {route} dose of " + ", ".join(f"{a:g}" for a in amts) + " mg"


def _count_from_dose(spec: ModelSpec, name: str, regimen: Regimen) -> float | None:
    """Units of a per-dose covariate in the regimen's doses on its route (None: no such dose)."""
    cov = spec.covariates[name]
    assert cov.per_dose is not None
    doses = [d for d in regimen.doses if d.route == cov.per_dose.route]
    if not doses:
        return None
    if any(d.per_kg for d in doses):
        raise ParameterError(
            f"{cov.per_dose.route} doses of model {spec.id} are given per device "
            f"({cov.per_dose.amount_mg:g} mg); write the dose in mg, not mg/kg"
        )
    counts = {d.amt / cov.per_dose.amount_mg for d in doses}
    if len(counts) > 1:
        raise ParameterError(
            f"{_dose_text(regimen, cov.per_dose.route)} differ in size; {name} is one number "
            f"per subject here: simulate each dose size separately or give {name}"
        )
    n = counts.pop()
    if abs(n - round(n)) > 1e-9 or round(n) < 1:
        raise ParameterError(
            f"{_dose_text(regimen, cov.per_dose.route)} is not a whole number of "
            f"{cov.per_dose.amount_mg:g}-mg {cov.per_dose.what}s "
            f"({cov.per_dose.source.split(':')[0]}); "
            f"give a multiple of {cov.per_dose.amount_mg:g} mg"
        )
    return float(round(n))
