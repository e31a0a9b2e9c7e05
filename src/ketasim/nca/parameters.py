"""NCA parameters: CDISC PPTESTCD codes, names, unit kinds, and the value-with-reason type.

Owns the list of parameters ketasim's NCA reports (code, PPTEST label as in the CDISC SDTM
controlled terminology for PP, and what kind of unit each carries) and the derivation of each
parameter's unit from the input's time, concentration and dose units (through
:mod:`ketasim.units`). It computes no parameter.

References
----------
CDISC SDTM Controlled Terminology, codelists C85493 (PKPARMCD, "PK Parameters Code") and
C85839 (PKPARM). TABOVE is a ketasim extension (no CDISC code; PKNCA's ``time_above``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ketasim.errors import UnitError
from ketasim.units import convert_magnitude, dimensionality_of

__all__ = [
    "PARAMETERS",
    "Estimate",
    "ParameterInfo",
    "get_parameter_unit",
]


@dataclass(frozen=True)
class Estimate:
    """One parameter value and, when it is NaN, why (never a bare NaN).

    Attributes
    ----------
    value : float, in the parameter's unit
    reason : str
        Empty when ``value`` is finite; otherwise why it could not be computed.
    """

    value: float
    reason: str = ""

    def __post_init__(self) -> None:
        if math.isnan(self.value) and not self.reason:
            raise ValueError("an NCA estimate that is NaN needs a reason")

    @staticmethod
    def missing(reason: str) -> Estimate:
        """A NaN estimate with its reason."""
        return Estimate(math.nan, reason)

    @property
    def ok(self) -> bool:
        """True when the value is a number (not NaN)."""
        return not math.isnan(self.value)


@dataclass(frozen=True)
class ParameterInfo:
    """A reported parameter: CDISC code, label and unit kind.

    ``kind`` is one of conc, time, auc (time x conc), aumc (time^2 x conc), rate (1/time),
    percent, count, dimensionless, clearance (dose/AUC, reported in L/h), volume (dose/(AUC
    x rate), reported in L).
    """

    code: str
    name: str
    kind: str


def _p(code: str, name: str, kind: str) -> tuple[str, ParameterInfo]:
    return code, ParameterInfo(code, name, kind)


#: every parameter ketasim's NCA can report, in report order
PARAMETERS: dict[str, ParameterInfo] = dict(
    [
        _p("CMAX", "Max Conc", "conc"),
        _p("TMAX", "Time of CMAX", "time"),
        _p("CMIN", "Min Conc", "conc"),
        _p("TMIN", "Time of CMIN Observation", "time"),
        _p("CLST", "Last Nonzero Conc", "conc"),
        _p("TLST", "Time of Last Nonzero Conc", "time"),
        _p("AUCLST", "AUC to Last Nonzero Conc", "auc"),
        _p("AUCALL", "AUC All", "auc"),
        _p("AUMCLST", "AUMC to Last Nonzero Conc", "aumc"),
        _p("LAMZ", "Lambda z", "rate"),
        _p("LAMZHL", "Half-Life Lambda z", "time"),
        _p("LAMZNPT", "Number of Points for Lambda z", "count"),
        _p("R2", "R Squared", "dimensionless"),
        _p("R2ADJ", "R Squared Adjusted", "dimensionless"),
        _p("CORRXY", "Correlation Between TimeX and Log ConcY", "dimensionless"),
        _p("LAMZLL", "Lambda z Lower Limit", "time"),
        _p("LAMZUL", "Lambda z Upper Limit", "time"),
        _p("LAMZSPN", "Lambda z Span", "dimensionless"),
        _p("CLSTP", "Last Nonzero Conc Predicted", "conc"),
        _p("AUCIFO", "AUC Infinity Obs", "auc"),
        _p("AUCIFP", "AUC Infinity Pred", "auc"),
        _p("AUCPEO", "AUC %Extrapolation Obs", "percent"),
        _p("AUCPEP", "AUC %Extrapolation Pred", "percent"),
        _p("AUMCIFO", "AUMC Infinity Obs", "aumc"),
        _p("AUMCIFP", "AUMC Infinity Pred", "aumc"),
        _p("MRTEVLST", "MRT Extravasc to Last Nonzero Conc", "time"),
        _p("MRTEVIFO", "MRT Extravasc Infinity Obs", "time"),
        _p("MRTIVLST", "MRT Intravasc to Last Nonzero Conc", "time"),
        _p("MRTIVIFO", "MRT Intravasc Infinity Obs", "time"),
        _p("CLO", "Total CL Obs", "clearance"),
        _p("CLFO", "Total CL Obs by F", "clearance"),
        _p("VZO", "Vz Obs", "volume"),
        _p("VZFO", "Vz Obs by F", "volume"),
        _p("AUCINT", "AUC from T1 to T2", "auc"),
        _p("AUCTAU", "AUC Over Dosing Interval", "auc"),
        _p("CLTAU", "Total CL for Dose Int", "clearance"),
        _p("CLFTAU", "Total CL by F for Dose Int", "clearance"),
        _p("CAVG", "Average Conc", "conc"),
        _p("CTROUGH", "Trough Conc", "conc"),
        _p("FLUCP", "Fluctuation%", "percent"),
        _p("TABOVE", "Time Above Threshold Conc", "time"),
    ]
)

#: the unit clearance and volume are reported in
_CL_UNIT = "L/h"
_V_UNIT = "L"


def get_parameter_unit(
    kind: str, *, time_unit: str, conc_unit: str, dose_unit: str | None
) -> tuple[str, float]:
    """Unit text of a parameter kind, and the factor that takes the raw value into it.

    The raw value is what the formulas give in the input's units (e.g. dose / AUC in
    ``dose_unit/(time_unit*conc_unit)``); clearance is reported in L/h and volume in L, so
    for those the factor converts; for the others it is 1.

    Parameters
    ----------
    kind : str
        A :class:`ParameterInfo` kind.
    time_unit, conc_unit : str
        Units of the input times and concentrations, e.g. ``"h"``, ``"ng/mL"``.
    dose_unit : str or None
        Unit of the doses (needed for clearance and volume only).

    Raises
    ------
    UnitError
        For clearance/volume when ``dose_unit`` is missing or the dose and concentration
        units are not amount/volume consistent (e.g. mg with nmol/L).

    Examples
    --------
    >>> get_parameter_unit("auc", time_unit="h", conc_unit="ng/mL", dose_unit=None)
    ('h*ng/mL', 1.0)
    >>> get_parameter_unit("clearance", time_unit="h", conc_unit="ng/mL", dose_unit="mg")
    ('L/h', 1000.0)
    """
    simple = {
        "conc": conc_unit,
        "time": time_unit,
        "auc": f"{time_unit}*{conc_unit}",
        "aumc": f"{time_unit}^2*{conc_unit}",
        "rate": f"1/{time_unit}",
        "percent": "%",
        "count": "",
        "dimensionless": "",
    }
    if kind in simple:
        return simple[kind], 1.0
    if kind not in ("clearance", "volume"):
        raise UnitError(f"unknown NCA parameter kind {kind!r}")
    if not dose_unit:
        raise UnitError("no dose unit: clearance and volume need doses with a unit")
    raw = f"({dose_unit})/(({time_unit})*({conc_unit}))"
    target = _CL_UNIT
    if kind == "volume":
        raw = f"({dose_unit})/({conc_unit})"
        target = _V_UNIT
    if dimensionality_of(raw) != dimensionality_of(target):
        raise UnitError(
            f"dose unit {dose_unit} with concentration unit {conc_unit} does not give a "
            f"{kind} in {target}: give both in mass (or both in molar) units"
        )
    factor = convert_magnitude(1.0, raw, target, what=f"{kind} unit")
    # NOTE: unit factors are exact decimals; pint's float chain leaves 1e-16 noise (999.999...)
    return target, float(f"{factor:.12g}")
