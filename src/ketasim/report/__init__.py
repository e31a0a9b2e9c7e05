"""Comparisons of regimens and their reports (HTML with provenance, PNG figures, CSV tables).

:mod:`.comparison` runs a :class:`~ketasim.scenario.Scenario` through the public API (the numbers
the app, ``ketasim run`` and reports share); :mod:`.figures` draws them; :mod:`.html` writes the
self-contained HTML report; :mod:`.tables` the CSV. Nothing here computes pharmacokinetics.
"""

from ketasim.report.comparison import (
    MAX_POPULATION_N,
    AnalyteSummary,
    Arm,
    Comparison,
    InteractionRow,
    compute_comparison,
    compute_population_bands,
    get_conc_factor,
    get_default_zone,
    get_matching_models,
)

__all__ = [
    "MAX_POPULATION_N",
    "AnalyteSummary",
    "Arm",
    "Comparison",
    "InteractionRow",
    "compute_comparison",
    "compute_population_bands",
    "get_conc_factor",
    "get_default_zone",
    "get_matching_models",
]
