"""Choosing a model: drug, route and population filters; warnings outside population/site."""

from __future__ import annotations

import pytest

from ketasim.errors import ModelError, SamplingSiteWarning, ValidityWarning
from ketasim.library import (
    check_model_use,
    find_models,
    get_population_group,
    list_models,
    load_model,
)
from ketasim.library.compose import list_composed_models
from ketasim.library.selection import normalise_drug

NK = "racemic_adult_norketamine"
ROUTES = "racemic_adult_routes"


def test_find_models_without_filters_lists_every_model_then_compositions():
    assert [m.id for m in find_models()] == list_models() + list_composed_models()
    assert [m.id for m in find_models(composed=False)] == list_models()


@pytest.mark.parametrize("drug", ["racemic", "Racemic", "ketamine", "racemic ketamine"])
def test_find_models_drug_racemic_spellings(drug):
    ids = {m.id for m in find_models(drug=drug)}
    assert ids and all(load_model(i).drug == "racemic ketamine" for i in ids)


def test_find_models_esketamine_excludes_racemic():
    assert all(m.drug == "esketamine" for m in find_models(drug="esketamine"))


def test_find_models_route_filter_is_case_insensitive_and_matches_study_variants():
    ids = [m.id for m in find_models(route="INTRANASAL")]
    assert ids[0] == "perez_ruixo_2021"
    # the adult racemic composition offers intranasal only as study-named variants
    assert f"domino_1984+{NK}+{ROUTES}" in ids
    assert all(m.id in ids for m in find_models(route="intranasal"))


def test_find_models_adult_racemic_iv_includes_domino():
    ids = [m.id for m in find_models(drug="racemic", route="iv", population="adult")]
    assert "domino_1984" in ids
    assert "herd_2007" not in ids


def test_find_models_child_excludes_adult_models():
    for m in find_models(population="child"):
        assert m.population in ("child", "mixed")


def test_find_models_reports_tier_sampling_and_ranges():
    (herd,) = [m for m in find_models() if m.id == "herd_2007"]
    assert herd.evidence == "published"
    assert herd.sampling == "unknown"
    assert herd.format_ranges() == "1-14 yr, 10.8-74.8 kg"


def test_find_models_adult_racemic_im_is_the_derived_composition():
    (choice,) = find_models(drug="racemic", route="im", population="adult")
    assert choice.id == f"domino_1984+{NK}+{ROUTES}"
    assert choice.evidence == "derived"
    assert find_models(drug="racemic", route="im", population="adult", composed=False) == []


def test_find_models_route_nobody_has_gives_empty_list():
    assert find_models(drug="racemic", route="subcutaneous") == []


def test_normalise_drug_unknown_refused_naming_it():
    with pytest.raises(ModelError, match="drug 'morphine' must be racemic or esketamine"):
        normalise_drug("morphine")


def test_find_models_unknown_population_refused():
    with pytest.raises(ModelError, match="population 'elderly'"):
        find_models(population="elderly")


@pytest.mark.parametrize(
    ("model", "group"),
    [("herd_2007", "child"), ("perez_ruixo_2021", "adult"), ("domino_1984", "adult")],
)
def test_population_group(model, group):
    assert get_population_group(load_model(model)) == group


def test_check_model_use_child_model_for_adult_warns():
    with pytest.warns(ValidityWarning, match="herd_2007 was built in children"):
        check_model_use(load_model("herd_2007"), population="adult")


def test_check_model_use_arterial_model_for_venous_warns():
    with pytest.warns(SamplingSiteWarning, match="simons_2022 predicts arterial"):
        check_model_use(load_model("simons_2022"), sampling="venous")


def test_check_model_use_unsupported_route_refused():
    with pytest.raises(ModelError, match="does not support route 'im'"):
        check_model_use(load_model("domino_1984"), route="im")
