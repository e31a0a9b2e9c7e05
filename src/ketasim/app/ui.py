"""The app's page: patient and model filters, four regimen slots, results tabs.

Layout only (Shiny core ``ui``): every input id comes from :mod:`.state`; every script is served
by the app itself (``/ketasim-static/``, ``/vendor/plotly.min.js``): nothing from a CDN.
"""

from __future__ import annotations

from typing import Any

from shiny import ui

from ketasim.app.state import (
    CONDITIONS,
    DOSE_UNITS,
    DURATION_UNITS,
    INTERVAL_UNITS,
    UNITS,
    get_default_inputs,
    slot_id,
)
from ketasim.notices import DISCLAIMER, INTENDED_USE
from ketasim.scenario import MAX_REGIMENS, WEEKDAYS

__all__ = ["build_ui"]

_SLOT_DEFAULTS: dict[int, dict[str, Any]] = {
    2: {
        "label": "Intranasal 84 mg",
        "dose": 84.0,
        "dose_unit": "mg",
        "route": "intranasal",
        "dur": 0.0,
        "cov": "NDEV=3",
    },
    3: {"label": "IV 0.25 mg/kg over 40 min", "dose": 0.25, "dose_unit": "mg/kg", "dur": 40.0},
    4: {"label": "Oral 56 mg", "dose": 56.0, "dose_unit": "mg", "route": "oral", "dur": 0.0},
}


def _slot(k: int, models: dict[str, str]) -> Any:
    base = {n[3:]: x for n, x in get_default_inputs().items() if n.startswith("r1_")}
    own = {**base, **_SLOT_DEFAULTS.get(k, {})}

    def v(name: str, default: Any = None) -> Any:
        return own.get(name, default)

    def sid(name: str) -> str:
        return slot_id(k, name)

    head = (
        ui.input_checkbox(sid("on"), f"Regimen {k}", value=k == 1)
        if k > 1
        else ui.tags.strong("Regimen 1")
    )
    body = ui.div(
        ui.input_text(sid("label"), "Label", value=v("label", f"regimen {k}")),
        ui.input_select(sid("model"), "Model", choices=models, selected=v("model")),
        ui.output_ui(sid("model_note")),
        ui.layout_columns(
            ui.input_numeric(sid("dose"), "Dose", value=v("dose"), min=0),
            ui.input_select(
                sid("dose_unit"), "unit", choices=list(DOSE_UNITS), selected=v("dose_unit")
            ),
            col_widths=(7, 5),
        ),
        ui.input_select(sid("route"), "Route", choices=[v("route", "iv")], selected=v("route")),
        ui.layout_columns(
            ui.input_numeric(sid("dur"), "Infusion over (0: bolus)", value=v("dur", 0), min=0),
            ui.input_select(sid("dur_unit"), "unit", choices=list(DURATION_UNITS)),
            col_widths=(7, 5),
        ),
        ui.input_radio_buttons(
            sid("sched"),
            "Repeat",
            choices={"once": "once", "every": "every N", "weekdays": "weekdays"},
            selected="once",
            inline=True,
        ),
        ui.panel_conditional(
            f"input.{sid('sched')} === 'every'",
            ui.layout_columns(
                ui.input_numeric(sid("every"), "every", value=24, min=0),
                ui.input_select(sid("every_unit"), "unit", choices=list(INTERVAL_UNITS)),
                ui.input_numeric(sid("count"), "doses", value=2, min=1, step=1),
                col_widths=(4, 4, 4),
            ),
        ),
        ui.panel_conditional(
            f"input.{sid('sched')} === 'weekdays'",
            ui.input_checkbox_group(sid("days"), None, choices=list(WEEKDAYS), inline=True),
            ui.input_numeric(sid("weeks"), "weeks", value=3, min=1, step=1),
        ),
        ui.input_numeric(sid("start"), "First (maintenance) dose at (h)", value=0, min=0),
        ui.input_checkbox(sid("load_on"), "Loading dose first (at 0 h)", value=False),
        ui.panel_conditional(
            f"input.{sid('load_on')}",
            ui.layout_columns(
                ui.input_numeric(sid("load_dose"), "Loading dose", value=1.0, min=0),
                ui.input_select(
                    sid("load_unit"), "unit", choices=list(DOSE_UNITS), selected="mg/kg"
                ),
                col_widths=(7, 5),
            ),
            ui.input_select(sid("load_route"), "Loading route", choices=[v("route", "iv")]),
            ui.layout_columns(
                ui.input_numeric(sid("load_dur"), "over", value=10, min=0),
                ui.input_select(sid("load_dur_unit"), "unit", choices=list(DURATION_UNITS)),
                col_widths=(7, 5),
            ),
        ),
        ui.input_text(
            sid("cov"), "Covariates for this regimen", value=v("cov", ""), placeholder="e.g. NDEV=3"
        ),
    )
    if k > 1:
        body = ui.panel_conditional(f"input.{sid('on')}", body)
    return ui.div({"class": "ks-slot", "id": f"slot{k}"}, head, body)


