"""Sampling of a population: between-subject random effects, covariates and residual error.

Owns the multivariate normal ETAs (from the model's omega, or a user's), covariate distributions
(a user's per-subject arrays, a table of patients resampled by row, truncated normals whose
parameters the user gives) and the model's residual error. Every function takes an explicit
numpy Generator. No reference distribution of body weight or age ships: none could be cited
from a primary source, so the user passes their own.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from ketasim.errors import ParameterError
from ketasim.spec import RESIDUAL_FORMS, ModelSpec

__all__ = [
    "RESIDUAL_FORMS",
    "CovariateInput",
    "CovariateTable",
    "TruncatedNormal",
    "add_residual_error",
    "get_residual_form",
    "sample_covariates",
    "sample_etas",
]

FloatArray = npt.NDArray[np.float64]


# --- covariate distributions --------------------------------------------------------------------
@dataclass(frozen=True)
class TruncatedNormal:
    """Normal distribution truncated to [low, high], in the covariate's own unit.

    Sampled by inverse CDF (one uniform number per subject, so the stream never depends on
    rejections).
    """

    mean: float
    sd: float
    low: float = -math.inf
    high: float = math.inf

    def __post_init__(self) -> None:
        if not (math.isfinite(self.mean) and math.isfinite(self.sd) and self.sd > 0):
            raise ParameterError(
                f"truncated normal: mean {self.mean} and sd {self.sd} > 0 must be finite"
            )
        if not self.low < self.high:
            raise ParameterError(f"truncated normal: low {self.low} must be below high {self.high}")

    def sample(self, n: int, rng: np.random.Generator) -> FloatArray:
        """``n`` draws (unit of the covariate)."""
        from scipy import special  # NOTE: lazily, to keep `import ketasim` fast

        a, b = (self.low - self.mean) / self.sd, (self.high - self.mean) / self.sd
        u = rng.random(n)
        if a > 0:  # NOTE: upper tail sampled by symmetry, where ndtr(a) would round to 1
            z = -special.ndtri(special.ndtr(-a) - u * (special.ndtr(-a) - special.ndtr(-b)))
        else:
            z = special.ndtri(special.ndtr(a) + u * (special.ndtr(b) - special.ndtr(a)))
        return np.asarray(np.clip(self.mean + self.sd * z, self.low, self.high), dtype=float)


@dataclass(frozen=True)
class CovariateTable:
    """Patients as rows (column name -> values); subjects are drawn row-wise with replacement,
    which keeps each patient's covariates together (e.g. weight with age)."""

    columns: Mapping[str, Any]

    def __post_init__(self) -> None:
        cols = {k: np.asarray(v, dtype=float) for k, v in self.columns.items()}
        sizes = {v.shape for v in cols.values()}
        if not cols or len(sizes) != 1 or len(next(iter(sizes))) != 1 or next(iter(sizes))[0] == 0:
            raise ParameterError("covariate table: give equally long, non-empty 1-D columns")
        for k, v in cols.items():
            if not np.all(np.isfinite(v)):
                raise ParameterError(f"covariate table: column {k} has non-finite values")
        object.__setattr__(self, "columns", cols)

    @property
    def n_rows(self) -> int:
        return int(next(iter(self.columns.values())).size)


CovariateInput = Mapping[str, Any] | CovariateTable


def _check_covariates(spec: ModelSpec, covariates: CovariateInput | None, n: int) -> None:
    names = covariates.columns if isinstance(covariates, CovariateTable) else (covariates or {})
    for k in names:
        if k not in spec.covariates:
            raise ParameterError(
                f"model {spec.id} has no covariate {k!r}; covariates: "
                + (", ".join(spec.covariates) or "none")
            )
    for k, c in spec.covariates.items():
        if k not in names:
            raise ParameterError(
                f"model {spec.id}: covariate {k} ({c.unit or 'dimensionless'}, reference "
                f"{c.reference:g}) is not given: pass a value, a per-subject array, a "
                "TruncatedNormal or a CovariateTable"
            )
    if isinstance(covariates, CovariateTable):
        return
    for k, v in (covariates or {}).items():
        if not isinstance(v, TruncatedNormal):
            a = np.asarray(v, dtype=float)
            if a.ndim > 1 or (a.ndim == 1 and a.size != n) or not np.all(np.isfinite(a)):
                raise ParameterError(
                    f"covariate {k}: give a finite scalar or {n} per-subject values "
                    f"(got shape {a.shape})"
                )


