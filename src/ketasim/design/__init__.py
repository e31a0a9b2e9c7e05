"""Dose finding across a virtual population: attainment curves of exposure goals.

Owns goals (:mod:`.goals`), exact per-subject exposure from the solution (:mod:`.exact`), the
virtual patients of a seed (:mod:`.sampling`) and the search over doses, rates, durations or
intervals (:mod:`.search`). Results read "the regimen that reaches X in Y % of simulated
patients", never "the recommended dose". Research and education only.
"""

from ketasim.design.exact import Profiles, compute_profiles, compute_time_above
from ketasim.design.goals import Goal, parse_goal
from ketasim.design.sampling import VirtualPatients, sample_virtual_patients
from ketasim.design.search import VARY, DesignResult, DesignSpace, find_regimen, parse_range

__all__ = [
    "VARY",
    "DesignResult",
    "DesignSpace",
    "Goal",
    "Profiles",
    "VirtualPatients",
    "compute_profiles",
    "compute_time_above",
    "find_regimen",
    "parse_goal",
    "parse_range",
    "sample_virtual_patients",
]
