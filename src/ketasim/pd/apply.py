"""Applying a published effect model to a simulation: sampling site, drug form, analyte, series.

Owns the checks that a published effect model fits the PK model it is applied to, and the effect
and effect-site series computed from a :class:`~ketasim.results.Result` (the maths is in
:mod:`ketasim.pd.core`).
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from ketasim.errors import ModelError, ParameterError, SamplingSiteWarning
from ketasim.library.effects import (
    EffectModel,
)
from ketasim.pd.core import (
    EFFECT_QUANTITIES,
    EffectSeries,
    FloatArray,
    compute_effect,
    compute_effect_site_conc,
    compute_fraction_of_c50,
    compute_fraction_of_emax,
)
from ketasim.results import Result

__all__ = [
    "check_sampling_site",
    "compute_effect_series",
    "compute_effect_site_series",
    "describe_drug_form_difference",
    "get_matching_analyte",
]


def check_sampling_site(pk_sampling: str, ref_sampling: str, what: str) -> str | None:
    """Warn when arterial and venous concentrations are mixed; note an unknown site.

    Parameters
    ----------
    pk_sampling : str
        ``spec.sampling`` of the PK model ("arterial", "venous", "unknown", ...).
    ref_sampling : str
        Sampling site of the published threshold or C50.
    what : str
        The threshold, for the message.

    Returns
    -------
    str or None
        A note when either site is unknown (no warning then), else None.

    Warns
    -----
    SamplingSiteWarning
        When one is arterial and the other venous.
    """
    known = ("arterial", "venous")
    if pk_sampling in known and ref_sampling in known and pk_sampling != ref_sampling:
        warnings.warn(
            f"{what} comes from {ref_sampling} samples but the PK model predicts {pk_sampling} "
            "concentrations; arterio-venous differences (large during and soon after infusion) "
            "are not corrected, so the comparison may be mis-stated",
            SamplingSiteWarning,
            stacklevel=3,
        )
        return f"sampling mismatch: {ref_sampling} threshold on {pk_sampling} predictions (warned)"
    if pk_sampling != ref_sampling:
        return (
            f"sampling site: threshold {ref_sampling}, PK model {pk_sampling} (cannot be checked)"
        )
    return None


def get_matching_analyte(wanted: str, available: tuple[str, ...]) -> str | None:
    """The simulated analyte to compare with a threshold for ``wanted`` (None if there is none).

    An exact id wins; otherwise the other form of the same molecule: total ``ketamine`` for
    ``s_ketamine`` and vice versa (the caller must note the difference, see
    :func:`describe_drug_form_difference`).
    """
    if wanted in available:
        return wanted
    base = wanted.removeprefix("s_").removeprefix("r_")
    for cand in (base, f"s_{base}"):
        if cand in available:
            return cand
    return None


def describe_drug_form_difference(
    pk_drug: str, pk_analyte: str, ref_drug_form: str, ref_analyte: str
) -> str | None:
    """A note when a threshold's drug form or enantiomer differs from the prediction's, else None.

    Examples
    --------
    >>> print(describe_drug_form_difference("racemic ketamine", "ketamine", "esketamine",
    ...                                     "s_ketamine"))  # doctest: +ELLIPSIS
    drug form differs: threshold for s_ketamine (esketamine) applied to total ketamine ...
    """
    if ref_analyte == pk_analyte and pk_drug in ref_drug_form:
        return None
    if ref_analyte.startswith("s_") and not pk_analyte.startswith("s_"):
        return (
            f"drug form differs: threshold for {ref_analyte} ({ref_drug_form}) applied to total "
            f"{pk_analyte} (R + S) predicted for {pk_drug}; S-{pk_analyte} is only part of it, "
            "so time at or above the threshold is overstated (no enantiomer split is assumed)"
        )
    if pk_analyte.startswith("s_") and not ref_analyte.startswith("s_"):
        return (
            f"drug form differs: threshold observed for {ref_analyte} after {ref_drug_form} "
            f"(R + S) applied to {pk_analyte} from {pk_drug}; the enantiomers differ in potency "
            "(ratios not verified), so equal concentrations need not mean equal effect"
        )
    return f"drug form differs: threshold from {ref_drug_form}, predictions for {pk_drug}"


def _model_notes(model: EffectModel) -> list[str]:
    notes: list[str] = []
    slopes = set(model.slope_analytes)
    for me in model.metabolite_effects:
        if me.get("direction", "").startswith("none") or me.get("analyte") in slopes:
            continue
        magnitude = me.get("magnitude", "not read")
        notes.append(
            f"{me.get('analyte')}: {me.get('direction')} (magnitude {magnitude}); not included"
        )
    return notes


def compute_effect_site_series(
    result: Result,
    model: EffectModel,
    analyte: str | None = None,
    *,
    t_half_ke0_h: float | None = None,
) -> EffectSeries:
    """Effect-site concentration of a simulated analyte with the model's published t1/2ke0.

    Parameters
    ----------
    result : Result
        Simulated plasma concentrations (subjects, T), mg/L; the grid should start before the
        first dose (Ce = 0 there).
    model : EffectModel
    analyte : str, optional
        Analyte id in the model (default ``model.analyte``; required for a linear model).
    t_half_ke0_h : float, h, optional
        Only to supply a published value the library lacks; cite it yourself.

    Returns
    -------
    EffectSeries, mg/L

    Raises
    ------
    ParameterError
        When t1/2ke0 was not published/verified (other published delays are named).

    Warns
    -----
    SamplingSiteWarning
        Arterial C50 applied to venous predictions, or vice versa.
    """
    wanted = analyte or model.analyte
    th = model.t_half_ke0_h if t_half_ke0_h is None else t_half_ke0_h
    if th is None:
        other = "; ".join(f"{k} = {v}" for k, v in model.other_delays.items())
        raise ParameterError(
            f"effect model {model.id}: t_half_ke0 is not verified in effects.toml, so the "
            "effect-site concentration cannot be computed"
            + (f" (published instead: {other}, a delay of another structure)" if other else "")
        )
    used = get_matching_analyte(wanted, result.analytes)
    if used is None:
        raise ModelError(
            f"PK model {result.spec.id} simulates {', '.join(result.analytes)}, not {wanted} "
            f"needed by effect model {model.id}"
        )
    notes = _model_notes(model)
    note = check_sampling_site(result.spec.sampling, model.sampling, f"effect model {model.id}")
    notes += [n for n in (note,) if n]
    note = describe_drug_form_difference(result.spec.drug, used, model.drug_form, wanted)
    notes += [n for n in (note,) if n]
    if t_half_ke0_h is not None:
        notes.append(f"t1/2ke0 {t_half_ke0_h:g} h supplied by the caller, not from effects.toml")
    ce = compute_effect_site_conc(result.time_h, result.conc[used], th)
    return EffectSeries(
        model_id=model.id,
        quantity=f"effect-site concentration of {used} (t1/2ke0 {model.t_half_ke0_printed or th})",
        unit="mg/L",
        time_h=result.time_h,
        values=ce,
        source=model.source.format(),
        notes=tuple(notes),
    )


def compute_effect_series(
    result: Result, model: EffectModel, quantity: str = "effect"
) -> EffectSeries:
    """A published effect model driven by a simulation, per subject, with units and source.

    Parameters
    ----------
    result : Result
        Simulated plasma concentrations, mg/L.
    model : EffectModel
    quantity : {"effect", "change_from_baseline", "fraction_of_emax", "fraction_of_c50"}
        What to return; "fraction_of_c50" is defined for every model with a single C50.

    Returns
    -------
    EffectSeries
        Values (subjects, T) in ``model.effect_unit`` (or dimensionless for fractions).

    Raises
    ------
    ParameterError
        Naming a missing parameter (E0, Emax, gamma, t1/2ke0) the quantity needs.

    Warns
    -----
    SamplingSiteWarning
        Arterial model on venous predictions, or vice versa.
    """
    if quantity not in EFFECT_QUANTITIES:
        raise ParameterError(f"quantity {quantity!r} must be one of {', '.join(EFFECT_QUANTITIES)}")
    analytes = model.slope_analytes if model.form == "linear_additive" else (model.analyte,)
    ce: dict[str, FloatArray] = {}
    notes: list[str] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for a in analytes:
            s = compute_effect_site_series(result, model, a)
            ce[a] = s.values
            notes += [n for n in s.notes if n not in notes]
    for w in {str(w.message): w for w in caught}.values():  # one warning per distinct message
        warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    if model.form == "linear_additive" and len(analytes) > 1:
        notes.append(
            f"the endpoint's t1/2ke0 ({model.t_half_ke0_printed}) is used for every analyte"
        )
    values: Any
    unit = model.effect_unit
    if quantity == "fraction_of_c50":
        values, unit, label = compute_fraction_of_c50(model, ce[model.analyte]), "", "Ce / C50"
    elif quantity == "fraction_of_emax":
        values, unit = compute_fraction_of_emax(model, ce[model.analyte]), ""
        label = "fraction of Emax"
    else:
        rel = quantity == "change_from_baseline"
        values = compute_effect(model, ce, relative_to_baseline=rel)
        label = f"{model.endpoint}{' change from baseline (E - E0)' if rel else ''}"
        if "FEMAX" in model.parameters:
            notes.append("equation E = E0 (1 - FEMAX f) assumed in effects.toml (not printed)")
    return EffectSeries(
        model_id=model.id,
        quantity=label,
        unit=unit,
        time_h=result.time_h,
        values=np.asarray(values, dtype=float),
        source=model.source.format(),
        notes=tuple(notes),
    )
