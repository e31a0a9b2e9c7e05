"""Dosing and observation events: NONMEM records (:mod:`.records`) and people-facing regimens
(:mod:`.regimen`). File formats live in :mod:`ketasim.io`."""

from ketasim.events.records import STANDARD_COLUMNS, Dataset
from ketasim.events.regimen import Dose, Regimen

__all__ = [
    "STANDARD_COLUMNS",
    "Dataset",
    "Dose",
    "Regimen",
]
