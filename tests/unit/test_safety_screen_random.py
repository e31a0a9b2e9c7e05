"""Safety screen on random profiles (hypothesis, derandomised): invariants that must always hold."""

from __future__ import annotations

import dataclasses

from hypothesis import given, settings
from hypothesis import strategies as st

from ketasim.monograph import list_monographs, load_monograph
from ketasim.safety import (
    HYPERTENSION_LEVELS,
    IMPAIRMENT_LEVELS,
    PROFILE_FIELDS,
    PatientProfile,
    list_agents,
    screen_profile,
)
from ketasim.safety.profile import CARDIOVASCULAR_CONDITIONS

_levels = st.one_of(st.none(), st.sampled_from(IMPAIRMENT_LEVELS))
profiles = st.builds(
    PatientProfile,
    pregnant=st.booleans(),
    breastfeeding=st.booleans(),
    pre_eclampsia=st.booleans(),
    hyperthyroidism_untreated=st.booleans(),
    sex=st.one_of(st.none(), st.just("female")),
    age_yr=st.one_of(st.none(), st.floats(0, 130)),
    hypertension=st.one_of(st.none(), st.sampled_from(HYPERTENSION_LEVELS)),
    cardiovascular=st.lists(st.sampled_from(sorted(CARDIOVASCULAR_CONDITIONS)), max_size=3).map(
        tuple
    ),
    hepatic_impairment=_levels,
    renal_impairment=_levels,
    psychosis_history=st.booleans(),
    raised_intracranial_pressure=st.booleans(),
    raised_intraocular_pressure=st.booleans(),
    substance_use_disorder=st.booleans(),
    drugs_taken=st.lists(st.sampled_from([a.name for a in list_agents()]), max_size=4).map(tuple),
)
drugs = st.sampled_from(list_monographs())
routes = st.sampled_from([None, "iv", "intranasal", "oral", "sublingual"])


@settings(derandomize=True, max_examples=150, deadline=None)
@given(profiles, drugs, routes)
def test_screen_invariants(p: PatientProfile, drug: str, route: str | None) -> None:
    r = screen_profile(p, drug, route=route)
    mono = load_monograph(drug)
    ids = [f.statement_id for f in r.findings]
    assert len(ids) == len(set(ids))
    for f in r.findings:
        assert f.sources and f.cite and mono.get_statement(f.statement_id).text == f.text
    # every stated condition and drug is either covered by a finding/modifier or is a gap
    for c in p.get_conditions():
        assert any(c.replace("_", " ") in f.matched for f in r.findings) or any(
            g.startswith(c.replace("_", " ") + ":") for g in r.gaps
        )
    for d in p.get_drug_names():
        assert (
            any(f"drug taken: {d}" in f.matched for f in r.findings)
            or any(f"drug taken: {d}" in m.matched for m in r.modifiers)
            or any(g.startswith(f"drug taken {d} ") for g in r.gaps)
        )
    # nothing transfers without a route, and nothing says "applied" unless the caller said so
    if route is None:
        assert r.get_modifier_ids() == ()
    assert "applied to the simulation" not in r.format_text()
    assert "is safe" not in r.format_text().lower()


def test_profile_fields_match_the_dataclass() -> None:
    names = {f.name for f in dataclasses.fields(PatientProfile) if f.init}
    assert {str(f["name"]) for f in PROFILE_FIELDS} == names
