"""Updating the form from a scenario (an uploaded file): which input is which kind of widget."""

from __future__ import annotations

from shiny import ui

from ketasim.app.state import get_inputs_from_scenario, slot_id
from ketasim.library import load_model
from ketasim.scenario import MAX_REGIMENS, Scenario

__all__ = ["apply_scenario", "get_input_ids"]

_SLOT_FIELDS = (
    "on",
    "label",
    "model",
    "dose",
    "dose_unit",
    "route",
    "dur",
    "dur_unit",
    "sched",
    "every",
    "every_unit",
    "count",
    "days",
    "weeks",
    "start",
    "load_on",
    "load_dose",
    "load_unit",
    "load_route",
    "load_dur",
    "load_dur_unit",
    "cov",
)
_FIELDS = (
    "title",
    "weight",
    "age",
    "sex",
    "covariates",
    "drugs",
    "conditions",
    "until",
    "step",
    "seed",
    "pop_n",
    "unit",
)
_NUMERIC = {"weight", "age", "until", "step", "seed", "pop_n"} | {
    f"r{k}_{n}"
    for k in range(1, MAX_REGIMENS + 1)
    for n in ("dose", "dur", "every", "count", "weeks", "start", "load_dose", "load_dur")
}
_TEXT = {"title", "covariates", "drugs"} | {
    f"r{k}_{n}" for k in range(1, MAX_REGIMENS + 1) for n in ("label", "cov")
}
_CHECK = {f"r{k}_{n}" for k in range(1, MAX_REGIMENS + 1) for n in ("on", "load_on")}
_GROUP = {"conditions"} | {f"r{k}_days" for k in range(1, MAX_REGIMENS + 1)}
_RADIO = {f"r{k}_sched" for k in range(1, MAX_REGIMENS + 1)}


def get_input_ids() -> list[str]:
    """Every input id the scenario is read from (regimen 1 has no on/off box)."""
    ids = list(_FIELDS)
    for k in range(1, MAX_REGIMENS + 1):
        ids += [slot_id(k, n) for n in _SLOT_FIELDS if not (k == 1 and n == "on")]
    return ids


def apply_scenario(s: Scenario) -> None:
    """Send the form updates that show scenario ``s`` (inside a Shiny session)."""
    values = get_inputs_from_scenario(s)
    for k, r in enumerate(s.regimens, 1):
        routes = list(load_model(r.model).routes)
        ui.update_select(slot_id(k, "route"), choices=routes, selected=r.route)
        load_route = r.loading.route if r.loading else routes[0]
        ui.update_select(slot_id(k, "load_route"), choices=routes, selected=load_route)
    for key, v in values.items():
        if key.endswith("_route") or key.endswith("load_route"):
            continue
        if key in _NUMERIC:
            ui.update_numeric(key, value=v)
        elif key in _TEXT:
            ui.update_text(key, value=v)
        elif key in _CHECK:
            if key != "r1_on":
                ui.update_checkbox(key, value=bool(v))
        elif key in _GROUP:
            ui.update_checkbox_group(key, selected=list(v))
        elif key in _RADIO:
            ui.update_radio_buttons(key, selected=v)
        else:
            ui.update_select(key, selected=v)
