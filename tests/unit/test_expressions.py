"""Unit tests for ketasim.expressions: safe parsing and evaluation of covariate formulas."""

from __future__ import annotations

import numpy as np
import pytest

from ketasim.errors import ModelError
from ketasim.expressions import Expression, parse_expression

# --- arithmetic ----------------------------------------------------------------------------------


def test_evaluate_arithmetic_follows_precedence():
    assert parse_expression("1 + 2*3 - 4/2").evaluate({}) == pytest.approx(5.0)


def test_evaluate_power_operator():
    assert parse_expression("2**3").evaluate({}) == pytest.approx(8.0)


def test_evaluate_parentheses_change_order():
    assert parse_expression("(1 + 2) * 3").evaluate({}) == pytest.approx(9.0)


def test_evaluate_unary_minus():
    assert parse_expression("-x").evaluate({"x": 3.0}) == pytest.approx(-3.0)


def test_evaluate_unary_plus():
    assert parse_expression("+x").evaluate({"x": 3.0}) == pytest.approx(3.0)


def test_evaluate_allometric_clearance():
    e = parse_expression("TVCL * (WT/70)**0.75 * exp(ETA_CL)")
    got = e.evaluate({"TVCL": 90.0, "WT": 35.0, "ETA_CL": 0.0})
    assert got == pytest.approx(90.0 * 0.5**0.75)


def test_evaluate_integer_constants_give_float_division():
    assert parse_expression("1/2").evaluate({}) == pytest.approx(0.5)


def test_parse_expression_scientific_notation_constant():
    assert parse_expression("1e-3 * x").evaluate({"x": 2.0}) == pytest.approx(2e-3)


# --- functions -----------------------------------------------------------------------------------


def test_evaluate_exp():
    assert parse_expression("exp(1)").evaluate({}) == pytest.approx(np.e)


def test_evaluate_log_is_natural_log():
    assert parse_expression("log(x)").evaluate({"x": np.e}) == pytest.approx(1.0)


def test_evaluate_sqrt():
    assert parse_expression("sqrt(16)").evaluate({}) == pytest.approx(4.0)


def test_evaluate_abs():
    assert parse_expression("abs(-2.5)").evaluate({}) == pytest.approx(2.5)


def test_evaluate_min_is_elementwise():
    got = parse_expression("min(a, b)").evaluate({"a": np.array([1.0, 5.0]), "b": 3.0})
    np.testing.assert_allclose(got, [1.0, 3.0])


def test_evaluate_max_is_elementwise():
    got = parse_expression("max(a, b)").evaluate({"a": np.array([1.0, 5.0]), "b": 3.0})
    np.testing.assert_allclose(got, [3.0, 5.0])


# --- comparisons and if-else ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("x < 2", [1.0, 0.0, 0.0]),
        ("x <= 2", [1.0, 1.0, 0.0]),
        ("x > 2", [0.0, 0.0, 1.0]),
        ("x >= 2", [0.0, 1.0, 1.0]),
        ("x == 2", [0.0, 1.0, 0.0]),
        ("x != 2", [1.0, 0.0, 1.0]),
    ],
)
def test_evaluate_comparison_gives_one_or_zero(text, expected):
    got = parse_expression(text).evaluate({"x": np.array([1.0, 2.0, 3.0])})
    np.testing.assert_array_equal(got, expected)


def test_evaluate_comparison_result_is_float():
    got = parse_expression("x > 1").evaluate({"x": np.array([0.0, 2.0])})
    assert got.dtype == np.float64


def test_evaluate_chained_comparison_means_both():
    got = parse_expression("1 < x < 3").evaluate({"x": np.array([0.0, 2.0, 4.0])})
    np.testing.assert_array_equal(got, [0.0, 1.0, 0.0])


def test_evaluate_comparison_times_value_is_indicator_covariate():
    got = parse_expression("1 + 0.5 * (SEX == 1)").evaluate({"SEX": np.array([0.0, 1.0])})
    np.testing.assert_allclose(got, [1.0, 1.5])


