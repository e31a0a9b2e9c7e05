"""Bad input to ``ketasim design``: exit code 2, one line naming the culprit, no file written."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from ketasim.cli import main

GOAL = "ketamine > 500 ng/mL"
BASE = ["--vary", "dose", "--range", "0.5-2 mg/kg", "--weight", "20 kg", "--n", "20"]


def _run(tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    out, plot = tmp_path / "curve.csv", tmp_path / "curve.png"
    code = main(["design", *argv, "--out", str(out), "--plot", str(plot)], out=io.StringIO())
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(err) == 1 and err[0].startswith("ketasim: error:"), err
    assert "Traceback" not in err[0]
    assert list(tmp_path.iterdir()) == []
    return err[0]


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["herd_2007", "--target", "ketamine > -5 ng/mL", *BASE], "ketamine > -5 ng/mL"),
        (["herd_2007", "--target", "ketamine > 50 ug/mL", *BASE], "plausibility limit"),
        (["herd_2007", "--target", "whatever", *BASE], "whatever"),
        (["herd_2007", "--target", "ketamine > 500", *BASE], "no unit"),
        (["herd_2007", "--target", "norketamine > 5 ng/mL", *BASE], "norketamine"),
        (
            ["herd_2007", "--target", GOAL, "--vary", "dose", "--range", "0.5-2", "--n", "20"],
            "--range '0.5-2' has no unit",
        ),
        (
            ["herd_2007", "--target", GOAL, "--vary", "dose", "--range", "0.5-2 h", "--n", "20"],
            "--range",
        ),
        (
            ["herd_2007", "--target", GOAL, "--vary", "dose", "--range", "2-0.5 mg/kg"],
            "--range",
        ),
        (["herd_2007", "--target", GOAL, *BASE, "--probability", "1.5"], "--probability"),
        (["herd_2007", "--target", GOAL, *BASE[:-1], "0"], "--n"),
        (["herd_2007", "--target", GOAL, *BASE, "--route", "oral"], "oral"),
        (
            ["herd_2007", "--target", GOAL, "--vary", "duration", "--range", "1-30 min"],
            "--dose",
        ),
        (["pk2", "--target", GOAL, *BASE], "pk2"),
    ],
)
def test_bad_design_input_exits_2_and_names_it(tmp_path, capsys, argv, needle):
    assert needle in _run(tmp_path, capsys, argv)
