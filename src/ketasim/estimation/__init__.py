"""Bayesian MAP fitting of individuals' measured levels (posthoc ETAs), uncertainty, forecasts.

Calls :func:`ketasim.simulate.simulate` (through :class:`~ketasim.estimation.predict.Predictor`),
never the solver. For research and education only: a fit and its forecast describe a model's
view of the data, not a dosing recommendation.
"""

from ketasim.estimation.data import Observations, get_observations
from ketasim.estimation.design import sample_observations
from ketasim.estimation.fit import FitResult, fit_map
from ketasim.estimation.forecast import Forecast, forecast_regimen
from ketasim.estimation.likelihood import ResidualModel, get_residual_model

__all__ = [
    "FitResult",
    "Forecast",
    "Observations",
    "ResidualModel",
    "fit_map",
    "forecast_regimen",
    "get_observations",
    "get_residual_model",
    "sample_observations",
]
