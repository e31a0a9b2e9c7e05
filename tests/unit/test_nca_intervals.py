"""Intervals: parsing with units, validity, parameter sets."""

from __future__ import annotations

import math

import pytest

from ketasim.errors import ParameterError, UnitError
from ketasim.nca.intervals import Interval, get_interval_parameters, parse_interval


def test_parse_converts_to_the_data_unit() -> None:
    assert parse_interval("30 min,2 h", "h") == Interval(0.5, 2.0)


def test_parse_infinite_end() -> None:
    assert math.isinf(parse_interval("0,inf h", "h").end)


def test_parse_wrong_dimension_is_refused() -> None:
    with pytest.raises(UnitError, match="wrong unit"):
        parse_interval("0,24 mg", "h")


def test_tau_needs_a_finite_end() -> None:
    with pytest.raises(ParameterError, match="finite end"):
        Interval(0.0, math.inf, tau=True)


def test_infinite_interval_reports_aucinf_not_aucint() -> None:
    codes = get_interval_parameters(Interval(0.0), route="extravascular", threshold=False,
                                    has_dose=True)  # fmt: skip
    assert "AUCIFO" in codes and "AUCINT" not in codes and "CLFO" in codes


def test_tau_interval_reports_auctau_and_cl_for_the_route() -> None:
    codes = get_interval_parameters(Interval(0.0, 12.0, tau=True), route="intravascular",
                                    threshold=True, has_dose=True)  # fmt: skip
    assert {"AUCTAU", "CLTAU", "CTROUGH", "TABOVE", "MRTIVLST"} <= set(codes)
    assert "AUCIFO" not in codes
