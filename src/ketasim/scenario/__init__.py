"""Scenario files: a patient, up to four regimens (each on a model), a grid and a seed, as TOML.

Owns the strict schema of a scenario (every key known, every type and unit checked, sizes
bounded), reading it (:func:`load_scenario`, :func:`load_scenario_text`), writing it back
(:meth:`Scenario.to_toml`, which :func:`load_scenario_text` reads to an equal object), and turning
its people-facing parts into library objects: :func:`get_regimen` (a
:class:`~ketasim.events.Regimen`) and :func:`get_covariates` (a model's covariates from the
patient, with notes on what was assumed). It deliberately does not simulate:
:mod:`ketasim.report.comparison` does, for the CLI (``ketasim run``), the app and reports
alike, so all three show the same numbers.

Format (``schema = "ketasim.scenario/1"``)::

    title = "IV vs intranasal"
    seed = 1
    [patient]                      # all optional
    weight = "70 kg"
    age = "45 yr"
    sex = "female"                 # male | female
    covariates = { NDEV = 3 }      # model covariates by name, in their declared units
    interacting_drugs = ["clarithromycin"]
    conditions = ["hypertension"]
    [grid]
    until = "24 h"                 # default: end of the last dose + 24 h
    step = "5 min"                 # display step (default: window / 1000)
    [population]
    n = 1000                       # 0: no population run
    [[regimen]]                    # 1 to 4
    label = "IV 0.5 mg/kg over 40 min"
    model = "perez_ruixo_2021"
    dose = "0.5 mg/kg"
    route = "iv"
    duration = "40 min"            # infusion duration (optional)
    every = "3.5 d"                # or weekdays = ["mon", "thu"] with weeks = 3
    count = 6
    start = "0 h"                  # first maintenance dose (after any loading dose)
    covariates = { NDEV = 1 }      # per-regimen covariates (override the patient's)
    loading = { dose = "1 mg/kg", route = "iv", duration = "10 min" }
"""

from ketasim.scenario.model import (
    MAX_DOSES,
    MAX_REGIMENS,
    MAX_SCENARIO_BYTES,
    SCHEMA,
    WEEKDAYS,
    DosePart,
    GridSpec,
    Patient,
    RegimenSpec,
    Scenario,
    ScenarioError,
)
from ketasim.scenario.reader import load_scenario, load_scenario_bytes, load_scenario_text
from ketasim.scenario.resolve import get_covariates, get_regimen

__all__ = [
    "MAX_DOSES",
    "MAX_REGIMENS",
    "MAX_SCENARIO_BYTES",
    "SCHEMA",
    "WEEKDAYS",
    "DosePart",
    "GridSpec",
    "Patient",
    "RegimenSpec",
    "Scenario",
    "ScenarioError",
    "get_covariates",
    "get_regimen",
    "load_scenario",
    "load_scenario_bytes",
    "load_scenario_text",
]
