"""ketasim: ketamine and metabolite pharmacokinetics, for research and education only.

ketasim is not a medical device and gives no dosing advice. Public API (sorted ``__all__``).

Names are imported on first use (PEP 562), so ``import ketasim`` stays fast; ``from ketasim
import simulate`` works as usual.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ketasim.notices import DISCLAIMER

# NOTE: imported eagerly because the module ``ketasim.simulate`` shares the function's name: a
# lazy export would be shadowed by the submodule as soon as anything imports it
from ketasim.simulate import simulate, simulate_dataset, simulate_regimen

__version__ = "0.2.0"

#: public name -> module that defines it
_EXPORTS: dict[str, str] = {
    "BLQRule": "ketasim.nca",
    "Dataset": "ketasim.events",
    "DatasetError": "ketasim.errors",
    "DesignResult": "ketasim.design",
    "DesignSpace": "ketasim.design",
    "Dose": "ketasim.events",
    "EventError": "ketasim.errors",
    "ExposureSummary": "ketasim.exposure",
    "FitResult": "ketasim.estimation",
    "Forecast": "ketasim.estimation",
    "Goal": "ketasim.design",
    "KetasimError": "ketasim.errors",
    "ModelChoice": "ketasim.library",
    "ModelComparison": "ketasim.comparison",
    "ModelError": "ketasim.errors",
    "ModelSpec": "ketasim.spec",
    "ModifiedRegimen": "ketasim.interactions",
    "Monograph": "ketasim.monograph",
    "NCAResult": "ketasim.nca",
    "ParameterError": "ketasim.errors",
    "PatientProfile": "ketasim.safety",
    "PlausibilityWarning": "ketasim.errors",
    "PreparedSimulation": "ketasim.prepared",
    "Pump": "ketasim.tci",
    "Regimen": "ketasim.events",
    "ResidualModel": "ketasim.estimation",
    "ResolvedCovariates": "ketasim.individual",
    "Result": "ketasim.results",
    "SamplingSiteWarning": "ketasim.errors",
    "Scenario": "ketasim.scenario",
    "ScreenResult": "ketasim.safety",
    "SolverError": "ketasim.errors",
    "TCI_NOTICE": "ketasim.tci",
    "TargetSchedule": "ketasim.tci",
    "TciPlan": "ketasim.tci",
    "UnitError": "ketasim.errors",
    "ValidityWarning": "ketasim.errors",
    "apply_modifier": "ketasim.interactions",
    "check_model_use": "ketasim.library",
    "compare_models": "ketasim.comparison",
    "compute_comparison": "ketasim.report",
    "compute_exposure": "ketasim.exposure",
    "compute_individual_parameters": "ketasim.individual",
    "compute_nca": "ketasim.nca",
    "compute_pk_summary": "ketasim.monograph",
    "compute_population_bands": "ketasim.report",
    "find_models": "ketasim.library",
    "find_regimen": "ketasim.design",
    "fit_map": "ketasim.estimation",
    "forecast_regimen": "ketasim.estimation",
    "format_provenance": "ketasim.library",
    "get_builtin_model": "ketasim.spec",
    "get_default_grid": "ketasim.grids",
    "get_evidence_tier": "ketasim.library",
    "get_summary_grid": "ketasim.grids",
    "list_composed_models": "ketasim.library.compose",
    "list_models": "ketasim.library",
    "list_monographs": "ketasim.monograph",
    "list_submodels": "ketasim.library.compose",
    "load_model": "ketasim.library",
    "load_model_file": "ketasim.library",
    "load_monograph": "ketasim.monograph",
    "load_scenario": "ketasim.scenario",
    "parse_goal": "ketasim.design",
    "plan_tci": "ketasim.tci",
    "prepare": "ketasim.prepared",
    "read_nonmem_csv": "ketasim.io.nonmem_csv",
    "render_monograph": "ketasim.monograph",
    "resolve_covariates": "ketasim.individual",
    "run_external_validation": "ketasim.validation_external",
    "sample_observations": "ketasim.estimation",
    "screen_profile": "ketasim.safety",
    "write_nonmem_csv": "ketasim.io.nonmem_csv",
}

__all__ = [  # noqa: RUF022 (plain sorted order, checked by tests/unit/test_api.py)
    "BLQRule",
    "DISCLAIMER",
    "Dataset",
    "DatasetError",
    "DesignResult",
    "DesignSpace",
    "Dose",
    "EventError",
    "ExposureSummary",
    "FitResult",
    "Forecast",
    "Goal",
    "KetasimError",
    "ModelChoice",
    "ModelComparison",
    "ModelError",
    "ModelSpec",
    "ModifiedRegimen",
    "Monograph",
    "NCAResult",
    "ParameterError",
    "PatientProfile",
    "PlausibilityWarning",
    "PreparedSimulation",
    "Pump",
    "Regimen",
    "ResidualModel",
    "ResolvedCovariates",
    "Result",
    "SamplingSiteWarning",
    "Scenario",
    "ScreenResult",
    "SolverError",
    "TCI_NOTICE",
    "TargetSchedule",
    "TciPlan",
    "UnitError",
    "ValidityWarning",
    "apply_modifier",
    "check_model_use",
    "compare_models",
    "compute_comparison",
    "compute_exposure",
    "compute_individual_parameters",
    "compute_nca",
    "compute_pk_summary",
    "compute_population_bands",
    "find_models",
    "find_regimen",
    "fit_map",
    "forecast_regimen",
    "format_provenance",
    "get_builtin_model",
    "get_default_grid",
    "get_evidence_tier",
    "get_summary_grid",
    "list_composed_models",
    "list_models",
    "list_monographs",
    "list_submodels",
    "load_model",
    "load_model_file",
    "load_monograph",
    "load_scenario",
    "parse_goal",
    "plan_tci",
    "prepare",
    "read_nonmem_csv",
    "render_monograph",
    "resolve_covariates",
    "run_external_validation",
    "sample_observations",
    "screen_profile",
    "simulate",
    "simulate_dataset",
    "simulate_regimen",
    "write_nonmem_csv",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'ketasim' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])


if TYPE_CHECKING:  # pragma: no cover - for type checkers and editors only
    from ketasim.comparison import ModelComparison, compare_models
    from ketasim.design import DesignResult, DesignSpace, Goal, find_regimen, parse_goal
    from ketasim.errors import (
        DatasetError,
        EventError,
        KetasimError,
        ModelError,
        ParameterError,
        PlausibilityWarning,
        SamplingSiteWarning,
        SolverError,
        UnitError,
        ValidityWarning,
    )
    from ketasim.estimation import (
        FitResult,
        Forecast,
        ResidualModel,
        fit_map,
        forecast_regimen,
        sample_observations,
    )
    from ketasim.events import Dataset, Dose, Regimen
    from ketasim.exposure import ExposureSummary, compute_exposure
    from ketasim.grids import get_default_grid, get_summary_grid
    from ketasim.individual import (
        ResolvedCovariates,
        compute_individual_parameters,
        resolve_covariates,
    )
    from ketasim.interactions import ModifiedRegimen, apply_modifier
    from ketasim.io.nonmem_csv import read_nonmem_csv, write_nonmem_csv
    from ketasim.library import (
        ModelChoice,
        check_model_use,
        find_models,
        format_provenance,
        get_evidence_tier,
        list_models,
        load_model,
        load_model_file,
    )
    from ketasim.library.compose import list_composed_models, list_submodels
    from ketasim.monograph import (
        Monograph,
        compute_pk_summary,
        list_monographs,
        load_monograph,
        render_monograph,
    )
    from ketasim.nca import BLQRule, NCAResult, compute_nca
    from ketasim.report import compute_comparison, compute_population_bands
    from ketasim.results import Result
    from ketasim.safety import PatientProfile, ScreenResult, screen_profile
    from ketasim.scenario import Scenario, load_scenario
    from ketasim.spec import ModelSpec, get_builtin_model
    from ketasim.tci import TCI_NOTICE, Pump, TargetSchedule, TciPlan, plan_tci
    from ketasim.validation_external import run_external_validation
