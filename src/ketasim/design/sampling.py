"""The virtual patients of a design: the same subjects as ``simulate_population`` for a seed.

Owns the draw of every subject's ETAs and covariates for a seed, following the seed contract of
:mod:`ketasim.population` (subject ``i`` in block ``i // BLOCK_SIZE``; each block's numbers from
``SeedSequence(seed, spawn_key=(block, purpose, ...))``, purposes 0 ETAs and 1 covariates), so
``ketasim design --seed 1`` and ``ketasim population --seed 1`` simulate the same patients (a
test checks it). Built only from the public sampling functions.

SEE: the lead may expose this as ``ketasim.population.sample_population``; then this module goes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from ketasim.errors import ParameterError
from ketasim.population import BLOCK_SIZE, CovariateTable, TruncatedNormal, sample_etas
from ketasim.spec import ModelSpec

__all__ = ["VirtualPatients", "sample_virtual_patients"]

FloatArray = npt.NDArray[np.float64]
_ETA, _COV = 0, 1  # SeedSequence purposes of ketasim.population.run


@dataclass(frozen=True)
class VirtualPatients:
    """ETAs (n, n_eta) and covariates (name -> (n,), declared units) of ``n`` subjects."""

    n: int
    seed: int
    etas: FloatArray
    covariates: dict[str, FloatArray]

    def take(self, sl: slice) -> tuple[FloatArray, dict[str, FloatArray]]:
        """ETAs and covariates of subjects ``sl``."""
        return self.etas[sl], {k: v[sl] for k, v in self.covariates.items()}


def _stream(seed: int, *key: int) -> np.random.Generator:
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=key)))


def sample_virtual_patients(
    spec: ModelSpec, n: int, seed: int, covariates: dict[str, Any] | CovariateTable
) -> VirtualPatients:
    """Subjects ``0 .. n-1`` for ``seed`` (module docstring).

    Parameters
    ----------
    spec : ModelSpec
    n : int
    seed : int, >= 0
    covariates : mapping or CovariateTable
        Every covariate of the model: a scalar, ``n`` values or a TruncatedNormal; or a table.

    Examples
    --------
    >>> from ketasim.library import load_model
    >>> vp = sample_virtual_patients(load_model("herd_2007"), 3, 1, {"WT": 20.0})
    >>> vp.etas.shape, vp.covariates["WT"].tolist()
    ((3, 4), [20.0, 20.0, 20.0])
    """
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n <= 0:
        raise ParameterError(f"--n {n!r}: the number of subjects must be a positive integer")
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ParameterError(f"--seed {seed!r} must be a non-negative integer")
    names = list(covariates.columns) if isinstance(covariates, CovariateTable) else list(covariates)
    for k in spec.covariates:
        if k not in names:
            raise ParameterError(f"model {spec.id}: give covariate {k} ({spec.covariates[k].unit})")
    etas = []
    covs: dict[str, list[FloatArray]] = {k: [] for k in spec.covariates}
    for b in range(-(-n // BLOCK_SIZE)):
        start, stop = b * BLOCK_SIZE, min(n, (b + 1) * BLOCK_SIZE)
        m = stop - start
        etas.append(sample_etas(spec, m, _stream(seed, b, _ETA)))
        if isinstance(covariates, CovariateTable):
            rows = _stream(seed, b, _COV, 0).integers(0, covariates.n_rows, size=m)
            for k in spec.covariates:
                covs[k].append(np.asarray(covariates.columns[k], dtype=float)[rows])
            continue
        for j, k in enumerate(spec.covariates):
            v = covariates[k]
            if isinstance(v, TruncatedNormal):
                covs[k].append(v.sample(m, _stream(seed, b, _COV, j)))
            else:
                a = np.asarray(v, dtype=float)
                if a.ndim == 0:
                    covs[k].append(np.full(m, float(a)))
                elif a.shape == (n,):
                    covs[k].append(a[start:stop].copy())
                else:
                    raise ParameterError(f"covariate {k}: give a scalar or {n} values")
    return VirtualPatients(
        n, int(seed), np.concatenate(etas), {k: np.concatenate(v) for k, v in covs.items()}
    )
