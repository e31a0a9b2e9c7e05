"""Impossible covariates and unused options on the CLI: exit 2, one line naming the input as the
user wrote it, no file created, no traceback (issue 12)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from ketasim.cli import main

HERD = ["simulate", "herd_2007", "--dose", "20 mg", "--until", "1 h"]
PEREZ = ["simulate", "perez_ruixo_2021", "--dose", "28 mg", "--route", "intranasal"]
PEREZ += ["--until", "1 h", "--age", "45 yr"]
CMP = ["compare-models", "--drug", "esketamine", "--dose", "20 mg", "--population", "adult"]


@pytest.mark.parametrize(
    ("argv", "culprit"),
    [
        ([*HERD, "--weight", "0 kg"], "0 kg"),
        ([*HERD, "--covariate", "WT=-3 kg"], "-3 kg"),
        ([*PEREZ, "--covariate", "NDEV=-3"], "NDEV = -3"),
        ([*PEREZ, "--covariate", "NDEV=2.5"], "NDEV = 2.5"),
        ([*PEREZ, "--covariate", "NDEV=0"], "NDEV = 0"),
        ([*PEREZ, "--covariate", "ASIAN=7"], "ASIAN = 7"),
        ([*PEREZ[:-2], "--age=-5 yr"], "AGE = -5 yr"),
        ([*PEREZ[:-2], "--age", "300 yr"], "AGE = 300 yr"),
        ([*CMP, "--sex", "female"], "SEX"),
        ([*CMP, "--covariate", "ASIAN=7"], "ASIAN = 7"),
        (
            [
                "compare-models",
                "--drug",
                "esketamine",
                "--dose",
                "0.2 mg/kg",
                "--population",
                "adult",
            ],
            "body weight",
        ),
        (["models", "--drug", "morphine"], "morphine"),
    ],
)
def test_impossible_input_exit_2_naming_it(tmp_path: Path, capsys, argv, culprit):
    out_file = tmp_path / "o.csv"
    full = argv + (["--out", str(out_file)] if argv[0] == "simulate" else [])
    before = sorted(tmp_path.iterdir())
    code = main(full, out=io.StringIO())
    err = capsys.readouterr().err
    assert code == 2
    lines = [ln for ln in err.splitlines() if ln.startswith("ketasim: error")]
    assert len(lines) == 1 and culprit in lines[0]
    assert "Traceback" not in err
    assert sorted(tmp_path.iterdir()) == before


def test_compare_models_plot_into_missing_folder_refused_before_work(tmp_path: Path, capsys):
    code = main([*CMP, "--plot", str(tmp_path / "nope" / "x.png")], out=io.StringIO())
    assert code == 2
    assert "nope" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []
