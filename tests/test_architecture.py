"""The layout ARCHITECTURE.md promises, held by the tests.

Every import counts: at module level, inside functions and under `if TYPE_CHECKING:`
alike, since a circle hidden behind a lazy or type-only import is still a circle in
the design. The stages are layers (`LAYERS`), each subpackage has an order of its own
(`INNER`), no module reaches another's `_private` names, and the libraries with one
owner are imported only there.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "reportgen"
TESTS = ROOT / "tests"
# Test files about the whole package rather than one stage: the only ones directly in tests/.
TOP_LEVEL_TESTS = ("test_api.py", "test_architecture.py", "test_docs.py")  # the whole: the API, the layout, the docs
MAX_LINES = 420  # "about 400": a module past it has more than one thing to own
MAX_FLAT = 6  # modules directly in reportgen/: the API, the entry point, the errors, the machine, the pipeline, revisit
# The stages, lowest first: a module may import its own layer's modules (by INNER) and any layer below.
LAYERS = (
    "reportgen",  # the package's face: __version__ and the lazy API
    "reportgen.errors",
    "reportgen.machine",
    "reportgen.data",
    "reportgen.train",
    "reportgen.analysis",
    "reportgen.report",
    "reportgen.runs",
    "reportgen.render",
    "reportgen.pipeline",
    "reportgen.revisit",
    "reportgen.cli",
    "reportgen.__main__",
)
# Each subpackage's modules, lowest first; its __init__ (the package's face) stands above them all.
INNER = {
    "reportgen.data": (
        "files",
        "documents",
        "titles",
        "sources",
        "types",
        "times",
        "cells",
        "blocks",
        "tables",
        "readers",
        "parts",
        "sqlrows",
        "dburl",
        "dbsession",
        "database",
        "dataset",
    ),
    "reportgen.train": (
        "config",
        "results",
        "distributed",
        "splits",
        "kernel",
        "sparse_loop",
        "sparse",
        "step_kernel",
        "steps",
        "learner",
        "fitting",
        "kept",
    ),
    "reportgen.analysis": (
        "defaults",
        "stats",
        "workers",
        "loops",
        "sums",
        "inputs",
        "baselines",
        "factors",
        "diagnostics",
        "ranking",
        "quality",
        "pairing",
        "bootstrap",
        "churn",
        "paired",
        "findings",
        "movement",
        "review",
    ),
    "reportgen.report": ("types", "summary", "schema", "writer", "document", "reader", "compare"),
    "reportgen.runs": ("files", "lock", "outputs", "history"),
    "reportgen.render": ("formatting", "labels", "figures", "history", "explorer", "html", "markdown"),
    "reportgen.render.figures": ("svg", "scatter", "report", "quality", "history"),
    "reportgen.cli": ("process", "config", "params", "sources", "options", "runs"),
}
# Which modules may import a library the design gives one owner (a prefix owns its subpackage).
OWNERS = {
    "click": ("reportgen.cli",),
    "cloup": ("reportgen.cli",),  # click's option groups: the titled sections of `build --help`
    "jinja2": ("reportgen.render.html",),
    "markupsafe": ("reportgen.render.html",),
    "matplotlib": ("reportgen.render.figures",),
    "torch": ("reportgen.train",),
    "fastai": ("reportgen.train", "reportgen.data.sources"),  # sources: fastai's download of ml-100k
    "fastcore": ("reportgen.train",),
    "safetensors": ("reportgen.train.kept",),
    "sqlalchemy": ("reportgen.data.database",),  # the one reader of SQL databases
    "psycopg": ("reportgen.data.database",),
    "sqlite3": ("reportgen.data.database",),
    "numba": ("reportgen.train.kernel", "reportgen.train.step_kernel", "reportgen.analysis.loops"),  # each lazily
}


def modules() -> dict[str, Path]:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


KNOWN = modules()


def imports(path: Path) -> list[tuple[int, str, str | None]]:
    """Every import in the file, wherever it stands: (line, module, name imported from it or None)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name, None) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{path}:{node.lineno}: relative import; name the module in full"
            found += [(node.lineno, node.module or "", a.name) for a in node.names]
    return found


def dependencies(path: Path) -> set[str]:
    """The reportgen modules a file imports; `from P import M` with P.M a module is an import of P.M alone."""
    deps = set()
    for _, module, name in imports(path):
        if name is not None and f"{module}.{name}" in KNOWN:
            deps.add(f"{module}.{name}")
        elif module in KNOWN:
            deps.add(module)
    return deps


GRAPH = {name: dependencies(path) - {name} for name, path in KNOWN.items()}


def package_of(name: str) -> str:
    return name if KNOWN[name].name == "__init__.py" else name.rpartition(".")[0]


def layer(name: str) -> int:
    matches = [i for i, top in enumerate(LAYERS) if name == top or name.startswith(top + ".")]
    assert matches, f"{name} is in no layer of LAYERS: add it there and to ARCHITECTURE.md"
    return max(matches)


def position(package: str, name: str) -> int:
    """Where `name` (a module or subpackage below `package`) stands in INNER[package]."""
    rest = name[len(package) + 1 :].split(".")[0]
    assert rest in INNER[package], f"{name} is not in INNER[{package!r}]: add it where it belongs"
    return INNER[package].index(rest)


def common_package(a: str, b: str) -> str | None:
    """The deepest package of INNER that holds both modules below its face."""
    shared = [p for p in INNER if a.startswith(p + ".") and b.startswith(p + ".")]
    return max(shared, key=len) if shared else None


