"""Bad and unusual input the other bad-input suites did not cover (a reviewer's pass).

Each refusal: exit code 2, one ``ketasim: error`` line naming the input as written, no
traceback, no file created or changed. Each accepted case: exit 0 and no NaN, inf or negative
concentration in what was written.
"""

from __future__ import annotations

import io
import math
import os
import stat
from pathlib import Path

import numpy as np
import pytest

from ketasim.cli import main
from ketasim.errors import EventError, KetasimError, UnitError
from ketasim.events import Regimen
from ketasim.io.nonmem_csv import read_nonmem_csv
from ketasim.units import parse_quantity

HERD = ["simulate", "herd_2007", "--weight", "20 kg", "--until", "2 h"]
POP = ["population", "herd_2007", "--dose", "1 mg/kg", "--weight", "20 kg", "--until", "2 h"]
POP += ["--n", "4", "--seed", "1", "--no-progress"]
TCI = ["tci", "herd_2007", "--duration", "10 min", "--weight", "20 kg", "--target", "150 ng/mL"]
CMP = ["compare-models", "--drug", "racemic", "--dose", "1 mg/kg", "--weight", "20 kg"]
DESIGN = ["design", "herd_2007", "--target", "ketamine 100-250 ng/mL for >= 5 min"]
DESIGN += ["--weight", "20 kg", "--n", "4", "--seed", "1", "--steps", "2", "--vary", "dose"]
DESIGN += ["--range", "0.1-1 mg/kg"]
DATA = "ID,TIME,AMT,EVID,WT\n1,0,20,1,20\n1,1,0,0,20\n1,2,0,0,20\n"
FIT_DATA = "ID,TIME,AMT,EVID,DV,WT\n1,0,50,1,0,70\n1,0.5,0,0,400,70\n1,2,0,0,150,70\n"
FIT = ["fit", "herd_2007", "fit_data.csv", "--dv-unit", "ng/mL"]
FIT += ["--residual", "ketamine=proportional:0.2"]


def _snapshot(folder: Path) -> dict[str, tuple[int, bytes]]:
    out = {}
    for p in sorted(folder.rglob("*")):
        if p.is_file() and not p.is_symlink():
            out[str(p.relative_to(folder))] = (p.stat().st_mode, p.read_bytes())
        else:
            out[str(p.relative_to(folder))] = (0, b"")
    return out


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    buf = io.StringIO()
    code = main(argv, out=buf)
    return code, buf.getvalue(), capsys.readouterr().err


def _refused(code: int, err: str, culprit: str) -> None:
    assert code == 2, err
    lines = [x for x in err.splitlines() if x.startswith("ketasim: error")]
    assert len(lines) == 1, err
    assert culprit in lines[0], lines[0]
    assert "Traceback" not in err


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data.csv").write_text(DATA)
    (tmp_path / "fit_data.csv").write_text(FIT_DATA)
    ro = tmp_path / "ro.csv"
    ro.write_text("read-only\n")
    ro.chmod(0o444)
    (tmp_path / "adir").mkdir()
    return tmp_path


