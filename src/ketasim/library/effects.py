"""Load and validate the pharmacodynamic data file ``library/effects.toml``.

This module owns the *data* side of pharmacodynamics: published concentration-effect models,
concentration zones, effect observations and reproduction targets, each carrying its source,
sampling site and drug form. Concentrations are converted once, here, to the canonical mg/L
(molar units through :func:`ketasim.units.get_molar_mass_g_per_mol`) and half-times to h; the
printed value and unit are kept next to the canonical one so a reader can check the conversion.

It does *not* compute effects (that is :mod:`ketasim.pd`) and it invents nothing: a parameter
listed under ``unverified`` in the file is absent here, and a parameter that is both listed as
unverified and given a value is refused as a contradiction.

A broken entry is refused with a :class:`~ketasim.errors.ModelError` that names the entry and
the field, for example ``effects.toml [[model]] 'x': field 'sampling' = 'arterail' must be one
of arterial, venous, unknown``.
"""

from __future__ import annotations

import functools
import math
import tomllib
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any, TypeVar

from ketasim.errors import ModelError, UnitError
from ketasim.units import convert_magnitude, dimensionality_of, get_molar_mass_g_per_mol

__all__ = [
    "C50_KEYS",
    "DRUG_FORMS",
    "EFFECT_FORMS",
    "EMAX_KEYS",
    "GAMMA_KEYS",
    "SAMPLING_SITES",
    "ZONE_KINDS",
    "EffectModel",
    "EffectParameter",
    "EffectSource",
    "EffectsLibrary",
    "Observation",
    "ValidationTarget",
    "Zone",
    "load_effects",
]

from ketasim.library.effect_types import (
    C50_KEYS,
    DRUG_FORMS,
    EFFECT_FORMS,
    EMAX_KEYS,
    GAMMA_KEYS,
    MATRICES,
    SAMPLING_SITES,
    SCHEMA,
    SLOPE_PREFIX,
    STATUSES,
    TESTABLE,
    ZONE_KINDS,
    EffectModel,
    EffectParameter,
    EffectsLibrary,
    EffectSource,
    Observation,
    ValidationTarget,
    Zone,
)

_T = TypeVar("_T")


# --- loading ------------------------------------------------------------------------------------
def load_effects(path: str | Path | None = None) -> EffectsLibrary:
    """Load and validate ``effects.toml`` (the shipped file when ``path`` is None).

    Parameters
    ----------
    path : str or Path, optional
        Another file in the same format (e.g. a corrected copy).

    Returns
    -------
    EffectsLibrary

    Raises
    ------
    ModelError
        For unreadable TOML or a broken entry, naming the entry and the field.

    Examples
    --------
    >>> lib = load_effects()
    >>> m = lib.get_model("olofsen_2022_antinociception_external_perception")
    >>> round(m.parameters["C50"].value_canonical, 4)  # 0.51 nmol/mL -> mg/L
    0.1212
    >>> round(m.t_half_ke0_h * 60, 6)  # 8.3 min
    8.3
    """
    if path is None:
        return _load_default()
    return _load_path(Path(path))


@functools.lru_cache(maxsize=1)
def _load_default() -> EffectsLibrary:
    return _load_path(Path(str(resources.files("ketasim.library"))) / "effects.toml")


