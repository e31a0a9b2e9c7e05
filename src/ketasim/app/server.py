"""The app's server: form -> scenario -> comparison -> plots, tables, panels and downloads.

Thin over the public API: every number comes from :func:`ketasim.report.compute_comparison` and
:func:`ketasim.report.compute_population_bands` (the same functions ``ketasim run`` and reports
use). Population runs go to a thread pool off the event loop, so other sessions keep being
served while one runs; sizes are capped (:data:`~ketasim.report.MAX_POPULATION_N`). Errors in
the input are shown as messages (every text goes through htmltools escaping), never raised.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from shiny import Inputs, Outputs, Session, reactive, render, ui

from ketasim.app import panels, reference
from ketasim.app.plots import get_concentration_figure
from ketasim.app.state import (
    get_safety_profile,
    get_scenario_from_inputs,
    slot_id,
)
from ketasim.app.updates import apply_scenario, get_input_ids
from ketasim.errors import KetasimError
from ketasim.library import list_selectable_models, load_model
from ketasim.population import PopulationResult
from ketasim.report.comparison import (
    MAX_POPULATION_N,
    Comparison,
    compute_comparison,
    compute_population_bands,
    get_matching_models,
)
from ketasim.scenario import MAX_REGIMENS, MAX_SCENARIO_BYTES, Scenario, load_scenario_bytes

__all__ = ["COMPARE_POOL", "POOL", "make_server"]

#: shared by every session: population runs and report rendering, off the event loop
POOL = ThreadPoolExecutor(max_workers=2, thread_name_prefix="ketasim-app")
#: comparisons (typical-subject runs), off the event loop and apart from population runs
COMPARE_POOL = ThreadPoolExecutor(max_workers=2, thread_name_prefix="ketasim-compare")


class _Progress:
    """Thread-safe progress of a population run (regimens done of total, start time)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.done, self.total, self.n, self.t0 = 0, 0, 0, time.perf_counter()

    def start(self, total: int, n: int) -> None:
        with self._lock:
            self.done, self.total, self.n, self.t0 = 0, total, n, time.perf_counter()

    def update(self, done: int, total: int) -> None:
        with self._lock:
            self.done, self.total = done, total

    def get(self) -> tuple[int, int, int, float]:
        with self._lock:
            return self.done, self.total, self.n, time.perf_counter() - self.t0


