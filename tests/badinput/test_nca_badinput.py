"""``ketasim nca`` bad input: exit code 2, one line naming the culprit, no file, no traceback.

Also: fewer than 3 points is not an error (lambda_z is NaN with its reason) unless nothing at
all can be computed.
"""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path

import pytest

from ketasim.cli import main

GOOD = "ID,TIME_h,CONC_ng_mL\n1,0,0\n1,1,50\n1,2,40\n1,4,20\n1,8,5\n"


def _run(
    tmp_path: Path, text: str, *extra: str, capsys: pytest.CaptureFixture[str]
) -> tuple[int, str, Path]:
    data = tmp_path / "data.csv"
    data.write_text(text)
    out = tmp_path / "pp.csv"
    code = main(["nca", str(data), "--out", str(out), *extra], out=io.StringIO())
    return code, capsys.readouterr().err, out


def _refused(code: int, err: str, out: Path, *words: str) -> None:
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("ketasim: error: "), err
    assert "Traceback" not in err
    for w in words:
        assert w in lines[0], (w, lines[0])
    assert not out.exists()
    assert not list(out.parent.glob(".pp.csv.*"))


CASES = {
    "duplicate_time": (
        "ID,TIME_h,CONC_ng_mL\n1,0,0\n1,1,5\n1,1,6\n",
        [],
        ["ID 1", "time 1 appears twice"],
    ),
    "negative_conc": (
        "ID,TIME_h,CONC_ng_mL\n1,0,0\n1,1,-5\n",
        [],
        ["record 2", "-5 ng/mL is negative"],
    ),
    "non_finite_conc": (
        "ID,TIME_h,CONC_ng_mL\n1,0,0\n1,1,inf\n",
        [],
        ["record 2", "'inf'", "not finite"],
    ),
    "missing_conc": ("ID,TIME_h,CONC_ng_mL\n1,0,0\n1,1,\n", [], ["record 2", "missing"]),
    "text_conc": (
        "ID,TIME_h,CONC_ng_mL\n1,0,0\n1,1,BLQ\n",
        [],
        ["record 2", "'BLQ' is not a number"],
    ),
    "no_conc_unit": (
        "ID,TIME_h,CONC\n1,0,0\n1,1,5\n",
        [],
        ["column CONC has no unit", "--conc-unit"],
    ),
    "no_time_unit": ("ID,TIME,CONC_ng_mL\n1,0,0\n1,1,5\n", [], ["column TIME has no unit"]),
    "wrong_unit_kind": (
        "ID,TIME_mg,CONC_ng_mL\n1,0,0\n1,1,5\n",
        [],
        ["TIME_mg", "'mg' is not a time unit"],
    ),
    "unknown_column": (
        "ID,TIME_h,CONC_ng_mL,WT\n1,0,0,70\n1,1,5,70\n",
        [],
        ["unknown column 'WT'"],
    ),
    "empty_file": ("", [], ["the file is empty"]),
    "header_only": ("ID,TIME_h,CONC_ng_mL\n", [], ["no data rows"]),
    "ragged_row": ("ID,TIME_h,CONC_ng_mL\n1,0\n", [], ["line 2 has 2 fields"]),
    "lloq_above_every_conc": (GOOD, ["--lloq", "100 ng/mL"], ["LLOQ 100 ng/mL is above every"]),
    "lloq_without_unit": (GOOD, ["--lloq", "0.5"], ["'0.5' has no unit"]),
    "dose_without_unit": (GOOD, ["--dose", "5"], ["dose", "'5' has no unit"]),
    "interval_without_unit": (GOOD, ["--interval", "0,24"], ["interval '0,24' has no time unit"]),
    "interval_reversed": (GOOD, ["--interval", "24,0 h"], ["the end must be after the start"]),
    "nothing_computable": (
        GOOD,
        ["--interval", "100,200 h"],
        ["nothing can be computed", "no samples"],
    ),
    "lambda_z_point_not_sampled": (
        GOOD,
        ["--lambda-z-points", "3,4,8 h"],
        ["time 3 is not a sample time"],
    ),
    "bad_blq_rule": (GOOD, ["--blq", "middle=zero"], ["BLQ rule middle='zero'"]),
    "dose_twice": (
        "ID,TIME_h,CONC_ng_mL,AMT_mg\n1,0,.,5\n1,1,5,0\n1,2,4,0\n",
        ["--dose", "5 mg"],
        ["already holds doses"],
    ),
    "dose_column_changes": (
        "ID,TIME_h,CONC_ng_mL,DOSE_mg\n1,0,0,5\n1,1,5,6\n",
        [],
        ["record 2", "DOSE_mg changes"],
    ),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_bad_input_is_refused(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text, extra, words = CASES[name]
    code, err, out = _run(tmp_path, text, *extra, capsys=capsys)
    _refused(code, err, out, *words)


def test_existing_output_is_left_untouched_on_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "pp.csv"
    out.write_text("keep me\n")
    data = tmp_path / "data.csv"
    data.write_text("ID,TIME_h,CONC_ng_mL\n1,0,0\n1,1,-5\n")
    assert main(["nca", str(data), "--out", str(out)], out=io.StringIO()) == 2
    assert out.read_text() == "keep me\n"


def test_unknown_method_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, err, out = _run(tmp_path, GOOD, "--method", "spline", capsys=capsys)
    assert code == 2 and "invalid choice: 'spline'" in err and not out.exists()


def test_fewer_than_three_points_is_not_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, err, out = _run(tmp_path, "ID,TIME_h,CONC_ng_mL\n1,0,10\n1,1,5\n", capsys=capsys)
    assert code == 0 and err == ""
    with out.open(newline="") as fh:
        rows = {r["PPTESTCD"]: r for r in csv.DictReader(fh)}
    assert rows["LAMZ"]["PPORRES"] == ""
    assert rows["LAMZ"]["PPREASND"] == "fewer than 3 points above zero/LLOQ after Tmax (1 found)"
    # log-down trapezoid 10 -> 5 over 1 h: 5 / ln 2
    assert float(rows["AUCLST"]["PPORRES"]) == pytest.approx(5 / math.log(2), rel=1e-9)
