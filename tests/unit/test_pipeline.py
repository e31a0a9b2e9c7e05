"""One pipeline (issue 7): regimens become records, records behave as NONMEM reads them, one Result.

Every case the former two entry points covered gives the same numbers through ``simulate``: a
regimen on a grid equals the same regimen written as NONMEM records with output rows, for every
library model and route (F, lag, modelled duration, metabolite chains).
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ketasim import Dataset, Regimen, load_model, simulate
from ketasim.binding import DatasetWarning
from ketasim.errors import DatasetError, EventError, ParameterError
from ketasim.library import list_models

TIMES = np.array([0.0, 0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 8.0, 12.0, 24.0, 36.0])


def _covariates(spec):
    return {name: cov.reference for name, cov in spec.covariates.items()}


def _as_records(regimen: Regimen, times, weight=None) -> Dataset:
    """The regimen's records plus one EVID 2 output row per time (after doses at equal times)."""
    recs = regimen.to_records(weight_kg=weight)
    cols = {k: np.asarray(v) for k, v in recs.columns.items() if k != "MDV"}
    n_out = len(times)
    out = {k: np.zeros(n_out) for k in cols}
    out["ID"] = np.ones(n_out)
    out["TIME"] = np.asarray(times, dtype=float)
    out["EVID"] = np.full(n_out, 2.0)
    merged = {k: np.concatenate([cols[k], out[k]]) for k in cols}
    route = np.concatenate([recs.text_columns["ROUTE"], np.array([""] * n_out)])
    order = np.lexsort((merged["EVID"] == 2, merged["TIME"]))
    return Dataset({k: v[order] for k, v in merged.items()}, text_columns={"ROUTE": route[order]})


def _route_cases():
    for mid in list_models():
        spec = load_model(mid)
        for route, r in sorted(spec.routes.items()):
            yield pytest.param(mid, route, r.infusion, id=f"{mid}-{route}")


@pytest.mark.parametrize(("model_id", "route", "infusion"), list(_route_cases()))
def test_regimen_equals_its_records_on_every_model_and_route_issue_7(model_id, route, infusion):
    spec = load_model(model_id)
    cov = _covariates(spec)
    dose = "20 mg"
    reg = Regimen.from_quantities(
        dose, route=route, duration="30 min" if infusion else None, every="12 h", count=2
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        grid = simulate(spec, reg, TIMES, covariates=cov)
        rec = simulate(spec, _as_records(reg, TIMES), covariates=cov)
    out = rec.evid == 2
    for a in grid.analytes:
        np.testing.assert_allclose(
            rec.get_conc(a, "mg/L")[out], grid.get_conc(a, "mg/L")[0], rtol=1e-12, atol=1e-15
        )


_REGIMEN_MODELS = [m for m in list_models()]


@settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    model_i=st.integers(0, len(_REGIMEN_MODELS) - 1),
    route_i=st.integers(0, 10),
    amt=st.floats(0.5, 80.0),
    tinf_h=st.floats(0.05, 2.0),
    ii_h=st.floats(2.0, 24.0),
    count=st.integers(1, 4),
    start_h=st.floats(0.0, 3.0),
)
def test_records_equal_regimen_for_random_regimens_every_model_issue_7(
    model_i, route_i, amt, tinf_h, ii_h, count, start_h
):
    spec = load_model(_REGIMEN_MODELS[model_i])
    routes = sorted(spec.routes)
    route = routes[route_i % len(routes)]
    infusion = spec.routes[route].infusion
    reg = Regimen.from_quantities(
        f"{amt} mg",
        route=route,
        duration=f"{tinf_h} h" if infusion else None,
        every=f"{ii_h} h" if count > 1 else None,
        count=count,
        start=f"{start_h} h",
    )
    times = np.unique(np.r_[TIMES, start_h, start_h + ii_h, start_h + tinf_h])
    cov = _covariates(spec)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        grid = simulate(spec, reg, times, covariates=cov)
        rec = simulate(spec, _as_records(reg, times), covariates=cov)
    out = rec.evid == 2
    for a in grid.analytes:
        np.testing.assert_allclose(
            rec.get_conc(a, "mg/L")[out], grid.get_conc(a, "mg/L")[0], rtol=1e-11, atol=1e-14
        )


