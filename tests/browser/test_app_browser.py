"""The app in a real browser (Debian's chromium via Playwright): the issue 11 walk-through.

Each test saves a screenshot of every state under its tmp_path and checks it is not blank; the
``app_page`` fixture fails a test if the page asked any other host for anything, opened a dialog
or raised a script error.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

from ketasim.report.comparison import compute_comparison
from ketasim.scenario import Patient, RegimenSpec, Scenario, load_scenario
from tests.browser.conftest import Page, assert_not_blank, assert_only_local, open_page

pytestmark = pytest.mark.slow

IV = RegimenSpec("IV 0.5 mg/kg over 40 min", "perez_ruixo_2021", "0.5 mg/kg", duration="40 min")
IN = RegimenSpec(
    "Intranasal 84 mg", "perez_ruixo_2021", "84 mg", route="intranasal", covariates={"NDEV": 3}
)
PATIENT = Patient(weight="70 kg", age="45 yr")


def settle(page: Any) -> None:
    """Wait until Shiny has finished recomputing."""
    page.wait_for_timeout(400)
    page.wait_for_function("!document.documentElement.classList.contains('shiny-busy')")
    page.wait_for_timeout(200)


def set_regimen(
    page: Any,
    k: int,
    *,
    label: str,
    dose: str,
    unit: str,
    route: str,
    dur: str,
    cov: str = "",
    model: str = "perez_ruixo_2021",
) -> None:
    if k > 1:
        page.check(f"#r{k}_on")
    page.fill(f"#r{k}_label", label)
    page.select_option(f"#r{k}_model", model)
    settle(page)
    page.fill(f"#r{k}_dose", dose)
    page.select_option(f"#r{k}_dose_unit", unit)
    page.select_option(f"#r{k}_route", route)
    page.fill(f"#r{k}_dur", dur)
    page.fill(f"#r{k}_cov", cov)
    settle(page)


def build_two(p: Page) -> None:
    pg = p.page
    set_regimen(pg, 1, label=IV.label, dose="0.5", unit="mg/kg", route="iv", dur="40")
    set_regimen(
        pg, 2, label=IN.label, dose="84", unit="mg", route="intranasal", dur="0", cov="NDEV=3"
    )
    pg.wait_for_function("document.querySelectorAll('#summary tr[data-regimen]').length == 4")


def page_numbers(pg: Any) -> dict[tuple[str, str, str], float]:
    cells = pg.eval_on_selector_all(
        "#summary tr[data-regimen] td[data-key]",
        "els => els.map(e => [e.parentElement.dataset.regimen, e.parentElement.dataset.analyte,"
        " e.dataset.key, e.dataset.value])",
    )
    return {(r, a, k): float(v) for r, a, k, v in cells}


def api_numbers(s: Scenario) -> dict[tuple[str, str, str], float]:
    out: dict[tuple[str, str, str], float] = {}
    for arm in compute_comparison(s).arms:
        for x in arm.summaries:
            for key, v in (
                ("cmax", x.cmax),
                ("tmax_h", x.tmax_h),
                ("auc", x.auc),
                ("time_in_zone_h", x.time_in_zone_h),
                ("accumulation", x.accumulation),
            ):
                out[(x.regimen, x.analyte, key)] = v
    return out


def assert_same_numbers(a: dict[Any, float], b: dict[Any, float]) -> None:
    assert a.keys() == b.keys()
    for k in a:
        if math.isnan(b[k]):
            assert math.isnan(a[k]), k
        else:
            assert a[k] == pytest.approx(b[k], rel=1e-12, abs=0.0), k


def test_walkthrough_compare_log_population_downloads(app_page: Page) -> None:
    """Issue 11's walk-through on one page: every state screenshotted and checked."""
    build_two(app_page)
    pg = app_page.page
    # both curves and the table, with citation and notice; numbers equal the API's
    assert int(pg.get_attribute("#conc_plot", "data-traces") or 0) >= 4
    legend = pg.text_content("#conc_plot .legend") or ""
    assert IV.label in legend and IN.label in legend
    assert "Perez-Ruixo" in pg.inner_text("#summary caption")
    assert "research and education only" in pg.inner_text("#summary caption")
    assert "research and education only" in (pg.text_content("#conc_plot") or "")
    app_page.shot("1-two-regimens")
    assert_same_numbers(page_numbers(pg), api_numbers(Scenario((IV, IN), PATIENT)))
    # log axis
    pg.check("input[name=axis][value=log]")
    pg.wait_for_function("document.getElementById('conc_plot').dataset.yaxisType === 'log'")
    app_page.shot("2-log-axis")
    # a population of 1,000 with the progress indicator
    pg.click("a[data-value=Population]")
    pg.fill("#pop_n", "1000")
    settle(pg)
    pg.click("#pop_run")
    pg.wait_for_selector("#pop_progress progress", timeout=20_000)
    assert "Simulating 1,000 subjects" in pg.inner_text("#pop_progress")
    app_page.shot("3-population-running")
    pg.wait_for_selector("#pop_done", timeout=120_000)
    pg.wait_for_function("Number(document.getElementById('pop_plot').dataset.bands) >= 4")
    assert "1,000 subjects per regimen" in pg.inner_text("#pop_done")
    app_page.shot("4-population-bands")
    # effects and risk: published zones with their sources
    pg.click("a[data-value='Effects and risk']")
    pg.wait_for_selector("#risk table.risk")
    assert "Långsjö" in pg.inner_text("#risk")
    app_page.shot("5-effects-risk")
    # downloads: scenario, report, CSV, PNG
    pg.click("a[data-value='Report and files']")
    out = app_page.out
    files: dict[str, Path] = {}
    for name in ("dl_scenario", "dl_report", "dl_csv", "dl_png"):
        with pg.expect_download(timeout=60_000) as info:
            pg.click(f"#{name}")
        files[name] = out / info.value.suggested_filename
        info.value.save_as(files[name])
    app_page.shot("6-files")
    s = load_scenario(files["dl_scenario"])
    assert [r.label for r in s.regimens] == [IV.label, IN.label]
    assert s.population_n == 1000
    assert_same_numbers(page_numbers(pg), api_numbers(s))
    html = files["dl_report"].read_text(encoding="utf-8")
    for needle in (
        "research and education only",
        "SHA-256",
        "perez_ruixo_2021",
        "doi:10.1007/s40262-020-00953-4",
        "data:image/png;base64,",
        IN.label,
        "5-95 % of 1000 simulated subjects",
    ):
        assert needle in html
    assert "seed = 1" in html
    assert "s_norketamine" in files["dl_csv"].read_text(encoding="utf-8")
    assert_not_blank(files["dl_png"])
    # the monograph: every statement with a numbered source
    pg.click("a[data-value=Monograph]")
    pg.wait_for_selector("#monograph[data-monograph=esketamine]")
    n_statements = pg.eval_on_selector_all("#monograph li[data-statement]", "e => e.length")
    n_refs = pg.eval_on_selector_all("#monograph li[data-statement] .ks-ref", "e => e.length")
    assert n_statements > 10 and n_refs >= n_statements
    assert pg.eval_on_selector_all("#monograph_sources li", "e => e.length") > 0
    app_page.shot("7-monograph")
    # the safety screen for a patient on clarithromycin
    pg.fill("#drugs", "clarithromycin")
    settle(pg)
    pg.click("a[data-value='Safety screen']")
    pg.click("#screen_run")
    pg.wait_for_selector("#screen_modifiers")
    text = pg.inner_text("#screen")
    assert "clarithromycin" in text and "Hagelberg" in text and "does not transfer" in text
    app_page.shot("8-screen-clarithromycin")
    pg.click("a[data-value=Compare]")
    pg.wait_for_selector("#interactions")
    assert "clarithromycin_oral_s_ketamine" in pg.inner_text("#interactions")
    # the report opened from disk
    pg.goto(files["dl_report"].as_uri())
    app_page.shot("9-report")
    app_page.requests[:] = [u for u in app_page.requests if not u.startswith("file:")]


