"""Safety screen: each warning names its source, clarithromycin its modifier; no reassurance."""

from __future__ import annotations

import json

import pytest

from ketasim.monograph import list_monographs, load_monograph
from ketasim.monograph.schema import CONDITION_KEYS
from ketasim.safety import AGENT_CLASSES, PatientProfile, list_agents, screen_profile
from ketasim.safety.profile import CARDIOVASCULAR_CONDITIONS

EVERYTHING = PatientProfile(
    pregnant=True,
    breastfeeding=True,
    pre_eclampsia=True,
    hyperthyroidism_untreated=True,
    sex="female",
    age_yr=16,
    hypertension="uncontrolled",
    cardiovascular=tuple(set(CARDIOVASCULAR_CONDITIONS.values())),
    hepatic_impairment="severe",
    renal_impairment="severe",
    psychosis_history=True,
    raised_intracranial_pressure=True,
    raised_intraocular_pressure=True,
    substance_use_disorder=True,
    drugs_taken=tuple(a.name for a in list_agents()),
)


@pytest.mark.parametrize("drug", list_monographs())
def test_every_finding_names_its_source_and_place(drug: str) -> None:
    r = screen_profile(EVERYTHING, drug)
    assert r.findings or (drug == "hnk" and r.gaps)  # HNK: no label, so only gaps
    for f in r.findings:
        assert f.sources, f.statement_id
        assert all(" -- where: " in s and s.split(" -- where: ")[1] for s in f.sources)
        assert f.matched


@pytest.mark.parametrize("drug", list_monographs())
def test_findings_are_the_monograph_statements(drug: str) -> None:
    m = load_monograph(drug)
    for f in screen_profile(EVERYTHING, drug).findings:
        s = m.get_statement(f.statement_id)
        assert (f.text, f.severity) == (s.text, s.severity)


@pytest.mark.parametrize("drug", ["esketamine", "ketamine"])
def test_clarithromycin_names_modifier_and_its_source(drug: str) -> None:
    r = screen_profile(PatientProfile(drugs_taken=["clarithromycin"]), drug)
    m = next(x for x in r.modifiers if x.modifier_id == "clarithromycin_oral_s_ketamine")
    assert "Hagelberg" in m.source and "10.1016/j.ejpain.2009.10.003" in m.source
    assert "cmax x3.6" in m.effects
    assert any("clarithromycin" in f.matched for f in r.findings)
    assert "clarithromycin_oral_s_ketamine" in r.format_text()


def test_clarithromycin_oral_esketamine_transfers() -> None:
    r = screen_profile(PatientProfile(drugs_taken=["clarithromycin"]), "esketamine", route="oral")
    assert r.get_modifier_ids() == ("clarithromycin_oral_s_ketamine",)


def test_clarithromycin_nasal_esketamine_does_not_transfer() -> None:
    r = screen_profile(
        PatientProfile(drugs_taken=["clarithromycin"]), "esketamine", route="intranasal"
    )
    assert r.get_modifier_ids() == ()
    assert r.modifiers[0].transfers is False
    assert "does not transfer" in r.modifiers[0].transfer_note


def test_clarithromycin_racemic_does_not_transfer() -> None:
    r = screen_profile(PatientProfile(drugs_taken=["clarithromycin"]), "ketamine", route="oral")
    assert r.get_modifier_ids() == ()
    assert r.get_modifier_ids(transferable_only=False) == ("clarithromycin_oral_s_ketamine",)


def test_route_not_given_leaves_transfer_open() -> None:
    r = screen_profile(PatientProfile(drugs_taken=["clarithromycin"]), "esketamine")
    assert r.modifiers[0].transfers is None and "give the route" in r.modifiers[0].transfer_note


def test_applied_wording_only_with_flag() -> None:
    p = PatientProfile(drugs_taken=["clarithromycin"])
    off = screen_profile(p, "esketamine", route="oral")
    on = screen_profile(p, "esketamine", route="oral", applied_to_simulation=True)
    assert "applied to the simulation" not in off.format_text()
    assert "Not applied by the screen" in off.format_text()
    assert "applied to the simulation" in on.format_text()
    assert on.modifiers[0].applied_to_simulation and not off.modifiers[0].applied_to_simulation


