"""Shared test helpers."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ketasim.events import Dataset


def make_dataset(records: Sequence[dict[str, Any]]) -> Dataset:
    """Dataset from a list of record dicts (missing standard columns default as in NONMEM)."""
    cols: dict[str, list[float]] = {}
    names: list[str] = []
    for r in records:
        for k in r:
            if k not in names:
                names.append(k)
    for k in names:
        cols[k] = [float(r.get(k, 0.0)) for r in records]
    cols.setdefault("ID", [1.0] * len(records))
    return Dataset({k: np.asarray(v) for k, v in cols.items()})


def obs(times: Sequence[float], **extra: float) -> list[dict[str, float]]:
    """Observation records at ``times``."""
    return [{"TIME": float(t), "EVID": 0, **extra} for t in times]
