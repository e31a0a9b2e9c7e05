"""Compile dosing records into per-subject event arrays (the solver's input).

This module turns a *template* of NONMEM records (shared by a group of subjects) plus per-subject
dose modifiers (bioavailability, lag, modelled rate or duration, amounts) into a
:class:`Schedule`: arrays of shape ``(subjects, events)`` sorted per subject by time, each event
being a bolus, a change of zero-order input rate, a reset, a steady-state setting or a switch of
parameter epoch. Everything here is in plain canonical floats (no units).

Event order at equal times (NONMEM): additional (ADDL) and lagged doses enter before every
record at the same time; then, for record ``r`` of a subject, its reset or parameter switch,
its steady-state setting, its own (unlagged) dose and its output; infusion ends come last (they
change no amount). A reset (EVID 3/4, SS=1) cancels everything scheduled by earlier records that
has not yet happened: infusions in progress, lagged and additional doses.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from ketasim.errors import EventError
from ketasim.events.order import (
    INFUSION_END,
    NONEVENT_DOSE,
    PADDING,
    START,
    EventKind,
    Step,
    get_record_order,
)
from ketasim.events.order import get_output_orders as _get_output_orders

__all__ = [
    "RecordTemplate",
    "Schedule",
    "compile_schedule",
    "compile_schedules",
    "concat_schedules",
    "get_output_interval",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

# SEE: ketasim.events.order for the order of events at equal times (NONMEM) and its sources


@dataclass(frozen=True)
class RecordTemplate:
    """Records shared by a group of subjects; per-subject values broadcast to ``(N, nrec)``.

    Parameters
    ----------
    time : (nrec,) or (N, nrec) float, model time unit
    evid : (nrec,) int
    cmt : (nrec,) int, 0-based compartment of each dose
    amt : (N|1, nrec) float, amount
    rate : (N|1, nrec) float, NONMEM RATE item (>0, 0, -1, -2)
    ii : (nrec,) or (N, nrec) float
    addl : (nrec,) int
    ss : (nrec,) int
    f, lag, mrate, mdur : (N|1, nrec) float
        Bioavailability, lag time, modelled rate (RATE=-1) and duration (RATE=-2) of each record's
        dose compartment; NaN where the model gives none.
    epoch : (nrec,) int
        Parameter epoch in force from each record on (all 0 when parameters are constant).
    record_numbers : (nrec,) int
        1-based record numbers for messages; ``subject`` names the group in messages.
    """

    time: FloatArray
    evid: IntArray
    cmt: IntArray
    amt: FloatArray
    rate: FloatArray
    ii: FloatArray
    addl: IntArray
    ss: IntArray
    f: FloatArray
    lag: FloatArray
    mrate: FloatArray
    mdur: FloatArray
    epoch: IntArray
    record_numbers: IntArray
    subject: object = None


@dataclass
class Schedule:
    """Per-subject sorted events; every array has shape ``(N, E)``.

    ``bolus_cmt``/``rate_cmt``/``ss_cmt`` are -1 where the event has no such part;
    ``epoch`` is -1 where the event keeps the current parameter epoch; ``kind`` holds
    :class:`ketasim.events.order.EventKind` flags (test them with ``is_dose``, ``is_reset`` ...).
    """

    time: FloatArray
    order: IntArray
    bolus_cmt: IntArray
    bolus_amt: FloatArray
    rate_cmt: IntArray
    rate_delta: FloatArray
    reset: npt.NDArray[np.bool_]
    ss_mode: IntArray
    ss_cmt: IntArray
    ss_amt: FloatArray
    ss_rate: FloatArray
    ss_dur: FloatArray
    ss_ii: FloatArray
    ss_lag: FloatArray
    epoch: IntArray
    kind: IntArray

    @property
    def n_subjects(self) -> int:
        return int(self.time.shape[0])

    @property
    def n_events(self) -> int:
        return int(self.time.shape[1])

    def take(self, rows: npt.NDArray[np.intp] | slice) -> Schedule:
        """Subset of subjects."""
        return Schedule(**{k: getattr(self, k)[rows] for k in _FIELDS})

    def has_uniform_times(self) -> bool:
        """True when every subject has the same event times and order (fast output path)."""
        t, o = self.time, self.order
        return bool(
            np.array_equal(t, np.broadcast_to(t[:1], t.shape), equal_nan=True)
            and np.array_equal(o, np.broadcast_to(o[:1], o.shape))
        )


_FIELDS = (
    "time",
    "order",
    "bolus_cmt",
    "bolus_amt",
    "rate_cmt",
    "rate_delta",
    "reset",
    "ss_mode",
    "ss_cmt",
    "ss_amt",
    "ss_rate",
    "ss_dur",
    "ss_ii",
    "ss_lag",
    "epoch",
    "kind",
)


_DEFAULTS: dict[str, object] = {
    "bolus_cmt": -1,
    "bolus_amt": 0.0,
    "rate_cmt": -1,
    "rate_delta": 0.0,
    "reset": False,
    "ss_mode": 0,
    "ss_cmt": -1,
    "ss_amt": 0.0,
    "ss_rate": 0.0,
    "ss_dur": 0.0,
    "ss_ii": 0.0,
    "ss_lag": 0.0,
    "epoch": -1,
    "kind": 0,
}
_DTYPES: dict[str, type] = {
    "time": float,
    "order": np.int64,
    "origin": np.int64,
    "reset": bool,
    "bolus_amt": float,
    "rate_delta": float,
    "ss_amt": float,
    "ss_rate": float,
    "ss_dur": float,
    "ss_ii": float,
    "ss_lag": float,
}


class _Builder:
    """Collects events (each part a scalar or an (N,) array) before filling the columns.

    NOTE: parts are kept as given and written into preallocated (N, E) columns once at the end
    (a scalar fills its column by broadcasting): a few numpy calls per field instead of one per
    field and event, which is most of the cost of a one-subject solve.
    """

    def __init__(self, n: int):
        self.n = n
        self.events: list[dict[str, object]] = []

    def add(self, *, time: object, order: object, origin: int, **parts: object) -> None:
        self.events.append({"time": time, "order": order, "origin": origin, **parts})

    def build(self) -> tuple[dict[str, npt.NDArray[Any]], IntArray]:
        E = len(self.events)
        out: dict[str, npt.NDArray[Any]] = {}
        for k in (*_FIELDS, "origin"):
            default = _DEFAULTS.get(k, 0)
            col: npt.NDArray[Any] = np.empty((self.n, E), dtype=_DTYPES.get(k, np.int64))
            for e, ev in enumerate(self.events):
                col[:, e] = ev.get(k, default)  # type: ignore[call-overload]
            out[k] = col
        origin = out.pop("origin")
        return out, origin


def compile_schedule(tpl: RecordTemplate, n_subjects: int) -> Schedule:
    """Compile a record template for ``n_subjects`` subjects into a sorted :class:`Schedule`.

    Raises
    ------
    EventError
        Naming the record, for a dose whose modelled rate/duration is missing or not positive,
        a bioavailability that is negative or not finite, a lag that is negative or not below
        the interval of a steady-state dose.
    """
    N = n_subjects
    nrec = int(np.shape(tpl.time)[-1])

    def per(a: FloatArray, r: int) -> FloatArray:
        return np.broadcast_to(np.asarray(a, dtype=float), (N, nrec))[:, r]

    b = _Builder(N)
    # initial no-op event: the state before anything is zero at the first record time
    b.add(
        time=per(tpl.time, 0) if nrec else 0.0,
        order=START,
        origin=-1,
        epoch=int(tpl.epoch[0]) if nrec else 0,
    )
    epochs_vary = bool(nrec and np.any(tpl.epoch != tpl.epoch[0]))
    resets: list[tuple[int, FloatArray, int]] = []  # (record, time per subject, order)
    for r in range(nrec):
        t = per(tpl.time, r)
        ev = int(tpl.evid[r])
        recno = int(tpl.record_numbers[r])

        def err(msg: str, recno: int = recno) -> EventError:
            return EventError(msg, record=recno, subject=tpl.subject)

        is_reset = ev in (3, 4)
        if is_reset or (epochs_vary and (r == 0 or tpl.epoch[r] != tpl.epoch[r - 1])):
            kind = EventKind.RESET if is_reset else EventKind.EPOCH
            o_reset = int(get_record_order(r, Step.RESET))
            b.add(
                time=t, order=o_reset, origin=r, reset=is_reset, epoch=int(tpl.epoch[r]), kind=kind
            )
            if is_reset:
                resets.append((r, t, o_reset))
        if ev not in (1, 4):
            continue
        cmt = int(tpl.cmt[r])
        amt = per(tpl.amt, r)
        rate_item = per(tpl.rate, r)
        f = per(tpl.f, r)
        lag = per(tpl.lag, r)
        if np.any(~np.isfinite(f) | (f < 0)):
            raise err(f"bioavailability F={_first_bad(f)} must be >= 0 and finite")
        if np.any(~np.isfinite(lag) | (lag < 0)):
            raise err(f"lag time {_first_bad(lag)} must be >= 0 and finite")
        ii = per(tpl.ii, r)
        addl = int(tpl.addl[r])
        ss = int(tpl.ss[r])
        if ss > 0 and np.any(ii == 0) and not np.all(ii == 0):
            raise err("SS with II=0 (constant infusion) must be so for all subjects of a record")
        famt = f * amt
        # --- infusion rate and duration, NONMEM rules -----------------------------------------
        rate_code = rate_item[0] if np.all(rate_item == rate_item[0]) else None
        if rate_code is None and np.any(np.isin(rate_item, (-1.0, -2.0))):
            raise err("RATE=-1/-2 must be the same for all subjects of a record")
        if rate_code == -1:
            rate = per(tpl.mrate, r)
            if np.any(~np.isfinite(rate) | (rate <= 0)):
                raise err("RATE=-1 needs a modelled rate parameter R (> 0) for this compartment")
            dur = famt / rate
        elif rate_code == -2:
            dur = per(tpl.mdur, r)
            if np.any(~np.isfinite(dur) | (dur <= 0)):
                raise err(
                    "RATE=-2 needs a modelled duration parameter D (> 0) for this compartment"
                )
            rate = famt / dur
        else:
            rate = rate_item
            with np.errstate(divide="ignore", invalid="ignore"):
                dur = np.where(rate > 0, famt / np.where(rate > 0, rate, 1.0), 0.0)
        infusion = bool(np.any(rate > 0))
        if infusion and not np.all(rate > 0):
            raise err("a record must be an infusion for all subjects or for none")
        ss_const = ss > 0 and bool(np.all(ii == 0))  # AMT=0, RATE>0: constant SS infusion
        # --- steady state ------------------------------------------------------------------
        if ss > 0:
            if not ss_const and np.any(lag >= ii):
                bad = int(np.argmax(lag >= ii))
                raise err(
                    f"lag time {float(lag[bad])} is not shorter than II={float(ii[bad])}: "
                    "steady state with ALAG >= II is not supported"
                )
            o_ss = int(get_record_order(r, Step.STEADY_STATE))
            b.add(
                time=t,
                order=o_ss,
                origin=r,
                kind=EventKind.STEADY_STATE | (EventKind.RESET if ss == 1 else EventKind.NONE),
                reset=(ss == 1),
                ss_mode=ss,
                ss_cmt=cmt,
                ss_amt=np.where(infusion, 0.0, famt),
                ss_rate=np.where(infusion, rate, 0.0),
                ss_dur=np.where(infusion, dur, 0.0),
                ss_ii=ii,
                ss_lag=lag,
            )
            if ss == 1:
                resets.append((r, t, o_ss))
            if ss_const:
                # NONMEM: "the infusion terminates at the event time of the SS dose record"
                continue
            if infusion:
                # infusions of earlier (implied) doses still running at the record time continue
                kmax = int(np.max(np.floor((dur + lag) / ii))) if np.any(dur > 0) else 0
                for k in range(1, kmax + 1):
                    s_k = k * ii - lag
                    running = s_k < dur
                    b.add(
                        time=t,
                        order=int(get_record_order(r, Step.DOSE)),
                        origin=r,
                        kind=EventKind.INFUSION_START,
                        rate_cmt=cmt,
                        rate_delta=np.where(running, rate, 0.0),
                    )
                    b.add(
                        time=np.where(running, t + dur - s_k, np.inf),
                        order=INFUSION_END,
                        origin=r,
                        kind=EventKind.INFUSION_END,
                        rate_cmt=cmt,
                        rate_delta=np.where(running, -rate, 0.0),
                    )
        # --- the dose and its additional doses ----------------------------------------------
        for k in range(addl + 1):
            start = t + k * ii + lag
            own = (k == 0) & (lag == 0)
            order = np.where(own, get_record_order(r, Step.DOSE), NONEVENT_DOSE)
            if infusion:
                b.add(
                    time=start,
                    order=order,
                    origin=r,
                    kind=EventKind.INFUSION_START,
                    rate_cmt=cmt,
                    rate_delta=rate,
                )
                b.add(
                    time=start + dur,
                    order=INFUSION_END,
                    origin=r,
                    kind=EventKind.INFUSION_END,
                    rate_cmt=cmt,
                    rate_delta=-rate,
                )
            else:
                b.add(
                    time=start,
                    order=order,
                    origin=r,
                    kind=EventKind.BOLUS,
                    bolus_cmt=cmt,
                    bolus_amt=famt,
                )
    cols, origin = b.build()
    time, order = cols["time"], cols["order"]
    # --- resets cancel what earlier records scheduled after them ------------------------------
    for rec, t_r, o_r in resets:
        tr = np.asarray(t_r)[:, None]
        later = (time > tr) | ((time == tr) & (order > o_r))
        cancel = (origin >= 0) & (origin < rec) & later
        if np.any(cancel):
            cols["bolus_amt"] = np.where(cancel, 0.0, cols["bolus_amt"])
            cols["rate_delta"] = np.where(cancel, 0.0, cols["rate_delta"])
    perm = np.lexsort((order, time), axis=-1)
    if not np.array_equal(perm, np.broadcast_to(np.arange(perm.shape[1]), perm.shape)):
        cols = {k: np.take_along_axis(v, perm, axis=1) for k, v in cols.items()}
    return Schedule(**cols)  # type: ignore[arg-type]


_PAD: dict[str, object] = {
    "time": np.inf,
    "order": PADDING,
    "bolus_cmt": -1,
    "rate_cmt": -1,
    "ss_cmt": -1,
    "epoch": -1,
}


def concat_schedules(scheds: Sequence[Schedule]) -> Schedule:
    """Stack schedules of different lengths (subjects one after another), padding with events
    at time +inf that change nothing."""
    E = max(sc.n_events for sc in scheds)
    merged: dict[str, npt.NDArray[Any]] = {}
    for name in _FIELDS:
        parts = []
        for sc in scheds:
            a = getattr(sc, name)
            if a.shape[1] < E:
                fill = np.full((a.shape[0], E - a.shape[1]), _PAD.get(name, 0), dtype=a.dtype)
                a = np.concatenate([a, fill], axis=1)
            parts.append(a)
        merged[name] = np.concatenate(parts, axis=0)
    return Schedule(**merged)


def _structure_key(t: RecordTemplate) -> tuple[object, ...]:
    """What must be equal for templates to be compiled together (times and amounts may differ)."""
    rate = np.asarray(t.rate, dtype=float).reshape(-1)
    code = np.where(rate < 0, rate, np.sign(rate))
    ii0 = np.asarray(t.ii, dtype=float).reshape(-1) == 0
    return (
        len(t.time),
        t.evid.tobytes(),
        t.cmt.tobytes(),
        t.addl.tobytes(),
        t.ss.tobytes(),
        t.epoch.tobytes(),
        code.tobytes(),
        ii0.tobytes(),
    )


def compile_schedules(templates: Sequence[RecordTemplate]) -> Schedule:
    """Compile one-subject templates (a dataset's subjects) into one padded :class:`Schedule`.

    Subjects whose records have the same structure (EVID, CMT, ADDL, SS, RATE codes, parameter
    epochs; times, amounts, II and dose modifiers may differ) are compiled in one batched
    call; the groups are then padded to a common length with events at time +inf. Row ``i``
    of the result is ``templates[i]``. Equal to ``concat_schedules([compile_schedule(t, 1)
    for t in templates])``.

    Raises
    ------
    EventError
        As :func:`compile_schedule`, naming the subject and record.
    """
    groups: dict[tuple[object, ...], list[int]] = {}
    for i, t in enumerate(templates):
        groups.setdefault(_structure_key(t), []).append(i)
    parts: list[Schedule] = []
    order: list[int] = []
    for members in groups.values():
        tpls = [templates[i] for i in members]
        if len(tpls) == 1:
            parts.append(compile_schedule(tpls[0], 1))
        else:
            try:
                parts.append(compile_schedule(_stack_templates(tpls), len(tpls)))
            except EventError:
                for t in tpls:  # the same error, naming the subject
                    compile_schedule(t, 1)
                raise
        order.extend(members)
    sched = concat_schedules(parts)
    if order != list(range(len(order))):
        sched = sched.take(np.argsort(np.asarray(order)))
    return sched


def _stack_templates(tpls: Sequence[RecordTemplate]) -> RecordTemplate:
    nrec = int(np.shape(tpls[0].time)[-1])

    def stack(name: str) -> FloatArray:
        rows = [getattr(t, name) for t in tpls]
        try:  # NOTE: one C-level conversion when every row has the same shape (the usual case)
            return np.array(rows, dtype=float).reshape(len(tpls), nrec)
        except ValueError:
            return np.concatenate([np.broadcast_to(np.asarray(r, float), (1, nrec)) for r in rows])

    t0 = tpls[0]
    return RecordTemplate(
        time=stack("time"),
        evid=t0.evid,
        cmt=t0.cmt,
        amt=stack("amt"),
        rate=stack("rate"),
        ii=stack("ii"),
        addl=t0.addl,
        ss=t0.ss,
        f=stack("f"),
        lag=stack("lag"),
        mrate=stack("mrate"),
        mdur=stack("mdur"),
        epoch=t0.epoch,
        record_numbers=t0.record_numbers,
        subject=None,
    )


def _first_bad(a: FloatArray) -> float:
    bad = a[~np.isfinite(a) | (a < 0)]
    return float(bad[0]) if bad.size else float("nan")


def get_output_orders(n_records: int) -> IntArray:
    """Order key of each record's output (after the record's own events); see
    :func:`ketasim.events.order.get_output_orders`."""
    return _get_output_orders(n_records)


def get_output_interval(
    sched: Schedule, out_time: FloatArray, out_order: npt.NDArray[np.int64]
) -> npt.NDArray[np.intp]:
    """Index of the last event preceding each output (-1 when none), shape (N|1, T)."""
    ot = np.atleast_2d(out_time)
    if sched.has_uniform_times() and ot.shape[0] == 1:
        t, o = sched.time[:1], sched.order[:1]
    else:
        t, o = sched.time, sched.order
    count = np.zeros((max(t.shape[0], ot.shape[0]), ot.shape[1]), dtype=np.intp)
    for e in range(t.shape[1]):
        te = t[:, e : e + 1]
        count += (te < ot) | ((te == ot) & (o[:, e : e + 1] < out_order))
    return count - 1
