"""Bayesian MAP fitting of individuals' measured levels: the public entry point and its result.

Owns :func:`fit_map` (data checks, prior, optimiser, uncertainty, diagnostics) and
:class:`FitResult` (tables with units). The pieces live in :mod:`~ketasim.estimation.data`,
:mod:`~ketasim.estimation.likelihood`, :mod:`~ketasim.estimation.predict`,
:mod:`~ketasim.estimation.map` and :mod:`~ketasim.estimation.uncertainty`.

Shrinkage: ``eta-shrinkage_k = 1 - SD(eta_hat_k) / omega_k`` over subjects, and
``epsilon-shrinkage = 1 - SD(IWRES)`` per analyte (Savic RM, Karlsson MO. AAPS J
2009;11:558-569. doi:10.1208/s12248-009-9133-0), with omega from the model file (not the tempered
prior).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import special

from ketasim.errors import EventError, ModelError, ParameterError
from ketasim.estimation.data import Observations, get_observations
from ketasim.estimation.likelihood import (
    ObsErrorArrays,
    ResidualModel,
    compute_iwres,
    compute_obs_terms,
    get_residual_model,
)
from ketasim.estimation.map import minimise_map
from ketasim.estimation.predict import Predictor
from ketasim.estimation.uncertainty import compute_hessian, compute_laplace_covariance, sample_sir
from ketasim.events import Dataset
from ketasim.plausibility import check_validity_range
from ketasim.spec import ModelSpec

__all__ = ["FitResult", "fit_map"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

_ETA_COLUMN = re.compile(r"^(ETA\d+|ETA_.+)$")


@dataclass(frozen=True)
class FitResult:
    """Posterior modes, uncertainty and diagnostics of every subject.

    Attributes
    ----------
    spec : ModelSpec
    obs : Observations
    eta_names : tuple of str
        Estimated ETAs (those with omega > 0), in the model's order.
    eta, eta_se : ndarray (N, K), dimensionless
        Posterior modes and their SDs (Laplace, or SIR when used).
    eta_interval : ndarray (N, K, 2)
        ``level`` credible intervals of the ETAs.
    cov : ndarray (N, K, K)
        Laplace posterior covariance of the ETAs.
    params : dict name -> ndarray (N,)
        Individual parameters at the mode (canonical units, see ``param_units``), at each
        subject's first record.
    param_interval : dict name -> ndarray (N, 2)
        ``level`` intervals of the ETA-dependent parameters.
    param_units : dict name -> str
    ipred, pred, iwres : ndarray (N, max_obs)
        Individual (mode) and population (ETA = 0) predictions, mg/L; individual weighted
        residuals (NaN for BLQ observations and in the padding).
    ofv : ndarray (N,)
        -2 log posterior at the mode (no constants).
    converged : ndarray of bool (N,)
    n_iter : ndarray of int (N,)
    shrinkage_eta : dict eta name -> float
    shrinkage_eps : dict analyte -> float
    prior_scale, level : float
    residual : dict analyte -> ResidualModel
    method : str
        ``"laplace"`` or ``"sir"``.
    sir_ess : ndarray (N,) or None
    hessian_fallback : ndarray of bool (N,)
        Subjects whose finite-difference Hessian was not positive definite (the expected
        information was used instead).
    n_predictions : int
    """

    spec: ModelSpec
    obs: Observations
    eta_names: tuple[str, ...]
    eta: FloatArray
    eta_se: FloatArray
    eta_interval: FloatArray
    cov: FloatArray
    params: Mapping[str, FloatArray]
    param_interval: Mapping[str, FloatArray]
    param_units: Mapping[str, str]
    ipred: FloatArray
    pred: FloatArray
    iwres: FloatArray
    ofv: FloatArray
    converged: BoolArray
    n_iter: IntArray
    shrinkage_eta: Mapping[str, float]
    shrinkage_eps: Mapping[str, float]
    prior_scale: float
    level: float
    residual: Mapping[str, ResidualModel]
    method: str
    sir_ess: FloatArray | None
    hessian_fallback: BoolArray
    n_predictions: int
    predictor: Predictor
    draws: FloatArray  # (N, S, K) posterior draws of the estimated ETAs (forecasts)
    free: IntArray  # positions of ``eta_names`` in the model's ETA vector

    @property
    def n_subjects(self) -> int:
        return self.obs.n_subjects

    def get_full_etas(self, eta: FloatArray) -> FloatArray:
        """Estimated ETAs (..., K) placed in the model's full ETA vector (fixed ones 0)."""
        full = np.zeros((*eta.shape[:-1], len(self.spec.get_eta_names())))
        full[..., self.free] = eta
        return full

    def to_subject_table(self) -> tuple[list[str], list[list[Any]]]:
        """One row per subject: ETAs with SE and interval, parameters with interval, OFV.

        Column names carry the unit (``CL_L_per_h``); intervals are ``_lo``/``_hi`` at
        ``level``.
        """
        pct = f"{100 * self.level:g}"
        header = ["ID", "N_OBS", "N_BLQ", "OFV", "CONVERGED"]
        cols: list[Any] = [
            list(self.obs.ids),
            self.obs.n_obs.tolist(),
            (self.obs.blq & self.obs.mask).sum(axis=1).tolist(),
            self.ofv.tolist(),
            self.converged.astype(int).tolist(),
        ]
        for k, name in enumerate(self.eta_names):
            header += [name, f"{name}_SE", f"{name}_lo{pct}", f"{name}_hi{pct}"]
            cols += [
                self.eta[:, k].tolist(),
                self.eta_se[:, k].tolist(),
                self.eta_interval[:, k, 0].tolist(),
                self.eta_interval[:, k, 1].tolist(),
            ]
        for name, v in self.params.items():
            label = _column_label(name, self.param_units.get(name, ""))
            header.append(label)
            cols.append(np.broadcast_to(v, (self.n_subjects,)).tolist())
            if name in self.param_interval:
                header += [f"{label}_lo{pct}", f"{label}_hi{pct}"]
                cols += [
                    self.param_interval[name][:, 0].tolist(),
                    self.param_interval[name][:, 1].tolist(),
                ]
        rows = [list(r) for r in zip(*cols, strict=True)]
        return header, rows

    def to_obs_table(self, unit: str | None = None) -> tuple[list[str], list[list[Any]]]:
        """One row per observation: DV, IPRED, PRED in ``unit`` (default: the DV unit), IWRES.

        BLQ observations carry ``BLQ=1``, their DV is the LLOQ and IWRES is empty (the M3
        likelihood has no residual).
        """
        from ketasim.estimation.data import to_conc_mg_per_L

        unit = unit or self.obs.dv_unit
        tag = _unit_tag(unit)
        header = ["ID", "RECORD", "TIME_h", "ANALYTE", f"DV_{tag}", "BLQ", f"LLOQ_{tag}"]
        header += [f"IPRED_{tag}", f"PRED_{tag}", "IWRES"]
        rows: list[list[Any]] = []
        factor = {a: 1.0 / float(to_conc_mg_per_L(1.0, unit, a)) for a in self.obs.analytes}
        o = self.obs
        for i in range(self.n_subjects):
            for j in np.flatnonzero(o.mask[i]):
                a = o.analytes[int(o.analyte[i, j])]
                c = factor[a]
                blq = bool(o.blq[i, j])
                lq = o.lloq_mg_per_L[i, j]
                rows.append(
                    [
                        o.ids[i],
                        int(o.record[i, j]),
                        float(o.time_h[i, j]),
                        a,
                        float((lq if blq else o.dv_mg_per_L[i, j]) * c),
                        int(blq),
                        float(lq * c) if np.isfinite(lq) else "",
                        float(self.ipred[i, j] * c),
                        float(self.pred[i, j] * c),
                        "" if blq else float(self.iwres[i, j]),
                    ]
                )
        return header, rows


