"""Unit tests for ketasim.units: parsing, conversion to canonical units, molar masses."""

from __future__ import annotations

import pytest

from ketasim.errors import UnitError
from ketasim.units import (
    CANONICAL,
    Q_,
    compute_molar_mass,
    convert_magnitude,
    dimensionality_of,
    get_molar_mass_g_per_mol,
    parse_quantity,
    to_canonical,
    to_unit,
)

# --- parse_quantity ------------------------------------------------------------------------------


def test_parse_quantity_text_gives_quantity_with_unit():
    q = parse_quantity("0.5 mg")
    assert q.magnitude == pytest.approx(0.5)
    assert q.to("ug").magnitude == pytest.approx(500.0)


def test_parse_quantity_quantity_passes_through_unchanged():
    q = Q_(3.0, "mg")
    assert parse_quantity(q) is q


def test_parse_quantity_micro_sign_reads_as_u():
    assert parse_quantity("2 µg").to("ug").magnitude == pytest.approx(2.0)


def test_parse_quantity_greek_mu_reads_as_u():
    assert parse_quantity("2 μg").to("ug").magnitude == pytest.approx(2.0)


def test_parse_quantity_surrounding_whitespace_ignored():
    assert parse_quantity("  7 h  ").to("min").magnitude == pytest.approx(420.0)


def test_parse_quantity_bare_float_raises_unit_error_naming_input():
    with pytest.raises(UnitError, match=r"dose 10\.0 has no unit"):
        parse_quantity(10.0, what="dose")


def test_parse_quantity_empty_text_raises_unit_error():
    with pytest.raises(UnitError, match="empty text"):
        parse_quantity("   ", what="dose")


def test_parse_quantity_unknown_unit_raises_unit_error_naming_text():
    with pytest.raises(UnitError, match="10 foobar"):
        parse_quantity("10 foobar")


# --- to_unit -------------------------------------------------------------------------------------


def test_to_unit_ug_per_kg_to_mg_per_kg():
    assert to_unit("500 ug/kg", "mg/kg") == pytest.approx(0.5)


def test_to_unit_ml_per_min_per_kg_to_l_per_h_per_kg():
    assert to_unit("10 mL/min/kg", "L/h/kg") == pytest.approx(0.6)


def test_to_unit_minutes_to_hours():
    assert to_unit("40 min", "h") == pytest.approx(2.0 / 3.0)


def test_to_unit_hours_to_minutes():
    assert to_unit("3 h", "min") == pytest.approx(180.0)


def test_to_unit_days_to_hours():
    assert to_unit("2 day", "h") == pytest.approx(48.0)


def test_to_unit_d_abbreviation_is_day():
    assert to_unit("3.5 d", "h") == pytest.approx(84.0)


def test_to_unit_year_is_julian_year():
    assert to_unit("1 yr", "day") == pytest.approx(365.25)


def test_to_unit_umol_per_l_to_nmol_per_l():
    assert to_unit("0.25 umol/L", "nmol/L") == pytest.approx(250.0)


def test_to_unit_nmol_per_ml_to_nmol_per_l():
    assert to_unit("2 nmol/mL", "nmol/L") == pytest.approx(2000.0)


def test_to_unit_ng_per_ml_to_mg_per_l():
    assert to_unit("250 ng/mL", "mg/L") == pytest.approx(0.25)


def test_to_unit_mg_per_min_to_mg_per_h():
    assert to_unit("1 mg/min", "mg/h") == pytest.approx(60.0)


def test_to_unit_per_minute_to_per_hour():
    assert to_unit("0.5 1/min", "1/h") == pytest.approx(30.0)


def test_to_unit_quantity_input_converted():
    assert to_unit(Q_(2.0, "g"), "mg") == pytest.approx(2000.0)


def test_to_unit_percent_to_dimensionless():
    assert to_unit("5 percent", "") == pytest.approx(0.05)


def test_to_unit_bare_number_allowed_when_dimensionless_requested():
    assert to_unit(5, "", allow_dimensionless=True) == 5.0


