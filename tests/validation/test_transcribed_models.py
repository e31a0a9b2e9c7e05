"""Transcribed models reproduce the peer implementations they were transcribed from.

opentiva 1.1.2's own output (``tests/validation/data/opentiva_reference.json``, produced by
``bench/opentiva_reference.py`` running opentiva in a Python 3.10 venv) for the same model,
subject and infusions. Tolerance 1e-9 relative: both sides are exact closed forms in double
precision (opentiva: sums of exponentials with cubic-root eigenvalues; ketasim: matrix
exponential), measured agreement is <= 2e-13, so 1e-9 fails on any parameter or unit slip
(the smallest one, rounding k10 to stanpumpR's 0.438, moves concentrations by ~1e-4).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
from crosscheck_opentiva import load_reference, simulate_case

from ketasim.library import load_model

_CASES = load_reference()["cases"]


@pytest.mark.parametrize(
    "case", _CASES, ids=[f"{c['model']}-{c['weight_kg']:g}kg-{c['regimen']}" for c in _CASES]
)
def test_model_matches_opentiva_output(case: dict[str, Any]) -> None:
    got = simulate_case(case)
    want = np.asarray(case["conc_mg_per_L"], dtype=float)
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=0)


def test_domino_is_transcribed_from_two_independent_projects() -> None:
    ev = load_model("domino_1984").evidence
    assert ev is not None and ev.tier == "transcribed"
    assert {i.project for i in ev.implementations} == {"opentiva", "stanpumpR"}


def test_domino_has_no_guessed_ke0() -> None:
    spec = load_model("domino_1984")
    assert not any(c.kind == "effect" for c in spec.compartments)
    assert not any("KE0" in name.upper() for name in spec.get_parameter_names())
