"""Unit tests for ketasim.events: Dataset checks, NONMEM CSV I/O, Dose and Regimen."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest

from ketasim.errors import DatasetError, EventError, UnitError
from ketasim.events import (
    STANDARD_COLUMNS,
    Dataset,
    Dose,
    Regimen,
)
from ketasim.io.atomic import write_csv_atomic
from ketasim.io.nonmem_csv import read_nonmem_csv, write_nonmem_csv

NAN = float("nan")


def _two_records(**cols):
    """Dataset columns for ID 1: a 10-unit dose at 0 and an observation at 1, then overrides."""
    base = {"ID": [1, 1], "TIME": [0.0, 1.0], "AMT": [10.0, 0.0]}
    base.update(cols)
    return base


def _assert_names_record_2_id_1(exc: EventError) -> None:
    assert exc.record == 2
    assert exc.subject == "1"
    assert str(exc).startswith("record 2, ID 1: ")


# --- Dataset construction defaults ---------------------------------------------------------------


def test_dataset_evid_inferred_one_for_dose_zero_for_observation():
    ds = Dataset(_two_records())
    np.testing.assert_array_equal(ds["EVID"], [1.0, 0.0])


def test_dataset_mdv_inferred_one_for_dose_zero_for_observation():
    ds = Dataset(_two_records())
    np.testing.assert_array_equal(ds["MDV"], [1.0, 0.0])


def test_dataset_mdv_inferred_one_for_evid_2():
    ds = Dataset(_two_records(EVID=[1, 2]))
    np.testing.assert_array_equal(ds["MDV"], [1.0, 1.0])


def test_dataset_given_mdv_kept():
    ds = Dataset(_two_records(MDV=[1, 1]))
    np.testing.assert_array_equal(ds["MDV"], [1.0, 1.0])


def test_dataset_evid_inferred_one_for_steady_state_infusion_with_zero_amt():
    ds = Dataset({"ID": [1], "TIME": [0.0], "AMT": [0.0], "RATE": [5.0], "SS": [1]})
    np.testing.assert_array_equal(ds["EVID"], [1.0])


def test_dataset_missing_standard_columns_filled_with_zero():
    ds = Dataset({"ID": [1], "TIME": [0.0]})
    for name in ("AMT", "RATE", "II", "ADDL", "SS", "CMT", "DV"):
        np.testing.assert_array_equal(ds[name], [0.0])


def test_dataset_lowercase_column_names_upper_cased():
    ds = Dataset({"id": [1], "time": [0.0], "amt": [5.0]})
    np.testing.assert_array_equal(ds["AMT"], [5.0])


def test_dataset_record_numbers_default_to_one_based():
    ds = Dataset(_two_records())
    np.testing.assert_array_equal(ds.record_numbers, [1, 2])


def test_dataset_given_record_numbers_used_in_messages():
    with pytest.raises(EventError, match="record 12"):
        Dataset(_two_records(AMT=[10.0, -1.0], EVID=[1, 1]), np.array([11, 12]))


def test_dataset_len_is_number_of_records():
    assert len(Dataset(_two_records())) == 2


def test_dataset_extra_columns_in_input_order():
    ds = Dataset(_two_records(WT=[70, 70], AGE=[30, 30]))
    assert ds.extra_columns == ("WT", "AGE")


def test_dataset_ids_in_order_of_first_appearance():
    ds = Dataset({"ID": [5, 5, 2, 9], "TIME": [0, 1, 0, 0]})
    np.testing.assert_array_equal(ds.ids, [5.0, 2.0, 9.0])


def test_dataset_subject_slices_cover_each_id():
    ds = Dataset({"ID": [5, 5, 2, 9], "TIME": [0, 1, 0, 0]})
    assert ds.get_subject_slices() == [slice(0, 2), slice(2, 3), slice(3, 4)]


def test_dataset_with_columns_returns_new_dataset_leaving_original():
    ds = Dataset(_two_records())
    ds2 = ds.with_columns(wt=70.0)
    np.testing.assert_array_equal(ds2["WT"], [70.0, 70.0])
    assert "WT" not in ds.columns


def test_dataset_missing_id_column_raises_dataset_error():
    with pytest.raises(DatasetError, match="required column ID is missing"):
        Dataset({"TIME": [0.0]})


def test_dataset_missing_time_column_raises_dataset_error():
    with pytest.raises(DatasetError, match="required column TIME is missing"):
        Dataset({"ID": [1]})


def test_dataset_unequal_column_lengths_raise_dataset_error():
    with pytest.raises(DatasetError, match="column TIME has 1 values, expected 2"):
        Dataset({"ID": [1, 1], "TIME": [0.0]})


def test_dataset_no_records_raises_dataset_error():
    with pytest.raises(DatasetError, match="no records"):
        Dataset({"ID": [], "TIME": []})


# --- _check_records: each error names the record and the ID --------------------------------------


def test_check_records_negative_amt_names_record_and_id():
    with pytest.raises(EventError, match="dose AMT=-5 is negative") as info:
        Dataset(_two_records(AMT=[10.0, -5.0], EVID=[1, 1]))
    _assert_names_record_2_id_1(info.value)


def test_check_records_nan_amt_on_dose_names_record_and_id():
    with pytest.raises(EventError, match="missing or non-numeric AMT") as info:
        Dataset(_two_records(AMT=[10.0, NAN], EVID=[1, 1]))
    _assert_names_record_2_id_1(info.value)


def test_check_records_nan_amt_without_evid_treated_as_missing_dose_amount():
    with pytest.raises(EventError, match="missing or non-numeric AMT") as info:
        Dataset(_two_records(AMT=[10.0, NAN]))
    _assert_names_record_2_id_1(info.value)


def test_check_records_zero_amt_on_dose_names_record_and_id():
    with pytest.raises(EventError, match="dose AMT is 0") as info:
        Dataset(_two_records(EVID=[1, 1]))
    _assert_names_record_2_id_1(info.value)


def test_check_records_unsorted_time_within_id_names_record_and_id():
    with pytest.raises(EventError, match="TIME=0 is earlier than the previous record") as info:
        Dataset({"ID": [7, 7], "TIME": [1.0, 0.0], "AMT": [10.0, 0.0]})
    assert info.value.record == 2
    assert info.value.subject == "7"
    assert str(info.value).startswith("record 2, ID 7: ")


def test_check_records_time_decrease_across_ids_allowed():
    ds = Dataset({"ID": [1, 2], "TIME": [5.0, 0.0], "AMT": [10.0, 10.0]})
    assert len(ds) == 2


def test_check_records_id_reappearing_names_record_and_id():
    with pytest.raises(EventError, match="appears again after records of other IDs") as info:
        Dataset({"ID": [1, 2, 1], "TIME": [0.0, 0.0, 1.0], "AMT": [10.0, 10.0, 0.0]})
    assert info.value.record == 3
    assert info.value.subject == "1"
    assert str(info.value).startswith("record 3, ID 1: ")


def test_check_records_evid_5_names_record_and_id():
    with pytest.raises(EventError, match="EVID=5 is not one of 0, 1, 2, 3, 4") as info:
        Dataset(_two_records(EVID=[1, 5]))
    _assert_names_record_2_id_1(info.value)


def test_check_records_non_integer_evid_names_record_and_id():
    with pytest.raises(EventError, match=r"EVID=1\.5 must be an integer") as info:
        Dataset(_two_records(EVID=[1, 1.5]))
    _assert_names_record_2_id_1(info.value)


def test_check_records_rate_minus_3_names_record_and_id():
    with pytest.raises(EventError, match="RATE=-3 must be >= 0, -1 or -2") as info:
        Dataset(_two_records(AMT=[10.0, 10.0], RATE=[0.0, -3.0]))
    _assert_names_record_2_id_1(info.value)


@pytest.mark.parametrize("rate", [-1.0, -2.0])
def test_check_records_rate_minus_1_or_2_accepted(rate):
    ds = Dataset(_two_records(AMT=[10.0, 10.0], RATE=[0.0, rate]))
    assert ds["RATE"][1] == rate


def test_check_records_nan_rate_on_dose_names_record_and_id():
    with pytest.raises(EventError, match="RATE is not a number") as info:
        Dataset(_two_records(AMT=[10.0, 10.0], RATE=[0.0, NAN]))
    _assert_names_record_2_id_1(info.value)


def test_check_records_ss_bolus_with_ii_zero_names_record_and_id():
    with pytest.raises(EventError, match="SS=1 with II=0") as info:
        Dataset(_two_records(AMT=[10.0, 10.0], SS=[0, 1]))
    _assert_names_record_2_id_1(info.value)


def test_check_records_ss_bolus_with_ii_accepted():
    ds = Dataset(_two_records(AMT=[10.0, 10.0], SS=[0, 1], II=[0.0, 12.0]))
    assert ds["SS"][1] == 1.0


def test_check_records_ss_constant_infusion_with_zero_amt_accepted():
    ds = Dataset(_two_records(AMT=[10.0, 0.0], RATE=[0.0, 5.0], SS=[0, 1], EVID=[1, 1]))
    assert ds["EVID"][1] == 1.0


def test_check_records_addl_without_ii_names_record_and_id():
    with pytest.raises(EventError, match="ADDL=3 needs II > 0") as info:
        Dataset(_two_records(AMT=[10.0, 10.0], ADDL=[0, 3]))
    _assert_names_record_2_id_1(info.value)


def test_check_records_negative_addl_names_record_and_id():
    with pytest.raises(EventError, match="ADDL=-1 must be >= 0") as info:
        Dataset(_two_records(ADDL=[0, -1]))
    _assert_names_record_2_id_1(info.value)


def test_check_records_negative_ii_names_record_and_id():
    with pytest.raises(EventError, match="II=-1 must be >= 0") as info:
        Dataset(_two_records(II=[0.0, -1.0]))
    _assert_names_record_2_id_1(info.value)


def test_check_records_ss_3_names_record_and_id():
    with pytest.raises(EventError, match="SS=3 is not 0, 1 or 2") as info:
        Dataset(_two_records(AMT=[10.0, 10.0], SS=[0, 3], II=[0.0, 12.0]))
    _assert_names_record_2_id_1(info.value)


def test_check_records_amt_on_observation_names_record_and_id():
    with pytest.raises(EventError, match="EVID=0 record has AMT=10: set EVID=1") as info:
        Dataset(_two_records(AMT=[10.0, 10.0], EVID=[1, 0]))
    _assert_names_record_2_id_1(info.value)


def test_check_records_negative_cmt_names_record_and_id():
    with pytest.raises(EventError, match="CMT=-1: negative compartments") as info:
        Dataset(_two_records(CMT=[1, -1]))
    _assert_names_record_2_id_1(info.value)


def test_check_records_non_integer_cmt_names_record_and_id():
    with pytest.raises(EventError, match=r"CMT=1\.5 must be an integer") as info:
        Dataset(_two_records(CMT=[1, 1.5]))
    _assert_names_record_2_id_1(info.value)


def test_check_records_nan_time_names_record_and_id():
    with pytest.raises(EventError, match="TIME is missing or not a number") as info:
        Dataset(_two_records(TIME=[0.0, NAN]))
    _assert_names_record_2_id_1(info.value)


def test_nan_covariate_names_column_record_and_id_when_bound_to_a_model_issue_7():
    # a carried column may have empty cells; a covariate of the model may not
    ds = Dataset(_two_records(WT=[70.0, NAN]))
    from ketasim.library import load_model
    from ketasim.simulate import simulate

    with pytest.raises(EventError, match="covariate WT is missing or not a number") as info:
        simulate(load_model("herd_2007"), ds)
    _assert_names_record_2_id_1(info.value)


def test_check_records_first_offending_record_reported():
    with pytest.raises(EventError) as info:
        Dataset({"ID": [1, 1, 1], "TIME": [0, 1, 2], "AMT": [10, -1, -2], "EVID": [1, 1, 1]})
    assert info.value.record == 2


def test_check_records_error_is_not_dataset_error():
    with pytest.raises(EventError) as info:
        Dataset(_two_records(EVID=[1, 5]))
    assert not isinstance(info.value, DatasetError)


# --- read_nonmem_csv -----------------------------------------------------------------------------


def _read(text: str) -> Dataset:
    return read_nonmem_csv(io.StringIO(text))


def test_read_nonmem_csv_header_case_insensitive():
    ds = _read("id,Time,amt,Dv\n1,0,10,0\n1,1,0,3.5\n")
    np.testing.assert_array_equal(ds["DV"], [0.0, 3.5])
    np.testing.assert_array_equal(ds["AMT"], [10.0, 0.0])


def test_read_nonmem_csv_dot_reads_as_zero():
    ds = _read("ID,TIME,AMT,DV\n1,0,10,.\n1,1,.,3.5\n")
    np.testing.assert_array_equal(ds["AMT"], [10.0, 0.0])
    np.testing.assert_array_equal(ds["DV"], [0.0, 3.5])


def test_read_nonmem_csv_empty_dv_reads_as_zero():
    ds = _read("ID,TIME,DV\n1,0,\n")
    np.testing.assert_array_equal(ds["DV"], [0.0])


def test_read_nonmem_csv_hash_comment_lines_skipped():
    ds = _read("# study 1\nID,TIME,AMT\n# dose\n1,0,10\n1,2,0\n")
    np.testing.assert_array_equal(ds["TIME"], [0.0, 2.0])


def test_read_nonmem_csv_c_lines_skipped():
    ds = _read("ID,TIME,AMT\nC,0,99\n1,0,10\nc,1,99\n1,2,0\n")
    np.testing.assert_array_equal(ds["AMT"], [10.0, 0.0])


def test_read_nonmem_csv_blank_lines_skipped():
    ds = _read("ID,TIME,AMT\n\n1,0,10\n\n1,2,0\n")
    assert len(ds) == 2


def test_read_nonmem_csv_record_numbers_count_data_rows():
    ds = _read("# c\nID,TIME,AMT\n# c\n1,0,10\n1,2,0\n")
    np.testing.assert_array_equal(ds.record_numbers, [1, 2])


def test_read_nonmem_csv_extra_columns_kept():
    ds = _read("ID,TIME,AMT,WT\n1,0,10,70\n")
    assert ds.extra_columns == ("WT",)


def test_read_nonmem_csv_from_path(tmp_path):
    p = tmp_path / "data.csv"
    p.write_text("ID,TIME,AMT\n1,0,10\n", encoding="utf-8")
    assert read_nonmem_csv(p)["AMT"][0] == 10.0


def test_read_nonmem_csv_missing_file_raises_dataset_error(tmp_path):
    with pytest.raises(DatasetError, match="cannot read"):
        read_nonmem_csv(tmp_path / "absent.csv")


def test_read_nonmem_csv_non_utf8_file_raises_dataset_error(tmp_path):
    p = tmp_path / "latin1.csv"
    p.write_bytes("ID,TIME,AMT\n1,0,10\n# caf\xe9\n".encode("latin-1"))
    with pytest.raises(DatasetError, match="not UTF-8"):
        read_nonmem_csv(p)


def test_read_nonmem_csv_wrong_field_count_names_line():
    with pytest.raises(DatasetError, match="line 3: 2 fields, header has 3"):
        _read("ID,TIME,AMT\n1,0,10\n1,1\n")


def test_read_nonmem_csv_non_numeric_cell_names_line_and_column():
    with pytest.raises(DatasetError, match="line 2: column AMT value 'abc' is not a number"):
        _read("ID,TIME,AMT\n1,0,abc\n")


def test_read_nonmem_csv_infinite_cell_names_line():
    with pytest.raises(DatasetError, match="line 2: column AMT value 'inf' is not finite"):
        _read("ID,TIME,AMT\n1,0,inf\n")


def test_read_nonmem_csv_empty_cell_names_line_and_column():
    with pytest.raises(DatasetError, match="line 2: column AMT is empty"):
        _read("ID,TIME,AMT\n1,0,\n")


def test_read_nonmem_csv_empty_file_raises_dataset_error():
    with pytest.raises(DatasetError, match="the file is empty"):
        _read("")


def test_read_nonmem_csv_only_comments_raises_dataset_error():
    with pytest.raises(DatasetError, match="the file is empty"):
        _read("# nothing here\n\n")


def test_read_nonmem_csv_header_only_raises_dataset_error():
    with pytest.raises(DatasetError, match="header but no records"):
        _read("ID,TIME,AMT\n")


def test_read_nonmem_csv_missing_id_column_names_line():
    with pytest.raises(DatasetError, match="line 1: header must name ID and TIME"):
        _read("TIME,AMT\n0,10\n")


def test_read_nonmem_csv_missing_time_column_names_line():
    with pytest.raises(DatasetError, match="line 1: header must name ID and TIME"):
        _read("ID,AMT\n1,10\n")


def test_read_nonmem_csv_duplicate_columns_name_line_and_column():
    with pytest.raises(DatasetError, match="line 1: duplicate column\\(s\\) AMT"):
        _read("ID,TIME,AMT,amt\n1,0,10,10\n")


def test_read_nonmem_csv_header_after_comment_line_numbered_correctly():
    with pytest.raises(DatasetError, match="line 2: duplicate column"):
        _read("# comment\nID,TIME,ID\n1,0,1\n")


def test_read_nonmem_csv_empty_header_name_names_line():
    with pytest.raises(DatasetError, match="line 1: empty column name"):
        _read("ID,TIME,,AMT\n1,0,1,10\n")


def test_read_nonmem_csv_invalid_record_raises_event_error_naming_record_and_id():
    with pytest.raises(EventError, match="record 3, ID 2: dose AMT=-1 is negative"):
        _read("ID,TIME,AMT\n1,0,10\n1,1,10\n2,0,-1\n")


# --- write_nonmem_csv / write_csv_atomic ---------------------------------------------------------


def test_write_nonmem_csv_round_trip_preserves_columns(tmp_path):
    ds = Dataset(
        {
            "ID": [1, 1, 2],
            "TIME": [0.0, 0.25, 0.0],
            "AMT": [35.0, 0.0, 17.5],
            "RATE": [52.5, 0.0, 0.0],
            "DV": [0.0, 0.123456789, 0.0],
            "WT": [70.0, 70.0, 35.5],
        }
    )
    path = tmp_path / "out.csv"
    write_nonmem_csv(ds, path)
    back = read_nonmem_csv(path)
    assert set(back.columns) == set(ds.columns)
    for name in ds.columns:
        np.testing.assert_allclose(back[name], ds[name], rtol=1e-9)


def test_write_nonmem_csv_standard_columns_first_then_extras(tmp_path):
    ds = Dataset({"WT": [70.0], "ID": [1], "TIME": [0.0], "AMT": [5.0]})
    path = tmp_path / "out.csv"
    write_nonmem_csv(ds, path)
    header = path.read_text(encoding="utf-8").splitlines()[0].split(",")
    assert header == [*STANDARD_COLUMNS, "WT"]


def test_write_nonmem_csv_integers_written_without_decimal_point(tmp_path):
    ds = Dataset({"ID": [1], "TIME": [0.0], "AMT": [5.0]})
    path = tmp_path / "out.csv"
    write_nonmem_csv(ds, path)
    assert path.read_text(encoding="utf-8").splitlines()[1].startswith("1,0,5,")


def test_write_csv_atomic_writes_header_and_rows(tmp_path):
    path = tmp_path / "t.csv"
    write_csv_atomic(path, ["A", "B"], [(1, 0.5), ("x", 2.0)])
    assert path.read_text(encoding="utf-8") == "A,B\n1,0.5\nx,2\n"


def test_write_csv_atomic_replaces_existing_file(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("old\n", encoding="utf-8")
    write_csv_atomic(path, ["A"], [(1,)])
    assert path.read_text(encoding="utf-8") == "A\n1\n"


def _rows_failing_after_two():
    yield (1, 2)
    yield (3, 4)
    raise RuntimeError("row source failed")


def test_write_csv_atomic_row_error_leaves_no_target(tmp_path):
    path = tmp_path / "t.csv"
    with pytest.raises(RuntimeError, match="row source failed"):
        write_csv_atomic(path, ["A", "B"], _rows_failing_after_two())
    assert not path.exists()


def test_write_csv_atomic_row_error_leaves_no_temp_file(tmp_path):
    with pytest.raises(RuntimeError):
        write_csv_atomic(tmp_path / "t.csv", ["A", "B"], _rows_failing_after_two())
    assert list(tmp_path.iterdir()) == []


def test_write_csv_atomic_row_error_keeps_previous_file(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("old\n", encoding="utf-8")
    with pytest.raises(RuntimeError):
        write_csv_atomic(path, ["A", "B"], _rows_failing_after_two())
    assert path.read_text(encoding="utf-8") == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["t.csv"]


def test_write_csv_atomic_bad_value_leaves_no_file(tmp_path):
    with pytest.raises(TypeError):
        write_csv_atomic(tmp_path / "t.csv", ["A"], [(1,), (object(),)])
    assert list(tmp_path.iterdir()) == []


def test_write_csv_atomic_relative_path_written_in_cwd(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_csv_atomic("rel.csv", ["A"], [(1,)])
    assert Path(tmp_path / "rel.csv").read_text(encoding="utf-8") == "A\n1\n"


# --- Regimen.from_quantities ---------------------------------------------------------------------


def test_from_quantities_mg_dose_is_absolute():
    dose = Regimen.from_quantities("35 mg").doses[0]
    assert (dose.amt, dose.per_kg) == (35.0, False)


def test_from_quantities_g_dose_converted_to_mg():
    assert Regimen.from_quantities("0.1 g").doses[0].amt == pytest.approx(100.0)


def test_from_quantities_mg_per_kg_dose_is_per_kg():
    dose = Regimen.from_quantities("0.5 mg/kg").doses[0]
    assert dose.amt == pytest.approx(0.5)
    assert dose.per_kg is True


def test_from_quantities_ug_per_kg_converted_to_mg_per_kg():
    dose = Regimen.from_quantities("500 ug/kg").doses[0]
    assert dose.amt == pytest.approx(0.5)
    assert dose.per_kg is True


def test_from_quantities_duration_converted_to_hours():
    dose = Regimen.from_quantities("35 mg", duration="40 min").doses[0]
    assert dose.tinf_h == pytest.approx(2.0 / 3.0)


def test_from_quantities_every_and_count_give_ii_and_addl():
    dose = Regimen.from_quantities("35 mg", every="3.5 d", count=6).doses[0]
    assert dose.ii_h == pytest.approx(84.0)
    assert dose.addl == 5


def test_from_quantities_start_converted_to_hours():
    assert Regimen.from_quantities("35 mg", start="1 d").doses[0].time_h == pytest.approx(24.0)


def test_from_quantities_single_dose_ignores_every():
    dose = Regimen.from_quantities("35 mg", every="12 h").doses[0]
    assert (dose.ii_h, dose.addl) == (0.0, 0)


def test_from_quantities_route_kept():
    assert Regimen.from_quantities("35 mg", route="intranasal").doses[0].route == "intranasal"


def test_from_quantities_count_above_one_without_every_raises_event_error():
    with pytest.raises(EventError, match="count=2 needs an interval"):
        Regimen.from_quantities("35 mg", count=2)


def test_from_quantities_count_zero_raises_event_error():
    with pytest.raises(EventError, match="count=0"):
        Regimen.from_quantities("35 mg", count=0)


def test_from_quantities_volume_dose_raises_unit_error_naming_dose():
    with pytest.raises(UnitError, match="dose '35 L' must be a mass"):
        Regimen.from_quantities("35 L")


def test_from_quantities_dose_without_unit_raises_unit_error():
    with pytest.raises(UnitError, match="dose '35'"):
        Regimen.from_quantities("35")


def test_from_quantities_duration_with_mass_unit_raises_unit_error():
    with pytest.raises(UnitError, match="duration"):
        Regimen.from_quantities("35 mg", duration="40 mg")


def test_from_quantities_interval_with_volume_unit_raises_unit_error():
    with pytest.raises(UnitError, match="interval"):
        Regimen.from_quantities("35 mg", every="1 L", count=2)


def test_from_quantities_duration_without_unit_raises_unit_error():
    with pytest.raises(UnitError, match="duration"):
        Regimen.from_quantities("35 mg", duration="40")


def test_from_quantities_infusion_longer_than_interval_raises_event_error():
    with pytest.raises(EventError, match="longer than the interval"):
        Regimen.from_quantities("35 mg", duration="2 h", every="1 h", count=2)


# --- Regimen -------------------------------------------------------------------------------------


def test_regimen_without_doses_raises_event_error():
    with pytest.raises(EventError, match="at least one dose"):
        Regimen(())


def test_regimen_addition_sorts_doses_by_time():
    reg = Regimen((Dose(1.0, time_h=5.0),)) + Regimen((Dose(2.0, time_h=1.0),))
    assert [d.time_h for d in reg.doses] == [1.0, 5.0]


def test_regimen_end_time_includes_repeats_and_infusion():
    reg = Regimen((Dose(1.0, time_h=5.0, addl=2, ii_h=12.0, tinf_h=1.0),))
    assert reg.get_end_time_h() == pytest.approx(30.0)


# --- Dose validation -----------------------------------------------------------------------------


@pytest.mark.parametrize("amt", [0.0, -1.0, NAN, float("inf")])
def test_dose_non_positive_or_non_finite_amount_raises_event_error(amt):
    with pytest.raises(EventError, match="must be a positive number"):
        Dose(amt)


def test_dose_infinite_time_raises_event_error():
    with pytest.raises(EventError, match="time_h=inf"):
        Dose(1.0, time_h=float("inf"))


def test_dose_negative_time_allowed():
    assert Dose(1.0, time_h=-1.0).time_h == -1.0


def test_dose_negative_tinf_raises_event_error():
    with pytest.raises(EventError, match="tinf_h=-1"):
        Dose(1.0, tinf_h=-1.0)


def test_dose_negative_ii_raises_event_error():
    with pytest.raises(EventError, match="ii_h=-1"):
        Dose(1.0, ii_h=-1.0)


def test_dose_nan_ii_raises_event_error():
    with pytest.raises(EventError, match="ii_h=nan"):
        Dose(1.0, ii_h=NAN)


def test_dose_negative_addl_raises_event_error():
    with pytest.raises(EventError, match="addl=-1"):
        Dose(1.0, addl=-1)


def test_dose_addl_without_interval_raises_event_error():
    with pytest.raises(EventError, match="3 doses need an interval > 0"):
        Dose(1.0, addl=2)


def test_dose_infusion_longer_than_interval_raises_event_error():
    with pytest.raises(EventError, match=r"infusion of 2\.0 h is longer than the interval 1\.0 h"):
        Dose(1.0, addl=2, ii_h=1.0, tinf_h=2.0)


def test_dose_amount_mg_absolute_ignores_weight():
    assert Dose(5.0).get_amount_mg(None) == 5.0


def test_dose_amount_mg_per_kg_times_weight():
    assert Dose(0.5, per_kg=True).get_amount_mg(70.0) == pytest.approx(35.0)


def test_dose_amount_mg_per_kg_without_weight_raises_event_error():
    with pytest.raises(EventError, match="needs the body weight"):
        Dose(0.5, per_kg=True).get_amount_mg(None)


def test_dose_amount_mg_per_kg_zero_weight_raises_event_error():
    with pytest.raises(EventError, match="needs the body weight"):
        Dose(0.5, per_kg=True).get_amount_mg(0.0)


def test_addl_on_steady_state_constant_infusion_refused_issue_2() -> None:
    from ketasim.errors import EventError

    with pytest.raises(EventError, match="ADDL=2"):
        Dataset(
            {
                "ID": [1],
                "TIME": [0],
                "AMT": [0],
                "RATE": [5],
                "EVID": [1],
                "SS": [1],
                "II": [0],
                "ADDL": [2],
            }
        )
