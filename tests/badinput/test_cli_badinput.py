"""Bad input on the CLI (issue 12): exit code 2, one line naming the input as the user wrote it,
no file created or changed (the folder is listed before and after), no traceback."""

from __future__ import annotations

import io
import os
import stat
from pathlib import Path

import pytest

from ketasim.cli import main

HERD = ["simulate", "herd_2007", "--dose", "1 mg/kg", "--weight", "20 kg", "--until", "2 h"]
POP = ["population", "herd_2007", "--n", "8", "--seed", "1", "--dose", "1 mg/kg"]
POP += ["--weight", "20 kg", "--until", "2 h", "--no-progress"]
DATA = "ID,TIME,AMT,EVID,WT\n1,0,20,1,20\n1,1,0,0,20\n1,2,0,0,20\n"


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
    err = capsys.readouterr().err
    return code, buf.getvalue(), err


def _assert_clean_refusal(code: int, err: str, culprit: str) -> None:
    assert code == 2, err
    lines = [x for x in err.splitlines() if x.startswith("ketasim: error")]
    assert len(lines) == 1, err
    assert culprit in lines[0], lines[0]
    assert "Traceback" not in err


CASES = [
    # regimen options
    (["simulate", "herd_2007", "--dose", "20", "--weight", "20 kg"], "'20'"),
    (["simulate", "herd_2007", "--dose", "5 %", "--weight", "20 kg"], "5 %"),
    (["simulate", "herd_2007", "--dose", "5 mL", "--weight", "20 kg"], "5 mL"),
    (["simulate", "herd_2007", "--dose", "inf mg", "--weight", "20 kg"], "inf mg"),
    (["simulate", "herd_2007", "--dose", "-5 mg", "--weight", "20 kg"], "-5"),
    (["simulate", "herd_2007", "--dose", "1 mg/kg"], "weight"),
    (["simulate", "herd_2007", "--dose", "20 mg", "--weight", "20"], "'20'"),
    (["simulate", "herd_2007", "--dose", "20 mg", "--weight", "20 min"], "20 min"),
    (["simulate", "herd_2007", "--dose", "20 mg", "--weight", "nan kg"], "nan kg"),
    ([*HERD, "--duration", "40"], "'40'"),
    ([*HERD, "--duration", "40 mg"], "40 mg"),
    ([*HERD, "--every", "12 h", "--count", "0"], "count"),
    ([*HERD, "--count", "3"], "interval"),
    ([*HERD, "--every", "1 h", "--count", "2", "--duration", "2 h"], "longer than the interval"),
    ([*HERD, "--count", "1000000", "--every", "1 h"], "1000000"),
    ([*HERD, "--until", "-1 h"], "--until"),
    ([*HERD, "--until", "1e300 h"], "--until"),
    ([*HERD, "--step", "0 min"], "--step"),
    ([*HERD, "--step", "3 h"], "--step"),
    ([*HERD, "--step", "1 s", "--until", "100 d"], "200000"),
    ([*HERD, "--route", "intranasal"], "intranasal"),
    ([*HERD, "--unit", "furlongs"], "furlongs"),
    ([*HERD, "--unit", "mg/L", "--molar"], "--molar"),
    ([*HERD, "--covariate", "WT=30 kg"], "WT"),
    ([*HERD, "--covariate", "FOO=1"], "FOO"),
    ([*HERD, "--covariate", "NOEQUALS"], "NOEQUALS"),
    ([*HERD, "--param", "CL=ten"], "ten"),
    ([*HERD, "--param", "CL=5"], "CL '5'"),
    ([*HERD, "--param", "NOPE=1 L/h"], "NOPE"),
    ([*HERD, "--sex", "other"], "other"),
    ([*HERD, "--interaction", "no_such_modifier"], "no_such_modifier"),
    (["simulate", "no_such_model", "--dose", "20 mg"], "no_such_model"),
    (["simulate", "pk1", "--dose", "20 mg"], "pk1"),
    # effects and population
    (
        ["effects", "herd_2007", "--dose", "1 mg/kg", "--weight", "20 kg", "--plot", "x.png"],
        "--plot",
    ),
    ([*POP[:3], "0", *POP[4:]], "--n 0"),
    ([*POP[:3], "-5", *POP[4:]], "--n -5"),
    ([*POP[:3], "1000000000", *POP[4:]], "1000000000"),
    ([*POP, "--scheduler", "not a url"], "not a url"),
    ([*POP, "--timeout", "-1"], "-1"),
    ([*POP, "--target", "ketamine >> 5"], "ketamine >> 5"),
    ([*POP, "--target", "ketamine > 5"], "ketamine > 5"),
    ([*POP, "--target", "nothing > 5 ng/mL"], "nothing"),
    ([*POP, "--covariate-dist", "WT=70"], "WT=70"),
    ([*POP, "--out", "x.txt"], "x.txt"),
]


