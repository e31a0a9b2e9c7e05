"""Unit tests for ketasim.population.streaming: compact chunks merge to the in-process numbers."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from ketasim.errors import ParameterError
from ketasim.events import Regimen
from ketasim.library import load_model
from ketasim.population import BLOCK_SIZE, Target, TruncatedNormal, simulate_population
from ketasim.population.quantiles import get_histogram_grid
from ketasim.population.streaming import (
    StreamTimings,
    _compact,
    _expand,
    compute_chunk_summary,
    prepare_stream,
    simulate_population_streaming,
)

MODEL = load_model("herd_2007")
REGIMEN = Regimen.from_quantities("1 mg/kg", duration="10 min", every="6 h", count=2)
TIMES_H = np.linspace(0.0, 12.0, 61)
KW: dict[str, Any] = {
    "seed": 77,
    "covariates": {"WT": TruncatedNormal(30.0, 8.0, 11.0, 74.0)},
    "targets": [Target("above", "ketamine", above_mg_per_L=0.6, min_duration_h=0.25)],
    "summary_method": "grid",
}


def _assert_identical(a: Any, b: Any) -> None:
    assert (a.seed, a.n, a.percentile_method) == (b.seed, b.n, b.percentile_method)
    for an in a.summaries:
        for k, v in a.summaries[an].items():
            np.testing.assert_array_equal(v, b.summaries[an][k], err_msg=f"{an}/{k}")
        np.testing.assert_array_equal(a.percentile_curves[an], b.percentile_curves[an])
    for k in a.covariates:
        np.testing.assert_array_equal(a.covariates[k], b.covariates[k])
    for k in a.attainment:
        np.testing.assert_array_equal(a.attainment[k].attained, b.attainment[k].attained)
        np.testing.assert_array_equal(a.attainment[k].time_above_h, b.attainment[k].time_above_h)


def test_compact_then_expand_restores_counts_exactly() -> None:
    rng = np.random.default_rng(3)
    n_series, n_bins = 7, 50
    dense = np.zeros((n_series, n_bins), dtype=np.int64)
    for s in range(n_series - 1):  # the last series stays empty
        a = int(rng.integers(0, n_bins - 5))
        dense[s, a : a + int(rng.integers(1, 5))] = rng.integers(0, 9, size=1)[0] + 1
        dense[s, int(rng.integers(0, n_bins))] += 3
    first, width, counts = _compact(dense.ravel(), n_series)
    assert counts.dtype == np.int32 and width[-1] == 0
    assert counts.size == int(width.sum()) < dense.size
    np.testing.assert_array_equal(_expand(first, width, counts, n_bins), dense.ravel())


@pytest.mark.parametrize(("chunk_size", "workers"), [(BLOCK_SIZE, 1), (3 * BLOCK_SIZE, 2)])
def test_streaming_equals_in_process_histogram_run(chunk_size: int, workers: int) -> None:
    n = 4 * BLOCK_SIZE + 37
    ref = simulate_population(MODEL, REGIMEN, TIMES_H, n, percentile_method="histogram", **KW)
    got = simulate_population_streaming(
        MODEL, REGIMEN, TIMES_H, n, chunk_size=chunk_size, workers=workers, **KW
    )
    _assert_identical(ref, got)


def test_streaming_merge_order_does_not_change_the_numbers() -> None:
    n = 3 * BLOCK_SIZE + 5
    ref = simulate_population_streaming(MODEL, REGIMEN, TIMES_H, n, **KW)
    job, _ = prepare_stream(MODEL, REGIMEN, TIMES_H, n, BLOCK_SIZE, **KW)
    from ketasim.population.streaming import StreamMerger

    merger = StreamMerger(job, (5.0, 50.0, 95.0), StreamTimings())
    for b in (3, 1, 0, 2):  # reversed and shuffled arrival, one block per chunk
        merger.add(compute_chunk_summary(job, range(b, b + 1)))
    _assert_identical(ref, merger.result())


def test_streaming_percentiles_within_the_stated_bound_of_exact() -> None:
    n = 2 * BLOCK_SIZE
    exact = simulate_population(MODEL, REGIMEN, TIMES_H, n, percentile_method="exact", **KW)
    got = simulate_population_streaming(MODEL, REGIMEN, TIMES_H, n, **KW)
    rel = got.percentile_rel_error
    s = 1e-4  # mg/L, the histogram's scale (ketasim.population.quantiles)
    for an, c in exact.percentile_curves.items():
        err = np.abs(got.percentile_curves[an] - c)
        assert np.all(err <= rel * (np.abs(c) + s) * (1 + 1e-9)), an
        assert np.any(err > 0)  # an estimate, not the exact values held


def test_streaming_chunk_is_small_and_timed() -> None:
    n = 2 * BLOCK_SIZE
    tm = StreamTimings()
    simulate_population_streaming(MODEL, REGIMEN, TIMES_H, n, chunk_size=n, timings=tm, **KW)
    dense_bytes = 8 * TIMES_H.size * (get_histogram_grid(0.01)[2] + 2)  # one analyte
    assert tm.chunks == 1 and tm.compute_s > 0 and tm.cpu_s > 0 and tm.total_s >= tm.compute_s
    assert tm.chunk_bytes < dense_bytes / 4


def test_streaming_chunk_refuses_exact_percentiles() -> None:
    job, _ = prepare_stream(MODEL, REGIMEN, TIMES_H, 10, None, **KW)
    from dataclasses import replace

    with pytest.raises(ParameterError, match="histogram"):
        compute_chunk_summary(replace(job, method="exact"), range(1))
