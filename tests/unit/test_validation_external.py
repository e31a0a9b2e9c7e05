"""Unit tests for ketasim.validation_external and ``ketasim validate --external``."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from ketasim.cli import main
from ketasim.validation_external import (
    format_external_markdown,
    get_external_models,
    load_observations,
    run_external_validation,
)

DOC = Path(__file__).resolve().parents[2] / "docs" / "external-validation.md"


@pytest.fixture(scope="module")
def results():
    return run_external_validation()


def test_external_has_at_least_12_comparisons(results):
    assert len(results) >= 12


def test_external_uses_no_fitted_observation(results):
    assert all(r.obs.use == "check" for r in results)


def test_external_uses_no_observation_from_a_models_own_paper(results):
    assert all(r.obs.study != r.model.split("+")[0] for r in results)


def test_external_failures_are_kept(results):
    assert any(not r.within_1_5x for r in results)


def test_every_observation_has_a_source():
    assert all(o.source.strip() for o in load_observations())


def test_external_models_are_adult_racemic():
    assert "herd_2007" not in get_external_models()
    assert "domino_1984" in get_external_models()


def test_committed_external_validation_is_current(results):
    # regenerate with: ketasim validate --external --markdown docs/external-validation.md
    assert DOC.read_text(encoding="utf-8") == format_external_markdown(results)


def test_cli_validate_external_prints_summary_last(tmp_path):
    out = io.StringIO()
    import contextlib

    with contextlib.redirect_stdout(out):
        rc = main(["validate", "--external", "domino_1984"])
    assert rc == 0
    last = out.getvalue().strip().splitlines()[-1]
    assert last.startswith("external: 12 comparisons, ")
    assert last.endswith(" inside 90% PI")


def test_external_gives_a_prediction_interval_for_models_with_iiv(results):
    with_iiv = [r for r in results if r.model == "perez_ruixo_2021"]
    assert with_iiv and all(r.has_pi and r.pi_low < r.predicted < r.pi_high for r in with_iiv)


def test_external_without_iiv_has_no_interval(results):
    assert all(not r.has_pi and not r.inside_pi for r in results if r.model == "domino_1984")


def test_observation_covariates_are_parsed():
    (obs,) = [o for o in load_observations() if o.obs_id == "wang_esk_cl"]
    assert obs.get_covariates() == {"ASIAN": "1"}
