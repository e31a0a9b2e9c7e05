"""Display and summary grids: event times included, limits, summary accuracy."""

from __future__ import annotations

import numpy as np
import pytest

from ketasim import Regimen, load_model
from ketasim.errors import EventError, ParameterError
from ketasim.grids import MAX_GRID_POINTS, get_default_grid, get_event_times_h, get_summary_grid
from ketasim.nca import compute_auc, compute_cmax
from ketasim.simulate import simulate

PR_COVS = {"AGE": 45.0, "ASIAN": 0.0, "JAPANESE": 0.0, "NDEV": 3.0}


def test_event_times_include_infusion_ends_and_repeats() -> None:
    reg = Regimen.from_quantities("35 mg", duration="40 min", every="3.5 d", count=3)
    ev = get_event_times_h(reg)
    for t in (0.0, 2 / 3, 84.0, 84 + 2 / 3, 168.0, 168 + 2 / 3):
        assert np.any(np.isclose(ev, t, rtol=0, atol=1e-12)), t


def test_event_times_include_modelled_input_end_of_route() -> None:
    spec = load_model("perez_ruixo_2021")
    ev = get_event_times_h(Regimen.from_quantities("84 mg", route="intranasal"), spec, PR_COVS)
    # DSW = 0.53 h: the swallowed share's zero-order release ends there (Table 3)
    assert ev.tolist() == [0.0, 0.53]


def test_default_grid_contains_infusion_end_off_the_step() -> None:
    reg = Regimen.from_quantities("35 mg", duration="37 min")
    g = get_default_grid(reg, until_h=2.0, step_h=0.25)
    assert np.any(np.isclose(g, 37 / 60, rtol=0, atol=1e-12))
    assert g[0] == 0.0 and g[-1] == 2.0 and np.all(np.diff(g) > 0)


def test_default_grid_window_defaults_to_dose_end_plus_24_h() -> None:
    reg = Regimen.from_quantities("35 mg", every="12 h", count=3)
    assert get_default_grid(reg)[-1] == pytest.approx(48.0)


def test_default_grid_refuses_too_many_points() -> None:
    reg = Regimen.from_quantities("35 mg")
    with pytest.raises(EventError, match="points"):
        get_default_grid(reg, until_h=MAX_GRID_POINTS * 2.0, step_h=1.0)


def test_default_grid_refuses_non_positive_step() -> None:
    with pytest.raises(EventError, match="step"):
        get_default_grid(Regimen.from_quantities("35 mg"), step_h=0.0)


def test_summary_grid_refuses_too_many_events() -> None:
    reg = Regimen.from_quantities("1 mg", duration="30 s", every="1 min", count=100_000)
    with pytest.raises(ParameterError, match="summary points"):
        get_summary_grid(reg)


@pytest.mark.parametrize(
    ("model", "dose", "route", "covs"),
    [
        ("perez_ruixo_2021", "84 mg", "intranasal", PR_COVS),
        ("simons_2022", "50 mg", "sublingual", {"WT": 70.0}),
        ("perez_ruixo_2021", "56 mg", "oral", {**PR_COVS, "NDEV": 1.0}),
    ],
)
def test_summary_grid_cmax_auc_match_a_much_finer_grid(
    model: str, dose: str, route: str, covs: dict[str, float]
) -> None:
    # tolerance 1e-4 relative: the sampled peak error c'' h^2 / 8 on the summary grid (h = 2^-7 h
    # here), plus the reference grid's own (100,001 points over 96 h)
    spec = load_model(model)
    reg = Regimen.from_quantities(dose, route=route, every="24 h", count=3)
    g = get_summary_grid(reg, spec=spec, covariates=covs)
    f = np.linspace(0.0, g[-1], 100_001)
    rg = simulate(spec, reg, g, covariates=covs)
    rf = simulate(spec, reg, f, covariates=covs)
    for a in spec.get_analytes():
        cg, cf = rg.get_conc(a, "ng/mL")[0], rf.get_conc(a, "ng/mL")[0]
        assert compute_cmax(g, cg)[0].value == pytest.approx(compute_cmax(f, cf)[0].value, rel=1e-4)
        assert compute_auc(g, cg).value == pytest.approx(compute_auc(f, cf).value, rel=1e-4)


def test_summary_cmax_does_not_depend_on_display_step_issue_12() -> None:
    spec = load_model("herd_2007")
    reg = Regimen.from_quantities("20 mg", duration="10 min", every="24 h", count=2)
    g = get_summary_grid(reg, until_h=30 * 24.0)
    c = simulate(spec, reg, g, covariates={"WT": 20.0}).get_conc("ketamine", "ng/mL")[0]
    exact = simulate(spec, reg, np.array([1 / 6]), covariates={"WT": 20.0})
    assert float(c.max()) == pytest.approx(float(exact.get_conc("ketamine", "ng/mL")[0, 0]))


def test_summary_grid_is_a_power_of_two_lattice_plus_events() -> None:
    spec = load_model("perez_ruixo_2021")
    reg = Regimen.from_quantities("84 mg", route="intranasal", every="3.5 d", count=6)
    g = get_summary_grid(reg, spec=spec, covariates=PR_COVS)
    steps = np.unique(np.diff(g))
    h = steps.max()
    assert np.log2(h) == np.floor(np.log2(h)) and h <= 2**-5
    events = get_event_times_h(reg, spec, PR_COVS)
    assert np.all(np.isin(events, g))
    off = g[~np.isclose(g / h, np.round(g / h), rtol=0, atol=1e-9)]
    assert set(off.tolist()) <= set(events.tolist())
