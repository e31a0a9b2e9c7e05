"""Fuzzing the CLI's argument strings and dataset files (issue 12): whatever comes in, no
traceback, no internal error, no partial file, and never exit 0 with NaN, inf or a negative
concentration in the output."""

from __future__ import annotations

import io
import math
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ketasim.cli import main

NUMBERS = st.sampled_from(
    ["0", "1", "20", "-5", "1e9", "1e-300", "nan", "inf", "0.5", "2.5", "", " ", "1e400"]
)
UNITS = st.sampled_from(
    ["mg", "mg/kg", "ug/kg", "kg", "g", "h", "min", "d", "s", "%", "ng/mL", "L", "mL", "", "xyz"]
)
QUANTITY = st.builds(lambda n, u: f"{n} {u}".strip(), NUMBERS, UNITS) | st.text(max_size=12)
OPTIONS = st.sampled_from(
    ["--dose", "--duration", "--every", "--count", "--until", "--step", "--weight", "--age",
     "--sex", "--route", "--unit", "--covariate", "--param", "--interaction"]
)  # fmt: skip
SETTINGS = settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


def _check_outputs(code: int, err: str, out_file: Path, existed: bool) -> None:
    assert code in (0, 2), err
    assert "Traceback" not in err and "internal error" not in err, err
    if code == 2:
        assert len([x for x in err.splitlines() if x.startswith("ketasim: error")]) == 1, err
        assert out_file.exists() == existed  # nothing written on an error
        return
    if out_file.exists():
        df = pd.read_csv(out_file, comment="#")
        conc = df[[c for c in df.columns if c.endswith(("_ng_mL", "_mg_L", "_nmol_L"))]]
        values = conc.to_numpy(dtype=float)
        assert np.all(np.isfinite(values)), "exit 0 with a non-finite concentration"
        assert np.all(values >= 0), "exit 0 with a negative concentration"


@SETTINGS
@given(pairs=st.lists(st.tuples(OPTIONS, QUANTITY), min_size=1, max_size=6))
def test_fuzzed_regimen_options_never_crash_or_write_garbage_issue_12(
    pairs: list[tuple[str, str]], tmp_path_factory: pytest.TempPathFactory
) -> None:
    folder = tmp_path_factory.mktemp("fuzz")
    out_file = folder / "o.csv"
    argv = ["simulate", "herd_2007", "--out", str(out_file)]
    for option, value in pairs:
        argv += [option, value]
    if "--dose" not in argv:
        argv += ["--dose", "20 mg"]
    err = io.StringIO()
    import contextlib

    with warnings.catch_warnings(), contextlib.redirect_stderr(err):
        warnings.simplefilter("ignore")
        code = main(argv, out=io.StringIO())
    _check_outputs(code, err.getvalue(), out_file, existed=False)


CELLS = st.sampled_from(
    ["0", "1", "2", "10", "20", "-1", ".", "", "nan", "inf", "1e308", "abc", "\u00b5", "3.5",
     "1e9", " 4 ", "CENTRAL", "iv"]
)  # fmt: skip
HEADERS = st.lists(
    st.sampled_from(
        [
            "ID",
            "TIME",
            "AMT",
            "EVID",
            "CMT",
            "RATE",
            "II",
            "ADDL",
            "SS",
            "DV",
            "WT",
            "MDV",
            "USUBJID",
            "ETA1",
            "FOO",
            "ROUTE",
            "id",
            "time",
        ]
    ),
    min_size=1,
    max_size=8,
)


@SETTINGS
@given(
    header=HEADERS,
    rows=st.lists(st.lists(CELLS, min_size=1, max_size=8), min_size=0, max_size=6),
    bom=st.booleans(),
    encoding=st.sampled_from(["utf-8", "latin-1", "utf-16"]),
)
def test_fuzzed_dataset_files_never_crash_or_write_garbage_issue_12(
    header: list[str],
    rows: list[list[str]],
    bom: bool,
    encoding: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    folder = tmp_path_factory.mktemp("fuzzdata")
    text = ",".join(header) + "\n" + "".join(",".join(r) + "\n" for r in rows)
    data = folder / "data.csv"
    raw = text.encode(encoding, errors="replace")
    data.write_bytes((b"\xef\xbb\xbf" if bom and encoding == "utf-8" else b"") + raw)
    before = data.read_bytes()
    out_file = folder / "o.csv"
    err = io.StringIO()
    import contextlib

    with warnings.catch_warnings(), contextlib.redirect_stderr(err):
        warnings.simplefilter("ignore")
        code = main(["simulate", "herd_2007", str(data), "--out", str(out_file)], out=io.StringIO())
    _check_outputs(code, err.getvalue(), out_file, existed=False)
    assert data.read_bytes() == before  # the input is never touched
    assert not math.isnan(float(code))
