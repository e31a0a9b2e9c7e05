"""The live PK summary of a monograph: standard regimens simulated on the library's models.

Owns turning a monograph's ``[[pk_regimen]]`` entries into typical-value simulations (through
``ketasim.simulate.simulate``, never the solver) and summarising each analyte of the
monograph by non-compartmental metrics. It deliberately does not choose regimens (the data file
does, with the regimen's source) and does not interpret the numbers: every row carries its
model's citation, sampling site, evidence tier (when the library grades one) and any validity
warning raised while simulating.

Metrics (``ketasim.nca``): Cmax and Tmax on the simulated grid; AUC(0-24 h) by linear-up /
log-down trapezoids; terminal half-life as ln 2 / slope of a log-linear least-squares fit over
the last 12 h of the simulated span (the span ends at the regimen's ``until``).
"""

from __future__ import annotations

import functools
import math
import warnings
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from ketasim.events import Regimen
from ketasim.library import load_model
from ketasim.monograph.loader import load_monograph
from ketasim.monograph.schema import Monograph, MonographError, PkRegimen
from ketasim.nca import compute_auc, compute_cmax, compute_terminal_half_life
from ketasim.simulate import simulate
from ketasim.spec import ModelSpec
from ketasim.units import to_unit

__all__ = ["PkRow", "PkSummary", "compute_pk_summary", "simulate_pk_regimen"]

#: width of the terminal window for the half-life fit, h
TERMINAL_WINDOW_H = 12.0
#: output step of the dense early part of the grid (first 6 h), h
_EARLY_STEP_H = 1.0 / 60.0
_LATE_STEP_H = 10.0 / 60.0


@dataclass(frozen=True)
class PkRow:
    """Summary metrics of one analyte for one regimen on one model (typical values)."""

    regimen: PkRegimen
    model_id: str
    model_citation: str
    sampling: str
    evidence_tier: str
    analyte: str
    cmax_ng_per_mL: float  # noqa: N815 (unit suffix, STYLE.md section 3)
    tmax_h: float
    auc_0_24_ng_h_per_mL: float  # noqa: N815 (unit suffix, STYLE.md section 3)
    terminal_half_life_h: float
    half_life_reason: str
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class PkSummary:
    """All PK rows of one monograph, with the monograph's caveat."""

    monograph_id: str
    rows: tuple[PkRow, ...]
    note: str

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON; a NaN metric becomes None (its reason is kept)."""
        d = asdict(self)
        for r in d["rows"]:
            for k, v in r.items():
                if isinstance(v, float) and not math.isfinite(v):
                    r[k] = None
        return d


def _evidence_tier(spec: ModelSpec) -> str:
    tier = getattr(spec, "evidence_tier", None)
    return str(tier) if tier else "not graded in the library"


def _grid(until_h: float) -> np.ndarray:
    early_end = min(6.0, until_h)
    early = np.arange(0.0, early_end + _EARLY_STEP_H / 2, _EARLY_STEP_H)
    late = np.arange(early_end, until_h + _LATE_STEP_H / 2, _LATE_STEP_H)
    return np.unique(np.concatenate([early, late, [until_h]]))


def simulate_pk_regimen(reg: PkRegimen, analytes: tuple[str, ...]) -> list[PkRow]:
    """Simulate one standard regimen (typical values) and summarise the requested analytes.

    Parameters
    ----------
    reg : PkRegimen
        Model id, dose and route (quantities with units as text), covariates in the model's
        declared units; covariates the regimen does not give take the model's reference value.
    analytes : tuple of str
        Monograph analyte ids (``ketamine``, ``s_ketamine``, ``s_norketamine``, ``s_hnk``...);
        those the model does not simulate are skipped.

    Returns
    -------
    list of PkRow
        Cmax in ng/mL, Tmax in h, AUC(0-24 h) in ng/mL*h, terminal half-life in h.

    Examples
    --------
    >>> from ketasim.monograph import load_monograph
    >>> reg = load_monograph("hnk").pk_regimens[0]
    >>> row = simulate_pk_regimen(reg, ("s_hnk",))[0]
    >>> row.model_id, row.analyte, bool(row.cmax_ng_per_mL > 0)
    ('simons_2022', 's_hnk', True)
    """
    spec = load_model(reg.model)
    regimen = Regimen.from_quantities(reg.dose, route=reg.route, duration=reg.duration)
    until_h = to_unit(reg.until, "h", what=f"pk_regimen {reg.model} until")
    if until_h < 24.0:
        # the AUC(0-24 h) window must lie inside the simulated span
        raise MonographError(f"pk_regimen {reg.model}: until {reg.until!r} must be at least 24 h")
    covs: dict[str, float] = {}
    notes: list[str] = []
    for name, cov in spec.covariates.items():
        if name in reg.covariates:
            covs[name] = reg.covariates[name]
        else:
            covs[name] = cov.reference
            notes.append(f"{name} not given: model reference {cov.reference:g} {cov.unit}".strip())
    unknown = sorted(set(reg.covariates) - set(spec.covariates))
    if unknown:
        raise MonographError(
            f"pk_regimen {reg.model}: model has no covariate(s) {', '.join(unknown)}; "
            f"covariates: {', '.join(spec.covariates) or 'none'}"
        )
    times = _grid(until_h)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = simulate(spec, regimen, times, covariates=covs)
    notes.extend(str(w.message) for w in caught)
    tail = int(np.count_nonzero(times >= until_h - TERMINAL_WINDOW_H))
    citation = spec.citation.format() if spec.citation else spec.id
    rows: list[PkRow] = []
    for analyte in analytes:
        if analyte not in res.analytes:
            continue
        c = res.get_conc(analyte, "ng/mL")
        cmax, tmax = compute_cmax(times, c)
        auc = compute_auc(times, c, window=(0.0, 24.0))
        hl = compute_terminal_half_life(times, c, n_points=tail)
        rows.append(
            PkRow(
                regimen=reg,
                model_id=spec.id,
                model_citation=citation,
                sampling=spec.sampling,
                evidence_tier=_evidence_tier(spec),
                analyte=analyte,
                cmax_ng_per_mL=float(cmax.value[0]),
                tmax_h=float(tmax.value[0]),
                auc_0_24_ng_h_per_mL=float(auc.value[0]),
                terminal_half_life_h=float(hl.value[0]),
                half_life_reason=hl.reason,
                notes=tuple(notes),
            )
        )
    return rows


def _summarise(mono: Monograph) -> PkSummary:
    rows: list[PkRow] = []
    for reg in mono.pk_regimens:
        rows.extend(simulate_pk_regimen(reg, mono.analytes))
    return PkSummary(mono.id, tuple(rows), mono.pk_note)


@functools.cache
def _cached(mid: str) -> PkSummary:
    return _summarise(load_monograph(mid))


def compute_pk_summary(name: str | Monograph) -> PkSummary:
    """Live PK summary of a monograph (cached per bundled monograph).

    Parameters
    ----------
    name : str or Monograph
        A monograph id or alias, or a loaded ``Monograph`` (not cached).

    Examples
    --------
    >>> s = compute_pk_summary("esketamine")
    >>> [(r.model_id, r.analyte) for r in s.rows]
    [('perez_ruixo_2021', 's_ketamine'), ('simons_2022', 's_ketamine')]
    """
    if isinstance(name, Monograph):
        return _summarise(name)
    return _cached(load_monograph(name).id)
