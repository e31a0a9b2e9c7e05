"""Live PK summary: the numbers are the library's own simulation, with the model's citation."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ketasim.events import Regimen
from ketasim.library import load_model
from ketasim.monograph import MonographError, PkRegimen, compute_pk_summary, list_monographs
from ketasim.monograph.pk_summary import simulate_pk_regimen
from ketasim.nca import compute_cmax
from ketasim.simulate import simulate


@pytest.mark.parametrize("name", list_monographs())
def test_every_monograph_has_finite_positive_rows(name: str) -> None:
    s = compute_pk_summary(name)
    assert s.rows
    for r in s.rows:
        assert r.cmax_ng_per_mL > 0 and math.isfinite(r.cmax_ng_per_mL)
        assert r.auc_0_24_ng_h_per_mL > 0
        assert 0 <= r.tmax_h <= 24
        assert r.model_citation and "doi:" in r.model_citation


def test_esketamine_row_equals_direct_simulation() -> None:
    row = compute_pk_summary("esketamine").rows[0]
    spec = load_model("perez_ruixo_2021")
    t = np.arange(0.0, 6.0 + 1 / 120, 1 / 60)
    res = simulate(
        spec,
        Regimen.from_quantities("84 mg", route="intranasal"),
        t,
        covariates={"NDEV": 3, "AGE": 45, "ASIAN": 0, "JAPANESE": 0},
    )
    cmax, _ = compute_cmax(t, res.get_conc("s_ketamine", "ng/mL"))
    assert row.cmax_ng_per_mL == pytest.approx(float(cmax.value[0]), rel=1e-12)


def test_esketamine_84_mg_cmax_near_published_typical_value() -> None:
    # Perez-Ruixo 2021 Table 4 (via nlmixr2lib, see the model file): 101.0 ng/mL for 84 mg,
    # Caucasian 18-60 y. Tolerance 3 %: the model notes reproduce it within 1.2 % with all
    # devices at t = 0; the 1-min output grid can miss the peak by a little more.
    row = compute_pk_summary("esketamine").rows[0]
    assert row.cmax_ng_per_mL == pytest.approx(101.0, rel=0.03)


def test_half_life_is_finite_for_declining_profile() -> None:
    row = compute_pk_summary("hnk").rows[0]
    assert math.isfinite(row.terminal_half_life_h) and row.terminal_half_life_h > 0
    assert row.half_life_reason == ""


def test_evidence_tier_reported_when_library_has_none() -> None:
    assert compute_pk_summary("ketamine").rows[0].evidence_tier == "not graded in the library"


def test_missing_covariate_uses_reference_and_says_so() -> None:
    reg = PkRegimen(model="herd_2007", dose="20 mg", route="iv", label="x", regimen_source="t")
    row = simulate_pk_regimen(reg, ("ketamine",))[0]
    assert any("WT not given" in n for n in row.notes)


def test_unknown_covariate_is_refused() -> None:
    reg = PkRegimen(
        model="herd_2007",
        dose="20 mg",
        route="iv",
        label="x",
        regimen_source="t",
        covariates={"HEIGHT": 170.0},
    )
    with pytest.raises(MonographError, match=r"no covariate.*HEIGHT"):
        simulate_pk_regimen(reg, ("ketamine",))


def test_short_span_is_refused() -> None:
    reg = PkRegimen(
        model="herd_2007",
        dose="20 mg",
        route="iv",
        label="x",
        regimen_source="t",
        until="12 h",
        covariates={"WT": 70.0},
    )
    with pytest.raises(MonographError, match="at least 24 h"):
        simulate_pk_regimen(reg, ("ketamine",))


def test_to_dict_turns_nan_into_none() -> None:
    d = compute_pk_summary("ketamine").to_dict()
    assert all(isinstance(r["cmax_ng_per_mL"], float) for r in d["rows"])
