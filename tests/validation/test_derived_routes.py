"""Derived racemic adult routes and norketamine (issue 9): fit residuals and held-out checks.

Reference composition domino_1984 + racemic_adult_norketamine + racemic_adult_routes, typical
values, weights from the observations CSV. Tolerance: a factor 1.5 (|log ratio| <= ln 1.5) for
every fitted observation, because the data are published means of 3-10 subjects (geometric SDs
1.6-2.3) and the model is fitted to means with no IIV. Fitted observations the structure cannot
reproduce are listed in KNOWN with the reason; for them the test pins the documented ratio (to
5 %), so a change of the fit shows up instead of being hidden by a wider tolerance.
"""

from __future__ import annotations

import math
import warnings

import pytest

from ketasim.errors import KetasimWarning
from ketasim.library import load_model
from ketasim.validation_external import compute_prediction, load_observations

REFERENCE = "domino_1984+racemic_adult_norketamine+racemic_adult_routes"
# fitted observations the structure does not reproduce within 1.5x: none since the zero-order
# input (the first-order version missed intranasal and oral ketamine Cmax, x0.25-0.54)
KNOWN: dict[str, tuple[float, str]] = {}


@pytest.fixture(scope="module")
def spec():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", KetasimWarning)
        return load_model(REFERENCE)


def _ratio(spec, obs):
    return float(compute_prediction(spec, obs)[0]) / obs.get_value_canonical()


FIT = [o for o in load_observations() if o.use == "fit"]


@pytest.mark.parametrize("obs", FIT, ids=[o.obs_id for o in FIT])
def test_derived_fit_reproduces_observation(spec, obs):
    r = _ratio(spec, obs)
    if obs.obs_id in KNOWN:
        assert r == pytest.approx(KNOWN[obs.obs_id][0], rel=0.05), KNOWN[obs.obs_id][1]
    else:
        assert abs(math.log(r)) <= math.log(1.5) + 0.01, f"{obs.obs_id}: ratio {r:.2f}"


# one held-out observation per route (not fitted); 1.5x as above
HELD_OUT = {
    "intranasal_pharmacotherapy_2022": "p22_in30_k_cmax",
    "sublingual": "chong_sl25_k_f",
    "oral": "yan_tab50_k_f",
    "iv": "idvall_iv_nk_max",
}


@pytest.mark.parametrize("route", sorted(HELD_OUT))
def test_derived_route_checked_on_held_out_observation(spec, route):
    obs = next(o for o in load_observations() if o.obs_id == HELD_OUT[route])
    assert obs.use == "check" and not obs.fits
    assert abs(math.log(_ratio(spec, obs))) <= math.log(1.5)


def test_intranasal_dose_dependence_predicts_held_out_30_mg_bioavailability(spec):
    obs = next(o for o in load_observations() if o.obs_id == "p22_in30_k_f")
    assert _ratio(spec, obs) == pytest.approx(1.0, abs=0.05)  # F printed to 2 digits (0.13)


def test_held_out_intramuscular_failure_is_shown(spec):
    # the 0.5 mg/kg arm (highest median 147 ng/mL vs 474 at 1 mg/kg: 3.2x for 2x the dose) is
    # NOT reproduced by a linear model fitted to the 1 mg/kg arm; it stays visible, pinned here
    obs = next(o for o in load_observations() if o.obs_id == "hir_im05_k_cmax")
    assert _ratio(spec, obs) == pytest.approx(1.61, rel=0.03)


def test_reference_model_gives_ketamine_and_norketamine_for_every_route(spec):
    import numpy as np

    from ketasim import Regimen, simulate_regimen
    from ketasim.individual import resolve_covariates

    t = np.linspace(0, 6, 361)
    for route, dose, dur in [
        ("iv", "0.5 mg/kg", None),
        ("iv", "0.5 mg/kg", "40 min"),
        ("im", "0.5 mg/kg", None),
        ("intranasal_pharmacotherapy_2022", "50 mg", None),
        ("oral", "50 mg", None),
        ("sublingual", "25 mg", None),
    ]:
        reg = Regimen.from_quantities(dose, route=route, duration=dur)
        # covariates the model derives from the dose (IN_DOSE) come from the regimen
        cov = resolve_covariates(spec, {"WT": 70}, regimen=reg).values
        res = simulate_regimen(spec, reg, t, covariates=cov)
        for analyte in ("ketamine", "norketamine"):
            c = res.get_conc(analyte, "ng/mL")[0]
            # NOTE: the engine returns -1e-13 ng/mL norketamine at t = 0 after an IV bolus
            # (round-off; reported to the lead), hence -1e-9
            assert np.all(np.isfinite(c)) and c.min() >= -1e-9 and c.max() > 1.0, (route, analyte)
