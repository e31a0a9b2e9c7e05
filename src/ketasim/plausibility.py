"""Plausibility and validity checks on inputs: loud warnings, never silent changes.

Owns the dose plausibility guard (limits and their source in ``library/plausibility.toml``) and
the warning when covariates leave the range a model was built in.
"""

from __future__ import annotations

import functools
import tomllib
import warnings
from collections.abc import Mapping
from importlib import resources
from typing import Any

import numpy as np
import numpy.typing as npt

from ketasim.errors import PlausibilityWarning, ValidityWarning
from ketasim.spec import ModelSpec

__all__ = ["check_dose_plausibility", "check_validity_range"]

FloatArray = npt.NDArray[np.float64]


def check_validity_range(
    spec: ModelSpec, covariates: Mapping[str, Any], *, subject: Any = None
) -> None:
    """Warn (ValidityWarning) when covariates lie outside the range the model was built in.

    The ranges are the model file's ``population.weight_kg`` (WT, kg) and
    ``population.age_years`` (AGE, yr), and each covariate's ``valid`` range. With arrays
    (subjects, or subjects x records) the message gives the values outside (lowest to highest)
    and the share of subjects with any value outside; for record-level arrays (one value per
    record) pass ``subject``, the subject index of each record, so the share counts subjects,
    not records.
    """
    pop = spec.population
    ranges: list[tuple[str, str, float, float]] = []
    for key, name, unit in (("weight_kg", "WT", "kg"), ("age_years", "AGE", "yr")):
        if key in pop:
            lo, hi = (float(x) for x in pop[key])
            ranges.append((name, unit, lo, hi))
    for cov in spec.covariates.values():
        if cov.valid is not None:
            ranges.append((cov.name, cov.unit, cov.valid[0], cov.valid[1]))
    for name, unit, lo, hi in ranges:
        if name not in covariates:
            continue
        v = np.asarray(covariates[name], dtype=float)
        outside = (v < lo) | (v > hi)
        if np.any(outside):
            out_v = v[outside].ravel() if v.ndim else v.reshape(1)
            a, b = float(out_v.min()), float(out_v.max())
            worst = f"{a:g}" if a == b else f"{a:g} to {b:g}"
            if subject is not None and v.ndim == 1:
                ids = np.asarray(subject).ravel()
                n_subj = np.unique(ids).size
                frac = np.unique(ids[outside]).size / n_subj
            else:
                per_subject = (
                    outside.reshape(outside.shape[0], -1).any(axis=1) if v.ndim else outside
                )
                n_subj = v.shape[0] if v.ndim else 1
                frac = float(np.mean(per_subject))
            pct = f"{100 * frac:.0f}" if frac >= 0.01 else f"{100 * frac:.2g}"  # 1 in 1000: 0.1%
            share = f" ({pct}% of subjects)" if n_subj > 1 else ""
            warnings.warn(
                f"{name} {worst} {unit}".rstrip()
                + f"{share} is outside the range model {spec.id} was built in "
                f"({lo:g}-{hi:g} {unit}".rstrip()
                + "); predictions there are extrapolations",
                ValidityWarning,
                stacklevel=3,
            )


@functools.lru_cache(maxsize=1)
def _plausibility_limits() -> dict[str, float]:
    path = resources.files("ketasim.library") / "plausibility.toml"
    with path.open("rb") as fh:
        return {k: float(v) for k, v in tomllib.load(fh)["limits"].items()}


def check_dose_plausibility(
    amt_mg: FloatArray, rate_mg_per_h: FloatArray, weight_kg: FloatArray | float | None, what: str
) -> None:
    """Warn (PlausibilityWarning) for a dose far above the label's highest usual dose.

    Parameters
    ----------
    amt_mg : array, mg
        Single-dose amounts (bolus or extravascular); infusions are judged by their rate.
    rate_mg_per_h : array, mg/h
        Infusion rates (0 for a bolus).
    weight_kg : array or float, kg, optional
        Body weight; the limits file's reference weight when unknown.
    what : str
        Where the dose comes from, for the message.

    Notes
    -----
    The limits and their source are in ``library/plausibility.toml`` (Ketalar label, section 2.2).
    """
    lim = _plausibility_limits()
    wt = np.asarray(lim["reference_weight_kg"] if weight_kg is None else weight_kg, dtype=float)
    factor = lim["warn_factor"]
    max_single = factor * max(lim["iv_single_mg_per_kg"], lim["im_single_mg_per_kg"]) * wt
    max_rate = factor * lim["infusion_mg_per_kg_per_min"] * 60.0 * wt
    amt = np.asarray(amt_mg, dtype=float)
    rate = np.asarray(rate_mg_per_h, dtype=float)
    bolus = rate <= 0
    if np.any(bolus & (amt > max_single)):
        worst = float(np.max(np.where(bolus, amt, 0.0)))
        warnings.warn(
            f"{what}: dose {worst:g} mg is more than {factor:g}x the highest labelled single dose "
            f"({lim['im_single_mg_per_kg']:g} mg/kg); check the amount and its unit",
            PlausibilityWarning,
            stacklevel=3,
        )
    if np.any(rate > max_rate):
        warnings.warn(
            f"{what}: infusion rate {float(np.max(rate)):g} mg/h is more than "
            f"{factor:g}x the fastest "
            f"labelled rate ({lim['infusion_mg_per_kg_per_min']:g} mg/kg/min); "
            "check the rate and its unit",
            PlausibilityWarning,
            stacklevel=3,
        )
