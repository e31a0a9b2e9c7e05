"""NCA invariants (hypothesis, derandomised): AUC additivity over adjacent intervals, dose
linearity, time-shift invariance, lambda_z exact on exponential data, no negative AUC."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from ketasim.nca import METHODS, Interval, compute_nca
from ketasim.nca.auc import compute_auc_interval

SETTINGS = settings(derandomize=True, max_examples=60, deadline=None)

# profiles: sorted unique times, non-negative concentrations including zeros (degenerate)
# on a 1/64 h grid so that shifted times stay exactly distinct (binary fractions add exactly)
times = st.lists(st.integers(0, 6400), min_size=3, max_size=12, unique=True).map(
    lambda xs: sorted(x / 64 for x in xs)
)
concs = st.lists(
    st.one_of(st.just(0.0), st.floats(min_value=1e-6, max_value=1e4, allow_nan=False)),
    min_size=13, max_size=13,
)  # fmt: skip
method = st.sampled_from(METHODS)


def _profile(t: list[float], c: list[float]) -> tuple[np.ndarray, np.ndarray]:
    tt = np.array([0.0, *[x for x in t if x > 0]])
    return tt, np.array(c[: tt.size])


@SETTINGS
@given(times, concs, method, st.floats(0.05, 0.95), st.floats(0.05, 0.95))
def test_auc_is_additive_over_adjacent_intervals(t, c, m, f1, f2) -> None:
    tt, cc = _profile(t, c)
    if tt.size < 2 or not np.any(cc > 0):
        return
    tlast = float(tt[np.flatnonzero(cc > 0)[-1]])
    if tlast <= 0:
        return
    a, b = sorted((f1 * tlast, f2 * tlast))
    if b - a < 1e-9:
        return
    whole = compute_auc_interval(tt, cc, 0.0, tlast, m).value
    parts = sum(
        compute_auc_interval(tt, cc, lo, hi, m).value for lo, hi in ((0.0, a), (a, b), (b, tlast))
    )
    assert math.isclose(parts, whole, rel_tol=1e-9, abs_tol=1e-9 * max(1.0, float(cc.max())))


@SETTINGS
@given(times, concs, method, st.floats(1e-3, 1e3))
def test_dose_linearity(t, c, m, f) -> None:
    tt, cc = _profile(t, c)
    a = compute_nca(tt, cc, time_unit="h", conc_unit="mg/L", dose="10 mg", method=m)
    b = compute_nca(tt, f * cc, time_unit="h", conc_unit="mg/L", dose=f"{10 * f} mg", method=m)
    for ra, rb in zip(a.rows, b.rows, strict=True):
        assert ra.reason == rb.reason
        if ra.reason:
            continue
        scale = {"conc": f, "auc": f, "aumc": f}.get(_kind(ra.code), 1.0)
        assert math.isclose(rb.value, scale * ra.value, rel_tol=1e-9, abs_tol=1e-12), ra.code


def _kind(code: str) -> str:
    from ketasim.nca import PARAMETERS

    return PARAMETERS[code].kind


@SETTINGS
@given(times, concs, method, st.integers(-3200, 32000).map(lambda i: i / 64))
def test_time_shift_invariance(t, c, m, s) -> None:
    tt, cc = _profile(t, c)
    a = compute_nca(tt, cc, time_unit="h", conc_unit="mg/L", method=m)
    b = compute_nca(tt + s, cc, time_unit="h", conc_unit="mg/L", method=m,
                    intervals=[Interval(s)])  # fmt: skip
    for ra, rb in zip(a.rows, b.rows, strict=True):
        assert ra.code == rb.code and ra.reason == rb.reason
        if not ra.reason:
            assert math.isclose(rb.value, ra.value, rel_tol=1e-7, abs_tol=1e-7), ra.code


@SETTINGS
@given(
    st.floats(1e-3, 5.0), st.floats(1e-3, 1e4),
    st.lists(st.floats(0.01, 50.0), min_size=4, max_size=15, unique=True),
)  # fmt: skip
def test_lambda_z_is_exact_on_exponential_data(k, c0, t) -> None:
    tt = np.array(sorted(t))
    cc = c0 * np.exp(-k * (tt - tt[0]))
    if np.any(cc < 1e-250) or np.any(np.diff(np.log(cc)) == 0):
        return
    res = compute_nca(tt, cc, time_unit="h", conc_unit="mg/L", intervals=[Interval(tt[0])])
    assert math.isclose(res.get("LAMZ"), k, rel_tol=1e-9)
    assert res.get("LAMZNPT") == tt.size - 1  # every point after Tmax: most points rule
    assert math.isclose(res.get("AUCIFO"), c0 / k, rel_tol=1e-9)


@SETTINGS
@given(times, concs, method)
def test_no_negative_auc(t, c, m) -> None:
    tt, cc = _profile(t, c)
    res = compute_nca(tt, cc, time_unit="h", conc_unit="mg/L", method=m,
                      intervals=["0,inf h", f"0,{tt[-1] + 1} h"])  # fmt: skip
    for r in res.rows:
        if (
            r.code.startswith(("AUC", "AUMC"))
            and not r.reason
            and r.code not in ("AUCPEO", "AUCPEP")
        ):
            assert r.value >= 0, (r.code, r.value)