def test_evaluate_if_else_scalar_true_branch():
    assert parse_expression("a if x > 2 else b").evaluate({"x": 3.0, "a": 10.0, "b": 20.0}) == 10.0


def test_evaluate_if_else_scalar_false_branch():
    assert parse_expression("a if x > 2 else b").evaluate({"x": 1.0, "a": 10.0, "b": 20.0}) == 20.0


def test_evaluate_if_else_on_array_selects_elementwise():
    got = parse_expression("x if x > 2 else -x").evaluate({"x": np.array([1.0, 3.0])})
    np.testing.assert_allclose(got, [-1.0, 3.0])


# --- arrays --------------------------------------------------------------------------------------


def test_evaluate_array_and_scalar_broadcast():
    got = parse_expression("TVCL * (WT/70)").evaluate({"TVCL": 90.0, "WT": np.array([35.0, 70.0])})
    np.testing.assert_allclose(got, [45.0, 90.0])


def test_evaluate_row_and_column_arrays_broadcast_to_matrix():
    env = {"a": np.array([1.0, 2.0]), "b": np.array([[1.0], [10.0]])}
    got = parse_expression("a * b").evaluate(env)
    np.testing.assert_allclose(got, [[1.0, 2.0], [10.0, 20.0]])


def test_evaluate_function_on_array_is_elementwise():
    got = parse_expression("exp(eta)").evaluate({"eta": np.array([0.0, np.log(2.0)])})
    np.testing.assert_allclose(got, [1.0, 2.0])


# --- names and text ------------------------------------------------------------------------------


def test_parse_expression_names_lists_free_names():
    e = parse_expression("TVCL * (WT/70)**0.75 * exp(ETA_CL)")
    assert e.names == frozenset({"TVCL", "WT", "ETA_CL"})


def test_parse_expression_names_exclude_function_names():
    e = parse_expression("exp(a) + min(b, c) + max(b, c) + log(a) + sqrt(a) + abs(a)")
    assert e.names == frozenset({"a", "b", "c"})


def test_parse_expression_constant_has_no_names():
    assert parse_expression("3.5").names == frozenset()


def test_parse_expression_text_is_stripped():
    assert parse_expression("  a + b \n").text == "a + b"


def test_parse_expression_returns_expression():
    assert isinstance(parse_expression("a"), Expression)


def test_expression_is_frozen():
    e = parse_expression("a")
    with pytest.raises(AttributeError):
        e.text = "b"  # type: ignore[misc]


# --- refusals ------------------------------------------------------------------------------------


def test_parse_expression_attribute_access_refused():
    with pytest.raises(ModelError, match="Attribute is not allowed"):
        parse_expression("x.real")


def test_parse_expression_dunder_attribute_on_function_refused():
    with pytest.raises(ModelError, match="Attribute"):
        parse_expression("exp.__class__")


def test_parse_expression_dunder_attribute_on_constant_refused():
    with pytest.raises(ModelError, match="Attribute"):
        parse_expression("(1).__class__.__bases__")


def test_parse_expression_subscript_refused():
    with pytest.raises(ModelError, match="Subscript is not allowed"):
        parse_expression("x[0]")


def test_parse_expression_lambda_refused():
    with pytest.raises(ModelError, match="Lambda is not allowed"):
        parse_expression("lambda: 1")


def test_parse_expression_string_constant_refused():
    with pytest.raises(ModelError, match="only numbers may appear as constants"):
        parse_expression("'abc'")


def test_parse_expression_bool_constant_refused():
    with pytest.raises(ModelError, match="only numbers"):
        parse_expression("True")


def test_parse_expression_none_constant_refused():
    with pytest.raises(ModelError, match="only numbers"):
        parse_expression("None")


def test_parse_expression_complex_constant_refused():
    with pytest.raises(ModelError, match="only numbers"):
        parse_expression("1j")


def test_parse_expression_unknown_function_refused():
    with pytest.raises(ModelError, match="only abs, exp, log, max, min, sqrt may be called"):
        parse_expression("sin(x)")