def _load_path(p: Path) -> EffectsLibrary:
    try:
        with open(p, "rb") as fh:
            doc = tomllib.load(fh)
    except OSError as exc:
        raise ModelError(f"cannot read effects file {str(p)!r}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ModelError(f"{p.name}: not valid TOML: {exc}") from None
    try:
        return _build(doc)
    except (ModelError, UnitError) as exc:
        raise ModelError(f"{p.name} {exc}") from None


def _build(doc: Mapping[str, Any]) -> EffectsLibrary:
    schema = _req(doc, "schema", "(top level)")
    if schema != SCHEMA:
        raise ModelError(f"(top level): field 'schema' = {schema!r} must be {SCHEMA!r}")
    raw_sources = _req(doc, "sources", "(top level)", dict)
    sources = {k: _source(k, v) for k, v in raw_sources.items()}
    models: dict[str, EffectModel] = {}
    for i, m in enumerate(doc.get("model", []), 1):
        em = _model(m, i, sources)
        _unique(models, em.id, "model")
        models[em.id] = em
    zones: dict[str, Zone] = {}
    for i, z in enumerate(doc.get("zone", []), 1):
        for zz in _zones(z, i, sources):
            _unique(zones, zz.id, "zone")
            zones[zz.id] = zz
    observations: dict[str, Observation] = {}
    for i, o in enumerate(doc.get("observation", []), 1):
        ob = _observation(o, i, sources)
        _unique(observations, ob.id, "observation")
        observations[ob.id] = ob
    targets = set(models) | set(zones) | set(observations)
    validations: dict[str, ValidationTarget] = {}
    for i, v in enumerate(doc.get("validation", []), 1):
        vt = _validation(v, i, sources, targets)
        _unique(validations, vt.id, "validation")
        validations[vt.id] = vt
    return EffectsLibrary(
        schema=schema,
        sources=MappingProxyType(sources),
        models=MappingProxyType(models),
        zones=MappingProxyType(zones),
        observations=MappingProxyType(observations),
        validations=MappingProxyType(validations),
    )


def _unique(d: Mapping[str, Any], key: str, kind: str) -> None:
    if key in d:
        raise ModelError(f"[[{kind}]] {key!r}: duplicate id")


def _req(d: Mapping[str, Any], key: str, where: str, typ: type | tuple[type, ...] = str) -> Any:
    if key not in d:
        raise ModelError(f"{where}: required field {key!r} is missing")
    v = d[key]
    if isinstance(v, bool) or not isinstance(v, typ) or (isinstance(v, str) and not v.strip()):
        name = getattr(typ, "__name__", str(typ))
        raise ModelError(f"{where}: field {key!r} = {v!r} must be a non-empty {name}")
    return v


def _choice(d: Mapping[str, Any], key: str, where: str, allowed: tuple[str, ...]) -> str:
    v = _req(d, key, where)
    if v not in allowed:
        raise ModelError(f"{where}: field {key!r} = {v!r} must be one of {', '.join(allowed)}")
    return str(v)


def _number(v: Any, where: str, key: str) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        raise ModelError(f"{where}: field {key!r} = {v!r} must be a finite number")
    return float(v)


def _entry_name(kind: str, d: Mapping[str, Any], i: int) -> str:
    ident = d.get("id")
    return f"[[{kind}]] {ident!r}" if isinstance(ident, str) and ident else f"[[{kind}]] #{i}"


def _source_ref(
    d: Mapping[str, Any], where: str, sources: Mapping[str, EffectSource]
) -> EffectSource:
    key = _req(d, "source", where)
    if key not in sources:
        raise ModelError(f"{where}: field 'source' = {key!r} is not in [sources]")
    return sources[key]


def _source(key: str, d: Any) -> EffectSource:
    where = f"[sources.{key}]"
    if not isinstance(d, dict):
        raise ModelError(f"{where}: must be a table")
    year = _req(d, "year", where, int)
    return EffectSource(
        id=key,
        authors=_req(d, "authors", where),
        year=int(year),
        title=_req(d, "title", where),
        journal=_req(d, "journal", where),
        volume=str(d.get("volume", "")),
        issue=str(d.get("issue", "")),
        pages=str(d.get("pages", "")),
        doi=str(d.get("doi", "")),
        pmid=str(d.get("pmid", "")),
        read=_req(d, "read", where),
        where_read=_req(d, "where_read", where),
    )


def _is_conc_unit(unit: str) -> bool:
    try:
        dim = dimensionality_of(unit.replace("µ", "u").replace("μ", "u"))
    except UnitError:
        return False
    return bool(dim == dimensionality_of("mg/L") or dim == dimensionality_of("mol/L"))


def _conc_to_canonical(value: float, unit: str, analyte: str, where: str) -> float:
    """Mass or molar concentration -> mg/L (molar via the analyte's molar mass, g/mol)."""
    u = unit.replace("µ", "u").replace("μ", "u")
    if dimensionality_of(u) == dimensionality_of("mg/L"):
        return convert_magnitude(value, u, "mg/L", what=where)
    if dimensionality_of(u) == dimensionality_of("mol/L"):
        try:
            mw = get_molar_mass_g_per_mol(analyte)
        except UnitError as exc:
            raise ModelError(f"{where}: molar unit {unit!r} needs a known analyte: {exc}") from None
        # mmol/L x g/mol = mg/L
        return convert_magnitude(value, u, "mmol/L", what=where) * mw
    raise ModelError(f"{where}: unit {unit!r} is not a concentration")


def _analyte_id(d: Mapping[str, Any], where: str) -> str:
    a = str(_req(d, "analyte", where))
    try:
        get_molar_mass_g_per_mol(a)
    except UnitError:
        raise ModelError(
            f"{where}: field 'analyte' = {a!r} is not an analyte id (ketamine, s_ketamine, "
            "norketamine, s_norketamine, ...)"
        ) from None
    return a


def _parameter(name: str, d: Any, where: str, analyte: str | None) -> EffectParameter:
    w = f"{where} parameter {name}"
    if not isinstance(d, dict):
        raise ModelError(f"{w}: must be a table with value, unit, status and where")
    raw = _req(d, "value", w, (int, float, list))
    if "unit" not in d or not isinstance(d["unit"], str):
        raise ModelError(f"{w}: required field 'unit' is missing (use \"\" for dimensionless)")
    unit = d["unit"].strip()
    status = _choice(d, "status", w, STATUSES)
    if status == "derived":
        _req(d, "derivation", w)
    value: float | tuple[float, float]
    if isinstance(raw, list):
        if len(raw) != 2:
            raise ModelError(f"{w}: field 'value' = {raw!r} must be a number or [low, high]")
        lo, hi = (_number(x, w, "value") for x in raw)
        if lo > hi:
            raise ModelError(f"{w}: field 'value' = {raw!r} has low > high")
        value = (lo, hi)
    else:
        value = _number(raw, w, "value")
    canon: float | tuple[float, float] = value
    canon_unit = unit
    if name.startswith(SLOPE_PREFIX):
        if " per " not in unit:
            raise ModelError(
                f"{w}: field 'unit' = {unit!r} must read '<effect unit> per <conc unit>'"
            )
        eff_unit, conc_unit = (s.strip() for s in unit.split(" per ", 1))
        if isinstance(value, tuple):
            raise ModelError(f"{w}: field 'value' must be one number")
        slope_analyte = name.removeprefix(SLOPE_PREFIX).lower()
        # slope per printed conc unit / (mg/L in one printed conc unit) = slope per mg/L
        per = _conc_to_canonical(1.0, conc_unit, slope_analyte, f"{w} unit")
        canon, canon_unit = value / per, f"{eff_unit} per mg/L"
    elif unit and _is_conc_unit(unit):
        if analyte is None:
            raise ModelError(f"{w}: a concentration parameter needs the model's analyte id")
        if isinstance(value, tuple):
            canon = (
                _conc_to_canonical(value[0], unit, analyte, w),
                _conc_to_canonical(value[1], unit, analyte, w),
            )
        else:
            canon = _conc_to_canonical(value, unit, analyte, w)
        canon_unit = "mg/L"
    return EffectParameter(
        name=name,
        value=value,
        unit=unit,
        status=status,
        where=_req(d, "where", w),
        value_canonical=canon,
        canonical_unit=canon_unit,
        derivation=str(d.get("derivation", "")),
    )


def _time_h(d: Any, where: str) -> tuple[float, str]:
    if not isinstance(d, dict):
        raise ModelError(f"{where}: must be a table {{ value, unit, where }}")
    v = _number(_req(d, "value", where, (int, float)), where, "value")
    unit = _req(d, "unit", where)
    if v < 0:
        raise ModelError(f"{where}: field 'value' = {v} {unit} must be >= 0")
    try:
        h = convert_magnitude(v, unit, "h", what=where)
    except UnitError:
        raise ModelError(f"{where}: field 'unit' = {unit!r} is not a time unit") from None
    return h, f"{v:g} {unit}"


def _model(d: Any, i: int, sources: Mapping[str, EffectSource]) -> EffectModel:
    where = _entry_name("model", d, i) if isinstance(d, dict) else f"[[model]] #{i}"
    if not isinstance(d, dict):
        raise ModelError(f"{where}: must be a table")
    mid = _req(d, "id", where)
    form = _choice(d, "form", where, EFFECT_FORMS)
    analyte_text = str(_req(d, "analyte", where))
    analyte: str | None = None
    if form != "linear_additive":
        analyte = _analyte_id(d, where)
    unverified = d.get("unverified", [])
    if not isinstance(unverified, list) or not all(isinstance(u, str) for u in unverified):
        raise ModelError(f"{where}: field 'unverified' must be a list of parameter names")
    raw_params = d.get("parameters", {})
    if not isinstance(raw_params, dict):
        raise ModelError(f"{where}: field 'parameters' must be a table of tables")
    params = {k: _parameter(k, v, where, analyte) for k, v in raw_params.items()}
    both = sorted(set(params) & set(unverified))
    if both:
        raise ModelError(
            f"{where}: field 'unverified' lists {', '.join(both)}, which also has a value in "
            "'parameters': remove one of the two"
        )
    if form == "sigmoid_emax" and not any(k in params for k in (*C50_KEYS, "C50_range")):
        raise ModelError(f"{where}: field 'parameters' needs C50, EC50 or C50_range for {form}")
    if form == "linear_additive" and not any(k.startswith(SLOPE_PREFIX) for k in params):
        raise ModelError(f"{where}: field 'parameters' needs SLOPE_<ANALYTE> terms for {form}")
    for k in params:
        if k.startswith(SLOPE_PREFIX):
            try:
                get_molar_mass_g_per_mol(k.removeprefix(SLOPE_PREFIX).lower())
            except UnitError:
                raise ModelError(f"{where}: parameter {k} does not name an analyte id") from None
    t_half: float | None = None
    t_half_printed = ""
    other: dict[str, str] = {}
    eq = d.get("equilibration", {})
    if not isinstance(eq, dict):
        raise ModelError(f"{where}: field 'equilibration' must be a table")
    for key, val in eq.items():
        h, printed = _time_h(val, f"{where} equilibration.{key}")
        if key == "t_half_ke0":
            t_half, t_half_printed = h, printed
        else:
            other[key] = printed
    metab = d.get("metabolite_effect", [])
    for j, me in enumerate(metab, 1):
        _req(me, "analyte", f"{where} metabolite_effect #{j}")
        _req(me, "direction", f"{where} metabolite_effect #{j}")
    return EffectModel(
        id=mid,
        name=_req(d, "name", where),
        source=_source_ref(d, where, sources),
        where=_req(d, "where", where),
        endpoint=_req(d, "endpoint", where),
        form=form,
        drug_form=_choice(d, "drug_form", where, DRUG_FORMS),
        analyte=analyte if analyte is not None else analyte_text,
        sampling=_choice(d, "sampling", where, SAMPLING_SITES),
        matrix=_choice(d, "matrix", where, MATRICES),
        parameters=MappingProxyType(params),
        unverified=tuple(unverified),
        t_half_ke0_h=t_half,
        t_half_ke0_printed=t_half_printed,
        other_delays=MappingProxyType(other),
        metabolite_effects=tuple(
            MappingProxyType({k: str(v) for k, v in me.items()}) for me in metab
        ),
        population=MappingProxyType(dict(d.get("population", {}))),
        validity=MappingProxyType(dict(d.get("validity", {}))),
        sampling_basis=str(d.get("sampling_basis", "")),
        notes=str(d.get("notes", "")),
    )


def _zones(d: Any, i: int, sources: Mapping[str, EffectSource]) -> list[Zone]:
    where = _entry_name("zone", d, i) if isinstance(d, dict) else f"[[zone]] #{i}"
    if not isinstance(d, dict):
        raise ModelError(f"{where}: must be a table")
    kind = _choice(d, "kind", where, ZONE_KINDS)
    unit = _req(d, "unit", where)
    analyte = _analyte_id(d, where)
    if not _is_conc_unit(unit):
        raise ModelError(f"{where}: field 'unit' = {unit!r} is not a concentration unit")

    def conv(v: float) -> float:
        return _conc_to_canonical(v, unit, analyte, where)

    sd: float | None = None
    high: float | None = None
    if kind == "range":
        rng = _req(d, "range", where, list)
        if len(rng) != 2:
            raise ModelError(f"{where}: field 'range' = {rng!r} must be [low, high]")
        lo_v, hi_v = (_number(x, where, "range") for x in rng)
        if not 0 <= lo_v < hi_v:
            raise ModelError(f"{where}: field 'range' = {rng!r} must have 0 <= low < high")
        low, high, printed = conv(lo_v), conv(hi_v), f"{lo_v:g}-{hi_v:g} {unit}"
    else:
        v = _number(_req(d, "value", where, (int, float)), where, "value")
        if v < 0:
            raise ModelError(f"{where}: field 'value' = {v} {unit} must be >= 0")
        low, printed = conv(v), f"{v:g} {unit}"
        if kind == "mean_sd":
            s = _number(_req(d, "sd", where, (int, float)), where, "sd")
            sd, printed = conv(s), f"{v:g} +/- {s:g} {unit} (mean +/- SD)"
        elif kind == "threshold_above":
            printed = f"> {printed}"
    common: dict[str, Any] = dict(
        drug_form=_choice(d, "drug_form", where, DRUG_FORMS),
        analyte=analyte,
        sampling=_choice(d, "sampling", where, SAMPLING_SITES),
        matrix=_choice(d, "matrix", where, MATRICES),
        population=_req(d, "population", where),
        source=_source_ref(d, where, sources),
        where=_req(d, "where", where),
        context=str(d.get("context", "")),
        notes=str(d.get("notes", "")),
    )
    zid = _req(d, "id", where)
    out = [
        Zone(
            id=zid,
            name=_req(d, "name", where),
            kind=kind,
            low_mg_per_L=low,
            high_mg_per_L=high,
            sd_mg_per_L=sd,
            printed=printed,
            **common,
        )
    ]
    extra = d.get("extra", {})
    if not isinstance(extra, dict):
        raise ModelError(f"{where}: field 'extra' must be a table")
    if extra:
        # NOTE: 'extra' holds further published thresholds of the same statement (e.g. Herd
        # 2008's adult anaesthesia EC50 next to the recovery concentration); each becomes a zone.
        e_unit = _req(extra, "unit", f"{where} extra")
        for key, val in extra.items():
            if key == "unit" or key.endswith("_sd"):
                continue
            w = f"{where} extra.{key}"
            ev = _number(val, w, key)
            esd = extra.get(f"{key}_sd")
            e_low = _conc_to_canonical(ev, e_unit, analyte, w)
            e_sd = (
                None
                if esd is None
                else _conc_to_canonical(_number(esd, w, f"{key}_sd"), e_unit, analyte, w)
            )
            printed_e = f"{ev:g} {e_unit}" if esd is None else f"{ev:g} +/- {esd:g} {e_unit}"
            out.append(
                Zone(
                    id=f"{zid}.{key}",
                    name=f"{key.replace('_', ' ')} ({out[0].name})",
                    kind="mean_sd" if esd is not None else "value",
                    low_mg_per_L=e_low,
                    high_mg_per_L=None,
                    sd_mg_per_L=e_sd,
                    printed=printed_e,
                    parent=zid,
                    **common,
                )
            )
    return out


def _observation(d: Any, i: int, sources: Mapping[str, EffectSource]) -> Observation:
    where = _entry_name("observation", d, i) if isinstance(d, dict) else f"[[observation]] #{i}"
    if not isinstance(d, dict):
        raise ModelError(f"{where}: must be a table")
    if "value" not in d:
        raise ModelError(f"{where}: required field 'value' is missing")
    return Observation(
        id=_req(d, "id", where),
        quantity=_req(d, "quantity", where),
        value=d["value"],
        unit=str(d.get("unit", "")),
        source=_source_ref(d, where, sources),
        where=_req(d, "where", where),
        drug_form=_choice(d, "drug_form", where, DRUG_FORMS),
        analyte=_req(d, "analyte", where),
        sampling=_choice(d, "sampling", where, SAMPLING_SITES),
        population=str(d.get("population", "")),
        over=str(d.get("over", "")),
        notes=str(d.get("notes", "")),
    )


def _validation(
    d: Any, i: int, sources: Mapping[str, EffectSource], targets: set[str]
) -> ValidationTarget:
    where = _entry_name("validation", d, i) if isinstance(d, dict) else f"[[validation]] #{i}"
    if not isinstance(d, dict):
        raise ModelError(f"{where}: must be a table")
    target = _req(d, "target", where)
    if target not in targets:
        raise ModelError(
            f"{where}: field 'target' = {target!r} is not a model, zone or observation id"
        )
    tol = _number(_req(d, "tolerance", where, (int, float)), where, "tolerance")
    if tol < 0:
        raise ModelError(f"{where}: field 'tolerance' = {tol} must be >= 0")
    kind = str(d.get("tolerance_kind", "relative"))
    if kind not in ("relative", "absolute"):
        raise ModelError(f"{where}: field 'tolerance_kind' = {kind!r} must be relative or absolute")
    inputs = d.get("inputs", {})
    if not isinstance(inputs, dict):
        raise ModelError(f"{where}: field 'inputs' must be a table")
    return ValidationTarget(
        id=_req(d, "id", where),
        target=target,
        quantity=_req(d, "quantity", where),
        inputs=MappingProxyType(dict(inputs)),
        published=str(_req(d, "published", where)),
        tolerance=tol,
        tolerance_kind=kind,
        why=_req(d, "why", where),
        source=_source_ref(d, where, sources),
        where=_req(d, "where", where),
        testable=_choice(d, "testable", where, TESTABLE),
    )
