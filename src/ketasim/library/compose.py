"""Compose a disposition model with submodels (absorption routes, metabolites) into one model.

A *submodel* (``library/submodels/<id>.toml``) adds what a disposition model lacks: depots and
routes (``kind = "routes"``) or metabolite compartments fed by the parent's elimination
(``kind = "metabolites"``). Composition works on the TOML documents: the submodel's parameters,
individual parameters, compartments, flows and routes are merged into the disposition model's
document and the result is built by the ordinary loader, so every unit and name check of
:mod:`ketasim.library.loader` applies to the composed model as a whole.

Placeholders in a submodel: ``"@<analyte>"`` as a compartment name (in ``[[flows]]`` ``from`` /
``to`` and in route inputs) stands for the disposition model's central compartment of that
analyte (``"@ketamine"``). A compartment, flow or route input with ``requires = "<analyte>"``
is kept only when the composed model has that analyte (first-pass norketamine inputs are
dropped when no norketamine submodel is attached); one with ``unless = "<analyte>"`` only when
it does not (the alternative form of the same flow). A ``[[formation]]`` entry of a metabolite
submodel redirects the parent's single elimination flow (a flow out of ``from`` with no target)
into ``to`` with the share ``fraction``; the rest of that flow still leaves the system.

Composed ids join the parts with ``+``: ``load_model("domino_1982+racemic_adult_routes")``.
Metabolite submodels are applied before route submodels whatever the order given. The composed
model's evidence tier (``evidence``) is the weakest of its parts (published > transcribed >
derived); the disposition's own tier is kept in the notes.

This module owns composition only; it holds no numbers (those live in the submodel files, with
their sources) and never simulates.
"""

from __future__ import annotations

import copy
import functools
import tomllib
import warnings
from collections.abc import Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

from ketasim.errors import ModelError, UnitError, ValidityWarning
from ketasim.spec import ModelSpec

__all__ = [
    "SUBMODEL_KINDS",
    "TIER_ORDER",
    "compose_documents",
    "list_composed_models",
    "list_submodels",
    "load_composed_model",
    "load_submodel_document",
]

SUBMODEL_KINDS = ("metabolites", "routes")
TIER_ORDER = ("published", "transcribed", "derived")
_SUBMODEL_KEYS = {
    "id",
    "kind",
    "name",
    "evidence",
    "derived_from",
    "applies_to",
    "reference_disposition",
    "citation",
    "notes",
    "missing_routes",
    "parameters",
    "individual",
    "covariates",
    "compartments",
    "flows",
    "formation",
    "routes",
    "residual",
    "validation",
}


def _submodel_dir() -> Path:
    return Path(str(resources.files("ketasim.library"))) / "submodels"


def list_submodels() -> list[str]:
    """Ids of the shipped submodels, sorted.

    Examples
    --------
    >>> "racemic_adult_routes" in list_submodels()
    True
    """
    return sorted(p.stem for p in _submodel_dir().glob("*.toml"))


def list_composed_models() -> list[str]:
    """Reference compositions: each submodel set on the disposition its parameters were fitted with.

    These are the composed models whose ``[[validation]]`` targets (the observations the derived
    parameters were fitted to) are checked by ``ketasim validate``. Only compositions whose
    reference disposition model ships are listed.
    """
    from ketasim.library.loader import list_models

    shipped = set(list_models())
    by_ref: dict[str, list[tuple[str, str]]] = {}
    for sid in list_submodels():
        doc = load_submodel_document(sid)
        ref = doc.get("reference_disposition")
        if isinstance(ref, str) and ref in shipped:
            by_ref.setdefault(ref, []).append((str(doc["kind"]), sid))
    out = []
    for ref, subs in sorted(by_ref.items()):
        ordered = sorted(subs, key=lambda ks: SUBMODEL_KINDS.index(ks[0]))
        out.append("+".join([ref, *(s for _, s in ordered)]))
    return out


