"""Parameter table, units derived from the input's units, the value-with-reason type."""

from __future__ import annotations

import math

import pytest

from ketasim.errors import UnitError
from ketasim.nca.parameters import PARAMETERS, Estimate, get_parameter_unit


def test_nan_estimate_without_reason_cannot_be_built() -> None:
    with pytest.raises(ValueError, match="needs a reason"):
        Estimate(math.nan)


def test_every_parameter_kind_has_a_unit() -> None:
    for info in PARAMETERS.values():
        unit, factor = get_parameter_unit(info.kind, time_unit="min", conc_unit="ug/L",
                                          dose_unit="ug")  # fmt: skip
        assert factor > 0, info.code
        assert isinstance(unit, str)


def test_clearance_from_ug_min_and_ng_ml() -> None:
    unit, factor = get_parameter_unit("clearance", time_unit="min", conc_unit="ng/mL",
                                      dose_unit="ug")  # fmt: skip
    # 1 ug / (1 min * 1 ng/mL) = 1000 ng / (ng/mL) / min = 1000 mL/min = 60 L/h
    assert unit == "L/h" and factor == pytest.approx(60.0, rel=1e-15)


def test_clearance_needs_a_dose_unit() -> None:
    with pytest.raises(UnitError, match="no dose unit"):
        get_parameter_unit("clearance", time_unit="h", conc_unit="mg/L", dose_unit=None)


def test_cdisc_codes_for_the_core_set() -> None:
    for code in ("CMAX", "TMAX", "AUCLST", "AUCIFO", "AUCIFP", "LAMZ", "LAMZHL", "LAMZNPT",
                 "R2ADJ", "AUCPEO", "CLFO", "VZFO", "AUCTAU", "CTROUGH", "CAVG"):  # fmt: skip
        assert code in PARAMETERS
    assert PARAMETERS["AUCIFO"].name == "AUC Infinity Obs"