def _unit_tag(unit: str) -> str:
    return unit.replace("/", "_per_").replace("*", "_").replace(" ", "")


def _column_label(name: str, unit: str) -> str:
    return f"{name}_{_unit_tag(unit)}" if unit else name


def _check_columns(spec: ModelSpec, data: Dataset, depends: Mapping[str, set[int]]) -> None:
    etas = set(spec.get_eta_names())
    for c in data.extra_columns:
        if _ETA_COLUMN.match(c) or c in etas:
            raise ParameterError(
                f"column {c}: the ETAs are what fit estimates; remove the column from the data"
            )
        if c in spec.individual and depends.get(c):
            raise ParameterError(
                f"column {c} fixes parameter {c}, which carries between-subject variability "
                f"({', '.join(spec.get_eta_names()[k] for k in sorted(depends[c]))}): remove "
                "the column to estimate it"
            )


def _eta_dependence(spec: ModelSpec, predictor: Predictor, free: IntArray) -> dict[str, set[int]]:
    """Which estimated ETAs (positions in ``free``) each individual parameter depends on."""
    n_full = len(spec.get_eta_names())
    K = free.size
    etas = np.zeros((K + 1, n_full))
    for k, pos in enumerate(free):
        etas[k + 1, pos] = 0.1
    p = predictor.compute_parameters(etas, np.zeros(K + 1, dtype=np.int64))
    out: dict[str, set[int]] = {}
    for name in spec.individual:
        v = np.broadcast_to(p[name], (K + 1,))
        out[name] = {k for k in range(K) if v[k + 1] != v[0]}
    return out


