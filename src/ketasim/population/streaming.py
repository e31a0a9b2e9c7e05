"""Streaming population runs for very many subjects: compact chunk results, bounded memory.

Owns the chunk reduction used when curves cannot be held (a million subjects x 1,000 times x
2 analytes is 16 GB of float64): each chunk of whole blocks is simulated block by block
(:func:`ketasim.population.run._simulate_block`, the same pure function as
:func:`~ketasim.population.simulate_population`), the blocks' histogram counts are added into one
array as they come (never one array per block), and the chunk is sent on as a
:class:`ChunkSummary`: the per-subject exact summaries, the exact minimum and maximum per time
point, and the counts as one occupied run of bins per series (int32) with its first bin. The
merge expands the runs and adds integer counts, so the result does not depend on the chunk size,
the merge order or the number of threads or Dask workers, and equals
``simulate_population(..., percentile_method="histogram")`` for the same seed to the last bit.
It does not sample, solve or summarise (those are :mod:`.run`, :mod:`.summaries`,
:mod:`ketasim.exposure`), and it does not hold curves.

Percentile bands: the fixed-bin histogram of :mod:`.quantiles` (per analyte and time point, bins
of ``asinh(c / 1e-4 mg/L)`` of width ``log1p(rel_error)``), whose estimate is within
``rel_error * (|c| + 1e-4 mg/L)`` of numpy's linear-interpolation percentile for -10 to 1,000 mg/L.
The run of occupied bins of a series is short (values of one time point span a few decades at
most), so a chunk's counts are a few MB instead of A x T x ~2,900 int64 (46 MB for 2 x 1,000).

Memory: the caller holds the per-subject summaries (21 float64 per analyte per subject with six
dose intervals: 336 MB for 1,000,000 subjects and 2 analytes), one dense count array
(``A * T * (bins + 2)`` int64) and, per running chunk, one block's curves and one count array.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
from tqdm import tqdm  # type: ignore[import-untyped]

from ketasim.errors import ParameterError
from ketasim.events import Regimen
from ketasim.population.attainment import Target
from ketasim.population.quantiles import get_histogram_grid
from ketasim.population.run import (
    PopulationResult,
    _Accumulator,
    _block_chunks,
    _Job,
    _Partial,
    _prepare,
    _simulate_block,
)
from ketasim.population.sampling import CovariateInput
from ketasim.spec import ModelSpec

__all__ = [
    "ChunkSummary",
    "StreamMerger",
    "StreamTimings",
    "compute_chunk_summary",
    "prepare_stream",
    "simulate_population_streaming",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
Int32Array = npt.NDArray[np.int32]
CountArray = npt.NDArray[np.signedinteger[Any]]


@dataclass
class ChunkSummary:
    """One chunk of subjects ``start:stop`` reduced for merging (picklable, a few MB).

    ``first[s]``, ``width[s]``: first occupied bin and number of bins kept of series ``s``
    (analyte-major, then time); ``counts``: those bins' counts, series after series (int32
    unless a bin holds 2**31 subjects or more).
    ``compute_s``, ``cpu_s``: wall and thread CPU seconds the chunk took where it ran.
    """

    start: int
    stop: int
    summaries: dict[str, dict[str, FloatArray]]
    attainment: dict[str, tuple[npt.NDArray[np.bool_], FloatArray]]
    covariates: dict[str, FloatArray]
    reasons: dict[str, str]
    lo: FloatArray
    hi: FloatArray
    first: Int32Array
    width: Int32Array
    counts: CountArray
    compute_s: float = 0.0
    cpu_s: float = 0.0

    @property
    def nbytes(self) -> int:
        """Bytes of the arrays (what a worker sends), B."""
        arrays: list[Any] = [self.lo, self.hi, self.first, self.width, self.counts]
        arrays += [v for d in self.summaries.values() for v in d.values()]
        arrays += [v for pair in self.attainment.values() for v in pair]
        arrays += list(self.covariates.values())
        return int(sum(np.asarray(a).nbytes for a in arrays))


@dataclass
class StreamTimings:
    """Where a streaming run spent its time, s (filled by the run it is passed to).

    ``compute_s``/``cpu_s``: sum over chunks of wall/CPU seconds inside the chunk function
    (simulation, summaries, counts); ``merge_s``: expanding and adding chunks in the caller;
    ``transfer_s``: fetching chunk results from Dask workers (0 in-process); ``final_s``: the
    percentiles from the merged counts; ``total_s``: the whole call; ``chunk_bytes``: sum of
    :attr:`ChunkSummary.nbytes`, B.
    """

    chunks: int = 0
    compute_s: float = 0.0
    cpu_s: float = 0.0
    merge_s: float = 0.0
    transfer_s: float = 0.0
    final_s: float = 0.0
    total_s: float = 0.0
    chunk_bytes: int = 0
    per_chunk_s: list[float] = field(default_factory=list)


def _compact(dense: IntArray, n_series: int) -> tuple[Int32Array, Int32Array, CountArray]:
    """(first, width, counts) of the occupied run of bins of each series of ``dense``."""
    c = dense.reshape(n_series, -1)
    occupied = c != 0
    first = np.argmax(occupied, axis=1)
    last = c.shape[1] - 1 - np.argmax(occupied[:, ::-1], axis=1)
    width = np.where(occupied.any(axis=1), last - first + 1, 0)
    cols = np.arange(c.shape[1])
    keep = (cols >= first[:, None]) & (cols < (first + width)[:, None])
    kept = c[keep]
    # NOTE: int32 halves what a worker sends; a bin of 2**31 subjects or more keeps int64
    small = kept.size == 0 or int(kept.max()) < 2**31
    return (
        first.astype(np.int32),
        width.astype(np.int32),
        kept.astype(np.int32 if small else np.int64),
    )


def _expand(first: Int32Array, width: Int32Array, counts: CountArray, n_bins: int) -> IntArray:
    """Dense int64 counts (series x bins, flat) from :func:`_compact`'s runs."""
    s = np.arange(first.size, dtype=np.int64)
    w = width.astype(np.int64)
    start = s * n_bins + first  # flat index of each run's first bin
    base = np.repeat(start - (np.cumsum(w) - w), w)
    dense = np.zeros(first.size * n_bins, dtype=np.int64)
    dense[base + np.arange(int(w.sum()))] = counts
    return dense


