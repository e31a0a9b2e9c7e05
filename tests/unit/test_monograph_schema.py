"""Monograph schema: a statement without a source (or a malformed one) fails to load."""

from __future__ import annotations

from pathlib import Path

import pytest

from ketasim.monograph import MonographError, load_monograph_file

GOOD = """
id = "fixture"
name = "Fixture drug"
reviewed = "2026-12-02"

[sources.label_a]
kind = "label"
title = "Fixture label"
jurisdiction = "US (FDA)"
version = "Revised 1/2026"
url = "https://example.org/label"

[[statement]]
id = "fx.use"
section = "uses"
status = "approved"
jurisdiction = "US"
authority = "FDA"
text = "Indicated for X."
cite = [{ source = "label_a", where = "section 1" }]

[[statement]]
id = "fx.disclaimer"
section = "disclaimer"
text = "Research only."
cite = [{ source = "label_a", where = "section 17" }]
"""


def _write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "fixture.toml"
    p.write_text(text)
    return p


def _load(tmp_path: Path, text: str) -> None:
    load_monograph_file(_write(tmp_path, text))


def test_fixture_good_loads(tmp_path: Path) -> None:
    m = load_monograph_file(_write(tmp_path, GOOD))
    assert [s.id for s in m.statements] == ["fx.use", "fx.disclaimer"]
    assert m.get_statement("fx.use").cite[0].where == "section 1"


def test_statement_without_cite_fails_naming_it(tmp_path: Path) -> None:
    broken = GOOD.replace('cite = [{ source = "label_a", where = "section 1" }]\n', "")
    with pytest.raises(MonographError, match=r"statement 'fx.use'.*has no source"):
        _load(tmp_path, broken)


def test_statement_with_empty_cite_fails(tmp_path: Path) -> None:
    broken = GOOD.replace('cite = [{ source = "label_a", where = "section 1" }]', "cite = []")
    with pytest.raises(MonographError, match="has no source"):
        _load(tmp_path, broken)


def test_cite_without_where_fails(tmp_path: Path) -> None:
    broken = GOOD.replace('{ source = "label_a", where = "section 1" }', '{ source = "label_a" }')
    with pytest.raises(MonographError, match=r"cite\[0\].*'where' is missing"):
        _load(tmp_path, broken)


def test_cite_of_undeclared_source_fails(tmp_path: Path) -> None:
    broken = GOOD.replace('source = "label_a", where = "section 1"', 'source = "nope", where = "x"')
    with pytest.raises(MonographError, match="'nope' is not a declared source"):
        _load(tmp_path, broken)


def test_label_source_without_version_fails(tmp_path: Path) -> None:
    broken = GOOD.replace('version = "Revised 1/2026"\n', "")
    with pytest.raises(MonographError, match=r"sources.label_a.*'version' is missing"):
        _load(tmp_path, broken)


def test_source_without_url_fails(tmp_path: Path) -> None:
    broken = GOOD.replace('url = "https://example.org/label"\n', "")
    with pytest.raises(MonographError, match="needs the 'url' where it was read"):
        _load(tmp_path, broken)


def test_use_without_status_fails(tmp_path: Path) -> None:
    broken = GOOD.replace('status = "approved"\n', "")
    with pytest.raises(MonographError, match="'status' is missing"):
        _load(tmp_path, broken)


def test_use_status_outside_vocabulary_fails(tmp_path: Path) -> None:
    broken = GOOD.replace('status = "approved"', 'status = "recommended"')
    with pytest.raises(MonographError, match="'recommended' is not one of"):
        _load(tmp_path, broken)


def test_approved_use_without_authority_fails(tmp_path: Path) -> None:
    broken = GOOD.replace('authority = "FDA"\n', "")
    with pytest.raises(MonographError, match="'authority' is missing"):
        _load(tmp_path, broken)


def test_severity_outside_vocabulary_fails(tmp_path: Path) -> None:
    broken = GOOD.replace('text = "Research only."', 'text = "x"\nseverity = "dangerous"')
    with pytest.raises(MonographError, match="'dangerous' is not one of"):
        _load(tmp_path, broken)


def test_unknown_screen_condition_fails(tmp_path: Path) -> None:
    broken = GOOD.replace(
        'text = "Research only."', 'text = "x"\nscreen = { conditions = ["sad"] }'
    )
    with pytest.raises(MonographError, match="'sad' is not a known condition"):
        _load(tmp_path, broken)


def test_unknown_modifier_id_fails(tmp_path: Path) -> None:
    broken = GOOD.replace('text = "Indicated for X."', 'text = "x"\nmodifier_ids = ["made_up"]')
    with pytest.raises(MonographError, match=r"'made_up' is not in library/modifiers\.toml"):
        _load(tmp_path, broken)


def test_cite_of_modifier_uses_its_citation(tmp_path: Path) -> None:
    text = GOOD.replace(
        '{ source = "label_a", where = "section 1" }',
        '{ modifier = "clarithromycin_oral_s_ketamine" }',
    )
    m = load_monograph_file(_write(tmp_path, text))
    ref = m.get_statement("fx.use").cite[0]
    assert ref.source.doi == "10.1016/j.ejpain.2009.10.003"
    assert ref.where == "abstract"


def test_missing_disclaimer_fails(tmp_path: Path) -> None:
    start = GOOD.index('[[statement]]\nid = "fx.disclaimer"')
    with pytest.raises(MonographError, match="needs a 'disclaimer' statement"):
        _load(tmp_path, GOOD[:start])


def test_duplicate_statement_id_fails(tmp_path: Path) -> None:
    broken = GOOD.replace('id = "fx.disclaimer"', 'id = "fx.use"')
    with pytest.raises(MonographError, match="duplicate statement id"):
        _load(tmp_path, broken)


def test_unknown_field_fails(tmp_path: Path) -> None:
    broken = GOOD.replace('text = "Indicated for X."', 'text = "x"\nsafe = true')
    with pytest.raises(MonographError, match=r"unknown field\(s\) safe"):
        _load(tmp_path, broken)


def test_field_outside_its_section_fails(tmp_path: Path) -> None:
    broken = GOOD.replace('text = "Research only."', 'text = "x"\nschedule = "CIII"')
    with pytest.raises(MonographError, match="'schedule' is not used in section 'disclaimer'"):
        _load(tmp_path, broken)


def test_invalid_toml_fails_naming_file(tmp_path: Path) -> None:
    with pytest.raises(MonographError, match=r"fixture\.toml: not valid TOML"):
        _load(tmp_path, GOOD + "\n[[statement\n")
