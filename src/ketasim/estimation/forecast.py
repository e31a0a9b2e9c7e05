"""Forecast of a next regimen from a fit: each subject's concentrations with an interval.

Owns turning posterior draws of a subject's ETAs (Laplace or SIR, from
:func:`~ketasim.estimation.fit.fit_map`) into predicted concentrations of every analyte after the
subject's own dosing history plus a new :class:`~ketasim.events.Regimen`: the prediction at the
posterior mode and the median and central ``level`` interval over the draws. The interval is
that of the subject's *true* concentration (parameter uncertainty); it does not include assay
(residual) error. For research and education only: a forecast is a model's extrapolation, not a
dosing recommendation.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from ketasim.errors import EventError
from ketasim.estimation.data import to_conc_mg_per_L
from ketasim.estimation.fit import FitResult
from ketasim.events import Regimen

__all__ = ["Forecast", "forecast_regimen"]

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Forecast:
    """Forecast concentrations of every analyte, per subject.

    Attributes
    ----------
    ids : tuple
    time_h : ndarray (T,), h (the dataset's clock)
    mode, median, lower, upper : dict analyte -> ndarray (N, T), mg/L
        At the posterior mode; median and ``level`` interval over the posterior draws.
    level : float
    n_draws : int
    regimen : Regimen
    """

    ids: tuple[object, ...]
    time_h: FloatArray
    mode: Mapping[str, FloatArray]
    median: Mapping[str, FloatArray]
    lower: Mapping[str, FloatArray]
    upper: Mapping[str, FloatArray]
    level: float
    n_draws: int
    regimen: Regimen

    def to_table(self, unit: str = "ng/mL") -> tuple[list[str], list[list[Any]]]:
        """Long table: ID, TIME_h, ANALYTE, mode, median and interval in ``unit``."""
        tag = unit.replace("/", "_per_")
        pct = f"{100 * self.level:g}"
        header = ["ID", "TIME_h", "ANALYTE", f"IPRED_{tag}", f"MEDIAN_{tag}"]
        header += [f"LO{pct}_{tag}", f"HI{pct}_{tag}"]
        rows: list[list[Any]] = []
        for a in self.mode:
            c = 1.0 / float(to_conc_mg_per_L(1.0, unit, a))
            for i, ident in enumerate(self.ids):
                for t, m, med, lo, hi in zip(
                    self.time_h,
                    self.mode[a][i],
                    self.median[a][i],
                    self.lower[a][i],
                    self.upper[a][i],
                    strict=True,
                ):
                    rows.append([ident, float(t), a, m * c, med * c, lo * c, hi * c])
        return header, rows


def forecast_regimen(
    fit: FitResult, regimen: Regimen, times_h: FloatArray, *, max_draws: int | None = None
) -> Forecast:
    """Concentrations after each subject's history plus ``regimen``, with the fit's interval.

    Parameters
    ----------
    fit : FitResult
    regimen : Regimen
        The next doses, on the dataset's clock (e.g. the first at 24 h).
    times_h : ndarray (T,), h
        Output times, on the dataset's clock.
    max_draws : int, optional
        Use at most this many of the fit's posterior draws per subject.

    Returns
    -------
    Forecast

    Examples
    --------
    >>> from ketasim.library import load_model
    >>> from ketasim.events import Dataset
    >>> from ketasim.estimation import ResidualModel, fit_map
    >>> ds = Dataset({"ID": [1] * 4, "TIME": [0, 0.5, 1, 2], "AMT": [35, 0, 0, 0],
    ...               "EVID": [1, 0, 0, 0], "DV": [0, 480, 300, 170], "WT": [70] * 4})
    >>> fit = fit_map(load_model("herd_2007"), ds, dv_unit="ng/mL", n_draws=200,
    ...               residual={"ketamine": ResidualModel("proportional", proportional=0.2)})
    >>> fc = forecast_regimen(fit, Regimen.from_quantities("35 mg", start="4 h"),
    ...                       np.array([4.5, 6.0]))
    >>> bool(np.all(fc.lower["ketamine"] < fc.mode["ketamine"]))
    True
    """
    times = np.asarray(times_h, dtype=float)
    if times.ndim != 1 or times.size == 0 or not np.all(np.isfinite(times)):
        raise EventError("forecast times must be a non-empty 1-D array of finite numbers (h)")
    first = min(d.time_h for d in regimen.doses)
    last_obs = float(np.max(np.where(fit.obs.mask, fit.obs.time_h, -np.inf)))
    if first < last_obs:
        raise EventError(
            f"the forecast regimen starts at {first:g} h, before the last observation "
            f"({last_obs:g} h): start it after the measured levels"
        )
    draws = fit.draws if max_draws is None else fit.draws[:, :max_draws]
    N, S, _ = draws.shape
    subjects = np.arange(N, dtype=np.int64)
    pr = fit.predictor
    mode = pr.predict_regimen(fit.get_full_etas(fit.eta), subjects, regimen, times)
    sims = pr.predict_regimen(
        fit.get_full_etas(draws.reshape(N * S, -1)), np.repeat(subjects, S), regimen, times
    )
    q = (0.5 - fit.level / 2, 0.5, 0.5 + fit.level / 2)
    lo, med, hi = {}, {}, {}
    for a, v in sims.items():
        qs = np.quantile(v.reshape(N, S, times.size), q, axis=1)
        lo[a], med[a], hi[a] = qs[0], qs[1], qs[2]
    return Forecast(
        ids=fit.obs.ids,
        time_h=times,
        mode=mode,
        median=med,
        lower=lo,
        upper=hi,
        level=fit.level,
        n_draws=S,
        regimen=regimen,
    )
