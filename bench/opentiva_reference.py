"""Reference concentrations from opentiva itself, for ``bench/crosscheck_opentiva.py``.

Run with a Python that has opentiva 1.1.2 installed (it does not build on Python 3.11; a 3.10
venv works: ``python3.10 -m venv /tmp/ot310 && /tmp/ot310/bin/pip install opentiva==1.1.2``)::

    /tmp/ot310/bin/python bench/opentiva_reference.py tests/validation/data/opentiva_reference.json

It imports nothing from ketasim. For each opentiva ketamine model that ketasim ships (by the
mapping below) and each regimen, it calls opentiva's own ``PkPdModel.calculate_cp`` (analytic
sums of exponentials, integer seconds, constant-rate infusions given as mg per second) and
writes the plasma concentrations (mg/L: opentiva's v1 is in litres) with the opentiva version,
the model class, the subject and the regimen, so the file says how it was produced.
"""

from __future__ import annotations

import json
import platform
import sys
from importlib import metadata

import numpy as np
import opentiva.ketamine as otk
from opentiva.pkpd import PkPdModel

# ketasim model id -> opentiva class name
MODELS = {"domino_1984": "Domino", "herd_2007": "Herd"}

# regimens: list of infusions (start s, amount mg, duration s), and output times (s)
REGIMENS = {
    "35 mg over 10 min": [(0, 35.0, 600)],
    "0.5 mg/kg over 40 min": [(0, "0.5/kg", 2400)],
    "1 mg/kg over 60 s": [(0, "1/kg", 60)],
    "two 20-mg infusions over 5 min, 60 min apart": [(0, 20.0, 300), (3600, 20.0, 300)],
}
TIMES_S = [30, 60, 120, 300, 600, 900, 1800, 2400, 3600, 3900, 5400, 7200, 14400]
SUBJECTS = {"domino_1984": [70.0, 50.0, 100.0], "herd_2007": [20.0, 32.5, 70.0]}


def _amount(spec: float | str, weight: float) -> float:
    if isinstance(spec, str):
        return float(spec.split("/")[0]) * weight
    return spec


def main(path: str) -> None:
    out: dict[str, object] = {
        "produced_by": "bench/opentiva_reference.py calling opentiva.pkpd.PkPdModel.calculate_cp",
        "opentiva_version": metadata.version("opentiva"),
        "python": platform.python_version(),
        "units": {"time": "s", "conc": "mg/L", "weight": "kg"},
        "cases": [],
    }
    cases = out["cases"]
    assert isinstance(cases, list)
    for mid, cls in MODELS.items():
        for wt in SUBJECTS[mid]:
            model = getattr(otk, cls)(0, 40 if wt > 40 else 8, wt, 170 if wt > 40 else 120)
            pk = PkPdModel(model)
            for rname, infusions in REGIMENS.items():
                rows = []
                for start, amt, dur in infusions:
                    mg = _amount(amt, wt)
                    rows.append([start, mg / dur, dur, start + dur])
                arr = np.asarray(rows, dtype=np.float64)
                conc = [float(pk.calculate_cp(arr, t)) for t in TIMES_S]
                cases.append(
                    {
                        "model": mid,
                        "opentiva_class": cls,
                        "weight_kg": wt,
                        "regimen": rname,
                        "infusions": [
                            {"start_s": s, "amount_mg": _amount(a, wt), "duration_s": d}
                            for s, a, d in infusions
                        ],
                        "times_s": TIMES_S,
                        "conc_mg_per_L": conc,
                    }
                )
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(out, fh, indent=1)
        fh.write("\n")
    print(f"wrote {len(cases)} cases to {path}", file=sys.stderr)


if __name__ == "__main__":
    main(sys.argv[1])
