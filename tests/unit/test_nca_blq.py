"""BLQ rules: PKNCA's defaults (first keep, middle drop, last keep) and options."""

from __future__ import annotations

import numpy as np
import pytest

from ketasim.errors import ParameterError
from ketasim.nca.blq import BLQRule, apply_blq_rule

T = np.arange(6.0)
C = np.array([0.0, 2.0, 0.0, 1.0, 0.0, 0.0])


def test_default_keeps_first_and_last_drops_middle() -> None:
    t, c, dropped = apply_blq_rule(T, C, BLQRule())
    assert t.tolist() == [0, 1, 3, 4, 5]
    assert dropped == [(2.0, "BLQ between measurable concentrations (middle=drop)")]


def test_lloq_makes_low_values_blq() -> None:
    _, c, _ = apply_blq_rule(
        T, np.array([0.1, 2, 0.3, 1, 0.2, 0.1]), BLQRule("keep", "keep", "keep"), 0.5
    )
    assert c.tolist() == [0, 2, 0, 1, 0, 0]


def test_last_drop_removes_trailing_blq() -> None:
    t, _, dropped = apply_blq_rule(T, C, BLQRule(last="drop"))
    assert t.tolist() == [0, 1, 3] and len(dropped) == 3


def test_replacement_value() -> None:
    _, c, _ = apply_blq_rule(T, C, BLQRule(first=0.25, middle=0.5, last="keep"))
    assert c.tolist() == [0.25, 2, 0.5, 1, 0, 0]


def test_all_blq_profile_is_all_first() -> None:
    t, _, dropped = apply_blq_rule(T, np.zeros(6), BLQRule(first="drop"))
    assert t.size == 0 and "before the first" in dropped[0][1]


def test_parse_text_rule() -> None:
    assert BLQRule.parse("first=drop,last=drop") == BLQRule("drop", "drop", "drop")


def test_bad_rule_is_refused() -> None:
    with pytest.raises(ParameterError, match="BLQ rule middle='zero'"):
        BLQRule(middle="zero")
