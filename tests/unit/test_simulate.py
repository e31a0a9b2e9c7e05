"""simulate: the one joining point of model, dosing history and times."""

from __future__ import annotations

import numpy as np
import pytest

from ketasim.errors import EventError, ModelError
from ketasim.events import Dataset, Regimen
from ketasim.library import load_model
from ketasim.simulate import simulate
from ketasim.spec import Compartment, Flow, ModelSpec, Route, RouteInput

ESK_COV = {"AGE": 45.0, "ASIAN": 0.0, "JAPANESE": 0.0, "NDEV": 1.0}


def test_dataset_doses_get_the_route_bioavailability_of_their_compartment() -> None:
    # a nasal dose written as NONMEM records (two inputs, the swallowed part with RATE=-2) must
    # equal the regimen simulation, i.e. carry the route's F and modelled duration
    m = load_model("perez_ruixo_2021")
    times = np.array([0.5, 1.0, 2.0, 4.0, 8.0])
    reg = simulate(
        m, Regimen.from_quantities("28 mg", route="intranasal"), times, covariates=ESK_COV
    )
    nasal = m.get_compartment_index("NASAL") + 1
    gut = m.get_compartment_index("GUT_SW") + 1
    ds = Dataset(
        {
            "ID": [1] * 7,
            "TIME": [0, 0, *times],
            "AMT": [28, 28, 0, 0, 0, 0, 0],
            "EVID": [1, 1, 0, 0, 0, 0, 0],
            "CMT": [nasal, gut, 0, 0, 0, 0, 0],
            "RATE": [0, -2, 0, 0, 0, 0, 0],
        }
    )
    dat = simulate(m, ds, covariates=ESK_COV)
    np.testing.assert_allclose(dat.cp[2:], reg.conc["s_ketamine"][0], rtol=1e-12)


def _two_route_model() -> ModelSpec:
    return ModelSpec(
        id="two_routes",
        name="one depot fed by two routes with different bioavailability",
        compartments=(
            Compartment("DEPOT", None, "depot"),
            Compartment("CENTRAL", "drug", "central", "V"),
        ),
        flows=(Flow("DEPOT", "CENTRAL", rate="KA"), Flow("CENTRAL", None, clearance="CL")),
        routes={
            "oral": Route("oral", (RouteInput("DEPOT", F="FO"),)),
            "rectal": Route("rectal", (RouteInput("DEPOT", F="FR"),)),
        },
        free_parameters=("V", "KA", "CL", "FO", "FR"),
        generic=True,
    )


def test_dataset_dose_into_compartment_of_routes_with_different_f_is_refused() -> None:
    ds = Dataset({"ID": [1, 1], "TIME": [0, 1], "AMT": [10, 0], "EVID": [1, 0], "CMT": [1, 2]})
    p = dict(V=10, KA=1, CL=2, FO=0.2, FR=0.3)
    with pytest.raises(EventError, match="F1"):
        simulate(_two_route_model(), ds, params=p)
    ok = ds.with_columns(F1=0.3)
    res = simulate(_two_route_model(), ok, params=p)
    assert res.amounts[0, 0] == pytest.approx(3.0)


def test_per_kg_dose_without_weight_is_an_error() -> None:
    m = load_model("perez_ruixo_2021")
    with pytest.raises(EventError, match="body weight"):
        simulate(m, Regimen.from_quantities("0.3 mg/kg"), np.array([1.0]), covariates=ESK_COV)


def test_unsupported_route_names_supported_ones() -> None:
    m = load_model("herd_2007")
    with pytest.raises(ModelError, match="supported: iv"):
        simulate(
            m,
            Regimen.from_quantities("10 mg", route="oral"),
            np.array([1.0]),
            covariates={"WT": 20.0},
        )


@pytest.mark.parametrize("times", [np.array([]), np.array([0.0, np.nan]), np.zeros((2, 2))])
def test_bad_output_times_are_refused(times: np.ndarray) -> None:
    m = load_model("herd_2007")
    with pytest.raises(EventError, match="output times"):
        simulate(m, Regimen.from_quantities("10 mg"), times, covariates={"WT": 20.0})


def test_dataset_result_has_one_row_per_record() -> None:
    m = load_model("herd_2007")
    ds = Dataset(
        {
            "ID": [1, 1, 2, 2],
            "TIME": [0, 1, 0, 2],
            "AMT": [10, 0, 20, 0],
            "EVID": [1, 0, 1, 0],
            "WT": [20, 20, 30, 30],
        }
    )
    df = simulate(m, ds).to_pandas()
    assert list(df.columns) == [
        "ID",
        "TIME_h",
        "TAD_h",
        "EVID",
        "CMT",
        "ketamine_ng_mL",
        "CENTRAL_mg",
        "PERIPH1_mg",
    ]
    assert len(df) == 4


def test_former_entry_points_warn_and_equal_simulate_issue_7() -> None:
    import pytest

    from ketasim.simulate import simulate_dataset, simulate_regimen

    m = load_model("herd_2007")
    reg = Regimen.from_quantities("20 mg")
    t = np.array([0.5, 1.0])
    with pytest.warns(DeprecationWarning, match="simulate_regimen"):
        old = simulate_regimen(m, reg, t, covariates={"WT": 20})
    np.testing.assert_array_equal(
        old.get_conc("ketamine"), simulate(m, reg, t, covariates={"WT": 20}).get_conc("ketamine")
    )
    ds = Dataset({"ID": [1, 1], "TIME": [0, 1], "AMT": [20, 0], "EVID": [1, 0], "WT": [20, 20]})
    with pytest.warns(DeprecationWarning, match="simulate_dataset"):
        old_d = simulate_dataset(m, ds)
    np.testing.assert_array_equal(old_d.cp, simulate(m, ds).cp)
