"""``ketasim fit`` writes the subject, observation and forecast tables with units."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from ketasim.cli import main
from ketasim.notices import DISCLAIMER

DATA = (
    "ID,TIME,AMT,EVID,DV_NG_ML,WT\n"
    "1,0,35,1,0,70\n1,0.5,0,0,480,70\n1,1,0,0,300,70\n1,2,0,0,170,70\n"
    "2,0,20,1,0,40\n2,0.25,0,0,500,40\n2,1,0,0,200,40\n2,3,0,0,0,40\n"
)


def _rows(path: Path) -> list[list[str]]:
    with path.open(newline="") as fh:
        return list(csv.reader(fh))


def test_fit_cli_writes_three_tables(tmp_path: Path) -> None:
    data = tmp_path / "data.csv"
    data.write_text(DATA)
    out = io.StringIO()
    argv = ["fit", "herd_2007", str(data), "--out", str(tmp_path / "fit.csv")]
    argv += ["--residual", "ketamine=proportional:0.2", "--lloq", "1 ng/mL"]
    argv += ["--forecast", "35 mg iv over 10 min at 4 h", "--forecast-until", "10 h"]
    assert main(argv, out=out) == 0
    assert DISCLAIMER in out.getvalue()
    subjects = _rows(tmp_path / "fit.csv")
    assert subjects[0][:3] == ["ID", "N_OBS", "N_BLQ"] and "CL_L_per_h_lo90" in subjects[0]
    assert [r[2] for r in subjects[1:]] == ["0", "1"]
    obs = _rows(tmp_path / "fit_obs.csv")
    assert obs[0][4] == "DV_ng_per_mL" and len(obs) == 7
    assert obs[-1][5] == "1" and obs[-1][-1] == ""  # BLQ: M3, no residual
    fc = _rows(tmp_path / "fit_forecast.csv")
    assert fc[0][:3] == ["ID", "TIME_h", "ANALYTE"] and len(fc) == 1 + 2 * 241