@pytest.mark.parametrize(("argv", "culprit"), CASES, ids=[" ".join(a[3:8]) for a, _ in CASES])
def test_cli_bad_input_exit_2_one_line_no_file_issue_12(
    argv: list[str], culprit: str, tmp_path: Path, capsys, monkeypatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "keep.csv").write_text("precious\n")
    before = _snapshot(tmp_path)
    code, _, err = _run(argv, capsys)
    _assert_clean_refusal(code, err, culprit)
    assert _snapshot(tmp_path) == before


def _dataset(tmp_path: Path, text: str) -> str:
    p = tmp_path / "data.csv"
    p.write_text(text)
    return str(p)


DATA_CASES = [
    ("ID,TIME,AMT,EVID\n1,0,20,1\n1,one,0,0\n", "'one'"),
    ("1,0,20,1\n1,1,0,0\n", "header"),
    ("ID,TIME,AMT,EVID,ETA_KA\n1,0,20,1,0.1\n1,1,0,0,0.1\n", "ETA_KA"),
    ("ID,TIME,AMT,EVID,ETA1\n1,0,20,1,0.1\n1,1,0,0,0.2\n", "ETA1"),
    ("ID,TIME,AMT,EVID,CMT,WT\n1,0,20,1,GUT,20\n1,1,0,0,.,20\n", "GUT"),
    ("ID,TIME,AMT,EVID,WT\n1,0,20,1,\n1,1,0,0,20\n", "WT"),
    ("ID,TIME,AMT,EVID,WT\n1,0,20,1,abc\n1,1,0,0,20\n", "WT"),
    ("ID,TIME,AMT,EVID\n1,2,20,1\n1,1,0,0\n", "record 2"),
    ("ID,TIME,AMT,EVID\n1,0,-20,1\n", "AMT=-20"),
    ("ID,TIME,AMT,EVID,ADDL,II,WT\n1,0,20,1,1000000000,1,20\n", "ADDL"),
    ("ID,TIME,AMT,EVID\n", "no records"),
    ("", "empty"),
    ("ID,TIME,ID\n1,0,1\n", "duplicate"),
]


@pytest.mark.parametrize(("text", "culprit"), DATA_CASES)
def test_dataset_bad_input_exit_2_one_line_no_file_issue_12(
    text: str, culprit: str, tmp_path: Path, capsys, monkeypatch
) -> None:
    monkeypatch.chdir(tmp_path)
    data = _dataset(tmp_path, text)
    before = _snapshot(tmp_path)
    code, _, err = _run(["simulate", "herd_2007", data, "--out", "out.csv"], capsys)
    _assert_clean_refusal(code, err, culprit)
    assert _snapshot(tmp_path) == before


def test_dataset_with_regimen_options_is_refused_issue_12(tmp_path: Path, capsys) -> None:
    data = _dataset(tmp_path, DATA)
    for extra, name in (
        (["--plot", str(tmp_path / "p.png")], "--plot"),
        (["--weight", "70 kg"], "--weight"),
        (["--covariate", "WT=20"], "--covariate"),
        (["--route", "im"], "--route"),
    ):
        code, _, err = _run(["simulate", "herd_2007", data, *extra], capsys)
        _assert_clean_refusal(code, err, name)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.csv"]


# --- output paths --------------------------------------------------------------------------------
def test_out_equal_to_the_input_dataset_is_refused_and_input_kept_issue_12(tmp_path, capsys):
    data = _dataset(tmp_path, DATA)
    code, _, err = _run(["simulate", "herd_2007", data, "--out", data], capsys)
    _assert_clean_refusal(code, err, "data.csv")
    assert Path(data).read_text() == DATA


