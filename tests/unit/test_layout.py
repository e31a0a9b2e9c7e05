"""The layout shows the design (issue 7): data flows one way, no import circle, modules stay
small (one concept each)."""

from __future__ import annotations

import ast
from pathlib import Path

import ketasim

SRC = Path(ketasim.__file__).parent

#: layers from the bottom up; a module may import only from its own layer or those below
LAYERS: tuple[tuple[str, ...], ...] = (
    ("notices", "errors", "units", "expressions"),
    ("events",),
    ("spec", "io"),
    ("library",),
    ("solver",),
    ("individual", "plausibility", "grids"),
    ("binding",),
    ("results", "engine", "simulate"),
    ("prepared",),
    ("nca", "population", "pd", "risk", "interactions", "exposure", "validation",
     "validation_external", "comparison", "distributed", "plotting"),
    ("tci", "design", "estimation", "monograph", "safety"),
    ("report", "scenario"),
    ("cli", "app"),
)  # fmt: skip


def _layer_of(module: str) -> int:
    top = module.split(".")[1] if module.count(".") else ""
    for i, names in enumerate(LAYERS):
        if top in names:
            return i
    raise AssertionError(f"module {module} is in no layer of tests/unit/test_layout.py")


def _module_name(path: Path) -> str:
    rel = path.relative_to(SRC.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _top_level_imports(path: Path) -> set[str]:
    """ketasim modules imported at module level (not inside functions or TYPE_CHECKING)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            continue
        nodes = [node] if not isinstance(node, (ast.If, ast.Try)) else list(ast.walk(node))
        for n in nodes:
            if isinstance(n, ast.ImportFrom) and n.module and n.module.startswith("ketasim"):
                out.add(n.module)
            elif isinstance(n, ast.Import):
                out.update(a.name for a in n.names if a.name.startswith("ketasim"))
    return out


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in SRC.rglob("*.py")}


def test_lower_layers_never_import_higher_ones_issue_7() -> None:
    bad = []
    for name, path in _modules().items():
        if name == "ketasim":
            continue  # the package root exports the public API from every layer
        here = _layer_of(name)
        for dep in _top_level_imports(path):
            if dep == "ketasim":
                bad.append(f"{name} imports the package root")
            elif _layer_of(dep) > here:
                bad.append(f"{name} (layer {here}) imports {dep} (layer {_layer_of(dep)})")
    assert not bad, "\n".join(bad)


def test_no_import_circle_between_top_level_modules_issue_7() -> None:
    graph: dict[str, set[str]] = {}
    for name, path in _modules().items():
        if name == "ketasim":
            continue
        top = name.split(".")[1]
        deps = {d.split(".")[1] for d in _top_level_imports(path) if d.count(".")}
        graph.setdefault(top, set()).update(deps - {top})
    seen: dict[str, int] = {}

    def visit(node: str, stack: list[str]) -> None:
        seen[node] = 1
        for dep in graph.get(node, ()):
            assert seen.get(dep) != 1, "import circle: " + " -> ".join([*stack, node, dep])
            if dep not in seen:
                visit(dep, [*stack, node])
        seen[node] = 2

    for node in graph:
        if node not in seen:
            visit(node, [])


def test_no_module_over_600_lines_issue_7() -> None:
    long = {
        name: n
        for name, path in _modules().items()
        if (n := len(path.read_text(encoding="utf-8").splitlines())) > 600
    }
    assert not long, f"split these by concept (../shared/STYLE.md): {long}"