@functools.lru_cache(maxsize=32)
def _read_submodel(path: Path) -> dict[str, Any]:
    try:
        with open(path, "rb") as fh:
            doc = tomllib.load(fh)
    except OSError as exc:
        raise ModelError(f"cannot read submodel file {str(path)!r}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ModelError(f"{path.name}: not valid TOML: {exc}") from None
    _check_submodel(doc, path.stem)
    _check_roles(doc)
    return doc


def load_submodel_document(submodel: str | Path) -> dict[str, Any]:
    """The checked TOML document of a submodel, by id (shipped) or by path to a ``.toml`` file.

    Raises
    ------
    ModelError
        For an unknown id (naming the shipped ones) or a malformed file (naming the field).
    """
    s = str(submodel)
    if s.endswith(".toml"):
        path = Path(s)
    else:
        path = _submodel_dir() / f"{s}.toml"
        if not path.is_file():
            raise ModelError(f"unknown submodel {s!r}; available: {', '.join(list_submodels())}")
    return copy.deepcopy(_read_submodel(path))


def _check_submodel(doc: Mapping[str, Any], stem: str) -> None:
    where = f"submodel {stem}"
    if doc.get("id") != stem:
        raise ModelError(f"{where}: id {doc.get('id')!r} does not match the file name")
    extra = set(doc) - _SUBMODEL_KEYS
    if extra:
        raise ModelError(f"{where}: unknown top-level key(s) {', '.join(sorted(extra))}")
    if doc.get("kind") not in SUBMODEL_KINDS:
        raise ModelError(f"{where}: kind must be one of {', '.join(SUBMODEL_KINDS)}")
    if doc.get("evidence") not in TIER_ORDER:
        raise ModelError(f"{where}: evidence must be one of {', '.join(TIER_ORDER)}")
    if doc["evidence"] == "derived" and not isinstance(doc.get("derived_from"), dict):
        raise ModelError(f'{where}: evidence = "derived" needs [derived_from] (data, script ...)')
    applies = doc.get("applies_to")
    if not isinstance(applies, dict) or not isinstance(applies.get("drug"), str):
        raise ModelError(f'{where}: applies_to needs drug (e.g. drug = "racemic ketamine")')
    ages = applies.get("age_years")
    if ages is not None and (
        not isinstance(ages, list) or len(ages) != 2 or not ages[0] <= ages[1]
    ):
        raise ModelError(f"{where}: applies_to.age_years must be [low, high]")
    cit = doc.get("citation")
    if not isinstance(cit, dict) or not all(cit.get(k) for k in ("authors", "year", "where")):
        raise ModelError(f"{where}: citation needs authors, year and where")


_ROLE_UNITS = {
    "rate": "1/h",
    "clearance": "L/h",
    "vmax": "mg/h",
    "km": "mg/L",
    "F": "",
    "lag": "h",
    "duration": "h",
}


def _check_roles(doc: Mapping[str, Any]) -> None:
    """Refuse a submodel parameter whose unit does not fit its role (a rate in L, an F in h).

    The loader checks that expressions combine to their declared units; this checks what the
    structure does with each name: flow ``rate`` 1/time, ``clearance`` volume/time, route ``F``
    dimensionless, ``lag``/``duration`` time, saturable ``vmax`` amount/time and ``km``
    concentration, compartment ``volume`` a volume.
    """
    from ketasim.library.loader import canonical_unit_for

    units = {k: str(v.get("unit", "")) for k, v in doc.get("parameters", {}).items()} | {
        k: str(v.get("unit", "")) for k, v in doc.get("individual", {}).items()
    }
    uses: list[tuple[str, str]] = []
    for f in doc.get("flows", []):
        uses += [(str(f[r]), r) for r in ("rate", "clearance", "vmax", "km") if r in f]
    for r in doc.get("routes", {}).values():
        for inp in r.get("inputs", []):
            uses += [(str(inp[k]), k) for k in ("F", "lag", "duration") if k in inp]
    uses += [(str(c["volume"]), "volume") for c in doc.get("compartments", []) if "volume" in c]
    for name, role in uses:
        if name not in units:
            continue
        want = "L" if role == "volume" else _ROLE_UNITS[role]
        got = canonical_unit_for(units[name], what=f"submodel {doc['id']} {name}")
        if got != want:
            raise ModelError(
                f"submodel {doc['id']}: {name} is used as a {role} but its unit "
                f"{units[name]!r} is not {want or 'dimensionless'}"
            )


def _resolve(name: Any, centrals: Mapping[str, str], where: str) -> Any:
    if isinstance(name, str) and name.startswith("@"):
        analyte = name[1:]
        if analyte not in centrals:
            raise ModelError(
                f"{where}: needs a central compartment of {analyte!r}; the model has "
                + (", ".join(centrals) or "none")
            )
        return centrals[analyte]
    return name


def _centrals(doc: Mapping[str, Any]) -> dict[str, str]:
    out: dict[str, str] = {}
    for c in doc.get("compartments", []):
        if c.get("volume") and c.get("analyte") and c.get("kind", "central") == "central":
            out.setdefault(str(c["analyte"]), str(c["name"]))
    return out


def _merge_table(
    into: dict[str, Any], extra: Mapping[str, Any], what: str, sub_id: str, model_id: str
) -> None:
    for k, v in extra.items():
        if k in into:
            raise ModelError(
                f"submodel {sub_id} defines {what} {k!r}, which model {model_id} already has"
            )
        into[k] = v


def _weakest_tier(tiers: Sequence[str]) -> str:
    return max(tiers, key=lambda t: TIER_ORDER.index(t) if t in TIER_ORDER else -1)


def _check_population(base: Mapping[str, Any], sub: Mapping[str, Any]) -> None:
    """Refuse another drug; warn (ValidityWarning) when the populations do not overlap."""
    applies = sub["applies_to"]
    if base.get("drug") != applies["drug"]:
        raise ModelError(
            f"submodel {sub['id']} is for {applies['drug']}; model {base.get('id')} is "
            f"{base.get('drug')!r}: attach it only to {applies['drug']} models"
        )
    lim = applies.get("age_years")
    group = applies.get("group")
    pop = base.get("population", {})
    ages = pop.get("age_years")
    problem = ""
    if group and pop.get("group") and pop["group"] != group:
        problem = f"was built in group {pop['group']!r}"
    elif lim is not None and ages is not None and (ages[0] < lim[0] or ages[1] > lim[1]):
        problem = f"was built in ages {ages[0]}-{ages[1]} yr"
    elif ages is None and not pop.get("group"):
        problem = "states neither an age range nor a population group"
    if problem:
        wanted = f"group {group!r}" if group else ""
        if lim is not None:
            wanted += f"{', ' if wanted else ''}ages {lim[0]}-{lim[1]} yr"
        warnings.warn(
            f"submodel {sub['id']} was derived for {wanted}; model {base.get('id')} {problem}: "
            "the composed model is used outside the submodel's population",
            ValidityWarning,
            stacklevel=4,
        )


def _has_analyte(doc: Mapping[str, Any], item: Mapping[str, Any]) -> bool:
    """Keep ``item`` (``requires``: the analyte is present; ``unless``: it is absent)?"""
    centrals = _centrals(doc)
    req, unless = item.get("requires"), item.get("unless")
    return (req is None or req in centrals) and (unless is None or unless not in centrals)


def _apply(doc: dict[str, Any], sub: Mapping[str, Any]) -> None:
    sid, mid = str(sub["id"]), str(doc.get("id"))
    _check_population(doc, sub)
    for table, what in (
        ("parameters", "parameter"),
        ("individual", "individual parameter"),
        ("residual", "residual error for"),
    ):
        doc.setdefault(table, {})
        _merge_table(doc[table], sub.get(table, {}), what, sid, mid)
    for name, cov in sub.get("covariates", {}).items():
        have = doc.setdefault("covariates", {}).get(name)
        if have is not None and have.get("unit") != cov.get("unit"):
            raise ModelError(
                f"submodel {sid} uses covariate {name} in {cov.get('unit')!r}; model {mid} in "
                f"{have.get('unit')!r}"
            )
        doc["covariates"].setdefault(name, cov)
    names = {str(c["name"]) for c in doc.get("compartments", [])}
    for c in sub.get("compartments", []):
        if not _has_analyte(doc, c):
            continue
        c = {k: v for k, v in c.items() if k not in ("requires", "unless")}
        if c.get("name") in names:
            raise ModelError(f"submodel {sid} adds compartment {c.get('name')!r}; {mid} has it")
        doc.setdefault("compartments", []).append(c)
        names.add(str(c["name"]))
    centrals = _centrals(doc)
    for i, f in enumerate(sub.get("formation", [])):
        where = f"submodel {sid} formation[{i}]"
        src = _resolve(f.get("from"), centrals, where)
        to = _resolve(f.get("to"), centrals, where)
        elim = [fl for fl in doc["flows"] if fl.get("from") == src and not fl.get("to")]
        if len(elim) != 1:
            raise ModelError(
                f"{where}: model {mid} has {len(elim)} elimination flows out of {src}; "
                "a formation needs exactly one"
            )
        if "fraction" in elim[0]:
            raise ModelError(f"{where}: the elimination flow out of {src} already has a fraction")
        elim[0]["to"] = to
        if "fraction" in f:
            elim[0]["fraction"] = f["fraction"]
    for i, f in enumerate(sub.get("flows", [])):
        if not _has_analyte(doc, f):
            continue
        where = f"submodel {sid} flows[{i}]"
        f = {k: v for k, v in f.items() if k not in ("requires", "unless")}
        for key in ("from", "to"):
            if key in f:
                f[key] = _resolve(f[key], centrals, where)
        doc["flows"].append(f)
    routes: dict[str, Any] = {}
    for rname, r in sub.get("routes", {}).items():
        inputs = []
        for j, inp in enumerate(r.get("inputs", [])):
            if not _has_analyte(doc, inp):
                continue
            inp = {k: v for k, v in inp.items() if k not in ("requires", "unless")}
            inp["cmt"] = _resolve(inp.get("cmt"), centrals, f"submodel {sid} routes.{rname}[{j}]")
            inputs.append(inp)
        routes[rname] = {**r, "inputs": inputs}
    doc.setdefault("routes", {})
    _merge_table(doc["routes"], routes, "route", sid, mid)
    if sub.get("reference_disposition") == doc.get("_base_id"):
        doc.setdefault("validation", []).extend(copy.deepcopy(sub.get("validation", [])))


def compose_documents(
    base: Mapping[str, Any], submodels: Sequence[Mapping[str, Any]]
) -> dict[str, Any]:
    """The TOML document of the disposition model ``base`` with ``submodels`` attached.

    The composed id is ``base+sub1+sub2`` (submodels in application order: metabolites, then
    routes). Submodel ``[[validation]]`` targets are kept only when the base is the submodel's
    ``reference_disposition`` (they are the fit targets, valid for that composition).
    """
    doc = copy.deepcopy(dict(base))
    doc["_base_id"] = base.get("id")
    ordered = sorted(submodels, key=lambda s: SUBMODEL_KINDS.index(str(s["kind"])))
    seen: set[str] = set()
    for sub in ordered:
        if sub["id"] in seen:
            raise ModelError(f"submodel {sub['id']} is given twice")
        seen.add(str(sub["id"]))
        _apply(doc, sub)
    doc["id"] = "+".join([str(base.get("id")), *(str(s["id"]) for s in ordered)])
    doc["name"] = f"{base.get('name')} + " + " + ".join(str(s["name"]) for s in ordered)
    base_tier = str(base.get("evidence", "published"))
    tier = _weakest_tier([base_tier, *(str(s["evidence"]) for s in ordered)])
    doc["evidence"] = tier
    if tier == "derived" and base_tier != "derived":
        # NOTE: the loader accepts one tier per model; the composed model takes the weakest and
        # the derived parts' [derived_from]. The disposition's own tier and peers stay in notes.
        first = next(s for s in ordered if s["evidence"] == "derived")
        doc["derived_from"] = copy.deepcopy(first["derived_from"])
        peers = doc.pop("transcribed_from", [])
        if peers:
            base_tier += " from " + ", ".join(
                f"{p.get('project')} {p.get('version')} {p.get('file')}" for p in peers
            )
        derived = ", ".join(str(s["id"]) for s in ordered if s["evidence"] == "derived")
        doc["evidence_note"] = (
            f"{derived} derived by ketasim; disposition {base.get('id')} {base_tier}"
        )
    parts = [
        f"{s['id']} (evidence {s['evidence']}; {s['citation']['authors']} "
        f"{s['citation']['year']}, {s['citation']['where']})"
        for s in ordered
    ]
    doc["notes"] = (
        f"COMPOSED: disposition {base.get('id')} (evidence {base_tier})"
        + " with "
        + "; ".join(parts)
        + ".\n"
        + "".join(f"\n[{s['id']}] {str(s.get('notes', '')).strip()}\n" for s in ordered)
        + f"\n[{base.get('id')}] {str(base.get('notes', '')).strip()}"
    )
    del doc["_base_id"]
    return doc


def load_composed_model(disposition: str | Path, submodels: Sequence[str | Path]) -> ModelSpec:
    """Load a disposition model (library id or ``.toml`` path) with submodels attached.

    Parameters
    ----------
    disposition : str or Path
        Library model id (``"domino_1984"``) or path to a model file.
    submodels : sequence of str or Path
        Submodel ids (``"racemic_adult_routes"``, ``"racemic_adult_norketamine"``) or paths.

    Returns
    -------
    ModelSpec
        The composed model, checked by the loader (units, names, structure).

    Raises
    ------
    ModelError
        Unknown disposition or submodel, another drug, name clashes, a missing analyte.

    Warns
    -----
    ValidityWarning
        When the disposition model's population lies outside the submodel's (e.g. children).

    Examples
    --------
    >>> subs = ["racemic_adult_routes", "racemic_adult_norketamine"]
    >>> m = load_composed_model("domino_1984", subs)
    >>> m.id
    'domino_1984+racemic_adult_norketamine+racemic_adult_routes'
    >>> m.get_analytes(), m.evidence.tier
    (('ketamine', 'norketamine'), 'derived')
    >>> len(m.routes), "intranasal" in m.routes, "intranasal_yanagihara_2003" in m.routes
    (7, False, True)
    """
    from ketasim.library.loader import _build, _library_dir

    if not submodels:
        raise ModelError("give at least one submodel to compose with")
    d = str(disposition)
    path = Path(d) if d.endswith(".toml") else _library_dir() / f"{d}.toml"
    if not path.is_file():
        from ketasim.library.loader import list_models

        raise ModelError(f"unknown model {d!r}; available: {', '.join(list_models())}")
    try:
        with open(path, "rb") as fh:
            base = tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ModelError(f"{path.name}: not valid TOML: {exc}") from None
    if base.get("id") != path.stem:
        raise ModelError(f"{path.name}: id {base.get('id')!r} does not match the file name")
    subs = [load_submodel_document(s) for s in submodels]
    doc = compose_documents(base, subs)
    try:
        return _build(doc, str(doc["id"]))
    except (ModelError, UnitError) as exc:
        raise ModelError(f"{doc['id']}: {exc}") from None
