"""Exposure goals for dose finding: concentration windows, thresholds, ceilings and AUCs.

Owns the goal a simulated patient must meet (:class:`Goal`, all clauses at once) and its parser
for people-facing text such as ``"ketamine 100-250 ng/mL for >= 30 min, peak < 400 ng/mL"``.
It computes nothing about concentrations (that is :mod:`ketasim.design.exact`).

Clauses (comma-separated; the analyte is named in the first one and carried to the next)::

    <analyte> <lo>-<hi> <unit> for >= <time>   cumulative time inside [lo, hi] >= time
    <analyte> > <c> <unit> [for >= <time>]      reached at any time (or for a cumulative time)
    peak < <c> <unit>  |  <analyte> < <c> <unit> never above c
    auc >= <x> <unit> [over <t0>-<t1> <unit>]   AUC (linear), e.g. "auc >= 500 ng*h/mL"
    auc <= <x> <unit> [over ...]
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from ketasim.errors import ParameterError, UnitError
from ketasim.tci.targets import MAX_TARGET_MG_PER_L, parse_conc
from ketasim.units import get_molar_mass_g_per_mol, to_unit

__all__ = ["Goal", "parse_goal"]


@dataclass(frozen=True)
class Goal:
    """What a simulated patient must reach, every clause at once.

    Attributes
    ----------
    text : str
        As written.
    analyte : str
    low_mg_per_L, high_mg_per_L : float, mg/L
        Window ``[low, high]`` (high may be inf: a threshold); None when no window clause.
    min_time_h : float, h
        Cumulative time inside the window required (0: reached at any time).
    ceiling_mg_per_L : float, mg/L, optional
        Never above this (the peak must stay below).
    auc_min_mg_h_per_L, auc_max_mg_h_per_L : float, mg*h/L, optional
    auc_window_h : (float, float), h, optional
        AUC interval (default: the whole simulated horizon).
    """

    text: str
    analyte: str
    low_mg_per_L: float | None = None  # noqa: N815 - unit suffix per STYLE.md §3
    high_mg_per_L: float | None = None  # noqa: N815
    min_time_h: float = 0.0
    ceiling_mg_per_L: float | None = None  # noqa: N815
    auc_min_mg_h_per_L: float | None = None  # noqa: N815
    auc_max_mg_h_per_L: float | None = None  # noqa: N815
    auc_window_h: tuple[float, float] | None = None

    def __post_init__(self) -> None:
        clauses = (
            self.low_mg_per_L,
            self.ceiling_mg_per_L,
            self.auc_min_mg_h_per_L,
            self.auc_max_mg_h_per_L,
        )
        if all(c is None for c in clauses):
            raise ParameterError(f"--target {self.text!r}: no clause to meet")
        for name in ("low_mg_per_L", "ceiling_mg_per_L"):
            v = getattr(self, name)
            if v is not None and not (math.isfinite(v) and 0 <= v <= MAX_TARGET_MG_PER_L):
                raise ParameterError(
                    f"--target {self.text!r}: concentration {v:g} mg/L must lie in "
                    f"[0, {MAX_TARGET_MG_PER_L:.3g}] mg/L (the plausibility limit)"
                )
        lo, hi = self.low_mg_per_L, self.high_mg_per_L
        if lo is not None and hi is not None and not hi > lo:
            raise ParameterError(
                f"--target {self.text!r}: the window's upper end must be above its lower end"
            )
        if not (math.isfinite(self.min_time_h) and self.min_time_h >= 0):
            raise ParameterError(f"--target {self.text!r}: the time must be >= 0")

    @property
    def is_threshold_only(self) -> bool:
        """True when the only clause is reaching a threshold (monotone in dose)."""
        return (
            self.low_mg_per_L is not None
            and self.high_mg_per_L is not None
            and math.isinf(self.high_mg_per_L)
            and self.ceiling_mg_per_L is None
            and self.auc_max_mg_h_per_L is None
        )


_CONC = r"(?P<c>[0-9.eE+-]+\s*[^\s,]+)"
_WINDOW = re.compile(
    r"^(?:(?P<a>[a-z_]+)\s+)?(?P<lo>[0-9.eE+]+)\s*-\s*(?P<hi>[0-9.eE+]+)\s*(?P<u>[^\s,]+)"
    r"(?:\s+for\s*(?:>=|≥)?\s*(?P<t>.+))?$"
)
_ABOVE = re.compile(
    r"^(?:(?P<a>[a-z_]+)\s*)?>=?\s*" + _CONC + r"(?:\s+for\s*(?:>=|≥)?\s*(?P<t>.+))?$"
)
_BELOW = re.compile(r"^(?:(?P<a>[a-z_]+|peak|cmax)\s*)?<=?\s*" + _CONC + r"$")
_AUC = re.compile(
    r"^auc\s*(?P<op>>=|<=|>|<)\s*(?P<x>[0-9.eE+-]+\s*[^\s,]+)"
    r"(?:\s+over\s+(?P<t0>[0-9.eE+]+)\s*-\s*(?P<t1>[0-9.eE+]+)\s*(?P<tu>\S+))?$"
)


def _auc_mg_h_per_L(text: str, analyte: str, what: str) -> float:  # noqa: N802
    try:
        return to_unit(text, "mg*h/L", what=what)
    except UnitError as exc:
        try:
            mmol = to_unit(text, "mmol*h/L", what=what)
        except UnitError:
            raise exc from None
        return mmol * get_molar_mass_g_per_mol(analyte)


def parse_goal(text: str) -> Goal:
    """Parse a goal (module docstring grammar).

    Examples
    --------
    >>> g = parse_goal("ketamine 100-250 ng/mL for >= 30 min, peak < 400 ng/mL")
    >>> g.analyte, g.low_mg_per_L, g.high_mg_per_L, g.min_time_h, g.ceiling_mg_per_L
    ('ketamine', 0.1, 0.25, 0.5, 0.4)
    """
    what = f"--target {text!r}"
    clauses = [c.strip() for c in (text or "").split(",") if c.strip()]
    if not clauses:
        raise ParameterError(f"{what}: write e.g. 'ketamine 100-250 ng/mL for >= 30 min'")
    analyte: str | None = None
    kw: dict[str, object] = {}
    hint = (
        "write e.g. 'ketamine 100-250 ng/mL for >= 30 min, peak < 400 ng/mL' or "
        "'s_ketamine > 100 ng/mL for >= 10 min' or 'ketamine auc >= 500 ng*h/mL'"
    )
    for raw in clauses:
        clause = raw.lower()
        first = clause.split()[0] if clause.split() else ""
        if (
            first.isidentifier()
            and first not in ("peak", "cmax", "auc")
            and len(clause.split()) > 1
        ):
            rest = clause[len(first) :].strip()
            if rest.startswith("auc"):
                analyte, clause = first, rest
        try:
            if m := _AUC.match(clause):
                if analyte is None:
                    raise ParameterError(
                        f"{what}: name the analyte first (e.g. 'ketamine auc ...')"
                    )
                x = _auc_mg_h_per_L(m["x"], analyte, what)
                key = "auc_min_mg_h_per_L" if m["op"].startswith(">") else "auc_max_mg_h_per_L"
                kw[key] = x
                if m["t0"]:
                    t0 = to_unit(f"{m['t0']} {m['tu']}", "h", what=what)
                    t1 = to_unit(f"{m['t1']} {m['tu']}", "h", what=what)
                    if not t1 > t0:
                        raise ParameterError(f"{what}: the AUC interval must end after it starts")
                    kw["auc_window_h"] = (t0, t1)
            elif m := _WINDOW.match(clause):
                analyte = m["a"] or analyte
                if analyte is None:
                    raise ParameterError(
                        f"{what}: name the analyte (e.g. 'ketamine 100-250 ng/mL')"
                    )
                kw["low_mg_per_L"] = parse_conc(f"{m['lo']} {m['u']}", analyte, what=what)
                kw["high_mg_per_L"] = parse_conc(f"{m['hi']} {m['u']}", analyte, what=what)
                kw["min_time_h"] = to_unit(m["t"], "h", what=f"{what} time") if m["t"] else 0.0
            elif m := _ABOVE.match(clause):
                analyte = m["a"] or analyte
                if analyte is None:
                    raise ParameterError(f"{what}: name the analyte (e.g. 'ketamine > 100 ng/mL')")
                kw["low_mg_per_L"] = parse_conc(m["c"], analyte, what=what)
                kw["high_mg_per_L"] = math.inf
                kw["min_time_h"] = to_unit(m["t"], "h", what=f"{what} time") if m["t"] else 0.0
            elif m := _BELOW.match(clause):
                a = m["a"]
                if a not in (None, "peak", "cmax"):
                    analyte = a
                if analyte is None:
                    raise ParameterError(f"{what}: name the analyte (e.g. 'ketamine < 400 ng/mL')")
                kw["ceiling_mg_per_L"] = parse_conc(m["c"], analyte, what=what)
            else:
                raise ParameterError(f"{what}: cannot read {raw!r}; {hint}")
        except UnitError as exc:
            raise UnitError(f"{what}: {exc}; {hint}") from None
    assert analyte is not None
    return Goal(text=text.strip(), analyte=analyte, **kw)  # type: ignore[arg-type]
