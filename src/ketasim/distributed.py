"""Scale-out of population runs on Dask, with the same numbers as in-process.

Owns connecting to a Dask scheduler (a ``LocalCluster`` started here by default, or any scheduler
address), cutting the subjects into chunks of whole blocks, and merging the chunk results. Each
task is a pure function of (model spec, regimen, times, block range, seed, settings): the random
streams are keyed by block index (:mod:`ketasim.population`), so a result is bit-identical to
:func:`ketasim.population.simulate_population` with the same seed, whatever the number of
workers or chunks, and a task lost with a killed worker is simply recomputed by Dask.

Histogram percentiles (the default beyond ``exact_max_bytes`` of curves, e.g. for a million
subjects) go through :mod:`ketasim.population.streaming`: each task returns a compact
:class:`~ketasim.population.streaming.ChunkSummary` (per-subject summaries and the occupied bins
as int32 runs, a few MB), merged here as it arrives; exact percentiles send the chunk's curves.

It deliberately does not own any sampling or summarising: those live in ``population``.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
from tqdm import tqdm  # type: ignore[import-untyped]

from ketasim.errors import KetasimError
from ketasim.events import Regimen
from ketasim.population.attainment import Target
from ketasim.population.run import (
    BLOCK_SIZE,
    PopulationResult,
    _Accumulator,
    _block_chunks,
    _prepare,
    _simulate_chunk,
)
from ketasim.population.sampling import CovariateInput
from ketasim.population.streaming import StreamMerger, StreamTimings, compute_chunk_summary
from ketasim.spec import ModelSpec

__all__ = ["simulate_population_dask"]

FloatArray = npt.NDArray[np.float64]


def _connect(
    scheduler: str | None, n_workers: int, threads_per_worker: int, timeout_s: float
) -> tuple[Any, Any]:
    """(client, cluster or None); a scheduler that does not answer raises KetasimError."""
    from dask.distributed import Client, LocalCluster

    if scheduler is None:
        cluster = LocalCluster(  # type: ignore[no-untyped-call]
            n_workers=n_workers,
            threads_per_worker=threads_per_worker,
            processes=True,
            dashboard_address=":0",  # NOTE: None means the default :8787, which may be taken
            # NOTE: one numba/BLAS thread per worker thread, so that n_workers processes do not
            # oversubscribe the cores with their own thread pools
            env={
                "NUMBA_NUM_THREADS": str(threads_per_worker),
                "OMP_NUM_THREADS": str(threads_per_worker),
                "OPENBLAS_NUM_THREADS": str(threads_per_worker),
            },
        )
        try:
            return Client(cluster, timeout=timeout_s), cluster  # type: ignore[no-untyped-call]
        except BaseException:
            cluster.close()
            raise
    try:
        return Client(scheduler, timeout=timeout_s), None  # type: ignore[no-untyped-call]
    except (OSError, TimeoutError) as exc:
        raise KetasimError(
            f"Dask scheduler {scheduler} did not answer within {timeout_s:g} s ({exc}); check the "
            "address and that the scheduler runs, or omit it to use a local cluster"
        ) from None


def simulate_population_dask(
    spec: ModelSpec,
    regimen: Regimen,
    times_h: FloatArray,
    n: int,
    *,
    seed: int | None = None,
    rng: np.random.Generator | None = None,
    covariates: CovariateInput | None = None,
    params: Mapping[str, Any] | None = None,
    omega: npt.ArrayLike | None = None,
    chunk_size: int | None = None,
    residual: bool = False,
    percentiles: Sequence[float] = (5.0, 50.0, 95.0),
    percentile_method: Literal["auto", "exact", "histogram"] = "auto",
    percentile_rel_error: float = 0.01,
    exact_max_bytes: float = 256e6,
    targets: Sequence[Target] = (),
    scheduler: str | None = None,
    client: Any = None,
    n_workers: int = 2,
    threads_per_worker: int = 1,
    timeout_s: float = 10.0,
    on_chunk_done: Callable[[int], None] | None = None,
    progress: bool = False,
    summary_method: Literal["exact", "grid", "observed"] = "exact",
    timings: StreamTimings | None = None,
) -> PopulationResult:
    """:func:`~ketasim.population.simulate_population` on a Dask cluster, chunk by chunk.

    Parameters
    ----------
    spec, regimen, times_h, n, seed, rng, covariates, params, omega, residual, percentiles,
    percentile_method, percentile_rel_error, exact_max_bytes, targets, summary_method
        As for :func:`~ketasim.population.simulate_population` (same meaning, same units).
    chunk_size : int, optional
        Subjects per Dask task, rounded up to a multiple of ``BLOCK_SIZE`` (default 16 blocks).
    scheduler : str, optional
        Address of a running scheduler (``tcp://host:8786``); a LocalCluster of ``n_workers``
        processes with ``threads_per_worker`` threads is started (and closed) when omitted.
    client : dask.distributed.Client, optional
        Use this client (not closed here); overrides ``scheduler``.
    timeout_s : float, s
        Connection timeout: a scheduler that does not answer raises within about this time.
    on_chunk_done : callable, optional
        Called with the chunk index each time a chunk's result arrives (in this process).
    progress : bool
        A progress bar on stderr for runs longer than half a second.
    timings : StreamTimings, optional
        Filled with where the time went, s (histogram percentiles only; ``transfer_s`` is the
        time spent fetching finished chunks from the workers).

    Returns
    -------
    PopulationResult
        Bit-identical to the in-process result for the same seed.

    Raises
    ------
    KetasimError
        When the scheduler does not answer within ``timeout_s``.

    Notes
    -----
    Tasks carry the model spec and their own slice of per-subject inputs; the computation itself
    has no time limit. A worker lost mid-run (killed, out of memory) is handled by Dask, which
    recomputes its tasks elsewhere (up to ``distributed.scheduler.allowed-failures`` times).
    """
    from dask.distributed import as_completed

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
    q = tuple(float(x) for x in percentiles)
    stream = job.method == "histogram"
    tm = timings if timings is not None else StreamTimings()
    merger = StreamMerger(job, q, tm) if stream else None
    acc = None if stream else _Accumulator(job, q)
    task: Callable[..., Any] = compute_chunk_summary if stream else _simulate_chunk
    chunks = list(_block_chunks(n, chunk_size))
    t_start = time.perf_counter()
    cluster = None
    own = client is None
    if own:
        client, cluster = _connect(scheduler, n_workers, threads_per_worker, timeout_s)
    token = uuid.uuid4().hex
    try:
        futures = []
        index: dict[str, int] = {}
        for i, blocks in enumerate(chunks):
            start, stop = blocks[0] * BLOCK_SIZE, min(n, (blocks[-1] + 1) * BLOCK_SIZE)
            key = f"ketasim-population-{token}-{i}"
            futures.append(
                client.submit(task, job.with_range(start, stop), blocks, key=key, pure=False)
            )
            index[key] = i
        with tqdm(total=n, unit="subject", delay=0.5, disable=not progress, desc=spec.id) as bar:
            for fut in as_completed(futures):  # type: ignore[no-untyped-call]
                t0 = time.perf_counter()
                part = fut.result()
                tm.transfer_s += time.perf_counter() - t0
                if merger is not None:
                    merger.add(part)
                else:
                    assert acc is not None
                    acc.add(part)
                bar.update(part.stop - part.start)
                if on_chunk_done is not None:
                    on_chunk_done(index[fut.key])
                fut.release()
    finally:
        if own:
            client.close()
            if cluster is not None:
                cluster.close()
    if merger is not None:
        res = merger.result()
    else:
        assert acc is not None
        res = acc.result()
    tm.total_s += time.perf_counter() - t_start
    return res
