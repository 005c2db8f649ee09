"""The layout ARCHITECTURE.md promises, held by the tests: no import cycles, modules of one concern each."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "reportgen"
MAX_LINES = 420  # "about 400": a module past it has more than one thing to own
# Which modules may import a library the design gives one owner.
OWNERS = {
    "click": ("reportgen.cli",),
    "jinja2": ("reportgen.render",),
    "matplotlib": ("reportgen.plots", "reportgen.quality_plots", "reportgen.history_plots"),
}


def modules() -> dict[str, Path]:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def runtime_imports(path: Path) -> set[str]:
    """Every module imported when the code runs (inside functions too), but not under `if TYPE_CHECKING:`."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skipped = {
        id(n)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"
        for child in node.body
        for n in ast.walk(child)
    }
    names = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names |= {f"{node.module}.{a.name}" for a in node.names}
    return names


def test_the_import_graph_has_no_cycle() -> None:
    known = modules()
    graph = {
        name: {dep for dep in runtime_imports(path) if dep in known and dep != name and not dep.startswith(name + ".")}
        for name, path in known.items()
    }
    state: dict[str, int] = {}
    cycles: list[list[str]] = []

    def visit(name: str, trail: list[str]) -> None:
        state[name] = 1
        for dep in sorted(graph[name]):
            if state.get(dep) == 1:
                cycles.append(trail[trail.index(dep) :] + [dep])
            elif dep not in state:
                visit(dep, [*trail, dep])
        state[name] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    assert cycles == []


@pytest.mark.parametrize("name", sorted(modules()))
def test_each_module_says_what_it_owns_and_stays_small(name: str) -> None:
    path = modules()[name]
    source = path.read_text(encoding="utf-8")
    docstring = ast.get_docstring(ast.parse(source))
    assert docstring and docstring.strip(), f"{name} opens with no docstring saying what it owns"
    assert len(source.splitlines()) <= MAX_LINES, f"{name} has {len(source.splitlines())} lines"


def test_click_jinja_and_matplotlib_each_have_their_owners() -> None:
    for name, path in modules().items():
        for library, owners in OWNERS.items():
            used = any(dep == library or dep.startswith(library + ".") for dep in runtime_imports(path))
            if used:
                assert name.startswith(owners), f"{name} imports {library}, which only {', '.join(owners)} may"
