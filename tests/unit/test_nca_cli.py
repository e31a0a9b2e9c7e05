"""``ketasim nca``: the long table written atomically, the point table, stdout mode."""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path

from ketasim.cli import main
from ketasim.notices import DISCLAIMER

DATA = (
    "# comment lines are skipped\n"
    "ID,TIME,CONC,AMT\n"
    "1,0,.,10\n1,0,0,0\n1,1,50,0\n1,2,40,0\n1,4,20,0\n1,8,5,0\n"
    "2,0,.,20\n2,0,0,0\n2,1,100,0\n2,2,80,0\n2,4,40,0\n2,8,10,0\n"
)


def _run(argv: list[str]) -> tuple[int, str]:
    out = io.StringIO()
    return main(argv, out=out), out.getvalue()


def _table(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as fh:
        return list(csv.DictReader(fh))


def test_nca_writes_the_long_table_with_units(tmp_path: Path) -> None:
    data = tmp_path / "d.csv"
    data.write_text(DATA)
    out = tmp_path / "pp.csv"
    code, text = _run(["nca", str(data), "--out", str(out), "--time-unit", "h",
                       "--conc-unit", "ng/mL", "--dose-unit", "mg"])  # fmt: skip
    assert code == 0 and DISCLAIMER in text
    rows = _table(out)
    assert list(rows[0]) == ["ID", "ANALYTE", "PPSTINT", "PPENINT", "PPTESTCD", "PPTEST",
                             "PPORRES", "PPORRESU", "PPREASND"]  # fmt: skip
    by = {(r["ID"], r["PPTESTCD"]): r for r in rows}
    assert by[("1", "CMAX")]["PPORRES"] == "50" and by[("1", "CMAX")]["PPORRESU"] == "ng/mL"
    assert by[("1", "AUCIFO")]["PPORRESU"] == "h*ng/mL"
    assert by[("1", "CLFO")]["PPORRESU"] == "L/h"
    # twice the dose and twice the concentrations: the same CL/F
    cl1, cl2 = float(by[("1", "CLFO")]["PPORRES"]), float(by[("2", "CLFO")]["PPORRES"])
    assert math.isclose(cl1, cl2, rel_tol=1e-9)
    for r in rows:
        assert (r["PPORRES"] == "") == (r["PPREASND"] != "")


def test_nca_points_table_says_why_each_point_is_out(tmp_path: Path) -> None:
    data = tmp_path / "d.csv"
    data.write_text("ID,TIME_h,CONC_ng_mL\n1,0,0\n1,1,50\n1,2,40\n1,4,20\n1,8,5\n")
    pts = tmp_path / "pts.csv"
    code, _ = _run(["nca", str(data), "--out", str(tmp_path / "pp.csv"), "--points-out", str(pts)])
    assert code == 0
    rows = {r["TIME"]: r for r in _table(pts)}
    assert rows["0"]["LAMZUSED"] == "0" and rows["0"]["REASON"] == "zero or BLQ concentration"
    assert rows["1"]["REASON"] == "at Tmax"
    assert rows["8"]["LAMZUSED"] == "1"


def test_nca_prints_the_table_without_out(tmp_path: Path) -> None:
    data = tmp_path / "d.csv"
    data.write_text("ID,TIME_h,CONC_ng_mL\n1,0,0\n1,1,50\n1,2,40\n")
    code, text = _run(["nca", str(data), "--interval", "0,2 h", "--tau-interval", "0,2 h"])
    assert code == 0
    assert "ID,ANALYTE,PPSTINT" in text and ",AUCTAU," in text
    assert not list(tmp_path.glob("*.tmp"))


def test_nca_lambda_z_points_per_id(tmp_path: Path) -> None:
    data = tmp_path / "d.csv"
    data.write_text("ID,TIME_h,CONC_ng_mL\n1,0,0\n1,1,50\n1,2,40\n1,4,20\n1,8,5\n")
    out = tmp_path / "pp.csv"
    code, _ = _run(["nca", str(data), "--out", str(out), "--lambda-z-points", "1=240,480 min"])
    assert code == 0
    by = {r["PPTESTCD"]: r for r in _table(out)}
    assert by["LAMZNPT"]["PPORRES"] == "2" and by["LAMZLL"]["PPORRES"] == "4"
    assert by["R2ADJ"]["PPREASND"] == "undefined for a 2-point fit"
