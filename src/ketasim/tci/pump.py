"""The simulated pump: update interval, maximum rate and syringe concentration.

Owns the limits a TCI plan must respect and the conversions of a drug rate (mg/h) to a pump
rate (mL/h) through the syringe concentration. A simulated pump only: ketasim controls no
device (:data:`TCI_NOTICE`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ketasim.errors import ParameterError, UnitError
from ketasim.notices import DISCLAIMER
from ketasim.units import to_unit

__all__ = ["TCI_NOTICE", "Pump"]

#: shown with every TCI output
TCI_NOTICE = (
    "TCI plans are for simulation, not pump control: no device may be driven by them. " + DISCLAIMER
)


@dataclass(frozen=True)
class Pump:
    """Limits of a simulated syringe pump.

    Parameters
    ----------
    update_h : float, h
        Interval between rate changes (> 0); the rate is constant in between.
    max_rate_mg_per_h : float, mg/h
        Highest drug rate (> 0; ``inf`` for no limit).
    syringe_mg_per_mL : float, mg/mL, optional
        Drug concentration in the syringe, for rates in mL/h and volumes in mL.

    Examples
    --------
    >>> p = Pump.from_quantities(update="10 s", max_rate="1200 mL/h", syringe="10 mg/mL")
    >>> p.max_rate_mg_per_h, round(p.update_h * 3600, 9)
    (12000.0, 10.0)
    """

    update_h: float
    max_rate_mg_per_h: float = math.inf
    syringe_mg_per_mL: float | None = None  # noqa: N815 - unit suffix per STYLE.md §3

    def __post_init__(self) -> None:
        if not (math.isfinite(self.update_h) and self.update_h > 0):
            raise ParameterError(f"--update {self.update_h:g} h: the update interval must be > 0")
        r = self.max_rate_mg_per_h
        if math.isnan(r) or r <= 0:
            raise ParameterError(f"--max-rate {r:g} mg/h: the maximum rate must be > 0")
        s = self.syringe_mg_per_mL
        if s is not None and not (math.isfinite(s) and s > 0):
            raise ParameterError(f"--syringe {s:g} mg/mL: the syringe concentration must be > 0")

    @classmethod
    def from_quantities(
        cls,
        *,
        update: str = "10 s",
        max_rate: str | None = None,
        syringe: str | None = None,
        weight_kg: float | None = None,
    ) -> Pump:
        """Pump from texts with units.

        Parameters
        ----------
        update : str
            Update interval (time), e.g. ``"10 s"``.
        max_rate : str, optional
            Drug rate (``"1200 mg/h"``), pump rate (``"1200 mL/h"``, needs ``syringe``) or a
            weight-based rate (``"20 mg/kg/h"``, needs ``weight_kg``).
        syringe : str, optional
            Syringe concentration, e.g. ``"10 mg/mL"``.
        weight_kg : float, kg, optional
        """
        update_h = to_unit(update, "h", what="--update")
        if update_h <= 0:
            raise ParameterError(f"--update {update!r}: the update interval must be > 0")
        syringe_mg_per_mL = to_unit(syringe, "mg/mL", what="--syringe") if syringe else None
        if syringe_mg_per_mL is not None and not syringe_mg_per_mL > 0:
            raise ParameterError(f"--syringe {syringe!r}: the syringe concentration must be > 0")
        rate = (
            math.inf if max_rate is None else _rate_mg_per_h(max_rate, syringe_mg_per_mL, weight_kg)
        )
        if max_rate is not None and not rate > 0:
            raise ParameterError(f"--max-rate {max_rate!r}: the maximum rate must be > 0")
        return cls(update_h, rate, syringe_mg_per_mL)

    def get_rate_mL_per_h(self, rate_mg_per_h: float) -> float:  # noqa: N802
        """Pump rate, mL/h, of a drug rate (NaN without a syringe concentration)."""
        if self.syringe_mg_per_mL is None:
            return math.nan
        return rate_mg_per_h / self.syringe_mg_per_mL

    def get_volume_mL(self, amt_mg: float) -> float:  # noqa: N802
        """Volume, mL, of an amount (NaN without a syringe concentration)."""
        if self.syringe_mg_per_mL is None:
            return math.nan
        return amt_mg / self.syringe_mg_per_mL


def _rate_mg_per_h(text: str, syringe_mg_per_mL: float | None, weight_kg: float | None) -> float:
    what = "--max-rate"
    try:
        return to_unit(text, "mg/h", what=what)
    except UnitError as mass_error:
        try:
            ml_per_h = to_unit(text, "mL/h", what=what)
        except UnitError:
            try:
                per_kg = to_unit(text, "mg/kg/h", what=what)
            except UnitError:
                raise mass_error from None
            if weight_kg is None:
                raise ParameterError(
                    f"{what} {text!r} is per kg: give the body weight (--weight)"
                ) from None
            return per_kg * weight_kg
        if syringe_mg_per_mL is None:
            raise ParameterError(
                f"{what} {text!r} is a pump rate: give the syringe concentration (--syringe)"
            ) from None
        return ml_per_h * syringe_mg_per_mL
