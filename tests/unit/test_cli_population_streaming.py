"""``ketasim population`` beyond the exact-percentile limit runs the streaming population."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

import ketasim.cli.population as cli_population
from ketasim.cli import main

POP = [
    "population", "herd_2007", "--dose", "1 mg/kg", "--duration", "2 min", "--weight", "30 kg",
    "--until", "4 h", "--step", "5 min", "--no-progress", "--n", "1500", "--seed", "5",
    "--summaries", "grid",
]  # fmt: skip


def _run(argv: list[str]) -> tuple[int, str]:
    out = io.StringIO()
    return main(argv, out=out), out.getvalue()


def _rows(path: Path) -> list[list[str]]:
    with path.open(newline="") as fh:
        return list(csv.reader(fh))


def test_population_above_the_limit_streams_with_the_same_numbers_for_any_workers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cli_population, "_EXACT_MAX_BYTES", 1e3)  # B: 1,500 x 49 x 8 is above
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    code_a, text_a = _run([*POP, "--out", str(a)])
    code_b, text_b = _run([*POP, "--workers", "2", "--out", str(b)])
    assert code_a == code_b == 0
    assert "percentiles by histogram" in text_a
    assert text_a.split("wrote")[0] == text_b.split("wrote")[0]  # the printed summary
    assert _rows(a) == _rows(b) and len(_rows(a)) == 1501
    assert _rows(tmp_path / "a_percentiles.csv") == _rows(tmp_path / "b_percentiles.csv")


def test_population_bad_workers_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    code, _ = _run([*POP, "--workers", "0"])
    assert code == 2
    assert "--workers 0" in capsys.readouterr().err
