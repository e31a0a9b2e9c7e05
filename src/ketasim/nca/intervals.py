"""NCA intervals: the time windows parameters are computed over, and which parameters each gets.

Owns the :class:`Interval` type (start, end - possibly infinite - and whether it is a dosing
interval at steady state), reading intervals from text such as ``"0,24 h"``, the default
interval, and the list of parameters an interval reports. It computes nothing.

Parameter sets (PKNCA's split between single-dose and interval parameters):

- every interval: CMAX, TMAX, CLST, TLST, AUCLST, AUCALL, AUMCLST, MRT..LST, the lambda_z
  block (LAMZ, LAMZHL, LAMZNPT, R2, R2ADJ, CORRXY, LAMZLL, LAMZUL, LAMZSPN, CLSTP) and TABOVE
  when a threshold is given;
- an interval that ends at infinity: AUCIFO, AUCIFP, AUCPEO, AUCPEP, AUMCIFO, AUMCIFP,
  MRT..IFO, CLO/CLFO, VZO/VZFO;
- a finite interval: CMIN, TMIN, AUCINT, CAVG, CTROUGH, FLUCP; and, when it is a dosing
  interval (``tau``), AUCTAU and CLTAU/CLFTAU.

Times are in the data's time unit; parameters that are times are reported relative to the
interval start (as PKNCA does).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ketasim.errors import ParameterError
from ketasim.units import to_unit

__all__ = ["Interval", "get_interval_parameters", "parse_interval"]

_LAMZ_BLOCK = ("LAMZ", "LAMZHL", "LAMZNPT", "R2", "R2ADJ", "CORRXY", "LAMZLL", "LAMZUL",
               "LAMZSPN", "CLSTP")  # fmt: skip


@dataclass(frozen=True)
class Interval:
    """A time window for NCA.

    Attributes
    ----------
    start : float, time unit of the data
    end : float, time unit of the data (``math.inf`` allowed)
    tau : bool
        A dosing interval at steady state (reports AUCTAU and CLTAU/CLFTAU).
    """

    start: float
    end: float = math.inf
    tau: bool = False

    def __post_init__(self) -> None:
        if not math.isfinite(self.start):
            raise ParameterError(f"interval start {self.start}: must be a finite time")
        if not self.end > self.start:
            raise ParameterError(
                f"interval [{self.start:g}, {self.end:g}]: the end must be after the start"
            )
        if self.tau and math.isinf(self.end):
            raise ParameterError("a dosing interval (tau) needs a finite end")

    @property
    def is_infinite(self) -> bool:
        """True when the interval ends at infinity."""
        return math.isinf(self.end)


def parse_interval(text: str, time_unit: str, *, tau: bool = False) -> Interval:
    """Read ``"0,24 h"`` (or ``"0 h,24 h"``, ``"0,inf h"``) into an :class:`Interval`.

    Parameters
    ----------
    text : str
        Start and end separated by a comma, with a time unit.
    time_unit : str
        Unit of the data the interval applies to.

    Examples
    --------
    >>> parse_interval("0,24 h", "min")
    Interval(start=0.0, end=1440.0, tau=False)
    >>> parse_interval("2,inf h", "h").end
    inf
    """
    parts = [p.strip() for p in text.split(",")]
    if len(parts) != 2 or not all(parts):
        raise ParameterError(f"interval {text!r}: write start,end with a unit, e.g. '0,24 h'")
    a, b = parts
    unit_b = b.lstrip("+-0123456789.eEinf").strip()
    unit_a = a.lstrip("+-0123456789.eE").strip()
    unit = unit_b or unit_a
    if not unit:
        raise ParameterError(f"interval {text!r} has no time unit: write e.g. '{a},{b} h'")
    num_a = a if unit_a else f"{a} {unit}"
    start = to_unit(num_a, time_unit, what=f"interval {text!r} start")
    b_num = b[: len(b) - len(unit_b)].strip() if unit_b else b
    if b_num.lower() in ("inf", "+inf", "infinity"):
        end = math.inf
    else:
        end = to_unit(b if unit_b else f"{b} {unit}", time_unit, what=f"interval {text!r} end")
    return Interval(start, end, tau)


def get_interval_parameters(
    interval: Interval, *, route: str, threshold: bool, has_dose: bool
) -> tuple[str, ...]:
    """PPTESTCD codes reported for ``interval`` (see the module docstring for the rule)."""
    iv = route == "intravascular"
    mrt = "MRTIV" if iv else "MRTEV"
    out = ["CMAX", "TMAX"]
    if not interval.is_infinite:
        out += ["CMIN", "TMIN"]
    out += ["CLST", "TLST", "AUCLST", "AUCALL", "AUMCLST", f"{mrt}LST", *_LAMZ_BLOCK]
    if interval.is_infinite:
        out += ["AUCIFO", "AUCIFP", "AUCPEO", "AUCPEP", "AUMCIFO", "AUMCIFP", f"{mrt}IFO"]
        if has_dose:
            out += ["CLO", "VZO"] if iv else ["CLFO", "VZFO"]
    else:
        out += ["AUCINT", "CAVG", "CTROUGH", "FLUCP"]
        if interval.tau:
            out += ["AUCTAU"]
            if has_dose:
                out += ["CLTAU"] if iv else ["CLFTAU"]
    if threshold:
        out.append("TABOVE")
    return tuple(out)
