"""Unit tests for ketasim.distributed: Dask runs equal in-process runs to the last bit."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from dask.distributed import Client, LocalCluster

from ketasim.distributed import simulate_population_dask
from ketasim.errors import KetasimError
from ketasim.events import Regimen
from ketasim.library import load_model
from ketasim.population import BLOCK_SIZE, Target, TruncatedNormal, simulate_population

pytestmark = pytest.mark.slow

MODEL = load_model("herd_2007")
REGIMEN = Regimen.from_quantities("1 mg/kg", duration="10 min", every="6 h", count=3)
TIMES_H = np.linspace(0.0, 24.0, 241)
KW: dict[str, Any] = {
    "seed": 2024,
    "covariates": {"WT": TruncatedNormal(30.0, 8.0, 11.0, 74.0)},
    "residual": False,
    "targets": [Target("anaesthesia", "ketamine", above_mg_per_L=0.6, min_duration_h=0.25)],
    "progress": False,
}


@pytest.fixture(scope="module")
def client() -> Iterator[Client]:
    with (
        LocalCluster(
            n_workers=2, processes=True, threads_per_worker=1, dashboard_address=":0"
        ) as cl,
        Client(cl) as c,
    ):
        yield c


def _assert_identical(a: Any, b: Any) -> None:
    assert a.seed == b.seed and a.percentile_method == b.percentile_method
    for an in a.summaries:
        for k, v in a.summaries[an].items():
            np.testing.assert_array_equal(v, b.summaries[an][k], err_msg=f"{an}/{k}")
        np.testing.assert_array_equal(a.percentile_curves[an], b.percentile_curves[an])
    for k in a.covariates:
        np.testing.assert_array_equal(a.covariates[k], b.covariates[k])
    for k in a.attainment:
        np.testing.assert_array_equal(a.attainment[k].attained, b.attainment[k].attained)
        np.testing.assert_array_equal(a.attainment[k].time_above_h, b.attainment[k].time_above_h)


@pytest.mark.parametrize("method", ["exact", "histogram"])
def test_dask_two_workers_bit_identical_to_in_process(client: Client, method: str) -> None:
    n = 3 * BLOCK_SIZE + 100
    ref = simulate_population(MODEL, REGIMEN, TIMES_H, n, percentile_method=method, **KW)
    got = simulate_population_dask(
        MODEL,
        REGIMEN,
        TIMES_H,
        n,
        client=client,
        chunk_size=BLOCK_SIZE,
        percentile_method=method,
        **KW,
    )
    _assert_identical(ref, got)


def test_dask_killed_worker_is_survived_with_identical_results(client: Client) -> None:
    n = 8 * BLOCK_SIZE
    kw = KW
    ref = simulate_population(MODEL, REGIMEN, TIMES_H, n, percentile_method="exact", **kw)
    killed: list[int] = []

    def kill_busiest_worker(_: int) -> None:
        if killed:
            return
        pids = client.run(os.getpid)
        held = {
            w: len(client.processing().get(w, ())) + len(client.has_what().get(w, ())) for w in pids
        }
        worker = max(held, key=lambda w: held[w])
        assert held[worker] > 0, "nothing left to lose: the test would prove nothing"
        os.kill(pids[worker], signal.SIGKILL)  # the nanny restarts it; Dask recomputes its tasks
        killed.append(pids[worker])

    got = simulate_population_dask(
        MODEL,
        REGIMEN,
        TIMES_H,
        n,
        client=client,
        chunk_size=BLOCK_SIZE,
        percentile_method="exact",
        on_chunk_done=kill_busiest_worker,
        **kw,
    )
    assert killed
    _assert_identical(ref, got)


def test_unreachable_scheduler_raises_within_timeout() -> None:
    with pytest.raises(KetasimError, match=r"tcp://127.0.0.1:1 did not answer within 2 s"):
        simulate_population_dask(
            MODEL, REGIMEN, TIMES_H, 10, scheduler="tcp://127.0.0.1:1", timeout_s=2.0, **KW
        )


def test_dask_streaming_chunks_equal_in_process_streaming_with_other_chunks(
    client: Client,
) -> None:
    from ketasim.population.streaming import StreamTimings, simulate_population_streaming

    n = 4 * BLOCK_SIZE + 3
    kw = {**KW, "summary_method": "grid"}
    ref = simulate_population_streaming(
        MODEL, REGIMEN, TIMES_H, n, chunk_size=BLOCK_SIZE, workers=2, **kw
    )
    tm = StreamTimings()
    got = simulate_population_dask(
        MODEL, REGIMEN, TIMES_H, n, client=client, chunk_size=3 * BLOCK_SIZE,
        percentile_method="histogram", timings=tm, **kw,
    )  # fmt: skip
    _assert_identical(ref, got)
    assert tm.chunks == 2 and tm.compute_s > 0 and tm.transfer_s > 0 and tm.chunk_bytes > 0