def test_many_subjects_in_one_dataset_are_one_batch_and_match_one_by_one_issue_7():
    spec = load_model("herd_2007")
    rows = []
    for i, (wt, amt) in enumerate([(15, 10), (20, 20), (35, 30), (20, 20)], start=1):
        rows += [(i, 0.0, amt, 1, wt), (i, 0.5, 0, 0, wt), (i, 2.0, 0, 0, wt)]
    a = np.array(rows, dtype=float)
    ds = Dataset({"ID": a[:, 0], "TIME": a[:, 1], "AMT": a[:, 2], "EVID": a[:, 3], "WT": a[:, 4]})
    both = simulate(spec, ds)
    from ketasim.binding import bind_records

    bound = bind_records(spec, ds)
    assert len(bound.groups) == 1  # one dosing structure, one compiled schedule
    for i in range(4):
        sel = slice(3 * i, 3 * i + 3)
        one = Dataset({k: v[sel] for k, v in ds.columns.items()})
        np.testing.assert_allclose(
            simulate(spec, one).get_conc("ketamine"), both.get_conc("ketamine")[sel], rtol=1e-13
        )


# --- ETAs ----------------------------------------------------------------------------------------
def _obs_dataset(extra=None):
    cols = {
        "ID": [1, 1, 1, 2, 2, 2],
        "TIME": [0, 1, 4, 0, 1, 4],
        "AMT": [20, 0, 0, 30, 0, 0],
        "EVID": [1, 0, 0, 1, 0, 0],
        "WT": [20, 20, 20, 25, 25, 25],
    }
    cols.update(extra or {})
    return Dataset(cols)


def test_eta_columns_change_predictions_exactly_as_etas_argument_issue_7():
    spec = load_model("herd_2007")
    etas = np.array([[0.1, -0.2, 0.3, 0.0], [-0.3, 0.1, -0.1, 0.2]])
    by_arg = simulate(spec, _obs_dataset(), etas=etas)
    cols = {f"ETA{j + 1}": np.repeat(etas[:, j], 3) for j in range(4)}
    by_col = simulate(spec, _obs_dataset(cols))
    np.testing.assert_array_equal(by_col.get_conc("ketamine"), by_arg.get_conc("ketamine"))
    named = {spec.get_eta_names()[j]: np.repeat(etas[:, j], 3) for j in range(4)}
    by_name = simulate(spec, _obs_dataset(named))
    np.testing.assert_array_equal(by_name.get_conc("ketamine"), by_arg.get_conc("ketamine"))
    typical = simulate(spec, _obs_dataset())
    assert not np.allclose(typical.get_conc("ketamine"), by_arg.get_conc("ketamine"))


def test_eta_column_for_a_parameter_without_iiv_is_an_error_naming_it_issue_7():
    spec = load_model("herd_2007")
    with pytest.raises(ParameterError, match="ETA_KA"):
        simulate(spec, _obs_dataset({"ETA_KA": [0.1] * 6}))


def test_eta_column_changing_within_a_subject_is_an_error_naming_the_record_issue_7():
    spec = load_model("herd_2007")
    with pytest.raises(EventError, match="record 2, ID 1: column ETA1 changes"):
        simulate(spec, _obs_dataset({"ETA1": [0.1, 0.2, 0.1, 0, 0, 0]}))


