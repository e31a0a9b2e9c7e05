"""The research-only notice and the intended-use text, shown wherever results are seen.

Lower layers import this module (never the package root) so that every output can carry it.
"""

from __future__ import annotations

__all__ = ["DISCLAIMER", "INTENDED_USE"]

DISCLAIMER = (
    "ketasim is for research and education only: it is not a medical device and its output is "
    "not a prescription or dosing advice."
)

INTENDED_USE = (
    "ketasim simulates published population pharmacokinetic and pharmacodynamic models of "
    "ketamine, esketamine and their metabolites for research and teaching. It does not control "
    "pumps, does not recommend doses and states nothing about safety beyond its cited sources."
)
