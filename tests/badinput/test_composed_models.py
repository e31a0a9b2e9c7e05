"""Composed models on the CLI (issue 9): unknown submodel, plain or unknown route, another drug:
exit 2, one line naming the input as the user wrote it, no file created, no traceback."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from ketasim.cli import main

ADULT = "domino_1984+racemic_adult_norketamine+racemic_adult_routes"


@pytest.mark.parametrize(
    ("argv", "culprit"),
    [
        (["simulate", "domino_1984+nope", "--dose", "10 mg"], "domino_1984+nope"),
        (["simulate", ADULT, "--dose", "25 mg", "--route", "intranasal"], "intranasal"),
        (["simulate", ADULT, "--dose", "25 mg", "--route", "subcutaneous"], "subcutaneous"),
        (
            ["simulate", "simons_2022+racemic_adult_routes", "--dose", "10 mg"],
            "simons_2022+racemic_adult_routes",
        ),
    ],
)
def test_composed_model_bad_input_exit_2_naming_it(tmp_path: Path, capsys, argv, culprit):
    out_file = tmp_path / "o.csv"
    before = sorted(tmp_path.iterdir())
    code = main(
        [*argv, "--weight", "70 kg", "--until", "1 h", "--out", str(out_file)], out=io.StringIO()
    )
    err = capsys.readouterr().err
    assert code == 2
    lines = [ln for ln in err.splitlines() if ln.startswith("ketasim: error")]
    assert len(lines) == 1 and culprit in lines[0], err
    assert "Traceback" not in err
    assert sorted(tmp_path.iterdir()) == before


def test_plain_intranasal_refusal_names_the_study_routes(capsys):
    argv = ["simulate", ADULT, "--dose", "25 mg", "--route", "intranasal", "--weight", "70 kg"]
    assert main([*argv, "--until", "1 h"], out=io.StringIO()) == 2
    err = capsys.readouterr().err
    assert "intranasal_pharmacotherapy_2022" in err and "intranasal_yanagihara_2003" in err
