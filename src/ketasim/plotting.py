"""Figures for people: linear and log panels of concentration against time, saved atomically.

Owns the layout shared by every plot ketasim writes (two panels, labelled axes, the research-
and-education disclaimer as a footer) and writing the PNG so that it appears whole or not at all.
It computes nothing: callers draw their curves or bands on the axes it returns.
"""

from __future__ import annotations

from typing import Any

from ketasim.io.atomic import write_with
from ketasim.notices import DISCLAIMER

__all__ = ["new_concentration_figure", "save_concentration_figure"]


def new_concentration_figure() -> tuple[Any, Any]:
    """A figure with a linear (left) and a log (right) panel; returns (figure, axes)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    return fig, axes


def save_concentration_figure(
    fig: Any,
    axes: Any,
    path: str,
    title: str,
    unit: str,
    y_max: float,
    y_min_pos: float,
    provenance: str = "",
) -> None:
    """Label both panels, set the log panel's range, add the disclaimer, write ``path`` (PNG).

    Parameters
    ----------
    y_max, y_min_pos : float, in ``unit``
        Largest value drawn and smallest positive one (for the log panel's limits).
    provenance : str
        Model, source and evidence line printed in the footer above the disclaimer.
    """
    import matplotlib.pyplot as plt

    axes[1].set_yscale("log")
    if y_max > 0:
        axes[1].set_ylim(max(y_min_pos, y_max * 1e-4), y_max * 3)
    for ax, scale in zip(axes, ("linear", "log"), strict=True):
        ax.set_xlabel("time (h)")
        ax.set_ylabel(f"concentration ({unit})")
        ax.set_title(f"{title} ({scale})", fontsize=9)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.text(0.5, 0.005, DISCLAIMER, ha="center", fontsize=7, color="0.3")
    if provenance:
        fig.text(0.5, 0.03, provenance[:220], ha="center", fontsize=6, color="0.3")
    fig.tight_layout(rect=(0, 0.06 if provenance else 0.04, 1, 1))
    try:
        write_with(path, lambda fh: fig.savefig(fh, dpi=110, format="png"))
    finally:
        plt.close(fig)
