"""Named event order (ketasim.events.order) as used by the compiled schedule."""

from __future__ import annotations

import numpy as np

from ketasim.events.order import (
    INFUSION_END,
    NONEVENT_DOSE,
    POST_DOSE,
    PRE_DOSE,
    EventKind,
    Step,
    get_output_orders,
    get_record_order,
    is_dose,
    is_infusion,
    is_reset,
    is_ss,
)
from ketasim.solver.schedule import RecordTemplate, compile_schedule


def test_bands_are_ordered_as_nonmem_processes_them() -> None:
    rec = get_record_order(np.arange(1000), Step.RESET)
    assert PRE_DOSE < NONEVENT_DOSE < rec.min()
    assert get_output_orders(1000).max() < INFUSION_END < POST_DOSE
    steps = [int(get_record_order(7, s)) for s in Step]
    assert steps == sorted(steps)
    assert int(get_record_order(7, Step.OUTPUT)) < int(get_record_order(8, Step.RESET))


def test_compiled_events_carry_their_kind() -> None:
    # record 0: SS=1 infusion every 12 h (with one ADDL); record 1: EVID 3 reset
    tpl = RecordTemplate(
        time=np.array([0.0, 30.0]),
        evid=np.array([1, 3]),
        cmt=np.array([0, 0]),
        amt=np.array([[10.0, 0.0]]),
        rate=np.array([[5.0, 0.0]]),
        ii=np.array([12.0, 0.0]),
        addl=np.array([1, 0]),
        ss=np.array([1, 0]),
        f=np.ones((1, 2)),
        lag=np.zeros((1, 2)),
        mrate=np.full((1, 2), np.nan),
        mdur=np.full((1, 2), np.nan),
        epoch=np.zeros(2, dtype=np.int64),
        record_numbers=np.array([1, 2]),
    )
    s = compile_schedule(tpl, 1)
    kind = s.kind[0]
    assert np.count_nonzero(is_ss(kind)) == 1
    assert np.count_nonzero(is_reset(kind)) == 2  # SS=1 and EVID 3
    starts = (kind & EventKind.INFUSION_START) != 0
    assert np.count_nonzero(starts) == 2 and np.all(is_dose(kind)[starts])
    assert np.count_nonzero(is_infusion(kind)) == 4  # two starts, two ends
    np.testing.assert_array_equal(s.rate_cmt[0] >= 0, is_infusion(kind))
    np.testing.assert_array_equal(s.reset[0], is_reset(kind))
    # the ADDL infusion enters before the records at its time; the ends come after them
    assert np.all(s.order[0][(s.time[0] == 12.0) & starts] == NONEVENT_DOSE)
    assert np.all(s.order[0][(kind & EventKind.INFUSION_END) != 0] == INFUSION_END)