# --- NOCB / LOCF ---------------------------------------------------------------------------------
def test_nocb_and_locf_differ_on_a_covariate_change_at_a_dose_issue_7():
    # weight changes at the second dose (record 3, 6 h). NOCB (NONMEM): 30 kg applies to the
    # interval ending at that dose (3 to 6 h); LOCF: from the dose on. NOCB therefore equals LOCF
    # with the column shifted one record earlier, in amounts at every record.
    spec = load_model("herd_2007")
    cols = {
        "ID": [1, 1, 1, 1],
        "TIME": [0.0, 3.0, 6.0, 8.0],
        "AMT": [20.0, 0.0, 20.0, 0.0],
        "EVID": [1, 0, 1, 0],
    }
    ds = Dataset({**cols, "WT": [20.0, 20.0, 30.0, 30.0]})
    shifted = Dataset({**cols, "WT": [20.0, 30.0, 30.0, 30.0]})
    nocb = simulate(spec, ds)
    locf = simulate(spec, ds, fill="locf")
    np.testing.assert_allclose(
        nocb.amounts, simulate(spec, shifted, fill="locf").amounts, rtol=1e-13
    )
    # before the change both agree; at the dose where the weight changes they differ
    assert nocb.amounts[1, 0] == pytest.approx(locf.amounts[1, 0], rel=1e-13)
    assert abs(nocb.amounts[2, 0] / locf.amounts[2, 0] - 1) > 1e-4  # residue after 3 h
    # the output at a record uses that record's own values (V of 30 kg at record 3)
    v = nocb.params["V1"]
    assert nocb.get_conc("ketamine", "mg/L")[2] == pytest.approx(nocb.amounts[2, 0] / v[2])
    assert v[2] > v[1]


# --- carried and unknown columns --------------------------------------------------------------
def test_usubjid_text_column_is_carried_to_the_output_issue_7():
    spec = load_model("herd_2007")
    ds = _obs_dataset()
    ds = Dataset(ds.columns, text_columns={"USUBJID": np.array(["S-01"] * 3 + ["S-02"] * 3)})
    df = simulate(spec, ds).to_pandas()
    assert list(df["USUBJID"]) == ["S-01"] * 3 + ["S-02"] * 3


def test_unknown_column_is_warned_about_once_and_carried_issue_7():
    spec = load_model("herd_2007")
    ds = _obs_dataset({"FOO": [1, 2, 3, 4, 5, 6]})
    with pytest.warns(DatasetWarning, match="FOO") as rec:
        res = simulate(spec, ds)
    assert len([w for w in rec if issubclass(w.category, DatasetWarning)]) == 1
    assert list(res.to_pandas()["FOO"]) == [1, 2, 3, 4, 5, 6]


def test_cmt_may_be_a_compartment_name_issue_7():
    spec = load_model("herd_2007")
    base = _obs_dataset()
    named = Dataset(
        {k: v for k, v in base.columns.items() if k != "CMT"},
        text_columns={"CMT": np.array(["CENTRAL", ".", ".", "central", ".", "."])},
    )
    np.testing.assert_array_equal(
        simulate(spec, named).get_conc("ketamine"), simulate(spec, base).get_conc("ketamine")
    )


def test_unknown_compartment_name_is_an_error_naming_the_record_issue_7():
    spec = load_model("herd_2007")
    base = _obs_dataset()
    bad = Dataset(
        {k: v for k, v in base.columns.items() if k != "CMT"},
        text_columns={"CMT": np.array(["GUT", ".", ".", ".", ".", "."])},
    )
    with pytest.raises(EventError, match="record 1, ID 1: CMT='GUT' is not a compartment"):
        simulate(spec, bad)


def test_character_time_is_an_error_naming_the_column_issue_7():
    import pandas as pd

    frame = pd.DataFrame({"ID": [1, 1], "TIME": ["0", "one"], "AMT": [10, 0], "EVID": [1, 0]})
    with pytest.raises(DatasetError, match=r"TIME.*'one'"):
        simulate("pk1", frame, params={"CL": 1.0, "V": 10.0})


def test_dataframe_and_csv_path_give_the_same_result_issue_7(tmp_path):
    spec = load_model("herd_2007")
    ds = _obs_dataset()
    path = tmp_path / "d.csv"
    from ketasim.io.nonmem_csv import write_nonmem_csv

    write_nonmem_csv(ds, path)
    a = simulate(spec, ds).get_conc("ketamine")
    b = simulate(spec, str(path)).get_conc("ketamine")
    c = simulate(spec, ds.to_pandas()).get_conc("ketamine")
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a, c)


