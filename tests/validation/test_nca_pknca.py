"""NCA against PKNCA's published reference values (its testthat suite, commit 686509f9).

Data and values: ``tests/validation/data/pknca_reference.json`` (each case names its PKNCA
file and test) and ``pknca_theoph.csv`` (R's datasets::Theoph). Tolerances are those PKNCA's
own expectations use (testthat's default 1.5e-8 where none is given; 1e-4 or 1e-5 where
PKNCA prints values to that precision), so these tests fail exactly where PKNCA's would.
"""

from __future__ import annotations

import csv
import json
import math
import re
from pathlib import Path

import numpy as np
import pytest

from ketasim.nca import (
    BLQRule,
    apply_blq_rule,
    compute_auc_all,
    compute_auc_interval,
    compute_auc_last,
    compute_lambda_z,
    compute_nca,
)

DATA = Path(__file__).parent / "data"
REF = json.loads((DATA / "pknca_reference.json").read_text())


def _value(x: float | str | None) -> float:
    if x is None:
        return math.nan
    if isinstance(x, str):  # PKNCA writes some expectations as "a+b/log(2)"
        m = re.fullmatch(r"([\d.]+)\+([\d.]+)/log\(2\)", x)
        assert m, x
        return float(m[1]) + float(m[2]) / math.log(2)
    return float(x)


def _auc_cases() -> list[tuple[dict, str]]:
    return [(c, m) for c in REF["auc_cases"] for m in c["expected"]]


@pytest.mark.parametrize(("case", "method"), _auc_cases(), ids=lambda x: str(x)[:40])
def test_pknca_auc_cases(case: dict, method: str) -> None:
    t, c, dropped = apply_blq_rule(
        np.array(case["time"], float), np.array(case["conc"], float), BLQRule(**case["blq"])
    )
    want = case["expected"][method]
    auclast = compute_auc_last(t, c, method).value
    aucall = compute_auc_all(t, c, method).value
    lz = case["lambda_z"]
    clast = float(c[np.flatnonzero(c > 0)[-1]])
    aucinf = auclast + clast / lz if lz else math.nan
    tol = case["tolerance"]
    assert auclast == pytest.approx(_value(want["AUCLST"]), rel=tol)
    assert aucall == pytest.approx(_value(want["AUCALL"]), rel=tol)
    assert aucinf == pytest.approx(_value(want["AUCIFO"]), rel=tol, nan_ok=True)


def test_pknca_auc_case_through_compute_nca_with_reason() -> None:
    case = REF["auc_cases"][-1]  # lambda_z not estimable: AUCinf is NA in PKNCA
    res = compute_nca(np.array(case["time"], float), np.array(case["conc"], float),
                      time_unit="h", conc_unit="mg/L", method="linear")  # fmt: skip
    assert res.get("AUCLST") == pytest.approx(7.0, rel=1.5e-8)
    row = res.get_row("AUCIFO")
    assert math.isnan(row.value) and row.reason.startswith("LAMZ missing")


@pytest.mark.parametrize("case", REF["aucint_cases"], ids=lambda c: c["test"][-40:])
def test_pknca_aucint_extrapolation_cases(case: dict) -> None:
    lz = {"log(2)": math.log(2), "2*log(2)": 2 * math.log(2)}[case["lambda_z"]]
    got = compute_auc_interval(
        np.array(case["time"], float), np.array(case["conc"], float), *case["interval"],
        lambda_z=lz,
    )  # fmt: skip
    assert got.value == pytest.approx(_value(case["expected"]), rel=case["tolerance"])


@pytest.mark.parametrize("case", REF["half_life_cases"], ids=lambda c: c["test"][:50])
def test_pknca_half_life_cases(case: dict) -> None:
    fit = compute_lambda_z(
        np.array(case["time"], float), np.array(case["conc"], float),
        min_points=case["min_points"], adj_r2_tolerance=case["adj_r2_tolerance"],
        allow_tmax=case["allow_tmax"],
    )  # fmt: skip
    got = {
        "LAMZ": fit.lambda_z, "R2": fit.r2, "R2ADJ": fit.adj_r2, "CORRXY": fit.corrxy,
        "LAMZLL": fit.t_first, "LAMZUL": fit.t_last, "LAMZNPT": fit.n_points,
        "CLSTP": fit.clast_pred, "LAMZHL": fit.half_life, "LAMZSPN": fit.span_ratio,
    }  # fmt: skip
    for code, want in case["expected"].items():
        if want is None:
            assert math.isnan(got[code]) and case["reason_contains"] in fit.reason
        else:
            assert got[code] == pytest.approx(want, rel=case["tolerance"], abs=1e-12), code


def _theoph() -> dict[str, list[str]]:
    lines = [ln for ln in (DATA / "pknca_theoph.csv").read_text().splitlines()
             if not ln.startswith("#")]  # fmt: skip
    rows = list(csv.reader(lines))[1:]
    return {"ID": [r[0] for r in rows], "TIME_h": [r[3] for r in rows],
            "CONC_mg_L": [r[4] for r in rows]}  # fmt: skip


def test_pknca_theoph_subject_1_half_life() -> None:
    ref = REF["theoph"]["subject_1_half_life"]
    res = compute_nca(_theoph())
    assert res.get("LAMZHL", "1") == pytest.approx(ref["LAMZHL"], rel=ref["tolerance"])


def test_pknca_theoph_lambda_z_point_selection_all_subjects() -> None:
    """Which of the 132 Theoph rows enter lambda_z, exactly as PKNCA selects them."""
    cols = _theoph()
    res = compute_nca(cols)
    used = {(p.id, p.time) for p in res.points if p.used}
    ours = [(i, float(t)) in used for i, t in zip(cols["ID"], cols["TIME_h"], strict=True)]
    assert ours == REF["theoph"]["half_life_points"]["used"]
