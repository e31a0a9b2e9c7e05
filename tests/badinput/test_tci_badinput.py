"""Bad input to ``ketasim tci``: exit code 2, one line naming the culprit, no file written."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from ketasim.cli import main

BASE = ["--duration", "30 min", "--weight", "20 kg"]


def _run(tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    out = tmp_path / "plan.csv"
    code = main(
        ["tci", *argv, "--out", str(out), "--plot", str(tmp_path / "plan.png")], out=io.StringIO()
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(err) == 1 and err[0].startswith("ketasim: error:"), err
    assert "Traceback" not in err[0]
    assert list(tmp_path.iterdir()) == [] or all(p.suffix == ".toml" for p in tmp_path.iterdir())
    return err[0]


def _oral_only_model(tmp_path: Path) -> str:
    text = (Path(__file__).parents[2] / "src/ketasim/library/herd_2007.toml").read_text()
    text = text.replace('id = "herd_2007"', 'id = "herd_oral_only"')
    text = text.replace("[routes.iv]", "[routes.oral]").replace('route = "iv"', 'route = "oral"')
    path = tmp_path / "herd_oral_only.toml"
    path.write_text(text)
    return str(path)


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["herd_2007", "--target=-5 ng/mL", *BASE], "-5 ng/mL"),
        (["herd_2007", "--target", "50 ug/mL", *BASE], "plausibility limit"),
        (["herd_2007", "--target", "lots", *BASE], "'lots'"),
        (["herd_2007", "--target", "150", *BASE], "no unit"),
        (["herd_2007", "--target", "150 ng/mL at soon", *BASE], "150 ng/mL at soon"),
        (["herd_2007", "--target", "150 ng/mL", "--effect-site", *BASE], "herd_2007"),
        (["herd_2007", "--target", "150 ng/mL", "--max-rate", "0 mg/h", *BASE], "--max-rate"),
        (["herd_2007", "--target", "150 ng/mL", "--max-rate=-10 mg/h", *BASE], "--max-rate"),
        (["herd_2007", "--target", "150 ng/mL", "--max-rate", "100 mL/h", *BASE], "--syringe"),
        (["herd_2007", "--target", "150 ng/mL", "--update", "0 s", *BASE], "--update"),
        (["herd_2007", "--target", "150 ng/mL", "--update", "2 h", *BASE], "--update"),
        (["herd_2007", "--target", "150 ng/mL", "--update", "10", *BASE], "--update"),
        (["herd_2007", "--target", "150 ng/mL", "--syringe=-1 mg/mL", *BASE], "--syringe"),
        (["pk2", "--target", "150 ng/mL", *BASE], "pk2"),
        (
            [
                "simons_2022",
                "--target",
                "150 ng/mL",
                "--effect-site",
                "--effect-model",
                "herd_2007",
                "--duration",
                "30 min",
                "--weight",
                "70 kg",
            ],
            "herd_2007",
        ),
    ],
)
def test_bad_tci_input_exits_2_and_names_it(tmp_path, capsys, argv, needle):
    line = _run(tmp_path, capsys, argv)
    assert needle in line


def test_non_iv_model_refused(tmp_path, capsys):
    model = _oral_only_model(tmp_path)
    line = _run(tmp_path, capsys, [model, "--target", "150 ng/mL", *BASE])
    assert "herd_oral_only" in line and "intravenous" in line


def test_duration_not_multiple_of_update_refused(tmp_path, capsys):
    line = _run(
        tmp_path,
        capsys,
        ["herd_2007", "--target", "150 ng/mL", "--update", "7 s", *BASE],
    )
    assert "whole number" in line
