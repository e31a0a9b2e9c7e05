"""TCI target schedules: concentrations to reach, from a time on, checked for plausibility.

Owns the parsing of people-facing targets (``"150 ng/mL"``, ``"200 ng/mL at 30 min"``) into a
:class:`TargetSchedule` of steps in canonical units (h, mg/L), and the plausibility guard on a
target concentration. It computes no infusion (that is :mod:`ketasim.tci.plan`).

Plausibility limit
------------------
A target above :data:`MAX_TARGET_MG_PER_L` is refused as a probable unit slip (ug/mL for ng/mL).
The limit is the ``warn_factor`` of ``library/plausibility.toml`` (10) times the highest steady
concentration reported during ketamine anaesthesia in the sources read: 9.3 +/- 0.8 umol/L
(about 2.2 mg/L) during surgery under ketamine/N2O [1]_, so 22.1 mg/L. It is a guard against
typing errors, not a safety limit: no target is called safe.

References
----------
.. [1] Idvall J et al. Br J Anaesth 1979;51:1167. doi:10.1093/bja/51.12.1167 (Abstract:
   stable plasma ketamine 9.3 +/- 0.8 umol/L during ketamine/N2O anaesthesia; as tabulated in
   /work/shared/literature/observations.md row 9).
"""

from __future__ import annotations

import functools
import math
import re
import tomllib
from dataclasses import dataclass
from importlib import resources

import numpy as np
import numpy.typing as npt

from ketasim.errors import ParameterError, UnitError
from ketasim.units import convert_magnitude, get_molar_mass_g_per_mol, to_unit

__all__ = [
    "MAX_TARGET_MG_PER_L",
    "TargetSchedule",
    "TargetStep",
    "parse_conc",
    "parse_target_step",
]

#: highest stable ketamine concentration in anaesthesia read in a source [1], umol/L
_ANAESTHESIA_UMOL_PER_L = 9.3


@functools.lru_cache(maxsize=1)
def _warn_factor() -> float:
    path = resources.files("ketasim.library") / "plausibility.toml"
    with path.open("rb") as fh:
        return float(tomllib.load(fh)["limits"]["warn_factor"])


def _max_target_mg_per_L() -> float:  # noqa: N802 - unit suffix per STYLE.md §3
    mw = get_molar_mass_g_per_mol("ketamine")
    mg_per_L = convert_magnitude(_ANAESTHESIA_UMOL_PER_L * mw, "ug/L", "mg/L")
    return _warn_factor() * mg_per_L


#: refused target concentration, mg/L (module docstring: 10 x 9.3 umol/L ketamine)
MAX_TARGET_MG_PER_L: float = _max_target_mg_per_L()


def parse_conc(text: str, analyte: str, *, what: str) -> float:
    """A concentration with its unit (mass or molar per volume) in mg/L of ``analyte``.

    Examples
    --------
    >>> parse_conc("150 ng/mL", "ketamine", what="--target")
    0.15
    >>> round(parse_conc("631 nmol/L", "s_ketamine", what="--target"), 4)
    0.15
    """
    try:
        return to_unit(text, "mg/L", what=what)
    except UnitError as exc:
        try:
            mmol_per_L = to_unit(text, "mmol/L", what=what)
        except UnitError:
            raise exc from None
    mw = get_molar_mass_g_per_mol(analyte)
    return mmol_per_L * mw  # mmol/L x g/mol = mg/L (mmol x g/mol = mg)


@dataclass(frozen=True)
class TargetStep:
    """From ``time_h`` on, the target concentration is ``conc_mg_per_L``.

    Parameters
    ----------
    time_h : float, h
    conc_mg_per_L : float, mg/L
    text : str
        The target as the user wrote it (for messages and outputs).
    """

    time_h: float
    conc_mg_per_L: float  # noqa: N815 - unit suffix per STYLE.md §3
    text: str = ""

    def __post_init__(self) -> None:
        name = self.text or f"{self.conc_mg_per_L:g} mg/L at {self.time_h:g} h"
        if not math.isfinite(self.time_h) or self.time_h < 0:
            raise ParameterError(f"target {name!r}: its start time must be >= 0 h")
        c = self.conc_mg_per_L
        if not math.isfinite(c) or c < 0:
            raise ParameterError(f"target {name!r}: a concentration must be >= 0 (got {c:g} mg/L)")
        if c > MAX_TARGET_MG_PER_L:
            raise ParameterError(
                f"target {name!r} is {c:g} mg/L, above the plausibility limit "
                f"{MAX_TARGET_MG_PER_L:.3g} mg/L (10x the highest anaesthetic concentration "
                "read in a source): check the unit (ng/mL vs ug/mL)"
            )


