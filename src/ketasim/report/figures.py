"""Static figures of a comparison (PNG bytes): every regimen and analyte, linear and log panels.

Uses matplotlib's object API (no pyplot state), so figures can be drawn from several threads
(the app serves many sessions). Every figure carries the models' citations and the notice.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

from ketasim.notices import DISCLAIMER
from ketasim.population import PopulationResult
from ketasim.report.comparison import Comparison, get_conc_factor

__all__ = ["COLOURS", "LINESTYLES", "get_comparison_png"]

#: one colour per regimen (colour-blind safe, Okabe-Ito) and one line style per analyte
COLOURS = ("#0072B2", "#D55E00", "#009E73", "#CC79A7")
LINESTYLES = ("-", "--", ":", "-.")


def get_comparison_png(
    comparison: Comparison,
    *,
    population: Sequence[PopulationResult] | None = None,
    dpi: int = 110,
) -> bytes:
    """PNG of every regimen's curves (and 5-95 % bands when ``population`` is given).

    Returns
    -------
    bytes
        A PNG image: linear (left) and log (right) concentration against time (h).
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    u = comparison.unit
    fig = Figure(figsize=(11, 4.8))
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, 2)
    y_max, y_pos = 0.0, float("inf")
    for i, arm in enumerate(comparison.arms):
        res = arm.display
        for j, a in enumerate(res.spec.get_analytes()):
            c = res.get_conc(a, u)[0]
            y_max = max(y_max, float(c.max(initial=0.0)))
            pos = c[c > 0]
            if pos.size:
                y_pos = min(y_pos, float(pos.min()))
            for ax in axes:
                ax.plot(
                    res.time_h,
                    c,
                    color=COLOURS[i % 4],
                    linestyle=LINESTYLES[j % 4],
                    label=f"{arm.spec.label}: {a}",
                )
            if population is not None and i < len(population):
                pop = population[i]
                f = get_conc_factor(arm.model, a, u)
                lo, hi = pop.get_percentile(a, 5.0) * f, pop.get_percentile(a, 95.0) * f
                y_max = max(y_max, float(hi.max(initial=0.0)))
                for ax in axes:
                    ax.fill_between(pop.time_h, lo, hi, color=COLOURS[i % 4], alpha=0.15, lw=0)
    axes[1].set_yscale("log")
    if y_max > 0:
        axes[1].set_ylim(max(y_pos, y_max * 1e-4), y_max * 3)
    for ax, scale in zip(axes, ("linear", "log"), strict=True):
        ax.set_xlabel("time (h)")
        ax.set_ylabel(f"concentration ({u})")
        ax.set_title(f"{comparison.scenario.title or 'comparison'} ({scale})", fontsize=9)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    foot = DISCLAIMER + "\nSources: " + "; ".join(comparison.get_citations())
    fig.text(0.5, 0.005, foot, ha="center", va="bottom", fontsize=6.5, color="0.3", wrap=True)
    fig.tight_layout(rect=(0, 0.09, 1, 1))
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()
