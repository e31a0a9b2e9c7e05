"""Wrong numbers with exit 0 (issue 12): every case exits 2 naming the input, or exits 0 with
correct, finite, non-negative numbers; outputs are checked, not only exit codes."""

from __future__ import annotations

import io
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ketasim.cli import main
from ketasim.errors import ParameterError
from ketasim.population import Target, compute_target_attainment

HERD = ["simulate", "herd_2007", "--dose", "1 mg/kg", "--duration", "10 min", "--weight", "20 kg"]
PEREZ_COVS = ["--covariate", "AGE=45 yr", "--covariate", "ASIAN=0", "--covariate", "JAPANESE=0"]
PEREZ_COVS += ["--covariate", "NDEV=1"]
PEREZ_ORAL = ["simulate", "perez_ruixo_2021", "--dose", "20 mg", "--route", "oral", *PEREZ_COVS]
POP = ["population", "herd_2007", "--n", "200", "--seed", "1", "--dose", "1 mg/kg"]
POP += ["--duration", "10 min", "--weight", "20 kg", "--no-progress"]


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    buf = io.StringIO()
    code = main(argv, out=buf)
    return code, buf.getvalue(), capsys.readouterr().err


def _refused(argv: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str], culprit: str):
    before = sorted(tmp_path.iterdir())
    code, _, err = _run(argv, capsys)
    lines = [ln for ln in err.splitlines() if ln.startswith("ketasim: error")]
    assert code == 2, err
    assert len(lines) == 1 and culprit in lines[0], err
    assert "Traceback" not in err
    assert sorted(tmp_path.iterdir()) == before


def _summary(text: str) -> dict[str, tuple[float, float, float]]:
    """Analyte -> (Cmax, Tmax, AUC) from the printed summary lines."""
    rows: dict[str, tuple[float, float, float]] = {}
    lines = text.splitlines()
    start = next(i for i, ln in enumerate(lines) if ln.startswith("# analyte"))
    for ln in lines[start + 1 :]:
        parts = ln[1:].split()
        if not ln.startswith("# ") or len(parts) != 4:
            break
        rows[parts[0]] = (float(parts[1]), float(parts[2]), float(parts[3]))
    return rows


def _table_ok(frame: pd.DataFrame) -> None:
    num = frame.select_dtypes("number").to_numpy()
    assert np.all(np.isfinite(num))
    conc = frame[[c for c in frame.columns if c.endswith(("_ng_mL", "_nmol_L"))]].to_numpy()
    assert np.all(conc >= 0.0)


def test_until_beyond_1e6_h_is_refused(tmp_path: Path, capsys) -> None:
    _refused([*HERD, "--until", "1e300 h", "--out", str(tmp_path / "o.csv")], tmp_path, capsys,
             "--until 1e300 h")  # fmt: skip


def test_step_longer_than_until_is_refused(tmp_path: Path, capsys) -> None:
    argv = [*HERD, "--until", "1 h", "--step", "2 h", "--out", str(tmp_path / "o.csv")]
    _refused(argv, tmp_path, capsys, "--step 2 h")


def test_out_with_unknown_suffix_is_refused(tmp_path: Path, capsys) -> None:
    _refused([*HERD, "--out", str(tmp_path / "o.txt")], tmp_path, capsys, "o.txt")


def test_out_parquet_is_parquet(tmp_path: Path, capsys) -> None:
    path = tmp_path / "o.parquet"
    code, _, err = _run([*HERD, "--until", "2 h", "--out", str(path)], capsys)
    assert code == 0, err
    assert path.read_bytes()[:4] == b"PAR1"
    frame = pd.read_parquet(path)
    assert list(frame.columns) == ["ID", "TIME_h", "TAD_h", "ketamine_ng_mL"]
    _table_ok(frame)


def test_dataset_out_parquet_is_parquet(tmp_path: Path, capsys) -> None:
    data = tmp_path / "d.csv"
    data.write_text("ID,TIME,AMT,EVID\n1,0,10,1\n1,1,0,0\n1,2,0,0\n")
    out = tmp_path / "o.parquet"
    code, _, err = _run(["simulate", "pk1", str(data), "--param", "CL=1", "--param", "V=10",
                         "--out", str(out)], capsys)  # fmt: skip
    assert code == 0, err
    assert pd.read_parquet(out)["drug"].to_numpy() == pytest.approx([1.0, *np.exp([-0.1, -0.2])])


@pytest.mark.parametrize(
    "argv",
    [
        [*HERD, "--until", "30 d"],
        [*HERD, "--until", "5 h", "--count", "3", "--every", "1 h"],
        [*PEREZ_ORAL, "--until", "24 h"],
        [
            "simulate",
            "simons_2022",
            "--dose",
            "40 mg",
            "--route",
            "sublingual",
            "--weight",
            "70 kg",
            "--until",
            "3 h",
            "--step",
            "15 min",
        ],
    ],
)
def test_tables_are_finite_and_non_negative(tmp_path: Path, capsys, argv: list[str]) -> None:
    out = tmp_path / "o.csv"
    code, _, err = _run([*argv, "--out", str(out)], capsys)
    assert code == 0, err
    _table_ok(pd.read_csv(out))