def test_to_unit_bare_number_refused_for_dimensional_target_even_if_allowed():
    with pytest.raises(UnitError, match="has no unit"):
        to_unit(5, "mg", allow_dimensionless=True)


def test_to_unit_missing_unit_text_raises_unit_error():
    with pytest.raises(UnitError, match="has no unit"):
        to_unit("10", "mg")


def test_to_unit_missing_unit_message_names_value_and_target():
    with pytest.raises(UnitError) as info:
        to_unit("10", "mg", what="dose")
    assert "dose" in str(info.value)
    assert "'10'" in str(info.value)
    assert "mg" in str(info.value)


def test_to_unit_bare_int_raises_unit_error():
    with pytest.raises(UnitError, match="has no unit"):
        to_unit(10, "mg")


def test_to_unit_wrong_dimension_raises_unit_error():
    with pytest.raises(UnitError, match="wrong unit"):
        to_unit("10 L", "mg")


def test_to_unit_wrong_dimension_message_names_value_and_target():
    with pytest.raises(UnitError) as info:
        to_unit("12 L", "h", what="interval")
    msg = str(info.value)
    assert "interval" in msg
    assert "12" in msg
    assert "h" in msg


def test_to_unit_mass_conc_to_molar_conc_raises_unit_error():
    # NOTE: mass -> molar needs an analyte's molar mass; to_unit alone must refuse it.
    with pytest.raises(UnitError, match="wrong unit"):
        to_unit("1 mg/L", "nmol/L")


def test_to_unit_mass_to_mass_per_kg_raises_unit_error():
    with pytest.raises(UnitError):
        to_unit("35 mg", "mg/kg")


# --- to_canonical --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "kind", "expected"),
    [
        ("1.5 L/min", "clearance", 90.0),
        ("40 min", "time", 2.0 / 3.0),
        ("1 week", "time", 168.0),
        ("500 ug", "amount", 0.5),
        ("250 mL", "volume", 0.25),
        ("40 ng/mL", "conc", 0.04),
        ("0.1 1/min", "rate_constant", 6.0),
        ("2 mg/min", "infusion_rate", 120.0),
        ("0.5 umol/L", "molar_conc", 500.0),
        ("70000 g", "mass", 70.0),
        ("2 mg/kg/min", "rate_per_mass", 120.0),
        ("18 month", "age", 1.5),
    ],
)
def test_to_canonical_converts_each_kind_to_its_canonical_unit(text, kind, expected):
    assert to_canonical(text, kind) == pytest.approx(expected)


def test_to_canonical_ug_per_kg_to_mg_per_kg():
    assert to_canonical("500 ug/kg", "dose_per_mass") == pytest.approx(0.5)


def test_to_canonical_unknown_kind_raises_unit_error_naming_kind():
    with pytest.raises(UnitError, match="unknown quantity kind 'speed'"):
        to_canonical("10 mg", "speed")


def test_to_canonical_wrong_dimension_raises_unit_error_naming_value():
    with pytest.raises(UnitError, match="clearance 3 l"):
        to_canonical("3 L", "clearance", what="clearance")


def test_to_canonical_missing_unit_raises_unit_error():
    with pytest.raises(UnitError, match="has no unit"):
        to_canonical("3", "volume")


def test_canonical_table_uses_h_mg_l():
    assert (CANONICAL["time"], CANONICAL["amount"], CANONICAL["volume"]) == ("h", "mg", "L")
    assert (CANONICAL["clearance"], CANONICAL["conc"]) == ("L/h", "mg/L")


# --- convert_magnitude / dimensionality_of -------------------------------------------------------


def test_convert_magnitude_l_per_min_to_l_per_h():
    assert convert_magnitude(1.0, "L/min", "L/h") == pytest.approx(60.0)


def test_convert_magnitude_incompatible_units_raises_unit_error_naming_both():
    with pytest.raises(UnitError, match="cannot convert 'L' to 'h'"):
        convert_magnitude(1.0, "L", "h")


