"""A population run: chunks of subjects simulated and reduced as a stream.

Owns the frozen job description, the per-block pure function (random streams, engine call,
summaries, histogram counts), the order-independent merge and :func:`simulate_population`.
Sampling lives in :mod:`.sampling`, percentiles in :mod:`.quantiles`, goals in :mod:`.attainment`.

Reproducibility: subject ``i`` belongs to block ``i // BLOCK_SIZE``; every random number of a block
comes from ``SeedSequence(seed, spawn_key=(block, purpose, ...))`` and every block is solved by its
own engine call, so a seed gives the same numbers, to the last bit, whatever the chunk size, the
number of threads or Dask workers.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
from tqdm import tqdm  # type: ignore[import-untyped]

from ketasim.errors import ParameterError
from ketasim.events import Regimen
from ketasim.plausibility import check_validity_range
from ketasim.population.attainment import (
    Attainment,
    Target,
)
from ketasim.population.quantiles import compute_bin_counts, compute_histogram_percentiles
from ketasim.population.sampling import (
    CovariateInput,
    CovariateTable,
    TruncatedNormal,
    _check_covariates,
    _check_n,
    _covariates_for,
    _draw_etas,
    _omega_factor,
    add_residual_error,
)
from ketasim.population.summaries import (
    dose_intervals,
    exact_block,
    exact_summaries,
    grid_summaries,
    simulation_grid,
)
from ketasim.simulate import simulate
from ketasim.spec import ModelSpec

__all__ = ["BLOCK_SIZE", "PopulationResult", "simulate_population"]

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
BLOCK_SIZE = 1024  # subjects per random stream and per engine call; part of the seed contract
_ETA, _COV, _RES = 0, 1, 2  # SeedSequence purposes


# --- results ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PopulationResult:
    """Summary of a simulated population.

    Attributes
    ----------
    time_h : (T,) ndarray, h
    n : int
    seed : int
        The entropy used; passing it as ``seed`` repeats the run exactly.
    percentiles : tuple of float, %
    percentile_curves : dict analyte -> (P, T) ndarray, mg/L
    percentile_method : "exact" or "histogram"; ``percentile_rel_error`` bounds the latter
    intervals_h : (K, 2) ndarray, h
        Dose intervals [dose k, dose k+1) (the last up to the end of the grid).
    summaries : dict analyte -> dict metric -> ndarray
        ``cmax_mg_per_L``, ``tmax_h``, ``auc_mg_h_per_L`` (n,) over [0, last time];
        ``cmax_interval_mg_per_L``, ``tmax_interval_h``, ``auc_interval_mg_h_per_L`` (n, K).
        How they were computed: ``summary_method``.
    summary_method : "exact", "grid" or "observed"
        "exact": from the noise-free solution (:func:`ketasim.exposure.compute_exposure`:
        refined peaks, exact AUC and crossings), whatever the grid; "grid": noise-free curves
        on the output grid (old behaviour, grid-dependent); "observed": the curves with
        residual error on the output grid (observed-style, as an NCA of sampled data would).
    attainment : dict target name -> Attainment
    covariates : dict name -> (n,) ndarray, each in its declared unit
    reasons : dict "analyte/metric" -> why some values are NaN
    """

    time_h: FloatArray
    n: int
    seed: int
    percentiles: tuple[float, ...]
    percentile_curves: Mapping[str, FloatArray]
    percentile_method: str
    percentile_rel_error: float
    intervals_h: FloatArray
    summaries: Mapping[str, Mapping[str, FloatArray]]
    attainment: Mapping[str, Attainment] = field(default_factory=dict)
    covariates: Mapping[str, FloatArray] = field(default_factory=dict)
    reasons: Mapping[str, str] = field(default_factory=dict)
    residual: bool = False
    summary_method: str = "exact"

    def get_percentile(self, analyte: str, q: float) -> FloatArray:
        """Percentile curve ``q`` (%) of ``analyte``, (T,), mg/L."""
        if analyte not in self.percentile_curves or q not in self.percentiles:
            raise ParameterError(
                f"no percentile {q} of {analyte!r}; have {list(self.percentiles)} of "
                f"{', '.join(self.percentile_curves)}"
            )
        return np.asarray(self.percentile_curves[analyte][self.percentiles.index(q)])


# --- the population run -------------------------------------------------------------------------
@dataclass(frozen=True)
class _Job:
    """Everything a chunk needs: a pure function of this and the subject range."""

    spec: ModelSpec
    regimen: Regimen
    times_h: FloatArray
    n: int
    seed: int
    factor: FloatArray
    covariates: CovariateInput | None
    params: Mapping[str, Any]
    residual: bool
    method: str
    rel_error: float
    targets: tuple[Target, ...]
    intervals_h: FloatArray
    offset: int = 0
    summary_method: str = (
        "exact"  # index of the first subject held by per-subject covariate/param arrays
    )

    def with_range(self, start: int, stop: int) -> _Job:
        """A copy holding only subjects start:stop of per-subject arrays (small task payloads)."""
        cov = self.covariates
        a, b = start - self.offset, stop - self.offset
        if cov is not None and not isinstance(cov, CovariateTable):
            cov = {
                k: v if isinstance(v, TruncatedNormal) or np.ndim(v) == 0 else np.asarray(v)[a:b]
                for k, v in cov.items()
            }
        params = {k: np.asarray(v)[a:b] if np.ndim(v) == 1 else v for k, v in self.params.items()}
        return replace(self, covariates=cov, params=params, offset=start)


@dataclass
class _Partial:
    start: int
    stop: int
    summaries: dict[str, dict[str, FloatArray]]
    counts: npt.NDArray[np.int64] | None
    lo: FloatArray
    hi: FloatArray
    curves: FloatArray | None
    attainment: dict[str, tuple[BoolArray, FloatArray]]
    covariates: dict[str, FloatArray]
    reasons: dict[str, str]


def _stream(seed: int, *key: int) -> np.random.Generator:
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=key)))


def _simulate_block(job: _Job, b: int) -> _Partial:
    """Simulate and reduce block ``b`` (subjects b*BLOCK_SIZE ...): a pure function."""
    start, stop = b * BLOCK_SIZE, min(job.n, (b + 1) * BLOCK_SIZE)
    m = stop - start
    spec = job.spec
    etas = _draw_etas(job.factor, m, _stream(job.seed, b, _ETA))
    cov = _covariates_for(
        spec, job.covariates, start, stop, lambda j: _stream(job.seed, b, _COV, j), job.offset
    )
    o = job.offset
    params = {
        k: (np.asarray(v)[start - o : stop - o] if np.ndim(v) == 1 else v)
        for k, v in job.params.items()
    }
    t_sim, user = simulation_grid(job.times_h, job.intervals_h)
    analytes = spec.get_analytes()
    # NOTE: exact summaries come with the curves from one solve when the pieces allow it
    one = exact_block(job, cov, etas, params, t_sim) if job.summary_method == "exact" else None
    if one is not None:
        c_sim, summaries, reasons, att = one
    else:
        res = simulate(
            spec, job.regimen, t_sim, covariates=cov, etas=etas, params=params,
            check_validity=False,
        )  # fmt: skip
        c_sim = np.stack([res.conc[a] for a in analytes])  # (A, m, T_sim), mg/L
    noise_free = c_sim.copy() if job.residual and job.summary_method == "grid" else c_sim
    if job.residual:
        for j, a in enumerate(analytes):
            c_sim[j] = add_residual_error(c_sim[j], spec, a, _stream(job.seed, b, _RES, j))
    t, conc = job.times_h, c_sim[..., user]  # the user's grid
    if one is None and job.summary_method == "exact":
        summaries, reasons, att = exact_summaries(job, cov, etas, params)
    elif one is None:
        c_sum = noise_free if job.summary_method == "grid" else c_sim
        summaries, reasons, att = grid_summaries(job, t, c_sum[..., user], t_sim, c_sum)
    counts = curves = None
    if job.method == "exact":
        curves = conc
    else:
        counts = compute_bin_counts(conc, job.rel_error)
    return _Partial(
        start,
        stop,
        summaries,
        counts,
        conc.min(axis=1),
        conc.max(axis=1),
        curves,
        att,
        cov,
        reasons,
    )


def _warn_outside_population(spec: ModelSpec, covariates: CovariateInput | None) -> None:
    """One ValidityWarning per run (not per block) when given covariates leave the model's
    range; sampled ones are judged on the sampled values (:func:`_sampled_covariate_names`)."""
    if covariates is None or isinstance(covariates, CovariateTable):
        return
    fixed = {k: v for k, v in covariates.items() if not isinstance(v, TruncatedNormal)}
    check_validity_range(spec, fixed)


def _sampled_covariate_names(covariates: CovariateInput | None) -> list[str]:
    """Covariates drawn per subject (truncated normals, table rows): their validity warning
    gives the share of the sampled subjects outside the range, after the run."""
    if covariates is None:
        return []
    if isinstance(covariates, CovariateTable):
        return list(covariates.columns)
    return [k for k, v in covariates.items() if isinstance(v, TruncatedNormal)]


def _prepare(
    spec: ModelSpec,
    regimen: Regimen,
    times_h: FloatArray,
    n: int,
    *,
    rng: np.random.Generator | None,
    seed: int | None,
    covariates: CovariateInput | None,
    params: Mapping[str, Any] | None,
    omega: npt.ArrayLike | None,
    residual: bool,
    percentiles: Sequence[float],
    percentile_method: str,
    percentile_rel_error: float,
    exact_max_bytes: float,
    targets: Sequence[Target],
    summary_method: str = "exact",
) -> _Job:
    """Validate every input once, in the caller's process, and freeze the job."""
    _check_n(n)
    t = np.asarray(times_h, dtype=float)
    if t.ndim != 1 or t.size == 0 or not np.all(np.isfinite(t)) or np.any(np.diff(t) < 0):
        raise ParameterError("times_h must be a non-empty ascending 1-D array of finite times (h)")
    if rng is not None and seed is not None:
        raise ParameterError("give either rng or seed, not both")
    if seed is None:
        # NOTE: fresh entropy is recorded in the result so the run can be repeated
        entropy = rng.integers(0, 2**63) if rng is not None else np.random.SeedSequence().entropy
        seed = int(entropy) % 2**63  # type: ignore[arg-type]
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ParameterError(f"seed {seed!r} must be a non-negative integer")
    _check_covariates(spec, covariates, n)
    _warn_outside_population(spec, covariates)
    params = dict(params or {})
    for k, v in params.items():
        if np.ndim(v) > 1 or (np.ndim(v) == 1 and np.shape(v)[0] != n):
            raise ParameterError(f"parameter {k}: give a scalar or {n} per-subject values")
    if residual:
        for a in spec.get_analytes():
            if a not in spec.residual:
                raise ParameterError(f"model {spec.id} has no residual error model for {a}")
    q = tuple(float(x) for x in percentiles)
    if not q or any(not 0 <= x <= 100 for x in q):
        raise ParameterError(f"percentiles {list(q)} must lie in [0, 100] (%)")
    n_bytes = 8.0 * n * t.size * len(spec.get_analytes())
    method = percentile_method
    if method == "auto":
        method = "exact" if n_bytes <= exact_max_bytes else "histogram"
    if method not in ("exact", "histogram"):
        raise ParameterError(
            f"percentile_method {percentile_method!r}: use auto, exact or histogram"
        )
    if method == "exact" and n_bytes > exact_max_bytes:
        raise ParameterError(
            f"exact percentiles need {n_bytes / 1e6:.0f} MB of curves (> exact_max_bytes "
            f"{exact_max_bytes / 1e6:.0f} MB): use percentile_method='histogram' or raise the limit"
        )
    if not 0 < percentile_rel_error < 1:
        raise ParameterError(f"percentile_rel_error {percentile_rel_error} must be in (0, 1)")
    if summary_method not in ("exact", "grid", "observed"):
        raise ParameterError(
            f"summary_method {summary_method!r}: use 'exact', 'grid' or 'observed'"
        )
    if summary_method == "observed" and not residual:
        raise ParameterError("summary_method 'observed' needs residual=True (observations)")
    if summary_method == "exact" and not spec.is_linear:
        summary_method = "grid"  # NOTE: exact exposure needs the linear solution
    if summary_method == "exact" and not np.any(
        [d.time_h + k * d.ii_h < t[-1] for d in regimen.doses for k in range(d.addl + 1)]
    ):
        raise ParameterError(
            f"no dose starts before the last output time {t[-1]:g} h: extend times_h"
        )
    names = [tg.name for tg in targets]
    for tg in targets:
        spec.get_central_index(tg.analyte)
    if len(set(names)) != len(names):
        raise ParameterError(f"target names must be unique: {names}")
    return _Job(
        spec,
        regimen,
        t,
        int(n),
        int(seed),
        _omega_factor(spec, omega),
        covariates,
        params,
        bool(residual),
        method,
        float(percentile_rel_error),
        tuple(targets),
        dose_intervals(regimen, float(t[-1])),
        summary_method=summary_method,
    )


