"""Exact exposure summaries (ketasim.exposure): closed forms of 1-compartment models, dose
intervals, thresholds, chunking and bad inputs."""

from __future__ import annotations

import numpy as np
import pytest

from ketasim.errors import EventError, ParameterError
from ketasim.events import Regimen
from ketasim.exposure import TIME_TOL, compute_dose_intervals_h, compute_exposure
from ketasim.exposure import compute as exposure
from ketasim.library import load_model
from ketasim.spec import get_builtin_model

CL, V, KA = 2.0, 10.0, 1.3
K = CL / V
PK1 = {"CL": CL, "V1": V}


def test_oral_tmax_cmax_match_closed_form() -> None:
    ex = compute_exposure(
        get_builtin_model("pk1_depot"), Regimen.from_quantities("100 mg", route="extravascular"),
        params={**PK1, "KA": KA}, t_end_h=48.0,
    )  # fmt: skip
    tmax = np.log(KA / K) / (KA - K)
    cmax = 100 / V * KA / (KA - K) * (np.exp(-K * tmax) - np.exp(-KA * tmax))
    assert ex.tmax_h["drug"][0] == pytest.approx(tmax, rel=1e-9)
    assert ex.cmax_mg_per_L["drug"][0] == pytest.approx(cmax, rel=1e-12)


def test_oral_auc_matches_mass_balance() -> None:
    # eliminated = CL * AUC = dose - depot(T) - V C(T)
    T = 10.0
    ex = compute_exposure(
        get_builtin_model("pk1_depot"), Regimen.from_quantities("100 mg", route="extravascular"),
        params={**PK1, "KA": KA}, t_end_h=T,
    )  # fmt: skip
    c_t = 100 / V * KA / (KA - K) * (np.exp(-K * T) - np.exp(-KA * T))
    auc = (100 - 100 * np.exp(-KA * T) - V * c_t) / CL
    assert ex.auc_mg_h_per_L["drug"][0] == pytest.approx(auc, rel=1e-10)


def test_infusion_peak_is_the_end_of_the_infusion() -> None:
    ex = compute_exposure(
        get_builtin_model("pk1"), Regimen.from_quantities("60 mg", duration="90 min"),
        params=PK1, t_end_h=12.0,
    )  # fmt: skip
    cmax = 60 / 1.5 / CL * (1 - np.exp(-K * 1.5))
    assert abs(ex.tmax_h["drug"][0] - 1.5) <= TIME_TOL * 12.0
    assert ex.cmax_mg_per_L["drug"][0] == pytest.approx(cmax, rel=1e-9)


def test_bolus_peak_is_the_dose_time() -> None:
    ex = compute_exposure(
        get_builtin_model("pk1"), Regimen.from_quantities("50 mg", start="2 h"), params=PK1,
        t_end_h=10.0,
    )  # fmt: skip
    assert ex.tmax_h["drug"][0] == 2.0
    assert ex.cmax_mg_per_L["drug"][0] == pytest.approx(5.0, rel=1e-12)


def test_time_above_matches_closed_form_for_a_bolus() -> None:
    ex = compute_exposure(
        get_builtin_model("pk1"), Regimen.from_quantities("50 mg"), params=PK1, t_end_h=24.0,
        thresholds_mg_per_L={"drug": [1.0, 10.0]},
    )  # fmt: skip
    assert ex.time_above_h[("drug", 1.0)][0] == pytest.approx(np.log(5.0) / K, abs=1e-7)
    assert ex.time_above_h[("drug", 10.0)][0] == 0.0
    assert not ex.is_reached("drug", 10.0)[0]


def test_time_above_sees_an_excursion_between_samples() -> None:
    # an oral peak just above the threshold: the grid may miss it, the refined peak does not
    args = dict(params={**PK1, "KA": KA}, t_end_h=48.0)
    reg = Regimen.from_quantities("100 mg", route="extravascular")
    cmax = compute_exposure(get_builtin_model("pk1_depot"), reg, **args).cmax_mg_per_L["drug"][0]
    thr = float(cmax) * (1 - 1e-9)
    ex = compute_exposure(
        get_builtin_model("pk1_depot"), reg, thresholds_mg_per_L={"drug": [thr]}, **args
    )
    assert 0.0 < ex.time_above_h[("drug", thr)][0] < 1e-3
    assert ex.is_reached("drug", thr, window_h=(0.0, 5.0))[0]


def test_time_above_in_a_window() -> None:
    ex = compute_exposure(
        get_builtin_model("pk1"), Regimen.from_quantities("50 mg"), params=PK1, t_end_h=24.0,
        thresholds_mg_per_L={"drug": [1.0]},
    )  # fmt: skip
    assert ex.get_time_above("drug", 1.0, window_h=(2.0, 4.0))[0] == pytest.approx(2.0)
    assert not ex.is_reached("drug", 1.0, window_h=(9.0, 24.0))[0]


def test_dose_intervals_split_the_auc() -> None:
    reg = Regimen.from_quantities("50 mg", every="6 h", count=3)
    ex = compute_exposure(get_builtin_model("pk1"), reg, params=PK1, t_end_h=20.0)
    assert ex.intervals_h.tolist() == [[0.0, 6.0], [6.0, 12.0], [12.0, 20.0]]
    total = ex.auc_interval_mg_h_per_L["drug"].sum(axis=1)
    assert total[0] == pytest.approx(ex.auc_mg_h_per_L["drug"][0], rel=1e-12)
    acc = 1 + np.exp(-6 * K) + np.exp(-12 * K)
    assert ex.cmax_interval_mg_per_L["drug"][0, 2] == pytest.approx(5.0 * acc, rel=1e-12)
    assert ex.tmax_interval_h["drug"][0].tolist() == [0.0, 6.0, 12.0]


