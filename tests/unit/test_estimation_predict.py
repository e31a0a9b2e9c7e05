"""The two routes of the batched predictor give the same numbers (parent and metabolites)."""

from __future__ import annotations

import numpy as np
import pytest

from ketasim.estimation import get_observations
from ketasim.estimation.predict import Predictor
from ketasim.events import Dataset, Regimen
from ketasim.library import load_model
from ketasim.population.sampling import sample_etas


def _dataset(
    n: int, dose: float, rate: float, obs: list[tuple[float, int]], cmt: int = 0
) -> Dataset:
    rows = []
    for i in range(n):
        amt = dose * (1 + 0.3 * i)  # amounts differ: one scaled regimen simulation
        rows.append((i + 1, 0.0, amt, rate * (1 + 0.3 * i), cmt, 1, 55.0 + 4 * i))
        rows += [(i + 1, t, 0.0, 0.0, cmt, 0, 55.0 + 4 * i) for t, cmt in obs]
    a = np.asarray(rows, dtype=float)
    names = ("ID", "TIME", "AMT", "RATE", "CMT", "EVID", "WT")
    cols = {k: a[:, j] for j, k in enumerate(names)}
    cols["DV"] = np.where(cols["EVID"] == 0, 1.0, 0.0)
    return Dataset(cols)


@pytest.mark.parametrize(
    ("model", "dose", "rate", "obs"),
    [
        ("herd_2007", 50.0, 0.0, [(0.1, 0), (0.5, 0), (2.0, 0), (6.0, 0)]),
        ("simons_2022", 20.0, 60.0, [(0.25, 4), (0.5, 9), (1.0, 13), (3.0, 4), (6.0, 9)]),
    ],
)
def test_predict_regimen_route_equals_dataset_route(
    model: str, dose: float, rate: float, obs: list[tuple[float, int]]
) -> None:
    spec = load_model(model)
    ds = _dataset(4, dose, rate, obs, cmt=4 if model == "simons_2022" else 0)  # 4: CENTRAL
    o = get_observations(ds, spec, dv_unit="ng/mL")
    fast, slow = Predictor(spec, ds, o), Predictor(spec, ds, o, fast_path=False)
    assert fast.uses_fast_path and not slow.uses_fast_path
    assert fast.n_groups == 1
    etas = sample_etas(spec, 6, np.random.default_rng(3))
    subjects = np.array([0, 1, 2, 3, 0, 2])
    np.testing.assert_allclose(
        fast.predict(etas, subjects), slow.predict(etas, subjects), rtol=1e-10
    )


def test_predict_regimen_forecast_routes_agree() -> None:
    spec = load_model("herd_2007")
    ds = _dataset(2, 50.0, 0.0, [(0.5, 0), (2.0, 0)])
    o = get_observations(ds, spec, dv_unit="ng/mL")
    reg = Regimen.from_quantities("30 mg", duration="10 min", start="4 h")
    times = np.array([4.0, 4.1, 5.0, 8.0])
    etas = sample_etas(spec, 2, np.random.default_rng(4))
    s = np.array([0, 1])
    a = Predictor(spec, ds, o).predict_regimen(etas, s, reg, times)["ketamine"]
    b = Predictor(spec, ds, o, fast_path=False).predict_regimen(etas, s, reg, times)["ketamine"]
    np.testing.assert_allclose(a, b, rtol=1e-10)


def test_predict_observation_at_dose_time_takes_the_dataset_route() -> None:
    spec = load_model("herd_2007")
    ds = _dataset(1, 50.0, 0.0, [(0.0, 0), (1.0, 0)])
    o = get_observations(ds, spec, dv_unit="ng/mL")
    assert not Predictor(spec, ds, o).uses_fast_path