class _Accumulator:
    """Merges block partials in any order into the same final numbers."""

    def __init__(self, job: _Job, percentiles: tuple[float, ...]) -> None:
        self.job, self.q = job, percentiles
        n, T, A = job.n, job.times_h.size, len(job.spec.get_analytes())
        self.summaries: dict[str, dict[str, FloatArray]] = {}
        self.att: dict[str, tuple[BoolArray, FloatArray]] = {
            tg.name: (np.zeros(n, dtype=bool), np.zeros(n)) for tg in job.targets
        }
        self.cov = {k: np.empty(n) for k in job.spec.covariates}
        self.lo, self.hi = np.full((A, T), np.inf), np.full((A, T), -np.inf)
        self.counts: npt.NDArray[np.int64] | None = None
        # NOTE: (A, T, n): each time's values are contiguous for the percentile's partition
        self.curves = np.empty((A, T, n)) if job.method == "exact" else None
        self.reasons: dict[str, str] = {}

    def add(self, p: _Partial) -> None:
        sl = slice(p.start, p.stop)
        for a, d in p.summaries.items():
            dst = self.summaries.setdefault(
                a, {k: np.empty((self.job.n, *v.shape[1:])) for k, v in d.items()}
            )
            for k, v in d.items():
                dst[k][sl] = v
        for name, (ok, above) in p.attainment.items():
            self.att[name][0][sl], self.att[name][1][sl] = ok, above
        for k, v in p.covariates.items():
            self.cov[k][sl] = v
        np.minimum(self.lo, p.lo, out=self.lo)
        np.maximum(self.hi, p.hi, out=self.hi)
        if p.counts is not None:
            self.counts = p.counts.copy() if self.counts is None else self.counts + p.counts
        if self.curves is not None and p.curves is not None:
            self.curves[:, :, sl] = np.swapaxes(p.curves, 1, 2)
        self.reasons.update(p.reasons)

    def result(self) -> PopulationResult:
        job = self.job
        analytes = job.spec.get_analytes()
        sampled = _sampled_covariate_names(job.covariates)
        check_validity_range(job.spec, {k: self.cov[k] for k in sampled if k in self.cov})
        if self.curves is not None:
            pc = np.percentile(self.curves, self.q, axis=2)  # (P, A, T)
        else:
            assert self.counts is not None
            pc = compute_histogram_percentiles(
                self.counts, self.lo, self.hi, job.n, self.q, job.rel_error
            )
        return PopulationResult(
            time_h=job.times_h,
            n=job.n,
            seed=job.seed,
            percentiles=self.q,
            percentile_curves={a: pc[:, j] for j, a in enumerate(analytes)},
            percentile_method=job.method,
            percentile_rel_error=0.0 if job.method == "exact" else job.rel_error,
            intervals_h=job.intervals_h,
            summaries=self.summaries,
            attainment={k: Attainment(ok, ab) for k, (ok, ab) in self.att.items()},
            covariates=self.cov,
            reasons=self.reasons,
            residual=job.residual,
            summary_method=job.summary_method,
        )


