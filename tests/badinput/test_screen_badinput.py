"""Bad input to ``ketasim screen`` and ``ketasim info``: exit 2, one line naming it, no file."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest

from ketasim.cli import main

CASES = [
    (["screen", "--drug", "esketamine", "--drug-taken", "clarithromyzin"], "'clarithromyzin'"),
    (["screen", "--drug", "esketamin"], "'esketamin'"),
    (["screen", "--drug", "esketamine", "--sex", "male", "--pregnant"], "sex 'male' and pregnant"),
    (["screen", "--drug", "esketamine", "--hypertension", "sometimes"], "'sometimes'"),
    (["screen", "--drug", "esketamine", "--cardiovascular", "gout"], "'gout'"),
    (["screen", "--drug", "esketamine", "--age", "45"], "45"),
    (["screen", "--drug", "esketamine", "--age", "-3 yr"], "age -3"),
    (["screen", "--drug", "esketamine", "--route", "inhaled"], "'inhaled'"),
    (["screen", "--drug", "esketamine", "--format", "xml"], "'xml'"),
    (["screen", "--list-drugs", "--pregnant"], "--pregnant"),
    (["screen", "--pregnant"], "--drug"),
    (["info", "esketamine", "--section", "dosing"], "'dosing'"),
    (["info", "ketamin"], "'ketamin'"),
    (["info", "esketamine", "--format", "pdf"], "'pdf'"),
    (["info", "esketamine", "--no-pk", "--section", "pk_summary"], "--no-pk"),
]


@pytest.mark.parametrize(("argv", "culprit"), CASES)
def test_bad_input_exit_2_one_line_naming_it(
    argv: list[str],
    culprit: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    out = io.StringIO()
    code = main(argv, out=out)
    err = capsys.readouterr().err
    assert code == 2
    assert out.getvalue() == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("ketasim: error: ") and culprit in lines[0]
    assert "Traceback" not in err
    assert os.listdir(tmp_path) == []
