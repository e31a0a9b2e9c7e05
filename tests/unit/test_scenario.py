"""Scenario files: strict schema, round trip, regimens and covariates from people's inputs."""

from __future__ import annotations

from pathlib import Path

import pytest

from ketasim import load_model
from ketasim.errors import EventError, ModelError
from ketasim.scenario import (
    MAX_SCENARIO_BYTES,
    DosePart,
    GridSpec,
    Patient,
    RegimenSpec,
    Scenario,
    ScenarioError,
    get_covariates,
    get_regimen,
    load_scenario,
    load_scenario_bytes,
    load_scenario_text,
)

GOOD = """
schema = "ketasim.scenario/1"
title = "IV vs intranasal"
seed = 7
[patient]
weight = "70 kg"
age = "45 yr"
interacting_drugs = ["clarithromycin"]
[grid]
until = "24 h"
step = "5 min"
[population]
n = 1000
[[regimen]]
label = "IV"
model = "perez_ruixo_2021"
dose = "0.5 mg/kg"
duration = "40 min"
[[regimen]]
label = "IN"
model = "perez_ruixo_2021"
dose = "84 mg"
route = "intranasal"
covariates = { NDEV = 3 }
"""


def full() -> Scenario:
    return Scenario(
        regimens=(
            RegimenSpec(
                'a "quoted" \\ label\tx',
                "simons_2022",
                "0.25 mg/kg",
                duration="40 min",
                every="3.5 d",
                count=6,
                start="1 h",
                covariates={"WT": 80.0},
                loading=DosePart("1 mg/kg", "iv", "10 min"),
            ),
            RegimenSpec(
                "weekly",
                "simons_2022",
                "50 mg",
                route="sublingual",
                weekdays=("mon", "thu"),
                weeks=3,
            ),
        ),
        patient=Patient(
            weight="70 kg",
            age="30 yr",
            sex="female",
            covariates={"WT": 70.0},
            interacting_drugs=("rifampicin",),
            conditions=("pregnant",),
        ),
        grid=GridSpec("48 h", "2 min"),
        seed=3,
        population_n=500,
        title="t <b>",
        unit="nmol/L",
    )


def test_load_scenario_text_reads_every_part() -> None:
    s = load_scenario_text(GOOD)
    assert (s.title, s.seed, s.population_n) == ("IV vs intranasal", 7, 1000)
    assert s.grid.get_until_h() == 24.0 and s.grid.get_step_h() == pytest.approx(5 / 60)
    assert s.regimens[1].covariates == {"NDEV": 3.0}
    assert s.patient.get_weight_kg() == 70.0


def test_to_toml_round_trips_every_field() -> None:
    s = full()
    assert load_scenario_text(s.to_toml()) == s


def test_unknown_key_is_refused_by_name() -> None:
    with pytest.raises(ScenarioError, match=r"unknown key 'regimen\[0\]\.doze'"):
        load_scenario_text('[[regimen]]\nmodel = "herd_2007"\ndose = "1 mg"\ndoze = 1\n')


def test_malformed_toml_is_refused() -> None:
    with pytest.raises(ScenarioError, match="not valid TOML"):
        load_scenario_text("[[regimen]\n")


def test_more_than_four_regimens_refused() -> None:
    one = '[[regimen]]\nmodel = "herd_2007"\ndose = "1 mg"\n'
    with pytest.raises(ScenarioError, match="at most 4"):
        load_scenario_text(one * 5)


def test_no_regimen_refused() -> None:
    with pytest.raises(ScenarioError, match="give 1 to 4"):
        load_scenario_text('title = "x"\n')


def test_dose_without_unit_refused_naming_the_regimen() -> None:
    with pytest.raises(ScenarioError, match=r"regimen\[0\].*no unit"):
        load_scenario_text('[[regimen]]\nmodel = "herd_2007"\ndose = "35"\n')


def test_duration_with_wrong_dimension_refused() -> None:
    with pytest.raises(ScenarioError, match=r"regimen\[0\]\.duration"):
        load_scenario_text('[[regimen]]\nmodel = "m"\ndose = "1 mg"\nduration = "40 mg"\n')


def test_oversized_bytes_refused() -> None:
    with pytest.raises(ScenarioError, match=f"at most {MAX_SCENARIO_BYTES} bytes"):
        load_scenario_bytes(b"#" * (MAX_SCENARIO_BYTES + 1), source="big.toml")


def test_non_utf8_refused() -> None:
    with pytest.raises(ScenarioError, match="not UTF-8"):
        load_scenario_bytes(b"title = '\xff'\n", source="x.toml")


def test_oversized_file_refused_before_reading(tmp_path: Path) -> None:
    p = tmp_path / "big.toml"
    p.write_bytes(b"#" * (MAX_SCENARIO_BYTES + 10))
    with pytest.raises(ScenarioError, match=r"big\.toml"):
        load_scenario(p)


def test_weekdays_with_every_refused() -> None:
    text = '[[regimen]]\nmodel = "m"\ndose = "1 mg"\nevery = "1 d"\ncount = 2\nweekdays = ["mon"]\n'
    with pytest.raises(ScenarioError, match="weekdays"):
        load_scenario_text(text)


def test_bool_seed_refused() -> None:
    with pytest.raises(ScenarioError, match="seed"):
        load_scenario_text('seed = true\n[[regimen]]\nmodel = "m"\ndose = "1 mg"\n')


def test_get_regimen_weekdays_repeat_weekly() -> None:
    r = get_regimen(RegimenSpec("x", "m", "56 mg", weekdays=("thu", "mon"), weeks=3), None)
    starts = sorted(d.time_h + k * d.ii_h for d in r.doses for k in range(d.addl + 1))
    assert starts == [0.0, 96.0, 168.0, 264.0, 336.0, 432.0]  # Thu, Mon, Thu, ... (h)


def test_get_regimen_loading_then_maintenance() -> None:
    spec = RegimenSpec(
        "x",
        "m",
        "0.25 mg/kg",
        duration="40 min",
        every="12 h",
        count=2,
        start="2 h",
        loading=DosePart("1 mg/kg", "iv", "10 min"),
    )
    r = get_regimen(spec, 80.0)
    assert [(d.amt, d.time_h, d.addl) for d in r.doses] == [(80.0, 0.0, 0), (20.0, 2.0, 1)]


def test_get_regimen_per_kg_without_weight_refused() -> None:
    with pytest.raises(EventError, match="weight"):
        get_regimen(RegimenSpec("x", "m", "0.5 mg/kg"), None)


def test_get_covariates_notes_reference_values_and_unused_inputs() -> None:
    spec = load_model("perez_ruixo_2021")
    covs, notes = get_covariates(spec, Patient(weight="70 kg", age="70 yr"), None)
    assert covs == {"AGE": 70.0, "ASIAN": 0.0, "JAPANESE": 0.0, "NDEV": 1.0}
    assert any("weight" in n for n in notes) and any("NDEV not given" in n for n in notes)


def test_get_covariates_unknown_covariate_refused() -> None:
    with pytest.raises(ModelError, match="no covariate 'XYZ'"):
        get_covariates(load_model("herd_2007"), Patient(covariates={"XYZ": 1.0}))