def compute_chunk_summary(job: _Job, blocks: range) -> ChunkSummary:
    """Simulate blocks ``blocks`` of ``job`` and reduce them (pure; runs in any process)."""
    if job.method != "histogram":
        raise ParameterError("a streaming chunk needs percentile_method='histogram'")
    w0, c0 = time.perf_counter(), time.thread_time()
    parts = [_simulate_block(job, blocks[0])]
    dense, lo, hi = parts[0].counts, parts[0].lo, parts[0].hi
    assert dense is not None  # the histogram method always counts
    parts[0].counts = None
    for b in blocks[1:]:
        p = _simulate_block(job, b)
        assert p.counts is not None
        dense += p.counts
        np.minimum(lo, p.lo, out=lo)
        np.maximum(hi, p.hi, out=hi)
        p.counts = None  # NOTE: only the running sum is kept, not one count array per block
        parts.append(p)
    first, width, counts = _compact(dense, lo.size)

    def cat(items: list[Any]) -> Any:
        return items[0] if len(items) == 1 else np.concatenate(items)

    head = parts[0]
    return ChunkSummary(
        start=head.start,
        stop=parts[-1].stop,
        summaries={
            a: {k: cat([p.summaries[a][k] for p in parts]) for k in d}
            for a, d in head.summaries.items()
        },
        attainment={
            k: (cat([p.attainment[k][0] for p in parts]), cat([p.attainment[k][1] for p in parts]))
            for k in head.attainment
        },
        covariates={k: cat([p.covariates[k] for p in parts]) for k in head.covariates},
        reasons={k: v for p in parts for k, v in p.reasons.items()},
        lo=lo,
        hi=hi,
        first=first,
        width=width,
        counts=counts,
        compute_s=time.perf_counter() - w0,
        cpu_s=time.thread_time() - c0,
    )


class StreamMerger:
    """Adds :class:`ChunkSummary` parts in any order; :meth:`result` gives the population."""

    def __init__(self, job: _Job, percentiles: Sequence[float], timings: StreamTimings) -> None:
        self.job, self.timings = job, timings
        self._acc = _Accumulator(job, tuple(float(x) for x in percentiles))
        self._bins = get_histogram_grid(job.rel_error)[2] + 2  # with under- and overflow

    def add(self, part: ChunkSummary) -> None:
        t0 = time.perf_counter()
        dense = _expand(part.first, part.width, part.counts, self._bins)
        p = _Partial(part.start, part.stop, part.summaries, dense, part.lo, part.hi, None,
                     part.attainment, part.covariates, part.reasons)  # fmt: skip
        self._acc.add(p)
        tm = self.timings
        tm.chunks += 1
        tm.compute_s += part.compute_s
        tm.cpu_s += part.cpu_s
        tm.chunk_bytes += part.nbytes
        tm.per_chunk_s.append(part.compute_s)
        tm.merge_s += time.perf_counter() - t0

    def result(self) -> PopulationResult:
        t0 = time.perf_counter()
        res = self._acc.result()
        self.timings.final_s += time.perf_counter() - t0
        return res