CASES = [
    # quantities: decimal comma (pint read '2,5 mg' as 25 mg, '0,5 mg' as 0 mg)
    ([*HERD, "--dose", "2,5 mg"], "'2,5 mg'"),
    ([*HERD, "--dose", "0,5 mg"], "'0,5 mg'"),
    ([*HERD, "--dose", "1,000 mg"], "'1,000 mg'"),
    ([*HERD, "--dose", "20 mg", "--duration", "0,25 h"], "'0,25 h'"),
    ([*POP, "--target", "ketamine > 0,5 mg/L"], "'0,5 mg/L'"),
    ([*TCI[:-1], "0,5 mg/L"], "0,5 mg/L"),
    (["screen", "--drug", "esketamine", "--age", "0,5 yr"], "'0,5 yr'"),
    (["effects", "herd_2007", "--weight", "20 kg", "--dose", "0,5 mg/kg"], "'0,5 mg/kg'"),
    ([*CMP, "--dose", "0,5 mg/kg"], "'0,5 mg/kg'"),
    # a unit with no number (pint: 1 mg), a unicode minus (pint dropped the sign)
    ([*HERD, "--dose", "mg"], "'mg'"),
    ([*HERD, "--dose", "\u22125 mg"], "'\u22125 mg' must be more than 0"),
    ([*HERD, "--dose", "20 mg\u200b"], "'20 mg\\u200b'"),
    # units in the wrong case (pint: MG megagauss, ML megalitre, Min megainch)
    ([*HERD, "--dose", "20 MG"], "'20 mg'"),
    ([*HERD, "--dose", "1 MG/KG"], "'1 mg/kg'"),
    ([*HERD, "--dose", "20 mg", "--duration", "40 MIN"], "'40 min'"),
    ([*HERD, "--dose", "20 mg", "--duration", "40 Min"], "'40 min'"),
    ([*HERD, "--dose", "20 mg", "--age", "5 YR"], "'5 yr'"),
    (["simulate", "herd_2007", "--dose", "20 mg", "--weight", "70 KG"], "'70 kg'"),
    ([*POP, "--target", "ketamine > 100 NG/ML"], "'100 ng/mL'"),
    # regimen values named as written
    ([*HERD, "--dose", "0 mg"], "'0 mg'"),
    ([*HERD, "--dose", "-0 mg"], "'-0 mg'"),
    ([*HERD, "--dose", "20 mg", "--duration", "-5 min"], "'-5 min'"),
    ([*HERD, "--dose", "20 mg", "--duration", "1e9 h"], "'1e9 h'"),
    ([*HERD, "--dose", "20 mg", "--every", "-1 h", "--count", "3"], "'-1 h'"),
    ([*HERD, "--dose", "20 mg", "--every", "1e9 h", "--count", "3"], "'1e9 h'"),
    (
        [*HERD, "--dose", "20 mg", "--every", "10 min", "--count", "3", "--duration", "40 min"],
        "'40 min' is longer than the interval '10 min'",
    ),
    # every option used or refused
    ([*HERD, "--dose", "20 mg", "--every", "12 h"], "--every '12 h'"),
    ([*POP, "--every", "12 h"], "--every '12 h'"),
    ([*CMP, "--every", "12 h"], "--every '12 h'"),
    ([*DESIGN, "--every", "12 h"], "--every '12 h'"),
    ([*POP, "--interaction", "clarithromycin_oral_s_ketamine"], "--interaction"),
    ([*POP, "--timeout", "5"], "--timeout 5"),
    ([*TCI, "--step", "1 min"], "--step '1 min'"),
    ([*CMP, "--plot", "cmp.csv"], "cmp.csv"),
    (["fit", "herd_2007", "fit_data.csv", "--out", "fit.csv", "--sir", "0"], "--sir 0"),
    # sizes that exhausted memory
    ([*TCI, "--duration", "1e6 h"], "'1e6 h'"),
    # output paths
    ([*HERD, "--dose", "20 mg", "--out", "ro.csv"], "'ro.csv' is read-only"),
    (["simulate", "herd_2007", "data.csv", "--out", "ro.csv"], "'ro.csv' is read-only"),
    ([*FIT, "--out", "fit_data.csv"], "fit_data.csv"),
    ([*FIT, "--out", "./fit_data.csv"], "fit_data.csv"),
    ([*FIT, "--out", "missing/fit.csv"], "missing/fit.csv"),
    ([*FIT, "--out", "adir"], "adir"),
    ([*FIT, "--out", "fit.txt"], "fit.txt"),
    ([*FIT, "--out", "ro.csv"], "'ro.csv' is read-only"),
]


