"""Unit tests for ketasim.library.loader: shipped models, unit canonicalisation, broken files."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from ketasim.errors import ModelError
from ketasim.library import canonical_unit_for, list_models, load_model, load_model_file
from ketasim.spec import ModelSpec

SHIPPED = list_models()


def _library_file(model_id: str) -> Path:
    import ketasim.library

    return Path(ketasim.library.__file__).parent / f"{model_id}.toml"


HERD_TEXT = _library_file("herd_2007").read_text(encoding="utf-8")


def _broken(tmp_path: Path, old: str, new: str) -> Path:
    """Write herd_2007.toml with exactly one occurrence of ``old`` replaced by ``new``."""
    assert HERD_TEXT.count(old) == 1, f"fixture text {old!r} not unique in herd_2007.toml"
    path = tmp_path / "herd_2007.toml"
    path.write_text(HERD_TEXT.replace(old, new), encoding="utf-8")
    return path


# --- shipped models ------------------------------------------------------------------------------


def test_list_models_is_sorted_and_not_empty():
    assert SHIPPED
    assert sorted(SHIPPED) == SHIPPED


def test_list_models_excludes_non_model_files():
    assert "effects" not in SHIPPED
    assert "modifiers" not in SHIPPED


@pytest.mark.parametrize("model_id", SHIPPED)
def test_load_model_shipped_model_loads(model_id):
    spec = load_model(model_id)
    assert isinstance(spec, ModelSpec)
    assert spec.id == model_id


@pytest.mark.parametrize("model_id", SHIPPED)
def test_load_model_shipped_model_has_doi(model_id):
    assert load_model(model_id).citation.doi.strip()


@pytest.mark.parametrize("model_id", SHIPPED)
def test_shipped_model_every_theta_has_unit_in_file(model_id):
    with open(_library_file(model_id), "rb") as fh:
        doc = tomllib.load(fh)
    missing = [name for name, t in doc["parameters"].items() if not isinstance(t.get("unit"), str)]
    assert missing == []


@pytest.mark.parametrize("model_id", SHIPPED)
def test_shipped_model_every_theta_has_source_or_citation_names_table(model_id):
    spec = load_model(model_id)
    cites_table = "table" in spec.citation.where.lower()
    unsourced = [n for n, t in spec.thetas.items() if not t.source.strip()]
    assert cites_table or unsourced == []


@pytest.mark.parametrize("model_id", SHIPPED)
def test_shipped_model_theta_canonical_unit_matches_published_unit(model_id):
    spec = load_model(model_id)
    wrong = {
        n: (t.published_unit, t.unit)
        for n, t in spec.thetas.items()
        if canonical_unit_for(t.published_unit) != t.unit
    }
    assert wrong == {}


def test_load_model_herd_converts_nothing_for_l_per_h():
    theta = load_model("herd_2007").thetas["TVCL"]
    assert (theta.value, theta.unit, theta.published_value) == (90.0, "L/h", 90.0)


def test_load_model_herd_typical_clearance_at_reference_weight():
    spec = load_model("herd_2007")
    env = {"TVCL": 90.0, "EXP_CL": 0.75, "WT": 70.0, "ETA_CL": 0.0}
    assert float(spec.individual["CL"].evaluate(env)) == pytest.approx(90.0)


def test_load_model_is_cached():
    assert load_model("herd_2007") is load_model("herd_2007")


def test_load_model_unknown_id_raises_model_error_listing_available():
    with pytest.raises(ModelError, match=r"unknown model 'nope'; available: .*herd_2007"):
        load_model("nope")


def test_load_model_non_model_file_refused():
    with pytest.raises(ModelError, match="unknown model 'effects'"):
        load_model("effects")


def test_load_model_file_copy_of_shipped_file_loads(tmp_path):
    path = tmp_path / "herd_2007.toml"
    path.write_text(HERD_TEXT, encoding="utf-8")
    assert load_model_file(path).thetas["TVV1"].value == pytest.approx(38.7)


def test_load_model_file_missing_file_raises_model_error(tmp_path):
    with pytest.raises(ModelError, match="cannot read model file"):
        load_model_file(tmp_path / "absent.toml")


# --- canonical_unit_for --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("unit", "canonical"),
    [
        ("L/min", "L/h"),
        ("mL/min/kg", "L/h/kg"),
        ("min", "h"),
        ("d", "h"),
        ("1/min", "1/h"),
        ("mL", "L"),
        ("ug", "mg"),
        ("mg/min", "mg/h"),
        ("ng/mL", "mg/L"),
        ("umol/L", "nmol/L"),
        ("L/kg", "L/kg"),
        ("L/min/yr", "L/h/yr"),
        ("%", ""),
        ("", ""),
        ("µg", "mg"),
    ],
)
def test_canonical_unit_for_examples(unit, canonical):
    assert canonical_unit_for(unit) == canonical


def test_canonical_unit_for_unused_dimension_raises_model_error_naming_field():
    with pytest.raises(ModelError, match=r"parameters\.X: unit 'm/s'"):
        canonical_unit_for("m/s", what="parameters.X")


# --- deliberately broken model files -------------------------------------------------------------


def test_broken_file_missing_citation_doi_names_field(tmp_path):
    path = _broken(tmp_path, 'doi = "10.1111/j.1460-9592.2006.02145.x"\n', "")
    with pytest.raises(ModelError, match="citation: required field 'doi' is missing"):
        load_model_file(path)


def test_broken_file_empty_citation_doi_names_field(tmp_path):
    path = _broken(tmp_path, 'doi = "10.1111/j.1460-9592.2006.02145.x"', 'doi = " "')
    with pytest.raises(ModelError, match=r"citation\.doi"):
        load_model_file(path)


def test_broken_file_status_unverified_names_field(tmp_path):
    path = _broken(tmp_path, 'status = "verified"', 'status = "unverified"')
    with pytest.raises(ModelError, match="status is 'unverified'"):
        load_model_file(path)


def test_broken_file_status_missing_names_field(tmp_path):
    path = _broken(tmp_path, 'status = "verified"\n', "")
    with pytest.raises(ModelError, match="status is ''"):
        load_model_file(path)


def test_broken_file_theta_without_unit_names_field(tmp_path):
    path = _broken(tmp_path, 'TVCL = { value = 90, unit = "L/h",', "TVCL = { value = 90,")
    with pytest.raises(ModelError, match=r"parameters\.TVCL: needs value and unit"):
        load_model_file(path)


def test_broken_file_theta_non_numeric_value_names_field(tmp_path):
    path = _broken(
        tmp_path, 'TVCL = { value = 90, unit = "L/h",', 'TVCL = { value = "90", unit = "L/h",'
    )
    with pytest.raises(ModelError, match=r"parameters\.TVCL\.value"):
        load_model_file(path)


def test_broken_file_unknown_compartment_in_flow_names_it(tmp_path):
    path = _broken(tmp_path, 'from = "PERIPH1"\nto = "CENTRAL"', 'from = "PERIPH1"\nto = "NOWHERE"')
    with pytest.raises(ModelError, match="flow names unknown compartment 'NOWHERE'"):
        load_model_file(path)


def test_broken_file_flow_with_clearance_and_rate_names_field(tmp_path):
    path = _broken(
        tmp_path,
        'from = "CENTRAL"\nclearance = "CL"',
        'from = "CENTRAL"\nclearance = "CL"\nrate = "CL"',
    )
    with pytest.raises(ModelError, match=r"flows\[2\] \(from CENTRAL\): give exactly one"):
        load_model_file(path)


def test_broken_file_expression_unknown_name_names_field(tmp_path):
    path = _broken(
        tmp_path,
        '"TVCL * (WT/70)**EXP_CL * exp(ETA_CL)"',
        '"TVCL * (WT/70)**EXP_CL * exp(ETA_CL) * FOO"',
    )
    with pytest.raises(ModelError, match=r"individual\.CL"):
        load_model_file(path)


def test_broken_file_expression_wrong_dimension_names_field_and_unit(tmp_path):
    path = _broken(
        tmp_path,
        'CL = { expr = "TVCL * (WT/70)**EXP_CL * exp(ETA_CL)", unit = "L/h" }',
        'CL = { expr = "TVCL * (WT/70)**EXP_CL * exp(ETA_CL)", unit = "L" }',
    )
    with pytest.raises(ModelError, match=r"individual\.CL = .*declared unit 'L'"):
        load_model_file(path)


def test_broken_file_expression_mixing_printed_units_names_field(tmp_path):
    path = _broken(
        tmp_path, 'TVCL = { value = 90, unit = "L/h",', 'TVCL = { value = 1.5, unit = "L/min",'
    )
    with pytest.raises(ModelError, match=r"individual\.CL = .*do not combine to 'L/h'"):
        load_model_file(path)


def test_broken_file_expression_forbidden_syntax_names_field(tmp_path):
    path = _broken(
        tmp_path,
        '"TVCL * (WT/70)**EXP_CL * exp(ETA_CL)"',
        '"TVCL.real * (WT/70)**EXP_CL * exp(ETA_CL)"',
    )
    with pytest.raises(ModelError, match=r"individual\.CL: Attribute is not allowed"):
        load_model_file(path)


def test_broken_file_omega_not_positive_definite_names_field(tmp_path):
    path = _broken(
        tmp_path,
        "[0.4096, 0.0, 0.0, 0.0],\n  [0.0, 0.267289,",
        "[0.4096, 0.9, 0.0, 0.0],\n  [0.9, 0.267289,",
    )
    with pytest.raises(ModelError, match=r"iiv\.omega is not positive semi-definite"):
        load_model_file(path)


def test_broken_file_omega_not_symmetric_names_field(tmp_path):
    path = _broken(tmp_path, "[0.4096, 0.0, 0.0, 0.0],", "[0.4096, 0.01, 0.0, 0.0],")
    with pytest.raises(ModelError, match=r"iiv\.omega must be a finite symmetric matrix"):
        load_model_file(path)


def test_broken_file_omega_wrong_shape_names_field(tmp_path):
    path = _broken(tmp_path, "[0.0, 0.0, 0.0, 0.0361],\n]", "]")
    with pytest.raises(ModelError, match=r"iiv\.omega is \(3, 4\), expected 4x4"):
        load_model_file(path)


def test_broken_file_route_unknown_key_names_field(tmp_path):
    path = _broken(
        tmp_path, 'inputs = [{ cmt = "CENTRAL" }]', 'inputs = [{ cmt = "CENTRAL", speed = 3 }]'
    )
    with pytest.raises(ModelError, match=r"routes.iv.inputs\[0\]: unknown key\(s\) speed"):
        load_model_file(path)


def test_broken_file_route_unknown_compartment_names_it(tmp_path):
    path = _broken(tmp_path, 'inputs = [{ cmt = "CENTRAL" }]', 'inputs = [{ cmt = "GUT" }]')
    with pytest.raises(ModelError, match="route iv uses unknown compartment 'GUT'"):
        load_model_file(path)


def test_broken_file_invalid_toml_names_file(tmp_path):
    path = tmp_path / "herd_2007.toml"
    path.write_text(HERD_TEXT + "\n[[[broken\n", encoding="utf-8")
    with pytest.raises(ModelError, match=r"herd_2007\.toml: not valid TOML"):
        load_model_file(path)


def test_broken_file_id_not_matching_file_name_names_both(tmp_path):
    path = _broken(tmp_path, 'id = "herd_2007"', 'id = "herd_2008"')
    with pytest.raises(ModelError, match="id 'herd_2008' does not match the file name 'herd_2007'"):
        load_model_file(path)


def test_broken_file_unknown_analyte_names_it(tmp_path):
    path = _broken(
        tmp_path, 'analyte = "ketamine"\nvolume = "V1"', 'analyte = "cocaine"\nvolume = "V1"'
    )
    with pytest.raises(ModelError, match="unknown analyte 'cocaine'"):
        load_model_file(path)


def test_broken_file_population_without_sampling_names_field(tmp_path):
    path = _broken(tmp_path, 'sampling = "unknown"\n', "")
    with pytest.raises(ModelError, match="population: required field 'sampling' is missing"):
        load_model_file(path)


def test_broken_file_error_message_starts_with_file_name(tmp_path):
    path = _broken(tmp_path, 'status = "verified"', 'status = "draft"')
    with pytest.raises(ModelError, match=r"^herd_2007\.toml: "):
        load_model_file(path)


def test_canonical_unit_for_unknown_unit_names_the_field_issue_2() -> None:
    from ketasim.errors import ModelError
    from ketasim.library import canonical_unit_for

    with pytest.raises(ModelError, match=r"parameters\.TVCL"):
        canonical_unit_for("blorp", what="parameters.TVCL")


# --- evidence tiers --------------------------------------------------------------------------


@pytest.mark.parametrize("model_id", list_models())
def test_shipped_model_has_evidence_tier(model_id):
    ev = load_model(model_id).evidence
    assert ev is not None and ev.tier in ("published", "transcribed", "derived")


def test_broken_file_evidence_missing_names_field(tmp_path):
    path = _broken(tmp_path, 'evidence = "published"', "")
    with pytest.raises(ModelError, match="required field 'evidence' is missing"):
        load_model_file(path)


def test_broken_file_evidence_unknown_tier_names_it(tmp_path):
    path = _broken(tmp_path, 'evidence = "published"', 'evidence = "guessed"')
    with pytest.raises(ModelError, match="evidence = 'guessed' must be one of"):
        load_model_file(path)


def test_broken_file_published_with_transcribed_sources_refused(tmp_path):
    text = _library_file("herd_2007").read_text(encoding="utf-8")
    extra = (
        '\n[[transcribed_from]]\nproject = "x"\nrepository = "r"\nfile = "f"\nversion = "1"\n'
        'cites = "c"\nvalues = {}\n'
    )
    path = tmp_path / "herd_2007.toml"
    path.write_text(text + extra, encoding="utf-8")
    with pytest.raises(ModelError, match=r'evidence = "published" but the file has \[transcribed'):
        load_model_file(path)


def _domino_variant(tmp_path: Path, old: str, new: str, count: int = 1) -> Path:
    text = _library_file("domino_1984").read_text(encoding="utf-8")
    assert old in text
    path = tmp_path / "domino_1984.toml"
    path.write_text(text.replace(old, new, count), encoding="utf-8")
    return path


def test_transcribed_with_one_implementation_refused(tmp_path):
    path = _domino_variant(
        tmp_path,
        'repository = "github.com/StevenLShafer/stanpumpR"',
        'repository = "github.com/opentiva/opentiva"',
    )
    with pytest.raises(ModelError, match="at least two independent implementations"):
        load_model_file(path)


def test_transcribed_implementation_disagreeing_value_refused(tmp_path):
    path = _domino_variant(tmp_path, 'TVK10 = "0.438"', 'TVK10 = "0.437"')
    with pytest.raises(ModelError, match=r"stanpumpR\).*encodes 0.437.*TVK10 is 0.4381"):
        load_model_file(path)


def test_transcribed_implementation_missing_theta_refused(tmp_path):
    path = _domino_variant(tmp_path, 'TVK21 = "0.247", TVK31 = "0.0146" }', 'TVK21 = "0.247" }')
    with pytest.raises(ModelError, match="no value for theta TVK31"):
        load_model_file(path)


def test_transcribed_value_not_quoted_refused(tmp_path):
    path = _domino_variant(tmp_path, 'TVK10 = "0.438"', "TVK10 = 0.438")
    with pytest.raises(ModelError, match="write the number as printed, in quotes"):
        load_model_file(path)


def test_derived_without_script_refused(tmp_path):
    extra = '\n[derived_from]\ndata = "d.csv"\ndiagnostics = "diag.md"\nidentifies = "F"\n'
    text = _library_file("herd_2007").read_text(encoding="utf-8")
    path = tmp_path / "herd_2007.toml"
    path.write_text(
        text.replace('evidence = "published"', 'evidence = "derived"') + extra, encoding="utf-8"
    )
    with pytest.raises(ModelError, match=r"derived_from: required field 'script' is missing"):
        load_model_file(path)
