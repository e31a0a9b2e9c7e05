"""Plotly figures (plain JSON-ready dicts) of a comparison, drawn in the browser by plotly.js.

Owns the look of the app's plots: one colour per regimen, one line style per analyte, published
zones as dashed lines with their source on hover, population bands (5-95 %) and medians, a linear
or log axis, and a footer with the models' citations and the research-only notice. Figures are
built as dicts (not ``plotly.graph_objects``, whose validation costs tens of milliseconds per
figure) and every text a person typed is HTML-escaped, since plotly.js renders a subset of HTML in
labels.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

import numpy as np

from ketasim.notices import DISCLAIMER
from ketasim.population import PopulationResult
from ketasim.report.comparison import Comparison, get_conc_factor
from ketasim.report.figures import COLOURS

__all__ = ["get_concentration_figure"]

_DASH = ("solid", "dash", "dot", "dashdot")
_MAX_POINTS = 4000  # per trace sent to the browser (the display grid is already bounded)


def _xy(t: np.ndarray, y: np.ndarray) -> tuple[list[float], list[float]]:
    if t.size > _MAX_POINTS:
        idx = np.unique(np.linspace(0, t.size - 1, _MAX_POINTS).astype(int))
        t, y = t[idx], y[idx]
    return np.round(t, 6).tolist(), [float(f"{v:.6g}") for v in y]


def get_concentration_figure(
    comparison: Comparison,
    *,
    log_axis: bool = False,
    analytes: Sequence[str] | None = None,
    population: Sequence[PopulationResult] | None = None,
    show_zones: bool = True,
) -> dict[str, Any]:
    """The concentration-time figure of every regimen (Plotly ``{data, layout, config}``).

    Parameters
    ----------
    comparison : Comparison
    log_axis : bool
        Log concentration axis.
    analytes : sequence of str, optional
        Only these analytes (default: all).
    population : sequence of PopulationResult, optional
        One per regimen: 5-95 % band and median.
    show_zones : bool
        Dashed lines at the published zones of the analytes shown.
    """
    u = comparison.unit
    data: list[dict[str, Any]] = []
    shown: list[tuple[str, str]] = []  # (analyte, drug)
    y_pos: list[float] = []
    y_max = 0.0
    for i, arm in enumerate(comparison.arms):
        res = arm.display
        colour = COLOURS[i % len(COLOURS)]
        label = html.escape(arm.spec.label, quote=False)
        for j, a in enumerate(res.spec.get_analytes()):
            if analytes is not None and a not in analytes:
                continue
            shown.append((a, arm.model.drug))
            c = res.get_conc(a, u)[0]
            y_pos += [float(v) for v in c[c > 0][:1]]
            y_max = max(y_max, float(c.max(initial=0.0)))
            x, y = _xy(res.time_h, c)
            data.append(
                {
                    "type": "scatter",
                    "mode": "lines",
                    "x": x,
                    "y": y,
                    "name": f"{label}: {a}",
                    "legendgroup": f"r{i}",
                    "line": {"color": colour, "dash": _DASH[j % len(_DASH)], "width": 2},
                    "hovertemplate": f"{label}<br>{a}: %{{y:.4g}} {u}<br>%{{x:.3g}} h"
                    "<extra></extra>",
                }
            )
            if population is not None and i < len(population):
                pop = population[i]
                f = get_conc_factor(arm.model, a, u)
                lo, med, hi = (pop.get_percentile(a, q) * f for q in (5.0, 50.0, 95.0))
                y_max = max(y_max, float(hi.max(initial=0.0)))
                xs, lo_y = _xy(pop.time_h, lo)
                _, hi_y = _xy(pop.time_h, hi)
                _, med_y = _xy(pop.time_h, med)
                band = f"{label}: {a} 5-95 % (n = {pop.n})"
                data.append(
                    {
                        "type": "scatter",
                        "mode": "lines",
                        "x": xs,
                        "y": lo_y,
                        "showlegend": False,
                        "legendgroup": f"r{i}",
                        "line": {"width": 0, "color": colour},
                        "hoverinfo": "skip",
                    }
                )
                data.append(
                    {
                        "type": "scatter",
                        "mode": "lines",
                        "x": xs,
                        "y": hi_y,
                        "fill": "tonexty",
                        "name": band,
                        "legendgroup": f"r{i}",
                        "opacity": 0.2,
                        "line": {"width": 0, "color": colour},
                        "fillcolor": colour + "33",
                        "hoverinfo": "skip",
                    }
                )
                data.append(
                    {
                        "type": "scatter",
                        "mode": "lines",
                        "x": xs,
                        "y": med_y,
                        "name": f"{label}: {a} median (n = {pop.n})",
                        "legendgroup": f"r{i}",
                        "line": {"color": colour, "dash": "dot", "width": 1},
                    }
                )
    shapes: list[dict[str, Any]] = []
    notes: list[dict[str, Any]] = []
    if show_zones:
        from ketasim.library.effects import load_effects

        for z in load_effects().zones.values():
            if (z.analyte, z.drug_form) not in shown:
                continue
            f = get_conc_factor(comparison.arms[0].model, z.analyte, u)
            level = z.low_mg_per_L * f
            if level > 3 * y_max:
                continue  # NOTE: far above every curve; listed in the Effects and risk tab
            shapes.append(
                {
                    "type": "line",
                    "xref": "paper",
                    "x0": 0,
                    "x1": 1,
                    "yref": "y",
                    "y0": level,
                    "y1": level,
                    "line": {"color": "#888", "width": 1, "dash": "dash"},
                }
            )
            notes.append(
                {
                    "xref": "paper",
                    "x": 1,
                    "xanchor": "right",
                    "y": level,
                    "yanchor": "bottom",
                    "text": html.escape(f"{z.name} ({z.printed})", quote=False),
                    "showarrow": False,
                    "font": {"size": 9, "color": "#666"},
                    "hovertext": html.escape(f"{z.source.format()}; {z.where}", quote=False),
                }
            )
    if log_axis and notes:
        for n in notes:
            n["y"] = float(np.log10(max(float(n["y"]), 1e-12)))
    footer = (
        html.escape(DISCLAIMER, quote=False)
        + "<br>Sources: "
        + html.escape("; ".join(comparison.get_citations()), quote=False)
    )
    layout: dict[str, Any] = {
        "margin": {"l": 60, "r": 20, "t": 30, "b": 120},
        "xaxis": {"title": {"text": "time (h)"}, "zeroline": False},
        "yaxis": {
            "title": {"text": f"concentration ({u})"},
            "type": "log" if log_axis else "linear",
            "exponentformat": "power" if log_axis else "none",
        },
        "legend": {"orientation": "h", "y": 1.12, "font": {"size": 10}},
        "shapes": shapes,
        "annotations": [
            *notes,
            {
                "xref": "paper",
                "yref": "paper",
                "x": 0,
                "y": -0.16,
                "xanchor": "left",
                "yanchor": "top",
                "showarrow": False,
                "align": "left",
                "text": footer,
                "font": {"size": 9, "color": "#555"},
            },
        ],
        "hovermode": "closest",
        "template": None,
    }
    if log_axis and y_pos:
        layout["yaxis"]["autorange"] = True
    return {
        "data": data,
        "layout": layout,
        "config": {"displaylogo": False, "responsive": True, "toImageButtonOptions": {}},
    }
