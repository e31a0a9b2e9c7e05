"""The people-facing regimen: doses with units, turned into NONMEM records for the engine."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from ketasim.errors import EventError, UnitError
from ketasim.units import parse_quantity, to_unit

__all__ = ["Dose", "Regimen"]


@dataclass(frozen=True)
class Dose:
    """One dose (optionally repeated), with canonical units.

    Parameters
    ----------
    amt : float, mg (or mg/kg when ``per_kg``)
    time_h : float, h
    route : str
        Route name understood by the model (``iv``, ``im``, ``intranasal``, ``oral`` ...).
    tinf_h : float, h
        Infusion duration; 0 for a bolus or an extravascular dose.
    ii_h : float, h
        Interval between repeats.
    addl : int
        Number of additional doses after the first.
    per_kg : bool
        ``amt`` is per kg of body weight.
    """

    amt: float
    time_h: float = 0.0
    route: str = "iv"
    tinf_h: float = 0.0
    ii_h: float = 0.0
    addl: int = 0
    per_kg: bool = False

    def __post_init__(self) -> None:
        if not (math.isfinite(self.amt) and self.amt > 0):
            raise EventError(f"dose amount {self.amt} must be a positive number")
        for name in ("time_h", "tinf_h", "ii_h"):
            v = getattr(self, name)
            if not math.isfinite(v) or (name != "time_h" and v < 0):
                raise EventError(f"{name}={v} must be finite and not negative")
        if self.addl < 0:
            raise EventError(f"repeat count addl={self.addl} must be >= 0")
        if self.addl > 0 and self.ii_h <= 0:
            raise EventError(f"{self.addl + 1} doses need an interval > 0 (got {self.ii_h} h)")
        if self.addl > 0 and self.tinf_h > self.ii_h:
            raise EventError(
                f"infusion of {self.tinf_h} h is longer than the interval "
                f"{self.ii_h} h between doses"
            )

    def get_amount_mg(self, weight_kg: float | None) -> float:
        """Dose amount in mg, using ``weight_kg`` for a per-kg dose."""
        if not self.per_kg:
            return self.amt
        if weight_kg is None or not (weight_kg > 0):
            raise EventError("a per-kg dose needs the body weight (e.g. --weight '70 kg')")
        return self.amt * weight_kg


@dataclass(frozen=True)
class Regimen:
    """A dosing regimen for people: doses with units, resolved to NONMEM records later.

    Examples
    --------
    >>> reg = Regimen.from_quantities("0.5 mg/kg", duration="40 min", every="3.5 d", count=6)
    >>> reg.doses[0].amt, round(reg.doses[0].tinf_h, 4), reg.doses[0].addl
    (0.5, 0.6667, 5)
    """

    doses: tuple[Dose, ...]

    def __post_init__(self) -> None:
        if not self.doses:
            raise EventError("a regimen needs at least one dose")

    @classmethod
    def from_quantities(
        cls,
        dose: Any,
        *,
        route: str = "iv",
        duration: Any = None,
        every: Any = None,
        count: int = 1,
        start: Any = "0 h",
    ) -> Regimen:
        """Build a regimen of ``count`` equal doses from quantities with units.

        Parameters
        ----------
        dose : str or Quantity
            Mass (``"35 mg"``) or mass per body mass (``"0.5 mg/kg"``, ``"500 ug/kg"``).
        route : str
            Route name.
        duration : str or Quantity, optional
            Infusion duration (time).
        every : str or Quantity, optional
            Interval between doses (time); required when ``count > 1``.
        count : int
            Number of doses.
        start : str or Quantity
            Time of the first dose.
        """
        q = parse_quantity(dose, what="dose")
        if str(q.units) == "dimensionless" and "/" not in str(dose):
            raise UnitError(f"dose {dose!r} has no unit: write e.g. '{dose} mg' or '{dose} mg/kg'")
        try:
            amt, per_kg = to_unit(dose, "mg", what="dose"), False
        except UnitError:
            try:
                amt, per_kg = to_unit(dose, "mg/kg", what="dose"), True
            except UnitError:
                raise UnitError(
                    f"dose {dose!r} must be a mass (e.g. '35 mg') or a mass per body mass "
                    "(e.g. '0.5 mg/kg')"
                ) from None
        tinf = to_unit(duration, "h", what="duration") if duration is not None else 0.0
        if count < 1:
            raise EventError(f"count={count}: give at least one dose")
        if count > 1 and every is None:
            raise EventError(f"count={count} needs an interval (e.g. every='3.5 d')")
        ii = to_unit(every, "h", what="interval") if every is not None else 0.0
        t0 = to_unit(start, "h", what="start time")
        return cls(
            (
                Dose(
                    amt=amt,
                    time_h=t0,
                    route=route,
                    tinf_h=tinf,
                    ii_h=ii if count > 1 else 0.0,
                    addl=count - 1,
                    per_kg=per_kg,
                ),
            )
        )

    def get_end_time_h(self) -> float:
        """Time of the end of the last dose (start + repeats + infusion), h."""
        return max(d.time_h + d.addl * d.ii_h + d.tinf_h for d in self.doses)

    def __add__(self, other: Regimen) -> Regimen:
        return Regimen(tuple(sorted(self.doses + other.doses, key=lambda d: d.time_h)))
