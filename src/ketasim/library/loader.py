"""Load and validate published model files (``library/<model_id>.toml``) into ModelSpec objects.

The file format is documented in ``docs/model-format.md``. Thetas are written as printed in the
source with the source's unit; individual-parameter expressions are evaluated on those printed
values (as the paper's own NONMEM code would) and each result is converted from its declared
unit to ketasim's canonical unit. The loader checks, for every expression, that the dimensions
add up (with pint) and that evaluating on printed magnitudes gives the same number as evaluating
with full units, so an expression that silently mixes L/min and L/h is refused.

Every file states its evidence tier (``evidence = "published" | "transcribed" | "derived"``) with
the tier's companion fields; a file without it, or whose companion fields do not fit the tier, is
refused. A ``transcribed`` file names at least two independent implementations
(``[[transcribed_from]]``, each with repository, file, version and the numbers it encodes), and the
loader checks that every implementation encodes every theta with the file's value to the
precision that implementation prints. A file whose ``status`` is not ``"verified"`` (checked
against its tier) is refused too (drafts in ``docs/unverified-models/``); see
``docs/missing-models.md`` for what does not ship and why.
"""

from __future__ import annotations

import functools
import itertools
import tomllib
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from ketasim.errors import ModelError, UnitError
from ketasim.expressions import parse_expression
from ketasim.library.evidence import build_evidence
from ketasim.library.schema import require_field as _req
from ketasim.spec import (
    DOMAINS,
    RESIDUAL_FORMS,
    Citation,
    Compartment,
    Covariate,
    DoseDerivation,
    Flow,
    Iiv,
    ModelSpec,
    Parameter,
    Route,
    RouteInput,
    find_outside_domain,
)
from ketasim.units import Q_, convert_magnitude, dimensionality_of, to_unit, ureg

__all__ = ["canonical_unit_for", "list_models", "load_model", "load_model_file"]

_NON_MODEL_FILES = {"effects", "modifiers", "plausibility"}
_INFUSION_ROUTES = {"iv"}

# canonical unit for each dimensionality a parameter may have
_CANONICAL_BY_DIM: list[tuple[str, str]] = [
    ("", ""),
    ("h", "h"),
    ("1/h", "1/h"),
    ("L", "L"),
    ("L/h", "L/h"),
    ("L/kg", "L/kg"),
    ("L/h/kg", "L/h/kg"),
    ("mg/L", "mg/L"),
    ("mg", "mg"),
    ("mg/h", "mg/h"),
    ("nmol/L", "nmol/L"),
    ("L/h/yr", "L/h/yr"),
    ("1/h/yr", "1/h/yr"),
    ("h/L", "h/L"),
]


def canonical_unit_for(unit: str, *, what: str = "unit") -> str:
    """Canonical unit with the same dimension as ``unit`` (e.g. ``"L/min"`` -> ``"L/h"``).

    Examples
    --------
    >>> canonical_unit_for("mL/min/kg")
    'L/h/kg'
    """
    try:
        dim = dimensionality_of(_norm(unit))
    except UnitError as exc:
        raise ModelError(f"{what}: {exc}") from None
    for probe, canon in _CANONICAL_BY_DIM:
        if dimensionality_of(probe) == dim:
            return canon
    raise ModelError(f"{what}: unit {unit!r} has a dimension ketasim does not use")


def _norm(unit: str) -> str:
    return unit.replace("%", "percent").replace("µ", "u").replace("μ", "u").strip()


def _library_dir() -> Path:
    return Path(str(resources.files("ketasim.library")))


def list_models() -> list[str]:
    """Ids of the shipped (verified) library models, sorted."""
    out = []
    for p in sorted(_library_dir().glob("*.toml")):
        if p.stem not in _NON_MODEL_FILES:
            out.append(p.stem)
    return out


