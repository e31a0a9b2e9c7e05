"""Side-effect risk summary: time in published concentration zones and effect-model thresholds.

This module owns the *summary* of a simulation against the published concentration zones and
C50s of ``library/effects.toml``: per subject, the time spent in each zone, the share of
subjects who reach it, the time above each C50 (where the effect is over half-maximal for any
Hill coefficient) and the peak effect where a full published model exists. Every number carries
the citation and location of its threshold.

It deliberately does *not* define any threshold (all come from the data file), does not judge
safety, and does not correct between arterial and venous concentrations: mixing them raises a
:class:`~ketasim.errors.SamplingSiteWarning` and the item carries a note; a different drug form
or enantiomer (e.g. an S-ketamine C50 on racemic predictions) is recorded as a note.

Time in a band
--------------
Between output times the concentration is taken as linear (as in :mod:`ketasim.pd`); within
each interval ``c(s) = c_i + s (c_{i+1} - c_i)``, ``s in [0, 1]``, the part with
``low <= c(s) <= high`` is an interval of ``s`` found in closed form, so the time in a band is
exact for the interpolated profile and does not depend on the band edges falling on grid points.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from ketasim.errors import ParameterError
from ketasim.library.effects import C50_KEYS, EffectModel, EffectsLibrary, Zone, load_effects
from ketasim.pd import (
    check_sampling_site,
    compute_effect,
    compute_effect_site_conc,
    describe_drug_form_difference,
    get_matching_analyte,
)
from ketasim.results import Result

__all__ = [
    "RISK_DISCLAIMER",
    "ModelExposure",
    "RiskSummary",
    "ZoneExposure",
    "compute_risk_summary",
    "compute_time_in_band",
]

FloatArray = npt.NDArray[np.float64]

RISK_DISCLAIMER = (
    "Research and education only. Zones and C50s are concentrations observed in the cited study "
    "populations (often small, healthy volunteers, other sampling sites or drug forms); they are "
    "not safety limits, targets or dosing advice."
)


@dataclass(frozen=True)
class ZoneExposure:
    """Exposure to one published concentration zone.

    Attributes
    ----------
    band : str
        The band applied, in mg/L (``">= 0.75 mg/L"``, ``"0.07-0.16 mg/L"``).
    printed : str
        The threshold as published (number and unit).
    time_within_h : ndarray (subjects,), h
        Time with the plasma concentration inside the band.
    share_reaching : float, dimensionless
        Fraction of subjects whose concentration reaches the band's lower edge.
    share_above_high : float or None, dimensionless
        Fraction exceeding the upper edge of a range (None for open bands).
    """

    zone_id: str
    name: str
    band: str
    printed: str
    analyte: str
    conc_basis: str
    low_mg_per_L: float  # noqa: N815 (unit suffix, STYLE.md section 3)
    high_mg_per_L: float | None  # noqa: N815 (unit suffix, STYLE.md section 3)
    time_within_h: FloatArray
    share_reaching: float
    share_above_high: float | None
    source: str
    where: str
    population: str
    sampling: str
    drug_form: str
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class ModelExposure:
    """Exposure relative to a published effect model's C50(s), and its peak effect if defined.

    Attributes
    ----------
    time_above_h : dict label -> ndarray (subjects,), h
        Time with the (effect-site, or plasma if stated in ``conc_basis``) concentration at or
        above each published C50 (a C50 range gives its two bounds).
    share_reaching : dict label -> float, dimensionless
    peak_fraction_of_c50 : ndarray (subjects,) or None, dimensionless
    peak_effect : ndarray (subjects,) or None, ``effect_unit``
        Largest deviation from baseline (signed), where the full published model is defined.
    peak_effect_time_h : ndarray (subjects,) or None, h
    effect_min, effect_max : ndarray (subjects,) or None, ``effect_unit``
        Range of the effect over the simulation (a metabolite of opposite sign can make both
        signs occur, e.g. Olofsen 2012).
    peak_effect_reason : str
        Why ``peak_effect`` is None (the missing parameter), else "".
    validity : str
        The design or concentration range the model was estimated in, as recorded.
    """

    model_id: str
    endpoint: str
    analytes: tuple[str, ...]
    conc_basis: str
    time_above_h: dict[str, FloatArray]
    share_reaching: dict[str, float]
    threshold_mg_per_L: dict[str, float]  # noqa: N815 (unit suffix, STYLE.md section 3)
    peak_fraction_of_c50: FloatArray | None
    peak_effect: FloatArray | None
    peak_effect_time_h: FloatArray | None
    effect_min: FloatArray | None
    effect_max: FloatArray | None
    effect_quantity: str
    effect_unit: str
    peak_effect_reason: str
    source: str
    where: str
    sampling: str
    drug_form: str
    validity: str = ""
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class RiskSummary:
    """Zone and effect-model exposure of one simulation (one or many subjects)."""

    pk_model_id: str
    drug: str
    sampling: str
    n_subjects: int
    t_start_h: float
    t_end_h: float
    zones: tuple[ZoneExposure, ...]
    effects: tuple[ModelExposure, ...]
    skipped: tuple[tuple[str, str], ...]
    disclaimer: str = RISK_DISCLAIMER

    def to_rows(self) -> list[dict[str, str | float]]:
        """Flat rows for printing: one per zone and per C50, times as median [min, max] over
        subjects (h), shares as fractions, each with its source and notes."""
        rows: list[dict[str, str | float]] = []
        for z in self.zones:
            rows.append(
                {
                    "item": z.zone_id,
                    "what": z.name,
                    "threshold": z.printed,
                    "band": z.band,
                    "analyte": z.analyte,
                    "basis": z.conc_basis,
                    **_stats(z.time_within_h),
                    "share_reaching": z.share_reaching,
                    "source": z.source,
                    "where": z.where,
                    "notes": "; ".join(z.notes),
                }
            )
        for m in self.effects:
            for label, t in m.time_above_h.items():
                rows.append(
                    {
                        "item": m.model_id,
                        "what": m.endpoint,
                        "threshold": label,
                        "band": _band_text(m.threshold_mg_per_L[label], None),
                        "analyte": ",".join(m.analytes),
                        "basis": m.conc_basis,
                        **_stats(t),
                        "share_reaching": m.share_reaching[label],
                        "source": m.source,
                        "where": m.where,
                        "notes": "; ".join(m.notes),
                    }
                )
        return rows


def _stats(t: FloatArray) -> dict[str, float]:
    return {
        "time_h_median": float(np.median(t)),
        "time_h_min": float(np.min(t)),
        "time_h_max": float(np.max(t)),
    }


# --- time in a band -----------------------------------------------------------------------------
def compute_time_in_band(
    time_h: npt.ArrayLike,
    conc_mg_per_L: npt.ArrayLike,
    low_mg_per_L: float,
    high_mg_per_L: float | None = None,
) -> FloatArray:
    """Time with ``low <= conc <= high`` for a profile linear between output times.

    Parameters
    ----------
    time_h : array (T,), h
        Non-decreasing times.
    conc_mg_per_L : array (T,) or (subjects, T), mg/L
    low_mg_per_L : float, mg/L
    high_mg_per_L : float, mg/L, optional
        None for an open band ``[low, inf)``.

    Returns
    -------
    ndarray (subjects,) or 0-d, h

    Examples
    --------
    >>> float(compute_time_in_band([0.0, 2.0], [0.0, 2.0], 0.5, 1.5))  # linear rise
    1.0
    """
    t = np.asarray(time_h, dtype=float)
    c = np.asarray(conc_mg_per_L, dtype=float)
    if t.ndim != 1 or c.shape[-1] != t.size:
        raise ParameterError(f"conc shape {c.shape} does not match {t.size} times")
    if np.any(np.diff(t) < 0):
        raise ParameterError(
            "output times must be non-decreasing (h): sort them before summarising"
        )
    high = math.inf if high_mg_per_L is None else float(high_mg_per_L)
    low = float(low_mg_per_L)
    if t.size < 2:
        return np.zeros(c.shape[:-1])
    c0, c1 = c[..., :-1], c[..., 1:]
    d = c1 - c0
    up, down, flat = d > 0, d < 0, d == 0
    safe = np.where(flat, 1.0, d)
    with np.errstate(invalid="ignore"):
        s_low = np.clip((low - c0) / safe, 0.0, 1.0)
        s_high = (
            np.clip((high - c0) / safe, 0.0, 1.0) if math.isfinite(high) else np.where(up, 1.0, 0.0)
        )
    # c(s) >= low on [a1, b1]; c(s) <= high on [a2, b2]
    a1 = np.where(up, s_low, 0.0)
    b1 = np.where(down, s_low, np.where(flat, (c0 >= low).astype(float), 1.0))
    a2 = np.where(down, s_high, 0.0)
    b2 = np.where(up, s_high, np.where(flat, (c0 <= high).astype(float), 1.0))
    frac = np.clip(np.minimum(b1, b2) - np.maximum(a1, a2), 0.0, 1.0)
    return np.asarray(np.sum(frac * np.diff(t), axis=-1), dtype=float)


# --- summary ------------------------------------------------------------------------------------
def _band_text(low: float, high: float | None) -> str:
    return f">= {low:.4g} mg/L" if high is None else f"{low:.4g}-{high:.4g} mg/L"


def _zone_exposure(result: Result, zone: Zone) -> ZoneExposure | str:
    used = get_matching_analyte(zone.analyte, result.analytes)
    if used is None:
        return f"PK model {result.spec.id} does not simulate {zone.analyte}"
    notes = [
        n
        for n in (
            check_sampling_site(result.spec.sampling, zone.sampling, f"zone {zone.id}"),
            describe_drug_form_difference(result.spec.drug, used, zone.drug_form, zone.analyte),
        )
        if n
    ]
    if zone.kind == "mean_sd":
        notes.append(
            f"band starts at the published mean; between-subject SD {zone.sd_mg_per_L:.4g} mg/L"
        )
    c = result.conc[used]
    reach = np.max(c, axis=-1) >= zone.low_mg_per_L
    above = None
    if zone.high_mg_per_L is not None:
        above = float(np.mean(np.max(c, axis=-1) > zone.high_mg_per_L))
    return ZoneExposure(
        zone_id=zone.id,
        name=zone.name,
        band=_band_text(zone.low_mg_per_L, zone.high_mg_per_L),
        printed=zone.printed,
        analyte=used,
        conc_basis=f"plasma ({zone.matrix} in the source)",
        low_mg_per_L=zone.low_mg_per_L,
        high_mg_per_L=zone.high_mg_per_L,
        time_within_h=compute_time_in_band(result.time_h, c, zone.low_mg_per_L, zone.high_mg_per_L),
        share_reaching=float(np.mean(reach)),
        share_above_high=above,
        source=zone.source.format(),
        where=zone.where,
        population=zone.population,
        sampling=zone.sampling,
        drug_form=zone.drug_form,
        notes=tuple(notes),
    )


def _model_exposure(result: Result, model: EffectModel) -> ModelExposure | str:
    if model.form == "effect_site_only":
        return "effect_site_only model: no threshold or effect defined"
    wanted = model.slope_analytes if model.form == "linear_additive" else (model.analyte,)
    used = {a: get_matching_analyte(a, result.analytes) for a in wanted}
    missing = [a for a, u in used.items() if u is None]
    if missing:
        return f"PK model {result.spec.id} does not simulate {', '.join(missing)}"
    notes: list[str] = []
    if model.t_half_ke0_h is not None:
        basis = f"effect site (t1/2ke0 {model.t_half_ke0_printed})"
        conc = {
            a: compute_effect_site_conc(result.time_h, result.conc[str(u)], model.t_half_ke0_h)
            for a, u in used.items()
        }
    elif model.other_delays:
        delays = "; ".join(f"{k} = {v}" for k, v in model.other_delays.items())
        return f"published delay is not an effect compartment ({delays}); structure not read"
    else:
        basis = "plasma (t1/2ke0 not verified: effect-site delay not modelled)"
        notes.append(
            "t1/2ke0 not verified: plasma used, so times above C50 come earlier than in "
            "the effect site"
        )
        conc = {a: np.asarray(result.conc[str(u)], dtype=float) for a, u in used.items()}
    note = check_sampling_site(result.spec.sampling, model.sampling, f"effect model {model.id}")
    notes += [n for n in (note,) if n]
    for a, u in used.items():
        note = describe_drug_form_difference(result.spec.drug, str(u), model.drug_form, a)
        if note and note not in notes:
            notes.append(note)
    for me in model.metabolite_effects:
        if not me.get("direction", "").startswith("none") and me.get("analyte") not in wanted:
            notes.append(
                f"{me.get('analyte')} effect ({me.get('direction')}; magnitude "
                f"{me.get('magnitude', 'not read')}) not included"
            )
    time_above: dict[str, FloatArray] = {}
    share: dict[str, float] = {}
    peak_frac = None
    c50p = model.get_parameter(*C50_KEYS)
    labels: list[tuple[str, float]] = []
    if c50p is not None:
        labels.append((f"{c50p.name} {c50p.printed}", c50p.get_canonical()))
        peak_frac = np.max(conc[model.analyte], axis=-1) / labels[0][1]
    elif "C50_range" in model.parameters:
        r = model.parameters["C50_range"]
        lo, hi = r.get_canonical_range()
        plo, phi = r.printed.split(" ")[0].split("-")
        labels += [
            (f"C50 range low {plo} {r.unit}", lo),
            (f"C50 range high {phi} {r.unit}", hi),
        ]
    for label, c50 in labels:
        c = conc[model.analyte]
        time_above[label] = compute_time_in_band(result.time_h, c, c50)
        share[label] = float(np.mean(np.max(c, axis=-1) >= c50))
    peak, peak_t, e_min, e_max, reason = None, None, None, None, ""
    rel = "E0" not in model.parameters
    try:
        e = np.atleast_2d(compute_effect(model, conc, relative_to_baseline=rel))
        base = 0.0 if rel else model.parameters["E0"].get_canonical()
        idx = np.argmax(np.abs(e - base), axis=-1)
        peak = np.take_along_axis(e, idx[:, None], axis=-1)[:, 0]
        peak_t = result.time_h[idx]
        e_min, e_max = np.min(e, axis=-1), np.max(e, axis=-1)
        if "FEMAX" in model.parameters:
            notes.append("peak effect uses E = E0 (1 - FEMAX f), assumed in effects.toml")
    except ParameterError as exc:
        reason = str(exc)
    quantity = f"{model.endpoint}{' change from baseline (E - E0)' if rel else ''}"
    return ModelExposure(
        model_id=model.id,
        endpoint=model.endpoint,
        analytes=tuple(str(u) for u in used.values()),
        conc_basis=basis,
        time_above_h=time_above,
        share_reaching=share,
        threshold_mg_per_L=dict(labels),
        peak_fraction_of_c50=peak_frac,
        peak_effect=peak,
        peak_effect_time_h=peak_t,
        effect_min=e_min,
        effect_max=e_max,
        effect_quantity=quantity,
        effect_unit=model.effect_unit,
        peak_effect_reason=reason,
        source=model.source.format(),
        where=model.where,
        sampling=model.sampling,
        drug_form=model.drug_form,
        validity="; ".join(
            str(model.validity[k])
            for k in ("design", "conc_range", "conc_range_note")
            if k in model.validity
        ),
        notes=tuple(notes),
    )


def compute_risk_summary(
    result: Result,
    *,
    zone_ids: Iterable[str] | None = None,
    model_ids: Iterable[str] | None = None,
    library: EffectsLibrary | None = None,
) -> RiskSummary:
    """Time in each published zone and above each published C50, per subject, with sources.

    Zones are compared with plasma concentrations; effect-model C50s with the effect-site
    concentration when t1/2ke0 is published (plasma otherwise, stated in ``conc_basis``). An
    item whose analyte is not simulated, or whose delay structure is unknown, is listed in
    ``skipped`` with the reason.

    Parameters
    ----------
    result : Result
        Concentrations (subjects, T), mg/L, on a non-decreasing time grid starting before dosing.
    zone_ids, model_ids : iterable of str, optional
        Restrict to these ids (default: every zone and effect model in ``effects.toml``).
    library : EffectsLibrary, optional
        Another effects file (default: the shipped one).

    Returns
    -------
    RiskSummary

    Warns
    -----
    SamplingSiteWarning
        For each zone or C50 from arterial samples applied to a venous model, or vice versa.
    """
    lib = library or load_effects()
    zones = [lib.get_zone(z) for z in (lib.zones if zone_ids is None else zone_ids)]
    models = [lib.get_model(m) for m in (lib.models if model_ids is None else model_ids)]
    out_z: list[ZoneExposure] = []
    out_m: list[ModelExposure] = []
    skipped: list[tuple[str, str]] = []
    for z in zones:
        ze = _zone_exposure(result, z)
        if isinstance(ze, str):
            skipped.append((z.id, ze))
        else:
            out_z.append(ze)
    for m in models:
        me = _model_exposure(result, m)
        if isinstance(me, str):
            skipped.append((m.id, me))
        else:
            out_m.append(me)
    first = next(iter(result.conc.values()))
    return RiskSummary(
        pk_model_id=result.spec.id,
        drug=result.spec.drug,
        sampling=result.spec.sampling,
        n_subjects=int(np.atleast_2d(first).shape[0]),
        t_start_h=float(np.min(result.time_h)),
        t_end_h=float(np.max(result.time_h)),
        zones=tuple(out_z),
        effects=tuple(out_m),
        skipped=tuple(skipped),
    )
