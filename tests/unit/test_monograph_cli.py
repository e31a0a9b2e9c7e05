"""``ketasim info``: monograph with sources and notice; sections and formats."""

from __future__ import annotations

import io

from ketasim.cli import main


def _run(argv: list[str]) -> tuple[int, str]:
    out = io.StringIO()
    return main(argv, out=out), out.getvalue()


def test_info_esketamine_prints_sources_notice_and_pk() -> None:
    code, out = _run(["info", "esketamine"])
    assert code == 0
    assert "research and education only" in out
    assert "== Sources ==" in out and "  [1] " in out
    assert "Pharmacokinetic summary" in out and "perez_ruixo_2021" in out
    assert "[contraindication] US label: contraindicated in patients with a history of" in out


def test_info_section_and_markdown() -> None:
    code, out = _run(["info", "Spravato", "--section", "uses", "--format", "markdown", "--no-pk"])
    assert code == 0
    assert out.startswith("# Esketamine")
    assert "## Uses and approval status" in out and "## Side effects" not in out
    assert "[approved, US, FDA]" in out


def test_info_comma_separated_sections() -> None:
    code, out = _run(["info", "ketamine", "--section", "abuse,faq", "--no-pk"])
    assert code == 0 and "Schedule III" in out and "Q: Is ketamine addictive?" in out
