"""Options of an NCA run (PKNCA's defaults), checked once.

Owns :class:`NCAOptions`: AUC method, BLQ rule, LLOQ, lambda_z rule settings, route, infusion
duration and threshold. Nothing is computed here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from ketasim.errors import ParameterError
from ketasim.nca.auc import check_method
from ketasim.nca.blq import BLQRule

__all__ = ["ROUTES", "NCAOptions"]

#: administration routes (decide CL vs CL/F codes and the MRT infusion correction)
ROUTES: tuple[str, ...] = ("extravascular", "intravascular")


@dataclass(frozen=True)
class NCAOptions:
    """How NCA parameters are computed (defaults are PKNCA's).

    Attributes
    ----------
    method : str
        AUC rule: ``"lin-up/log-down"`` (PKNCA default), ``"linear"`` or ``"lin-log"``.
    blq : BLQRule
        BLQ handling (PKNCA default first=keep, middle=drop, last=keep).
    lloq : float, conc unit of the data
        Concentrations below it are BLQ (0: only zeros are).
    min_points : int
        Minimum points for lambda_z (PKNCA default 3).
    adj_r2_tolerance : float, dimensionless
        PKNCA's ``adj.r.squared.factor`` (default 1e-4).
    allow_tmax : bool
        Allow the Tmax point in lambda_z (PKNCA default False).
    route : str
        ``"extravascular"`` (PKNCA default; CL/F, Vz/F codes) or ``"intravascular"``.
    infusion_duration : float, time unit of the data
        Subtracted as tinf/2 from intravascular MRT (0 for a bolus).
    threshold : float or None, conc unit of the data
        Concentration for TABOVE (time above it); None: not reported.
    """

    method: str = "lin-up/log-down"
    blq: BLQRule = field(default_factory=BLQRule)
    lloq: float = 0.0
    min_points: int = 3
    adj_r2_tolerance: float = 1e-4
    allow_tmax: bool = False
    route: str = "extravascular"
    infusion_duration: float = 0.0
    threshold: float | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "method", check_method(self.method))
        if self.route not in ROUTES:
            raise ParameterError(f"route {self.route!r}: use one of {', '.join(ROUTES)}")
        if not (math.isfinite(self.lloq) and self.lloq >= 0):
            raise ParameterError(f"LLOQ {self.lloq}: must be a finite concentration >= 0")
        if int(self.min_points) != self.min_points or self.min_points < 2:
            raise ParameterError(f"min_points {self.min_points}: must be an integer >= 2")
        if not (0 <= self.adj_r2_tolerance < 1):
            raise ParameterError(
                f"adjusted R^2 tolerance {self.adj_r2_tolerance}: must be in [0, 1)"
            )
        if not (math.isfinite(self.infusion_duration) and self.infusion_duration >= 0):
            raise ParameterError(
                f"infusion duration {self.infusion_duration}: must be a finite time >= 0"
            )
        if self.infusion_duration > 0 and self.route != "intravascular":
            raise ParameterError(
                "an infusion duration applies to route 'intravascular' only; set route"
            )
        if self.threshold is not None and not (
            math.isfinite(self.threshold) and self.threshold >= 0
        ):
            raise ParameterError(f"threshold {self.threshold}: must be a concentration >= 0")
