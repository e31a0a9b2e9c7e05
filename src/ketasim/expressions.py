"""Safe arithmetic expressions for covariate relations stored in model files.

A model file writes ``CL = "TVCL * (WT/70)**0.75 * exp(ETA_CL)"``; this module parses such text
into a tree once (no ``eval``), lists the names it uses, and evaluates it on numpy arrays.

Allowed: numbers, names, ``+ - * / **``, unary minus, comparisons (``<``, ``<=``, ``>``, ``>=``,
``==``, ``!=``) giving 1/0, ``a if cond else b``, and the functions ``exp log sqrt min max abs``.
Anything else (attributes, subscripts, lambdas, strings, other calls) is refused.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ketasim.errors import ModelError

__all__ = ["Expression", "parse_expression"]

_FUNCS: dict[str, Callable[..., Any]] = {
    "exp": np.exp,
    "log": np.log,
    "sqrt": np.sqrt,
    "abs": np.abs,
    "min": np.minimum,
    "max": np.maximum,
}
_ARITY: dict[str, int] = {"exp": 1, "log": 1, "sqrt": 1, "abs": 1, "min": 2, "max": 2}
_BINOPS: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: lambda a, b: a + b,
    ast.Sub: lambda a, b: a - b,
    ast.Mult: lambda a, b: a * b,
    ast.Div: lambda a, b: a / b,
    ast.Pow: lambda a, b: a**b,
}
_CMPOPS: dict[type[ast.cmpop], Callable[[Any, Any], Any]] = {
    ast.Lt: lambda a, b: a < b,
    ast.LtE: lambda a, b: a <= b,
    ast.Gt: lambda a, b: a > b,
    ast.GtE: lambda a, b: a >= b,
    ast.Eq: lambda a, b: a == b,
    ast.NotEq: lambda a, b: a != b,
}


@dataclass(frozen=True)
class Expression:
    """A parsed expression; ``names`` lists the free names it uses.

    Examples
    --------
    >>> e = parse_expression("TVCL * (WT/70)**0.75")
    >>> sorted(e.names)
    ['TVCL', 'WT']
    >>> float(e.evaluate({"TVCL": 90.0, "WT": 70.0}))
    90.0
    """

    text: str
    tree: ast.expr = field(repr=False, compare=False)
    names: frozenset[str] = frozenset()

    def evaluate(self, env: Mapping[str, Any]) -> Any:
        """Evaluate with ``env`` mapping names to numbers, arrays or pint quantities."""
        return _eval(self.tree, env, self.text)


def parse_expression(text: str, *, what: str = "expression") -> Expression:
    """Parse ``text`` into an :class:`Expression`, refusing anything but arithmetic."""
    if not isinstance(text, str) or not text.strip():
        raise ModelError(f"{what}: expected a non-empty expression text, got {text!r}")
    try:
        tree = ast.parse(text.strip(), mode="eval").body
    except SyntaxError as exc:
        raise ModelError(f"{what}: cannot parse {text!r}: {exc.msg}") from None
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            if not isinstance(node.func, ast.Name) or node.func.id not in _FUNCS or node.keywords:
                raise ModelError(
                    f"{what}: only {', '.join(sorted(_FUNCS))} may be called in {text!r}"
                )
            want = _ARITY[node.func.id]
            if len(node.args) != want or any(isinstance(a, ast.Starred) for a in node.args):
                raise ModelError(
                    f"{what}: {node.func.id}() takes {want} argument(s), got "
                    f"{len(node.args)} in {text!r}"
                )
        elif isinstance(node, ast.Compare):
            for op in node.ops:
                if type(op) not in _CMPOPS:
                    raise ModelError(
                        f"{what}: comparison {type(op).__name__} not allowed in {text!r}"
                    )
        elif isinstance(node, ast.Name):
            if node.id not in _FUNCS:
                names.add(node.id)
        elif isinstance(node, ast.Constant):
            if isinstance(node.value, bool) or not isinstance(node.value, (int, float)):
                raise ModelError(f"{what}: only numbers may appear as constants in {text!r}")
        elif not isinstance(
            node,
            (
                ast.BinOp,
                ast.UnaryOp,
                ast.Compare,
                ast.IfExp,
                ast.Load,
                ast.operator,
                ast.unaryop,
                ast.cmpop,
            ),
        ):
            raise ModelError(f"{what}: {type(node).__name__} is not allowed in {text!r}")
        if isinstance(node, ast.BinOp) and type(node.op) not in _BINOPS:
            raise ModelError(f"{what}: operator {type(node.op).__name__} not allowed in {text!r}")
        if isinstance(node, ast.UnaryOp) and not isinstance(node.op, (ast.USub, ast.UAdd)):
            raise ModelError(f"{what}: operator {type(node.op).__name__} not allowed in {text!r}")
    return Expression(text.strip(), tree, frozenset(names))


def _eval(node: ast.expr, env: Mapping[str, Any], text: str) -> Any:
    if isinstance(node, ast.Constant):
        assert isinstance(node.value, (int, float))
        return float(node.value)
    if isinstance(node, ast.Name):
        try:
            return env[node.id]
        except KeyError:
            raise ModelError(f"expression {text!r}: unknown name {node.id!r}") from None
    if isinstance(node, ast.BinOp):
        return _BINOPS[type(node.op)](_eval(node.left, env, text), _eval(node.right, env, text))
    if isinstance(node, ast.UnaryOp):
        val = _eval(node.operand, env, text)
        return -val if isinstance(node.op, ast.USub) else val
    if isinstance(node, ast.Call):
        assert isinstance(node.func, ast.Name)
        args = [_eval(a, env, text) for a in node.args]
        return _FUNCS[node.func.id](*args)
    if isinstance(node, ast.Compare):
        left = _eval(node.left, env, text)
        result: Any = True
        for op, comp in zip(node.ops, node.comparators, strict=True):
            right = _eval(comp, env, text)
            result = np.logical_and(result, _CMPOPS[type(op)](left, right))
            left = right
        return np.asarray(result, dtype=float)
    if isinstance(node, ast.IfExp):
        cond = np.asarray(_eval(node.test, env, text), dtype=bool)
        return np.where(cond, _eval(node.body, env, text), _eval(node.orelse, env, text))
    raise ModelError(f"expression {text!r}: unsupported element {type(node).__name__}")