def _covariates_for(
    spec: ModelSpec,
    covariates: CovariateInput | None,
    start: int,
    stop: int,
    rngs: Callable[[int], np.random.Generator],
    offset: int = 0,
) -> dict[str, FloatArray]:
    """Covariates of subjects ``start:stop``; ``rngs(j)`` is the stream of covariate ``j``;
    per-subject arrays hold subjects from ``offset`` on."""
    m = stop - start
    if isinstance(covariates, CovariateTable):
        rows = rngs(0).integers(0, covariates.n_rows, size=m)
        return {k: np.asarray(v)[rows] for k, v in covariates.columns.items()}
    out: dict[str, FloatArray] = {}
    for j, name in enumerate(spec.covariates):
        v = (covariates or {})[name]
        if isinstance(v, TruncatedNormal):
            out[name] = v.sample(m, rngs(j))
        else:
            a = np.asarray(v, dtype=float)
            out[name] = (
                np.full(m, float(a)) if a.ndim == 0 else a[start - offset : stop - offset].copy()
            )
    return out


def sample_covariates(
    spec: ModelSpec, n: int, rng: np.random.Generator, covariates: CovariateInput
) -> dict[str, FloatArray]:
    """Covariates for ``n`` subjects, each in its declared unit (e.g. WT in kg).

    Parameters
    ----------
    spec : ModelSpec
    n : int
        Number of subjects (> 0).
    rng : numpy.random.Generator
    covariates : mapping or CovariateTable
        Name -> scalar (everyone), ``n`` per-subject values (in order), or a
        :class:`TruncatedNormal`; or a :class:`CovariateTable` resampled by row. Every covariate
        of the model must be given.

    Returns
    -------
    dict of str to ndarray (n,)

    Examples
    --------
    >>> from ketasim.library import load_model
    >>> wt = sample_covariates(load_model("simons_2022"), 3, np.random.default_rng(1),
    ...                        {"WT": TruncatedNormal(70, 12, 53, 93)})["WT"]
    >>> bool(np.all((wt >= 53) & (wt <= 93)))
    True
    """
    _check_n(n)
    _check_covariates(spec, covariates, n)
    return _covariates_for(spec, covariates, 0, n, lambda j: rng)


# --- ETAs and residual error --------------------------------------------------------------------
def _check_n(n: int) -> None:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n <= 0:
        raise ParameterError(f"number of subjects n={n!r} must be a positive integer")


def _omega_factor(spec: ModelSpec, omega: npt.ArrayLike | None) -> FloatArray:
    """L with L @ L.T = omega (Cholesky; a symmetric square root for the spec's PSD omega)."""
    if omega is None:
        om = spec.iiv.matrix if spec.iiv is not None else np.zeros((0, 0))
        try:
            return np.asarray(np.linalg.cholesky(om), dtype=float)
        except np.linalg.LinAlgError:  # NOTE: fixed (zero-variance) ETAs: PSD, already validated
            w, v = np.linalg.eigh(om)
            return np.asarray(v * np.sqrt(np.clip(w, 0.0, None)), dtype=float)
    om = np.asarray(omega, dtype=float)
    k = len(spec.get_eta_names())
    if (
        om.shape != (k, k)
        or not np.all(np.isfinite(om))
        or not np.allclose(om, om.T, rtol=0, atol=1e-12)
    ):
        raise ParameterError(
            f"omega must be a finite symmetric {k}x{k} matrix (log-scale variances) for "
            f"{list(spec.get_eta_names())}; got shape {om.shape}"
        )
    try:
        return np.asarray(np.linalg.cholesky(om), dtype=float)
    except np.linalg.LinAlgError:
        raise ParameterError(
            "omega is not positive definite (smallest eigenvalue "
            f"{np.linalg.eigvalsh(om).min():.3g}): "
            "check the covariances (|cov| < sqrt(var_i var_j))"
        ) from None


def _draw_etas(L: FloatArray, m: int, rng: np.random.Generator) -> FloatArray:
    k = L.shape[0]
    z = rng.standard_normal((m, k))
    eta = np.zeros((m, k))
    lower = bool(np.all(np.tril(L) == L))
    for i in range(k):  # NOTE: explicit sums, not BLAS, so the rounding never depends on m
        for j in range(i + 1 if lower else k):
            eta[:, i] += z[:, j] * L[i, j]
    return eta


def sample_etas(
    spec: ModelSpec, n: int, rng: np.random.Generator, *, omega: npt.ArrayLike | None = None
) -> FloatArray:
    """Between-subject random effects ``eta ~ N(0, omega)``, shape (n, n_eta), log scale.

    Parameters
    ----------
    spec : ModelSpec
    n : int
        Number of subjects (> 0).
    rng : numpy.random.Generator
    omega : array (n_eta, n_eta), optional
        Replaces the model's omega (dimensionless, log scale); must be positive definite.

    Returns
    -------
    ndarray (n, n_eta), dimensionless, columns in the order of ``spec.iiv.names``

    Raises
    ------
    ParameterError
        For ``n <= 0`` or an omega that is not symmetric positive definite.

    Examples
    --------
    >>> from ketasim.library import load_model
    >>> sample_etas(load_model("simons_2022"), 4, np.random.default_rng(0)).shape
    (4, 8)
    """
    _check_n(n)
    return _draw_etas(_omega_factor(spec, omega), n, rng)