@pytest.mark.parametrize(("argv", "culprit"), CASES, ids=[f"{i}" for i in range(len(CASES))])
def test_unseen_bad_input_exit_2_one_line_no_file(
    argv: list[str], culprit: str, folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = _snapshot(folder)
    code, _, err = _run(argv, capsys)
    _refused(code, err, culprit)
    assert _snapshot(folder) == before


PATIENT_CASES = [
    ("WT,WT\n20\n", "duplicate column(s) WT"),
    ("WT\nnan\n", "'nan' is not a finite number"),
    ("WT\ninf\n", "'inf' is not a finite number"),
    ("WT\n-5\n", "WT = -5 kg is not possible"),
    ("WT,\n20,1\n", "empty column name"),
]


@pytest.mark.parametrize(("text", "culprit"), PATIENT_CASES)
def test_patients_table_bad_input_refused_before_any_warning(
    text: str, culprit: str, folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (folder / "pat.csv").write_text(text)
    argv = [*POP, "--patients", "pat.csv"]
    argv.remove("--weight")
    argv.remove("20 kg")
    before = _snapshot(folder)
    code, _, err = _run(argv, capsys)
    _refused(code, err, culprit)
    assert err.startswith("ketasim: error"), err  # refused first, no warning on the way
    assert _snapshot(folder) == before


def test_patients_table_with_bom_crlf_and_blank_lines_reads(
    folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (folder / "pat.csv").write_bytes(b"\xef\xbb\xbfWT\r\n20\r\n\r\n25\r\n")
    argv = [*POP, "--patients", "pat.csv", "--n", "2"]
    argv.remove("--weight")
    argv.remove("20 kg")
    code, _, err = _run(argv, capsys)
    assert code == 0, err


# --- accepted input: exit 0, the right numbers, nothing non-finite or negative -----------------
def _csv_numbers(text: str) -> np.ndarray:
    vals = []
    for line in text.splitlines()[1:]:
        if line.startswith("#"):
            continue
        for cell in line.split(","):
            try:
                vals.append(float(cell))
            except ValueError:
                continue
    return np.asarray(vals)


@pytest.mark.parametrize("dose", ["20 \u00b5g", "20 \u03bcg", "20 ug", "20 mcg", "0.02 mg"])
def test_micro_signs_mean_the_same_dose(dose: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run([*HERD, "--dose", dose, "--step", "30 min"], capsys)
    assert code == 0, err
    ref_code, ref, _ = _run([*HERD, "--dose", "0.02 mg", "--step", "30 min"], capsys)
    assert ref_code == 0 and out == ref


@pytest.mark.parametrize("unit", ["\u00b5g/L", "\u03bcg/mL", "NG/ML", "ng / mL"])
def test_display_unit_spellings_accepted(unit: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run([*HERD, "--dose", "20 mg", "--unit", unit], capsys)
    assert code == 0, err


def test_full_width_digits_and_no_break_space_read_as_plain() -> None:
    assert float(parse_quantity("\uff15 mg").to("mg").magnitude) == 5.0
    assert float(parse_quantity("5\u00a0mg").to("mg").magnitude) == 5.0


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("2,5 mg", "comma"),
        ("mg", "no number"),
        ("20 MG", "case-sensitive"),
        ("5 mg\u200b", "character"),
    ],
)
def test_api_regimen_refuses_ambiguous_quantities(text: str, why: str) -> None:
    with pytest.raises(UnitError, match=why):
        Regimen.from_quantities(text)


def test_api_regimen_unicode_minus_is_a_negative_dose() -> None:
    with pytest.raises(EventError, match="must be more than 0"):
        Regimen.from_quantities("\u22125 mg")


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"duration": "-5 min"}, "duration '-5 min' must not be negative"),
        ({"every": "-1 h"}, "interval '-1 h' must not be negative"),
        ({"duration": "1e300 h"}, "more than 1e6 h"),
    ],
)
def test_api_regimen_names_bad_times_as_written(kw: dict[str, str], match: str) -> None:
    with pytest.raises(KetasimError, match=match):
        Regimen.from_quantities("5 mg", **kw)