def make_server() -> Callable[[Inputs, Outputs, Session], None]:
    """The Shiny server function."""
    ids = get_input_ids()

    def server(input: Inputs, output: Outputs, session: Session) -> None:
        pop_data: reactive.Value[tuple[Scenario, list[PopulationResult], float] | None] = (
            reactive.value(None)
        )
        pop_error: reactive.Value[str] = reactive.value("")
        upload_msg: reactive.Value[tuple[str, str]] = reactive.value(("", ""))
        progress = _Progress()

        # --- form -> scenario -> comparison ---------------------------------------------------
        @reactive.calc
        def form_values() -> dict[str, Any]:
            return {i: input[i]() for i in ids}

        @reactive.calc
        def scenario_or_error() -> tuple[Scenario | None, str]:
            try:
                return get_scenario_from_inputs(form_values()), ""
            except KetasimError as exc:
                return None, str(exc)

        @reactive.calc
        async def comparison_or_error() -> tuple[Comparison | None, str]:
            # NOTE: in a thread, so a slow model (transit chains: seconds) never blocks the
            # event loop that serves every other session
            s, err = scenario_or_error()
            if s is None:
                return None, err
            loop = asyncio.get_running_loop()
            try:
                comp = await loop.run_in_executor(COMPARE_POOL, compute_comparison, s)
            except KetasimError as exc:
                return None, str(exc)
            return comp, ""

        def current_population(comp: Comparison | None) -> list[PopulationResult] | None:
            got = pop_data()
            if comp is None or got is None:
                return None
            s, res, _ = got
            same = s.regimens == comp.scenario.regimens and s.patient == comp.scenario.patient
            same = same and s.grid == comp.scenario.grid and s.seed == comp.scenario.seed
            return res if same else None

        # --- model pickers and routes -------------------------------------------------------------
        @reactive.effect
        def _filter_models() -> None:
            ranked = get_matching_models(
                input.f_drug() or None, input.f_route() or None, input.f_pop() or None
            )
            choices = {m.id: m.id if ok else f"{m.id} (outside the filter)" for m, ok in ranked}
            for k in range(1, MAX_REGIMENS + 1):
                with reactive.isolate():
                    cur = input[slot_id(k, "model")]()
                ui.update_select(slot_id(k, "model"), choices=choices, selected=cur)

        def route_updater(k: int) -> None:
            @reactive.effect
            def _routes() -> None:
                mid = input[slot_id(k, "model")]()
                if mid not in list_selectable_models():
                    return
                routes = list(load_model(mid).routes)
                with reactive.isolate():
                    cur = input[slot_id(k, "route")]()
                    cur_load = input[slot_id(k, "load_route")]()
                ui.update_select(
                    slot_id(k, "route"),
                    choices=routes,
                    selected=cur if cur in routes else routes[0],
                )
                ui.update_select(
                    slot_id(k, "load_route"),
                    choices=routes,
                    selected=cur_load if cur_load in routes else routes[0],
                )

            @output(id=slot_id(k, "model_note"))
            @render.ui
            def _note() -> Any:
                mid = input[slot_id(k, "model")]()
                if mid not in list_selectable_models():
                    return ui.div()
                return panels.get_model_note(load_model(mid))

        for k in range(1, MAX_REGIMENS + 1):
            route_updater(k)

        # --- plots --------------------------------------------------------------------------------
        def figure(comp: Comparison | None, pop: list[PopulationResult] | None) -> dict[str, Any]:
            if comp is None:
                return {"data": [], "layout": {"yaxis": {"type": "linear"}}, "config": {}}
            shown = None if input.metabolites() else [a.model.get_analytes()[0] for a in comp.arms]
            return get_concentration_figure(
                comp,
                log_axis=input.axis() == "log",
                analytes=shown,
                population=pop,
                show_zones=bool(input.zones()),
            )

        @reactive.effect
        async def _draw() -> None:
            comp, _ = await comparison_or_error()
            fig = figure(comp, current_population(comp))
            await session.send_custom_message("ketasim-plot", {"id": "conc_plot", "figure": fig})

        @reactive.effect
        async def _draw_pop() -> None:
            comp, _ = await comparison_or_error()
            pop = current_population(comp)
            fig = figure(comp if pop is not None else None, pop)
            await session.send_custom_message("ketasim-plot", {"id": "pop_plot", "figure": fig})

        # --- tables and panels --------------------------------------------------------------------
        @render.ui
        async def status() -> Any:
            comp, err = await comparison_or_error()
            if comp is None:
                return ui.div({"class": "ks-error", "id": "error"}, err)
            return panels.get_notes(comp)

        @render.ui
        async def summary_table() -> Any:
            comp, _ = await comparison_or_error()
            return ui.div() if comp is None else panels.get_summary_table(comp)

        @render.ui
        async def interaction_table() -> Any:
            comp, _ = await comparison_or_error()
            return ui.div() if comp is None else panels.get_interaction_table(comp)

        @render.ui
        async def risk_panel() -> Any:
            comp, err = await comparison_or_error()
            if comp is None:
                return ui.div({"class": "ks-error"}, err)
            loop = asyncio.get_running_loop()  # NOTE: the risk summary is computed on first use
            await loop.run_in_executor(COMPARE_POOL, lambda: [a.risk for a in comp.arms])
            return panels.get_risk_panel(comp)

        @render.ui
        def model_panel() -> Any:
            ranked = get_matching_models(
                input.f_drug() or None, input.f_route() or None, input.f_pop() or None
            )
            return panels.get_model_panel(ranked)

        # --- monograph and safety screen ----------------------------------------------------------
        @render.ui
        def monograph_panel() -> Any:
            try:
                return reference.get_monograph_panel(input.mono())
            except KetasimError as exc:
                return ui.div({"class": "ks-error"}, str(exc))

        @render.ui
        @reactive.event(input.screen_run)
        def screen_panel() -> Any:
            from ketasim.monograph import resolve_monograph_name
            from ketasim.safety import screen_profile

            s, err = scenario_or_error()
            if s is None:
                return ui.div({"class": "ks-error", "id": "screen_error"}, err)
            try:
                reg = s.regimens[0]
                drug = resolve_monograph_name(load_model(reg.model).drug)
                result = screen_profile(get_safety_profile(s.patient), drug, route=reg.route)
            except KetasimError as exc:
                return ui.div({"class": "ks-error", "id": "screen_error"}, str(exc))
            return reference.get_screen_panel(result)

        # --- population ---------------------------------------------------------------------------
        @reactive.extended_task
        async def pop_task(
            comp: Comparison, n: int
        ) -> tuple[Scenario, list[PopulationResult], float]:
            loop = asyncio.get_running_loop()
            t0 = time.perf_counter()
            res = await loop.run_in_executor(
                POOL, lambda: compute_population_bands(comp, n, on_arm=progress.update)
            )
            return comp.scenario, res, time.perf_counter() - t0

        @reactive.effect
        @reactive.event(input.pop_run)
        async def _start_population() -> None:
            comp, err = await comparison_or_error()
            pop_error.set("")
            if comp is None:
                pop_error.set(f"fix the regimens first: {err}")
                return
            n = input.pop_n()
            if n is None or n != int(n) or not 1 <= n <= MAX_POPULATION_N:
                pop_error.set(
                    f"population size {n!r}: give a whole number from 1 to {MAX_POPULATION_N} "
                    "subjects per regimen (larger runs: `ketasim population` on the command line)"
                )
                return
            if pop_task.status() == "running":
                pop_error.set("a population run is already going; wait for it to finish")
                return
            progress.start(len(comp.arms), int(n))
            pop_task(comp, int(n))

        @reactive.effect
        def _population_done() -> None:
            if pop_task.status() == "success":
                pop_data.set(pop_task.result())
            elif pop_task.status() == "error":
                try:
                    pop_task.result()
                except KetasimError as exc:
                    pop_error.set(str(exc))
                except Exception as exc:  # NOTE: shown, not raised: the session stays usable
                    pop_error.set(f"population run failed: {type(exc).__name__}: {exc}")

        @reactive.effect
        @reactive.event(input.pop_clear)
        def _clear_population() -> None:
            pop_data.set(None)

        @render.ui
        async def pop_status() -> Any:
            if pop_error():
                return ui.div({"class": "ks-error", "id": "pop_error"}, pop_error())
            if pop_task.status() == "running":
                reactive.invalidate_later(0.25)
                done, total, n, elapsed = progress.get()
                bar = (
                    ui.tags.progress(max=str(total), value=str(done))
                    if done
                    else ui.tags.progress()
                )
                return ui.div(
                    {"class": "ks-progress", "id": "pop_progress"},
                    bar,
                    ui.span(
                        f" Simulating {n:,} subjects for each of {total} regimen(s): "
                        f"{done} of {total} done, {elapsed:.1f} s"
                    ),
                )
            comp, _ = await comparison_or_error()
            got = pop_data()
            if got is None:
                return ui.div({"class": "ks-note"}, "No population run yet.")
            if current_population(comp) is None:
                return ui.div(
                    {"class": "ks-note", "id": "pop_stale"},
                    "The bands belong to an earlier scenario: run the population again.",
                )
            _, res, elapsed = got
            return ui.div(
                {"class": "ks-note", "id": "pop_done"},
                f"Population: {res[0].n:,} subjects per regimen, 5-95 % bands and medians, "
                f"seeds {', '.join(str(r.seed) for r in res)}, in {elapsed:.1f} s.",
            )

        # --- scenario upload ----------------------------------------------------------------------
        @reactive.effect
        @reactive.event(input.upload)
        def _upload() -> None:
            files = input.upload()
            if not files:
                return
            f = files[0]
            name = str(f.get("name", "scenario"))
            if int(f.get("size", 0)) > MAX_SCENARIO_BYTES:
                upload_msg.set(
                    (
                        "error",
                        f"{name}: {f.get('size')} bytes; a scenario is at most "
                        f"{MAX_SCENARIO_BYTES} bytes",
                    )
                )
                return
            with Path(f["datapath"]).open("rb") as fh:
                data = fh.read(MAX_SCENARIO_BYTES + 1)
            try:
                s = load_scenario_bytes(data, source=name)
                for r in s.regimens:
                    if r.model not in list_selectable_models():
                        raise KetasimError(
                            f"{name}: model {r.model!r} is not in the library "
                            f"({', '.join(list_selectable_models())})"
                        )
                    if r.route not in load_model(r.model).routes:
                        raise KetasimError(f"{name}: model {r.model} has no route {r.route!r}")
            except KetasimError as exc:
                upload_msg.set(("error", str(exc)))
                return
            apply_scenario(s)
            upload_msg.set(("ok", f"loaded {name}"))

        @render.ui
        def upload_status() -> Any:
            kind, msg = upload_msg()
            if not msg:
                return ui.div()
            cls = "ks-error" if kind == "error" else "ks-note"
            return ui.div({"class": cls, "id": "upload_msg"}, msg)

        # --- downloads ----------------------------------------------------------------------------
        async def need_comparison() -> Comparison:
            comp, err = await comparison_or_error()
            if comp is None:
                raise KetasimError(err)
            return comp

        @render.download_button(filename="ketasim-scenario.toml", media_type="application/toml")
        def dl_scenario() -> Any:
            s, err = scenario_or_error()
            if s is None:
                raise KetasimError(err)
            yield s.to_toml()

        @render.download_button(filename="ketasim-report.html", media_type="text/html")
        async def dl_report() -> Any:
            from ketasim.report.html import get_report_html

            comp = await need_comparison()
            pop = current_population(comp)
            loop = asyncio.get_running_loop()
            yield await loop.run_in_executor(POOL, lambda: get_report_html(comp, population=pop))

        @render.download_button(filename="ketasim-summary.csv", media_type="text/csv")
        async def dl_csv() -> Any:
            from ketasim.report.tables import get_summary_csv

            yield get_summary_csv(await need_comparison())

        @render.download_button(filename="ketasim-curves.csv", media_type="text/csv")
        async def dl_curves() -> Any:
            from ketasim.report.tables import get_curves_csv

            yield get_curves_csv(await need_comparison())

        @render.download_button(filename="ketasim-figure.png", media_type="image/png")
        async def dl_png() -> Any:
            from ketasim.report.figures import get_comparison_png

            comp = await need_comparison()
            pop = current_population(comp)
            loop = asyncio.get_running_loop()
            yield await loop.run_in_executor(POOL, lambda: get_comparison_png(comp, population=pop))

    return server