_STEP = re.compile(r"^\s*(?P<conc>.+?)(?:\s+(?:at|from)\s+(?P<time>.+?))?\s*$")


def parse_target_step(text: str, analyte: str) -> TargetStep:
    """``"150 ng/mL"`` (from 0 h) or ``"200 ng/mL at 30 min"`` -> :class:`TargetStep`.

    Raises
    ------
    ParameterError, UnitError
        Naming ``text`` when it cannot be read, has no unit, or is implausible.

    Examples
    --------
    >>> s = parse_target_step("200 ng/mL at 30 min", "ketamine")
    >>> s.time_h, s.conc_mg_per_L
    (0.5, 0.2)
    """
    m = _STEP.match(text or "")
    if not m or not m.group("conc"):
        raise ParameterError(f"--target {text!r}: write e.g. '150 ng/mL' or '200 ng/mL at 30 min'")
    try:
        conc = parse_conc(m.group("conc"), analyte, what=f"--target {text!r}")
        t = to_unit(m.group("time"), "h", what=f"--target {text!r} time") if m["time"] else 0.0
    except UnitError as exc:
        raise UnitError(
            f"--target {text!r}: {exc}; write e.g. '150 ng/mL' or '200 ng/mL at 30 min'"
        ) from None
    return TargetStep(t, conc, text.strip())


@dataclass(frozen=True)
class TargetSchedule:
    """Piecewise-constant target: each step holds from its time until the next step.

    Examples
    --------
    >>> s = TargetSchedule.from_texts(["150 ng/mL", "200 ng/mL at 30 min"], "ketamine")
    >>> s.get_conc_mg_per_L([0.0, 0.49, 0.5, 2.0]).tolist()
    [0.15, 0.15, 0.2, 0.2]
    """

    steps: tuple[TargetStep, ...]

    def __post_init__(self) -> None:
        if not self.steps:
            raise ParameterError("give at least one target (e.g. '150 ng/mL')")
        steps = tuple(sorted(self.steps, key=lambda s: s.time_h))
        if steps[0].time_h != 0.0:
            raise ParameterError(
                f"the first target {steps[0].text!r} starts at {steps[0].time_h:g} h: "
                "give a target from 0 h (e.g. '150 ng/mL')"
            )
        times = [s.time_h for s in steps]
        if len(set(times)) != len(times):
            dup = next(s for s in steps if times.count(s.time_h) > 1)
            raise ParameterError(f"two targets start at {dup.time_h:g} h: keep one")
        object.__setattr__(self, "steps", steps)

    @classmethod
    def from_texts(cls, texts: list[str] | tuple[str, ...], analyte: str) -> TargetSchedule:
        """Schedule from target texts (see :func:`parse_target_step`)."""
        return cls(tuple(parse_target_step(t, analyte) for t in texts))

    @classmethod
    def constant(cls, conc_mg_per_L: float) -> TargetSchedule:
        """One target from 0 h, mg/L."""
        return cls((TargetStep(0.0, float(conc_mg_per_L)),))

    def get_conc_mg_per_L(self, times_h: npt.ArrayLike) -> npt.NDArray[np.float64]:  # noqa: N802
        """Target in force at each time (mg/L)."""
        t = np.asarray(times_h, dtype=float)
        starts = np.array([s.time_h for s in self.steps])
        values = np.array([s.conc_mg_per_L for s in self.steps])
        idx = np.searchsorted(starts, t, side="right") - 1
        return np.asarray(values[np.clip(idx, 0, None)], dtype=np.float64)