#: residual error forms (NONMEM ``Y`` with ``EPS(1)``, ``EPS(2)`` standard normal x SD)


def get_residual_form(spec: ModelSpec, analyte: str) -> str:
    """The residual error form of an analyte as its model file publishes it.

    A ``form`` key in the model's ``[residual.<analyte>]`` table wins (e.g. ``"exponential"``
    for an error estimated on the log scale, log-transform-both-sides); without it: combined
    when an additive SD is given, else proportional.
    """
    r: Mapping[str, Any] = spec.residual[analyte]
    form = r.get("form")
    if form is not None:
        if form not in RESIDUAL_FORMS:
            raise ParameterError(
                f"model {spec.id}: residual.{analyte}.form {form!r} is not one of "
                + ", ".join(RESIDUAL_FORMS)
            )
        return str(form)
    add = float(r.get("additive_mg_per_L", 0.0))
    prop = float(r.get("proportional", 0.0))
    if add > 0:
        return "combined" if prop > 0 else "additive"
    return "proportional"


def add_residual_error(
    conc: FloatArray,
    spec: ModelSpec,
    analyte: str,
    rng: np.random.Generator,
    *,
    form: str | None = None,
    lloq_mg_per_L: float = 0.0,
) -> FloatArray:
    """Simulated observations with the model's residual error, censored below a limit.

    ``e1``, ``e2`` standard normal (drawn in that order, each of ``conc.shape``) with the
    model's SDs ``sp`` (``proportional``, dimensionless) and ``sa`` (``additive``, mg/L):

    - proportional: ``y = c (1 + sp e1)``
    - additive: ``y = c + sa e2``
    - combined: ``y = c (1 + sp e1) + sa e2`` (NONMEM ``Y = F + F*EPS(1) + EPS(2)``)
    - exponential: ``y = c exp(sp e1)`` (the error of a log-transformed fit; never negative)

    Observations below ``lloq_mg_per_L`` (default 0) are censored and reported as 0, as a
    laboratory reports a sample below its limit of quantification (BLQ); so no observation is
    negative. Exposure summaries should come from the noise-free ``conc``.

    Parameters
    ----------
    conc : ndarray, mg/L
        Noise-free predictions (>= 0).
    spec : ModelSpec
    analyte : str
    rng : numpy.random.Generator
    form : str, optional
        One of :data:`RESIDUAL_FORMS` (default: :func:`get_residual_form`).
    lloq_mg_per_L : float, mg/L
        Censoring limit (>= 0, finite).

    Returns
    -------
    ndarray, mg/L, >= 0

    Examples
    --------
    >>> from ketasim.library import load_model
    >>> y = add_residual_error(np.zeros(1000), load_model("simons_2022"), "s_norketamine",
    ...                        np.random.default_rng(1))
    >>> bool(y.min() >= 0.0), bool(np.mean(y == 0.0) > 0.4)  # half the blanks are BLQ
    (True, True)
    """
    if analyte not in spec.residual:
        raise ParameterError(
            f"model {spec.id} has no residual error model for {analyte!r}; it has: "
            + (", ".join(spec.residual) or "none")
        )
    if not (math.isfinite(lloq_mg_per_L) and lloq_mg_per_L >= 0):
        raise ParameterError(f"lloq_mg_per_L={lloq_mg_per_L!r} must be a finite number >= 0")
    f = get_residual_form(spec, analyte) if form is None else form
    if f not in RESIDUAL_FORMS:
        raise ParameterError(f"form {form!r} must be one of {', '.join(RESIDUAL_FORMS)}")
    r = spec.residual[analyte]
    sp, sa = float(r.get("proportional", 0.0)), float(r.get("additive_mg_per_L", 0.0))
    c = np.asarray(conc, dtype=float)
    e1 = rng.standard_normal(c.shape)
    e2 = rng.standard_normal(c.shape)
    if f == "exponential":
        y = c * np.exp(sp * e1)
    elif f == "proportional":
        y = c * (1.0 + sp * e1)
    elif f == "additive":
        y = c + sa * e2
    else:
        y = c * (1.0 + sp * e1) + sa * e2
    return np.asarray(np.where(y < lloq_mg_per_L, 0.0, y), dtype=float)
