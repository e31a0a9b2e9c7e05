"""A simulation prepared once and re-solved many times (:func:`prepare`, PreparedSimulation).

TCI planning, MAP fitting and the app solve the same events on the same output times thousands of
times, each time with other ETAs, parameters or covariates. :func:`prepare` does once what does
not depend on them (records, binding, schedule compilation, the dose pieces, the order in which
individual parameters are computed) and :meth:`PreparedSimulation.run` re-solves. ``run`` returns
the :class:`~ketasim.results.Result` that :func:`~ketasim.simulate.simulate` returns for the same
arguments (tests check agreement to 1e-12 of each output's peak, and that the same inputs are
refused with the same errors); :meth:`PreparedSimulation.run_conc` returns the bare array.
This module owns the re-solve; it does not change what a simulation means.

Maths of the fast re-solve
--------------------------
For a linear model whose parameters are constant within each subject and whose doses are boluses
and zero-order infusions (no steady-state dose, no reset), the amounts are a superposition of
dose responses (linearity and time invariance). With the rate matrix diagonalised,
``K = V diag(lam) V^-1`` (``numpy.linalg.eig``; columns of ``V`` of unit norm), and modal
coordinates ``z = V^-1 A``::

    z_j(t) = sum_bolus  a V^-1[j, c] exp(lam_j tau)                         (tau >= 0)
           + sum_infusion r V^-1[j, c] phi(lam_j, min(tau, d)) exp(lam_j max(tau - d, 0))

with ``tau = t - s`` the time since the dose started (``s`` after lag), ``a`` the bioavailable
amount, ``r`` the rate and ``d`` the duration, and ``phi(lam, u) = expm1(lam u) / lam`` (``u`` for
``lam = 0``), the integral of ``exp(lam s)`` over ``[0, u]``. An infusion is one term (not a start
minus an end) and ``phi`` is written with ``expm1``, so nothing cancels when ``|lam|`` is small
(eigenvalue 0 of a closed system included). Outputs are ``W V z`` (``W`` the 1/V rows of the
concentrations). Round-off in this sum grows with the condition numbers of the eigenvalues, the
norms of the rows of ``V^-1`` (Golub & Van Loan 2013, section 7.2.2); the fast path is used only
when all of them are <= 1e3, which bounds it near 1e-13 of the peak. Everything else (nearly
defective matrices such as KA close to the elimination rate, the ODE path, parameter epochs,
steady state, resets, a change of a dose modifier F, lag, modelled rate or duration, another
number of subjects, a per-kg regimen whose weight changes, the records layout) runs through the
engine exactly as :func:`~ketasim.simulate.simulate` does.

References: Golub GH, Van Loan CF. Matrix Computations, 4th ed. Johns Hopkins 2013, section
7.2.2 (eigenvalue sensitivity); Moler C, Van Loan C. Nineteen dubious ways to compute the
exponential of a matrix, SIAM Rev 2003;45:3 (method 14, eigenvectors, and its failure for
nearly defective matrices).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import numpy as np
import numpy.typing as npt

from ketasim.binding import (
    bind_records,
    check_covariates,
    classify_columns,
    compute_record_covariates,
)
from ketasim.binding.doses import expand_doses
from ketasim.binding.params import ParameterPlan
from ketasim.engine import _clean, _outputs
from ketasim.errors import ParameterError
from ketasim.events import Regimen
from ketasim.individual import derive_per_dose_covariates, is_modifier
from ketasim.prepared.modal import compute_modal_outputs, get_pieces
from ketasim.results import Result
from ketasim.simulate import (
    _check_options,
    _check_times,
    _resolve_method,
    _resolve_model,
    get_records,
    simulate,
)
from ketasim.solver import compile_schedule
from ketasim.spec import ModelSpec

__all__ = ["PreparedSimulation", "prepare"]

FloatArray = npt.NDArray[np.float64]


class _Keep:
    """Marker of an argument left out of ``run``: the value given to ``prepare`` is kept."""

    def __repr__(self) -> str:
        return "KEEP"


KEEP: Any = _Keep()


class PreparedSimulation:
    """Events and output times bound to a model once, re-solved by :meth:`run` (module notes).

    Make one with :func:`prepare`. Attributes: ``spec`` (ModelSpec), ``time_h`` (T,) h,
    ``outputs`` (names of the concentration outputs, the ``Result.conc`` keys, in the order of
    the last axis of :meth:`run_conc`), ``n_subjects``, ``fast`` (True when the fast re-solve
    applies to these events; ``reason`` says why not otherwise).
    """

    def __init__(
        self,
        spec: ModelSpec,
        events: Any,
        times: FloatArray,
        inputs: dict[str, Any],
        options: dict[str, Any],
    ) -> None:
        self.spec = spec
        self.time_h = times
        self._events = events
        self._inputs = inputs
        self._options = options
        self._outs = _outputs(spec)
        self.outputs: tuple[str, ...] = tuple(name for name, _, _ in self._outs)
        #: compartment index (0-based) of each output
        self.output_compartments: tuple[int, ...] = tuple(i for _, i, _ in self._outs)
        self._result = self._simulate(inputs)
        self.n_subjects = self._result.n_subjects
        self.fast = False
        self.reason = ""
        self._setup_fast()

    # --- preparation ------------------------------------------------------------------------
    def _simulate(self, inputs: Mapping[str, Any]) -> Result:
        o = self._options
        return simulate(
            self.spec, self._events, self.time_h, covariates=inputs["covariates"],
            etas=inputs["etas"], params=inputs["params"], weight_kg=o["weight_kg"],
            fill=o["fill"], time_unit=o["time_unit"], unit=o["unit"],
            keep_amounts=o["keep_amounts"], method=o["method"], rtol=o["rtol"],
            check_validity=o["check_validity"], modifiers=o["modifiers"],
        )  # fmt: skip

    def _records(self, covariates: Any) -> tuple[Any, Any]:
        o, i = self._options, self._inputs
        data, covs, _ = get_records(
            self.spec, self._events, self.time_h, covariates, i["etas"], i["params"],
            o["weight_kg"], o["time_unit"], o["modifiers"],
        )  # fmt: skip
        return data, covs

    def _setup_fast(self) -> None:
        spec, o = self.spec, self._options
        if _resolve_method(spec, o["method"]) != "exact":
            self.reason = "nonlinear model or method 'ode': each run goes through the engine"
            return
        data, covs = self._records(self._inputs["covariates"])
        bound = bind_records(
            spec, data, covariates=covs, etas=self._inputs["etas"],
            params=self._inputs["params"], fill=o["fill"], check_validity=False,
            check_doses=False, t_start_h=float(np.min(self.time_h)),
        )  # fmt: skip
        kinds = classify_columns(spec, data)
        if kinds["eta"] or any(g.K.shape[1] > 1 for g in bound.groups):
            self.reason = "ETA columns or parameters that change within a subject"
            return
        varying = [
            c for c in (*kinds["cov"], *kinds["param"])
            if np.any(data[c] != data[c][bound.first_row][bound.subject])
        ]  # fmt: skip
        if varying:
            self.reason = f"dataset values that change within a subject ({', '.join(varying)})"
            return
        scheds = [(g.subjects, compile_schedule(g.template, g.subjects.size)) for g in bound.groups]
        pieces = get_pieces(scheds, bound.n_subjects)
        if pieces is None:
            self.reason = "steady-state doses or resets"
            return
        self._data = data
        self._covs = covs
        self._bound = bound
        self._kinds = kinds
        self._pieces = pieces
        self._expanded = expand_doses(spec, data, bound.params, bound.subject)
        self._first = {k: np.asarray(v)[bound.first_row] for k, v in bound.params.items()}
        self._modifier_keys = _modifier_keys(spec, bound.params)
        self._col_covs = {c: data[c][bound.first_row] for c in kinds["cov"]}
        self._col_params = {
            spec.aliases.get(c, c): data[c][bound.first_row] for c in kinds["param"]
        }
        self._plans: dict[tuple[object, ...], ParameterPlan] = {}
        self._regimen = isinstance(self._events, Regimen)
        w = o["weight_kg"]
        self._weight_sizes = (
            {int(np.size(w))} if w is not None and np.ndim(w) == 1 and np.size(w) > 1 else set()
        )
        self._checked: tuple[tuple[str, bytes], ...] | None = None
        self.fast = True

    # --- re-solve ---------------------------------------------------------------------------
    def run(self, *, covariates: Any = KEEP, etas: Any = KEEP, params: Any = KEEP) -> Result:
        """Re-solve with other covariates, ETAs or parameters; the Result of ``simulate``.

        Parameters
        ----------
        covariates, etas, params
            As for :func:`~ketasim.simulate.simulate` (declared units; canonical units for
            parameters); an argument left out keeps the value given to :func:`prepare`, ``None``
            means none.

        Returns
        -------
        Result
            Equal to ``simulate(model, events, times_h, ...)`` with these arguments (to round-off,
            about 1e-13 of the peak); warnings about the events themselves (unused dataset
            columns) are given once, by :func:`prepare`.
        """
        solved = self._solve(covariates, etas, params)
        if isinstance(solved, Result):
            return solved
        conc, amounts, p = solved
        N = self.n_subjects
        return replace(
            self._result,
            conc={name: conc[:, :, j] for j, name in enumerate(self.outputs)},
            amounts=amounts,
            params={k: _per_subject(p[k], N) for k in self._first},
        )

    def run_conc(
        self, *, covariates: Any = KEEP, etas: Any = KEEP, params: Any = KEEP
    ) -> FloatArray:
        """Concentrations only, ``(subjects, times, outputs)``, mg/L (generic models: amount per
        volume in the user's units); outputs in the order of :attr:`outputs`.

        The same numbers as ``run(...).conc`` (no Result is built: the form for loops of
        thousands of calls).
        """
        solved = self._solve(covariates, etas, params)
        if isinstance(solved, Result):
            return np.stack([solved.conc[name] for name in self.outputs], axis=-1)
        return solved[0]

    def _merged(self, covariates: Any, etas: Any, params: Any) -> dict[str, Any]:
        i = self._inputs
        return {
            "covariates": i["covariates"] if covariates is KEEP else covariates,
            "etas": i["etas"] if etas is KEEP else etas,
            "params": i["params"] if params is KEEP else params,
        }

    def _solve(
        self, covariates: Any, etas: Any, params: Any
    ) -> Result | tuple[FloatArray, FloatArray | None, dict[str, FloatArray]]:
        inputs = self._merged(covariates, etas, params)
        if not self.fast:
            return self._simulate(inputs)
        p = self._parameters(inputs, covariates is not KEEP)
        if p is None:
            return self._simulate(inputs)
        spec, N = self.spec, self.n_subjects
        K = np.asarray(spec.compute_rate_matrix(p), dtype=float)
        K = np.broadcast_to(K, (N, *K.shape[-2:]))
        W = np.zeros((N, len(self._outs), spec.n_compartments))
        for j, (_, i, vol) in enumerate(self._outs):
            W[:, j, i] = 1.0 if vol is None else 1.0 / p[vol]
        solved = compute_modal_outputs(
            K, W, self._pieces, self.time_h, bool(self._options["keep_amounts"])
        )
        if solved is None:
            return self._simulate(inputs)
        conc, amounts = solved
        return _clean(conc, spec), amounts, p

    def _parameters(self, inputs: Mapping[str, Any], new_covariates: bool) -> dict[str, Any] | None:
        """Individual parameters on the fast path, or None for the engine (which then gives
        simulate's result, or raises simulate's error)."""
        try:
            return self._fast_parameters(inputs, new_covariates)
        except (TypeError, ValueError):
            return None  # inputs that are not numbers: simulate names them

    def _fast_parameters(
        self, inputs: Mapping[str, Any], new_covariates: bool
    ) -> dict[str, Any] | None:
        spec, N = self.spec, self.n_subjects
        covs: Mapping[str, Any] | None = self._covs
        if new_covariates:
            ev, given = self._events, inputs["covariates"]
            data = self._data
            if (
                isinstance(ev, Regimen)
                and not ev.has_per_kg_doses
                and self._options["weight_kg"] is None
                and not self._options["modifiers"]
                and (given is None or isinstance(given, Mapping))
            ):
                # NOTE: such a regimen's records do not depend on the covariates (as in
                # get_records, only the covariates derived from its doses are added)
                covs = dict(given or {})
                covs.update(derive_per_dose_covariates(spec, ev, covs))
            else:
                data, covs = self._records(given)
                if len(data) != len(self._data) or not all(
                    np.array_equal(data[c], self._data[c], equal_nan=True) for c in data.columns
                ):
                    return None  # other records (per-kg doses, another number of subjects)
        # NOTE: as simulate counts subjects (the one length > 1 of the per-subject inputs; for
        # records, the records' subjects): another count goes through the engine
        sizes: set[int] = set(self._weight_sizes)
        cov_in: dict[str, Any] = {}
        for k, v in (covs or {}).items():
            if isinstance(v, str) or k in self._col_covs:
                return None  # not a number, or also a dataset column: the engine refuses it
            a = np.asarray(v, dtype=float)
            if a.ndim > 1:
                return None
            cov_in[k] = a
            if a.ndim == 1 and a.size > 1:
                sizes.add(a.size)
        cov_in.update(self._col_covs)
        par_in: dict[str, Any] = {}
        for k, v in (inputs["params"] or {}).items():
            a = np.asarray(v, dtype=float)
            if a.ndim > 1:
                return None
            par_in[spec.aliases.get(k, k)] = a
            if a.ndim == 1 and a.size > 1:
                sizes.add(a.size)
        par_in.update(self._col_params)  # NOTE: as in binding, a dataset column wins
        eta = inputs["etas"]
        eta_arr = None
        if eta is not None:
            eta_arr = np.atleast_2d(np.asarray(eta, dtype=float))
            if eta_arr.ndim != 2:
                return None
            if eta_arr.shape[0] > 1:
                sizes.add(eta_arr.shape[0])
            eta_arr = np.broadcast_to(eta_arr, (N, eta_arr.shape[-1]))
        if len(sizes) > 1 or (sizes and sizes != {N}) or (not sizes and self._regimen and N > 1):
            return None
        key = (tuple(cov_in), tuple(par_in), None if eta_arr is None else eta_arr.shape[-1])
        plan = self._plans.get(key)
        if plan is None:
            built = ParameterPlan.build(spec, cov_in, eta_arr, par_in)
            if built is None:
                return None  # refused: the engine raises the error simulate raises
            plan, p = built
            self._plans[key] = plan
        else:
            evaluated = plan.evaluate(cov_in, eta_arr, par_in)
            if evaluated is None:
                return None  # a value outside its domain: the engine raises simulate's error
            p = evaluated
        for k in self._modifier_keys:
            if not np.array_equal(np.broadcast_to(p[k], (N,)), self._first[k]):
                return None  # a dose modifier changed: the doses must be compiled again
        if new_covariates:
            # NOTE: the warnings of these checks depend on the covariates only: the same values
            # as the last run's are not checked again
            seen = tuple((k, np.asarray(v).tobytes()) for k, v in cov_in.items())
            if seen != self._checked:
                b = self._bound
                rec = compute_record_covariates(data, self._kinds, b.subject, N, covs)
                check_covariates(
                    spec,
                    data,
                    rec,
                    self._expanded,
                    b.subject,
                    bool(self._options["check_validity"]),
                )
                self._checked = seen
        return p


def _per_subject(value: Any, N: int) -> FloatArray:
    a = np.asarray(value, dtype=float)
    if a.shape == (N,):
        return a
    return np.full(N, float(a)) if a.size == 1 else np.broadcast_to(a, (N,)).copy()


def _modifier_keys(spec: ModelSpec, p: Mapping[str, Any]) -> tuple[str, ...]:
    """Parameters that set F, lag or a modelled rate/duration of some dose."""
    refs = {
        ref
        for route in spec.routes.values()
        for inp in route.inputs
        for ref in (inp.F, inp.lag, inp.rate, inp.duration)
        if isinstance(ref, str)
    }
    return tuple(k for k in p if k in refs or is_modifier(k, spec))


def prepare(
    model: ModelSpec | str,
    events: Any,
    times_h: Any,
    *,
    covariates: Mapping[str, Any] | None = None,
    etas: Any = None,
    params: Mapping[str, Any] | None = None,
    weight_kg: Any = None,
    fill: str = "nocb",
    time_unit: str = "h",
    unit: str = "ng/mL",
    keep_amounts: bool = False,
    method: str = "auto",
    rtol: float = 1e-10,
    check_validity: bool = True,
    modifiers: tuple[Any, ...] = (),
) -> PreparedSimulation:
    """Prepare a simulation for many re-solves (module notes).

    Takes the arguments of :func:`~ketasim.simulate.simulate` (an output grid ``times_h`` (T,),
    h, is required); solves once (the result of that solve is what ``run()`` with no argument
    returns).

    Returns
    -------
    PreparedSimulation

    Examples
    --------
    >>> import numpy as np
    >>> from ketasim import Regimen, load_model, simulate
    >>> spec = load_model("herd_2007")
    >>> reg = Regimen.from_quantities("1 mg/kg")
    >>> prep = prepare(spec, reg, np.linspace(0.0, 4.0, 9), covariates={"WT": 20.0})
    >>> eta = np.array([[0.1, -0.2, 0.3, 0.0]])
    >>> a = prep.run_conc(etas=eta)[0, :, 0]
    >>> b = simulate(spec, reg, np.linspace(0.0, 4.0, 9), covariates={"WT": 20.0}, etas=eta)
    >>> bool(np.max(np.abs(a - b.conc["ketamine"][0])) <= 1e-12 * np.max(a))
    True
    """
    spec = _resolve_model(model)
    _resolve_method(spec, method)
    _check_options(unit, 1, None)
    if times_h is None:
        raise ParameterError("prepare needs output times: give times_h (h)")
    times = _check_times(times_h)
    inputs = {"covariates": covariates, "etas": etas, "params": params}
    options = {
        "weight_kg": weight_kg, "fill": fill, "time_unit": time_unit, "unit": unit,
        "keep_amounts": keep_amounts, "method": method, "rtol": rtol,
        "check_validity": check_validity, "modifiers": tuple(modifiers),
    }  # fmt: skip
    return PreparedSimulation(spec, events, times, inputs, options)