RACEMIC_ADULT = "domino_1984+racemic_adult_norketamine+racemic_adult_routes"


def test_adult_racemic_iv_im_intranasal_side_by_side(app_page: Page) -> None:
    """Issue 9's question in the app: IV vs IM vs intranasal racemic ketamine in an adult."""
    pg = app_page.page
    arms = (
        ("IV 0.5 mg/kg over 40 min", "iv", "40"),
        ("IM 0.5 mg/kg", "im", "0"),
        ("Intranasal 0.5 mg/kg", "intranasal_yanagihara_2003", "0"),
    )
    for k, (label, route, dur) in enumerate(arms, start=1):
        set_regimen(
            pg, k, label=label, dose="0.5", unit="mg/kg", route=route, dur=dur, model=RACEMIC_ADULT
        )
    # ketamine and norketamine for each of the three arms
    pg.wait_for_function("document.querySelectorAll('#summary tr[data-regimen]').length == 6")
    assert "derived" in pg.inner_text("#r1_model_note")
    app_page.shot("1-racemic-adult-routes")
    specs = tuple(
        RegimenSpec(label, RACEMIC_ADULT, "0.5 mg/kg", route=route, duration=f"{dur} min")
        if dur != "0"
        else RegimenSpec(label, RACEMIC_ADULT, "0.5 mg/kg", route=route)
        for label, route, dur in arms
    )
    assert_same_numbers(page_numbers(pg), api_numbers(Scenario(specs, PATIENT)))


