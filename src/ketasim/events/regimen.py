"""The people-facing regimen: doses with units, turned into NONMEM records for the engine.

A :class:`Regimen` never reaches the solver itself: :meth:`Regimen.to_records` writes it as NONMEM
records (one dose record per dose, ``ADDL``/``II`` for repeats, ``RATE`` for infusions and a
``ROUTE`` text column naming the model route), and every simulation runs on records.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Any

import numpy as np

from ketasim.errors import EventError, UnitError
from ketasim.events.records import Dataset
from ketasim.units import convert_salt_to_base_mg, dimensionality_of, parse_quantity, to_unit

__all__ = ["Dose", "Regimen"]

#: longest infusion or dosing interval a regimen may have, h (the output grid has the same limit)
_MAX_TIME_H = 1e6


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
        if isinstance(self.addl, bool) or not isinstance(self.addl, numbers.Integral):
            raise EventError(f"repeat count addl={self.addl!r} must be a whole number")
        for name in ("amt", "time_h", "tinf_h", "ii_h"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, numbers.Real):
                raise EventError(f"{name}={v!r} must be a number")
        if not isinstance(self.route, str) or not self.route.strip():
            raise EventError(f"route {self.route!r} must be a route name such as 'iv'")
        object.__setattr__(self, "route", self.route.strip().lower())
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
        salt: str | None = None,
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
        salt : {None, "hydrochloride"}
            The dose is written as the salt (e.g. "ketamine hydrochloride 100 mg"): it is
            converted to the base with the ratio of molar masses (ketamine base 237.73 g/mol,
            hydrochloride 274.19 g/mol). Product labels usually state the base equivalent
            (Ketalar: "ketamine hydrochloride equivalent to 10 mg ketamine base per mL";
            Spravato: "esketamine hydrochloride equivalent to 28 mg of esketamine"), which is
            what ketasim expects by default.

        Raises
        ------
        UnitError, EventError
            Naming the argument: a dose without a unit or of the wrong dimension, a count that
            is not a whole number >= 1, repeats without an interval.
        """
        if isinstance(count, bool) or not isinstance(count, numbers.Integral):
            raise EventError(f"count={count!r} must be a whole number of doses (e.g. 6)")
        if count > 100_000:
            raise EventError(f"count={count}: more than 100000 doses is not a regimen")
        q = parse_quantity(dose, what="dose", expected="mg")
        if str(q.units) == "dimensionless" and "/" not in str(dose):
            raise UnitError(f"dose {dose!r} has no unit: write e.g. '{dose} mg' or '{dose} mg/kg'")
        dim = q.dimensionality
        if dim == dimensionality_of("mg"):
            amt, per_kg = float(q.to("mg").magnitude), False
        elif dim == dimensionality_of("mg/kg") and "/" in str(q.units):
            # NOTE: a dimensionless '5 %' is not a dose per body mass: the unit must be a mass
            # over a mass, as written
            amt, per_kg = float(q.to("mg/kg").magnitude), True
        else:
            raise UnitError(
                f"dose {dose!r} must be a mass (e.g. '35 mg') or a mass per body mass "
                "(e.g. '0.5 mg/kg')"
            )
        if salt is not None:
            amt = convert_salt_to_base_mg(amt, salt, what=f"dose {dose!r}")
        if not amt > 0:
            raise EventError(f"dose {dose!r} must be more than 0")
        tinf = to_unit(duration, "h", what="duration") if duration is not None else 0.0
        if count < 1:
            raise EventError(f"count={count}: give at least one dose")
        if count > 1 and every is None:
            raise EventError(f"count={count} needs an interval (e.g. every='3.5 d')")
        ii = to_unit(every, "h", what="interval") if every is not None else 0.0
        t0 = to_unit(start, "h", what="start time")
        # NOTE: checked here so that each message names the argument as it was written
        for name, text, value in (("duration", duration, tinf), ("interval", every, ii)):
            if value < 0:
                raise EventError(f"{name} {text!r} must not be negative")
            if value > _MAX_TIME_H:
                raise EventError(f"{name} {text!r} is more than 1e6 h (114 years)")
        if count > 1 and not ii > 0:
            raise EventError(f"interval {every!r}: {count} doses need an interval > 0")
        if count > 1 and tinf > ii:
            raise EventError(
                f"duration {duration!r} is longer than the interval {every!r} between doses"
            )
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

    @property
    def has_per_kg_doses(self) -> bool:
        """True when any dose is given per kg of body weight."""
        return any(d.per_kg for d in self.doses)

    def get_dose_times_h(self) -> np.ndarray:
        """Start times of every dose, repeats included (sorted), h."""
        t = [d.time_h + k * d.ii_h for d in self.doses for k in range(d.addl + 1)]
        return np.sort(np.asarray(t, dtype=float))

    def to_records(self, weight_kg: Any = None) -> Dataset:
        """The regimen as NONMEM records, one subject per body weight.

        Parameters
        ----------
        weight_kg : float or array (subjects,), kg, optional
            Body weight(s) for per-kg doses; required when any dose is per kg. An array gives
            one subject per weight (IDs 1..n) with the same dosing times.

        Returns
        -------
        Dataset
            Columns ID, TIME (h), AMT (mg), RATE (mg/h; > 0 for an infusion given with a
            duration, 0 otherwise), CMT (0: the route decides), EVID 1, II (h), ADDL and the
            text column ROUTE.

        Examples
        --------
        >>> reg = Regimen.from_quantities("0.5 mg/kg", duration="40 min")
        >>> ds = reg.to_records(weight_kg=70)
        >>> float(ds["AMT"][0]), round(float(ds["RATE"][0]), 3), str(ds.text_columns["ROUTE"][0])
        (35.0, 52.5, 'iv')
        """
        if weight_kg is None:
            if self.has_per_kg_doses:
                raise EventError("a per-kg dose needs the body weight (weight_kg, kg)")
            wt = np.ones(1)
        else:
            wt = np.atleast_1d(np.asarray(weight_kg, dtype=float))
            if wt.ndim != 1 or wt.size == 0:
                raise EventError(f"weight_kg must be a number or a 1-D array, got shape {wt.shape}")
            if not np.all(np.isfinite(wt) & (wt > 0)):
                bad = wt[~(np.isfinite(wt) & (wt > 0))][0]
                raise EventError(f"body weight {bad:g} kg must be a positive number")
        doses = sorted(self.doses, key=lambda d: d.time_h)
        n, k = wt.size, len(doses)
        amt = np.array([[d.amt * w if d.per_kg else d.amt for d in doses] for w in wt])
        tinf = np.array([d.tinf_h for d in doses])
        rate = np.where(tinf > 0, amt / np.where(tinf > 0, tinf, 1.0), 0.0)
        cols = {
            "ID": np.repeat(np.arange(1, n + 1, dtype=float), k),
            "TIME": np.tile([d.time_h for d in doses], n),
            "AMT": amt.ravel(),
            "RATE": rate.ravel(),
            "CMT": np.zeros(n * k),
            "EVID": np.ones(n * k),
            "II": np.tile([d.ii_h for d in doses], n),
            "ADDL": np.tile([float(d.addl) for d in doses], n),
        }
        return Dataset(
            cols, text_columns={"ROUTE": np.tile([d.route for d in doses], n)}, checked=False
        )

    def get_end_time_h(self) -> float:
        """Time of the end of the last dose (start + repeats + infusion), h."""
        return max(d.time_h + d.addl * d.ii_h + d.tinf_h for d in self.doses)

    def __add__(self, other: Regimen) -> Regimen:
        return Regimen(tuple(sorted(self.doses + other.doses, key=lambda d: d.time_h)))