def test_parse_expression_dunder_import_refused():
    with pytest.raises(ModelError, match="may be called"):
        parse_expression("__import__('os')")


def test_parse_expression_dunder_import_with_attribute_refused():
    with pytest.raises(ModelError):
        parse_expression("__import__('os').system('true')")


def test_parse_expression_eval_call_refused():
    with pytest.raises(ModelError, match="may be called"):
        parse_expression("eval('1')")


def test_parse_expression_call_of_call_result_refused():
    with pytest.raises(ModelError, match="may be called"):
        parse_expression("exp(1)(2)")


def test_parse_expression_keyword_argument_refused():
    with pytest.raises(ModelError, match="may be called"):
        parse_expression("exp(x=1)")


def test_parse_expression_starred_argument_refused():
    with pytest.raises(ModelError, match=r"Starred|argument"):
        parse_expression("max(*a)")


def test_parse_expression_list_refused():
    with pytest.raises(ModelError, match="List"):
        parse_expression("[1, 2]")


def test_parse_expression_f_string_refused():
    with pytest.raises(ModelError, match="JoinedStr"):
        parse_expression("f'{x}'")


def test_parse_expression_boolean_operator_refused():
    with pytest.raises(ModelError, match="BoolOp"):
        parse_expression("a and b")


def test_parse_expression_not_operator_refused():
    with pytest.raises(ModelError, match="Not"):
        parse_expression("not a")


def test_parse_expression_bit_invert_refused():
    with pytest.raises(ModelError, match="Invert"):
        parse_expression("~a")


@pytest.mark.parametrize("text", ["a // 2", "a % 2", "a @ b", "a << 1", "a | b", "a ^ b"])
def test_parse_expression_other_binary_operators_refused(text):
    with pytest.raises(ModelError, match=r"operator \w+ not allowed"):
        parse_expression(text)


def test_parse_expression_walrus_refused():
    with pytest.raises(ModelError, match="NamedExpr"):
        parse_expression("(x := 1)")


def test_parse_expression_syntax_error_raises_model_error():
    with pytest.raises(ModelError, match="cannot parse '1 \\+'"):
        parse_expression("1 +")


def test_parse_expression_statement_refused():
    with pytest.raises(ModelError, match="cannot parse"):
        parse_expression("import os")


def test_parse_expression_empty_text_refused():
    with pytest.raises(ModelError, match="non-empty expression"):
        parse_expression("   ")


def test_parse_expression_non_string_refused():
    with pytest.raises(ModelError, match="non-empty expression"):
        parse_expression(None)  # type: ignore[arg-type]


def test_parse_expression_error_message_names_field():
    with pytest.raises(ModelError, match=r"^individual\.CL: "):
        parse_expression("x[0]", what="individual.CL")


# --- evaluation errors ---------------------------------------------------------------------------


def test_evaluate_unknown_name_raises_model_error_naming_it():
    with pytest.raises(ModelError, match="unknown name 'WT'"):
        parse_expression("TVCL * WT").evaluate({"TVCL": 1.0})


def test_evaluate_unknown_name_message_quotes_expression():
    with pytest.raises(ModelError, match="'TVCL \\* WT'"):
        parse_expression("TVCL * WT").evaluate({"TVCL": 1.0})


def test_evaluate_if_else_untaken_branch_name_still_required():
    # NOTE: numpy where evaluates both branches, so both names must be given.
    with pytest.raises(ModelError, match="unknown name 'b'"):
        parse_expression("a if 1 > 0 else b").evaluate({"a": 1.0})


@pytest.mark.parametrize("text", ["a is b", "a is not b", "a in b", "a not in b"])
def test_identity_and_membership_comparisons_refused_at_parse_issue_2(text: str) -> None:
    with pytest.raises(ModelError, match="not allowed"):
        parse_expression(text)


@pytest.mark.parametrize("text", ["exp(1, 2)", "exp()", "min(1)", "max(1, 2, 3)"])
def test_wrong_number_of_function_arguments_refused_issue_2(text: str) -> None:
    with pytest.raises(ModelError, match="argument"):
        parse_expression(text)
