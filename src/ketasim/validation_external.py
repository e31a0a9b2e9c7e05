"""External validation: library models against observed means from studies that built none of them.

The observations live in ``library/derived/data/racemic_adult_observations.csv``, one row per
published number with its source, regimen and the weight it is simulated at. Each row is marked
``fit`` (a derived submodel parameter was estimated from it, see
``scripts/derive_racemic_routes.py``) or ``check`` (held out). Only ``check`` rows are compared
here, so no comparison uses data a derived parameter was fitted to, and a model is never
compared with a row of its own paper (``study`` equal to the model id).

For each comparison: the population-typical prediction (ETAs = 0) and, when the model has IIV,
the 5th-95th percentiles of the same quantity over ``n_subjects`` simulated subjects (seeded);
the ratio predicted/observed; whether the observed mean lies inside that 90 % prediction
interval. A model without IIV has no interval ("n/a"). Failing comparisons are shown as they
are: nothing is dropped or loosened.

This module owns the comparison; the numbers are the CSV's and the models'. It simulates only
through :func:`ketasim.simulate.simulate`.
"""

from __future__ import annotations

import csv
import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, TextIO

import numpy as np
import numpy.typing as npt

from ketasim.errors import KetasimWarning, ModelError, UnitError
from ketasim.events import Regimen
from ketasim.individual import compute_individual_parameters, resolve_covariates
from ketasim.io.atomic import write_text_atomic
from ketasim.library import list_models, load_model
from ketasim.nca import compute_auc, compute_cmax
from ketasim.notices import DISCLAIMER
from ketasim.population.sampling import sample_etas
from ketasim.simulate import simulate
from ketasim.spec import ModelSpec
from ketasim.units import Q_, get_molar_mass_g_per_mol, to_unit

__all__ = [
    "ExternalComparison",
    "Observation",
    "compute_prediction",
    "format_external_markdown",
    "format_external_table",
    "get_external_models",
    "load_observations",
    "run_external_cli",
    "run_external_validation",
]

FloatArray = npt.NDArray[np.float64]

_QUANTITY_UNITS = {
    "conc": "mg/L",
    "cmax": "mg/L",
    "tmax": "h",
    "auc": "mg*h/L",
    "F": "",
    "cl": "L/h",
}
ROUTE_SUBMODELS = ("racemic_adult_norketamine", "racemic_adult_routes")


@dataclass(frozen=True)
class Observation:
    """One published observation (a row of the observations CSV), with its source."""

    obs_id: str
    use: str
    fits: str
    study: str
    route: str
    dose: str
    duration: str
    weight_kg: float
    analyte: str
    quantity: str
    time: str
    window: str
    value: float
    unit: str
    population: str
    source: str
    note: str
    covariates: str = ""

    def get_covariates(self) -> dict[str, str]:
        """Covariates other than weight the study's population implies (``ASIAN=1``)."""
        out = {}
        for item in filter(None, (x.strip() for x in self.covariates.split(";"))):
            k, v = item.split("=", 1)
            out[k.strip()] = v.strip()
        return out

    def get_value_canonical(self) -> float:
        """Observed value in the canonical unit of its quantity (mg/L, h, mg*h/L, L/h, 1)."""
        if self.quantity == "F":
            return self.value
        target = _QUANTITY_UNITS[self.quantity]
        q = Q_(self.value, self.unit)
        if q.check("[substance]/[length]**3"):
            q = q * Q_(get_molar_mass_g_per_mol(self.analyte), "g/mol")
        return float(q.to(target).magnitude)

    def get_label(self) -> str:
        """Short regimen/quantity label for tables."""
        at = f" at {self.time}" if self.time else ""
        win = f" {self.window.replace('|', '-')}" if self.window else ""
        over = f" over {self.duration}" if self.duration else ""
        return f"{self.analyte} {self.quantity}{at}{win}, {self.dose}{over} {self.route}"


def _data_path() -> Path:
    base = Path(str(resources.files("ketasim.library")))
    return base / "derived" / "data" / "racemic_adult_observations.csv"


