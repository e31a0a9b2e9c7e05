"""compute_nca: inputs (arrays, tables, DataFrames, results), intervals, doses, reasons."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ketasim.errors import DatasetError, ParameterError, UnitError
from ketasim.events import Regimen
from ketasim.library import load_model
from ketasim.nca import NCAResult, compute_nca
from ketasim.simulate import simulate

T = np.array([0.0, 0.5, 1, 2, 4, 8, 12])
C = np.array([0.0, 4.0, 6.0, 5.0, 3.0, 1.2, 0.5])


def _all_nan_have_reasons(res: NCAResult) -> None:
    for r in res.rows:
        assert (r.reason != "") == math.isnan(r.value), (r.code, r.value, r.reason)


def test_every_nan_has_a_reason_and_no_number_has_one() -> None:
    profiles = [C, C[:3], np.zeros(7), np.array([0, 1, 2, 3, 4, 5, 6.0])]
    for conc in profiles:
        t = T[: conc.size]
        for iv in (None, ["0,24 h"], ["1,4 h"]):
            res = compute_nca(t, conc, time_unit="h", conc_unit="ng/mL", intervals=iv)
            _all_nan_have_reasons(res)


def test_dose_based_parameters_without_dose_say_so() -> None:
    res = compute_nca(T, C, time_unit="h", conc_unit="ng/mL")
    assert res.get_row("CLFO").reason.startswith("dose missing (no dose given")


def test_dose_outside_the_interval_is_not_counted() -> None:
    cols = {"ID": [1] * 8, "TIME_h": [0, *T[1:], 0.0], "CONC_ng_mL": [*C, "."],
            "AMT_mg": [0] * 7 + [10]}  # fmt: skip
    res = compute_nca(cols, intervals=["0.5,inf h"])
    assert "no dose in [0.5, inf)" in res.get_row("CLFO").reason


def test_dataframe_input_matches_arrays() -> None:
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame({"ID": [7] * T.size, "TIME": T, "CONC": C})
    a = compute_nca(df, time_unit="h", conc_unit="ng/mL")
    b = compute_nca(T, C, ids=[7], time_unit="h", conc_unit="ng/mL")
    assert a.rows == b.rows


def test_to_pandas_long_table() -> None:
    pytest.importorskip("pandas")
    df = compute_nca(T, C, time_unit="h", conc_unit="ng/mL").to_pandas()
    assert list(df.columns[:5]) == ["ID", "ANALYTE", "PPSTINT", "PPENINT", "PPTESTCD"]
    assert (df["PPTESTCD"] == "AUCIFO").sum() == 1


def test_ketasim_result_is_analysed_per_analyte_and_subject() -> None:
    m = load_model("herd_2007")
    res = simulate(
        m, Regimen.from_quantities("20 mg"), np.linspace(0, 8, 33), covariates={"WT": 20.0}
    )
    nca = compute_nca(res, dose="20 mg", route="intravascular")
    assert nca.get_row("CMAX").unit == "ng/mL" and nca.get_row("CMAX").analyte == "ketamine"
    c = res.get_conc("ketamine", "ng/mL")[0]
    assert nca.get("CMAX") == pytest.approx(float(c.max()), rel=1e-12)
    assert nca.get_row("CLO").reason == ""


def test_two_subjects_two_intervals_give_a_row_each() -> None:
    res = compute_nca(T, np.vstack([C, 2 * C]), time_unit="h", conc_unit="ng/mL",
                      intervals=["0,12 h", "0,inf h"])  # fmt: skip
    assert len([r for r in res.rows if r.code == "CMAX"]) == 4
    assert res.get("CMAX", 2, end=12.0) == 12.0


def test_header_unit_and_option_that_disagree_are_refused() -> None:
    with pytest.raises(UnitError, match="says 'h' but --time-unit says 'min'"):
        compute_nca({"TIME_h": T, "CONC_ng_mL": C}, time_unit="min")


def test_molar_concentration_with_mass_dose_gives_cl_reason() -> None:
    res = compute_nca(T, C, time_unit="h", conc_unit="nmol/L", dose="1 mg")
    assert "mass" in res.get_row("CLFO").reason
    assert res.get_row("AUCIFO").unit == "h*nmol/L"


def test_lloq_above_every_concentration_is_refused() -> None:
    with pytest.raises(ParameterError, match="LLOQ 100 ng/mL is above every"):
        compute_nca(T, C, time_unit="h", conc_unit="ng/mL", lloq="0.1 mg/L")


def test_nothing_computable_is_an_error() -> None:
    with pytest.raises(ParameterError, match="nothing can be computed: no samples"):
        compute_nca(T, C, time_unit="h", conc_unit="ng/mL", intervals=["100,200 h"])


def test_duplicate_times_are_refused() -> None:
    with pytest.raises(DatasetError, match="ID 1: time 1 appears twice"):
        compute_nca({"TIME": [0, 1, 1], "CONC": [0, 2, 3]}, time_unit="h", conc_unit="ng/mL")


def test_threshold_time_above() -> None:
    t, c = np.array([0.0, 1, 2, 3]), np.array([0.0, 4.0, 4.0, 0.0])
    res = compute_nca(t, c, time_unit="h", conc_unit="ng/mL", threshold="2 ng/mL",
                      method="linear")  # fmt: skip
    assert res.get("TABOVE") == pytest.approx(2.0, rel=1e-14)


def test_lambda_z_points_per_subject() -> None:
    res = compute_nca(T, np.vstack([C, C]), time_unit="h", conc_unit="ng/mL",
                      lambda_z_points={"2": [2.0, 4.0, 8.0]})  # fmt: skip
    assert res.get("LAMZNPT", 2) == 3 and res.get("LAMZLL", 2) == 2.0
    assert res.get("LAMZLL", 1) == 4.0  # the rule's choice for the other subject


def test_lambda_z_uses_only_points_after_the_last_dose_of_the_interval() -> None:
    cols = {"TIME_h": [0, 0, 1, 2, 3, 4, 5, 6, 8, 10], "AMT_mg": [5, 0, 0, 0, 0, 5, 0, 0, 0, 0],
            "CONC_mg_L": [".", 0, 8, 6, 4, ".", 3.8, 3, 2, 1.2]}  # fmt: skip
    res = compute_nca(cols)
    assert res.get("TMAX") == 1.0 and res.get("LAMZLL") >= 5.0
    why = {p.time: p.reason for p in res.points}
    assert why[3.0] == why[2.0] == "during dosing (it ends at 4)"
    assert res.get("CLFO") == pytest.approx(10 / res.get("AUCIFO"), rel=1e-12)
