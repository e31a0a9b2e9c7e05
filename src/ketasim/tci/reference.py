"""An independent, brute-force TCI plan: a sequence of linear programmes on simulated columns.

Owns a reference against which :func:`ketasim.tci.plan_tci` is checked (tests, ``bench/tci.py``).
It shares nothing with the fast rule but the model: every column of the response matrix
``A[m, k]`` (concentration at update ``m`` caused by 1 mg/h during update ``k``) is its own
``simulate`` call (no time-invariance or superposition shortcut), and the rates are found by
``scipy.optimize.linprog``: for ``k = 0, 1, ...`` in turn, maximise ``r_k`` subject to
``A r <= c`` at every later update, ``0 <= r <= r_max`` and the earlier rates fixed. Because
``A >= 0``, later rates can only raise concentrations, so this lexicographic maximum is the
plan of the closed-form rule; it costs ``N`` simulations and ``N`` LPs, so use small ``N``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import optimize

from ketasim.errors import SolverError
from ketasim.events import Dose, Regimen
from ketasim.simulate import simulate
from ketasim.spec import ModelSpec

__all__ = ["compute_reference_rates", "compute_response_matrix"]

FloatArray = npt.NDArray[np.float64]


def compute_response_matrix(
    spec: ModelSpec,
    n: int,
    update_h: float,
    horizon: int,
    *,
    covariates: Mapping[str, Any] | None = None,
    effect_cmt: int | None = None,
    analyte: str | None = None,
) -> FloatArray:
    """``A[m, k]``, mg/L per mg/h: concentration at ``(m + 1) d`` from 1 mg/h on update ``k``.

    One ``simulate`` call per column (plasma of ``analyte``, or the amount of compartment
    ``effect_cmt``, which holds Ce in mg/L).
    """
    times = np.arange(1, horizon + 1, dtype=np.float64) * update_h
    A = np.zeros((horizon, n))
    for k in range(n):
        reg = Regimen((Dose(amt=update_h, time_h=k * update_h, tinf_h=update_h),))
        res = simulate(
            spec,
            reg,
            times,
            covariates=covariates,
            keep_amounts=effect_cmt is not None,
            check_validity=False,
        )
        if effect_cmt is not None:
            assert res.amounts is not None
            col = res.amounts[0, :, effect_cmt]
        else:
            col = res.conc[str(analyte)][0]
        A[:, k] = np.where(times > k * update_h, col, 0.0)
    return A


def compute_reference_rates(
    A: FloatArray,
    target_mg_per_L: FloatArray,
    max_rate_mg_per_h: float = math.inf,
) -> FloatArray:
    """Lexicographically largest rates with ``A r <= c`` after each update (module docstring).

    Parameters
    ----------
    A : (M, N) array, mg/L per mg/h
        Row ``m`` is the concentration at update ``m + 1``.
    target_mg_per_L : (N,) array, mg/L
        Target in force at each update (row ``m`` is bounded by the target of every update
        ``k <= m`` whose rate is being chosen).
    max_rate_mg_per_h : float, mg/h

    Returns
    -------
    (N,) array, mg/h
    """
    M, N = A.shape
    rates = np.zeros(N)
    ub = None if math.isinf(max_rate_mg_per_h) else max_rate_mg_per_h
    for k in range(N):
        rows = np.arange(k, M)  # concentrations from update k + 1 on
        fixed = A[rows, :k] @ rates[:k]
        b = target_mg_per_L[k] - fixed
        cost = np.zeros(N - k)
        cost[0] = -1.0
        bounds = [(0.0, ub)] + [(0.0, 0.0)] * (N - k - 1)
        if np.any((b < -1e-12 * target_mg_per_L[k]) & (A[rows, k] > 1e-300)):
            continue  # already above the target where this update acts: the pump stays off
        res = optimize.linprog(
            cost, A_ub=A[rows, k:], b_ub=np.maximum(b, 0.0), bounds=bounds, method="highs"
        )
        if res.status != 0:
            raise SolverError(f"reference LP at update {k}: {res.message}")
        rates[k] = float(res.x[0])
    return rates