@functools.lru_cache(maxsize=64)
def load_model(model_id: str) -> ModelSpec:
    """Load a shipped library model by id (``base+submodel+...`` composes, see ``compose``).

    Raises
    ------
    ModelError
        For an unknown id (naming the available ones) or an invalid file (naming the field).

    Examples
    --------
    >>> m = load_model("herd_2007")
    >>> m.citation.year
    2007
    """
    if "+" in model_id:  # a disposition model with submodels: "domino_1982+racemic_adult_routes"
        from ketasim.library.compose import load_composed_model

        base, *subs = model_id.split("+")
        return load_composed_model(base, subs)
    path = _library_dir() / f"{model_id}.toml"
    if model_id in _NON_MODEL_FILES or not path.is_file():
        raise ModelError(f"unknown model {model_id!r}; available: {', '.join(list_models())}")
    return load_model_file(path)


def load_model_file(path: str | Path) -> ModelSpec:
    """Load and validate one model file (also user-written ones)."""
    p = Path(path)
    try:
        with open(p, "rb") as fh:
            doc = tomllib.load(fh)
    except OSError as exc:
        raise ModelError(f"cannot read model file {str(p)!r}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ModelError(f"{p.name}: not valid TOML: {exc}") from None
    try:
        return _build(doc, p.stem)
    except (ModelError, UnitError) as exc:
        raise ModelError(f"{p.name}: {exc}") from None


def _build(doc: Mapping[str, Any], stem: str) -> ModelSpec:
    model_id = _req(doc, "id", "model")
    if model_id != stem:
        raise ModelError(f"id {model_id!r} does not match the file name {stem!r}")
    status = doc.get("status", "")
    if status != "verified":
        raise ModelError(
            f"status is {status!r}: only models whose parameters were verified against their "
            'evidence tier ship (set status = "verified" once they are)'
        )
    cit = _req(doc, "citation", "model", dict)
    for k in ("authors", "journal", "doi"):
        _req(cit, k, "citation")
    year = _req(cit, "year", "citation", int)
    citation = Citation(
        authors=cit["authors"],
        year=year,
        title=cit.get("title", ""),
        journal=cit["journal"],
        doi=cit["doi"],
        where=cit.get("where", ""),
        volume=str(cit.get("volume", "")),
        pages=str(cit.get("pages", "")),
    )
    pop = dict(_req(doc, "population", "model", dict))
    sampling = _req(pop, "sampling", "population")
    for rng in ("age_years", "weight_kg"):
        if rng in pop:
            r = pop[rng]
            if (
                not isinstance(r, list)
                or len(r) != 2
                or not all(isinstance(x, (int, float)) for x in r)
                or r[0] > r[1]
                or r[0] < 0
            ):
                raise ModelError(f"population.{rng}: expected [low, high] with 0 <= low <= high")
    # --- covariates ----------------------------------------------------------------------------
    covariates: dict[str, Covariate] = {}
    for name, c in doc.get("covariates", {}).items():
        covariates[name] = _build_covariate(name, c)
    # --- thetas --------------------------------------------------------------------------------
    thetas: dict[str, Parameter] = {}
    printed: dict[str, Any] = {}
    domains: dict[str, str] = {}
    for name, t in _req(doc, "parameters", "model", dict).items():
        where = f"parameters.{name}"
        if not isinstance(t, dict) or "value" not in t or "unit" not in t:
            raise ModelError(f'{where}: needs value and unit (use unit = "" for dimensionless)')
        v = t["value"]
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not np.isfinite(v):
            raise ModelError(f"{where}.value: {v!r} is not a finite number")
        unit = _norm(t["unit"])
        canon = canonical_unit_for(unit, what=where)
        thetas[name] = Parameter(
            name,
            convert_magnitude(float(v), unit, canon, what=where),
            canon,
            float(v),
            t["unit"],
            t.get("source", ""),
        )
        printed[name] = Q_(float(v), unit or "dimensionless")
        domains[name] = _domain_of(t, canon, where)
        if _outside_domain(float(v), domains[name]):
            raise ModelError(f"{where}.value: {v!r} is outside its domain {domains[name]!r}")
    # --- IIV -----------------------------------------------------------------------------------
    iiv = None
    if "iiv" in doc:
        d = doc["iiv"]
        names = tuple(_req(d, "names", "iiv", list))
        omega = _req(d, "omega", "iiv", list)
        try:
            om = tuple(tuple(float(x) for x in row) for row in omega)
        except (TypeError, ValueError):
            raise ModelError("iiv.omega: expected a matrix of numbers") from None
        iiv = Iiv(names, om, d.get("source", ""))
        if any(np.asarray(om)[i, i] < 0 for i in range(len(names))):
            raise ModelError("iiv.omega: negative variance on the diagonal")
    etas = set(iiv.names) if iiv else set()
    # --- individual parameters -----------------------------------------------------------------
    individual: dict[str, Any] = {}
    ind_units: dict[str, str] = {}
    factors: dict[str, float] = {}
    for name, spec in doc.get("individual", {}).items():
        where = f"individual.{name}"
        if not isinstance(spec, dict) or "expr" not in spec or "unit" not in spec:
            raise ModelError(f"{where}: needs expr and unit")
        individual[name] = parse_expression(str(spec["expr"]), what=where)
        unit = _norm(spec["unit"])
        canon = canonical_unit_for(unit, what=where)
        ind_units[name] = canon
        domains[name] = _domain_of(spec, canon, where)
        factors[name] = convert_magnitude(
            1.0, unit or "dimensionless", canon or "dimensionless", what=where
        )
    _check_dimensions(doc.get("individual", {}), individual, printed, covariates, etas)
    # wrap expressions so that evaluation yields canonical units: value_printed * factor
    wrapped = {
        k: parse_expression(f"({e.text}) * {factors[k]!r}", what=f"individual.{k}")
        if factors[k] != 1.0
        else e
        for k, e in individual.items()
    }
    # expressions reference other individual params in their *printed* unit: divide back
    for k, e in list(wrapped.items()):
        refs = [r for r in e.names if r in factors and factors[r] != 1.0]
        if refs:
            text = e.text
            sub = {r: f"({r} / {factors[r]!r})" for r in refs}
            text = _substitute(text, sub)
            wrapped[k] = parse_expression(text, what=f"individual.{k}")
    # thetas in expressions are printed values: substitute the printed magnitude
    final = {}
    for k, e in wrapped.items():
        sub = {
            t: f"({t} / {thetas[t].value / thetas[t].published_value!r})"
            for t in e.names
            if t in thetas
            and thetas[t].published_value != 0
            and thetas[t].value != thetas[t].published_value
        }
        final[k] = parse_expression(_substitute(e.text, sub), what=f"individual.{k}") if sub else e
    # --- structure -----------------------------------------------------------------------------
    cmts = []
    for i, c in enumerate(_req(doc, "compartments", "model", list)):
        where = f"compartments[{i}]"
        name = _req(c, "name", where)
        kind = c.get("kind") or _infer_kind(name, c.get("volume"))
        cmts.append(Compartment(name, c.get("analyte"), kind, c.get("volume")))
    for c in cmts:
        if c.analyte is not None:
            from ketasim.units import get_molar_mass_g_per_mol

            get_molar_mass_g_per_mol(c.analyte)
    flows = []
    for i, f in enumerate(_req(doc, "flows", "model", list)):
        where = f"flows[{i}]"
        src = _req(f, "from", where)
        if "vmax" in f or "km" in f:
            flows.append(
                Flow(
                    src,
                    f.get("to"),
                    fraction=f.get("fraction"),
                    kind="saturable",
                    vmax=f.get("vmax"),
                    km=f.get("km"),
                )
            )
            continue
        if ("clearance" in f) == ("rate" in f):
            raise ModelError(f"{where} (from {src}): give exactly one of clearance or rate")
        flows.append(
            Flow(
                src,
                f.get("to"),
                f.get("clearance"),
                f.get("rate"),
                f.get("fraction"),
                f.get("kind", "transfer"),
            )
        )
    routes: dict[str, Route] = {}
    for rname, r in _req(doc, "routes", "model", dict).items():
        where = f"routes.{rname}"
        inputs = []
        for j, inp in enumerate(_req(r, "inputs", where, list)):
            extra = set(inp) - {"cmt", "F", "lag", "duration", "rate"}
            if extra:
                raise ModelError(f"{where}.inputs[{j}]: unknown key(s) {', '.join(sorted(extra))}")
            inputs.append(
                RouteInput(
                    _req(inp, "cmt", f"{where}.inputs[{j}]"),
                    inp.get("F"),
                    inp.get("lag"),
                    inp.get("duration"),
                    inp.get("rate"),
                )
            )
        routes[rname] = Route(
            rname,
            tuple(inputs),
            bool(r.get("infusion", rname in _INFUSION_ROUTES)),
            r.get("source", ""),
        )
    residual: dict[str, dict[str, Any]] = {}
    for analyte, r in doc.get("residual", {}).items():
        prop = float(r.get("proportional", 0.0))
        add = r.get("additive", "0 mg/L")
        try:
            add_mg_l = to_unit(add, "mg/L", what=f"residual.{analyte}.additive")
        except UnitError:
            from ketasim.units import get_molar_mass_g_per_mol

            add_mg_l = to_unit(add, "nmol/mL", what=f"residual.{analyte}.additive") * (
                get_molar_mass_g_per_mol(analyte) * 1e-3
            )
        if prop < 0 or add_mg_l < 0:
            raise ModelError(f"residual.{analyte}: error SDs must be >= 0")
        residual[analyte] = {"proportional": prop, "additive_mg_per_L": add_mg_l}
        if "form" in r:
            if r["form"] not in RESIDUAL_FORMS:
                raise ModelError(
                    f"residual.{analyte}.form {r['form']!r} must be one of "
                    + ", ".join(RESIDUAL_FORMS)
                )
            residual[analyte]["form"] = str(r["form"])
    evidence = build_evidence(doc, thetas)
    validation = tuple(doc.get("validation", ()))
    if len(validation) < 1:
        raise ModelError("validation: at least one published target is required")
    for i, v in enumerate(validation):
        for k in ("quantity", "published", "tolerance", "why", "source"):
            _req(v, k, f"validation[{i}]", (str, float, int))
    return ModelSpec(
        id=model_id,
        name=_req(doc, "name", "model"),
        compartments=tuple(cmts),
        flows=tuple(flows),
        routes=routes,
        thetas=thetas,
        covariates=covariates,
        individual=final,
        individual_units=ind_units,
        iiv=iiv,
        residual=residual,
        drug=_req(doc, "drug", "model"),
        amount_basis=doc.get("amount_basis", "molar"),
        sampling=sampling,
        citation=citation,
        population=pop,
        validation=validation,
        notes=doc.get("notes", ""),
        evidence=evidence,
        parameter_domains=domains,
    )


_COVARIATE_KEYS = {"unit", "reference", "note", "domain", "min", "max", "valid", "per_dose"}


def _build_covariate(name: str, c: Any) -> Covariate:
    """One ``[covariates]`` entry: unit, reference, domain (required), limits, validity range."""
    where = f"covariates.{name}"
    if not isinstance(c, dict) or "unit" not in c or "reference" not in c:
        raise ModelError(f"{where}: needs unit and reference")
    unknown = set(c) - _COVARIATE_KEYS
    if unknown:
        raise ModelError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
    dimensionality_of(_norm(c["unit"]))
    if "domain" not in c:
        raise ModelError(
            f"{where}: required field 'domain' is missing (one of {', '.join(DOMAINS)}; "
            "see docs/model-format.md)"
        )
    lims: dict[str, float | None] = {}
    for k in ("min", "max"):
        v = c.get(k)
        if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float))):
            raise ModelError(f"{where}.{k}: expected a number")
        lims[k] = None if v is None else float(v)
    valid = None
    if "valid" in c:
        r = c["valid"]
        if (
            not isinstance(r, list)
            or len(r) != 2
            or not all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in r)
            or r[0] > r[1]
        ):
            raise ModelError(f"{where}.valid: expected [low, high] with low <= high")
        valid = (float(r[0]), float(r[1]))
    per_dose = None
    if "per_dose" in c:
        d = c["per_dose"]
        if not isinstance(d, dict):
            raise ModelError(f"{where}.per_dose: expected a table")
        per_dose = DoseDerivation(
            _req(d, "route", f"{where}.per_dose"),
            to_unit(_req(d, "amount", f"{where}.per_dose"), "mg", what=f"{where}.per_dose.amount"),
            _req(d, "source", f"{where}.per_dose"),
            str(d.get("what", "unit")),
        )
    cov = Covariate(
        name,
        c["unit"],
        float(c["reference"]),
        c.get("note", ""),
        domain=c["domain"],
        min=lims["min"],
        max=lims["max"],
        valid=valid,
        per_dose=per_dose,
    )
    if _outside_domain(cov.reference, cov.domain, cov.min, cov.max):
        raise ModelError(f"{where}.reference: {cov.reference:g} is outside its domain")
    return cov


