"""Rendering: numbered sources, the research-only notice, sections, modifiers' ratios."""

from __future__ import annotations

import re

import pytest

from ketasim.monograph import MonographError, compute_pk_summary, load_monograph, render_monograph
from ketasim.notices import DISCLAIMER


def test_text_has_notice_and_numbered_sources() -> None:
    out = render_monograph(load_monograph("esketamine"))
    assert out.count(DISCLAIMER) == 2
    refs = {int(n) for n in re.findall(r"[\[;] ?(\d+): ", out)}
    listed = {int(n) for n in re.findall(r"^  \[(\d+)\] ", out, flags=re.M)}
    assert refs and refs == listed


def test_every_statement_appears_with_a_reference() -> None:
    m = load_monograph("ketamine")
    out = render_monograph(m)
    for s in m.statements:
        line = next(ln for ln in out.splitlines() if s.text[:40] in ln)
        assert re.search(r"\[\d+: ", line), s.id


def test_markdown_has_headings_and_pk_table() -> None:
    m = load_monograph("esketamine")
    out = render_monograph(m, format="markdown", pk_summary=compute_pk_summary(m))
    assert "## Uses and approval status" in out
    assert "| regimen | model | analyte | Cmax (ng/mL)" in out
    assert "perez_ruixo_2021" in out


def test_sections_filter_shows_only_those() -> None:
    out = render_monograph(load_monograph("esketamine"), sections=["contraindications"])
    assert "== Who should not take it (contraindications) ==" in out
    assert "== Side effects ==" not in out


def test_interaction_shows_published_ratio_of_modifier() -> None:
    out = render_monograph(load_monograph("esketamine"), sections=["interactions"])
    assert "clarithromycin_oral_s_ketamine" in out and "cmax x3.6" in out


def test_unknown_format_is_refused() -> None:
    with pytest.raises(MonographError, match="unknown format 'html'"):
        render_monograph(load_monograph("hnk"), format="html")


def test_unknown_section_is_refused() -> None:
    with pytest.raises(MonographError, match="unknown section 'x'"):
        render_monograph(load_monograph("hnk"), sections=["x"])
