"""Goal parsing (ketasim.design.goals)."""

from __future__ import annotations

import math

import pytest

from ketasim.design import parse_goal
from ketasim.errors import ParameterError, UnitError


def test_window_with_time_and_ceiling():
    g = parse_goal("ketamine 100-250 ng/mL for >= 30 min, peak < 400 ng/mL")
    assert (g.analyte, g.low_mg_per_L, g.high_mg_per_L) == ("ketamine", 0.1, 0.25)
    assert math.isclose(g.min_time_h, 0.5) and g.ceiling_mg_per_L == 0.4


def test_threshold_reached_at_any_time():
    g = parse_goal("s_ketamine > 100 ng/mL")
    assert g.low_mg_per_L == 0.1 and math.isinf(g.high_mg_per_L) and g.min_time_h == 0.0
    assert g.is_threshold_only


def test_molar_threshold_uses_molar_mass():
    g = parse_goal("ketamine > 420.6 nmol/L")
    assert math.isclose(g.low_mg_per_L, 0.1, rel_tol=1e-3)


def test_auc_clause_with_interval():
    g = parse_goal("ketamine auc >= 500 ng*h/mL over 0-24 h")
    assert math.isclose(g.auc_min_mg_h_per_L, 0.5) and g.auc_window_h == (0.0, 24.0)


def test_ceiling_alone():
    g = parse_goal("norketamine < 300 ng/mL")
    assert g.ceiling_mg_per_L == 0.3 and g.low_mg_per_L is None and not g.is_threshold_only


@pytest.mark.parametrize("text", ["", "ketamine", "ketamine about 100 ng/mL", "peak < 400 ng/mL"])
def test_unreadable_goal_is_an_error(text):
    with pytest.raises(ParameterError):
        parse_goal(text)


def test_goal_without_unit_is_a_unit_error():
    with pytest.raises(UnitError, match="ketamine > 100"):
        parse_goal("ketamine > 100")


def test_inverted_window_refused():
    with pytest.raises(ParameterError, match="upper end"):
        parse_goal("ketamine 250-100 ng/mL")
