"""Cross-check: ketasim against opentiva's own output for the models both ship.

The reference values in ``tests/validation/data/opentiva_reference.json`` were produced by
``bench/opentiva_reference.py`` running opentiva 1.1.2 itself (Python 3.10 venv; opentiva does
not build on 3.11). This script re-simulates every case with ketasim (typical values, the same
infusions) and prints ``name: value`` lines: the largest relative difference per model and
overall. Both sides are exact (sums of exponentials vs matrix exponential), so the differences
should be at round-off level (opentiva returns full doubles, that is its printed precision).

Run: ``PYTHONPATH=src python bench/crosscheck_opentiva.py``
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from ketasim.events import Dose, Regimen
from ketasim.library import load_model
from ketasim.simulate import simulate
from ketasim.units import convert_magnitude

DATA = Path(__file__).resolve().parents[1] / "tests" / "validation" / "data"


def load_reference() -> dict[str, Any]:
    """The committed opentiva reference file."""
    with open(DATA / "opentiva_reference.json", encoding="utf-8") as fh:
        out: dict[str, Any] = json.load(fh)
    return out


def simulate_case(case: dict[str, Any]) -> np.ndarray:
    """ketasim plasma concentrations (mg/L) of one reference case at its times."""
    spec = load_model(case["model"])
    doses = tuple(
        Dose(
            amt=inf["amount_mg"],
            time_h=convert_magnitude(inf["start_s"], "s", "h"),
            route="iv",
            tinf_h=convert_magnitude(inf["duration_s"], "s", "h"),
        )
        for inf in case["infusions"]
    )
    times_h = np.array([convert_magnitude(t, "s", "h") for t in case["times_s"]])
    res = simulate(spec, Regimen(doses), times_h, covariates={"WT": case["weight_kg"]})
    return np.asarray(res.get_conc("ketamine", "mg/L")[0], dtype=float)


def main() -> None:
    ref = load_reference()
    worst: dict[str, float] = {}
    for case in ref["cases"]:
        got = simulate_case(case)
        want = np.asarray(case["conc_mg_per_L"], dtype=float)
        rel = float(np.max(np.abs(got - want) / np.abs(want)))
        worst[case["model"]] = max(worst.get(case["model"], 0.0), rel)
    print(f"opentiva_version: {ref['opentiva_version']}")
    print(f"cases: {len(ref['cases'])}")
    for mid, rel in sorted(worst.items()):
        print(f"max_rel_diff_{mid}: {rel:.3e}")
    print(f"max_rel_diff_all: {max(worst.values()):.3e}")


if __name__ == "__main__":
    main()
