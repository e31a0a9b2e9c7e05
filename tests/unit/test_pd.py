"""Unit tests for ketasim.pd (effect site, Emax/linear models), the effects.toml loader
(ketasim.library.effects) and the zone summary (ketasim.risk). Issue 4, parts 2 and 3."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from scipy.integrate import solve_ivp

from ketasim.errors import ModelError, ParameterError, SamplingSiteWarning
from ketasim.events import Regimen
from ketasim.library import load_model
from ketasim.library.effects import load_effects
from ketasim.pd import (
    check_sampling_site,
    compute_effect,
    compute_effect_contributions,
    compute_effect_series,
    compute_effect_site_conc,
    compute_effect_site_series,
    compute_fraction_of_c50,
    compute_fraction_of_emax,
    compute_ke0_per_h,
    describe_drug_form_difference,
    get_effect_model,
)
from ketasim.risk import compute_risk_summary, compute_time_in_band
from ketasim.simulate import simulate

EFFECTS_TOML = Path(__file__).parents[2] / "src" / "ketasim" / "library" / "effects.toml"
OLOFSEN_2022 = "olofsen_2022_antinociception_external_perception"


def _broken_copy(tmp_path: Path, old: str, new: str) -> Path:
    text = EFFECTS_TOML.read_text(encoding="utf-8")
    assert old in text
    p = tmp_path / "effects.toml"
    p.write_text(text.replace(old, new, 1), encoding="utf-8")
    return p


def _ode_effect_site(t: np.ndarray, cp: np.ndarray, t_half_h: float) -> np.ndarray:
    """Reference: dCe/dt = ke0 (Cp - Ce), Cp linear per interval, integrated interval by
    interval (so the kinks of Cp fall on step boundaries) with DOP853 at rtol 1e-12."""
    ke0 = math.log(2.0) / t_half_h
    out = [0.0]
    for i in range(t.size - 1):
        t0, t1, c0, c1 = t[i], t[i + 1], cp[i], cp[i + 1]
        slope = (c1 - c0) / (t1 - t0)

        def rhs(tt: float, y: np.ndarray, t0=t0, c0=c0, slope=slope) -> np.ndarray:
            return ke0 * (c0 + slope * (tt - t0) - y)

        sol = solve_ivp(rhs, (t0, t1), [out[-1]], method="DOP853", rtol=1e-12, atol=1e-15)
        out.append(float(sol.y[0, -1]))
    return np.array(out)


# --- loader ---------------------------------------------------------------------------------------


def test_load_effects_converts_molar_c50_to_canonical():
    m = load_effects().get_model(OLOFSEN_2022)
    # 0.51 nmol/mL x 237.73 g/mol = 121.24 ng/mL
    assert m.parameters["C50"].get_canonical() == pytest.approx(0.51 * 237.73e-3, rel=1e-4)


def test_load_effects_keeps_unverified_parameters_absent():
    m = load_effects().get_model(OLOFSEN_2022)
    assert "gamma" in m.unverified
    assert m.get_parameter("GAMMA", "gamma", "E0", "Emax", "EMAX") is None


def test_load_effects_broken_sampling_names_the_field(tmp_path):
    p = _broken_copy(tmp_path, 'sampling = "arterial"', 'sampling = "arterail"')
    with pytest.raises(ModelError, match=r"olofsen_2022.*'sampling' = 'arterail'"):
        load_effects(p)


def test_load_effects_missing_unit_names_the_field(tmp_path):
    p = _broken_copy(tmp_path, 'value = 0.51\nunit = "nmol/mL"\n', "value = 0.51\n")
    with pytest.raises(ModelError, match=r"parameter C50: required field 'unit'"):
        load_effects(p)


def test_load_effects_unknown_source_names_the_field(tmp_path):
    p = _broken_copy(tmp_path, 'source = "zanos_2018"', 'source = "zanos_2019"')
    with pytest.raises(ModelError, match=r"field 'source' = 'zanos_2019'"):
        load_effects(p)


def test_load_effects_unverified_with_value_is_a_contradiction(tmp_path):
    p = _broken_copy(
        tmp_path,
        'unverified = ["exact equation with the fractional Emax',
        'unverified = ["GAMMA", "exact equation with the fractional Emax',
    )
    with pytest.raises(ModelError, match=r"herd_2008.*'unverified' lists GAMMA"):
        load_effects(p)


def test_load_effects_zone_with_non_concentration_unit_is_refused(tmp_path):
    p = _broken_copy(tmp_path, 'value = 0.1\nunit = "mg/L"', 'value = 0.1\nunit = "mg"')
    with pytest.raises(ModelError, match=r"herd_2007_analgesia_adult.*'unit' = 'mg'"):
        load_effects(p)


def test_get_effect_model_unknown_id_lists_known():
    with pytest.raises(ModelError, match=r"known: .*herd_2008_sedation_children"):
        get_effect_model("nobody_2000")


# --- effect site ----------------------------------------------------------------------------------


def test_effect_site_matches_scipy_ode_on_piecewise_linear_profile():
    t = np.array([0.0, 0.05, 0.2, 0.2, 0.5, 1.0, 2.0, 4.0])
    t_unique = np.array([0.0, 0.05, 0.2, 0.5, 1.0, 2.0, 4.0])
    cp_unique = np.array([0.0, 0.8, 0.5, 0.3, 0.35, 0.1, 0.02])
    ce_ref = _ode_effect_site(t_unique, cp_unique, 8.3 / 60)
    ce = compute_effect_site_conc(t_unique, cp_unique, 8.3 / 60)
    np.testing.assert_allclose(ce, ce_ref, rtol=0, atol=1e-8)
    # a repeated time (zero-length interval) leaves Ce unchanged
    cp_dup = np.insert(cp_unique, 3, cp_unique[2])
    np.testing.assert_allclose(compute_effect_site_conc(t, cp_dup, 8.3 / 60)[[2, 3]], ce[[2, 2]])


def test_effect_site_small_ke0_step_uses_series_without_cancellation():
    # ke0 * h = 1e-6: direct 1 - (1 - e^-x)/x would lose ~10 digits
    t = np.array([0.0, 1e-6 * 8.3 / 60 / math.log(2.0)])
    ce = compute_effect_site_conc(t, [0.0, 1.0], 8.3 / 60)
    assert ce[1] == pytest.approx(1e-6 / 2 - 1e-12 / 6, rel=1e-9)


def test_effect_site_population_rows_are_independent():
    t = np.linspace(0, 2, 50)
    cp = np.vstack([np.exp(-t), 2 * np.exp(-t)])
    ce = compute_effect_site_conc(t, cp, 0.2)
    np.testing.assert_allclose(ce[1], 2 * ce[0], rtol=1e-14)


def test_effect_site_zero_half_time_equals_plasma():
    cp = np.array([0.0, 1.0, 0.5])
    np.testing.assert_array_equal(compute_effect_site_conc([0, 1, 2], cp, 0.0), cp)


def test_effect_site_decreasing_times_raise():
    with pytest.raises(ParameterError, match="non-decreasing"):
        compute_effect_site_conc([0.0, 2.0, 1.0], [0.0, 1.0, 1.0], 0.1)


def test_ke0_from_half_time():
    assert compute_ke0_per_h(0.5) == pytest.approx(math.log(2.0) / 0.5)


def test_effect_site_series_without_ke0_names_it():
    m = get_effect_model("dahan_2011_crps_pain_relief")
    res = simulate(
        load_model("perez_ruixo_2021"),
        Regimen.from_quantities("20 mg", route="iv", duration="1 h"),
        np.linspace(0, 2, 5),
        covariates={"AGE": 40, "ASIAN": 0, "JAPANESE": 0, "NDEV": 1},
    )
    with pytest.raises(ParameterError, match=r"t_half_ke0 is not verified.*10.9 day"):
        compute_effect_site_series(res, m)


# --- concentration-effect -------------------------------------------------------------------------


def test_fraction_of_emax_at_c50_is_half_without_gamma():
    m = get_effect_model(OLOFSEN_2022)
    c50 = m.parameters["C50"].get_canonical()
    np.testing.assert_array_equal(compute_fraction_of_emax(m, [0.0, c50]), [0.0, 0.5])


def test_fraction_of_emax_away_from_c50_without_gamma_names_gamma():
    m = get_effect_model(OLOFSEN_2022)
    with pytest.raises(ParameterError, match="parameter gamma is listed as unverified"):
        compute_fraction_of_emax(m, [0.2])


def test_full_curve_without_emax_names_emax():
    m = get_effect_model("simons_2022_drug_high")
    with pytest.raises(ParameterError, match="parameter Emax"):
        compute_effect(m, {"s_ketamine": 0.1})


def test_fraction_of_c50_is_defined_without_gamma():
    m = get_effect_model("simons_2022_drug_high")
    c50 = m.parameters["C50"].get_canonical()
    np.testing.assert_allclose(compute_fraction_of_c50(m, [c50, 2 * c50]), [1.0, 2.0])


def test_c50_range_model_refuses_single_fraction():
    m = get_effect_model("simons_2022_antinociception")
    with pytest.raises(ParameterError, match="only a C50 range"):
        compute_fraction_of_c50(m, [0.1])


def test_sigmoid_emax_at_ec50_gives_half_maximal_effect():
    m = get_effect_model("herd_2008_sedation_children")
    e0, femax = m.parameters["E0"].get_canonical(), m.parameters["FEMAX"].get_canonical()
    e = compute_effect(m, {"ketamine": m.parameters["EC50"].get_canonical()})
    assert float(e) == pytest.approx(e0 * (1 - femax / 2), rel=1e-12)


def test_sigmoid_emax_hill_shape():
    m = get_effect_model("herd_2008_sedation_children")
    ce = np.array([0.28, 1.12])  # EC50 / 2 and 2 x EC50
    f = compute_fraction_of_emax(m, ce)
    g = m.parameters["GAMMA"].get_canonical()
    np.testing.assert_allclose(f, [0.5**g / (1 + 0.5**g), 2**g / (1 + 2**g)], rtol=1e-12)


def test_linear_model_is_linear_in_each_analyte():
    m = get_effect_model("olofsen_2012_pain_intensity")
    ce = np.array([0.0, 0.1, 0.2])
    e = compute_effect(
        m, {"s_ketamine": ce, "s_norketamine": np.zeros(3)}, relative_to_baseline=True
    )
    np.testing.assert_allclose(e, [0.0, -3.8, -7.6], rtol=1e-12)


def test_linear_model_absolute_effect_needs_e0():
    m = get_effect_model("olofsen_2012_pain_intensity")
    with pytest.raises(ParameterError, match="parameter E0"):
        compute_effect(m, {"s_ketamine": 0.1, "s_norketamine": 0.05})


def test_norketamine_opposes_ketamine_olofsen_2012_example():
    # Olofsen 2012 abstract: Ce S-K 100 ng/mL -> -3.8 cm, Ce S-NK 50 ng/mL -> +1.5 cm, net -2.3
    # cm, printed to 0.1 cm (rounding: +/- 0.05 cm).
    m = get_effect_model("olofsen_2012_pain_intensity")
    ce = {"s_ketamine": 0.100, "s_norketamine": 0.050}
    parts = compute_effect_contributions(m, ce)
    assert float(parts["s_ketamine"]) == pytest.approx(-3.8, abs=0.05)
    assert float(parts["s_norketamine"]) == pytest.approx(1.5, abs=0.05)
    assert float(compute_effect(m, ce, relative_to_baseline=True)) == pytest.approx(-2.3, abs=0.05)


def test_linear_model_missing_analyte_is_named():
    m = get_effect_model("olofsen_2012_pain_intensity")
    with pytest.raises(ParameterError, match="s_norketamine"):
        compute_effect_contributions(m, {"s_ketamine": 0.1})


# --- applying models to simulations ---------------------------------------------------------------


def _esketamine_venous() -> object:
    return simulate(
        load_model("perez_ruixo_2021"),
        Regimen.from_quantities("20 mg", route="iv", duration="40 min"),
        np.linspace(0, 4, 241),
        covariates={"AGE": 40, "ASIAN": 0, "JAPANESE": 0, "NDEV": 1},
    )


def test_sampling_site_warning_arterial_c50_on_venous_model():
    with pytest.warns(SamplingSiteWarning, match="arterial samples.*venous"):
        s = compute_effect_series(
            _esketamine_venous(), get_effect_model(OLOFSEN_2022), "fraction_of_c50"
        )
    assert any("sampling mismatch" in n for n in s.notes)


def test_sampling_site_unknown_gives_note_not_warning():
    assert "cannot be checked" in str(check_sampling_site("unknown", "arterial", "x"))


def test_drug_form_note_s_ketamine_c50_on_racemic():
    note = describe_drug_form_difference("racemic ketamine", "ketamine", "esketamine", "s_ketamine")
    assert note is not None and "overstated" in note


def test_effect_series_linear_model_units_and_notes():
    with pytest.warns(SamplingSiteWarning):
        s = compute_effect_series(
            _esketamine_venous(),
            get_effect_model("olofsen_2012_pain_intensity"),
            "change_from_baseline",
        )
    assert s.unit == "cm"
    assert s.values.shape == (1, 241)
    assert float(s.values[0, 0]) == 0.0


# --- risk summary ---------------------------------------------------------------------------------


def test_time_in_band_linear_crossings_exact():
    t = np.array([0.0, 1.0, 2.0, 3.0])
    c = np.array([0.0, 2.0, 2.0, 0.0])
    # >= 1 from 0.5 h to 2.5 h
    assert float(compute_time_in_band(t, c, 1.0)) == pytest.approx(2.0, abs=1e-12)
    # 0.5..1.5: 0.25-0.75 h and 2.25-2.75 h
    assert float(compute_time_in_band(t, c, 0.5, 1.5)) == pytest.approx(1.0, abs=1e-12)


def test_risk_summary_population_shapes_and_sources():
    res = simulate(
        load_model("herd_2007"),
        Regimen.from_quantities("1.5 mg/kg", route="iv"),
        np.linspace(0, 4, 481),
        covariates={"WT": np.array([15.0, 25.0, 40.0])},
    )
    s = compute_risk_summary(
        res, zone_ids=["herd_2007_awakening_adult"], model_ids=["herd_2008_sedation_children"]
    )
    z = s.zones[0]
    assert z.time_within_h.shape == (3,)
    assert 0.0 <= z.share_reaching <= 1.0
    assert "Herd" in z.source and z.where
    e = s.effects[0]
    assert e.peak_effect is not None and e.peak_effect.shape == (3,)
    assert np.all(e.peak_effect < 5.0)
    assert "RESEARCH" in s.disclaimer.upper()


def test_risk_summary_skips_unsimulated_analyte_with_reason():
    res = simulate(
        load_model("herd_2007"),
        Regimen.from_quantities("1 mg/kg", route="iv"),
        np.linspace(0, 2, 121),
        covariates={"WT": 20.0},
    )
    s = compute_risk_summary(res, zone_ids=[], model_ids=["olofsen_2012_pain_intensity"])
    assert s.skipped == (
        ("olofsen_2012_pain_intensity", "PK model herd_2007 does not simulate s_norketamine"),
    )


def test_risk_summary_warns_for_venous_model_and_arterial_c50():
    with pytest.warns(SamplingSiteWarning, match="simons_2022_drug_high"):
        s = compute_risk_summary(
            _esketamine_venous(), zone_ids=[], model_ids=["simons_2022_drug_high"]
        )
    assert s.effects[0].peak_effect is None
    assert "Emax" in s.effects[0].peak_effect_reason
