"""Where effect-site TCI takes ke0 from (ketasim.tci.effect_site)."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest

from ketasim.errors import ModelError
from ketasim.library import load_model
from ketasim.spec import Compartment, Flow, Parameter
from ketasim.tci import Pump, get_effect_site, list_ke0_effect_models, plan_tci


def _with_own_ke0(spec, ke0_per_h):
    return replace(
        spec,
        id="herd_with_ke0",
        compartments=(*spec.compartments, Compartment("EFFECT", None, "effect")),
        flows=(*spec.flows, Flow(source="CENTRAL", target="EFFECT", rate="KE0", kind="effect")),
        thetas={**spec.thetas, "KE0": Parameter("KE0", ke0_per_h, "1/h", ke0_per_h, "1/h", "t")},
    )


def test_model_own_effect_compartment_is_used():
    spec = _with_own_ke0(load_model("herd_2007"), 10.0)
    site = get_effect_site(spec, "CENTRAL", "ketamine")
    assert site.spec is spec and site.t_half_ke0_h is None
    assert site.cmt_index == spec.get_compartment_index("EFFECT")


def test_own_ke0_and_library_ke0_give_the_same_plan():
    base = load_model("herd_2007")
    th = 11 / 3600  # Herd 2008: t1/2ke0 11 s
    own = plan_tci(
        _with_own_ke0(base, math.log(2) / th),
        1.0,
        0.25,
        Pump(10 / 3600),
        mode="effect",
        covariates={"WT": 20.0},
        predict=False,
    )
    lib = plan_tci(
        base,
        1.0,
        0.25,
        Pump(10 / 3600),
        mode="effect",
        effect_model="herd_2008_sedation_children",
        covariates={"WT": 20.0},
        predict=False,
    )
    assert max(abs(own.rates_mg_per_h - lib.rates_mg_per_h)) < 1e-9 * lib.rates_mg_per_h.max()


def test_effect_model_without_ke0_refused():
    with pytest.raises(ModelError, match="simons_2022_drug_high has no published t1/2ke0"):
        get_effect_site(
            load_model("simons_2022"), "CENTRAL", "s_ketamine", effect_model="simons_2022_drug_high"
        )


def test_effect_models_with_ke0_exclude_days_scale_delays():
    ids = [m.id for m in list_ke0_effect_models("s_ketamine")]
    assert "olofsen_2022_antinociception_external_perception" in ids
    assert "dahan_2011_crps_pain_relief" not in ids