def test_every_layer_and_every_module_is_named_in_the_tables() -> None:
    for name in KNOWN:
        layer(name)
        for package in INNER:
            if name.startswith(package + "."):
                position(package, name)


def test_the_import_graph_has_no_cycle_counting_type_only_and_local_imports() -> None:
    state: dict[str, int] = {}
    cycles: list[list[str]] = []

    def visit(name: str, trail: list[str]) -> None:
        state[name] = 1
        for dep in sorted(GRAPH[name]):
            if state.get(dep) == 1:
                cycles.append(trail[trail.index(dep) :] + [dep])
            elif dep not in state:
                visit(dep, [*trail, dep])
        state[name] = 2

    for name in sorted(GRAPH):
        if name not in state:
            visit(name, [name])
    assert cycles == []


def test_each_module_imports_only_below_itself() -> None:
    wrong = []
    for name, deps in GRAPH.items():
        for dep in deps:
            if KNOWN[name].name == "__init__.py" and dep.startswith(name + "."):
                continue  # a face imports its own modules
            if layer(dep) > layer(name):
                wrong.append(f"{name} -> {dep} (a higher layer)")
            elif dep != "reportgen" and KNOWN[dep].name == "__init__.py" and name.startswith(dep + "."):
                wrong.append(f"{name} -> {dep} (its own package's face: import the module)")
            elif (package := common_package(name, dep)) and position(package, dep) >= position(package, name):
                wrong.append(f"{name} -> {dep} (not before it in INNER[{package!r}])")
    assert sorted(wrong) == []


def test_no_module_uses_another_modules_private_names() -> None:
    wrong = []
    for path in [*KNOWN.values(), *sorted(TESTS.rglob("*.py"))]:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        aliases = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("reportgen"):
                wrong += [f"{shown(path)}:{node.lineno} {a.name}" for a in node.names if _private(a.name)]
                aliases |= {a.asname or a.name for a in node.names}
            elif isinstance(node, ast.Import):
                aliases |= {a.asname or a.name.split(".")[0] for a in node.names if a.name.startswith("reportgen")}
        wrong += [
            f"{shown(path)}:{node.lineno} {node.value.id}.{node.attr}"
            for node in ast.walk(tree)
            if isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id in aliases
            and _private(node.attr)
        ]
    assert wrong == []


def shown(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


@pytest.mark.parametrize("name", sorted(KNOWN))
def test_each_module_says_what_it_owns_and_stays_small(name: str) -> None:
    path = KNOWN[name]
    source = path.read_text(encoding="utf-8")
    docstring = ast.get_docstring(ast.parse(source))
    assert docstring and docstring.strip(), f"{name} opens with no docstring saying what it owns"
    assert len(source.splitlines()) <= MAX_LINES, f"{name} has {len(source.splitlines())} lines"


def test_few_modules_stay_flat_the_stages_are_folders() -> None:
    flat = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert len(flat) <= MAX_FLAT, flat
    assert {p.name for p in PACKAGE.iterdir() if p.is_dir() and (p / "__init__.py").exists()} >= {
        "data",
        "train",
        "analysis",
        "report",
        "runs",
        "render",
        "cli",
    }


def test_libraries_with_one_owner_are_imported_only_there() -> None:
    wrong = []
    for name, path in KNOWN.items():
        for line, module, _ in imports(path):
            library = module.split(".")[0]
            owners = OWNERS.get(library)
            if owners and not any(name == o or name.startswith(o + ".") for o in owners):
                wrong.append(f"{name}:{line} imports {module}, which only {', '.join(owners)} may")
    assert wrong == []


# --------------------------------------------------------------------------- the tests follow the same layout

STAGE_FOLDERS = tuple(layer.rpartition(".")[2] for layer in LAYERS if layer not in ("reportgen", "reportgen.__main__"))


def test_every_test_file_stands_in_the_folder_of_its_stage() -> None:
    """tests/<stage>/test_*.py for a stage of LAYERS (a folder per stage, as in reportgen/); helpers in tests/helpers/."""
    folders = {p.name for p in TESTS.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert folders - {"helpers", *STAGE_FOLDERS} == set(), "a folder of tests/ that is no stage of LAYERS"
    wrong = [
        shown(path)
        for path in sorted(TESTS.rglob("test_*.py"))
        if (path.parent == TESTS and path.name not in TOP_LEVEL_TESTS)
        or (path.parent != TESTS and path.parent.name not in STAGE_FOLDERS)
    ]
    assert wrong == [], "put each test file in the folder of the stage it tests (or name it in TOP_LEVEL_TESTS)"


def test_conftest_holds_only_fixtures_and_hooks_and_no_test_imports_it() -> None:
    """Builders, planted data and page checks live in tests/helpers/, imported from there by name."""
    conftest = TESTS / "conftest.py"
    defined = [
        node
        for node in ast.parse(conftest.read_text(encoding="utf-8")).body
        if isinstance(node, ast.FunctionDef | ast.ClassDef | ast.AsyncFunctionDef)
    ]
    not_fixtures = [
        node.name
        for node in defined
        if not node.name.startswith("pytest_") and not any("fixture" in ast.unparse(d) for d in node.decorator_list)
    ]
    assert not_fixtures == [], "move these into a module of tests/helpers/"
    importing = [
        f"{shown(path)}:{line}"
        for path in sorted(TESTS.rglob("*.py"))
        for line, module, _ in imports(path)
        if module == "tests.conftest"
    ]
    assert importing == []
