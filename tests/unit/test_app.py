"""The app without a browser: form <-> scenario, figures, panels, ``ketasim app`` options."""

from __future__ import annotations

import io
import json
import socket
from typing import Any

import pytest

from ketasim.app import get_plotly_js_path
from ketasim.app.panels import get_summary_table
from ketasim.app.plots import get_concentration_figure
from ketasim.app.state import (
    get_default_inputs,
    get_inputs_from_scenario,
    get_safety_profile,
    get_scenario_from_inputs,
    parse_assignments,
)
from ketasim.cli import main
from ketasim.cli.app import is_local_host
from ketasim.report import compute_comparison
from ketasim.scenario import Patient, RegimenSpec, Scenario, ScenarioError

TWO = {
    **get_default_inputs(),
    "r2_on": True,
    "r2_label": "IN",
    "r2_model": "perez_ruixo_2021",
    "r2_dose": 84,
    "r2_dose_unit": "mg",
    "r2_route": "intranasal",
    "r2_sched": "once",
    "r2_cov": "NDEV=3",
}


def test_default_form_is_iv_half_mg_per_kg_over_40_min() -> None:
    s = get_scenario_from_inputs(get_default_inputs())
    (r,) = s.regimens
    assert (r.dose, r.duration, r.route, r.model) == (
        "0.5 mg/kg",
        "40 min",
        "iv",
        "perez_ruixo_2021",
    )


def test_second_slot_only_when_ticked() -> None:
    assert len(get_scenario_from_inputs({**TWO, "r2_on": False}).regimens) == 1
    assert len(get_scenario_from_inputs(TWO).regimens) == 2


def test_form_round_trip_through_scenario() -> None:
    s = Scenario(
        (
            RegimenSpec(
                "a", "simons_2022", "0.25 mg/kg", duration="40 min", every="3.5 d", count=6
            ),
            RegimenSpec(
                "b", "simons_2022", "50 mg", route="sublingual", weekdays=("mon", "thu"), weeks=2
            ),
        ),
        Patient(weight="70 kg", age="30 yr", interacting_drugs=("rifampicin",)),
        seed=4,
        population_n=300,
    )
    assert get_scenario_from_inputs(get_inputs_from_scenario(s)) == s


def test_form_every_needs_whole_count() -> None:
    bad = {**get_default_inputs(), "r1_sched": "every", "r1_every": 12, "r1_count": 2.5}
    with pytest.raises(ScenarioError, match="whole number"):
        get_scenario_from_inputs(bad)


def test_form_missing_dose_names_the_regimen() -> None:
    with pytest.raises(ScenarioError, match="regimen 1: give a dose"):
        get_scenario_from_inputs({**get_default_inputs(), "r1_dose": None})


def test_parse_assignments_refuses_text() -> None:
    with pytest.raises(ScenarioError, match="NDEV=three"):
        parse_assignments("NDEV=three", "covariates")


def test_safety_profile_from_conditions() -> None:
    p = get_safety_profile(
        Patient(conditions=("pregnant", "hepatic_impairment:severe", "cardiovascular:avm"))
    )
    assert p.pregnant and p.hepatic_impairment == "severe"
    assert p.cardiovascular == ("av_malformation",)


def test_safety_profile_unknown_condition_refused() -> None:
    with pytest.raises(ScenarioError, match="'flu'"):
        get_safety_profile(Patient(conditions=("flu",)))


def test_figure_escapes_labels_and_carries_notice() -> None:
    s = get_scenario_from_inputs({**TWO, "r1_label": "<img src=x onerror=alert(1)>"})
    fig = get_concentration_figure(compute_comparison(s), log_axis=True)
    text = json.dumps(fig)
    assert "<img" not in text and "&lt;img src=x onerror=alert(1)&gt;" in text
    assert fig["layout"]["yaxis"]["type"] == "log"
    assert "research and education only" in text and "Perez-Ruixo" in text
    assert len(fig["data"]) == 4


def test_summary_table_escapes_and_holds_full_values() -> None:
    s = get_scenario_from_inputs({**TWO, "r1_label": "<script>x()</script>"})
    comp = compute_comparison(s)
    html = str(get_summary_table(comp))
    assert "<script>x()" not in html and "&lt;script&gt;x()&lt;/script&gt;" in html
    assert f'data-value="{comp.arms[0].summaries[0].cmax!r}"' in html


def test_plotly_js_ships_in_the_plotly_wheel() -> None:
    p = get_plotly_js_path()
    assert p.is_file() and p.stat().st_size > 1_000_000


@pytest.mark.parametrize(
    ("host", "local"),
    [
        ("127.0.0.1", True),
        ("127.5.0.1", True),
        ("localhost", True),
        ("::1", True),
        ("0.0.0.0", False),
        ("192.168.1.5", False),
        ("example.org", False),
    ],
)
def test_is_local_host(host: str, local: bool) -> None:
    assert is_local_host(host) is local


def test_app_non_local_host_refused_without_flag(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["app", "--host", "0.0.0.0"], out=io.StringIO()) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--allow-remote" in err[0] and "0.0.0.0" in err[0]


def test_app_busy_port_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        assert main(["app", "--port", str(port)], out=io.StringIO()) == 2
    err = capsys.readouterr().err
    assert f"port {port}" in err and "in use" in err


def test_app_bad_port_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["app", "--port", "70000"], out=io.StringIO()) == 2
    assert "--port 70000" in capsys.readouterr().err


def test_app_remote_with_flag_warns_and_prints_address(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import uvicorn

    import ketasim.app

    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: calls.append(kw))
    monkeypatch.setattr(ketasim.app, "create_app", lambda: object())
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    out = io.StringIO()
    assert main(["app", "--host", "0.0.0.0", "--port", str(port), "--allow-remote"], out=out) == 0
    assert calls == [{"host": "0.0.0.0", "port": port, "log_level": "warning", "ws": "auto"}]
    assert f"http://0.0.0.0:{port}/" in out.getvalue()
    assert "no login" in capsys.readouterr().err


def test_model_note_shows_evidence_tier() -> None:
    from ketasim import load_model
    from ketasim.app.panels import get_model_note

    note = str(get_model_note(load_model("simons_2022")))
    assert "evidence: published" in note and "Simons" in note


def test_form_seed_must_be_whole() -> None:
    with pytest.raises(ScenarioError, match=r"seed 1\.5"):
        get_scenario_from_inputs({**get_default_inputs(), "seed": 1.5})