def prepare_stream(
    spec: ModelSpec,
    regimen: Regimen,
    times_h: FloatArray,
    n: int,
    chunk_size: int | None = None,
    *,
    rng: np.random.Generator | None = None,
    seed: int | None = None,
    covariates: CovariateInput | None = None,
    params: Mapping[str, Any] | None = None,
    omega: npt.ArrayLike | None = None,
    residual: bool = False,
    percentiles: Sequence[float] = (5.0, 50.0, 95.0),
    percentile_rel_error: float = 0.01,
    targets: Sequence[Target] = (),
    summary_method: str = "exact",
) -> tuple[_Job, list[range]]:
    """Validate once and cut into chunks of whole blocks: (job, block ranges per chunk).

    Arguments as for :func:`simulate_population_streaming`.
    """
    job = _prepare(
        spec, regimen, times_h, n, rng=rng, seed=seed, covariates=covariates, params=params,
        omega=omega, residual=residual, percentiles=percentiles, percentile_method="histogram",
        percentile_rel_error=percentile_rel_error, exact_max_bytes=0.0, targets=targets,
        summary_method=summary_method,
    )  # fmt: skip
    return job, list(_block_chunks(n, chunk_size))


def _in_order(job: _Job, chunks: Sequence[range], workers: int) -> Iterator[ChunkSummary]:
    if workers <= 1 or len(chunks) <= 1:
        for c in chunks:
            yield compute_chunk_summary(job, c)
        return
    from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

    # NOTE: one BLAS/OpenMP thread per ketasim thread (no oversubscription of the cores);
    # map keeps at most a few chunks alive beyond the running ones
    with threadpool_limits(1), ThreadPoolExecutor(max_workers=workers) as pool:
        yield from pool.map(lambda c: compute_chunk_summary(job, c), chunks)


def merge_stream(
    job: _Job,
    parts: Iterable[ChunkSummary],
    percentiles: Sequence[float],
    timings: StreamTimings,
    *,
    progress: bool = False,
    on_part: Callable[[ChunkSummary], None] | None = None,
) -> PopulationResult:
    """Merge chunk results as they arrive into the population result."""
    merger = StreamMerger(job, percentiles, timings)
    with tqdm(
        total=job.n, unit="subject", delay=0.5, disable=not progress, desc=job.spec.id
    ) as bar:
        for part in parts:
            merger.add(part)
            bar.update(part.stop - part.start)
            if on_part is not None:
                on_part(part)
    return merger.result()


def simulate_population_streaming(
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
    percentile_rel_error: float = 0.01,
    targets: Sequence[Target] = (),
    progress: bool = False,
    summary_method: Literal["exact", "grid", "observed"] = "exact",
    timings: StreamTimings | None = None,
) -> PopulationResult:
    """:func:`~ketasim.population.simulate_population` for very many subjects, in bounded memory.

    Parameters
    ----------
    spec, regimen, times_h, n, rng, seed, covariates, params, omega, residual, percentiles,
    percentile_rel_error, targets, progress, summary_method
        As for :func:`~ketasim.population.simulate_population` (same meaning, same units);
        percentiles are always by histogram (module docstring: method and error bound).
    chunk_size : int, optional
        Subjects per chunk, rounded up to a multiple of ``BLOCK_SIZE`` (default 16 blocks);
        never changes the numbers.
    workers : int
        Threads over chunks.
    timings : StreamTimings, optional
        Filled with where the time went (s).

    Returns
    -------
    PopulationResult
        Equal to the last bit to ``simulate_population(..., percentile_method="histogram")``
        and to :func:`ketasim.distributed.simulate_population_dask` with the same seed.

    Examples
    --------
    >>> from ketasim.library import load_model
    >>> r = simulate_population_streaming(
    ...     load_model("herd_2007"), Regimen.from_quantities("1 mg/kg", duration="10 min"),
    ...     np.linspace(0, 4, 41), 300, seed=1, covariates={"WT": 30.0}, summary_method="grid")
    >>> r.percentile_method, r.summaries["ketamine"]["cmax_mg_per_L"].shape
    ('histogram', (300,))
    """
    tm = timings if timings is not None else StreamTimings()
    t0 = time.perf_counter()
    job, chunks = prepare_stream(
        spec, regimen, times_h, n, chunk_size, rng=rng, seed=seed, covariates=covariates,
        params=params, omega=omega, residual=residual, percentiles=percentiles,
        percentile_rel_error=percentile_rel_error, targets=targets, summary_method=summary_method,
    )  # fmt: skip
    res = merge_stream(job, _in_order(job, chunks, workers), percentiles, tm, progress=progress)
    tm.total_s += time.perf_counter() - t0
    return res
