"""Simulated measured levels for a sampling design (simulation-estimation, design checks).

Owns drawing a virtual study: ETAs from the model's omega, concentrations through
:func:`~ketasim.simulate.simulate`, residual error from the same
:class:`~ketasim.estimation.likelihood.ResidualModel` the fit uses, values below an LLOQ flagged
BLQ, all written as a NONMEM-style :class:`~ketasim.events.Dataset` (DV in mg/L, column
``DV_MG_L``) that :func:`~ketasim.estimation.fit.fit_map` reads back. It does not fit.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from ketasim.errors import EventError
from ketasim.estimation.likelihood import ResidualModel, get_residual_model
from ketasim.events import Dataset, Regimen
from ketasim.population.sampling import sample_etas
from ketasim.simulate import simulate
from ketasim.spec import ModelSpec

__all__ = ["sample_observations"]

FloatArray = npt.NDArray[np.float64]


def sample_observations(
    spec: ModelSpec,
    regimen: Regimen,
    times_h: Sequence[float] | FloatArray,
    n: int,
    rng: np.random.Generator,
    *,
    covariates: Mapping[str, Any],
    analytes: Sequence[str] | None = None,
    residual: Mapping[str, ResidualModel] | None = None,
    lloq_mg_per_L: float | None = None,
) -> tuple[Dataset, FloatArray]:
    """A virtual study of ``n`` subjects sampled at ``times_h``, and its true ETAs.

    Parameters
    ----------
    spec : ModelSpec
    regimen : Regimen
        Given IV/route doses (per-kg doses use each subject's WT).
    times_h : sequence of float, h
        Sampling times, the same for every analyte.
    n : int
    rng : numpy.random.Generator
        Draws ETAs, then residual errors.
    covariates : mapping
        Covariate -> scalar or (n,) values in declared units.
    analytes : sequence of str, optional
        Measured analytes (default: every analyte of the model).
    residual : mapping, optional
        Residual error models (default: the model file's).
    lloq_mg_per_L : float, optional, mg/L
        Values below it become BLQ records (``BLQ=1``, DV 0); observation records carry it
        in an ``LLOQ`` column (mg/L, the DV unit).

    Returns
    -------
    (Dataset, ndarray (n, n_eta))

    Raises
    ------
    EventError
        A simulated value <= 0 with no LLOQ to censor it (give ``lloq_mg_per_L``).

    Examples
    --------
    >>> from ketasim.library import load_model
    >>> ds, eta = sample_observations(load_model("simons_2022"),
    ...     Regimen.from_quantities("20 mg", duration="20 min"), [0.5, 2.0], 3,
    ...     np.random.default_rng(1), covariates={"WT": 70.0}, lloq_mg_per_L=1e-4)
    >>> len(ds), eta.shape
    (21, (3, 8))
    """
    times = np.asarray(times_h, dtype=float)
    analytes = tuple(analytes or spec.get_analytes())
    eta = sample_etas(spec, n, rng)
    cov = {k: np.broadcast_to(np.asarray(v, dtype=float), (n,)) for k, v in covariates.items()}
    res = simulate(spec, regimen, times, covariates=cov, etas=eta)
    T = times.size
    dv = np.empty((n, len(analytes), T))
    for j, a in enumerate(analytes):
        f = res.conc[a]
        r = get_residual_model(spec, a, residual)
        e = rng.standard_normal(f.shape)
        if r.kind == "exponential":
            dv[:, j] = f * np.exp(r.log_sd * e)
        else:
            prop = r.proportional if r.kind != "additive" else 0.0
            add = r.additive_mg_per_L if r.kind != "proportional" else 0.0
            dv[:, j] = f + np.sqrt(add**2 + (prop * f) ** 2) * e
    blq = dv < lloq_mg_per_L if lloq_mg_per_L is not None else np.zeros(dv.shape, bool)
    if lloq_mg_per_L is None and np.any(dv <= 0):
        raise EventError("a simulated level is <= 0: give lloq_mg_per_L to censor it as BLQ")
    wt = cov.get("WT")
    dose_rows: list[tuple[float, ...]] = []
    for d in regimen.doses:
        route = spec.get_route(d.route)
        for inp in route.inputs:
            cmt = spec.get_compartment_index(inp.cmt) + 1
            dose_rows.append((d.time_h, d.amt, d.tinf_h, float(cmt), d.ii_h, float(d.addl)))
    names = ("TIME", "AMT", "RATE", "CMT", "EVID", "II", "ADDL", "DV_MG_L", "BLQ")
    cols: dict[str, list[FloatArray]] = {name: [] for name in ("ID", *names)}
    cov_cols: dict[str, list[FloatArray]] = {name: [] for name in cov}
    obs_cmt = [spec.get_central_index(x) + 1 for x in analytes]
    for i in range(n):
        rows: list[tuple[float, ...]] = []
        for t, amt, tinf, dose_cmt, ii, addl in dose_rows:
            mg = float(amt * wt[i]) if _per_kg(regimen, t, amt) and wt is not None else float(amt)
            rate = -2.0 if _modelled(spec, dose_cmt) else (mg / tinf if tinf > 0 else 0.0)
            rows.append((t, mg, rate, dose_cmt, 1.0, ii, addl, 0.0, 0.0))
        for j, obs_c in enumerate(obs_cmt):
            for m, t in enumerate(times):
                flag = bool(blq[i, j, m])
                value = 0.0 if flag else float(dv[i, j, m])
                rows.append((float(t), 0.0, 0.0, float(obs_c), 0.0, 0.0, 0.0, value, float(flag)))
        rows.sort(key=lambda r: (r[0], -r[4]))  # doses first at equal times: post-dose samples
        table = np.asarray(rows, dtype=float)
        cols["ID"].append(np.full(len(rows), i + 1.0))
        for j, name in enumerate(names):
            cols[name].append(table[:, j])
        for name in cov:
            cov_cols[name].append(np.full(len(rows), cov[name][i]))
    data = {k: np.concatenate(v) for k, v in cols.items()}
    if lloq_mg_per_L is not None:
        data["LLOQ"] = np.where(data["EVID"] == 0, lloq_mg_per_L, 0.0)
    data.update({k: np.concatenate(v) for k, v in cov_cols.items()})
    return Dataset(data), eta


def _per_kg(regimen: Regimen, time_h: float, amt: float) -> bool:
    return any(d.per_kg and d.time_h == time_h and d.amt == amt for d in regimen.doses)


def _modelled(spec: ModelSpec, cmt: float) -> bool:
    for r in spec.routes.values():
        for inp in r.inputs:
            if spec.get_compartment_index(inp.cmt) + 1 == int(cmt) and inp.duration is not None:
                return True
    return False
