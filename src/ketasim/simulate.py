"""The one place where a model, a dosing history and output times meet: :func:`simulate`.

Every simulation takes one path: the events (a people-facing
:class:`~ketasim.events.Regimen`, NONMEM records as a :class:`~ketasim.events.Dataset`, a pandas
DataFrame or a CSV path) become records (:meth:`Regimen.to_records`), the records are bound to
the model (:mod:`ketasim.binding`: routes, compartments, time-varying values, ETAs, dose
plausibility, validity ranges, subject groups), each group of subjects is compiled once and solved
in one batch (exact linear solution, or the ODE path for nonlinear models), and one
:class:`~ketasim.results.Result` comes out. Library models run in canonical units (h, mg, L,
mg/L); generic ``pk*`` models in the user's own consistent units.

``simulate_regimen`` and ``simulate_dataset`` are kept as thin wrappers of :func:`simulate`.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

import numpy as np
import numpy.typing as npt

from ketasim.binding import bind_records
from ketasim.engine import solve_grid, solve_records
from ketasim.errors import EventError, ParameterError
from ketasim.events import Dataset, Regimen
from ketasim.individual import derive_per_dose_covariates
from ketasim.results import Result
from ketasim.spec import ModelSpec
from ketasim.units import convert_magnitude, get_conc_factor

__all__ = ["Result", "get_records", "simulate", "simulate_dataset", "simulate_regimen"]

FloatArray = npt.NDArray[np.float64]


def _as_dataset(events: Any, time_unit: str, generic: bool) -> Dataset:
    if isinstance(events, Dataset):
        data = events
    elif isinstance(events, (str, os.PathLike)):
        from ketasim.io.nonmem_csv import read_nonmem_csv

        data = read_nonmem_csv(events)
    elif hasattr(events, "columns") and hasattr(events, "dtypes"):
        data = Dataset.from_pandas(events)
    else:
        raise EventError(
            f"events must be a Regimen, a Dataset, a pandas DataFrame or a CSV path, not "
            f"{type(events).__name__}"
        )
    if time_unit != "h":
        if generic:
            raise ParameterError(
                f"time_unit={time_unit!r}: generic models run in your own units; convert TIME "
                "yourself"
            )
        f = convert_magnitude(1.0, time_unit, "h", what="time_unit")
        rate = data["RATE"]
        data = data.with_columns(
            TIME=data["TIME"] * f,
            II=data["II"] * f,
            RATE=np.where(rate > 0, rate / f, rate),
        )
    return data


def _n_subjects(*values: Any) -> int:
    n = 1
    for v in values:
        if v is None:
            continue
        items = v.values() if isinstance(v, Mapping) else [v]
        for x in items:
            shape = np.shape(x) if not isinstance(x, str) else ()
            if len(shape) >= 1 and shape[0] > 1:
                if n > 1 and shape[0] != n:
                    raise ParameterError(
                        f"per-subject inputs disagree on the number of subjects ({n} vs {shape[0]})"
                    )
                n = shape[0]
    return n


def _regimen_records(
    spec: ModelSpec,
    regimen: Regimen,
    covariates: Mapping[str, Any] | None,
    etas: Any,
    params: Mapping[str, Any] | None,
    weight_kg: Any,
) -> tuple[Dataset, dict[str, Any] | None]:
    covs = dict(covariates or {})
    covs.update(derive_per_dose_covariates(spec, regimen, covs))
    n = _n_subjects(covs, None if etas is None else np.atleast_2d(np.asarray(etas)), params,
                    weight_kg)  # fmt: skip
    wt = covs.get("WT")
    if weight_kg is not None:
        if wt is not None and not np.allclose(np.asarray(wt, float), np.asarray(weight_kg, float)):
            raise ParameterError("weight_kg and covariate WT disagree: give the weight once")
        if "WT" in spec.covariates and wt is None:
            covs["WT"] = weight_kg
        wt = weight_kg
    if wt is not None and not isinstance(wt, str):
        try:
            w = np.broadcast_to(np.asarray(wt, dtype=float), (n,))
        except (TypeError, ValueError):
            raise ParameterError(
                f"covariate WT={wt!r}: give the body weight as a number in kg (e.g. 70)"
            ) from None
    elif isinstance(wt, str):
        raise ParameterError(f"covariate WT={wt!r}: give the body weight as a number in kg")
    else:
        w = None
    if regimen.has_per_kg_doses and w is None:
        raise EventError(
            "a per-kg dose needs the body weight: give weight_kg (or the covariate WT, kg)"
        )
    weights = w if w is not None else np.ones(n)
    return regimen.to_records(weight_kg=weights), (covs or None)


def simulate(
    model: ModelSpec | str,
    events: Any,
    times_h: Any = None,
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
    chunk_size: int | None = None,
    workers: int = 1,
    check_validity: bool = True,
    modifiers: Sequence[Any] = (),
) -> Result:
    """Simulate a model for a regimen or NONMEM records; one :class:`Result`.

    Parameters
    ----------
    model : ModelSpec or str
        A library model id (``"simons_2022"``), a built-in generic model (``"pk2"``), a path
        to a model file, or a loaded :class:`ModelSpec`.
    events : Regimen, Dataset, pandas.DataFrame or path
        A regimen (doses with units) or NONMEM records (TIME in ``time_unit``, AMT mg, RATE
        mg/``time_unit`` for library models).
    times_h : array (T,), h, optional
        Output grid shared by every subject (an output at a dose time is post-dose). Required
        for a regimen; for records, omit it for one output per record (NONMEM table).
    covariates : mapping, optional
        Covariates in their declared units (e.g. ``WT`` kg), scalars or one value per subject.
    etas : array (subjects, n_eta), optional
        Random effects in the order of the model's IIV block (or ETA columns in the records).
    params : mapping, optional
        Individual parameter values, canonical units (L/h, L, h, 1/h, dimensionless), scalars
        or one value per subject.
    weight_kg : float or array, kg, optional
        Body weight for per-kg doses of a model without a ``WT`` covariate (for a model with
        one, it sets ``WT``).
    fill : {"nocb", "locf"}
        How time-varying covariates and parameters in records apply between records: NONMEM's
        next observation carried backward (default) or last observation carried forward.
    time_unit : str
        Unit of TIME, II (and the time in RATE) in records (default ``"h"``).
    unit : str
        Display unit of concentrations in tables: ng/mL (default), mg/L, ug/mL, ug/L, nmol/L,
        umol/L.
    keep_amounts : bool
        Also keep compartment amounts (always kept for records).
    method : {"auto", "exact", "ode"}
        Exact linear solution, or scipy LSODA (``rtol``); "auto" is exact for linear models and
        the ODE path for models with saturable (Michaelis-Menten) flows.
    chunk_size : int, optional
        Subjects per chunk on a grid (default: about 128 MB of work arrays per chunk).
    workers : int
        Threads over chunks (numpy releases the GIL in the hot loops).
    check_validity : bool
        Warn (ValidityWarning) when covariates leave the model's population range; callers that
        run many blocks of one population check once themselves.
    modifiers : sequence of str or Modifier
        Published interactions (``ketasim interactions``) applied to the simulation itself as a
        change of bioavailability on the finding's route (:func:`ketasim.interactions.
        apply_modifier`); each one's note is in ``Result.notes``. Regimens only.

    Returns
    -------
    Result

    Raises
    ------
    EventError, DatasetError, ParameterError, UnitError, ModelError
        Naming the input, record or argument at fault.

    Examples
    --------
    >>> import numpy as np
    >>> from ketasim import Regimen, load_model, simulate
    >>> res = simulate(load_model("herd_2007"), Regimen.from_quantities("1 mg/kg"),
    ...                np.array([0.0, 1.0]), covariates={"WT": 20})
    >>> list(res.to_pandas().columns)[:4]
    ['ID', 'TIME_h', 'TAD_h', 'ketamine_ng_mL']
    """
    spec = _resolve_model(model)
    method = _resolve_method(spec, method)
    _check_options(unit, workers, chunk_size)
    data, covariates, notes = get_records(
        spec, events, times_h, covariates, etas, params, weight_kg, time_unit, modifiers
    )
    times = _check_times(times_h) if times_h is not None else None
    bound = bind_records(
        spec,
        data,
        covariates=covariates,
        etas=etas,
        params=params,
        fill=fill,
        check_validity=check_validity,
        t_start_h=float(np.min(times)) if times is not None else None,
    )
    if times is not None:
        res = solve_grid(bound, times, unit, keep_amounts, method, rtol, chunk_size, workers)
    else:
        res = solve_records(bound, unit, method, rtol)
    return replace(res, notes=(*res.notes, *notes)) if notes else res


def _check_options(unit: str, workers: Any, chunk_size: Any) -> None:
    get_conc_factor("ketamine", unit, what="unit")
    if not isinstance(workers, int) or isinstance(workers, bool) or workers < 1:
        raise ParameterError(f"workers={workers!r} must be a whole number >= 1")
    if chunk_size is not None and (
        not isinstance(chunk_size, int) or isinstance(chunk_size, bool) or chunk_size < 1
    ):
        raise ParameterError(f"chunk_size={chunk_size!r} must be a whole number >= 1")


def get_records(
    spec: ModelSpec,
    events: Any,
    times_h: Any,
    covariates: Mapping[str, Any] | None,
    etas: Any,
    params: Mapping[str, Any] | None,
    weight_kg: Any,
    time_unit: str,
    modifiers: Sequence[Any] = (),
) -> tuple[Dataset, Mapping[str, Any] | None, tuple[str, ...]]:
    """The records of ``events`` for ``spec`` (the first step of :func:`simulate`).

    Returns the records (TIME h, AMT mg, RATE mg/h), the covariates with those derived from a
    regimen's doses added, and the notes of applied interaction modifiers. Used by
    :func:`simulate` and :func:`ketasim.prepared.prepare`, so both see the same records.
    """
    notes: tuple[str, ...] = ()
    if modifiers:
        if not isinstance(events, Regimen):
            raise ParameterError(
                "modifiers apply to a Regimen; for records, change AMT or F<n> in the data"
            )
        from ketasim.interactions import apply_modifier, get_modifier

        for mod in modifiers:
            applied = apply_modifier(
                events, spec, get_modifier(mod) if isinstance(mod, str) else mod
            )
            events, notes = applied.regimen, (*notes, applied.note)
    if isinstance(events, Regimen):
        # NOTE: for a generic model the regimen's mg and h are the model's amount and time units
        if times_h is None:
            raise EventError("a regimen needs output times: give times_h (h)")
        data, covs = _regimen_records(spec, events, covariates, etas, params, weight_kg)
        return data, covs, notes
    if weight_kg is not None:
        raise ParameterError(
            "weight_kg applies to per-kg doses of a Regimen; records carry AMT in mg"
        )
    return _as_dataset(events, time_unit, spec.generic), covariates, notes


def _check_times(times_h: Any) -> FloatArray:
    try:
        times = np.asarray(times_h, dtype=float)
    except (TypeError, ValueError):
        raise EventError("times_h must be numbers (h)") from None
    if times.ndim != 1 or times.size == 0 or not np.all(np.isfinite(times)):
        raise EventError("output times must be a non-empty 1-D array of finite numbers (h)")
    if np.max(np.abs(times)) > 1e7:
        raise EventError(
            f"output time {float(np.max(np.abs(times))):g} h is beyond 1e7 h (1,100 years): "
            "give times in hours"
        )
    return times


def _resolve_model(model: ModelSpec | str) -> ModelSpec:
    if isinstance(model, ModelSpec):
        return model
    if not isinstance(model, str):
        raise ParameterError(f"model must be a ModelSpec or a model id, not {type(model).__name__}")
    from ketasim.library import load_model, load_model_file
    from ketasim.spec import BUILTIN_MODELS, get_builtin_model

    if model in BUILTIN_MODELS:
        return get_builtin_model(model)
    if model.endswith(".toml") or os.sep in model:
        return load_model_file(model)
    return load_model(model)


def _resolve_method(spec: ModelSpec, method: str) -> str:
    if method not in ("auto", "exact", "ode"):
        raise ParameterError(f"method {method!r} must be 'auto', 'exact' or 'ode'")
    if method == "auto":
        return "exact" if spec.is_linear else "ode"
    if method == "exact" and not spec.is_linear:
        raise ParameterError(
            f"model {spec.id} has saturable (nonlinear) flows: use method 'ode' or 'auto'"
        )
    return method


# --- the former two entry points, kept as thin wrappers ------------------------------------
def simulate_dataset(
    spec: ModelSpec,
    data: Dataset,
    *,
    params: Mapping[str, Any] | None = None,
    covariates: Mapping[str, Any] | None = None,
    method: str = "auto",
    rtol: float = 1e-10,
    fill: str = "nocb",
) -> Result:
    """Deprecated spelling of ``simulate(spec, data, None, ...)``: one output row per record.

    Kept as a thin wrapper for callers written before :func:`simulate`; new code calls
    :func:`simulate` (it takes the same arguments).
    """
    warnings.warn(
        "simulate_dataset(spec, data, ...) is deprecated: call simulate(spec, data, ...)",
        DeprecationWarning,
        stacklevel=2,
    )
    return simulate(
        spec, data, None, params=params, covariates=covariates, method=method, rtol=rtol,
        fill=fill,
    )  # fmt: skip


def simulate_regimen(
    spec: ModelSpec,
    regimen: Regimen,
    times_h: FloatArray,
    *,
    covariates: Mapping[str, Any] | None = None,
    etas: FloatArray | None = None,
    params: Mapping[str, Any] | None = None,
    keep_amounts: bool = False,
    chunk_size: int | None = None,
    workers: int = 1,
    method: str = "auto",
    check_validity: bool = True,
    weight_kg: Any = None,
) -> Result:
    """Deprecated spelling of ``simulate(spec, regimen, times_h, ...)``: a regimen on a grid.

    Kept as a thin wrapper for callers written before :func:`simulate`; new code calls
    :func:`simulate` (it takes the same arguments).
    """
    warnings.warn(
        "simulate_regimen(spec, regimen, times_h, ...) is deprecated: call "
        "simulate(spec, regimen, times_h, ...)",
        DeprecationWarning,
        stacklevel=2,
    )
    return simulate(
        spec, regimen, times_h, covariates=covariates, etas=etas, params=params,
        keep_amounts=keep_amounts, chunk_size=chunk_size, workers=workers, method=method,
        check_validity=check_validity, weight_kg=weight_kg,
    )  # fmt: skip