def test_convert_magnitude_unknown_unit_raises_unit_error():
    with pytest.raises(UnitError, match="bad unit 'foo'"):
        convert_magnitude(1.0, "foo", "h")


def test_dimensionality_of_clearance_is_volume_per_time():
    assert dimensionality_of("L/h") == dimensionality_of("mL/min")


def test_dimensionality_of_empty_text_is_dimensionless():
    assert dimensionality_of("") == dimensionality_of("percent")


def test_dimensionality_of_unknown_unit_raises_unit_error():
    with pytest.raises(UnitError, match="unknown unit 'blorp'"):
        dimensionality_of("blorp")


# --- molar masses --------------------------------------------------------------------------------


def test_get_molar_mass_ketamine_matches_pubchem():
    assert get_molar_mass_g_per_mol("ketamine") == pytest.approx(237.73, abs=0.01)


def test_get_molar_mass_norketamine_matches_pubchem():
    assert get_molar_mass_g_per_mol("norketamine") == pytest.approx(223.70, abs=0.01)


def test_get_molar_mass_hnk_matches_pubchem():
    assert get_molar_mass_g_per_mol("hnk") == pytest.approx(239.70, abs=0.01)


def test_get_molar_mass_dhnk_is_norketamine_minus_h2():
    expected = get_molar_mass_g_per_mol("norketamine") - 2 * 1.008
    assert get_molar_mass_g_per_mol("dhnk") == pytest.approx(expected, rel=1e-12)


def test_get_molar_mass_s_prefix_same_as_racemate():
    assert get_molar_mass_g_per_mol("s_ketamine") == get_molar_mass_g_per_mol("ketamine")


def test_get_molar_mass_r_prefix_same_as_racemate():
    assert get_molar_mass_g_per_mol("r_norketamine") == get_molar_mass_g_per_mol("norketamine")


def test_get_molar_mass_unknown_analyte_raises_unit_error_naming_it():
    with pytest.raises(UnitError, match="unknown analyte 'cocaine'"):
        get_molar_mass_g_per_mol("cocaine")


def test_get_molar_mass_unknown_analyte_message_lists_known_ones():
    with pytest.raises(UnitError, match="ketamine"):
        get_molar_mass_g_per_mol("x_ketamine")


def test_compute_molar_mass_water():
    assert compute_molar_mass("H2O") == pytest.approx(2 * 1.008 + 15.999)


def test_compute_molar_mass_single_atom_without_count():
    assert compute_molar_mass("Cl") == pytest.approx(35.45)


def test_compute_molar_mass_lowercase_formula_raises_unit_error():
    with pytest.raises(UnitError, match="cannot parse molecular formula"):
        compute_molar_mass("c13h16")


def test_compute_molar_mass_empty_formula_raises_unit_error():
    with pytest.raises(UnitError, match="cannot parse molecular formula"):
        compute_molar_mass("")


def test_compute_molar_mass_unknown_element_raises_unit_error_naming_it():
    with pytest.raises(UnitError, match="'Zn'"):
        compute_molar_mass("ZnCl2")


def test_molar_conversion_ng_per_ml_to_nmol_per_l_via_molar_mass():
    # 237.727 ng/mL of ketamine is 1 umol/L = 1000 nmol/L
    mw = get_molar_mass_g_per_mol("ketamine")
    conc_mg_per_L = to_unit(f"{mw} ng/mL", "mg/L")
    nmol_per_L = to_unit(Q_(conc_mg_per_L / mw, "mmol/L"), "nmol/L")
    assert nmol_per_L == pytest.approx(1000.0, rel=1e-12)


def test_parse_quantity_bare_number_is_an_error_issue_2() -> None:
    from ketasim.errors import UnitError
    from ketasim.units import parse_quantity

    with pytest.raises(UnitError, match="has no unit"):
        parse_quantity("10")


def test_molar_mass_double_prefix_refused_issue_2() -> None:
    from ketasim.errors import UnitError
    from ketasim.units import get_molar_mass_g_per_mol

    with pytest.raises(UnitError, match="unknown analyte"):
        get_molar_mass_g_per_mol("s_r_ketamine")
