"""Domains: a value is refused at the edge exactly when it lies outside its domain."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ketasim.errors import ParameterError
from ketasim.individual import coerce_covariates
from ketasim.library import load_model
from ketasim.spec import find_outside_domain

PEREZ = load_model("perez_ruixo_2021")


@settings(derandomize=True, max_examples=200, deadline=None)
@given(st.floats(allow_nan=True, allow_infinity=True, width=64))
def test_ndev_accepted_iff_whole_number_at_least_one(x):
    ok = bool(np.isfinite(x) and x >= 1 and x == round(x))
    if ok:
        assert coerce_covariates(PEREZ, {"NDEV": x})["NDEV"] == x
    else:
        with pytest.raises(ParameterError, match=r"covariate NDEV = "):
            coerce_covariates(PEREZ, {"NDEV": x})


@settings(derandomize=True, max_examples=200, deadline=None)
@given(st.floats(min_value=-10, max_value=10), st.sampled_from(["binary", "fraction", "count"]))
def test_domain_mask_matches_definition(x, domain):
    want = {
        "binary": x not in (0.0, 1.0),
        "fraction": not (0.0 <= x <= 1.0),
        "count": not (x >= 1 and x == round(x)),
    }[domain]
    assert bool(find_outside_domain(x, domain)) == want