def build_ui(
    models: dict[str, str], drugs: list[str], routes: list[str], monographs: list[str]
) -> Any:
    """The page. ``models``: id -> label for the pickers; ``drugs``/``routes``: filter choices;
    ``monographs``: monograph ids."""
    d = get_default_inputs()
    patient = ui.accordion_panel(
        "Patient",
        ui.input_numeric("weight", "Weight (kg)", value=d["weight"], min=0),
        ui.input_numeric("age", "Age (yr)", value=d["age"], min=0),
        ui.input_select(
            "sex", "Sex", choices={"": "not given", "male": "male", "female": "female"}
        ),
        ui.input_text("covariates", "Model covariates", placeholder="e.g. ASIAN=0, JAPANESE=0"),
        ui.input_text("drugs", "Interacting drugs", placeholder="e.g. clarithromycin"),
        ui.input_checkbox_group(
            "conditions", "Conditions (for the safety screen)", choices=CONDITIONS
        ),
    )
    filters = ui.accordion_panel(
        "Model filter (suitable models first)",
        ui.input_select("f_drug", "Drug form", choices={"": "any", **{x: x for x in drugs}}),
        ui.input_select("f_route", "Route", choices={"": "any", **{x: x for x in routes}}),
        ui.input_select(
            "f_pop", "Population", choices={"": "any", "adult": "adult", "child": "child"}
        ),
    )
    regimens = ui.accordion_panel(
        "Regimens (up to four)", *[_slot(k, models) for k in range(1, MAX_REGIMENS + 1)]
    )
    display = ui.accordion_panel(
        "Display and scenario",
        ui.input_text("title", "Title", value=""),
        ui.input_radio_buttons("axis", "Axis", {"linear": "linear", "log": "log"}, inline=True),
        ui.input_select("unit", "Unit", choices=list(UNITS)),
        ui.input_checkbox("zones", "Show published zones", value=True),
        ui.input_checkbox("metabolites", "Show metabolites", value=True),
        ui.input_numeric("until", "Window (h, 0: dose end + 24 h)", value=0, min=0),
        ui.input_numeric("step", "Display step (min, 0: auto)", value=0, min=0),
        ui.input_numeric("seed", "Seed", value=1, min=0, step=1),
        ui.input_file("upload", "Load a scenario (.toml)", accept=[".toml"], multiple=False),
        ui.output_ui("upload_status"),
    )
    compare = ui.nav_panel(
        "Compare",
        ui.div({"id": "conc_plot", "class": "ks-plot"}),
        ui.output_ui("status"),
        ui.output_ui("summary_table"),
        ui.output_ui("interaction_table"),
    )
    population = ui.nav_panel(
        "Population",
        ui.layout_columns(
            ui.input_numeric("pop_n", "Subjects per regimen", value=d["pop_n"], min=1, step=1),
            ui.input_action_button("pop_run", "Run population", class_="btn-primary"),
            ui.input_action_button("pop_clear", "Clear bands"),
            col_widths=(4, 4, 4),
        ),
        ui.output_ui("pop_status"),
        ui.div({"id": "pop_plot", "class": "ks-plot"}),
    )
    risk = ui.nav_panel("Effects and risk", ui.output_ui("risk_panel"))
    model = ui.nav_panel("Models", ui.output_ui("model_panel"))
    monograph = ui.nav_panel(
        "Monograph",
        ui.input_select("mono", "Drug", choices=monographs, selected="esketamine"),
        ui.output_ui("monograph_panel"),
    )
    screen = ui.nav_panel(
        "Safety screen",
        ui.p(
            "Screens the patient (conditions, age, sex, interacting drugs in the sidebar) "
            "against the monograph of regimen 1's drug for its route."
        ),
        ui.input_action_button("screen_run", "Run the screen", class_="btn-primary"),
        ui.output_ui("screen_panel"),
    )
    files = ui.nav_panel(
        "Report and files",
        ui.p(
            "Downloads reproduce the comparison shown (the scenario file runs with "
            "`ketasim run scenario.toml`)."
        ),
        ui.download_button("dl_scenario", "Scenario (.toml)"),
        ui.download_button("dl_report", "Report (.html)"),
        ui.download_button("dl_csv", "Summary table (.csv)"),
        ui.download_button("dl_curves", "Curves (.csv)"),
        ui.download_button("dl_png", "Figure (.png)"),
    )
    head = ui.head_content(
        ui.tags.script(src="/vendor/plotly.min.js"),
        ui.tags.script(src="/ketasim-static/app.js"),
        ui.tags.link(rel="stylesheet", href="/ketasim-static/app.css"),
    )
    return ui.page_sidebar(
        ui.sidebar(
            ui.accordion(patient, filters, regimens, display, id="side", open=True),
            width=380,
        ),
        head,
        ui.div({"class": "ks-notice", "id": "notice"}, DISCLAIMER),
        ui.navset_tab(
            compare,
            population,
            risk,
            model,
            monograph,
            screen,
            files,
            ui.nav_panel("About", ui.p(INTENDED_USE)),
            id="tabs",
        ),
        title="ketasim: compare regimens (research and education only)",
        fillable=False,
    )
