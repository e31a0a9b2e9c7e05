"""The population validity warning judges sampled covariates on the sampled values.

Before: a truncated normal ``WT ~ N(20, 5) on [0, 1000] kg`` was judged on its bounds and
reported "WT 0 kg (100% of subjects)"; the warning now gives the share of the sampled subjects
outside the range herd_2007 was built in (10.8-74.8 kg) and the values that are outside.
"""

from __future__ import annotations

import re
import warnings
from typing import Any

import numpy as np
import pytest

from ketasim.errors import ValidityWarning
from ketasim.events import Regimen
from ketasim.library import load_model
from ketasim.population import CovariateTable, TruncatedNormal, simulate_population

HERD = load_model("herd_2007")
REG = Regimen.from_quantities("1 mg/kg")
TIMES = np.linspace(0.0, 2.0, 5)
_LO, _HI = 10.8, 74.8  # herd_2007 population.weight_kg


def _run(cov: Any, n: int = 400) -> tuple[list[str], np.ndarray]:
    with warnings.catch_warnings(record=True) as got:
        warnings.simplefilter("always")
        res = simulate_population(HERD, REG, TIMES, n, seed=3, covariates=cov)
    msgs = [str(w.message) for w in got if issubclass(w.category, ValidityWarning)]
    return msgs, np.asarray(res.covariates["WT"])


def test_truncated_normal_share_is_of_sampled_subjects() -> None:
    msgs, wt = _run({"WT": TruncatedNormal(20.0, 5.0, 0.0, 1000.0)})
    outside = (wt < _LO) | (wt > _HI)
    assert 0 < outside.sum() < wt.size  # the case is informative: some, not all, outside
    assert len(msgs) == 1, msgs
    pct = re.search(r"\((\S+)% of subjects\)", msgs[0])
    assert pct is not None and float(pct.group(1)) == pytest.approx(100 * outside.mean(), abs=0.5)
    assert "WT 0 kg" not in msgs[0]
    span = re.search(r"WT (\S+) to (\S+) kg", msgs[0])
    assert span is not None
    lo, hi = float(span.group(1)), float(span.group(2))
    assert lo == pytest.approx(wt[outside].min(), rel=1e-5)
    assert hi == pytest.approx(wt[outside].max(), rel=1e-5)


def test_truncated_normal_inside_the_range_does_not_warn() -> None:
    # bounds 0-1000 kg lie far outside the range; no sampled subject does
    msgs, wt = _run({"WT": TruncatedNormal(40.0, 3.0, 0.0, 1000.0)})
    assert np.all((wt >= _LO) & (wt <= _HI))
    assert msgs == []


def test_resampled_table_share_is_of_sampled_subjects() -> None:
    table = CovariateTable({"WT": np.array([5.0, 30.0, 30.0, 30.0])})
    msgs, wt = _run(table)
    share = 100 * np.mean(wt < _LO)
    assert len(msgs) == 1
    pct = re.search(r"\((\S+)% of subjects\)", msgs[0])
    assert pct is not None and float(pct.group(1)) == pytest.approx(share, abs=0.5)