def test_only_the_perpetrator_taken_brings_its_modifier() -> None:
    r = screen_profile(PatientProfile(drugs_taken=["clarithromycin"]), "ketamine")
    assert [m.modifier_id for m in r.modifiers] == ["clarithromycin_oral_s_ketamine"]


def test_spravato_contraindications_for_vascular_conditions() -> None:
    for cond, sid in (
        ("aneurysm", "esk.ci.aneurysm_avm"),
        ("avm", "esk.ci.aneurysm_avm"),
        ("ich", "esk.ci.ich"),
        ("recent_mi", "esk.ci.eu_bp_icp"),
    ):
        r = screen_profile(PatientProfile(cardiovascular=(cond,)), "esketamine")
        f = next(x for x in r.findings if x.statement_id == sid)
        assert f.severity == "contraindication"


def test_severe_hepatic_impairment_esketamine_not_recommended() -> None:
    r = screen_profile(PatientProfile(hepatic_impairment="severe"), "esketamine")
    sev = {f.statement_id: f.severity for f in r.findings}
    assert sev == {
        "esk.warn.hepatic_severe": "not_recommended",  # US label 8.6 (nasal spray)
        "esk.warn.ketanest_liver": "precaution",  # German injection leaflet
    }


def test_findings_ordered_by_severity() -> None:
    order = [
        "boxed_warning",
        "contraindication",
        "not_recommended",
        "warning",
        "drug_interaction",
        "precaution",
        "information",
    ]
    sev = [f.severity for f in screen_profile(EVERYTHING, "esketamine").findings]
    assert sev == sorted(sev, key=order.index)


def test_uncovered_drug_is_a_gap_not_reassurance() -> None:
    r = screen_profile(PatientProfile(drugs_taken=["sertraline"]), "esketamine")
    assert not r.findings
    assert r.gaps and "not evidence that there is no interaction" in r.gaps[0]


def test_uncovered_condition_is_a_gap() -> None:
    r = screen_profile(PatientProfile(pregnant=True), "hnk")
    assert any(g.startswith("pregnant:") for g in r.gaps)


@pytest.mark.parametrize("drug", list_monographs())
def test_output_never_calls_anything_safe(drug: str) -> None:
    r = screen_profile(EVERYTHING, drug)
    text = (r.format_text() + r.to_json()).lower()
    for phrase in ("is safe", "are safe", "safe to ", "safe for"):
        assert phrase not in text


def test_notice_in_every_output() -> None:
    r = screen_profile(PatientProfile(), "esketamine")
    assert "research and education only" in r.format_text()
    assert "research and education only" in json.loads(r.to_json())["disclaimer"]


def test_json_lists_applicable_modifier_ids() -> None:
    r = screen_profile(PatientProfile(drugs_taken=["grapefruit"]), "esketamine", route="oral")
    ids = json.loads(r.to_json())["applicable_modifier_ids"]
    assert ids == ["grapefruit_juice_oral_s_ketamine"]


def test_female_sex_brings_the_sex_modifier_without_ratio_to_apply() -> None:
    r = screen_profile(PatientProfile(sex="female"), "esketamine", route="iv")
    m = next(x for x in r.modifiers if x.modifier_id == "sex_female_iv_s_ketamine_sigtermans2009")
    assert m.transfers is False and "No AUC or Cmax ratio" in m.transfer_note


@pytest.mark.parametrize("drug", list_monographs())
def test_screen_rules_use_known_agents_and_conditions(drug: str) -> None:
    names = {a.name for a in list_agents()} | set(AGENT_CLASSES)
    for s in load_monograph(drug).statements:
        assert set(s.screen.agents) <= names, (s.id, set(s.screen.agents) - names)
        assert set(s.screen.conditions) <= set(CONDITION_KEYS)


def test_each_profile_condition_is_screened_for_esketamine_or_ketamine() -> None:
    screened = {
        c
        for d in ("esketamine", "ketamine")
        for s in load_monograph(d).statements
        for c in s.screen.conditions
    }
    missing = set(CONDITION_KEYS) - screened
    assert missing == set(), missing


def test_subgroup_ratios_are_not_offered_for_automatic_application() -> None:
    r = screen_profile(PatientProfile(renal_impairment="severe"), "esketamine", route="intranasal")
    m = next(x for x in r.modifiers if x.modifier_id == "renal_impairment_esketamine_nasal")
    assert m.transfers is None and "choose the subgroup" in m.transfer_note
    assert r.get_modifier_ids() == ()