def test_upload_scenario_shows_it(app_page: Page, tmp_path: Path) -> None:
    f = tmp_path / "s.toml"
    f.write_text(Scenario((IV, IN), PATIENT, title="uploaded").to_toml(), encoding="utf-8")
    pg = app_page.page
    pg.set_input_files("#upload", str(f))
    pg.wait_for_selector("#upload_msg")
    assert "loaded s.toml" in pg.inner_text("#upload_msg")
    pg.wait_for_function("document.querySelectorAll('#summary tr[data-regimen]').length == 4")
    settle(pg)
    assert pg.input_value("#r2_label") == IN.label
    assert pg.input_value("#r2_route") == "intranasal"
    assert_same_numbers(page_numbers(pg), api_numbers(Scenario((IV, IN), PATIENT)))
    app_page.shot("15-uploaded")


def test_hostile_inputs_refused_and_other_sessions_served(
    app_page: Page, chromium: Any, app_url: str, tmp_path: Path
) -> None:
    pg = app_page.page
    # population of 10^9
    pg.click("a[data-value=Population]")
    pg.fill("#pop_n", "1000000000")
    settle(pg)
    pg.click("#pop_run")
    pg.wait_for_selector("#pop_error")
    assert "20000" in pg.inner_text("#pop_error")
    app_page.shot("10-n-refused")
    # a dose of 1e6 mg
    pg.click("a[data-value=Compare]")
    pg.select_option("#r1_dose_unit", "mg")
    pg.fill("#r1_dose", "1000000")
    pg.wait_for_selector("#error", timeout=20_000)
    assert "refused" in pg.inner_text("#error") and "1000000 mg" in pg.inner_text("#error")
    app_page.shot("11-dose-refused")
    # malformed and oversized scenario uploads
    bad = tmp_path / "bad.toml"
    bad.write_text("[[regimen]\nmodel = ", encoding="utf-8")
    pg.set_input_files("#upload", str(bad))
    pg.wait_for_selector("#upload_msg.ks-error")
    assert "not valid TOML" in pg.inner_text("#upload_msg")
    big = tmp_path / "big.toml"
    big.write_text("# " + "x" * 200_000 + "\n", encoding="utf-8")
    pg.set_input_files("#upload", str(big))
    pg.wait_for_function(
        "document.getElementById('upload_msg').innerText.includes('at most 65536 bytes')"
    )
    unknown = tmp_path / "unknown.toml"
    unknown.write_text('[[regimen]]\nmodel = "x"\ndose = "1 mg"\nfoo = 1\n', encoding="utf-8")
    pg.set_input_files("#upload", str(unknown))
    pg.wait_for_function("document.getElementById('upload_msg').innerText.includes('foo')")
    app_page.shot("12-uploads-refused")
    # script and markup in text fields: shown as text, never run
    pg.fill("#r1_dose", "0.5")
    pg.select_option("#r1_dose_unit", "mg/kg")
    evil = '<script>window.__pwned=1;alert(1)</script><img src=x onerror="alert(2)">'
    pg.fill("#r1_label", evil)
    pg.fill("#title", evil)
    pg.fill("#drugs", evil)
    settle(pg)
    pg.wait_for_selector("#summary tr[data-regimen]")
    assert evil in pg.inner_text("#summary")
    assert pg.evaluate("window.__pwned === undefined")
    assert pg.eval_on_selector_all("#summary img, #notes img, #conc_plot img", "e => e.length") == 0
    app_page.shot("13-escaped")
    # another session is served while this one holds bad input
    other = open_page(chromium, app_url, tmp_path)
    assert other.page.inner_text("#summary tr[data-regimen] td")
    other.shot("14-second-session")
    assert_only_local(other)
    assert not other.dialogs and not other.errors
    other.page.context.close()
