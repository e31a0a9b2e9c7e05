"""format_provenance: one line with id, citation, evidence tier and sampling for every model."""

from __future__ import annotations

import pytest

from ketasim.library import format_provenance, get_evidence_tier, list_models, load_model
from ketasim.spec import get_builtin_model


@pytest.mark.parametrize("model_id", list_models())
def test_provenance_names_id_tier_and_sampling(model_id):
    spec = load_model(model_id)
    line = format_provenance(spec)
    assert line.startswith(f"{model_id}: ")
    assert f"evidence: {spec.evidence.tier}" in line
    assert f"sampling: {spec.sampling}" in line
    assert "\n" not in line


def test_provenance_transcribed_names_both_projects():
    line = format_provenance(load_model("domino_1984"))
    assert "transcribed (opentiva 1.1.2, stanpumpR 0.0.1.9002)" in line


def test_provenance_generic_model():
    assert get_evidence_tier(get_builtin_model("pk2")) == "generic"
    assert "user-supplied" in format_provenance(get_builtin_model("pk2"))
