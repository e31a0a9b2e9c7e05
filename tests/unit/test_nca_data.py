"""NCA input: columns, header units, doses, refusals."""

from __future__ import annotations

import pytest

from ketasim.errors import DatasetError
from ketasim.nca.data import read_columns


def test_header_units_in_several_spellings() -> None:
    for t, c in (
        ("TIME_h", "CONC_ng_mL"),
        ("TIME [h]", "DV (ng/mL)"),
        ("TIME_h", "CONC_ng_per_mL"),
    ):
        d = read_columns({t: [0, 1], c: [0, 2]})
        assert (d.time_unit, d.conc_unit) == ("h", "ng/mL")


def test_amt_rows_are_doses_not_observations() -> None:
    d = read_columns({"ID": [1, 1, 1], "TIME_h": [0, 0, 1], "CONC_mg_L": [".", 0, 2],
                      "AMT_mg": [5, 0, 0]})  # fmt: skip
    (p,) = d.profiles
    assert p.time.tolist() == [0, 1] and p.doses == ((0.0, 5.0),)


def test_evid_decides_doses() -> None:
    d = read_columns({"TIME_h": [0, 1], "CONC_mg_L": [0, 2], "AMT_mg": [5, 0], "EVID": [0, 0]})
    assert d.profiles[0].doses == () and d.profiles[0].time.size == 2


def test_dose_column_is_one_dose_at_the_first_time() -> None:
    d = read_columns({"ID": ["a", "a"], "TIME_h": [0.5, 1], "CONC_mg_L": [1, 2], "DOSE_mg": [3, 3]})
    assert d.profiles[0].doses == ((0.5, 3.0),)


def test_mdv_rows_are_ignored() -> None:
    d = read_columns({"TIME_h": [0, 1, 2], "CONC_mg_L": [0, ".", 2], "MDV": [0, 1, 0]})
    assert d.profiles[0].time.tolist() == [0, 2]


def test_analyte_column_splits_profiles() -> None:
    d = read_columns({"TIME_h": [0, 0], "CONC_mg_L": [1, 2], "ANALYTE": ["ketamine", "hnk"]})
    assert sorted(p.analyte for p in d.profiles) == ["hnk", "ketamine"]


def test_two_concentration_columns_are_refused() -> None:
    with pytest.raises(DatasetError, match="one concentration column"):
        read_columns({"TIME_h": [0], "CONC_mg_L": [1], "DV_mg_L": [1]})


def test_unknown_evid_is_refused() -> None:
    with pytest.raises(DatasetError, match="EVID 2"):
        read_columns({"TIME_h": [0], "CONC_mg_L": [1], "EVID": [2]})
