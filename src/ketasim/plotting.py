"""Figures for people: linear and log panels of concentration against time, saved atomically.

Owns the layout shared by every plot ketasim writes (two panels, labelled axes, the research-
and-education disclaimer as a footer) and writing the PNG so that it appears whole or not at all.
It computes nothing: callers draw their curves or bands on the axes it returns.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

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
    fig: Any, axes: Any, path: str, title: str, unit: str, y_max: float, y_min_pos: float
) -> None:
    """Label both panels, set the log panel's range, add the disclaimer, write ``path`` (PNG).

    Parameters
    ----------
    y_max, y_min_pos : float, in ``unit``
        Largest value drawn and smallest positive one (for the log panel's limits).
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
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    tmp = Path(path).with_name(f".{Path(path).name}.tmp.png")
    try:
        fig.savefig(tmp, dpi=110)
        os.replace(tmp, path)
    finally:
        plt.close(fig)
        tmp.unlink(missing_ok=True)