def test_out_and_plot_on_the_same_file_are_refused_issue_12(tmp_path, capsys):
    same = str(tmp_path / "same.csv")
    code, _, err = _run([*HERD, "--out", same, "--plot", same], capsys)
    _assert_clean_refusal(code, err, "same.csv")
    assert not Path(same).exists()


def test_plot_in_a_missing_folder_is_refused_before_any_output_issue_12(tmp_path, capsys):
    out = tmp_path / "o.csv"
    code, _, err = _run([*HERD, "--out", str(out), "--plot", "/nonexistent/dir/x.png"], capsys)
    _assert_clean_refusal(code, err, "/nonexistent/dir/x.png")
    assert ".tmp" not in err
    assert not out.exists()


def test_patients_table_as_output_is_refused_issue_12(tmp_path, capsys):
    patients = tmp_path / "patients.csv"
    patients.write_text("WT\n20\n25\n")
    argv = [*POP, "--patients", str(patients), "--out", str(patients)]
    argv.remove("--weight")
    argv.remove("20 kg")
    code, _, err = _run(argv, capsys)
    _assert_clean_refusal(code, err, "patients.csv")
    assert patients.read_text() == "WT\n20\n25\n"


def test_out_through_a_symlink_replaces_the_target_and_keeps_the_link_issue_12(tmp_path, capsys):
    target = tmp_path / "real.csv"
    target.write_text("old\n")
    link = tmp_path / "link.csv"
    link.symlink_to(target)
    code, _, _ = _run([*HERD, "--out", str(link)], capsys)
    assert code == 0
    assert link.is_symlink() and link.resolve() == target.resolve()
    assert target.read_text().startswith("ID,TIME_h")


def test_out_to_a_fifo_writes_through_and_keeps_the_fifo_issue_12(tmp_path, capsys):
    import threading

    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)
    got: list[bytes] = []

    def reader() -> None:
        with open(fifo, "rb") as fh:
            got.append(fh.read())

    t = threading.Thread(target=reader)
    t.start()
    try:
        code = 1
        for _ in range(50):  # the reader must have opened its end first
            code, _, err = _run([*HERD, "--out", str(fifo)], capsys)
            if code == 0 or "no reader" not in err:
                break
            import time

            time.sleep(0.05)
        assert code == 0
    finally:
        t.join(timeout=10)
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)
    assert got and got[0].startswith(b"ID,TIME_h")


def test_out_to_a_fifo_without_reader_is_an_error_not_a_hang_issue_12(tmp_path, capsys):
    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)
    code, _, err = _run([*HERD, "--out", str(fifo)], capsys)
    _assert_clean_refusal(code, err, "no reader")
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)


def test_out_to_a_character_device_writes_through_and_keeps_the_device_issue_12(tmp_path, capsys):
    dev = tmp_path / "null"
    try:
        os.mknod(dev, 0o666 | stat.S_IFCHR, os.makedev(1, 3))  # a private /dev/null twin
    except PermissionError:
        dev = Path(os.devnull)  # NOTE: not root: the real null device is written through only
    code, _, _ = _run([*HERD, "--out", str(dev)], capsys)
    assert code == 0
    assert stat.S_ISCHR(os.stat(dev).st_mode)


def test_out_to_a_full_device_is_a_clean_error_issue_12(tmp_path, capsys):
    dev = tmp_path / "full"
    try:
        os.mknod(dev, 0o666 | stat.S_IFCHR, os.makedev(1, 7))  # /dev/full's numbers
    except PermissionError:
        dev = Path("/dev/full")
    if not dev.exists():
        return  # NOTE: no full device on this system; the write-through path is tested above
    code, _, err = _run([*HERD, "--out", str(dev)], capsys)
    _assert_clean_refusal(code, err, str(dev))
    assert stat.S_ISCHR(os.stat(dev).st_mode)


def test_new_files_get_the_users_umask_issue_7(tmp_path, capsys):
    out = tmp_path / "o.csv"
    old = os.umask(0o022)
    try:
        assert _run([*HERD, "--out", str(out)], capsys)[0] == 0
    finally:
        os.umask(old)
    assert stat.S_IMODE(out.stat().st_mode) == 0o644


def test_version_and_help_exit_0(capsys):
    assert main(["--version"]) == 0
    assert "ketasim" in capsys.readouterr().out
