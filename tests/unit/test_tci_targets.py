"""TCI target schedules (ketasim.tci.targets)."""

from __future__ import annotations

import math

import pytest

from ketasim.errors import ParameterError, UnitError
from ketasim.tci import MAX_TARGET_MG_PER_L, TargetSchedule, TargetStep, parse_target_step


def test_step_with_time():
    s = parse_target_step("200 ng/mL at 30 min", "ketamine")
    assert (s.time_h, s.conc_mg_per_L) == (0.5, 0.2)


def test_molar_target_converted_with_the_analyte_molar_mass():
    s = parse_target_step("1 umol/L", "s_ketamine")
    assert math.isclose(s.conc_mg_per_L, 0.23773, rel_tol=1e-4)


def test_plausibility_limit_is_ten_times_idvall():
    assert math.isclose(MAX_TARGET_MG_PER_L, 10 * 9.3 * 237.73e-3, rel_tol=1e-3)
    with pytest.raises(ParameterError, match="plausibility limit"):
        TargetStep(0.0, 25.0)


def test_negative_target_refused():
    with pytest.raises(ParameterError, match=">= 0"):
        parse_target_step("-1 ng/mL", "ketamine")


def test_target_without_unit_refused():
    with pytest.raises(UnitError, match="'150'"):
        parse_target_step("150", "ketamine")


def test_schedule_must_start_at_zero():
    with pytest.raises(ParameterError, match="from 0 h"):
        TargetSchedule.from_texts(["150 ng/mL at 5 min"], "ketamine")


def test_schedule_refuses_two_targets_at_once():
    with pytest.raises(ParameterError, match="two targets"):
        TargetSchedule.from_texts(["150 ng/mL", "200 ng/mL at 0 min"], "ketamine")


def test_schedule_lookup_is_piecewise_constant():
    s = TargetSchedule.from_texts(["200 ng/mL at 30 min", "150 ng/mL"], "ketamine")
    assert s.get_conc_mg_per_L([0.0, 0.5, 3.0]).tolist() == [0.15, 0.2, 0.2]
