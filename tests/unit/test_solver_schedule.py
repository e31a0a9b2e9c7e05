"""Schedule compilation: the batched compile of many subjects equals one compile per subject."""

from __future__ import annotations

import numpy as np
import pytest

from ketasim.errors import EventError
from ketasim.solver.schedule import (
    RecordTemplate,
    Schedule,
    compile_schedule,
    compile_schedules,
    concat_schedules,
)


def _template(rng: np.random.Generator, kind: int, subject: int) -> RecordTemplate:
    t0 = rng.uniform(0, 2)
    if kind == 0:  # bolus + ADDL + observations
        time = np.array([t0, t0 + 1, t0 + 30])
        evid, amt, rate = [1, 0, 0], [rng.uniform(10, 100), 0, 0], [0, 0, 0]
        ii, addl, ss = [rng.uniform(4, 12), 0, 0], [3, 0, 0], [0, 0, 0]
    elif kind == 1:  # infusion, reset, infusion, steady state
        time = np.array([t0, t0 + 2, t0 + 5, t0 + 8, t0 + 20])
        evid, amt = [1, 0, 4, 1, 0], [50, 0, 20, 30, 0]
        rate, ii, addl = [rng.uniform(5, 20), 0, 10, 0, 0], [0, 0, 0, 6, 0], [0, 0, 0, 0, 0]
        ss = [0, 0, 0, 1, 0]
    else:  # one observation only
        time, evid, amt, rate = np.array([t0]), [0], [0], [0]
        ii, addl, ss = [0], [0], [0]
    n = time.size
    lag = np.where(np.array(evid) > 0, rng.choice([0.0, 0.5]), 0.0)
    return RecordTemplate(
        time=time,
        evid=np.array(evid, dtype=np.int64),
        cmt=np.zeros(n, dtype=np.int64),
        amt=np.array(amt, float)[None],
        rate=np.array(rate, float)[None],
        ii=np.array(ii, float),
        addl=np.array(addl, dtype=np.int64),
        ss=np.array(ss, dtype=np.int64),
        f=rng.uniform(0.5, 1.0, (1, n)),
        lag=lag[None],
        mrate=np.full((1, n), np.nan),
        mdur=np.full((1, n), np.nan),
        epoch=np.zeros(n, dtype=np.int64),
        record_numbers=np.arange(1, n + 1) + 10 * subject,
        subject=subject,
    )


def _assert_same(a: Schedule, b: Schedule) -> None:
    for name in Schedule.__dataclass_fields__:
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)


def test_batched_compile_equals_one_compile_per_subject() -> None:
    rng = np.random.default_rng(5)
    tpls = [_template(rng, int(k), i) for i, k in enumerate(rng.integers(0, 3, 60))]
    _assert_same(compile_schedules(tpls), concat_schedules([compile_schedule(t, 1) for t in tpls]))


def test_batched_compile_error_names_the_subject_and_record() -> None:
    rng = np.random.default_rng(1)
    tpls = [_template(rng, 0, i) for i in range(4)]
    bad = tpls[2]
    tpls[2] = RecordTemplate(**{**bad.__dict__, "f": np.array([[-1.0, 1.0, 1.0]])})
    with pytest.raises(EventError) as exc:
        compile_schedules(tpls)
    assert exc.value.subject == 2
    assert exc.value.record == 21
