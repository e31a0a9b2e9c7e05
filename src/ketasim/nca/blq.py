"""Below-the-limit-of-quantification (BLQ) handling by PKNCA's rules, configurable.

Owns how concentrations below the LLOQ (or exactly zero) are treated before any NCA
parameter is computed: each BLQ point is classed by its position - before the first
measurable concentration ("first"), between the first and the last ("middle"), or after the
last ("last") - and each class is kept as zero, dropped, or replaced by a given value. It does
not decide what the LLOQ is (the caller gives it) and does not read data.

PKNCA's defaults are first = keep (as 0), middle = drop, last = keep (as 0). With no
measurable concentration at all, every point is in the "first" class.

References
----------
PKNCA ``clean.conc.blq`` and ``PKNCA.options("conc.blq")`` (Denney W et al., PKNCA,
github.com/humanpred/pknca, version 0.12.1.9000).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from ketasim.errors import KetasimError, ParameterError

__all__ = ["BLQRule", "apply_blq_rule"]

FloatArray = npt.NDArray[np.float64]
BlqAction = str | float


def _check_action(name: str, action: BlqAction) -> BlqAction:
    if isinstance(action, str):
        if action not in ("keep", "drop"):
            raise ParameterError(
                f"BLQ rule {name}={action!r}: use 'keep', 'drop' or a concentration value"
            )
        return action
    value = float(action)
    if not np.isfinite(value) or value < 0:
        raise ParameterError(f"BLQ rule {name}={action!r}: a replacement must be finite and >= 0")
    return value


@dataclass(frozen=True)
class BLQRule:
    """What to do with BLQ points before, between and after the measurable ones.

    Each field is ``"keep"`` (kept as 0), ``"drop"`` (removed), or a number (the
    concentration, in the input's unit, the point is set to).

    Examples
    --------
    >>> BLQRule()
    BLQRule(first='keep', middle='drop', last='keep')
    >>> BLQRule.parse("first=keep,middle=keep,last=drop").last
    'drop'
    """

    first: BlqAction = "keep"
    middle: BlqAction = "drop"
    last: BlqAction = "keep"

    def __post_init__(self) -> None:
        for name in ("first", "middle", "last"):
            object.__setattr__(self, name, _check_action(name, getattr(self, name)))

    @staticmethod
    def parse(text: str, parse_value: object = None) -> BLQRule:
        """Read ``"first=keep,middle=drop,last=keep"`` (or ``"keep"`` / ``"drop"`` for all).

        A value other than keep/drop is passed to ``parse_value`` (a callable turning text
        into a concentration in the input's unit); without one it is refused.
        """
        text = text.strip()
        if text in ("keep", "drop"):
            return BLQRule(text, text, text)
        out: dict[str, BlqAction] = {}
        for part in text.split(","):
            if "=" not in part:
                raise ParameterError(
                    f"BLQ rule {text!r}: write first=...,middle=...,last=... with keep or drop"
                )
            k, v = (s.strip() for s in part.split("=", 1))
            if k not in ("first", "middle", "last"):
                raise ParameterError(f"BLQ rule {text!r}: unknown position {k!r}")
            if v in ("keep", "drop"):
                out[k] = v
            elif callable(parse_value):
                try:
                    out[k] = float(parse_value(v))
                except KetasimError as exc:
                    raise ParameterError(
                        f"BLQ rule {k}={v!r}: use keep, drop or a concentration with a unit ({exc})"
                    ) from None
            else:
                raise ParameterError(f"BLQ rule {k}={v!r}: use keep or drop")
        return BLQRule(**out)  # type: ignore[arg-type]


def apply_blq_rule(
    time: FloatArray,
    conc: FloatArray,
    rule: BLQRule,
    lloq: float = 0.0,
) -> tuple[FloatArray, FloatArray, list[tuple[float, str]]]:
    """Apply ``rule`` to one profile.

    A point is BLQ when its concentration is below ``lloq`` or is zero. BLQ points that are
    kept are set to 0 (or to the rule's replacement value).

    Parameters
    ----------
    time : (T,) array, sorted, any time unit
    conc : (T,) array, >= 0, any concentration unit
    rule : BLQRule
    lloq : float, unit of ``conc``
        Lower limit of quantification (0: only exact zeros are BLQ).

    Returns
    -------
    time, conc : arrays
        The profile after the rule.
    dropped : list of (time, reason)
        Every point removed, with why.

    Examples
    --------
    >>> t, c, d = apply_blq_rule(np.arange(5.0), np.array([0, 2, 0, 1, 0.0]), BLQRule())
    >>> c.tolist(), d
    ([0.0, 2.0, 1.0, 0.0], [(2.0, 'BLQ between measurable concentrations (middle=drop)')])
    """
    t = np.asarray(time, dtype=float)
    c = np.asarray(conc, dtype=float).copy()
    blq = (c < lloq) | (c == 0)
    measurable = np.flatnonzero(~blq)
    position = np.full(t.size, "first", dtype=object)
    if measurable.size:
        i0, i1 = measurable[0], measurable[-1]
        position[i0 : i1 + 1] = "middle"
        position[i1 + 1 :] = "last"
    keep = np.ones(t.size, dtype=bool)
    dropped: list[tuple[float, str]] = []
    where = {
        "first": "before the first measurable concentration",
        "middle": "between measurable concentrations",
        "last": "after the last measurable concentration",
    }
    for i in np.flatnonzero(blq):
        action = getattr(rule, position[i])
        if action == "drop":
            keep[i] = False
            dropped.append((float(t[i]), f"BLQ {where[position[i]]} ({position[i]}=drop)"))
        elif action == "keep":
            c[i] = 0.0
        else:
            c[i] = float(action)
    return t[keep], c[keep], dropped