def load_observations(path: str | Path | None = None) -> list[Observation]:
    """Rows of the observations CSV (default: the shipped one), in file order."""
    p = Path(path) if path is not None else _data_path()
    out = []
    with open(p, newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            out.append(
                Observation(
                    obs_id=row["obs_id"],
                    use=row["use"],
                    fits=row["fits"],
                    study=row["study"],
                    route=row["route"],
                    dose=row["dose"],
                    duration=row["duration"],
                    weight_kg=float(row["weight_kg"]),
                    analyte=row["analyte"],
                    quantity=row["quantity"],
                    time=row["time"],
                    window=row["window"],
                    value=float(row["value"]),
                    unit=row["unit"],
                    population=row["population"],
                    source=row["source"],
                    note=row["note"],
                    covariates=row.get("covariates") or "",
                )
            )
    return out


def _per_kg_to_mg(dose: str, weight_kg: float) -> str:
    """A per-kg dose text as mg at ``weight_kg`` (so models without WT can take it)."""
    try:
        return f"{to_unit(dose, 'mg/kg', what='dose') * weight_kg!r} mg"
    except UnitError:
        return dose


def _regimen(obs: Observation, route: str | None = None) -> Regimen:
    r = route or obs.route
    w = obs.weight_kg
    if r == "iv+infusion":
        bolus, rate = (s.strip() for s in obs.dose.split("+"))
        dur_h = to_unit(obs.duration, "h", what=f"{obs.obs_id} duration")
        amt = to_unit(rate, "mg/kg/h", what=f"{obs.obs_id} rate") * dur_h * w
        return Regimen.from_quantities(_per_kg_to_mg(bolus, w)) + Regimen.from_quantities(
            f"{amt!r} mg", duration=obs.duration
        )
    return Regimen.from_quantities(
        _per_kg_to_mg(obs.dose, w), route=r, duration=obs.duration or None
    )


def _covariates(spec: ModelSpec, obs: Observation, reg: Regimen | None) -> dict[str, float]:
    """Weight, the row's covariates and those derived from the dose, for this model."""
    given: dict[str, Any] = {"WT": obs.weight_kg, **obs.get_covariates()}
    res = resolve_covariates(spec, given, regimen=reg, allow_unused=True)
    return {k: v for k, v in res.values.items() if k in spec.covariates}


def _times(obs: Observation) -> FloatArray:
    extra = [72.0] + ([to_unit(obs.time, "h", what="time")] if obs.time else [])
    if obs.window:
        extra += [to_unit(w, "h", what="window") for w in obs.window.split("|")]
    return np.unique(
        np.concatenate([np.arange(0, 3.0, 1 / 600), np.arange(3.0, 72.0, 1 / 20), extra])
    )


def _simulate(
    spec: ModelSpec, obs: Observation, etas: FloatArray | None, route: str | None = None
) -> tuple[FloatArray, FloatArray]:
    t = _times(obs)
    reg = _regimen(obs, route)
    # covariates the model derives from the dose (IN_DOSE, NDEV) come from the regimen
    res = simulate(spec, reg, t, covariates=_covariates(spec, obs, reg), etas=etas)
    return t, res.get_conc(obs.analyte, "mg/L")


def compute_prediction(
    spec: ModelSpec, obs: Observation, etas: FloatArray | None = None
) -> FloatArray:
    """Model prediction of one observation, per subject, in the canonical unit of its quantity.

    Parameters
    ----------
    spec : ModelSpec
    obs : Observation
    etas : ndarray (subjects, n_eta), optional
        Random effects (none: one typical subject).

    Returns
    -------
    ndarray (subjects,)
        conc/cmax mg/L, tmax h, auc mg*h/L, cl L/h, F dimensionless (AUC0-72h of the route over
        that of the same dose IV).
    """
    if obs.quantity == "cl":
        p = compute_individual_parameters(spec, covariates=_covariates(spec, obs, None), etas=etas)
        n = 1 if etas is None else etas.shape[0]
        return np.array([_clearance(spec, p, obs.analyte, i) for i in range(n)])
    t, c = _simulate(spec, obs, etas)
    if obs.quantity == "conc":
        return np.asarray(c[:, np.searchsorted(t, to_unit(obs.time, "h", what="time"))])
    if obs.quantity in ("cmax", "tmax"):
        cmax, tmax = compute_cmax(t, c)
        return np.asarray((cmax if obs.quantity == "cmax" else tmax).value, dtype=float)
    if obs.quantity == "auc":
        a, b = (to_unit(w, "h", what="window") for w in obs.window.split("|"))
        return np.asarray(compute_auc(t, c, (a, b)).value, dtype=float)
    if obs.quantity == "F":
        _, civ = _simulate(spec, obs, etas, route="iv")
        return np.asarray(
            compute_auc(t, c, (0.0, 72.0)).value / compute_auc(t, civ, (0.0, 72.0)).value,
            dtype=float,
        )
    raise ModelError(f"observation {obs.obs_id}: unknown quantity {obs.quantity!r}")


def _clearance(spec: ModelSpec, p: Mapping[str, Any], analyte: str, i: int) -> float:
    """Clearance (L/h) of ``analyte`` for subject ``i``: dose / AUC of a unit bolus.

    ``AUC = [(-K)^-1 e_c]_c / V_c`` over the analyte's own compartments (as in
    :func:`ketasim.validation.compute_structural_quantity`).
    """
    pi = {k: float(np.asarray(v).ravel()[i if np.size(v) > 1 else 0]) for k, v in p.items()}
    K = spec.compute_rate_matrix(pi)
    c = spec.get_central_index(analyte)
    own = [
        j
        for j, cm in enumerate(spec.compartments)
        if cm.analyte == analyte and cm.kind not in ("depot", "effect")
    ]
    e = np.zeros(len(own))
    e[own.index(c)] = 1.0
    x = np.linalg.solve(-K[np.ix_(own, own)], e)
    return float(pi[str(spec.compartments[c].volume)] / x[own.index(c)])


@dataclass(frozen=True)
class ExternalComparison:
    """One model against one held-out observation."""

    model: str
    obs: Observation
    observed: float
    predicted: float
    pi_low: float
    pi_high: float

    @property
    def ratio(self) -> float:
        """Predicted / observed (dimensionless)."""
        return self.predicted / self.observed

    @property
    def within_1_5x(self) -> bool:
        """Prediction within a factor 1.5 of the observation."""
        return bool(1 / 1.5 <= self.ratio <= 1.5)

    @property
    def has_pi(self) -> bool:
        """True when the model has IIV (so a prediction interval exists)."""
        return math.isfinite(self.pi_low)

    @property
    def inside_pi(self) -> bool:
        """Observation inside the 90 % prediction interval (False without one)."""
        return self.has_pi and self.pi_low <= self.observed <= self.pi_high


def get_external_models() -> list[str]:
    """Adult models; each adult racemic one also composed with the derived route submodels."""
    out: list[str] = []
    for mid in list_models():
        spec = load_model(mid)
        if not _is_adult(spec):
            continue
        out.append(mid)
        if spec.drug == "racemic ketamine":
            out.append("+".join([mid, *ROUTE_SUBMODELS]))
    return out


def _is_adult(spec: ModelSpec) -> bool:
    pop = spec.population
    if pop.get("group") is not None:
        return bool(pop["group"] == "adult")
    ages = pop.get("age_years")
    return ages is not None and float(ages[0]) >= 18


def _applicable(spec: ModelSpec, obs: Observation, composed: bool) -> bool:
    if obs.use != "check" or obs.study == spec.id.split("+")[0]:
        return False
    route = "iv" if obs.route == "iv+infusion" else obs.route
    if route not in spec.routes or obs.analyte not in spec.get_analytes():
        return False
    # the base model answers ketamine after IV; its composition adds routes and norketamine only
    return not (composed and route == "iv" and obs.analyte == "ketamine")


def run_external_validation(
    models: Sequence[str] | None = None, *, n_subjects: int = 200, seed: int = 20260
) -> list[ExternalComparison]:
    """Compare every applicable model with every held-out observation.

    Parameters
    ----------
    models : sequence of str, optional
        Model ids (composed ids allowed); default :func:`get_external_models`.
    n_subjects : int
        Subjects per prediction interval (models with IIV).
    seed : int
        Seed of the random effects (one stream per model and observation, in order).
    """
    obs_all = load_observations()
    out = []
    rng = np.random.default_rng(seed)
    for mid in models if models is not None else get_external_models():
        with warnings.catch_warnings():
            # NOTE: population warnings are about the models' scope, which the table states
            warnings.simplefilter("ignore", KetasimWarning)
            spec = load_model(mid)
            for obs in obs_all:
                if not _applicable(spec, obs, "+" in mid):
                    continue
                typ = float(compute_prediction(spec, obs)[0])
                lo = hi = math.nan
                if spec.iiv is not None and spec.iiv.names:
                    etas = sample_etas(spec, n_subjects, rng)
                    vals = compute_prediction(spec, obs, etas)
                    lo, hi = (float(v) for v in np.percentile(vals, [5, 95]))
                out.append(ExternalComparison(mid, obs, obs.get_value_canonical(), typ, lo, hi))
    return out


def _fmt(v: float, q: str) -> str:
    if q == "F":
        return f"{v:.3f}"
    if q in ("conc", "cmax"):
        return f"{v * 1000:.4g} ng/mL"
    if q == "tmax":
        return f"{v * 60:.3g} min"
    if q == "auc":
        return f"{v * 1000:.4g} ng*h/mL"
    return f"{v:.4g} L/h"


def _summary(results: Sequence[ExternalComparison]) -> str:
    m = sum(r.within_1_5x for r in results)
    k = sum(r.inside_pi for r in results)
    return f"external: {len(results)} comparisons, {m} within 1.5x, {k} inside 90% PI"


def format_external_table(results: Sequence[ExternalComparison]) -> str:
    """Plain-text table (CLI), one line per comparison, and the summary line last."""
    lines = [
        f"{'model':<58} {'regimen / quantity':<62} {'observed':>14} {'predicted':>14} "
        f"{'ratio':>6} inside-PI"
    ]
    for r in results:
        q = r.obs.quantity
        pi = ("yes" if r.inside_pi else "no") if r.has_pi else "n/a"
        lines.append(
            f"{r.model[:58]:<58} {r.obs.get_label()[:62]:<62} {_fmt(r.observed, q):>14} "
            f"{_fmt(r.predicted, q):>14} {r.ratio:>6.2f} {pi}"
        )
    lines.append(_summary(results))
    return "\n".join(lines)


def format_external_markdown(results: Sequence[ExternalComparison]) -> str:
    """The external validation table as Markdown (committed as docs/external-validation.md)."""
    lines = [
        "# External validation: models against observations they were not built from",
        "",
        "Generated by `ketasim validate --external --markdown docs/external-validation.md`; do "
        "not edit by hand.",
        "",
        f"> {DISCLAIMER}",
        "",
        "Observed means from studies that built none of the models; data a derived parameter was "
        "fitted to are excluded (rows marked `fit` in "
        "`src/ketasim/library/derived/data/racemic_adult_observations.csv`; see "
        "`docs/derived-racemic-routes.md`). Predictions are population-typical (ETAs = 0) at the "
        "weight in the CSV; the 90 % prediction interval (5th-95th percentile over 200 seeded "
        "subjects) exists only for models with IIV. Failing comparisons are listed as they are.",
        "",
        "| model | observation | regimen / quantity | observed | predicted | ratio | within "
        "1.5x | inside 90% PI | source |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        q = r.obs.quantity
        pi = ("yes" if r.inside_pi else "no") if r.has_pi else "n/a (no IIV)"
        if r.has_pi:
            pi += f" [{_fmt(r.pi_low, q)}, {_fmt(r.pi_high, q)}]"
        src = r.obs.source.replace("|", "/")
        note = f" ({r.obs.note})" if r.obs.note else ""
        lines.append(
            f"| {r.model} | {r.obs.obs_id} | {r.obs.get_label()} | {_fmt(r.observed, q)} | "
            f"{_fmt(r.predicted, q)} | {r.ratio:.2f} | {'yes' if r.within_1_5x else 'NO'} | "
            f"{pi} | {src}{note.replace('|', '/')} |"
        )
    lines += ["", _summary(results), ""]
    return "\n".join(lines)


def run_external_cli(models: Sequence[str] | None, markdown: str | None, out: TextIO) -> int:
    """``ketasim validate --external``: print the table (and write the Markdown file).

    Returns exit code 0: failing comparisons are results to show, not errors.
    """
    results = run_external_validation(models)
    print(format_external_table(results), file=out)
    if markdown:
        write_text_atomic(markdown, format_external_markdown(results))
    return 0