def test_interval_before_a_dose_is_its_supremum() -> None:
    # a constant infusion interrupted by a bolus at 5 h: interval 1's sup is c(5-)
    reg = Regimen.from_quantities("100 mg", duration="10 h") + Regimen.from_quantities(
        "1 mg", start="5 h"
    )
    ex = compute_exposure(get_builtin_model("pk1"), reg, params=PK1, t_end_h=12.0)
    c5 = 10 / CL * (1 - np.exp(-K * 5))
    assert ex.cmax_interval_mg_per_L["drug"][0, 0] == pytest.approx(c5, rel=1e-9)


def test_subjects_are_vectorised_and_chunks_do_not_change_numbers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    m = load_model("herd_2007")
    reg = Regimen.from_quantities("1 mg/kg", duration="10 min", every="12 h", count=2)
    wts = np.array([20.0, 30.0, 45.0])
    thr = {"ketamine": [0.2]}
    ex = compute_exposure(m, reg, covariates={"WT": wts}, t_end_h=24.0, thresholds_mg_per_L=thr)
    one = compute_exposure(m, reg, covariates={"WT": 30.0}, t_end_h=24.0, thresholds_mg_per_L=thr)
    assert ex.cmax_mg_per_L["ketamine"][1] == one.cmax_mg_per_L["ketamine"][0]
    monkeypatch.setattr(exposure, "_WORK_VALUES", 10)  # one subject per chunk
    ch = compute_exposure(m, reg, covariates={"WT": wts}, t_end_h=24.0, thresholds_mg_per_L=thr)
    np.testing.assert_array_equal(ch.auc_mg_h_per_L["ketamine"], ex.auc_mg_h_per_L["ketamine"])
    np.testing.assert_array_equal(
        ch.time_above_h[("ketamine", 0.2)], ex.time_above_h[("ketamine", 0.2)]
    )


def test_metabolite_peak_is_refined() -> None:
    m = load_model("perez_ruixo_2021")
    covs = {k: c.reference for k, c in m.covariates.items()}
    reg = Regimen.from_quantities("56 mg", route="intranasal")
    ex = compute_exposure(m, reg, t_end_h=24.0, covariates=covs)
    from ketasim.simulate import simulate

    tmax = float(ex.tmax_h["s_norketamine"][0])
    t = np.linspace(tmax - 0.01, tmax + 0.01, 20_001)  # a 1e-6 h step around the peak
    c = simulate(m, reg, t, covariates=covs).conc["s_norketamine"][0]
    assert ex.cmax_mg_per_L["s_norketamine"][0] >= c.max() * (1 - 1e-14)  # to round-off
    assert ex.cmax_mg_per_L["s_norketamine"][0] == pytest.approx(c.max(), rel=1e-12)
    assert abs(tmax - t[np.argmax(c)]) < 2e-6


def test_to_pandas_names_units() -> None:
    ex = compute_exposure(
        load_model("herd_2007"), Regimen.from_quantities("20 mg"), covariates={"WT": 20},
        t_end_h=6.0, thresholds_mg_per_L={"ketamine": [0.1]},
    )  # fmt: skip
    cols = list(ex.to_pandas().columns)
    assert cols[:4] == ["ID", "ketamine_cmax_ng_mL", "ketamine_tmax_h", "ketamine_auc_ng_mL_h"]
    assert "ketamine_time_above_100ng_mL_h" in cols


def test_dose_intervals_only_before_the_end() -> None:
    reg = Regimen.from_quantities("1 mg", every="12 h", count=3)
    assert compute_dose_intervals_h(reg, 20.0).tolist() == [[0.0, 12.0], [12.0, 20.0]]


@pytest.mark.parametrize("bad", [np.inf, np.nan, -1.0, 1e400])
def test_threshold_not_finite_or_negative_is_refused(bad: float) -> None:
    with pytest.raises(ParameterError, match="threshold"):
        compute_exposure(
            get_builtin_model("pk1"), Regimen.from_quantities("1 mg"), params=PK1,
            thresholds_mg_per_L={"drug": [bad]},
        )  # fmt: skip


def test_no_dose_before_the_end_is_refused() -> None:
    with pytest.raises(EventError, match="no dose"):
        compute_exposure(
            get_builtin_model("pk1"), Regimen.from_quantities("1 mg", start="5 h"), params=PK1,
            t_end_h=2.0,
        )  # fmt: skip


def test_nonlinear_model_is_refused() -> None:
    with pytest.raises(ParameterError, match="nonlinear"):
        compute_exposure(
            "pk1_mm", Regimen.from_quantities("1 mg"), params={"V1": 1, "VMAX": 1, "KM": 1}
        )


def test_unknown_threshold_analyte_is_refused() -> None:
    with pytest.raises(ParameterError, match="analytes"):
        compute_exposure(
            get_builtin_model("pk1"), Regimen.from_quantities("1 mg"), params=PK1,
            thresholds_mg_per_L={"ketamine": [1.0]},
        )  # fmt: skip