def _domain_of(entry: Mapping[str, Any], canon: str, where: str) -> str:
    """Declared domain of a parameter, or the default for its unit.

    Default: volumes ``positive``; other dimensional quantities (clearances, rates, times)
    ``nonnegative``; dimensionless ``real`` (exponents, effects may be negative).
    """
    if "domain" in entry:
        d = entry["domain"]
        if d not in DOMAINS:
            raise ModelError(f"{where}.domain: {d!r} not one of {', '.join(DOMAINS)}")
        return str(d)
    if canon == "L":
        return "positive"
    return "nonnegative" if canon else "real"


def _outside_domain(
    v: float, domain: str, lo: float | None = None, hi: float | None = None
) -> bool:
    return bool(find_outside_domain(np.asarray(v, dtype=float), domain, lo, hi).any())


def _infer_kind(name: str, volume: str | None) -> str:
    up = name.upper()
    if "EFFECT" in up:
        return "effect"
    if volume:
        return "central"
    if "DEPOT" in up or up.startswith("GUT") or up in ("NASAL", "IM", "SC"):
        return "depot"
    return "peripheral"


def _substitute(text: str, sub: Mapping[str, str]) -> str:
    import re

    return re.sub(r"\b[A-Za-z_][A-Za-z0-9_]*\b", lambda m: sub.get(m.group(0), m.group(0)), text)


