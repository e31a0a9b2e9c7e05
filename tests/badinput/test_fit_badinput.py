"""``ketasim fit`` bad input: exit code 2, one line naming the culprit, no file written."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from ketasim.cli import main

HEADER = "ID,TIME,AMT,EVID,DV,WT\n"
GOOD = "1,0,50,1,0,70\n1,0.5,0,0,400,70\n1,2,0,0,150,70\n"
PROP = ["--residual", "ketamine=proportional:0.2"]


def _run(tmp_path: Path, text: str, *extra: str, model: str = "herd_2007") -> tuple[int, str]:
    data = tmp_path / "data.csv"
    data.write_text(text)
    out = tmp_path / "fit.csv"
    argv = ["fit", model, str(data), "--out", str(out), *extra]
    code = main(argv, out=io.StringIO())
    return code, str(out)


@pytest.mark.parametrize(
    ("text", "extra", "needle", "model"),
    [
        (
            HEADER + GOOD + "2,0,50,1,0,60\n",
            ["--dv-unit", "ng/mL", *PROP],
            "ID 2: no observation",
            "herd_2007",
        ),
        (HEADER + GOOD, PROP, "DV has no unit", "herd_2007"),
        (
            HEADER + GOOD,
            ["--dv-unit", "ng/mL", "--lloq", "5 ug/mL", *PROP],
            "LLOQ of ketamine is above every DV",
            "herd_2007",
        ),
        (
            HEADER + "1,0,50,1,0,70\n1,0.5,0,0,-3,70\n",
            ["--dv-unit", "ng/mL", *PROP],
            "record 2, ID 1: DV=-3 ng/mL is negative",
            "herd_2007",
        ),
        (HEADER + GOOD, ["--dv-unit", "ng/mL"], "no between-subject variability", "elkomy_2015"),
        (
            "ID,TIME,AMT,EVID,DV,WT,ETA_CL\n1,0,50,1,0,70,0\n1,1,0,0,300,70,0\n",
            ["--dv-unit", "ng/mL", *PROP],
            "column ETA_CL",
            "herd_2007",
        ),
        (
            "ID,TIME,AMT,EVID,DV,WT,CL\n1,0,50,1,0,70,90\n1,1,0,0,300,70,90\n",
            ["--dv-unit", "ng/mL", *PROP],
            "column CL fixes parameter CL",
            "herd_2007",
        ),
        (
            "ID,TIME,AMT,EVID,DV\n1,0,50,1,0\n1,1,0,0,300\n",
            ["--dv-unit", "ng/mL", *PROP],
            "needs covariate WT",
            "herd_2007",
        ),
        (HEADER + GOOD, ["--dv-unit", "ng/mL"], "states no residual error", "herd_2007"),
        (
            HEADER + GOOD,
            ["--dv-unit", "ng/mL", *PROP, "--sir", "100"],
            "--sir needs --seed",
            "herd_2007",
        ),
        (
            HEADER + GOOD,
            ["--dv-unit", "ng/mL", *PROP, "--forecast", "fifty mg"],
            "--forecast 'fifty mg'",
            "herd_2007",
        ),
        (
            "ID,TIME,AMT,EVID,DV_NG_ML,WT\n1,0,50,1,0,70\n1,1,0,0,300,70\n",
            ["--dv-unit", "mg/L", *PROP],
            "contradicts column DV_NG_ML",
            "herd_2007",
        ),
    ],
)
def test_fit_bad_input_exits_2_with_one_line_and_no_file(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    text: str,
    extra: list[str],
    needle: str,
    model: str,
) -> None:
    code, out = _run(tmp_path, text, *extra, model=model)
    err = capsys.readouterr().err
    assert code == 2
    lines = [ln for ln in err.splitlines() if ln.startswith("ketasim: error:")]
    assert len(lines) == 1 and needle in lines[0], err
    assert "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.csv"]


def test_fit_bad_input_leaves_an_existing_output_unchanged(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "fit.csv").write_text("old\n")
    code, out = _run(tmp_path, HEADER + GOOD, "--dv-unit", "ng/mL")
    assert code == 2
    assert Path(out).read_text() == "old\n"
    assert not (tmp_path / "fit_obs.csv").exists()
