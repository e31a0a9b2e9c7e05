"""Pharmacodynamics: effect-site concentration and published concentration-effect models.

This module owns the *maths* of effect: the effect compartment driven by a simulated plasma
profile, the sigmoid Emax and linear-additive forms, and the checks that a published effect
model fits the PK model it is applied to (sampling site, drug form, analyte). It consumes a
:class:`~ketasim.simulate.Result` and returns :class:`EffectSeries` carrying units and
the source of every parameter used.

It deliberately does *not* hold data (published models, zones and their sources live in
``library/effects.toml``, loaded by :mod:`ketasim.library.effects` and re-exported here) and it
invents nothing: a parameter the research could not verify (``unverified`` in the file) is
never filled in. A sigmoid model without gamma gives only what is defined for any gamma (the
fraction of C50, and half-maximal effect at Ce = C50); asking for a full curve raises
:class:`~ketasim.errors.ParameterError` naming the missing parameter. Zone exposure summaries
are in :mod:`ketasim.risk`.

Effect site
-----------
``dCe/dt = ke0 (Cp(t) - Ce)``, ``ke0 = ln 2 / t1/2ke0`` with the *published* t1/2ke0 (never
derived from a time to peak effect) [1]_. Cp is taken as piecewise linear between output times;
see :func:`compute_effect_site_conc` for the exact step.

References
----------
.. [1] Sheiner LB, Stanski DR, Vozeh S, Miller RD, Ham J. Simultaneous modeling of
   pharmacokinetics and pharmacodynamics: application to d-tubocurarine. Clin Pharmacol Ther
   1979;25:358-371. doi:10.1002/cpt1979253358
.. [2] Holford NHG, Sheiner LB. Understanding the dose-effect relationship. Clin Pharmacokinet
   1981;6:429-453. doi:10.2165/00003088-198106060-00002 (sigmoid Emax, eq. for E = E0 + ...)
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from ketasim.errors import ParameterError
from ketasim.library.effects import (
    C50_KEYS,
    EMAX_KEYS,
    GAMMA_KEYS,
    EffectModel,
    EffectsLibrary,
    Zone,
    load_effects,
)

__all__ = [
    "EFFECT_QUANTITIES",
    "EffectSeries",
    "compute_effect",
    "compute_effect_contributions",
    "compute_effect_site_conc",
    "compute_fraction_of_c50",
    "compute_fraction_of_emax",
    "compute_ke0_per_h",
    "get_effect_model",
    "get_zone",
    "load_effects",
]

FloatArray = npt.NDArray[np.float64]
EFFECT_QUANTITIES = ("effect", "change_from_baseline", "fraction_of_emax", "fraction_of_c50")
_SERIES_LIMIT = 1e-3  # below this ke0*h the phi() series is used (truncation error < 1e-18)


@dataclass(frozen=True)
class EffectSeries:
    """An effect (or effect-site concentration) over time, with its unit and provenance.

    Attributes
    ----------
    model_id : str
        Effect model id in ``effects.toml``.
    quantity : str
        What ``values`` are, in words (e.g. "change in pain VAS from baseline (E - E0)").
    unit : str
        Unit of ``values`` ("mg/L", "cm", "score", "" for dimensionless).
    time_h : ndarray (T,), h
    values : ndarray (subjects, T), ``unit``
    source : str
        Citation of the parameters used.
    notes : tuple of str
        Assumptions and mismatches (drug form, analyte, sampling site) the reader must know.
    """

    model_id: str
    quantity: str
    unit: str
    time_h: FloatArray
    values: FloatArray
    source: str
    notes: tuple[str, ...] = ()


def get_effect_model(model_id: str, library: EffectsLibrary | None = None) -> EffectModel:
    """Effect model by id from ``effects.toml`` (ModelError naming the known ids).

    Examples
    --------
    >>> get_effect_model("herd_2008_sedation_children").parameters["EC50"].printed
    '0.56 mg/L'
    """
    return (library or load_effects()).get_model(model_id)


def get_zone(zone_id: str, library: EffectsLibrary | None = None) -> Zone:
    """Concentration zone by id from ``effects.toml`` (ModelError naming the known ids)."""
    return (library or load_effects()).get_zone(zone_id)


# --- effect site --------------------------------------------------------------------------------
def compute_ke0_per_h(t_half_ke0_h: float) -> float:
    """Effect-site equilibration rate constant, 1/h: ``ke0 = ln 2 / t1/2ke0`` (inf for 0).

    Parameters
    ----------
    t_half_ke0_h : float, h
        Published equilibration half-time.

    Examples
    --------
    >>> round(compute_ke0_per_h(11.8 / 60) / 60, 4)  # Olofsen 2012 pain: 1/min
    0.0587
    """
    if not math.isfinite(t_half_ke0_h) or t_half_ke0_h < 0:
        raise ParameterError(f"t1/2ke0 {t_half_ke0_h} h must be finite and >= 0")
    return math.inf if t_half_ke0_h == 0 else math.log(2.0) / t_half_ke0_h


def _phi(x: FloatArray) -> FloatArray:
    """phi(x) = 1 - (1 - exp(-x)) / x, with phi(0) = 0; series for small x avoids cancellation."""
    out = np.empty_like(x)
    small = x < _SERIES_LIMIT
    xs = x[small]
    out[small] = xs / 2 - xs**2 / 6 + xs**3 / 24 - xs**4 / 120
    xl = x[~small]
    out[~small] = 1.0 + np.expm1(-xl) / xl
    return out


def compute_effect_site_conc(
    time_h: npt.ArrayLike,
    conc_mg_per_L: npt.ArrayLike,
    t_half_ke0_h: float,
    *,
    ce0_mg_per_L: float | npt.ArrayLike = 0.0,
) -> FloatArray:
    """Effect-site concentration from a plasma profile, exact for piecewise-linear Cp.

    Maths: on each interval ``[t_i, t_{i+1}]`` of length ``h`` take
    ``Cp(t_i + s) = C_i + (C_{i+1} - C_i) s / h``. The solution of
    ``dCe/dt = ke0 (Cp - Ce)`` is then, exactly,

    ``Ce_{i+1} = Ce_i e^{-ke0 h} + C_i (1 - e^{-ke0 h}) + (C_{i+1} - C_i) phi(ke0 h)``,
    ``phi(x) = 1 - (1 - e^{-x}) / x``

    (variation of constants: ``Ce(h) = e^{-ke0 h} Ce_i + ke0 int_0^h e^{-ke0 (h-s)} Cp(s) ds``).
    ``phi`` uses its Taylor series ``x/2 - x^2/6 + x^3/24 - x^4/120`` below x = 1e-3. A zero-length
    interval (a repeated time, e.g. before and after a bolus) leaves Ce unchanged. With
    t1/2ke0 = 0 Ce equals Cp.

    The result is exact for the *interpolated* Cp; against the true PK curve the error is that of
    linear interpolation (second order in the step), so use a grid fine enough for the profile.

    Parameters
    ----------
    time_h : array (T,), h
        Non-decreasing output times; the first is the start of the effect compartment.
    conc_mg_per_L : array (T,) or (subjects, T), mg/L
        Plasma concentration at ``time_h``.
    t_half_ke0_h : float, h
        Published equilibration half-time.
    ce0_mg_per_L : float or array (subjects,), mg/L
        Effect-site concentration at ``time_h[0]`` (0: the profile starts before any drug).

    Returns
    -------
    ndarray, same shape as ``conc_mg_per_L``, mg/L

    Raises
    ------
    ParameterError
        For decreasing or non-finite times, or a shape mismatch.

    Examples
    --------
    >>> import numpy as np
    >>> ce = compute_effect_site_conc([0.0, 8.3 / 60], [1.0, 1.0], 8.3 / 60)
    >>> float(ce[1])  # a step reaches half of Cp after exactly one t1/2ke0
    0.5
    """
    t = np.asarray(time_h, dtype=float)
    cp = np.asarray(conc_mg_per_L, dtype=float)
    if t.ndim != 1 or t.size == 0 or not np.all(np.isfinite(t)):
        raise ParameterError("time_h must be a non-empty 1-D array of finite times (h)")
    if np.any(np.diff(t) < 0):
        i = int(np.flatnonzero(np.diff(t) < 0)[0])
        raise ParameterError(
            f"time_h must be non-decreasing: {t[i + 1]:g} h follows {t[i]:g} h; "
            "sort the output times"
        )
    if cp.shape[-1] != t.size or cp.ndim not in (1, 2):
        raise ParameterError(
            f"conc shape {cp.shape} does not match {t.size} times (T,) or (subjects, T)"
        )
    ke0 = compute_ke0_per_h(t_half_ke0_h)
    one_d = cp.ndim == 1
    c = np.atleast_2d(cp)
    ce = np.empty_like(c)
    ce[:, 0] = np.broadcast_to(np.asarray(ce0_mg_per_L, dtype=float), (c.shape[0],))
    if math.isinf(ke0):
        ce[:, 1:] = c[:, 1:]
        return ce[0] if one_d else ce
    x = ke0 * np.diff(t)
    decay = np.exp(-x)
    rise = -np.expm1(-x)
    phi = _phi(x)
    for i in range(t.size - 1):
        ce[:, i + 1] = ce[:, i] * decay[i] + c[:, i] * rise[i] + (c[:, i + 1] - c[:, i]) * phi[i]
    return ce[0] if one_d else ce


# --- concentration-effect relations -------------------------------------------------------------
def _c50(model: EffectModel) -> float:
    p = model.get_parameter(*C50_KEYS)
    if p is None:
        if "C50_range" in model.parameters:
            raise ParameterError(
                f"effect model {model.id} publishes only a C50 range "
                f"({model.parameters['C50_range'].printed}), not one C50: compare with its bounds"
            )
        raise ParameterError(f"effect model {model.id} ({model.form}) has no C50")
    return p.get_canonical()


def _missing(model: EffectModel, name: str, what: str) -> ParameterError:
    state = (
        "listed as unverified in effects.toml"
        if any(name.lower() in u.lower() for u in model.unverified)
        else "not published in the source read"
    )
    return ParameterError(
        f"effect model {model.id}: parameter {name} is {state}, so {what} cannot be computed; "
        f"defined without it: fraction of C50 and half-maximal effect at C50 "
        f"(source: {model.source.format()})"
    )


def compute_fraction_of_c50(model: EffectModel, ce_mg_per_L: npt.ArrayLike) -> FloatArray:
    """Ce / C50, dimensionless; defined for every sigmoid model with a published C50.

    Parameters
    ----------
    model : EffectModel
    ce_mg_per_L : array, mg/L
        Effect-site concentration of ``model.analyte``.

    Returns
    -------
    ndarray, dimensionless (1 = at C50, where the effect is half-maximal for any gamma)
    """
    return np.asarray(ce_mg_per_L, dtype=float) / _c50(model)


def compute_fraction_of_emax(model: EffectModel, ce_mg_per_L: npt.ArrayLike) -> FloatArray:
    """Fraction of the maximal effect, ``f = Ce^gamma / (C50^gamma + Ce^gamma)``, dimensionless.

    Computed as ``1 / (1 + (C50/Ce)^gamma)`` (0 at Ce = 0) [2]_. Without a published gamma only
    Ce = 0 (f = 0) and Ce = C50 (f = 1/2 for any gamma, to a relative 1e-12 in Ce) are defined;
    any other concentration raises.

    Raises
    ------
    ParameterError
        Naming gamma when it is unverified and a concentration other than 0 or C50 is asked.

    Examples
    --------
    >>> m = get_effect_model("olofsen_2022_antinociception_external_perception")
    >>> float(compute_fraction_of_emax(m, m.parameters["C50"].value_canonical))
    0.5
    """
    c50 = _c50(model)
    ce = np.asarray(ce_mg_per_L, dtype=float)
    if np.any(ce < 0) or not np.all(np.isfinite(ce)):
        raise ParameterError(
            f"effect-site concentration must be finite and >= 0 mg/L (model {model.id})"
        )
    g = model.get_parameter(*GAMMA_KEYS)
    if g is None:
        at_c50 = np.isclose(ce, c50, rtol=1e-12, atol=0.0)
        if not np.all(at_c50 | (ce == 0)):
            raise _missing(model, "gamma", "the fraction of Emax away from C50")
        return np.where(at_c50, 0.5, 0.0)
    gamma = g.get_canonical()
    with np.errstate(divide="ignore"):
        return np.where(ce > 0, 1.0 / (1.0 + (c50 / np.where(ce > 0, ce, 1.0)) ** gamma), 0.0)


def compute_effect_contributions(
    model: EffectModel, ce_by_analyte_mg_per_L: Mapping[str, npt.ArrayLike]
) -> dict[str, FloatArray]:
    """Per-analyte drug effects ``SLOPE_i * Ce_i`` of a linear-additive model, in its effect unit.

    Signs are as published: a metabolite that opposes the parent (e.g. S-norketamine in
    Olofsen 2012) has a slope of the opposite sign, so its term counteracts the parent's.

    Parameters
    ----------
    model : EffectModel
        A ``linear_additive`` model.
    ce_by_analyte_mg_per_L : mapping analyte -> array, mg/L
        Effect-site concentration of every analyte with a slope.

    Returns
    -------
    dict analyte -> ndarray, ``model.effect_unit``

    Examples
    --------
    >>> m = get_effect_model("olofsen_2012_pain_intensity")
    >>> {k: round(float(v), 2) for k, v in compute_effect_contributions(
    ...     m, {"s_ketamine": 0.100, "s_norketamine": 0.050}).items()}
    {'s_ketamine': -3.8, 's_norketamine': 1.5}
    """
    if model.form != "linear_additive":
        raise ParameterError(f"effect model {model.id} is {model.form}, not linear_additive")
    out: dict[str, FloatArray] = {}
    for analyte in model.slope_analytes:
        if analyte not in ce_by_analyte_mg_per_L:
            raise ParameterError(
                f"effect model {model.id} needs the effect-site concentration of {analyte} (mg/L); "
                f"given: {', '.join(ce_by_analyte_mg_per_L) or 'none'}"
            )
        slope = model.parameters[f"SLOPE_{analyte.upper()}"].get_canonical()
        out[analyte] = slope * np.asarray(ce_by_analyte_mg_per_L[analyte], dtype=float)
    return out


def compute_effect(
    model: EffectModel,
    ce_by_analyte_mg_per_L: Mapping[str, npt.ArrayLike],
    *,
    relative_to_baseline: bool = False,
) -> FloatArray:
    """Effect of a published model, in ``model.effect_unit``.

    Forms (parameters as published in ``effects.toml``):

    - ``linear_additive``: ``E - E0 = sum_i SLOPE_i Ce_i``.
    - ``sigmoid_emax`` with Emax: ``E = E0 + Emax f(Ce)`` [2]_.
    - ``sigmoid_emax`` with a fractional FEMAX (Herd 2008): ``E = E0 (1 - FEMAX f(Ce))``. NOTE:
      this equation is the one effects.toml assumes; the abstract read does not print it.

    Parameters
    ----------
    model : EffectModel
    ce_by_analyte_mg_per_L : mapping analyte -> array, mg/L
        Effect-site concentrations.
    relative_to_baseline : bool
        Return the drug effect ``E - E0`` (needs no E0 for a linear model).

    Returns
    -------
    ndarray, ``model.effect_unit``

    Raises
    ------
    ParameterError
        Naming the first missing parameter (E0, Emax, gamma) when the model lacks it.

    Examples
    --------
    >>> m = get_effect_model("herd_2008_sedation_children")
    >>> round(float(compute_effect(m, {"ketamine": 0.56})), 4)  # 5 x (1 - 0.939 / 2)
    2.6525
    """
    if model.form == "linear_additive":
        drug = sum(compute_effect_contributions(model, ce_by_analyte_mg_per_L).values())
        drug_arr = np.asarray(drug, dtype=float)
        if relative_to_baseline:
            return drug_arr
        e0 = model.parameters.get("E0")
        if e0 is None:
            raise _missing(model, "E0", "the absolute effect (use relative_to_baseline=True)")
        return e0.get_canonical() + drug_arr
    if model.form != "sigmoid_emax":
        raise ParameterError(f"effect model {model.id} ({model.form}) defines no effect curve")
    if model.analyte not in ce_by_analyte_mg_per_L:
        raise ParameterError(
            f"effect model {model.id} needs the effect-site concentration of {model.analyte}"
        )
    e0p = model.parameters.get("E0")
    emax = model.get_parameter(*EMAX_KEYS)
    femax = model.parameters.get("FEMAX")
    if emax is None and femax is None:
        raise _missing(model, "Emax", "the effect curve")
    if model.get_parameter(*GAMMA_KEYS) is None:
        raise _missing(model, "gamma", "the effect curve")
    if e0p is None and (femax is not None or not relative_to_baseline):
        raise _missing(model, "E0", "the effect curve")
    f = compute_fraction_of_emax(model, ce_by_analyte_mg_per_L[model.analyte])
    base = 0.0 if e0p is None else e0p.get_canonical()
    if femax is not None:
        effect = -base * femax.get_canonical() * f
    else:
        assert emax is not None  # checked above: Emax or FEMAX is present
        effect = emax.get_canonical() * f
    return effect if relative_to_baseline else base + effect