def _check_dimensions(
    raw: Mapping[str, Any],
    exprs: Mapping[str, Any],
    printed: Mapping[str, Any],
    covariates: Mapping[str, Covariate],
    etas: set[str],
) -> None:
    """Evaluate every expression with pint; refuse dimension errors and unit mixing."""
    known = set(printed) | set(covariates) | set(etas) | set(exprs)
    for name, expr in exprs.items():
        unknown = expr.names - known
        if unknown:
            raise ModelError(
                f"individual.{name} = {expr.text!r} uses unknown name(s) "
                f"{', '.join(sorted(unknown))}"
            )
    env_q: dict[str, Any] = dict(printed)
    for e in etas:
        env_q[e] = Q_(0.0, "dimensionless")
    done: set[str] = set()
    for _ in range(len(exprs) + 1):
        progressed = False
        for name, expr in exprs.items():
            if name in done:
                continue
            deps = [n for n in expr.names if n in exprs]
            if any(d not in done for d in deps):
                continue
            declared = _norm(raw[name]["unit"]) or "dimensionless"
            used_covs = sorted(n for n in expr.names if n in covariates)
            ok = None
            for carry in itertools.product((True, False), repeat=len(used_covs)):
                env = dict(env_q)
                for c, has_unit in zip(used_covs, carry, strict=True):
                    cv = covariates[c]
                    env[c] = (
                        Q_(cv.reference, _norm(cv.unit) or "dimensionless")
                        if has_unit
                        else Q_(cv.reference, "dimensionless")
                    )
                try:
                    with np.errstate(all="ignore"):
                        q = expr.evaluate(env)
                    if not isinstance(q, ureg.Quantity):
                        q = Q_(float(q), "dimensionless")
                    val = q.to(declared)
                except Exception:
                    continue
                plain = expr.evaluate(
                    {
                        k: (v.magnitude if isinstance(v, ureg.Quantity) else v)
                        for k, v in env.items()
                    }
                )
                if np.allclose(
                    float(np.asarray(val.magnitude)), float(np.asarray(plain)), rtol=1e-9, atol=0
                ):
                    ok = Q_(float(np.asarray(val.magnitude)), declared)
                    break
                raise ModelError(
                    f"individual.{name} = {expr.text!r}: the printed units of its terms do not "
                    f"combine to {raw[name]['unit']!r} without conversion; write the thetas in "
                    "consistent units"
                )
            if ok is None:
                raise ModelError(
                    f"individual.{name} = {expr.text!r}: dimensions do not give the declared "
                    f"unit {raw[name]['unit']!r}"
                )
            env_q[name] = ok
            done.add(name)
            progressed = True
        if not progressed:
            break
