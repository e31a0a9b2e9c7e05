"""Residual error models and the -2 log-likelihood of each observation (M3 for BLQ).

Owns the residual error model of an analyte (read from the model file, or given by the user)
and, vectorised over observations, each observation's contribution to -2 log L together with its
first derivative and a positive curvature (expected information) in the prediction ``f``. It does
not predict concentrations and does not optimise.

Error models (``y`` observed, ``f`` predicted, mg/L)
---------------------------------------------------
- additive: ``y = f + a e``; proportional: ``y = f (1 + b e)``; combined:
  ``y = f (1 + b e1) + a e2``, all with variance ``v(f) = a^2 + b^2 f^2`` (``add_residual_error`` in
  :mod:`ketasim.population.sampling` simulates the same model) and
  ``-2 log L = (y - f)^2 / v + log v``;
- exponential (log-normal, "log-transform both sides"): ``log y = log f + s e``,
  ``-2 log L = (log y - log f)^2 / s^2 + log s^2``.

The constant ``n log(2 pi)`` is left out, as in NONMEM's objective function.
An observation below the LLOQ ``L`` contributes ``-2 log P(y < L) = -2 log Phi(z)`` with
``z = (L - f) / sqrt(v)`` (normal) or ``(log L - log f) / s`` (exponential): the M3 method
(Beal SL. Ways to fit a PK model with some data below the quantification limit. J Pharmacokinet
Pharmacodyn 2001;28:481-504. doi:10.1023/A:1012299115260).

Curvature: the expected information of ``f`` on the -2 log L scale, ``2/v + (v'/v)^2`` for the
normal family, ``2 / (s f)^2`` for the exponential, and ``2 p'^2 / (p (1 - p))`` for a censored
observation with ``p = Phi(z)`` (Bernoulli information). Always positive, so Fisher scoring
steps go downhill.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import special

from ketasim.errors import ModelError, ParameterError
from ketasim.spec import ModelSpec

__all__ = ["ERROR_KINDS", "ResidualModel", "compute_obs_terms", "get_residual_model"]

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

ERROR_KINDS = ("additive", "proportional", "combined", "exponential")
#: predictions are floored here (mg/L) inside variances and logs: a proportional error model has
#: zero variance at f = 0 (e.g. before absorption starts)
F_FLOOR_MG_PER_L = 1e-9


@dataclass(frozen=True)
class ResidualModel:
    """Residual error of one analyte.

    Parameters
    ----------
    kind : {"additive", "proportional", "combined", "exponential"}
    additive_mg_per_L : float, mg/L
        SD of the additive part (additive, combined).
    proportional : float, dimensionless
        SD of the proportional part (proportional, combined).
    log_sd : float, dimensionless
        SD on the log scale (exponential).
    """

    kind: str
    additive_mg_per_L: float = 0.0  # noqa: N815 (unit suffix, STYLE.md section 3)
    proportional: float = 0.0
    log_sd: float = 0.0

    def __post_init__(self) -> None:
        if self.kind not in ERROR_KINDS:
            raise ParameterError(
                f"residual error kind {self.kind!r}: use one of {', '.join(ERROR_KINDS)}"
            )
        vals = (self.additive_mg_per_L, self.proportional, self.log_sd)
        if not all(np.isfinite(v) and v >= 0 for v in vals):
            raise ParameterError(f"residual error SDs must be finite and >= 0, got {vals}")
        need = {
            "additive": self.additive_mg_per_L > 0,
            "proportional": self.proportional > 0,
            "combined": self.additive_mg_per_L > 0 and self.proportional > 0,
            "exponential": self.log_sd > 0,
        }[self.kind]
        if not need:
            raise ParameterError(f"{self.kind} residual error needs its SD(s) > 0, got {vals}")

    def describe(self, unit_note: str = "mg/L") -> str:
        """Short text, e.g. ``"combined: proportional 0.102, additive 0.013 mg/L"``."""
        if self.kind == "exponential":
            return f"exponential: SD {self.log_sd:g} (log scale)"
        parts = []
        if self.kind in ("proportional", "combined"):
            parts.append(f"proportional {self.proportional:g}")
        if self.kind in ("additive", "combined"):
            parts.append(f"additive {self.additive_mg_per_L:.4g} {unit_note}")
        return f"{self.kind}: " + ", ".join(parts)


def get_residual_model(
    spec: ModelSpec, analyte: str, override: Mapping[str, ResidualModel] | None = None
) -> ResidualModel:
    """The residual error model of ``analyte``: the user's, else the model file's.

    The file's ``[residual.<analyte>]`` block gives ``proportional`` (SD) and ``additive``
    (with unit); a block with both > 0 is combined, with one of them that one. Files stating a
    log-scale (LTBS) error store it as ``proportional`` (e.g. perez_ruixo_2021); pass an
    exponential :class:`ResidualModel` to fit it on the log scale.

    Raises
    ------
    ModelError
        When neither the user nor the file gives one for ``analyte``.

    Examples
    --------
    >>> from ketasim.library import load_model
    >>> get_residual_model(load_model("simons_2022"), "s_ketamine").kind
    'proportional'
    """
    if override and analyte in override:
        return override[analyte]
    r = spec.residual.get(analyte)
    if r is None:
        raise ModelError(
            f"model {spec.id} states no residual error for {analyte}: give one "
            f"(e.g. --residual {analyte}=proportional:0.2)"
        )
    add, prop = float(r.get("additive_mg_per_L", 0.0)), float(r.get("proportional", 0.0))
    if r.get("form") == "exponential":
        # NOTE: the file's SD is on the log scale (log-transform-both-sides)
        return ResidualModel("exponential", log_sd=prop)
    if add > 0 and prop > 0:
        return ResidualModel("combined", additive_mg_per_L=add, proportional=prop)
    if prop > 0:
        return ResidualModel("proportional", proportional=prop)
    if add > 0:
        return ResidualModel("additive", additive_mg_per_L=add)
    raise ModelError(f"model {spec.id}: residual error of {analyte} has all SDs 0")


@dataclass(frozen=True)
class ObsErrorArrays:
    """Per-observation error parameters (same shape as the observations)."""

    is_log: BoolArray
    add: FloatArray
    prop: FloatArray
    log_sd: FloatArray

    @classmethod
    def from_models(
        cls, models: tuple[ResidualModel, ...], analyte: npt.NDArray[np.int64]
    ) -> ObsErrorArrays:
        def pick(f: str) -> FloatArray:
            table = np.array([getattr(m, f) for m in models], dtype=float)
            return np.asarray(table[analyte], dtype=float)

        is_log = np.array([m.kind == "exponential" for m in models])[analyte]
        add = np.array([m.additive_mg_per_L if m.kind != "proportional" else 0.0 for m in models])
        prop = np.array([m.proportional if m.kind != "additive" else 0.0 for m in models])
        return cls(
            is_log=np.asarray(is_log, dtype=bool),
            add=np.asarray(add[analyte], dtype=float),
            prop=np.asarray(prop[analyte], dtype=float),
            log_sd=pick("log_sd"),
        )

    def take(self, rows: npt.NDArray[np.int64]) -> ObsErrorArrays:
        return ObsErrorArrays(self.is_log[rows], self.add[rows], self.prop[rows], self.log_sd[rows])


def compute_obs_terms(
    f: FloatArray,
    y: FloatArray,
    lloq: FloatArray,
    blq: BoolArray,
    err: ObsErrorArrays,
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """-2 log L of each observation, its derivative in ``f`` and a positive curvature.

    Parameters
    ----------
    f, y, lloq : ndarray, mg/L
        Predictions, observations, LLOQs (used where ``blq``), all of one shape.
    blq : ndarray of bool
    err : ObsErrorArrays
        Error parameters broadcastable to that shape.

    Returns
    -------
    (ell, d_ell_df, curvature) : ndarrays of the shape of ``f``
    """
    fc = np.maximum(f, F_FLOOR_MG_PER_L)
    # normal family
    v = err.add**2 + (err.prop * fc) ** 2
    v = np.where(err.is_log, 1.0, v)
    dv = np.where(err.is_log, 0.0, 2.0 * err.prop**2 * fc)
    r = y - fc
    ell_n = r**2 / v + np.log(v)
    d_n = -2.0 * r / v - r**2 * dv / v**2 + dv / v
    w_n = 2.0 / v + (dv / v) ** 2
    # exponential family
    s2 = np.where(err.is_log, err.log_sd**2, 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        z_log = np.log(np.maximum(y, F_FLOOR_MG_PER_L)) - np.log(fc)
    ell_e = z_log**2 / s2 + np.log(s2)
    d_e = -2.0 * z_log / (s2 * fc)
    w_e = 2.0 / (s2 * fc**2)
    ell = np.where(err.is_log, ell_e, ell_n)
    d = np.where(err.is_log, d_e, d_n)
    w = np.where(err.is_log, w_e, w_n)
    if np.any(blq):
        sd = np.sqrt(v)
        with np.errstate(divide="ignore", invalid="ignore"):
            lq = np.where(blq, lloq, 1.0)
            z = np.where(
                err.is_log,
                (np.log(lq) - np.log(fc)) / np.sqrt(s2),
                (lq - fc) / sd,
            )
            dz = np.where(
                err.is_log,
                -1.0 / (np.sqrt(s2) * fc),
                -1.0 / sd - (lq - fc) * dv / (2.0 * v * sd),
            )
        log_p = special.log_ndtr(z)
        log_q = special.log_ndtr(-z)
        log_phi = -0.5 * z**2 - 0.5 * np.log(2.0 * np.pi)
        ratio = np.exp(log_phi - log_p)  # phi / Phi, stable in both tails
        ell_c = -2.0 * log_p
        d_c = -2.0 * ratio * dz
        w_c = 2.0 * np.exp(2.0 * log_phi - log_p - log_q) * dz**2
        ell = np.where(blq, ell_c, ell)
        d = np.where(blq, d_c, d)
        w = np.where(blq, w_c, w)
    return ell, d, w


def compute_iwres(f: FloatArray, y: FloatArray, err: ObsErrorArrays) -> FloatArray:
    """Individual weighted residuals: ``(y - f)/sqrt(v(f))``, or ``(log y - log f)/s``."""
    fc = np.maximum(f, F_FLOOR_MG_PER_L)
    v = err.add**2 + (err.prop * fc) ** 2
    with np.errstate(divide="ignore", invalid="ignore"):
        lin = (y - fc) / np.sqrt(np.where(err.is_log, 1.0, v))
        log = (np.log(np.maximum(y, F_FLOOR_MG_PER_L)) - np.log(fc)) / np.where(
            err.is_log, err.log_sd, 1.0
        )
    return np.asarray(np.where(err.is_log, log, lin), dtype=float)