def test_summary_does_not_depend_on_the_step(capsys) -> None:
    # issue 12: Cmax 314 (912.5 with --step "1 min"), AUC 438 vs 569
    coarse = _summary(_run([*HERD, "--until", "30 d"], capsys)[1])
    fine = _summary(_run([*HERD, "--until", "30 d", "--step", "1 min"], capsys)[1])
    assert coarse == fine
    cmax, tmax, auc = coarse["ketamine"]
    assert cmax == pytest.approx(912.5, abs=0.05) and tmax == pytest.approx(0.1667, abs=1e-4)
    assert auc == pytest.approx(568.64, abs=0.01)


def test_interaction_changes_the_csv_by_the_published_ratio(tmp_path: Path, capsys) -> None:
    base, adj = tmp_path / "base.csv", tmp_path / "adj.csv"
    assert _run([*PEREZ_ORAL, "--out", str(base)], capsys)[0] == 0
    code, text, err = _run(
        [*PEREZ_ORAL, "--out", str(adj), "--interaction", "clarithromycin_oral_s_ketamine"], capsys
    )
    assert code == 0, err
    assert "bioavailability: oral doses x2.6" in text
    a, b = pd.read_csv(adj), pd.read_csv(base)
    pos = b["s_ketamine_ng_mL"] > 1e-9 * b["s_ketamine_ng_mL"].max()  # not round-off of 0
    ratio = a["s_ketamine_ng_mL"][pos] / b["s_ketamine_ng_mL"][pos]
    np.testing.assert_allclose(ratio, 2.6, rtol=1e-9)  # Hagelberg 2010 AUC0-inf ratio


def test_interaction_for_another_route_is_refused(tmp_path: Path, capsys) -> None:
    argv = [
        "simulate",
        "perez_ruixo_2021",
        "--dose",
        "20 mg",
        "--route",
        "iv",
        *PEREZ_COVS,
        "--interaction",
        "clarithromycin_oral_s_ketamine",
        "--out",
        str(tmp_path / "o.csv"),
    ]
    _refused(argv, tmp_path, capsys, "oral route")  # fmt: skip


@pytest.mark.parametrize("target", ["ketamine > 1e400 ng/mL", "ketamine > 100 ng/mL for 1e400 h"])
def test_target_not_finite_is_refused(tmp_path: Path, capsys, target: str) -> None:
    _refused([*POP, "--target", target], tmp_path, capsys, "1e400")


def test_target_without_duration_is_reached_by_cmax(tmp_path: Path, capsys) -> None:
    out = tmp_path / "p.csv"
    code, text, err = _run([*POP, "--target", "ketamine > 900 ng/mL", "--out", str(out)], capsys)
    assert code == 0, err
    frame = pd.read_csv(out)
    expected = 100 * np.mean(frame["ketamine_cmax_ng_mL"] >= 900)
    assert 0 < expected < 100
    assert f"attained by {expected:.1f}% of subjects" in text


def test_target_above_every_cmax_is_never_attained(capsys) -> None:
    code, text, _ = _run([*POP, "--target", "ketamine > 1e6 ng/mL"], capsys)
    assert code == 0 and "attained by 0.0% of subjects" in text


def test_api_threshold_target_needs_the_threshold() -> None:
    r = compute_target_attainment(np.array([0.0, 1.0]), np.array([[0.0, 0.001]]),
                                  Target("T", "ketamine", above_mg_per_L=100.0))  # fmt: skip
    assert not r.attained[0]


@pytest.mark.parametrize("bad", [math.inf, math.nan, -1.0])
def test_api_target_threshold_not_finite_is_refused(bad: float) -> None:
    with pytest.raises(ParameterError, match="finite"):
        Target("T", "ketamine", above_mg_per_L=bad)


def test_residual_gives_no_negative_percentile(tmp_path: Path, capsys) -> None:
    argv = ["population", "perez_ruixo_2021", "--n", "100", "--seed", "1", "--dose", "56 mg",
            "--route", "intranasal", "--age", "45 yr", "--covariate", "ASIAN=0", "--covariate",
            "JAPANESE=0", "--covariate", "NDEV=2", "--until", "12 h", "--step", "1 h",
            "--no-progress"]  # fmt: skip
    noisy, plain = tmp_path / "p.csv", tmp_path / "q.csv"
    code, _, err = _run([*argv, "--residual", "--out", str(noisy)], capsys)
    assert code == 0, err
    curves = pd.read_csv(tmp_path / "p_percentiles.csv").to_numpy()
    assert np.all(np.isfinite(curves)) and curves.min() >= 0.0
    assert _run([*argv, "--out", str(plain)], capsys)[0] == 0
    a, b = pd.read_csv(noisy), pd.read_csv(plain)
    np.testing.assert_array_equal(a["s_ketamine_cmax_ng_mL"], b["s_ketamine_cmax_ng_mL"])
