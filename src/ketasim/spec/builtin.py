"""Built-in generic models ``pk1``..``pk3`` (IV or with a depot) and the nonlinear ``pk1_mm``, in
the user's own consistent units (NONMEM numbering: DEPOT = 1)."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from ketasim.errors import ModelError
from ketasim.spec.model import ModelSpec
from ketasim.spec.structure import Compartment, Flow, Route, RouteInput

__all__ = ["BUILTIN_MODELS", "get_builtin_model"]


def _pk(n_disp: int, depot: bool) -> ModelSpec:
    cmts: list[Compartment] = []
    if depot:
        cmts.append(Compartment("DEPOT", None, "depot"))
    cmts.append(Compartment("CENTRAL", "drug", "central", "V1"))
    flows: list[Flow] = [Flow("CENTRAL", None, clearance="CL", rate="K10")]
    free = ["CL", "V1"]
    aliases: dict[str, str] = {"V": "V1", "Q": "Q2"}
    for j in range(2, n_disp + 1):
        name = f"PERIPH{j - 1}"
        cmts.append(Compartment(name, "drug", "peripheral", f"V{j}"))
        flows.append(Flow("CENTRAL", name, clearance=f"Q{j}", rate=f"K1{j}"))
        flows.append(Flow(name, "CENTRAL", clearance=f"Q{j}", rate=f"K{j}1"))
        free += [f"Q{j}", f"V{j}"]
    free += [
        "K10",
        *[f"K1{j}" for j in range(2, n_disp + 1)],
        *[f"K{j}1" for j in range(2, n_disp + 1)],
    ]
    if depot:
        flows.insert(0, Flow("DEPOT", "CENTRAL", rate="KA"))
        free.append("KA")
    if n_disp < 3:
        aliases.pop("Q", None) if n_disp == 1 else None
    label = f"pk{n_disp}{'_depot' if depot else ''}"
    desc = f"{n_disp}-compartment linear model" + (
        " with first-order absorption depot" if depot else ""
    )
    routes = {"iv": Route("iv", (RouteInput("CENTRAL"),), infusion=True)}
    if depot:
        routes["extravascular"] = Route("extravascular", (RouteInput("DEPOT"),))
    return ModelSpec(
        id=label,
        name=desc,
        compartments=tuple(cmts),
        flows=tuple(flows),
        routes=routes,
        free_parameters=tuple(free),
        aliases=aliases,
        generic=True,
        drug="generic",
        sampling="none",
        notes="Generic model in the user's own consistent units (bare numbers, NONMEM style).",
    )


def _pk1_mm(depot: bool) -> ModelSpec:
    cmts = [Compartment("DEPOT", None, "depot")] if depot else []
    cmts.append(Compartment("CENTRAL", "drug", "central", "V1"))
    flows = [Flow("CENTRAL", None, kind="saturable", vmax="VMAX", km="KM")]
    free = ["V1", "VMAX", "KM"]
    routes = {"iv": Route("iv", (RouteInput("CENTRAL"),), infusion=True)}
    if depot:
        flows.insert(0, Flow("DEPOT", "CENTRAL", rate="KA"))
        free.append("KA")
        routes["extravascular"] = Route("extravascular", (RouteInput("DEPOT"),))
    return ModelSpec(
        id="pk1_mm_depot" if depot else "pk1_mm",
        name="1-compartment model with Michaelis-Menten elimination"
        + (" and first-order absorption depot" if depot else ""),
        compartments=tuple(cmts),
        flows=tuple(flows),
        routes=routes,
        free_parameters=tuple(free),
        aliases={"V": "V1"},
        generic=True,
        drug="generic",
        sampling="none",
        notes="Nonlinear (VMAX amount/time, KM concentration): solved on the ODE path.",
    )


BUILTIN_MODELS: Mapping[str, ModelSpec] = MappingProxyType(
    {
        m.id: m
        for m in (
            *(_pk(k, d) for d in (False, True) for k in (1, 2, 3)),
            _pk1_mm(False),
            _pk1_mm(True),
        )
    }
)


def get_builtin_model(name: str) -> ModelSpec:
    """Built-in generic model ``pk1``, ``pk2``, ``pk3`` (IV), ``pk1_depot`` ... ``pk3_depot``, or
    the nonlinear ``pk1_mm`` / ``pk1_mm_depot`` (Michaelis-Menten elimination: VMAX, KM, V1).

    Parameters (bare numbers in any consistent units): ``CL``, ``V1`` (alias ``V``), ``Q2``
    (alias ``Q``), ``V2``, ``Q3``, ``V3``, ``KA``; or micro-constants ``K10``, ``K12``, ``K21``,
    ``K13``, ``K31`` with ``V1``. With a depot, NONMEM numbering puts DEPOT = 1, CENTRAL = 2.
    Dose modifiers ``F<n>``, ``ALAG<n>``, ``R<n>``, ``D<n>`` apply to compartment ``n``.
    """
    if name not in BUILTIN_MODELS:
        raise ModelError(f"unknown built-in model {name!r}; built-ins: {', '.join(BUILTIN_MODELS)}")
    return BUILTIN_MODELS[name]
