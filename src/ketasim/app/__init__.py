"""The ketasim web app (Shiny for Python, core API), thin over the public API.

:func:`create_app` returns the ASGI app; ``ketasim app`` serves it on 127.0.0.1. Offline by
construction: plotly.js is served from the installed ``plotly`` package and the app's own
script and style from this package; no page requests anything from another host.

Modules: :mod:`.ui` (layout), :mod:`.server` (reactivity), :mod:`.state` (form <-> scenario),
:mod:`.plots` (Plotly figures), :mod:`.panels` (tables and panels). No pharmacokinetics here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["create_app", "get_plotly_js_path"]


def get_plotly_js_path() -> Path:
    """Path of ``plotly.min.js`` inside the installed ``plotly`` package."""
    import importlib.util

    spec = importlib.util.find_spec("plotly")
    if spec is None or spec.origin is None:
        from ketasim.errors import KetasimError

        raise KetasimError("the app needs plotly: pip install 'ketasim[app]'")
    return Path(spec.origin).resolve().parent / "package_data" / "plotly.min.js"


def create_app() -> Any:
    """The Shiny app (an ASGI application)."""
    from shiny import App

    from ketasim.app.server import make_server
    from ketasim.app.ui import build_ui
    from ketasim.library import list_selectable_models, load_model
    from ketasim.monograph import list_monographs

    specs = [load_model(m) for m in list_selectable_models()]
    models = {m.id: m.id for m in specs}
    drugs = sorted({m.drug for m in specs})
    routes = sorted({r for m in specs for r in m.routes})
    static = Path(__file__).resolve().parent / "static"
    return App(
        build_ui(models, drugs, routes, list_monographs()),
        make_server(),
        static_assets={"/ketasim-static": static, "/vendor/plotly.min.js": get_plotly_js_path()},
    )
