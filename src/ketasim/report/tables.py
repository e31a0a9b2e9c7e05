"""CSV text of a comparison: the summary table and the display curves, units in column names."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from typing import Any

from ketasim.notices import DISCLAIMER
from ketasim.report.comparison import Comparison

__all__ = ["format_number", "get_curves_csv", "get_summary_csv"]


def format_number(x: float, digits: int = 4) -> str:
    """A number as shown in tables (``digits`` significant figures; NaN as "n/a").

    >>> format_number(124.84297), format_number(float("nan")), format_number(0.66666)
    ('124.8', 'n/a', '0.6667')
    """
    if x != x:  # NaN
        return "n/a"
    return f"{x:.{digits}g}"


def _csv(header: Sequence[str], rows: Iterable[Sequence[Any]], comments: Sequence[str]) -> str:
    buf = io.StringIO()
    for c in comments:
        buf.write(f"# {c}\n")
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    for r in rows:
        # NOTE: a metric that does not apply (NaN) is an empty cell; the notes column says why
        w.writerow([v if isinstance(v, str) else _cell(float(v)) for v in r])
    return buf.getvalue()


def _cell(x: float) -> str:
    return "" if x != x else f"{x:.10g}"


def get_summary_csv(comparison: Comparison) -> str:
    """The summary table (one row per regimen and analyte), with the notice and sources."""
    rows = comparison.to_rows()
    header = list(rows[0]) if rows else []
    comments = [DISCLAIMER, *("source " + c for c in comparison.get_citations())]
    return _csv(header, ([r[k] for k in header] for r in rows), comments)


def get_curves_csv(comparison: Comparison) -> str:
    """The display curves: one row per regimen and time, one column per analyte."""
    u = comparison.unit
    analytes: list[str] = []
    for a in comparison.arms:
        analytes += [x for x in a.display.spec.get_analytes() if x not in analytes]
    header = ["regimen", "model", "time_h", *(f"{x}_{u}" for x in analytes)]
    rows: list[list[Any]] = []
    for a in comparison.arms:
        res = a.display
        cols = [
            res.get_conc(x, u)[0] if x in res.analytes else [float("nan")] * res.time_h.size
            for x in analytes
        ]
        for i, t in enumerate(res.time_h):
            rows.append([a.spec.label, a.model.id, float(t), *(float(c[i]) for c in cols)])
    comments = [DISCLAIMER, *("source " + c for c in comparison.get_citations())]
    return _csv(header, rows, comments)
