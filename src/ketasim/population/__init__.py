"""Monte Carlo populations: between-subject variability, covariates, residual error, summaries.

Owns the sampling of ETAs (multivariate normal from the model's omega), of covariates (a user's
per-subject arrays, a table of patients resampled by row, or truncated normals whose parameters
the user gives), of residual error, and the streaming reduction of a population run to
per-subject exposure metrics, percentile curves and target attainment. It does not solve models
(:func:`ketasim.simulate.simulate` does) nor hold published population data: no
reference distribution of body weight or age ships, because none could be cited from a primary
source; pass your own (e.g. from your cohort or from NHANES tables you have checked).

Reproducibility
---------------
Subject ``i`` belongs to block ``i // BLOCK_SIZE``. Every random number of a block comes from
``numpy.random.SeedSequence(seed, spawn_key=(block, purpose, ...))`` and every block is solved by
its own call of the engine, so a seed gives the same numbers, to the last bit, whatever the
chunk size, the number of threads or Dask workers (see :mod:`ketasim.distributed`).
:func:`simulate_population_streaming` (:mod:`.streaming`) is the bounded-memory run for very many
subjects (histogram percentiles, compact chunk results; docs/scale-out.md).

Percentiles
-----------
``"exact"``: all curves are held (only when they fit ``exact_max_bytes``) and ``numpy.percentile``
(linear interpolation) is applied. ``"histogram"``: per time point and analyte, integer counts in
fixed bins of ``y = asinh(c / s)`` (``s`` = 1e-4 mg/L) of width ``log1p(rel_error)``, plus the
exact minimum and maximum; counts merge exactly in any order. The order statistics on either side
of the percentile rank are located in their bins and placed by interpolation inside them, so each
lies in the same bin as the true one, giving ``|c_hat - c| <= rel_error * (|c| + s)`` for
``-10 <= c <= 1000`` mg/L (outside, between the range edge and the exact extreme).
"""

from ketasim.population.attainment import Attainment, Target, compute_target_attainment
from ketasim.population.run import BLOCK_SIZE, PopulationResult, simulate_population
from ketasim.population.sampling import (
    CovariateTable,
    TruncatedNormal,
    add_residual_error,
    sample_covariates,
    sample_etas,
)
from ketasim.population.streaming import simulate_population_streaming

__all__ = [
    "BLOCK_SIZE",
    "Attainment",
    "CovariateTable",
    "PopulationResult",
    "Target",
    "TruncatedNormal",
    "add_residual_error",
    "compute_target_attainment",
    "sample_covariates",
    "sample_etas",
    "simulate_population",
    "simulate_population_streaming",
]