def test_dataset_with_windows_line_endings_and_mixed_case_reads_the_same(
    folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (folder / "crlf.csv").write_bytes(DATA.lower().replace("\n", "\r\n").encode())
    code_a, a, _ = _run(["simulate", "herd_2007", "crlf.csv"], capsys)
    code_b, b, _ = _run(["simulate", "herd_2007", "data.csv"], capsys)
    assert code_a == code_b == 0 and a == b


def test_huge_amounts_give_no_negative_amount(folder: Path, capsys: pytest.CaptureFixture[str]):
    # round-off negatives scale with the dose: AMT 1e16 mg gave PERIPH1 = -2 mg at time 0
    (folder / "big.csv").write_text("ID,TIME,AMT,EVID,WT\n1,0,1e16,1,20\n1,1,0,0,20\n")
    code, out, err = _run(["simulate", "herd_2007", "big.csv"], capsys)
    assert code == 0, err
    vals = _csv_numbers(out)
    assert np.all(np.isfinite(vals)) and np.all(vals >= 0)


def test_dataset_without_doses_warns_loudly(folder: Path, capsys: pytest.CaptureFixture[str]):
    (folder / "obs.csv").write_text("ID,TIME,DV,WT\n1,0,0,20\n1,1,5,20\n")
    code, _, err = _run(["simulate", "herd_2007", "obs.csv"], capsys)
    assert code == 0
    assert "'obs.csv' has no dose record" in err


def test_tci_without_syringe_writes_no_nan(folder: Path, capsys: pytest.CaptureFixture[str]):
    code, out, err = _run([*TCI, "--out", "plan.csv"], capsys)
    assert code == 0, err
    for name in ("plan.csv", "plan_predicted.csv"):
        text = (folder / name).read_text()
        assert "nan" not in text.lower() and "inf" not in text.lower()
        vals = _csv_numbers(text)
        assert np.all(vals >= 0)
    assert "max rate inf" not in out


def test_each_warning_is_printed_once(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run([*HERD, "--dose", "20 g"], capsys)
    assert code == 0
    lines = [x for x in err.splitlines() if "PlausibilityWarning" in x]
    assert len(lines) == 1, err


def test_simulate_method_is_used_with_a_regimen(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # NOTE: both solvers print the same 6 digits here, so the call itself is checked
    import ketasim.cli.common as common

    methods: list[object] = []
    real = common.simulate

    def spy(*args: object, **kwargs: object) -> object:
        methods.append(kwargs.get("method"))
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(common, "simulate", spy)
    code, out, _ = _run([*HERD, "--dose", "20 mg", "--method", "ode"], capsys)
    assert code == 0 and methods == ["ode"]
    assert np.all(_csv_numbers(out) >= 0)


def test_out_to_dev_null_keeps_the_device(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run([*HERD, "--dose", "20 mg", "--out", os.devnull], capsys)
    assert code == 0, err
    assert stat.S_ISCHR(os.stat(os.devnull).st_mode)


# --- leftover: reading progress ------------------------------------------------------------------
def _big_dataset(path: Path, subjects: int) -> None:
    lines = ["ID,TIME,AMT,EVID,WT"]
    for i in range(1, subjects + 1):
        lines.append(f"{i},0,20,1,20")
        lines += [f"{i},{t},0,0,20" for t in range(1, 10)]
    path.write_text("\n".join(lines) + "\n")


def test_reading_shows_no_progress_by_default(tmp_path: Path, capsys) -> None:
    path = tmp_path / "big.csv"
    _big_dataset(path, 3000)
    ds = read_nonmem_csv(path)
    assert len(ds) == 30_000
    assert capsys.readouterr().err == ""


def test_reading_progress_bar_when_asked(tmp_path: Path, capsys, monkeypatch) -> None:
    import tqdm

    path = tmp_path / "big.csv"
    _big_dataset(path, 300)
    seen: list[dict[str, object]] = []
    real = tqdm.tqdm

    def spy(*args: object, **kwargs: object) -> object:
        seen.append(kwargs)
        kwargs["delay"] = 0  # show it even for this small file
        return real(*args, **kwargs)

    monkeypatch.setattr(tqdm, "tqdm", spy)
    ds = read_nonmem_csv(path, progress=True)
    assert len(ds) == 3000
    assert seen and seen[0]["disable"] is False and seen[0]["total"] == 3002
    assert "reading" in capsys.readouterr().err


def test_reading_numbers_keeps_line_of_a_bad_cell(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("ID,TIME,AMT,EVID\n1,0,20,1\n1,1,inf,0\n")
    with pytest.raises(KetasimError, match=r"line 3: column AMT value 'inf' is not finite"):
        read_nonmem_csv(path)
    assert math.isfinite(float(read_nonmem_csv(io.StringIO(DATA))["AMT"][0]))