def fit_map(
    spec: ModelSpec,
    data: Dataset,
    *,
    dv_unit: str | None = None,
    analyte: str | None = None,
    lloq: str | Mapping[str, str] | None = None,
    covariates: Mapping[str, float] | None = None,
    residual: Mapping[str, ResidualModel] | None = None,
    prior_scale: float = 1.0,
    level: float = 0.9,
    sir_samples: int = 0,
    rng: np.random.Generator | None = None,
    n_draws: int = 500,
    max_iter: int = 100,
) -> FitResult:
    """MAP (posterior mode) ETAs of every subject of ``data``, with uncertainty.

    Parameters
    ----------
    spec : ModelSpec
        A library model with IIV (its omega is the prior) and, for each measured analyte, a
        residual error model (from the file, or ``residual``).
    data : Dataset
        NONMEM-style records: doses (AMT mg, RATE mg/h, TIME h) and observations (EVID 0).
    dv_unit, analyte, lloq
        See :func:`~ketasim.estimation.data.get_observations`.
    covariates : mapping, optional
        Constant covariates (declared units) for covariates without a dataset column.
    residual : mapping analyte -> ResidualModel, optional
        Overrides (or supplies) the model file's residual error.
    prior_scale : float
        Omega is multiplied by this (> 1 flattens the prior: a tempered prior).
    level : float
        Credible level of the intervals (default 0.9).
    sir_samples : int
        When > 0, intervals and forecast draws come from sampling-importance-resampling with
        this many resampled draws per subject (``5 x`` as many proposals); needs ``rng``.
    rng : numpy.random.Generator, optional
        Randomness of SIR and of forecast draws (default: a generator seeded with 0).
    n_draws : int
        Posterior draws kept per subject for forecasts (Laplace; SIR keeps its resample).
    max_iter : int
        Optimiser iterations per subject.

    Returns
    -------
    FitResult

    Raises
    ------
    ModelError
        A model without IIV, or without a residual error for a measured analyte.
    ParameterError, EventError, UnitError
        Bad data (see :mod:`ketasim.estimation.data`), ETA columns, a column fixing a parameter
        that has an ETA, a missing covariate.

    Examples
    --------
    >>> from ketasim.library import load_model
    >>> ds = Dataset({"ID": [1] * 4, "TIME": [0, 0.5, 1, 2], "AMT": [35, 0, 0, 0],
    ...               "EVID": [1, 0, 0, 0], "DV": [0, 480, 300, 170], "WT": [70] * 4})
    >>> fit = fit_map(load_model("herd_2007"), ds, dv_unit="ng/mL",
    ...               residual={"ketamine": ResidualModel("proportional", proportional=0.2)})
    >>> bool(fit.converged[0]), fit.eta_names
    (True, ('ETA_V1', 'ETA_V2', 'ETA_CL', 'ETA_Q'))
    """
    if spec.iiv is None or not spec.get_eta_names():
        raise ModelError(
            f"model {spec.id} has no between-subject variability ([iiv] block): MAP fitting "
            "needs its omega as the prior; choose a model with IIV"
        )
    if not (np.isfinite(prior_scale) and prior_scale > 0):
        raise ParameterError(f"prior scale {prior_scale} must be a positive number")
    if not 0 < level < 1:
        raise ParameterError(f"interval level {level} must be between 0 and 1")
    if sir_samples < 0 or n_draws < 1:
        raise ParameterError("sir_samples must be >= 0 and n_draws >= 1")
    rng = rng if rng is not None else np.random.default_rng(0)
    obs = get_observations(data, spec, dv_unit=dv_unit, analyte=analyte, lloq=lloq)
    models = tuple(get_residual_model(spec, a, residual) for a in obs.analytes)
    err = ObsErrorArrays.from_models(models, obs.analyte)
    bad = obs.mask & ~obs.blq & err.is_log & (obs.dv_mg_per_L <= 0)
    if np.any(bad):
        i, j = np.argwhere(bad)[0]
        raise EventError(
            "DV 0 with a log-normal (exponential) error model: mark it BLQ and give --lloq",
            record=int(obs.record[i, j]),
            subject=obs.ids[i],
        )
    predictor = Predictor(spec, data, obs, covariates)
    omega = spec.iiv.matrix
    free = np.flatnonzero(np.diag(omega) > 0).astype(np.int64)
    names = tuple(spec.get_eta_names()[k] for k in free)
    depends = _eta_dependence(spec, predictor, free)
    _check_columns(spec, data, depends)
    check_validity_range(spec, predictor.get_covariates(np.arange(obs.n_subjects)))
    om = omega[np.ix_(free, free)]
    P = np.asarray(np.linalg.inv(prior_scale * om), dtype=float)
    K, n_full = free.size, len(spec.get_eta_names())

    def full(e: FloatArray) -> FloatArray:
        out = np.zeros((e.shape[0], n_full))
        out[:, free] = e
        return out

    def predict(e: FloatArray, s: IntArray) -> FloatArray:
        return predictor.predict(full(e), s)

    mask = obs.mask

    def terms(f: FloatArray, s: IntArray) -> tuple[FloatArray, FloatArray, FloatArray]:
        ell, d, w = compute_obs_terms(
            f, obs.dv_mg_per_L[s], obs.lloq_mg_per_L[s], obs.blq[s], _take(err, s)
        )
        m = mask[s]
        return np.where(m, ell, 0.0), np.where(m, d, 0.0), np.where(m, w, 0.0)

    def ofv(e: FloatArray, s: IntArray) -> FloatArray:
        ell, _, _ = terms(predict(e, s), s)
        return np.asarray(ell.sum(axis=1) + np.einsum("nk,kl,nl->n", e, P, e))

    everyone = np.arange(obs.n_subjects, dtype=np.int64)
    pred = predict(np.zeros((obs.n_subjects, K)), everyone)
    est = minimise_map(predict, terms, P, obs.n_subjects, max_iter=max_iter)
    H = compute_hessian(ofv, est.eta)
    cov, fallback = compute_laplace_covariance(H, est.fisher)
    z = float(special.ndtri(0.5 + level / 2))
    ipred = predict(est.eta, everyone)
    params_hat = predictor.compute_parameters(full(est.eta), everyone)
    params = {k: np.broadcast_to(params_hat[k], (obs.n_subjects,)).copy() for k in spec.individual}
    sir_ess = None
    if sir_samples > 0:
        sir = sample_sir(ofv, est.eta, cov, sir_samples, rng, prior_cov=prior_scale * om)
        draws, sir_ess, method = sir.draws, sir.ess, "sir"
        q = (0.5 - level / 2, 0.5 + level / 2)
        eta_se = draws.std(axis=1)
        eta_int = np.moveaxis(np.quantile(draws, q, axis=1), 0, -1)
        param_int = _param_intervals_from_draws(spec, predictor, draws, full, depends, q)
    else:
        method = "laplace"
        eta_se = np.sqrt(np.diagonal(cov, axis1=1, axis2=2))
        eta_int = np.stack([est.eta - z * eta_se, est.eta + z * eta_se], axis=-1)
        param_int = _param_intervals_laplace(
            spec, predictor, est.eta, cov, eta_int, full, depends, z
        )
        L = np.linalg.cholesky(cov)
        draws = est.eta[:, None, :] + np.einsum(
            "nkl,nsl->nsk", L, rng.standard_normal((obs.n_subjects, n_draws, K))
        )
    iwres = np.where(mask & ~obs.blq, compute_iwres(ipred, obs.dv_mg_per_L, err), np.nan)
    sd_eta = est.eta.std(axis=0, ddof=1) if obs.n_subjects > 1 else np.full(K, np.nan)
    shr_eta = {n: float(1 - sd_eta[k] / np.sqrt(om[k, k])) for k, n in enumerate(names)}
    shr_eps = {}
    for a_i, a in enumerate(obs.analytes):
        sel = mask & ~obs.blq & (obs.analyte == a_i)
        shr_eps[a] = float(1 - np.std(iwres[sel], ddof=1)) if sel.sum() > 1 else float("nan")
    return FitResult(
        spec=spec,
        obs=obs,
        eta_names=names,
        eta=est.eta,
        eta_se=eta_se,
        eta_interval=eta_int,
        cov=cov,
        params=params,
        param_interval=param_int,
        param_units={k: spec.individual_units.get(k, "") for k in params},
        ipred=ipred,
        pred=pred,
        iwres=iwres,
        ofv=est.ofv,
        converged=est.converged,
        n_iter=est.n_iter,
        shrinkage_eta=shr_eta,
        shrinkage_eps=shr_eps,
        prior_scale=float(prior_scale),
        level=float(level),
        residual=dict(zip(obs.analytes, models, strict=True)),
        method=method,
        sir_ess=sir_ess,
        hessian_fallback=fallback,
        n_predictions=est.n_predictions,
        predictor=predictor,
        draws=draws,
        free=free,
    )


