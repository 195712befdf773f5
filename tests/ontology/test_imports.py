"""The modules of ``anatloc.ontology`` import each other one way: no import circles.

Every relative import counts, also the ones inside functions (a lazy import hides a circle;
it does not remove it); only ``if TYPE_CHECKING:`` blocks are left out, since they never
run.  The atlas package and the plug-in checks were circles once (``model`` -> ``io`` ->
``model``; ``validate`` <-> ``checks_atlas``).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2] / "ontology"


def _modules() -> dict[str, Path]:
    out = {}
    for f in sorted(ROOT.rglob("*.py")):
        parts = list(f.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = f
    return out


def _runtime_nodes(tree: ast.AST):
    """Every node of ``tree`` outside ``if TYPE_CHECKING:`` blocks."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            yield from (n for o in node.orelse for n in [o, *_runtime_nodes(o)])
            continue
        yield node
        yield from _runtime_nodes(node)


def import_graph() -> dict[str, set[str]]:
    mods = _modules()
    graph: dict[str, set[str]] = {}
    for name, path in mods.items():
        here = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
        here = [p for p in here if p]
        out: set[str] = set()
        for node in _runtime_nodes(ast.parse(path.read_text(encoding="utf-8"))):
            if not (isinstance(node, ast.ImportFrom) and node.level):
                continue
            base = here[: len(here) - (node.level - 1)]
            target = ".".join(base + ([node.module] if node.module else []))
            subs = {f"{target}.{a.name}".strip(".") for a in node.names} & set(mods)
            out |= subs or ({target} & set(mods))
        graph[name] = out - {name}
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}

    def visit(n, stack):
        state[n] = 1
        for m in sorted(graph.get(n, ())):
            if m == "":
                continue  # the package's __init__ re-exports; submodules may use `from . import`
            if state.get(m) == 1:
                return [*stack[stack.index(m) :], m]
            if m not in state and (found := visit(m, [*stack, m])):
                return found
        state[n] = 2
        return None

    for n in sorted(graph):
        if n and n not in state and (found := visit(n, [n])):
            return found
    return None


def test_the_graph_is_read():
    g = import_graph()
    assert "model" in g["io"] and "atlas.engine" in g["atlas"]


def test_no_import_circles_in_the_ontology_package():
    assert _cycle(import_graph()) is None


@pytest.mark.parametrize(
    "module, must_not_reach",
    [("model", "io"), ("validate", "checks_atlas"), ("atlas", "geometry"), ("atlas", "validate")],
)
def test_lower_modules_do_not_reach_up(module, must_not_reach):
    g = import_graph()
    seen, todo = set(), [module]
    while todo:
        n = todo.pop()
        for m in g.get(n, ()):
            if m and m not in seen:
                seen.add(m)
                todo.append(m)
    assert must_not_reach not in seen
