"""The bundled monographs: every statement sourced, vocabulary respected, names resolved."""

from __future__ import annotations

import pytest

from ketasim.interactions import list_modifiers
from ketasim.monograph import (
    SECTIONS,
    MonographError,
    list_monographs,
    load_monograph,
    resolve_monograph_name,
)

ALL = list_monographs()
LABELLED = ("ketamine", "esketamine")


def test_bundled_monographs_are_the_four() -> None:
    assert ALL == ["esketamine", "hnk", "ketamine", "norketamine"]


@pytest.mark.parametrize("name", ALL)
def test_every_statement_has_a_source_and_a_place(name: str) -> None:
    m = load_monograph(name)
    for s in m.statements:
        assert s.cite, s.id
        for ref in s.cite:
            assert ref.where.strip(), s.id
            assert ref.source.title.strip(), s.id


@pytest.mark.parametrize("name", ALL)
def test_label_sources_state_jurisdiction_and_version(name: str) -> None:
    for src in load_monograph(name).sources.values():
        if src.kind == "label":
            assert src.jurisdiction and src.version and src.url, src.id


@pytest.mark.parametrize("name", ALL)
def test_every_source_is_cited(name: str) -> None:
    m = load_monograph(name)
    cited = {ref.source.id for s in m.statements for ref in s.cite}
    assert set(m.sources) <= cited, set(m.sources) - cited


@pytest.mark.parametrize("name", ALL)
def test_linked_modifiers_exist(name: str) -> None:
    ids = {x.id for x in list_modifiers()}
    for s in load_monograph(name).statements:
        assert set(s.modifier_ids) <= ids, s.id


@pytest.mark.parametrize("name", LABELLED)
def test_labelled_drug_covers_the_expected_sections(name: str) -> None:
    m = load_monograph(name)
    for section in (
        "names_forms",
        "uses",
        "mechanism",
        "routes",
        "side_effects",
        "contraindications",
        "warnings",
        "interactions",
        "abuse",
        "pregnancy_lactation",
        "faq",
        "disclaimer",
    ):
        assert m.get_section(section), f"{name}: no {section}"


def test_esketamine_nasal_spray_is_approved_by_fda() -> None:
    s = load_monograph("esketamine").get_statement("esk.use.trd_us")
    assert (s.status, s.jurisdiction, s.authority) == ("approved", "US", "FDA")
    assert "REMS" in s.text


def test_racemic_ketamine_for_depression_is_off_label_in_us() -> None:
    s = load_monograph("ketamine").get_statement("ket.use.depression_us")
    assert (s.status, s.jurisdiction) == ("off_label", "US")


@pytest.mark.parametrize("name", ["norketamine", "hnk"])
def test_metabolites_have_no_label_found(name: str) -> None:
    uses = load_monograph(name).get_section("uses")
    assert uses and all(s.status == "no_label_found" for s in uses)


def test_schedule_iii_stated_for_both_drugs_with_dea_source() -> None:
    pairs = (("ketamine", "ket.abuse.schedule_us"), ("esketamine", "esk.abuse.schedule_us"))
    for name, sid in pairs:
        s = load_monograph(name).get_statement(sid)
        assert "Schedule III" in s.schedule
        assert any(ref.source.id == "dea_1999" for ref in s.cite)


def test_side_effect_frequencies_name_their_table() -> None:
    m = load_monograph("esketamine")
    freq = [s for s in m.get_section("side_effects") if s.frequency]
    assert freq and all(ref.where for s in freq for ref in s.cite)


@pytest.mark.parametrize(
    ("alias", "expected"),
    [
        ("Spravato", "esketamine"),
        ("S-ketamine", "esketamine"),
        ("Ketalar", "ketamine"),
        ("noresketamine", "norketamine"),
        ("(2R,6R)-HNK", "hnk"),
    ],
)
def test_aliases_resolve(alias: str, expected: str) -> None:
    assert resolve_monograph_name(alias) == expected


def test_unknown_name_suggests_closest() -> None:
    with pytest.raises(MonographError, match=r"'esketamin'.*did you mean 'esketamine'"):
        load_monograph("esketamin")


def test_unknown_section_is_refused() -> None:
    with pytest.raises(MonographError, match="unknown section 'dosing'"):
        load_monograph("ketamine").get_section("dosing")


def test_sections_order_starts_with_names_and_ends_with_disclaimer() -> None:
    keys = list(SECTIONS)
    assert keys[0] == "names_forms" and keys[-1] == "disclaimer"


def test_to_dict_keeps_sources_of_statements() -> None:
    d = load_monograph("hnk").to_dict()
    assert d["statements"][0]["cite"][0]["source"]["title"]


def test_package_all_is_unique_and_importable() -> None:
    import ketasim.monograph as pkg

    assert len(set(pkg.__all__)) == len(pkg.__all__)  # order: ruff RUF022 (isort style)
    assert all(hasattr(pkg, n) for n in pkg.__all__)