def test_time_unit_minutes_equals_hours_issue_7():
    spec = load_model("herd_2007")
    ds = _obs_dataset()
    in_min = ds.with_columns(TIME=ds["TIME"] * 60.0)
    np.testing.assert_allclose(
        simulate(spec, in_min, time_unit="min").get_conc("ketamine"),
        simulate(spec, ds).get_conc("ketamine"),
        rtol=1e-12,
    )


# --- the Result ----------------------------------------------------------------------------------
def test_result_columns_name_their_unit_and_long_form_has_one_row_per_analyte_issue_7():
    spec = load_model("simons_2022")
    reg = Regimen.from_quantities("0.25 mg/kg", duration="40 min")
    res = simulate(spec, reg, TIMES, covariates={"WT": 70.0}, unit="nmol/L", keep_amounts=True)
    wide = res.to_pandas()
    assert "s_norketamine_nmol_L" in wide.columns
    assert all(f"{c.name}_mg" in wide.columns for c in spec.compartments)
    long = res.to_pandas("long")
    assert len(long) == len(TIMES) * len(res.analytes)
    assert set(long["UNIT"]) == {"nmol/L"}
    np.testing.assert_allclose(
        long.loc[long["ANALYTE"] == "s_ketamine", "CONC"].to_numpy(),
        wide["s_ketamine_nmol_L"].to_numpy(),
    )
    table = res.to_arrow()
    assert table.schema.metadata[b"ketasim.conc_unit"] == b"nmol/L"
    assert "simons_2022" in repr(res) and len(repr(res)) < 200
    assert "research and education" in res._repr_html_()


def test_tad_is_time_since_the_last_dose_issue_7():
    spec = load_model("herd_2007")
    reg = Regimen.from_quantities("20 mg", every="6 h", count=3, start="1 h")
    res = simulate(spec, reg, np.array([0.0, 1.0, 2.0, 7.5, 13.0, 20.0]), covariates={"WT": 20})
    np.testing.assert_allclose(res.tad_h[0], [-1.0, 0.0, 1.0, 0.5, 0.0, 7.0])


def test_foreign_pint_registry_quantities_are_accepted_issue_7():
    import pint

    other = pint.UnitRegistry()
    reg = Regimen.from_quantities(other.Quantity(35, "mg"), duration=other.Quantity(40, "min"))
    assert reg.doses[0].amt == pytest.approx(35.0)
    assert reg.doses[0].tinf_h == pytest.approx(40 / 60)


def test_salt_dose_is_converted_to_base_issue_7():
    reg = Regimen.from_quantities("100 mg", salt="hydrochloride")
    assert reg.doses[0].amt == pytest.approx(100 * 237.727 / (237.727 + 36.458), rel=1e-4)


@pytest.mark.parametrize("count", ["3", 2.5, True, 0])
def test_regimen_count_must_be_a_whole_number_issue_12(count):
    with pytest.raises(EventError, match="count"):
        Regimen.from_quantities("10 mg", every="1 d", count=count)


def test_per_kg_dose_on_a_model_without_wt_uses_weight_kg_issue_12():
    spec = load_model("perez_ruixo_2021")
    reg = Regimen.from_quantities("0.2 mg/kg", route="iv", duration="40 min")
    cov = _covariates(spec)
    a = simulate(spec, reg, TIMES, covariates=cov, weight_kg=70.0)
    b = simulate(spec, Regimen.from_quantities("14 mg", duration="40 min"), TIMES, covariates=cov)
    np.testing.assert_allclose(a.get_conc("s_ketamine"), b.get_conc("s_ketamine"), rtol=1e-12)
    with pytest.raises(EventError, match="weight"):
        simulate(spec, reg, TIMES, covariates=cov)
