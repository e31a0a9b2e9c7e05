"""Individual parameters: typical values, covariate expressions, ETAs and overrides.

Owns turning a ModelSpec plus a subject's covariates, random effects and user overrides into
arrays of individual parameters in canonical units, and checking that the rate matrix has what
it needs. It does not simulate (that is :mod:`ketasim.simulate`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import numpy.typing as npt

from ketasim.errors import ModelError, ParameterError
from ketasim.spec import ModelSpec

__all__ = ["check_parameters", "compute_individual_parameters", "is_modifier"]

FloatArray = npt.NDArray[np.float64]
_MODIFIERS = ("F", "ALAG", "R", "D")


def compute_individual_parameters(
    spec: ModelSpec,
    *,
    covariates: Mapping[str, Any] | None = None,
    etas: FloatArray | None = None,
    params: Mapping[str, Any] | None = None,
) -> dict[str, FloatArray]:
    """Individual parameters of a model, canonical units, as arrays broadcast over subjects.

    Parameters
    ----------
    spec : ModelSpec
    covariates : mapping, optional
        Covariate name -> value(s) in the covariate's declared unit (e.g. WT in kg); scalars or
        arrays (subjects,) or (subjects, records).
    etas : ndarray (subjects, n_eta), optional
        Between-subject random effects in the order of ``spec.iiv.names``; zeros when omitted.
    params : mapping, optional
        Direct values for individual parameters (override the expressions), canonical units
        for library models, the user's units for generic models.

    Returns
    -------
    dict of str to ndarray
    """
    covariates = dict(covariates or {})
    params = {spec.aliases.get(k, k): v for k, v in (params or {}).items()}
    known = set(spec.get_parameter_names()) | set(_modifier_names(spec)) | set(spec.thetas)
    for k in params:
        if k not in known and not is_modifier(k, spec):
            raise ParameterError(
                f"model {spec.id} has no parameter {k!r}; parameters: "
                + ", ".join(spec.get_parameter_names())
            )
    for k in covariates:
        if k not in spec.covariates:
            raise ParameterError(
                f"model {spec.id} has no covariate {k!r}; covariates: "
                + (", ".join(spec.covariates) or "none")
            )
    env: dict[str, Any] = {name: p.value for name, p in spec.thetas.items()}
    env.update({k: float(v) for k, v in spec.defaults.items()})
    for name in spec.covariates:
        if name not in covariates:
            raise ParameterError(
                f"model {spec.id}: covariate {name} "
                f"({spec.covariates[name].unit or 'dimensionless'})"
                " is not given"
            )
        env[name] = np.asarray(covariates[name], dtype=float)
    names = spec.get_eta_names()
    if etas is not None:
        etas = np.atleast_2d(np.asarray(etas, dtype=float))
        if etas.shape[-1] != len(names):
            raise ParameterError(
                f"model {spec.id}: {etas.shape[-1]} ETAs given, model has {len(names)}"
            )
    for j, name in enumerate(names):
        env[name] = etas[:, j] if etas is not None else 0.0
    out: dict[str, Any] = {}
    pending = dict(spec.individual)
    for k, v in params.items():
        out[k] = np.asarray(v, dtype=float)
        env[k] = out[k]
        pending.pop(k, None)
    for _ in range(len(pending) + 1):
        done = [k for k, e in pending.items() if e.names <= set(env)]
        if not done:
            break
        for k in done:
            with np.errstate(all="ignore"):
                env[k] = out[k] = np.asarray(pending.pop(k).evaluate(env), dtype=float)
    if pending:
        raise ModelError(
            f"model {spec.id}: circular individual parameter definitions: {sorted(pending)}"
        )
    for name in spec.free_parameters:
        if name in env and name not in out:
            out[name] = np.asarray(env[name], dtype=float)
    for name, p in spec.thetas.items():
        out.setdefault(name, np.asarray(p.value))
    for k, v in out.items():
        if not np.all(np.isfinite(v)):
            raise ParameterError(
                f"model {spec.id}: parameter {k} is not finite ({_first_nonfinite(v)})"
            )
    return out


def _first_nonfinite(v: FloatArray) -> float:
    a = np.asarray(v).ravel()
    return float(a[~np.isfinite(a)][0])


def is_modifier(name: str, spec: ModelSpec) -> bool:
    for m in _MODIFIERS:
        if name.startswith(m) and name[len(m) :].isdigit():
            return 1 <= int(name[len(m) :]) <= spec.n_compartments
    return False


def _modifier_names(spec: ModelSpec) -> list[str]:
    return [f"{m}{i}" for m in _MODIFIERS for i in range(1, spec.n_compartments + 1)]


def check_parameters(spec: ModelSpec, p: Mapping[str, FloatArray]) -> None:
    need = spec.get_required_flow_parameters()
    for f in spec.flows:  # either form of a flow is acceptable for generic models
        if f.rate is not None and f.clearance is not None:
            if f.rate in p:
                need.discard(str(f.clearance))
            else:
                need.discard(f.rate)
                need.add(str(spec.get_compartment(f.source).volume))
    for c in spec.compartments:
        if c.kind == "central" and c.volume:
            need.add(c.volume)
    missing = sorted(n for n in need if n not in p)
    if missing:
        raise ParameterError(
            f"model {spec.id}: parameter(s) {', '.join(missing)} not given"
            + (" (pass --param NAME=VALUE or a dataset column)" if spec.generic else "")
        )
    for name in need:
        v = np.asarray(p[name])
        if np.any(v < 0):
            raise ParameterError(
                f"model {spec.id}: parameter {name}={float(np.min(v))} is negative"
            )
    for c in spec.compartments:
        if c.volume and c.volume in p and np.any(np.asarray(p[c.volume]) <= 0):
            raise ParameterError(f"model {spec.id}: volume {c.volume} of {c.name} must be > 0")
