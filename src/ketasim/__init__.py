"""ketasim: ketamine and metabolite pharmacokinetics, for research and education only.

ketasim is not a medical device and gives no dosing advice. Public API (sorted ``__all__``).
"""

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
from ketasim.events import Dataset, Dose, Regimen
from ketasim.individual import compute_individual_parameters
from ketasim.io.nonmem_csv import read_nonmem_csv, write_nonmem_csv
from ketasim.library import list_models, load_model, load_model_file
from ketasim.notices import DISCLAIMER
from ketasim.results import Result
from ketasim.simulate import simulate, simulate_dataset, simulate_regimen
from ketasim.spec import ModelSpec, get_builtin_model

__version__ = "0.1.0"

__all__ = [
    "DISCLAIMER",
    "Dataset",
    "DatasetError",
    "Dose",
    "EventError",
    "KetasimError",
    "ModelError",
    "ModelSpec",
    "ParameterError",
    "PlausibilityWarning",
    "Regimen",
    "Result",
    "SamplingSiteWarning",
    "SolverError",
    "UnitError",
    "ValidityWarning",
    "compute_individual_parameters",
    "get_builtin_model",
    "list_models",
    "load_model",
    "load_model_file",
    "read_nonmem_csv",
    "simulate",
    "simulate_dataset",
    "simulate_regimen",
    "write_nonmem_csv",
]