def _take(err: ObsErrorArrays, s: IntArray) -> ObsErrorArrays:
    return ObsErrorArrays(err.is_log[s], err.add[s], err.prop[s], err.log_sd[s])


def _param_intervals_laplace(
    spec: ModelSpec,
    predictor: Predictor,
    eta: FloatArray,
    cov: FloatArray,
    eta_int: FloatArray,
    full: Any,
    depends: Mapping[str, set[int]],
    z: float,
) -> dict[str, FloatArray]:
    """Intervals of ETA-dependent parameters: the ETA interval's ends mapped through the
    parameter (exact for a monotone parameter of one ETA), else the delta method on the log
    scale (exact for products of exp(ETA) terms)."""
    N, K = eta.shape
    s = np.arange(N, dtype=np.int64)
    out: dict[str, FloatArray] = {}
    base = predictor.compute_parameters(full(eta), s)
    h = 1e-5
    grads: dict[str, FloatArray] = {}
    for k in range(K):
        e = eta.copy()
        e[:, k] += h
        pk = predictor.compute_parameters(full(e), s)
        for name in spec.individual:
            if depends.get(name):
                grads.setdefault(name, np.zeros((N, K)))
                with np.errstate(divide="ignore", invalid="ignore"):
                    grads[name][:, k] = (np.log(pk[name]) - np.log(base[name])) / h
    ends: dict[int, dict[int, dict[str, FloatArray]]] = {}
    for side in (0, 1):
        ends[side] = {}
        for k in range(K):
            e = eta.copy()
            e[:, k] = eta_int[:, k, side]
            ends[side][k] = predictor.compute_parameters(full(e), s)
    for name, ks in depends.items():
        if not ks:
            continue
        if len(ks) == 1:
            (k,) = ks
            a = np.broadcast_to(ends[0][k][name], (N,))
            b = np.broadcast_to(ends[1][k][name], (N,))
            out[name] = np.stack([np.minimum(a, b), np.maximum(a, b)], axis=1)
            continue
        g = grads[name]
        sd = np.sqrt(np.einsum("nk,nkl,nl->n", g, cov, g))
        c = np.broadcast_to(base[name], (N,))
        out[name] = np.stack([c * np.exp(-z * sd), c * np.exp(z * sd)], axis=1)
    return out


def _param_intervals_from_draws(
    spec: ModelSpec,
    predictor: Predictor,
    draws: FloatArray,
    full: Any,
    depends: Mapping[str, set[int]],
    q: tuple[float, float],
) -> dict[str, FloatArray]:
    N, S, K = draws.shape
    s = np.repeat(np.arange(N, dtype=np.int64), S)
    p = predictor.compute_parameters(full(draws.reshape(N * S, K)), s)
    out = {}
    for name, ks in depends.items():
        if ks:
            v = np.broadcast_to(p[name], (N * S,)).reshape(N, S)
            out[name] = np.moveaxis(np.quantile(v, q, axis=1), 0, -1)
    return out
