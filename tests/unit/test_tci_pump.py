"""Simulated pump limits (ketasim.tci.pump)."""

from __future__ import annotations

import math

import pytest

from ketasim.errors import ParameterError, UnitError
from ketasim.tci import TCI_NOTICE, Pump


def test_pump_rate_in_ml_per_h_needs_syringe():
    p = Pump.from_quantities(max_rate="1200 mL/h", syringe="10 mg/mL")
    assert p.max_rate_mg_per_h == 12000.0 and p.get_rate_mL_per_h(600.0) == 60.0
    with pytest.raises(ParameterError, match="--syringe"):
        Pump.from_quantities(max_rate="1200 mL/h")


def test_weight_based_max_rate():
    p = Pump.from_quantities(max_rate="20 mg/kg/h", weight_kg=20.0)
    assert p.max_rate_mg_per_h == 400.0
    with pytest.raises(ParameterError, match="--weight"):
        Pump.from_quantities(max_rate="20 mg/kg/h")


def test_no_syringe_gives_nan_volumes():
    assert math.isnan(Pump(0.01).get_volume_mL(5.0))


@pytest.mark.parametrize("rate", ["0 mg/h", "-5 mg/h"])
def test_non_positive_max_rate_refused(rate):
    with pytest.raises(ParameterError, match="--max-rate"):
        Pump.from_quantities(max_rate=rate)


def test_update_needs_a_time_unit():
    with pytest.raises(UnitError, match="--update"):
        Pump.from_quantities(update="10")


def test_notice_says_simulation_not_pump_control():
    assert "for simulation, not pump control" in TCI_NOTICE
