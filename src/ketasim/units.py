"""Units: parsing, conversion to ketasim's canonical units, and analyte molar masses.

This module owns every unit conversion in ketasim. Canonical internal units are
h (time), mg (amount), L (volume), L/h (clearance), 1/h (rate constant), mg/h (infusion rate)
and mg/L (concentration). Nothing else in the package multiplies by a conversion factor.

It does *not* know about models or doses; it only turns quantities into canonical floats and back.

Molar masses are computed from each analyte's molecular formula with the IUPAC standard atomic
weights (conventional values), so ng/mL <-> nmol/L conversions trace to a primary source.

References
----------
.. [1] Prohaska T, et al. Standard atomic weights of the elements 2021 (IUPAC Technical Report).
   Pure Appl Chem 2022;94:573-600. doi:10.1515/pac-2019-0603 (Table of conventional values).
.. [2] PubChem compound records: ketamine CID 3821 (C13H16ClNO); norketamine CID 123767
   (C12H14ClNO); 6-hydroxynorketamine CID 10997475 (C12H14ClNO2); dehydronorketamine
   CID 11390431 (C12H12ClNO).
"""

from __future__ import annotations

import functools
import math
import re
import sys
import threading
from typing import Any

from ketasim.errors import UnitError

__all__ = [
    "CANONICAL",
    "Q_",
    "compute_molar_mass",
    "convert_magnitude",
    "dimensionality_of",
    "get_molar_mass_g_per_mol",
    "get_registry",
    "parse_quantity",
    "to_canonical",
    "to_unit",
    "ureg",
]

_REGISTRY: list[Any] = []
_LOCK = threading.Lock()


def _import_pint() -> Any:
    """Import pint without letting it import dask.

    NOTE: pint's compat module runs ``find_spec("dask")`` and then imports ``dask.base`` (0.1 s)
    to support dask arrays inside Quantities, which ketasim never uses. A ``None`` entry in
    ``sys.modules`` makes ``find_spec`` answer "not installed" for the duration of the import;
    the entry is removed afterwards, so ``import dask`` elsewhere works as usual.
    """
    if "pint" in sys.modules:
        return sys.modules["pint"]
    blocked = "dask" not in sys.modules
    if blocked:
        sys.modules["dask"] = None  # type: ignore[assignment]
    try:
        import pint
    finally:
        if blocked and sys.modules.get("dask", 0) is None:
            del sys.modules["dask"]
    return pint


def get_registry() -> Any:
    """The pint unit registry, built on first use (importing ketasim does not build it)."""
    if not _REGISTRY:
        with _LOCK:
            if not _REGISTRY:
                pint = _import_pint()
                reg = pint.UnitRegistry(autoconvert_offset_to_baseunit=True)
                reg.define("yr = 365.25 * day = y = years_ = year_")
                _REGISTRY.append(reg)
    return _REGISTRY[0]


class _LazyRegistry:
    """Stands for the registry until first use; attribute access builds it."""

    def __getattr__(self, name: str) -> Any:
        return getattr(get_registry(), name)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return get_registry()(*args, **kwargs)


