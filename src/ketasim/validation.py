"""Re-run every library model's published targets and compare (``ketasim validate``).

Each model file lists ``[[validation]]`` targets: a quantity the paper reports (Cmax, Tmax, AUC,
a concentration at a time, or a re-derived clearance, Vss or terminal half-life), the regimen and
covariates it refers to, the published value with its unit, and a relative tolerance with its
justification. This module computes ketasim's value for each, typical-value (ETAs = 0) as the
papers do, and reports the difference. It owns no numbers of its own.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from ketasim.errors import ModelError, UnitError
from ketasim.events import Regimen
from ketasim.individual import compute_individual_parameters
from ketasim.library import list_models, load_model
from ketasim.nca import compute_auc, compute_cmax
from ketasim.simulate import simulate_regimen
from ketasim.spec import ModelSpec
from ketasim.units import Q_, get_molar_mass_g_per_mol, parse_quantity, to_unit

__all__ = [
    "TargetResult",
    "compute_structural_quantity",
    "count_failed",
    "format_markdown",
    "run_validation",
    "validate_target",
]


@dataclass(frozen=True)
class TargetResult:
    """One published target and ketasim's value for it."""

    model: str
    label: str
    published: float
    computed: float
    unit: str
    tolerance: float
    source: str
    why: str
    discrepancy: str = ""

    @property
    def rel_diff(self) -> float:
        return (self.computed - self.published) / self.published if self.published else math.nan

    @property
    def passed(self) -> bool:
        return bool(np.isfinite(self.rel_diff) and abs(self.rel_diff) <= self.tolerance + 1e-12)

    @property
    def status(self) -> str:
        """``pass``, ``FAIL``, or ``known discrepancy`` (documented in the model file)."""
        if self.passed:
            return "pass"
        return "known discrepancy" if self.discrepancy else "FAIL"


def count_failed(results: list[TargetResult]) -> int:
    """Targets that failed without a documented discrepancy."""
    return sum(r.status == "FAIL" for r in results)


def get_typical_covariates(spec: ModelSpec, given: Mapping[str, Any] | None) -> dict[str, float]:
    """Covariates in their declared units: given ones (quantity text or numbers), else reference."""
    out: dict[str, float] = {}
    for name, cov in spec.covariates.items():
        if given and name in given:
            v = given[name]
            if isinstance(v, (int, float)):
                out[name] = float(v)
            elif cov.unit:
                out[name] = to_unit(v, cov.unit, what=f"covariate {name}")
            else:
                out[name] = float(parse_quantity(v, what=name, allow_bare=True).magnitude)
        else:
            out[name] = cov.reference
    return out


def compute_structural_quantity(
    spec: ModelSpec, quantity: str, analyte: str, covariates: Mapping[str, float]
) -> tuple[float, str]:
    """Clearance (L/h), Vss (L) or terminal half-life (h) of ``analyte``, from the rate matrix.

    Maths: for a unit bolus into the analyte's central compartment c (no input elsewhere),
    ``AUC = [(-K)^-1 e_c]_c / V_c`` and ``AUMC = [K^-2 e_c]_c / V_c``; CL = 1/AUC,
    Vss = CL x AUMC/AUC; t1/2 = ln 2 / min |lambda| over the analyte's non-depot compartments.
    """
    p = compute_individual_parameters(spec, covariates=covariates)
    K = spec.compute_rate_matrix({k: float(np.asarray(v).ravel()[0]) for k, v in p.items()})
    c = spec.get_central_index(analyte)
    own = [
        i
        for i, cm in enumerate(spec.compartments)
        if cm.analyte == analyte and cm.kind not in ("depot", "effect")
    ]
    Ka = K[np.ix_(own, own)]
    ci = own.index(c)
    vol = float(np.asarray(p[str(spec.compartments[c].volume)]).ravel()[0])
    e = np.zeros(len(own))
    e[ci] = 1.0
    x = np.linalg.solve(-Ka, e)
    auc = x[ci] / vol
    aumc = np.linalg.solve(Ka, np.linalg.solve(Ka, e))[ci] / vol
    if quantity == "cl":
        return 1.0 / auc, "L/h"
    if quantity == "vss":
        return (1.0 / auc) * aumc / auc, "L"
    if quantity == "thalf":
        lam = np.linalg.eigvals(Ka).real
        return math.log(2) / float(np.min(np.abs(lam))), "h"
    raise ModelError(f"unknown structural quantity {quantity!r}")


