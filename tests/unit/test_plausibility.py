"""check_validity_range: covariates outside the range a model was built in warn, with the share
of subjects (not records) outside."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from ketasim.errors import ValidityWarning
from ketasim.library import load_model
from ketasim.plausibility import check_validity_range

HERD = load_model("herd_2007")


def test_inside_range_no_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_validity_range(HERD, {"WT": 20.0})


def test_share_counts_subjects_of_record_level_values():
    # 8 subjects x 3 records; one subject (3 records) outside: 1 of 8 = 12 %, not 3 of 24
    wt = np.repeat([20.0, 20, 20, 20, 20, 20, 20, 100.0], 3)
    subject = np.repeat(np.arange(8), 3)
    with pytest.warns(ValidityWarning, match=r"WT 100 kg \(12% of subjects\)"):
        check_validity_range(HERD, {"WT": wt}, subject=subject)


def test_share_of_subject_array():
    with pytest.warns(ValidityWarning, match=r"\(25% of subjects\)"):
        check_validity_range(HERD, {"WT": np.array([20.0, 30.0, 40.0, 90.0])})


def test_covariate_valid_range_warns():
    with pytest.warns(ValidityWarning, match=r"NDEV 4 is outside the range .*\(1-3\)"):
        check_validity_range(load_model("perez_ruixo_2021"), {"NDEV": 4.0})