class _LazyQuantity:
    """Stands for ``ureg.Quantity``: calling it builds a Quantity, ``isinstance`` works."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return get_registry().Quantity(*args, **kwargs)

    def __instancecheck__(self, obj: Any) -> bool:
        return isinstance(obj, get_registry().Quantity)

    def __getattr__(self, name: str) -> Any:
        return getattr(get_registry().Quantity, name)


ureg: Any = _LazyRegistry()
Q_: Any = _LazyQuantity()


def _dimensionality_error() -> Any:
    return _import_pint().DimensionalityError


#: canonical unit of each physical kind used in ketasim
CANONICAL: dict[str, str] = {
    "time": "h",
    "amount": "mg",
    "volume": "L",
    "clearance": "L/h",
    "rate_constant": "1/h",
    "infusion_rate": "mg/h",
    "conc": "mg/L",
    "molar_conc": "nmol/L",
    "mass": "kg",
    "age": "yr",
    "dose_per_mass": "mg/kg",
    "rate_per_mass": "mg/kg/h",
    "dimensionless": "",
}

# Conventional standard atomic weights, g/mol [1].
_ATOMIC_WEIGHT_G_PER_MOL: dict[str, float] = {
    "C": 12.011,
    "H": 1.008,
    "Cl": 35.45,
    "N": 14.007,
    "O": 15.999,
}

# Molecular formulas of the free bases [2]; enantiomers share the formula of the racemate.
_FORMULA: dict[str, str] = {
    "ketamine": "C13H16ClNO",
    "norketamine": "C12H14ClNO",
    "hnk": "C12H14ClNO2",
    "dhnk": "C12H12ClNO",
}


def compute_molar_mass(formula: str) -> float:
    """Molar mass of a molecular formula, g/mol, from IUPAC conventional atomic weights.

    Parameters
    ----------
    formula : str
        Hill-style formula such as ``"C13H16ClNO"``.

    Returns
    -------
    float, g/mol

    Examples
    --------
    >>> round(compute_molar_mass("C13H16ClNO"), 2)
    237.73
    """
    tokens = re.findall(r"([A-Z][a-z]?)(\d*)", formula)
    if not tokens or "".join(a + n for a, n in tokens) != formula:
        raise UnitError(f"cannot parse molecular formula {formula!r}")
    total = 0.0
    for element, count in tokens:
        if element not in _ATOMIC_WEIGHT_G_PER_MOL:
            raise UnitError(f"no atomic weight for element {element!r} in {formula!r}")
        total += _ATOMIC_WEIGHT_G_PER_MOL[element] * (int(count) if count else 1)
    return total


def get_molar_mass_g_per_mol(analyte: str) -> float:
    """Molar mass of an analyte id, g/mol (``s_``/``r_`` enantiomer prefixes allowed).

    Examples
    --------
    >>> round(get_molar_mass_g_per_mol("s_norketamine"), 2)
    223.7
    """
    base = analyte[2:] if analyte[:2] in ("s_", "r_") else analyte
    if base not in _FORMULA:
        known = ", ".join(sorted(_FORMULA))
        raise UnitError(f"unknown analyte {analyte!r}: known analytes are {known}")
    return compute_molar_mass(_FORMULA[base])


#: look-alike characters read as their plain form: full-width digits and signs (East Asian input),
#: minus and dash signs, no-break and thin spaces
_LOOKALIKES = str.maketrans(
    {
        **{0xFF10 + i: str(i) for i in range(10)},
        0xFF0E: ".",
        0xFF0B: "+",
        0xFF0D: "-",
        0x2212: "-",
        0x2010: "-",
        0x2011: "-",
        0x2013: "-",
        0x00A0: " ",
        0x2009: " ",
        0x202F: " ",
        0x3000: " ",
    }
)
#: characters a quantity may hold besides ASCII (micro signs, the middle dot, superscripts)
_EXTRA_CHARS = frozenset("µμ·²³")
#: unit spellings in the wrong case that pint would misread or not know, and what was meant
#: (NOTE: "MG" is a megagauss and "ML" a megalitre to pint; never what a dose means)
_CASE_FIXES: dict[str, str] = {
    "MG": "mg", "Mg": "mg", "KG": "kg", "Kg": "kg", "ML": "mL", "NG": "ng", "UG": "ug",
    "MCG": "mcg", "G": "g", "MIN": "min", "Min": "min", "H": "h", "HR": "h", "HRS": "h",
    "S": "s", "SEC": "s", "D": "d", "DAY": "d", "DAYS": "d", "YR": "yr", "YRS": "yr",
    "NMOL": "nmol", "UMOL": "umol", "MMOL": "mmol", "MOL": "mol", "KGS": "kg",
}  # fmt: skip


@functools.lru_cache(maxsize=4096)
def _check_text(text: str, what: str) -> str:
    """The text of a quantity in plain form, or a UnitError naming what is wrong with it.

    NOTE: pint reads ``"0,5 mg"`` as 0 mg and ``"2,5 mg"`` as 25 mg (it drops the comma), a
    unicode minus ``"−5 mg"`` as 5 mg and a lone ``"mg"`` as 1 mg; each is refused here.
    """
    plain = text.translate(_LOOKALIKES).strip()
    odd = [ch for ch in plain if not (ch.isascii() and ch.isprintable()) and ch not in _EXTRA_CHARS]
    if odd:
        raise UnitError(f"{what} {text!r}: character {odd[0]!r} is not part of a quantity")
    if "," in plain:
        raise UnitError(
            f"{what} {text!r}: a comma is neither a decimal point nor allowed as a thousands "
            "separator here: write e.g. '0.5 mg' or '1000 mg'"
        )
    if not re.search(r"\d|\binf|\bnan", plain, re.IGNORECASE):
        raise UnitError(f"{what} {text!r} has no number: write e.g. '10 {plain}'")
    fixed = re.sub(r"[A-Za-z]+", lambda m: _CASE_FIXES.get(m.group(), m.group()), plain)
    if fixed != plain:
        raise UnitError(f"{what} {text!r}: units are case-sensitive: write {fixed!r}")
    return plain


@functools.lru_cache(maxsize=4096)
def _parse_text(text: str) -> Any:
    try:
        q: Any = ureg.Quantity(text.replace("µ", "u").replace("μ", "u"))
    except Exception as exc:  # pint raises several unrelated types
        raise UnitError(f"cannot read quantity {text!r}: {exc}") from None
    return q


def parse_quantity(
    value: Any, *, what: str = "value", allow_bare: bool = False, expected: str | None = None
) -> Any:
    """Turn ``"0.5 mg/kg"`` or a pint Quantity into a pint Quantity; a bare number is an error.

    Parameters
    ----------
    value : str or pint.Quantity
        Text with a number and a unit, or a Quantity.
    what : str
        Name of the input, used in error messages.

    Raises
    ------
    UnitError
        If ``value`` has no unit or cannot be read.
    """
    if isinstance(value, ureg.Quantity):
        q = value
    elif hasattr(value, "magnitude") and hasattr(value, "units") and not isinstance(value, str):
        # NOTE: a Quantity of another pint registry (or a look-alike): re-read it in ours
        try:
            q = Q_(float(value.magnitude), str(value.units))
        except Exception as exc:
            raise UnitError(f"{what} {value!r}: cannot read its unit ({exc})") from None
    elif isinstance(value, str):
        if not value.strip():
            raise UnitError(f"{what}: empty text, expected a number with a unit such as '10 mg'")
        q = _parse_text(_check_text(value.strip(), what))
        if not isinstance(q, ureg.Quantity):
            q = Q_(float(q), "dimensionless")
        if (
            not allow_bare
            and str(q.units) == "dimensionless"
            and not any(ch.isalpha() or ch == "%" for ch in value.replace("e", "").replace("E", ""))
        ):
            example = expected or "mg"
            raise UnitError(f"{what} {value!r} has no unit: write e.g. '{value} {example}'")
    else:
        example = expected or "mg"
        raise UnitError(
            f"{what} {value!r} has no unit: pass text such as '10 {example}' or a pint Quantity"
        )
    try:
        finite = math.isfinite(float(q.magnitude))
    except (TypeError, ValueError):
        finite = False
    if not finite:
        raise UnitError(f"{what} {value!r} is not a finite number")
    return q


def to_unit(
    value: Any, unit: str, *, what: str = "value", allow_dimensionless: bool = False
) -> float:
    """Convert a quantity (text or Quantity) to a float in ``unit``.

    Parameters
    ----------
    value : str or pint.Quantity
        The quantity to convert.
    unit : str
        Target unit, e.g. ``"mg"`` or ``"L/h"``; ``""`` for dimensionless.
    what : str
        Name of the input for messages.
    allow_dimensionless : bool
        Accept a bare number when ``unit`` is dimensionless.

    Returns
    -------
    float, in ``unit``

    Raises
    ------
    UnitError
        If the value has no unit or a unit of another dimension.

    Examples
    --------
    >>> to_unit("40 min", "h")
    0.6666666666666666
    """
    if allow_dimensionless and unit == "" and isinstance(value, (int, float)):
        return float(value)
    q = parse_quantity(value, what=what, allow_bare=(unit == ""), expected=unit or None)
    if unit and str(q.units) == "dimensionless":
        raise UnitError(
            f"{what} {value!r} has no unit: expected a quantity in {unit}, e.g. '1 {unit}'"
        )
    try:
        return float(q.to(unit).magnitude)
    except _dimensionality_error():
        target = unit or "dimensionless"
        raise UnitError(
            f"{what} {q:~P} has the wrong unit: expected something convertible to {target}"
        ) from None


def to_canonical(value: Any, kind: str, *, what: str = "value") -> float:
    """Convert a quantity to the canonical unit of ``kind`` (see :data:`CANONICAL`).

    Examples
    --------
    >>> to_canonical("1.5 L/min", "clearance")
    90.0
    """
    if kind not in CANONICAL:
        raise UnitError(f"unknown quantity kind {kind!r}; known: {', '.join(sorted(CANONICAL))}")
    return to_unit(value, CANONICAL[kind], what=what)


def convert_magnitude(
    magnitude: float, from_unit: str, to_unit_: str, *, what: str = "value"
) -> float:
    """Convert a bare magnitude between two units (both given as text)."""
    try:
        return float(Q_(magnitude, from_unit).to(to_unit_).magnitude)
    except _dimensionality_error():
        raise UnitError(f"{what}: cannot convert {from_unit!r} to {to_unit_!r}") from None
    except Exception as exc:
        raise UnitError(f"{what}: bad unit {from_unit!r} or {to_unit_!r}: {exc}") from None


def dimensionality_of(unit: str) -> Any:
    """Pint dimensionality of a unit text (raises UnitError for an unknown unit)."""
    try:
        return ureg.Unit(unit).dimensionality if unit else ureg.dimensionless.dimensionality
    except Exception as exc:
        raise UnitError(f"unknown unit {unit!r}: {exc}") from None


# --- salts, concentration units and column names (used by events, results and front ends) -------
#: salt forms and their counter-ion formulas (the base is the analyte's own formula)
_SALT_COUNTER_ION: dict[str, str] = {"hydrochloride": "HCl"}


def convert_salt_to_base_mg(amount_mg: float, salt: str, *, what: str = "dose") -> float:
    """Amount of ketamine base (mg) in ``amount_mg`` of its salt, by the molar-mass ratio.

    Parameters
    ----------
    amount_mg : float, mg of the salt
    salt : {"hydrochloride"}

    Examples
    --------
    >>> round(convert_salt_to_base_mg(100.0, "hydrochloride"), 2)  # 237.73 / 274.19
    86.7
    """
    key = str(salt).strip().lower()
    if key not in _SALT_COUNTER_ION:
        raise UnitError(
            f"{what}: unknown salt {salt!r}; known: {', '.join(sorted(_SALT_COUNTER_ION))}"
        )
    base = compute_molar_mass(_FORMULA["ketamine"])
    ion = compute_molar_mass(_SALT_COUNTER_ION[key])
    return float(amount_mg) * base / (base + ion)


#: concentration units every command accepts for display (mass and molar)
CONC_UNITS: tuple[str, ...] = ("ng/mL", "mg/L", "ug/mL", "ug/L", "nmol/L", "umol/L")


#: mg/L -> unit, exact decimal factors (pint's float arithmetic gives 999.9999999999999)
_EXACT_MASS_FACTORS: dict[str, float] = {
    "mg/L": 1.0,
    "ng/mL": 1000.0,
    "ug/L": 1000.0,
    "ug/mL": 1.0,
    "ng/L": 1e6,
    "g/L": 1e-3,
}


def get_conc_factor(analyte: str, unit: str, *, what: str = "unit") -> float:
    """Factor that turns a concentration in mg/L of ``analyte`` into ``unit`` (mass or molar).

    Raises
    ------
    UnitError
        For a unit that is neither a mass nor an amount-of-substance concentration.

    Examples
    --------
    >>> get_conc_factor("ketamine", "ng/mL")
    1000.0
    >>> round(get_conc_factor("ketamine", "nmol/L"), 3)  # 1e6 / 237.727 g/mol
    4206.506
    """
    exact = _EXACT_MASS_FACTORS.get(unit.replace(" ", ""))
    if exact is not None:
        return exact
    dim = dimensionality_of(unit)
    if dim == dimensionality_of("mg/L"):
        return convert_magnitude(1.0, "mg/L", unit, what=what)
    if dim == dimensionality_of("mol/L"):
        mw = get_molar_mass_g_per_mol(analyte)
        return convert_magnitude(1.0 / mw, "mmol/L", unit, what=what)
    raise UnitError(f"{what} {unit!r} is not a concentration: use one of {', '.join(CONC_UNITS)}")


def format_unit_suffix(unit: str) -> str:
    """Column-name suffix for a unit: ``"ng/mL" -> "ng_mL"``, ``"ng/mL*h" -> "ng_mL_h"``.

    Examples
    --------
    >>> format_unit_suffix("nmol/L")
    'nmol_L'
    """
    out = unit.replace("µ", "u").replace("μ", "u")
    for ch in "/* ·^":
        out = out.replace(ch, "_")
    while "__" in out:
        out = out.replace("__", "_")
    return out.strip("_")