def validate_target(spec: ModelSpec, target: Mapping[str, Any]) -> TargetResult:
    """Compute ketasim's value for one ``[[validation]]`` entry."""
    q = str(target["quantity"]).lower()
    analyte = target.get("analyte") or spec.get_analytes()[0]
    covs = get_typical_covariates(spec, target.get("covariates"))
    published_q = parse_quantity(str(target["published"]), what="published")
    label_bits = [q, analyte]
    if q in ("cl", "vss", "thalf"):
        value, unit = compute_structural_quantity(spec, q, analyte, covs)
    else:
        route = target.get("route", "iv")
        dose = target["dose"]
        reg = Regimen.from_quantities(dose, route=route, duration=target.get("duration"))
        label_bits += [route, str(dose)]
        if target.get("duration"):
            label_bits.append(f"over {target['duration']}")
        t_end = 24.0
        if "window" in target:
            t_end = max(t_end, to_unit(target["window"][1], "h", what="window end"))
        if "time" in target:
            t_end = max(t_end, to_unit(target["time"], "h", what="time") + 1.0)
        times = np.unique(
            np.concatenate([np.arange(0, 2.0, 1 / 600), np.arange(2.0, t_end + 1e-9, 1 / 60)])
        )
        extra = [to_unit(target["time"], "h", what="time")] if "time" in target else []
        if "window" in target:
            extra += [to_unit(x, "h", what="window") for x in target["window"]]
        times = np.unique(np.concatenate([times, extra]))
        res = simulate_regimen(spec, reg, times, covariates=covs)
        conc = res.get_conc(analyte, "mg/L")[0]
        if q == "cmax":
            value, unit = float(compute_cmax(times, conc)[0].value), "mg/L"
        elif q == "tmax":
            value, unit = float(compute_cmax(times, conc)[1].value), "h"
        elif q == "conc":
            t = to_unit(target["time"], "h", what="time")
            value, unit = float(conc[np.searchsorted(times, t)]), "mg/L"
            label_bits.append(f"at {target['time']}")
        elif q == "auc":
            w = target.get("window", ["0 h", "24 h"])
            a, b = (to_unit(x, "h", what="window") for x in w)
            value, unit = float(compute_auc(times, conc, (a, b)).value), "mg*h/L"
            label_bits.append(f"{w[0]}-{w[1]}")
        else:
            raise ModelError(f"{spec.id}: unknown validation quantity {q!r}")
    published = _to(published_q, unit, analyte)
    return TargetResult(
        model=spec.id,
        label=" ".join(label_bits),
        published=published,
        computed=value,
        unit=unit,
        tolerance=float(target["tolerance"]),
        source=str(target["source"]),
        why=str(target["why"]),
        discrepancy=str(target.get("discrepancy", "")),
    )


def _to(q: Any, unit: str, analyte: str) -> float:
    try:
        return float(q.to(unit).magnitude)
    except Exception:
        pass
    # molar published values: convert with the analyte's molar mass
    mw = get_molar_mass_g_per_mol(analyte)
    try:
        return float((q * Q_(mw, "g/mol")).to(unit).magnitude)
    except Exception:
        raise UnitError(f"published value {q} cannot be expressed in {unit}") from None


def run_validation(models: list[str] | None = None) -> list[TargetResult]:
    """Validate every target of every (or the listed) library model."""
    out = []
    for mid in models or list_models():
        spec = load_model(mid)
        for target in spec.validation:
            out.append(validate_target(spec, target))
    return out


def format_markdown(results: list[TargetResult]) -> str:
    """The validation table as Markdown (committed as docs/validation.md)."""
    lines = [
        "# Validation against published numbers",
        "",
        "Generated by `ketasim validate --markdown docs/validation.md`; do not edit by hand.",
        "Typical-value simulations (ETAs = 0) with the covariates each paper's number refers to.",
        "",
        "| model | quantity | published | ketasim | difference | tolerance | pass | source |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(
            f"| {r.model} | {r.label} | {r.published:.5g} {r.unit} | {r.computed:.5g} {r.unit} | "
            f"{100 * r.rel_diff:+.2f} % | {100 * r.tolerance:.2g} % | {r.status} | "
            f"{r.source.replace('|', '/')} |"
        )
    from ketasim.library.provenance import format_provenance

    lines += ["", "Models (evidence tier: docs/model-format.md):", ""]
    lines += [
        f"- {format_provenance(load_model(m))}" for m in dict.fromkeys(r.model for r in results)
    ]
    n_models = len({r.model for r in results})
    failed = count_failed(results)
    known = [r for r in results if r.status == "known discrepancy"]
    if known:
        lines += [
            "",
            "Known discrepancies (published number not reproduced; reason from the model file):",
            "",
        ]
        lines += [f"- {r.model}, {r.label}: {r.discrepancy}" for r in known]
    lines += ["", f"validated: {n_models} models, {len(results)} targets, {failed} failed", ""]
    return "\n".join(lines)
