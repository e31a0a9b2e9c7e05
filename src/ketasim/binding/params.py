"""Individual parameters computed again and again for the same input names: :class:`ParameterPlan`.

Owns a compiled form of :func:`ketasim.individual.compute_individual_parameters` followed by
:func:`ketasim.individual.check_parameters`, for a re-solve that changes only the values of the
covariates, ETAs and parameter overrides (:mod:`ketasim.prepared`). What depends only on the
names (which expressions are evaluated, in which order; which names are missing) is worked out
once; the values are then evaluated by the same expressions in the same order, so the numbers are
the same. The checks of those functions are replaced by one screen per domain that is at least as
strict; when a value fails it, :meth:`ParameterPlan.evaluate` returns None and the caller takes
the ordinary path, which raises the error (naming the input) that ``simulate`` raises.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import numpy.typing as npt

from ketasim.errors import KetasimError
from ketasim.individual import check_parameters, compute_individual_parameters
from ketasim.spec import ModelSpec, find_outside_domain

__all__ = ["ParameterPlan"]

FloatArray = npt.NDArray[np.float64]
_Check = tuple[str, float | None, float | None]  # domain, lower, upper limit


class ParameterPlan:
    """Evaluation order and checks of the individual parameters for fixed input names.

    Build one with :meth:`build` from a first set of values (solved by the ordinary path).
    """

    def __init__(
        self,
        spec: ModelSpec,
        covariate_names: tuple[str, ...],
        param_names: tuple[str, ...],
        keys: list[str],
    ) -> None:
        self.spec = spec
        self._eta_names = spec.get_eta_names()
        self._params = param_names
        env = set(spec.thetas) | set(spec.defaults) | set(covariate_names)
        env |= set(self._eta_names) | set(param_names)
        pending = {k: e for k, e in spec.individual.items() if k not in param_names}
        order: list[str] = []
        while True:  # NOTE: the batches of compute_individual_parameters, in its order
            done = [k for k, e in pending.items() if e.names <= env]
            if not done:
                break
            for k in done:
                order.append(k)
                env.add(k)
                pending.pop(k)
        self._order = [(k, spec.individual[k]) for k in order]
        self._free = [
            n for n in spec.free_parameters if n in env and n not in order and n not in param_names
        ]
        self._base: dict[str, Any] = {name: p.value for name, p in spec.thetas.items()}
        self._base.update({k: float(v) for k, v in spec.defaults.items()})
        self._keys = keys
        # the screen: every check of the ordinary path, or a stricter one
        checks: dict[str, list[_Check]] = {}
        for k in covariate_names:
            cov = spec.covariates[k]
            dom = cov.domain or spec.parameter_domains.get(k, "real")
            checks.setdefault(k, []).append((dom, cov.min, cov.max))
        for k in keys:
            checks.setdefault(k, []).append((spec.parameter_domains.get(k, "real"), None, None))
        for name in _rate_like_names(spec):
            if name in keys:
                checks[name].append(("nonnegative", None, None))
        for c in spec.compartments:
            if c.volume and c.volume in keys:
                checks[c.volume].append(("positive", None, None))
        groups: dict[_Check, list[str]] = {}
        for name, cs in checks.items():
            for chk in cs:
                groups.setdefault(chk, []).append(name)
        self._groups = list(groups.items())
        # the same screen as bounds on one flat vector, for values of one element each
        self._names = [n for _, names in self._groups for n in names]
        bounds = np.array([_bounds(chk) for chk, names in self._groups for _ in names])
        self._gt, self._ge, self._le = bounds[:, 0], bounds[:, 1], bounds[:, 2]
        self._whole = bounds[:, 3] > 0
        self._binary = bounds[:, 4] > 0

    @classmethod
    def build(
        cls,
        spec: ModelSpec,
        covariates: Mapping[str, Any],
        etas: FloatArray | None,
        params: Mapping[str, Any],
    ) -> tuple[ParameterPlan, dict[str, Any]] | None:
        """The plan for these names and the parameters of these values (ordinary path), or None
        when the ordinary path refuses them."""
        try:
            p = compute_individual_parameters(spec, covariates=covariates, etas=etas, params=params)
            check_parameters(spec, p)
        except KetasimError:
            return None
        return cls(spec, tuple(covariates), tuple(params), list(p)), p

    def evaluate(
        self,
        covariates: Mapping[str, Any],
        etas: FloatArray | None,
        params: Mapping[str, Any],
    ) -> dict[str, Any] | None:
        """Individual parameters (the values the ordinary path gives), or None when a value
        fails the screen.

        Parameters
        ----------
        covariates : mapping, declared units
            Float arrays, scalars or one value per subject.
        etas : (subjects, n_eta) array or None
        params : mapping, canonical units
        """
        env: dict[str, Any] = dict(self._base)
        env.update(covariates)
        for j, name in enumerate(self._eta_names):
            env[name] = etas[:, j] if etas is not None else 0.0
        out: dict[str, Any] = {}
        for k in self._params:
            out[k] = env[k] = params[k]
        with np.errstate(all="ignore"):
            for k, e in self._order:
                env[k] = out[k] = np.asarray(e.evaluate(env), dtype=float)
        for name in self._free:
            out[name] = np.asarray(env[name], dtype=float)
        for name, p in self.spec.thetas.items():
            out.setdefault(name, np.asarray(p.value))
        values = [out[n] if n in out else env[n] for n in self._names]
        try:
            flat = np.array(values, dtype=float)
        except ValueError:
            flat = np.zeros(0)
        if flat.shape == (len(values),):
            with np.errstate(invalid="ignore"):
                bad = (
                    ~np.isfinite(flat) | (flat <= self._gt) | (flat < self._ge) | (flat > self._le)
                    | (self._whole & (flat != np.round(flat)))
                    | (self._binary & (flat != 0) & (flat != 1))
                )  # fmt: skip
            if np.any(bad):
                return None
        else:
            for (domain, lo, hi), names in self._groups:
                vals = [np.ravel(out[n] if n in out else env[n]) for n in names]
                if np.any(find_outside_domain(np.concatenate(vals), domain, lo, hi)):
                    return None
        return {k: out[k] for k in self._keys}


def _bounds(chk: _Check) -> tuple[float, float, float, float, float]:
    """(strict lower, lower, upper, whole number, binary) of a domain check, as in
    :func:`ketasim.spec.find_outside_domain`."""
    domain, lo, hi = chk
    gt, ge, le = -math.inf, -math.inf, math.inf
    whole = binary = 0.0
    if domain == "positive":
        gt = 0.0
    elif domain == "nonnegative":
        ge = 0.0
    elif domain == "fraction":
        ge, le = 0.0, 1.0
    elif domain == "binary":
        binary = 1.0
    elif domain == "integer":
        whole = 1.0
    elif domain == "count":
        whole, ge = 1.0, 1.0
    if lo is not None:
        ge = max(ge, float(lo))
    if hi is not None:
        le = min(le, float(hi))
    return gt, ge, le, whole, binary


def _rate_like_names(spec: ModelSpec) -> set[str]:
    """Every parameter that drives a flow, and every free parameter not named F... (>= 0)."""
    names: set[str] = set(spec.get_required_flow_parameters())
    for f in spec.flows:
        for ref in (f.clearance, f.rate):
            if ref is not None:
                names.add(str(ref))
    names |= {n for n in spec.free_parameters if not n.startswith("F")}
    return names
