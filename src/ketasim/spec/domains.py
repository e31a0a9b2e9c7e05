"""Domains of covariates and parameters: which values are possible at all (positive, binary,
integer, count, fraction ...), checked at the edge with messages that name the user's input."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = ["DOMAINS", "describe_domain", "find_outside_domain"]

FloatArray = npt.NDArray[np.float64]

DOMAINS = ("real", "positive", "nonnegative", "fraction", "binary", "integer", "count")


def find_outside_domain(
    values: npt.ArrayLike, domain: str, lo: float | None = None, hi: float | None = None
) -> npt.NDArray[np.bool_]:
    """Boolean mask of values outside a domain (:data:`DOMAINS`) and the hard limits lo/hi.

    Non-finite values are always outside. ``count`` is a whole number >= 1, ``binary`` 0 or 1,
    ``fraction`` within [0, 1].

    Examples
    --------
    >>> find_outside_domain([1, 2.5, 0, -3], "count").tolist()
    [False, True, True, True]
    """
    v = np.asarray(values, dtype=float)
    bad = ~np.isfinite(v)
    with np.errstate(invalid="ignore"):
        if domain == "positive":
            bad |= v <= 0
        elif domain == "nonnegative":
            bad |= v < 0
        elif domain == "fraction":
            bad |= (v < 0) | (v > 1)
        elif domain == "binary":
            bad |= (v != 0) & (v != 1)
        elif domain == "integer":
            bad |= v != np.round(v)
        elif domain == "count":
            bad |= (v != np.round(v)) | (v < 1)
        if lo is not None:
            bad |= v < lo
        if hi is not None:
            bad |= v > hi
    return np.asarray(bad, dtype=bool)


def describe_domain(domain: str, lo: float | None = None, hi: float | None = None) -> str:
    """Plain-words statement of a domain, e.g. ``"a whole number >= 1"``.

    Examples
    --------
    >>> describe_domain("nonnegative", hi=120)
    'a number >= 0 and <= 120'
    """
    text = {
        "real": "a finite number",
        "positive": "a number > 0",
        "nonnegative": "a number >= 0",
        "fraction": "a fraction between 0 and 1",
        "binary": "0 or 1",
        "integer": "a whole number",
        "count": "a whole number >= 1",
    }[domain]
    if lo is not None:
        text += f" and >= {lo:g}"
    if hi is not None:
        text += f" and <= {hi:g}"
    return text
