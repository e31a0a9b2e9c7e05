"""Patient profile: validated fields, unknown drugs reported with a suggestion, contradictions."""

from __future__ import annotations

import pytest

from ketasim.errors import UnitError
from ketasim.safety import PatientProfile, ProfileError, UnknownAgentError, get_agent


def test_unknown_drug_is_reported_with_suggestion() -> None:
    with pytest.raises(UnknownAgentError, match=r"'clarithromyzin'.*did you mean 'clarithromycin'"):
        PatientProfile(drugs_taken=["clarithromyzin"])


def test_unknown_drug_without_close_match_has_no_suggestion() -> None:
    with pytest.raises(UnknownAgentError) as exc:
        PatientProfile(drugs_taken=["qqqqqq"])
    assert "did you mean" not in str(exc.value)


def test_synonym_resolves_to_canonical_name() -> None:
    assert PatientProfile(drugs_taken=["Rifampin", "rifampicin"]).get_drug_names() == (
        "rifampicin",
    )


def test_drug_class_accepted_as_input() -> None:
    assert get_agent("CNS depressants").classes == ("cns_depressant",)


def test_male_and_pregnant_is_contradictory() -> None:
    with pytest.raises(ProfileError, match="contradictory profile: sex 'male' and pregnant"):
        PatientProfile(sex="male", pregnant=True)


def test_male_and_breastfeeding_is_contradictory() -> None:
    with pytest.raises(ProfileError, match="'male' and breastfeeding"):
        PatientProfile(sex="Male", breastfeeding=True)


def test_unknown_level_is_refused() -> None:
    with pytest.raises(ProfileError, match="hypertension 'high' is not one of"):
        PatientProfile(hypertension="high")


def test_unknown_cardiovascular_condition_is_refused() -> None:
    with pytest.raises(ProfileError, match="cardiovascular condition 'gout'"):
        PatientProfile(cardiovascular=("gout",))


def test_cardiovascular_short_forms_map_to_condition_keys() -> None:
    p = PatientProfile(cardiovascular=("aneurysm", "AVM", "ich", "recent-mi"))
    assert p.get_conditions() == {
        "aneurysmal_vascular_disease",
        "av_malformation",
        "intracerebral_haemorrhage_history",
        "recent_cardiovascular_event",
    }


def test_negative_age_is_refused() -> None:
    with pytest.raises(ProfileError, match="age -1 yr"):
        PatientProfile(age_yr=-1)


def test_age_with_unit_is_converted() -> None:
    assert PatientProfile.from_inputs(age="18 months").age_yr == pytest.approx(1.5)


def test_age_without_unit_is_refused() -> None:
    with pytest.raises(UnitError):
        PatientProfile.from_inputs(age="45")


def test_impairment_none_states_no_condition() -> None:
    assert PatientProfile(hepatic_impairment="none", hypertension="none").get_conditions() == set()


def test_conditions_cover_levels() -> None:
    p = PatientProfile(
        hepatic_impairment="severe", renal_impairment="mild", hypertension="controlled"
    )
    assert p.get_conditions() == {
        "hepatic_impairment_severe",
        "renal_impairment_mild",
        "hypertension_controlled",
    }


def test_to_dict_lists_conditions() -> None:
    d = PatientProfile(pregnant=True).to_dict()
    assert d["conditions"] == ["pregnant"] and "agents" not in d


def test_package_all_is_unique_and_importable() -> None:
    import ketasim.safety as pkg

    assert len(set(pkg.__all__)) == len(pkg.__all__)  # order: ruff RUF022 (isort style)
    assert all(hasattr(pkg, n) for n in pkg.__all__)