def _block_chunks(n: int, chunk_size: int | None) -> Iterator[range]:
    nblocks = -(-n // BLOCK_SIZE)
    per = max(1, -(-(chunk_size or 16 * BLOCK_SIZE) // BLOCK_SIZE))
    for b in range(0, nblocks, per):
        yield range(b, min(nblocks, b + per))


def _simulate_chunk(job: _Job, blocks: range) -> _Partial:
    """Consecutive blocks merged into one partial (one histogram per chunk, not per block)."""
    parts = [_simulate_block(job, b) for b in blocks]
    first = parts[0]
    if len(parts) == 1:
        return first

    def cat(items: list[Any], axis: int = 0) -> Any:
        return np.concatenate(items, axis=axis)

    counts: npt.NDArray[np.int64] | None = None
    for p in parts:
        if p.counts is not None:
            counts = p.counts if counts is None else counts + p.counts
    return _Partial(
        start=first.start,
        stop=parts[-1].stop,
        summaries={
            a: {k: cat([p.summaries[a][k] for p in parts]) for k in d}
            for a, d in first.summaries.items()
        },
        counts=counts,
        lo=np.min([p.lo for p in parts], axis=0),
        hi=np.max([p.hi for p in parts], axis=0),
        curves=None if first.curves is None else cat([p.curves for p in parts], axis=1),
        attainment={
            k: (cat([p.attainment[k][0] for p in parts]), cat([p.attainment[k][1] for p in parts]))
            for k in first.attainment
        },
        covariates={k: cat([p.covariates[k] for p in parts]) for k in first.covariates},
        reasons={k: v for p in parts for k, v in p.reasons.items()},
    )


def simulate_population(
    spec: ModelSpec,
    regimen: Regimen,
    times_h: FloatArray,
    n: int,
    *,
    rng: np.random.Generator | None = None,
    seed: int | None = None,
    covariates: CovariateInput | None = None,
    params: Mapping[str, Any] | None = None,
    omega: npt.ArrayLike | None = None,
    chunk_size: int | None = None,
    workers: int = 1,
    residual: bool = False,
    percentiles: Sequence[float] = (5.0, 50.0, 95.0),
    percentile_method: Literal["auto", "exact", "histogram"] = "auto",
    percentile_rel_error: float = 0.01,
    exact_max_bytes: float = 256e6,
    targets: Sequence[Target] = (),
    progress: bool = False,
    summary_method: Literal["exact", "grid", "observed"] = "exact",
) -> PopulationResult:
    """Simulate ``n`` subjects and reduce them to summaries and percentile curves.

    Parameters
    ----------
    spec : ModelSpec
    regimen : Regimen
    times_h : (T,) ndarray, h, ascending
    n : int
        Number of subjects (> 0).
    rng, seed : numpy Generator or int, optional
        Randomness: ``seed`` directly, or one integer drawn from ``rng``; fresh entropy (recorded
        in ``result.seed``) when neither is given.
    covariates : mapping or CovariateTable
        See :func:`sample_covariates`; every covariate of the model must be given.
    params : mapping, optional
        Individual parameter overrides (canonical units), scalars or ``n`` values.
    omega : (n_eta, n_eta) array, optional
        Replaces the model's omega (dimensionless, log scale).
    chunk_size : int, optional
        Subjects per unit of work (rounded up to a multiple of ``BLOCK_SIZE``); never changes
        the numbers.
    workers : int
        Threads over chunks.
    residual : bool
        Add the model's residual error (:func:`add_residual_error`) to the percentile curves
        (observations); summaries stay noise-free unless ``summary_method="observed"``.
    percentiles : sequence of float, %
    percentile_method : "auto", "exact" or "histogram"
        "auto" is exact when all curves fit ``exact_max_bytes`` (bytes).
    percentile_rel_error : float, dimensionless
        Bound of the histogram method (module docstring).
    targets : sequence of Target
        Evaluated like the summaries (exactly by default).
    progress : bool
        A progress bar on stderr for runs longer than half a second.
    summary_method : "exact", "grid" or "observed"
        See :class:`PopulationResult` (nonlinear models fall back to "grid").

    Returns
    -------
    PopulationResult

    Examples
    --------
    >>> from ketasim.library import load_model
    >>> m = load_model("herd_2007")
    >>> r = simulate_population(m, Regimen.from_quantities("1 mg/kg", duration="10 min"),
    ...                         np.linspace(0, 4, 41), 200, seed=1, covariates={"WT": 30.0},
    ...                         progress=False)
    >>> r.percentile_curves["ketamine"].shape, r.summaries["ketamine"]["cmax_mg_per_L"].shape
    ((3, 41), (200,))
    """
    job = _prepare(
        spec,
        regimen,
        times_h,
        n,
        rng=rng,
        seed=seed,
        covariates=covariates,
        params=params,
        omega=omega,
        residual=residual,
        percentiles=percentiles,
        percentile_method=percentile_method,
        percentile_rel_error=percentile_rel_error,
        exact_max_bytes=exact_max_bytes,
        targets=targets,
        summary_method=summary_method,
    )
    acc = _Accumulator(job, tuple(float(x) for x in percentiles))
    chunks = list(_block_chunks(n, chunk_size))
    with tqdm(total=n, unit="subject", delay=0.5, disable=not progress, desc=spec.id) as bar:
        if workers > 1 and len(chunks) > 1:
            from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

            # NOTE: ketasim's own threads each get one BLAS/OpenMP thread: `workers` threads
            # times a BLAS pool per thread oversubscribed 2 cores (one 2.3 s call took 97.8 s)
            with threadpool_limits(1), ThreadPoolExecutor(max_workers=workers) as pool:
                for p in pool.map(lambda c: _simulate_chunk(job, c), chunks):
                    acc.add(p)
                    bar.update(p.stop - p.start)
        else:
            for c in chunks:
                p = _simulate_chunk(job, c)
                acc.add(p)
                bar.update(p.stop - p.start)
    return acc.result()
