"""``ketasim screen``: text and JSON reports with sources, modifiers and the notice."""

from __future__ import annotations

import io
import json

from ketasim.cli import main


def _run(argv: list[str]) -> tuple[int, str]:
    out = io.StringIO()
    return main(argv, out=out), out.getvalue()


def test_screen_text_names_sources_and_modifier() -> None:
    code, out = _run(
        [
            "screen",
            "--drug",
            "esketamine",
            "--pregnant",
            "--hypertension",
            "uncontrolled",
            "--drug-taken",
            "clarithromycin",
        ]
    )
    assert code == 0
    assert "[NOT RECOMMENDED, as worded by the label" in out
    assert "where: 8.1 Pregnancy" in out
    assert "clarithromycin_oral_s_ketamine" in out and "Hagelberg" in out
    assert out.count("research and education only") == 2


def test_screen_json_is_parseable_with_findings() -> None:
    code, out = _run(
        [
            "screen",
            "--drug",
            "ketamine",
            "--route",
            "iv",
            "--raised-icp",
            "--age",
            "2 yr",
            "--format",
            "json",
        ]
    )
    assert code == 0
    d = json.loads(out)
    ids = {f["statement_id"] for f in d["findings"]}
    assert {"ket.warn.icp_textbook", "ket.warn.pediatric_neurotoxicity"} <= ids
    assert d["route"] == "iv" and d["applicable_modifier_ids"] == []


def test_screen_list_drugs() -> None:
    code, out = _run(["screen", "--list-drugs"])
    assert code == 0 and out.startswith("clarithromycin: cyp3a4_inhibitor")
