"""solve_linear on ragged multi-subject datasets: no floating-point warnings, exact zeros."""

from __future__ import annotations

import warnings

import numpy as np

from ketasim.simulate import simulate
from ketasim.spec import get_builtin_model
from tests.conftest import make_dataset


def _ragged_dataset():
    recs = []
    # subject 1: many events (ADDL infusions, a reset, a reset-and-dose); subject 2: one dose
    recs += [dict(ID=1, TIME=0, AMT=100, RATE=50, EVID=1, CMT=2, II=6, ADDL=4)]
    recs += [dict(ID=1, TIME=t, EVID=0, CMT=2) for t in (1, 7, 13)]
    recs += [dict(ID=1, TIME=14, EVID=3, CMT=2), dict(ID=1, TIME=15, EVID=0, CMT=2)]
    recs += [dict(ID=1, TIME=16, EVID=0, CMT=2)]
    recs += [dict(ID=1, TIME=20, EVID=4, AMT=30, CMT=1), dict(ID=1, TIME=21, EVID=0, CMT=2)]
    recs += [dict(ID=2, TIME=0, AMT=10, EVID=1, CMT=1), dict(ID=2, TIME=2, EVID=0, CMT=2)]
    return make_dataset(recs)


def test_ragged_dataset_solves_without_floating_point_warnings_issue_8() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(all="warn"):
            res = simulate(
                get_builtin_model("pk2_depot"),
                _ragged_dataset(),
                params=dict(CL=1.1, V1=20.0, Q2=3.0, V2=40.0, KA=1.5),
            )
    assert np.all(np.isfinite(res.cp))


def test_concentration_after_reset_is_exactly_zero_issue_8() -> None:
    res = simulate(
        get_builtin_model("pk2_depot"),
        _ragged_dataset(),
        params=dict(CL=1.1, V1=20.0, Q2=3.0, V2=40.0, KA=1.5),
    )
    after_reset = (res.ids[res.subject] == 1) & np.isin(res.time_h, (14.0, 15.0, 16.0))
    assert np.count_nonzero(after_reset) == 3
    np.testing.assert_array_equal(res.cp[after_reset], 0.0)
    np.testing.assert_array_equal(res.amounts[after_reset], 0.0)


def test_entrywise_expm_is_exact_where_scipy_2x2_formula_is_not_issue_8() -> None:
    from ketasim.solver.expm import compute_expm

    k = 0.1
    ka = float(np.nextafter(k, 1.0))
    E = compute_expm(12.0 * np.array([[-ka, 0.0], [ka, -k]]))
    # exact: exp(-1.2) on the diagonal, 12 k exp(-12 k) below it (to 1 ulp in ka)
    np.testing.assert_allclose(E[1, 0], 1.2 * np.exp(-1.2), rtol=1e-14)
    np.testing.assert_allclose(np.diag(E), np.exp(-1.2), rtol=1e-14)


def test_import_does_not_build_the_unit_registry_or_import_scipy() -> None:
    import subprocess
    import sys

    code = (
        "import sys, ketasim, ketasim.units as u; "
        "print(bool(u._REGISTRY), 'scipy' in sys.modules, 'dask' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False", "False"]


def test_unit_registry_is_built_on_first_use_without_dask() -> None:
    import subprocess
    import sys

    code = (
        "import sys, ketasim.units as u; x = u.to_unit('40 min', 'h'); "
        "print(x, 'dask' in sys.modules, isinstance(u.Q_(1.0, 'mg'), u.ureg.Quantity))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == [repr(40 / 60), "False", "True"]
