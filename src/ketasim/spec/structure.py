"""The parts a model is built of: compartments, flows, routes, parameters, covariates, IIV.

Frozen records checked at construction; :class:`~ketasim.spec.model.ModelSpec` assembles them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from ketasim.errors import ModelError
from ketasim.spec.domains import DOMAINS

FloatArray = npt.NDArray[np.float64]

__all__ = [
    "COMPARTMENT_KINDS",
    "RESIDUAL_FORMS",
    "SAMPLING_SITES",
    "Compartment",
    "Covariate",
    "DoseDerivation",
    "Flow",
    "Iiv",
    "Parameter",
    "Route",
    "RouteInput",
]

#: residual error forms a model file may state (``[residual.<analyte>] form``)
RESIDUAL_FORMS = ("proportional", "additive", "combined", "exponential")
COMPARTMENT_KINDS = ("depot", "central", "peripheral", "effect", "transit", "integral")
SAMPLING_SITES = ("arterial", "venous", "mixed", "unknown", "none")


@dataclass(frozen=True)
class Compartment:
    """A named compartment; ``volume`` names the individual parameter giving its volume."""

    name: str
    analyte: str | None = None
    kind: str = "central"
    volume: str | None = None

    def __post_init__(self) -> None:
        if not self.name or not self.name.replace("_", "").isalnum():
            raise ModelError(f"compartment name {self.name!r} must be letters, digits and _")
        if self.kind not in COMPARTMENT_KINDS:
            raise ModelError(
                f"compartment {self.name}: kind {self.kind!r} not one of "
                f"{', '.join(COMPARTMENT_KINDS)}"
            )


@dataclass(frozen=True)
class Flow:
    """A first-order flow out of ``source`` (into ``target`` when given).

    Exactly one of ``clearance`` (volume/time, divided by the source volume) or ``rate``
    (1/time) names the driving parameter. ``fraction`` (a parameter name or a number) is the share
    of the flow entering ``target``; the rest leaves the system. ``kind="effect"`` is a link to an
    effect compartment that moves no drug. ``kind="saturable"`` is a Michaelis-Menten flow,
    ``vmax * C / (km + C)`` (amount/time) with ``C`` the source concentration: it makes the model
    nonlinear, solved on the ODE path. ``kind="integral"`` accumulates the source concentration
    into an ``integral`` compartment (its AUC, mg/L*h); it needs no parameter and moves no drug.
    """

    source: str
    target: str | None = None
    clearance: str | None = None
    rate: str | None = None
    fraction: str | float | None = None
    kind: str = "transfer"
    vmax: str | None = None
    km: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in ("transfer", "effect", "saturable", "integral"):
            raise ModelError(
                f"flow from {self.source}: kind {self.kind!r} must be transfer, effect, saturable "
                "or integral"
            )
        if self.kind == "integral":
            if self.target is None or self.clearance or self.rate or self.vmax or self.km:
                raise ModelError(
                    f"integral flow from {self.source}: give a target and no rate parameters"
                )
            return
        if self.kind == "saturable":
            if self.vmax is None or self.km is None or self.clearance or self.rate:
                raise ModelError(
                    f"saturable flow from {self.source}: give vmax and km (and no clearance/rate)"
                )
            return
        if self.clearance is None and self.rate is None:
            raise ModelError(f"flow from {self.source}: give a clearance or a rate parameter")
        if self.kind == "effect" and self.target is None:
            raise ModelError(f"effect link from {self.source} needs a target effect compartment")


@dataclass(frozen=True)
class RouteInput:
    """Where a share of a dose goes: compartment, bioavailability, lag, modelled rate/duration."""

    cmt: str
    F: str | float | None = None
    lag: str | None = None
    duration: str | None = None
    rate: str | None = None


@dataclass(frozen=True)
class Route:
    """A route of administration: one or more inputs (e.g. first-pass metabolite formation)."""

    name: str
    inputs: tuple[RouteInput, ...]
    infusion: bool = False
    source: str = ""


@dataclass(frozen=True)
class Parameter:
    """A typical value (theta): canonical value plus the value and unit as printed in the source."""

    name: str
    value: float
    unit: str
    published_value: float
    published_unit: str
    source: str = ""


@dataclass(frozen=True)
class DoseDerivation:
    """A covariate that follows from the dose on one route (e.g. nasal devices = dose / 28 mg).

    ``amount_mg`` is the dose per unit of the covariate (mg), ``source`` where that number is
    printed (e.g. the label).
    """

    route: str
    amount_mg: float
    source: str
    what: str = "unit"


@dataclass(frozen=True)
class Covariate:
    """A covariate an expression may use, with its unit and reference (typical) value.

    ``domain`` (one of :data:`DOMAINS`) with optional hard limits ``min``/``max`` says which
    values are possible at all (others are errors); ``valid`` is the range the model was built
    in (outside it: a warning). ``per_dose`` derives the covariate from the regimen.
    """

    name: str
    unit: str
    reference: float
    note: str = ""
    domain: str = "real"
    min: float | None = None
    max: float | None = None
    valid: tuple[float, float] | None = None
    per_dose: DoseDerivation | None = None

    def __post_init__(self) -> None:
        if self.domain not in DOMAINS:
            raise ModelError(
                f"covariate {self.name}: domain {self.domain!r} not one of {', '.join(DOMAINS)}"
            )


@dataclass(frozen=True)
class Iiv:
    """Between-subject variability: ETA names and their omega (log-scale covariance) matrix."""

    names: tuple[str, ...]
    omega: tuple[tuple[float, ...], ...]
    source: str = ""

    def __post_init__(self) -> None:
        om = np.asarray(self.omega, dtype=float)
        n = len(self.names)
        if om.shape != (n, n):
            raise ModelError(
                f"iiv.omega is {om.shape}, expected {n}x{n} for names {list(self.names)}"
            )
        if not np.all(np.isfinite(om)) or not np.allclose(om, om.T, rtol=0, atol=1e-12):
            raise ModelError("iiv.omega must be a finite symmetric matrix")
        if n and np.linalg.eigvalsh(om).min() < -1e-12:
            raise ModelError("iiv.omega is not positive semi-definite (check the correlations)")

    @property
    def matrix(self) -> FloatArray:
        """Omega as a numpy array (dimensionless, log scale)."""
        return np.asarray(self.omega, dtype=float)
