"""Model structure and parameters: ModelSpec, compartments, flows, routes, built-in ``pk*`` models.

A :class:`ModelSpec` is frozen and checked at construction. It owns the *structure* (named
compartments in NONMEM order, first-order flows, metabolite formation, effect links, routes) and
the *parameters* (typical values in canonical units, covariate expressions, IIV). It turns
individual parameter arrays into the rate matrix ``K`` of ``dA/dt = K A + input``; it never
integrates anything (that is :mod:`ketasim.solver`).

Rate matrix
-----------
For a flow from compartment *s* with first-order rate ``k`` (``k = CL/V_s`` for a clearance):
``K[s, s] -= k`` and, when it has a target *t*, ``K[t, s] += f * m * k`` with ``f`` the formation
fraction (1 when absent) and ``m`` the molar-mass ratio ``MW_t / MW_s`` when *s* and *t* hold
different analytes and the model's amount basis is molar (so each compartment holds mg of its
own analyte). An effect link (``kind = "effect"``) adds ``K[e, s] += ke0 / V_s`` and
``K[e, e] -= ke0`` without removing drug from *s*: the effect compartment holds a concentration.
An integrating flow (``kind = "integral"``, into a compartment of kind ``integral``) adds
``K[a, s] += 1 / V_s`` and nothing else: ``dA_a/dt = A_s / V_s = C_s``, so the compartment holds
the area under the source's concentration curve (mg/L*h) and the system stays linear, solved
exactly like any other (:meth:`ModelSpec.with_auc_compartments`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any

import numpy as np
import numpy.typing as npt

from ketasim.errors import ModelError, ParameterError
from ketasim.expressions import Expression
from ketasim.spec.domains import describe_domain, find_outside_domain
from ketasim.spec.provenance import Citation, Evidence, Implementation
from ketasim.spec.structure import (
    SAMPLING_SITES,
    Compartment,
    Covariate,
    DoseDerivation,
    Flow,
    Iiv,
    Parameter,
    Route,
    RouteInput,
)
from ketasim.units import get_molar_mass_g_per_mol

__all__ = [
    "Citation",
    "Compartment",
    "Covariate",
    "DoseDerivation",
    "Evidence",
    "Flow",
    "Iiv",
    "Implementation",
    "ModelSpec",
    "Parameter",
    "Route",
    "RouteInput",
    "describe_domain",
    "find_outside_domain",
]

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class ModelSpec:
    """A compartment model: structure, parameters and provenance. Frozen; validated on creation.

    Parameters
    ----------
    id : str
        Model id (``pk2``, ``herd_2007``).
    compartments, flows, routes
        Structure; compartment order is the NONMEM numbering (1-based).
    thetas : mapping
        Typical values in canonical units (h, mg, L, L/h, 1/h, mg/L; L/kg for per-weight).
    individual : mapping of name to Expression
        Individual parameters from thetas, covariates and ETAs (canonical units of the result).
    free_parameters : tuple of str
        Parameters with no expression, supplied by the user (generic ``pk*`` models).
    generic : bool
        True when the model takes bare numbers in the user's own consistent units.
    evidence : Evidence, optional
        Evidence tier of a library model (``published``, ``transcribed``, ``derived``) with its
        companion fields; None for built-in generic models.
    parameter_domains : mapping of str to str
        Domain (one of :data:`DOMAINS`) of each theta and individual parameter; values outside
        are refused by :func:`ketasim.individual.compute_individual_parameters`.
    """

    id: str
    name: str
    compartments: tuple[Compartment, ...]
    flows: tuple[Flow, ...]
    routes: Mapping[str, Route] = field(default_factory=dict)
    thetas: Mapping[str, Parameter] = field(default_factory=dict)
    covariates: Mapping[str, Covariate] = field(default_factory=dict)
    individual: Mapping[str, Expression] = field(default_factory=dict)
    individual_units: Mapping[str, str] = field(default_factory=dict)
    free_parameters: tuple[str, ...] = ()
    defaults: Mapping[str, float] = field(default_factory=dict)
    aliases: Mapping[str, str] = field(default_factory=dict)
    iiv: Iiv | None = None
    residual: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    drug: str = ""
    generic: bool = False
    amount_basis: str = "molar"
    sampling: str = "unknown"
    citation: Citation | None = None
    population: Mapping[str, Any] = field(default_factory=dict)
    validation: tuple[Mapping[str, Any], ...] = ()
    notes: str = ""
    evidence: Evidence | None = None
    parameter_domains: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in (
            "routes",
            "thetas",
            "covariates",
            "individual",
            "individual_units",
            "defaults",
            "aliases",
            "residual",
            "population",
            "parameter_domains",
        ):
            object.__setattr__(self, name, MappingProxyType(dict(getattr(self, name))))
        names = [c.name for c in self.compartments]
        if not names:
            raise ModelError(f"model {self.id}: no compartments")
        if len(set(names)) != len(names):
            raise ModelError(f"model {self.id}: duplicate compartment names {names}")
        if self.amount_basis not in ("molar", "parent_mass"):
            raise ModelError(f"model {self.id}: amount_basis must be 'molar' or 'parent_mass'")
        if self.sampling not in SAMPLING_SITES:
            raise ModelError(f"model {self.id}: sampling {self.sampling!r} not in {SAMPLING_SITES}")
        known = set(self.get_parameter_names()) | set(self.aliases)
        for c in self.compartments:
            if c.volume is not None and c.volume not in known:
                raise ModelError(
                    f"model {self.id}: compartment {c.name} volume {c.volume!r} is not a parameter"
                )
        for f in self.flows:
            for cmt in (f.source, f.target):
                if cmt is not None and cmt not in names:
                    raise ModelError(f"model {self.id}: flow names unknown compartment {cmt!r}")
            named = (f.clearance, f.rate, f.vmax, f.km)
            for p in (*named, f.fraction if isinstance(f.fraction, str) else None):
                if p is not None and p not in known:
                    raise ModelError(
                        f"model {self.id}: flow from {f.source} uses unknown parameter {p!r}"
                    )
            if (
                (f.clearance is not None and f.rate is None) or f.kind in ("saturable", "integral")
            ) and self.get_compartment(f.source).volume is None:
                raise ModelError(
                    f"model {self.id}: flow by clearance {f.clearance} out of {f.source}, "
                    "which has no volume"
                )
            if f.kind == "effect" and self.get_compartment(str(f.target)).kind != "effect":
                raise ModelError(
                    f"model {self.id}: effect link target {f.target} is not of kind effect"
                )
            if (f.kind == "integral") != (
                f.target is not None and self.get_compartment(f.target).kind == "integral"
            ):
                raise ModelError(
                    f"model {self.id}: flow from {f.source} into {f.target}: integral flows, and "
                    "only they, go into integral compartments"
                )
        for r in self.routes.values():
            for inp in r.inputs:
                if inp.cmt not in names:
                    raise ModelError(
                        f"model {self.id}: route {r.name} uses unknown compartment {inp.cmt!r}"
                    )
                for p in (
                    inp.F if isinstance(inp.F, str) else None,
                    inp.lag,
                    inp.duration,
                    inp.rate,
                ):
                    if p is not None and p not in known:
                        raise ModelError(
                            f"model {self.id}: route {r.name} uses unknown parameter {p!r}"
                        )
        for pname, expr in self.individual.items():
            allowed = (
                set(self.thetas)
                | set(self.covariates)
                | set(self.get_eta_names())
                | set(self.individual)
            )
            unknown = expr.names - allowed
            if unknown:
                raise ModelError(
                    f"model {self.id}: individual parameter {pname} = {expr.text!r} uses unknown "
                    f"name(s) {', '.join(sorted(unknown))}"
                )

    # --- lookups ----------------------------------------------------------------------------
    @property
    def n_compartments(self) -> int:
        """Number of compartments (state size)."""
        return len(self.compartments)

    def get_compartment(self, name: str) -> Compartment:
        """Compartment by name (raises ModelError naming the known ones)."""
        for c in self.compartments:
            if c.name == name:
                return c
        raise ModelError(
            f"model {self.id}: unknown compartment {name!r}; known: "
            + ", ".join(c.name for c in self.compartments)
        )

    def get_compartment_index(self, name_or_number: str | int) -> int:
        """0-based index of a compartment given by name or 1-based NONMEM number."""
        if isinstance(name_or_number, (int, np.integer)):
            k = int(name_or_number)
            if not 1 <= k <= self.n_compartments:
                raise ModelError(
                    f"model {self.id}: compartment {k} does not exist (1..{self.n_compartments})"
                )
            return k - 1
        return [c.name for c in self.compartments].index(self.get_compartment(name_or_number).name)

    def get_default_dose_index(self) -> int:
        """0-based index of the default dose compartment (first depot, else first central)."""
        for kind in ("depot", "central"):
            for i, c in enumerate(self.compartments):
                if c.kind == kind:
                    return i
        return 0

    def get_default_observation_index(self) -> int:
        """0-based index of the default observation compartment (first central)."""
        for i, c in enumerate(self.compartments):
            if c.kind == "central":
                return i
        return 0

    def get_eta_names(self) -> tuple[str, ...]:
        """ETA names of the IIV block (empty when none)."""
        return self.iiv.names if self.iiv else ()

    def get_parameter_names(self) -> tuple[str, ...]:
        """Names usable as individual parameters (expressions, free parameters and thetas)."""
        return tuple(dict.fromkeys([*self.individual, *self.free_parameters, *self.thetas]))

    def get_analytes(self) -> tuple[str, ...]:
        """Analytes with an observable (central) compartment, in model order."""
        out: list[str] = []
        for c in self.compartments:
            if c.kind == "central" and c.analyte and c.analyte not in out:
                out.append(c.analyte)
        return tuple(out)

    def get_central_index(self, analyte: str) -> int:
        """0-based index of the central compartment of ``analyte``."""
        for i, c in enumerate(self.compartments):
            if c.kind == "central" and c.analyte == analyte:
                return i
        raise ModelError(
            f"model {self.id} has no analyte {analyte!r}; it has: {', '.join(self.get_analytes())}"
        )

    def get_route(self, name: str) -> Route:
        """Route by name; an unsupported route is an error naming the supported ones."""
        if name not in self.routes:
            raise ModelError(
                f"model {self.id} does not support route {name!r}; supported: "
                + (", ".join(sorted(self.routes)) or "none")
            )
        return self.routes[name]

    # --- derived ----------------------------------------------------------------------------
    def with_parameters(self, **values: float) -> ModelSpec:
        """Return a copy with typical values (thetas, canonical units) or defaults replaced."""
        thetas = dict(self.thetas)
        defaults = dict(self.defaults)
        for k, v in values.items():
            if k in thetas:
                thetas[k] = replace(thetas[k], value=float(v))
            elif k in self.free_parameters or k in self.aliases:
                defaults[self.aliases.get(k, k)] = float(v)
            else:
                raise ParameterError(f"model {self.id} has no parameter {k!r}")
        return replace(self, thetas=thetas, defaults=defaults)

    def with_auc_compartments(self) -> ModelSpec:
        """Return a copy with one integrating compartment per analyte, holding its AUC.

        For each analyte ``a`` of :meth:`get_analytes` (or the default observation of a generic
        model), a compartment ``AUC_<CENTRAL>`` of kind ``integral`` is appended (so NONMEM
        numbers of the existing compartments are unchanged) with an integral flow from the
        central compartment: ``dAUC/dt = A_central / V_central``, hence
        ``AUC(t) = integral_0^t C(s) ds`` in mg/L*h (the model's concentration x time units for
        generic models). The model stays linear and is solved exactly; a copy that already has
        the compartments is returned unchanged.

        Examples
        --------
        >>> from ketasim.spec import get_builtin_model
        >>> m = get_builtin_model("pk1").with_auc_compartments()
        >>> [c.name for c in m.compartments]
        ['CENTRAL', 'AUC_CENTRAL']
        """
        if any(c.kind == "integral" for c in self.compartments):
            return self
        if self.get_analytes():
            sources = [self.compartments[self.get_central_index(a)] for a in self.get_analytes()]
        else:
            sources = [self.compartments[self.get_default_observation_index()]]
        cmts = list(self.compartments)
        flows = list(self.flows)
        for c in sources:
            if c.volume is None:
                raise ModelError(f"model {self.id}: central {c.name} has no volume for an AUC")
            name = f"AUC_{c.name}"
            cmts.append(Compartment(name, None, "integral"))
            flows.append(Flow(c.name, name, kind="integral"))
        return replace(self, compartments=tuple(cmts), flows=tuple(flows))

    def get_auc_index(self, central: str) -> int:
        """0-based index of the integral compartment of central compartment ``central``."""
        return self.get_compartment_index(f"AUC_{central}")

    def compute_rate_matrix(self, params: Mapping[str, Any]) -> FloatArray:
        """Rate matrix K, shape ``(*batch, n, n)``, column = source compartment.

        Parameters
        ----------
        params : mapping of str to float or array
            Individual parameters in the model's units (canonical for library models); arrays
            broadcast against each other and give the batch shape.

        Returns
        -------
        ndarray, 1/time
        """
        n = self.n_compartments
        idx = {c.name: i for i, c in enumerate(self.compartments)}
        shape = np.broadcast_shapes(*(np.shape(v) for v in params.values())) if params else ()
        K = np.zeros((*shape, n, n))
        for f in self.flows:
            if f.kind == "saturable":
                continue  # nonlinear: see compute_saturable_terms
            s = idx[f.source]
            if f.kind == "integral":
                v_src = str(self.get_compartment(f.source).volume)
                K[..., idx[str(f.target)], s] += 1.0 / _param(params, v_src, self.id)
                continue
            k = self._flow_rate(f, params)
            if f.kind == "effect":
                t = idx[str(f.target)]
                vol = self.get_compartment(f.source).volume
                K[..., t, s] += k / _param(params, str(vol), self.id)
                K[..., t, t] -= k
                continue
            K[..., s, s] -= k
            if f.target is not None:
                t = idx[f.target]
                frac = (
                    1.0
                    if f.fraction is None
                    else (
                        _param(params, f.fraction, self.id)
                        if isinstance(f.fraction, str)
                        else float(f.fraction)
                    )
                )
                K[..., t, s] += frac * self._stoichiometry(f.source, f.target) * k
        return K

    @property
    def is_linear(self) -> bool:
        """True when every flow is first order (the exact solver applies)."""
        return all(f.kind != "saturable" for f in self.flows)

    def compute_saturable_terms(
        self, params: Mapping[str, Any]
    ) -> list[tuple[int, int, float, Any, Any, Any]]:
        """Michaelis-Menten flows as (source, target or -1, fraction x stoichiometry, Vmax, Km, V).

        Vmax in amount/time, Km in concentration, V the source volume (arrays broadcast like
        ``params``). The flow is ``Vmax * C / (Km + C)`` with ``C = A_source / V``.
        """
        idx = {c.name: i for i, c in enumerate(self.compartments)}
        out = []
        for f in self.flows:
            if f.kind != "saturable":
                continue
            t = idx[f.target] if f.target is not None else -1
            if f.fraction is None:
                frac = 1.0
            elif isinstance(f.fraction, str):
                frac = float(np.asarray(_param(params, f.fraction, self.id)).ravel()[0])
            else:
                frac = float(f.fraction)
            stoich = self._stoichiometry(f.source, f.target) if f.target is not None else 1.0
            vol = _param(params, str(self.get_compartment(f.source).volume), self.id)
            out.append(
                (
                    idx[f.source],
                    t,
                    frac * stoich,
                    _param(params, str(f.vmax), self.id),
                    _param(params, str(f.km), self.id),
                    vol,
                )
            )
        return out

    def _flow_rate(self, f: Flow, params: Mapping[str, Any]) -> Any:
        if f.rate is not None and (f.clearance is None or f.rate in params):
            return _param(params, f.rate, self.id)
        vol = self.get_compartment(f.source).volume
        return _param(params, str(f.clearance), self.id) / _param(params, str(vol), self.id)

    def _stoichiometry(self, source: str, target: str) -> float:
        a = self.get_compartment(source).analyte
        b = self.get_compartment(target).analyte
        if self.amount_basis != "molar" or a is None or b is None or a == b:
            return 1.0
        return get_molar_mass_g_per_mol(b) / get_molar_mass_g_per_mol(a)

    def get_required_flow_parameters(self) -> set[str]:
        """Parameter names the rate matrix needs (one of clearance/rate per flow)."""
        need: set[str] = set()
        for f in self.flows:
            if f.kind == "saturable":
                need |= {str(f.vmax), str(f.km), str(self.get_compartment(f.source).volume)}
                continue
            if f.kind == "integral":
                need.add(str(self.get_compartment(f.source).volume))
                continue
            need.add(f.rate if f.rate is not None else str(f.clearance))
            if (f.clearance is not None and f.rate is None) or f.kind == "effect":
                need.add(str(self.get_compartment(f.source).volume))
            if isinstance(f.fraction, str):
                need.add(f.fraction)
        return need


def _param(params: Mapping[str, Any], name: str, model: str) -> Any:
    try:
        return params[name]
    except KeyError:
        raise ParameterError(f"model {model}: parameter {name} is not given") from None


# --- built-in generic models --------------------------------------------------------------------
