"""prepare().run equals simulate() for random models, parameters and regimens (issue 8).

Parameters are drawn over six orders of magnitude (rates 1e-4..1e2 per h, CL down to 0), so that
well separated, nearly equal and zero eigenvalues all occur; whichever path ``run`` takes (the
fast modal sum or the engine), its numbers must equal ``simulate``'s to 1e-12 of the peak, plus
the drift that an eigenvalue's round-off (about eps max|K|, in either method) causes over the
span: ``8 eps max|K| t_end`` of the peak. NOTE: that term matters only for a closed system with a
fast exchange (pk2, CL = 0, Q2/V2 = 527/h: the engine's total amount grows by 5.5e-12 over 48 h,
the prepared re-solve keeps it to round-off).
"""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from ketasim import prepare
from ketasim.events import Dose, Regimen
from ketasim.simulate import simulate
from ketasim.spec import get_builtin_model

rate = st.one_of(st.just(0.0), st.floats(1e-4, 1e2))
positive = st.floats(1e-2, 1e3)
dose = st.tuples(
    st.floats(0.0, 20.0),  # start, h
    st.floats(0.1, 100.0),  # amount, mg
    st.one_of(st.just(0.0), st.floats(0.01, 10.0)),  # duration, h (0: bolus)
    st.booleans(),  # into the depot (extravascular) instead of iv
)


@settings(max_examples=80, derandomize=True, deadline=None)
@given(
    model=st.sampled_from(["pk1", "pk2", "pk3", "pk2_depot", "pk3_depot"]),
    cl=st.one_of(st.just(0.0), st.floats(1e-3, 1e2)),
    q=st.lists(rate, min_size=2, max_size=2),
    v=st.lists(positive, min_size=3, max_size=3),
    ka=st.floats(1e-2, 1e2),
    doses=st.lists(dose, min_size=1, max_size=4),
    scale=st.floats(0.3, 3.0),
)
def test_prepared_run_equals_simulate(model, cl, q, v, ka, doses, scale) -> None:  # type: ignore[no-untyped-def]
    spec = get_builtin_model(model)
    n_periph = int(model[2]) - 1
    p = {"CL": cl, "V1": v[0]}
    for i in range(n_periph):
        p[f"Q{i + 2}"], p[f"V{i + 2}"] = q[i], v[i + 1]
    depot = "depot" in model
    if depot:
        p["KA"] = ka
    reg = Regimen(
        tuple(
            Dose(
                amt=a,
                time_h=t,
                tinf_h=d if not (depot and oral) else 0.0,
                route="extravascular" if depot and oral else "iv",
            )
            for t, a, d, oral in doses
        )
    )
    times = np.linspace(0.0, 48.0, 97)
    prep = prepare(spec, reg, times, params=p, keep_amounts=True)
    new = {k: val * scale for k, val in p.items()}
    ours = prep.run(params=new)
    ref = simulate(spec, reg, times, params=new, keep_amounts=True)
    K = spec.compute_rate_matrix(new)
    rtol = 1e-12 + 8 * np.finfo(float).eps * float(np.max(np.abs(K))) * float(times[-1])
    for k in ref.conc:
        peak = max(float(np.max(ref.conc[k])), 1e-300)
        assert np.max(np.abs(ours.conc[k] - ref.conc[k])) <= rtol * peak
    assert ours.amounts is not None and ref.amounts is not None
    total = float(np.max(np.abs(ref.amounts)))
    assert np.max(np.abs(ours.amounts - ref.amounts)) <= rtol * max(total, 1e-300)
