"""The HTML report of a comparison: self-contained (figure inline as PNG), with provenance.

Rendered with Jinja2 and autoescape on, so any text a person typed (labels, titles, drug names)
appears as text and is never run as markup or script. The report holds the figure, the summary
table, the interaction and risk tables with their sources, every note, the provenance
(:mod:`.provenance`: ketasim version, model files and SHA-256, the scenario with units and seed)
and the research-only notice.
"""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Sequence

import jinja2

from ketasim.notices import DISCLAIMER, INTENDED_USE
from ketasim.population import PopulationResult
from ketasim.report.comparison import Comparison
from ketasim.report.figures import get_comparison_png
from ketasim.report.provenance import get_provenance
from ketasim.report.tables import format_number
from ketasim.risk import RISK_DISCLAIMER

__all__ = ["get_report_html"]


def _env() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("ketasim.report", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["num"] = format_number
    return env


def get_report_html(
    comparison: Comparison,
    *,
    population: Sequence[PopulationResult] | None = None,
    created: dt.datetime | None = None,
) -> str:
    """The report as one HTML document (no external resources).

    Parameters
    ----------
    comparison : Comparison
    population : sequence of PopulationResult, optional
        Bands (5-95 %) drawn on the figure, and their size and seeds listed.
    created : datetime, optional
        Time stamp printed in the report (default: now, UTC).
    """
    png = get_comparison_png(comparison, population=population)
    risk_rows = [(arm.spec.label, row) for arm in comparison.arms for row in arm.risk.to_rows()]
    return (
        _env()
        .get_template("report.html.j2")
        .render(
            c=comparison,
            s=comparison.scenario,
            prov=get_provenance(comparison),
            figure_b64=base64.b64encode(png).decode("ascii"),
            rows=comparison.to_rows(),
            unit=comparison.unit,
            risk_rows=risk_rows,
            population=population,
            disclaimer=DISCLAIMER,
            intended_use=INTENDED_USE,
            risk_disclaimer=RISK_DISCLAIMER,
            created=(created or dt.datetime.now(dt.UTC)).strftime("%Y-%m-%d %H:%M UTC"),
        )
    )
