"""Draft model files in docs/unverified-models/ never ship, and not only because of their status.

Each draft is refused as it is (status "unverified"), and, with the status flipped to
"verified", still refused by the evidence rule when only one implementation backs it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ketasim.errors import ModelError
from ketasim.library import list_models, load_model_file

DRAFTS = sorted((Path(__file__).resolve().parents[2] / "docs" / "unverified-models").glob("*.toml"))


def test_drafts_exist():
    assert {p.stem for p in DRAFTS} >= {"clements_1981", "hijazi_2003", "hornik_2018", "kamp_2020"}


@pytest.mark.parametrize("path", DRAFTS, ids=[p.stem for p in DRAFTS])
def test_draft_refused_as_unverified(path):
    with pytest.raises(ModelError, match="status is 'unverified'"):
        load_model_file(path)


@pytest.mark.parametrize("path", DRAFTS, ids=[p.stem for p in DRAFTS])
def test_draft_refused_by_evidence_rule_even_if_marked_verified(path, tmp_path):
    text = path.read_text(encoding="utf-8").replace('status = "unverified"', 'status = "verified"')
    flipped = tmp_path / path.name
    flipped.write_text(text, encoding="utf-8")
    with pytest.raises(ModelError, match="at least two independent implementations"):
        load_model_file(flipped)


@pytest.mark.parametrize("path", DRAFTS, ids=[p.stem for p in DRAFTS])
def test_draft_not_shipped(path):
    assert path.stem not in list_models()
