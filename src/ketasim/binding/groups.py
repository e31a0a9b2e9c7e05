"""Engine records per subject (doses, resets, parameter switches, a start), grouped by structure.

Owns the parameter epochs of time-varying values (NOCB or LOCF), the schedule templates shared by
subjects with the same dosing structure, and the dose start times used for time after dose.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from ketasim.binding.doses import Expanded, fmt_id
from ketasim.errors import EventError
from ketasim.events import Dataset
from ketasim.individual import is_modifier
from ketasim.solver import RecordTemplate
from ketasim.spec import ModelSpec

__all__ = ["SubjectGroup", "group_subjects"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class SubjectGroup:
    """Subjects that share one dosing structure, with their template and rate matrices.

    ``subjects`` indexes the dataset's subjects; ``template`` holds per-subject amounts and
    modifiers (rows in the order of ``subjects``); ``K`` has shape (n, P, cmts, cmts), one matrix
    per parameter epoch; ``saturable`` holds per-subject saturable terms (ODE path) or None.
    """

    subjects: npt.NDArray[np.intp]
    template: RecordTemplate
    K: FloatArray
    epoch_params: Mapping[str, FloatArray]  # (n, P) per parameter, for the ODE path


def _epoch_keys(spec: ModelSpec, p: Mapping[str, FloatArray]) -> list[str]:
    """Parameters whose change within a subject needs a new rate matrix."""
    return [k for k in p if not is_modifier(k, spec)]


def group_subjects(
    spec: ModelSpec,
    data: Dataset,
    p: Mapping[str, FloatArray],
    subject: npt.NDArray[np.intp],
    first_row: npt.NDArray[np.intp],
    ex: Expanded,
    fill: str,
    t0: float,
) -> tuple[tuple[SubjectGroup, ...], tuple[FloatArray, IntArray], IntArray]:
    """Engine records per subject (doses, resets, parameter switches), grouped by structure.

    Every step is an array operation over all records; subjects with the same dosing structure
    (times, compartments, repeats, rate codes, epochs) share one template.
    """
    R = len(data)
    N = first_row.size
    time = data["TIME"]
    evid = data["EVID"].astype(np.int64)
    keys = [k for k in p if not is_modifier(k, spec)]
    mat = np.stack([p[k] for k in keys], axis=1) if keys else np.zeros((R, 0))
    same_subject = np.r_[False, subject[1:] == subject[:-1]]
    changed = np.r_[False, np.any(mat[1:] != mat[:-1], axis=1)] & same_subject
    ch = np.flatnonzero(changed)
    if fill == "locf":
        sw_row, sw_pos, sw_src = ch, 2 * ch, ch  # switch at record r, before its dose
    else:
        sw_row, sw_pos, sw_src = ch - 1, 2 * ch - 1, ch  # after record r-1, to the values of r
    n_ex, n_sw = ex.row.size, ch.size
    # NOTE: every subject starts with a no-op engine record at the common start time ``t0``
    # (kind 2), so that no output precedes the first event of its schedule
    e_pos = np.concatenate([2 * ex.row, sw_pos, 2 * first_row - 1]).astype(np.int64)
    e_kind = np.concatenate(
        [np.zeros(n_ex, np.int64), np.ones(n_sw, np.int64), np.full(N, 2, np.int64)]
    )
    e_idx = np.concatenate([np.arange(n_ex), np.arange(n_sw), np.zeros(N)]).astype(np.int64)
    e_row = np.concatenate([ex.row, sw_row, first_row]).astype(np.int64)
    e_src = np.concatenate([ex.row, sw_src, first_row]).astype(np.int64)
    # NOTE: subjects are contiguous in the dataset, so sorting by position sorts by subject too;
    # the stable sort keeps route inputs of one record in input order
    order = np.argsort(e_pos, kind="stable")
    e_pos, e_kind, e_idx, e_row, e_src = (a[order] for a in (e_pos, e_kind, e_idx, e_row, e_src))
    e_subj = subject[e_row]
    starts = np.searchsorted(e_subj, np.arange(N), side="left")
    counts = np.searchsorted(e_subj, np.arange(N), side="right") - starts
    # epochs: each switch opens a new parameter set for its subject
    is_sw = e_kind == 1
    sw_cum = np.cumsum(is_sw)
    before = np.where(starts > 0, sw_cum[np.maximum(starts - 1, 0)], 0)
    epoch = sw_cum - before[e_subj]
    n_sw_subj = np.bincount(e_subj[is_sw], minlength=N) if n_sw else np.zeros(N, np.int64)
    P = int(n_sw_subj.max(initial=0)) + 1
    ep_rows = np.repeat(first_row[:, None], P, axis=1).astype(np.int64)
    if n_sw:
        ep_rows[e_subj[is_sw], epoch[is_sw]] = e_src[is_sw]
        for k in range(1, P):  # pad: the last parameter set stays in force
            short = n_sw_subj < k
            ep_rows[short, k] = ep_rows[short, k - 1]
    # per engine record values
    is_ex = e_kind == 0
    xi = np.where(is_ex, e_idx, 0)
    ex_cmt = ex.cmt[xi] if n_ex else np.zeros(e_row.size, np.int64)
    dose = is_ex & (ex_cmt >= 0)
    reset = is_ex & (ex_cmt < 0)
    ev = np.where(~is_ex, 2, np.where(reset, 3, evid[e_row])).astype(np.int64)
    e_time = np.where(e_kind == 2, t0, time[e_row])

    def pick(a: FloatArray, default: float) -> FloatArray:
        return np.where(dose, a[xi], default) if n_ex else np.full(e_row.size, default)

    vals = {
        "time": e_time,
        "evid": ev,
        "cmt": np.where(dose, ex_cmt, 0).astype(np.int64),
        "ii": np.where(dose, data["II"][e_row], 0.0),
        "addl": np.where(dose, data["ADDL"][e_row], 0.0).astype(np.int64),
        "ss": np.where(dose, data["SS"][e_row], 0.0).astype(np.int64),
        "epoch": epoch.astype(np.int64),
        "amt": pick(ex.amt, 0.0),
        "rate": pick(ex.rate, 0.0),
        "f": pick(ex.f, 1.0),
        "lag": pick(ex.lag, 0.0),
        "mrate": pick(ex.mrate, np.nan),
        "mdur": pick(ex.mdur, np.nan),
        "recno": data.record_numbers[e_row],
    }
    groups: list[SubjectGroup] = []
    for c in np.unique(counts) if N > 1 else counts:
        members = np.flatnonzero(counts == c) if N > 1 else np.zeros(1, dtype=np.intp)
        idx = starts[members][:, None] + np.arange(c)[None, :]  # (n_c, c)
        if members.size == 1:  # one subject: one structure, nothing to compare
            inverse = np.zeros(1, dtype=np.intp)
            groups.extend(
                _groups(spec, data, p, vals, members, idx, inverse, ep_rows, P, first_row)
            )
            continue
        rate = vals["rate"][idx]
        structure = np.concatenate(
            [
                vals["time"][idx],
                vals["evid"][idx],
                vals["cmt"][idx],
                vals["ii"][idx],
                vals["addl"][idx],
                vals["ss"][idx],
                vals["epoch"][idx],
                np.sign(rate),
                np.where(rate < 0, rate, 0.0),
                n_sw_subj[members][:, None],
            ],
            axis=1,
        )
        if np.all(structure == structure[:1]):  # the common case: one regimen for everyone
            inverse = np.zeros(members.size, dtype=np.intp)
        else:
            _, inverse = np.unique(structure, axis=0, return_inverse=True)
        groups.extend(_groups(spec, data, p, vals, members, idx, inverse, ep_rows, P, first_row))
    dose_times = _dose_times(vals, dose, e_subj, N)
    engine_count = (
        np.searchsorted(e_pos, 2 * np.arange(R), side="right") - starts[subject]
    ).astype(np.int64)
    return tuple(groups), dose_times, engine_count


def _groups(
    spec: ModelSpec,
    data: Dataset,
    p: Mapping[str, FloatArray],
    vals: Mapping[str, Any],
    members: npt.NDArray[np.intp],
    idx: npt.NDArray[np.intp],
    inverse: npt.NDArray[np.intp],
    ep_rows: IntArray,
    P: int,
    first_row: npt.NDArray[np.intp],
) -> list[SubjectGroup]:
    """One group per distinct structure among ``members`` (subjects with the same count)."""
    out: list[SubjectGroup] = []
    for g in np.unique(inverse):
        sel = members[inverse.ravel() == g]
        gidx = idx[inverse.ravel() == g]
        ep_p = {k: np.asarray(v)[ep_rows[sel]] for k, v in p.items()}
        K = np.asarray(spec.compute_rate_matrix(ep_p), dtype=float)
        if K.ndim == 2:
            K = np.broadcast_to(K, (sel.size, P, *K.shape)).copy()
        row0 = gidx[0]
        tpl = RecordTemplate(
            time=vals["time"][row0],
            evid=vals["evid"][row0],
            cmt=vals["cmt"][row0],
            amt=vals["amt"][gidx],
            rate=vals["rate"][gidx],
            ii=vals["ii"][row0],
            addl=vals["addl"][row0],
            ss=vals["ss"][row0],
            f=vals["f"][gidx],
            lag=vals["lag"][gidx],
            mrate=vals["mrate"][gidx],
            mdur=vals["mdur"][gidx],
            epoch=vals["epoch"][row0],
            record_numbers=vals["recno"][row0].astype(np.int64),
            subject=fmt_id(data["ID"][first_row[sel[0]]]) if sel.size == 1 else None,
        )
        out.append(SubjectGroup(subjects=sel, template=tpl, K=K, epoch_params=ep_p))
    return out


def _dose_times(
    vals: Mapping[str, Any], dose: npt.NDArray[np.bool_], e_subj: npt.NDArray[np.intp], N: int
) -> tuple[FloatArray, IntArray]:
    """Start times of every dose, sorted per subject (ADDL repeats included), h, for TAD.

    Returns the times and the bounds of each subject's slice (N + 1 values).
    """
    t, ii, addl = vals["time"][dose], vals["ii"][dose], vals["addl"][dose]
    subj = e_subj[dose]
    reps = addl + 1
    if int(reps.sum(initial=0)) > 5_000_000:
        raise EventError(
            f"the dataset expands to {int(reps.sum())} doses (ADDL): more than 5000000 is refused"
        )
    k = np.arange(int(reps.sum(initial=0))) - np.repeat(np.cumsum(reps) - reps, reps)
    starts = np.repeat(t, reps) + k * np.repeat(ii, reps)
    who = np.repeat(subj, reps)
    order = np.lexsort((starts, who))
    starts, who = starts[order], who[order]
    bounds = np.searchsorted(who, np.arange(N + 1))
    return starts, bounds.astype(np.int64)
