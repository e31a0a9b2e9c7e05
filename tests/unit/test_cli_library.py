"""``ketasim models``, ``model show`` and ``compare-models``: tier shown, filters, spread."""

from __future__ import annotations

import io

from ketasim.cli import main
from ketasim.library import list_models, load_model


def _run(argv: list[str]) -> tuple[int, str]:
    out = io.StringIO()
    code = main(argv, out=out)
    return code, out.getvalue()


def test_models_shows_every_model_with_its_tier():
    code, text = _run(["models"])
    assert code == 0
    assert "evidence" in text.splitlines()[0]
    for mid in list_models():
        (line,) = [ln for ln in text.splitlines() if ln.startswith(mid + " ")]
        assert f" {load_model(mid).evidence.tier} " in line


def test_models_filter_drug_route_population():
    code, text = _run(["models", "--drug", "racemic", "--route", "iv", "--population", "adult"])
    assert code == 0
    listed = [ln.split()[0] for ln in text.splitlines()[1:] if ln and not ln.startswith("fitting")]
    assert listed == ["domino_1984", "domino_1984+racemic_adult_norketamine+racemic_adult_routes"]


def test_models_filter_without_match_says_so():
    code, text = _run(["models", "--drug", "racemic", "--route", "subcutaneous"])
    assert code == 0
    assert "no library model fits" in text and "missing-models.md" in text


def test_models_unknown_drug_exit_2(capsys):
    code, _ = _run(["models", "--drug", "morphine"])
    assert code == 2
    assert "drug 'morphine'" in capsys.readouterr().err


def test_model_show_transcribed_names_implementations():
    code, text = _run(["model", "show", "domino_1984"])
    assert code == 0
    assert "evidence: transcribed" in text
    assert "transcribed from opentiva 1.1.2" in text
    assert "transcribed from stanpumpR" in text


def test_model_show_published_model_shows_tier_and_domains():
    code, text = _run(["model", "show", "perez_ruixo_2021"])
    assert code == 0
    assert "evidence: published" in text
    assert "NDEV" in text and "a whole number >= 1" in text and "28 mg per device" in text


def test_compare_models_lists_every_suitable_model_and_reason():
    code, text = _run(
        [
            "compare-models",
            "--drug",
            "esketamine",
            "--dose",
            "0.25 mg/kg",
            "--duration",
            "40 min",
            "--weight",
            "70 kg",
            "--population",
            "adult",
        ]
    )
    assert code == 0
    rows = [ln.split()[0] for ln in text.splitlines() if ln.split()[:1] and "_20" in ln.split()[0]]
    assert set(rows) == {"perez_ruixo_2021", "simons_2022"}
    assert "why: arterial vs venous sampling" in text
    assert "spread s_ketamine: Cmax x" in text
    assert "research and education only" in text


def test_compare_models_plot_written(tmp_path):
    plot = tmp_path / "cmp.png"
    code, _ = _run(
        [
            "compare-models",
            "--drug",
            "racemic",
            "--dose",
            "35 mg",
            "--population",
            "adult",
            "--plot",
            str(plot),
        ]
    )
    assert code == 0
    assert plot.read_bytes()[:4] == b"\x89PNG"
