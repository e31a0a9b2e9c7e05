"""Named event semantics: what an event is, and where it falls among events at the same time.

Owns the order of events at equal times (NONMEM, PREDPP) and the kinds of compiled events, as
names instead of magic integers. It computes no amounts and knows no arrays of records (that is
:mod:`ketasim.solver.schedule`).

Order at one time, first to last:

1. ``PRE_DOSE`` outputs (the value just before anything happens at that time);
2. ``NONEVENT_DOSE``: additional (ADDL) and lagged doses, which enter before every record at the
   same time (their times are "nonevent dose times", NONMEM Users Guide VI, sections III.B,
   III.F.6, V.K; NONMEM 7 tables in mrgsolve/nmtests dosing scenarios 17 and 23);
3. ``START``: the solver's initial no-op event;
4. per record, in data order, its :class:`Step` s: ``RESET`` (EVID 3/4, or a change of
   time-varying parameters), ``STEADY_STATE``, ``DOSE`` (its own, unlagged dose), ``OUTPUT``;
5. ``INFUSION_END`` (changes no amount, so it may come after every record);
6. ``POST_DOSE`` outputs (after everything: regimen outputs at a dose time are post-dose);
7. ``PADDING``: events at +inf that fill ragged schedules.

Keys are int64 so whole schedules sort with one ``lexsort``; the bands are separated by 2^40,
room for 2^38 records.
"""

from __future__ import annotations

from enum import IntEnum, IntFlag

import numpy as np
import numpy.typing as npt

__all__ = [
    "INFUSION_END",
    "NONEVENT_DOSE",
    "PADDING",
    "POST_DOSE",
    "PRE_DOSE",
    "START",
    "EventKind",
    "Step",
    "get_output_orders",
    "get_record_order",
    "is_dose",
    "is_infusion",
    "is_reset",
    "is_ss",
]

IntArray = npt.NDArray[np.int64]

PRE_DOSE = -(1 << 42)
NONEVENT_DOSE = -(1 << 40)
START = -1
INFUSION_END = 1 << 40
POST_DOSE = 1 << 41
PADDING = int(np.iinfo(np.int64).max)


class Step(IntEnum):
    """What happens for one record, in this order."""

    RESET = 0
    STEADY_STATE = 1
    DOSE = 2
    OUTPUT = 3


def get_record_order(record: int | npt.ArrayLike, step: Step) -> IntArray:
    """Order key of ``step`` of record(s) ``record`` (0-based, data order).

    Examples
    --------
    >>> int(get_record_order(2, Step.OUTPUT)) > int(get_record_order(2, Step.DOSE))
    True
    >>> int(get_record_order(0, Step.RESET)) > NONEVENT_DOSE
    True
    """
    return np.asarray(4 * np.asarray(record, dtype=np.int64) + int(step), dtype=np.int64)


def get_output_orders(n_records: int) -> IntArray:
    """Order key of each record's output row (after the record's own events)."""
    return get_record_order(np.arange(n_records), Step.OUTPUT)


class EventKind(IntFlag):
    """What a compiled event does (several at once possible)."""

    NONE = 0
    BOLUS = 1
    INFUSION_START = 2
    INFUSION_END = 4
    RESET = 8
    STEADY_STATE = 16
    EPOCH = 32  # a change of time-varying parameters


def _has(kind: npt.ArrayLike, flag: EventKind) -> npt.NDArray[np.bool_]:
    return np.asarray((np.asarray(kind, dtype=np.int64) & int(flag)) != 0)


def is_dose(kind: npt.ArrayLike) -> npt.NDArray[np.bool_]:
    """Bolus or start of an infusion (a steady-state setting is not a dose event)."""
    return _has(kind, EventKind.BOLUS | EventKind.INFUSION_START)


def is_infusion(kind: npt.ArrayLike) -> npt.NDArray[np.bool_]:
    """Start or end of a zero-order input."""
    return _has(kind, EventKind.INFUSION_START | EventKind.INFUSION_END)


def is_ss(kind: npt.ArrayLike) -> npt.NDArray[np.bool_]:
    """A steady-state setting (SS=1 or 2)."""
    return _has(kind, EventKind.STEADY_STATE)


def is_reset(kind: npt.ArrayLike) -> npt.NDArray[np.bool_]:
    """Every amount to 0 and running inputs stopped (EVID 3/4, SS=1).

    Examples
    --------
    >>> is_reset([EventKind.RESET | EventKind.STEADY_STATE, EventKind.BOLUS]).tolist()
    [True, False]
    """
    return _has(kind, EventKind.RESET)
