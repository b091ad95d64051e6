"""The package's layering, read from the code's own imports (every import, also those inside functions).

- Only `seethink.resolve` and the command line (`seethink.cli`) import the offline miniature: the method runs
  unchanged on real models and data.
- `seethink.records` is the floor: it imports nothing of seethink but the leaf utilities, which import nothing
  (fileio: only errors).
- No two packages import each other, directly or around a loop.
- No module over 400 lines, no function over 60.
"""

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
PKG = SRC / "seethink"
LEAVES = {
    "seethink.errors": set(),
    "seethink.seeding": set(),
    "seethink.progress": set(),
    "seethink.fileio": {"seethink.errors"},
}


def module_of(path: Path) -> str:
    parts = path.relative_to(SRC).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_of(p): p for p in sorted(PKG.rglob("*.py"))}


def _resolve(name: str) -> str | None:
    """The module of seethink that an imported dotted name is (or lives in)."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def imports(module: str) -> set[str]:
    """Every module of seethink that `module` imports, at the top or inside a function."""
    tree = ast.parse(MODULES[module].read_text())
    found = set()
    for node in ast.walk(tree):
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [f"{node.module}.{a.name}" for a in node.names]
        for n in names:
            if n.startswith("seethink"):
                target = _resolve(n)
                if target and target != module:
                    found.add(target)
    return found


GRAPH = {m: imports(m) for m in MODULES}


def package(module: str) -> str:
    """The unit layering is about: seethink.<first part> (a package, or a top-level module)."""
    return ".".join(module.split(".")[:2])


def test_the_graph_is_read():
    assert "seethink.records.schema" in GRAPH["seethink.records.io"]
    assert "seethink.train.stage" in GRAPH["seethink.train.run"]
    assert len(MODULES) > 40


def test_only_the_resolver_and_the_command_line_import_the_miniature():
    wrong = sorted(
        (m, t)
        for m, targets in GRAPH.items()
        for t in targets
        if t.startswith("seethink.miniature")
        and package(m) not in ("seethink.miniature", "seethink.cli")
        and m != "seethink.resolve"
    )
    assert not wrong, f"imports of the miniature outside seethink.resolve and the command line: {wrong}"


def test_records_are_the_floor():
    allowed = set(LEAVES)
    wrong = sorted(
        (m, t)
        for m, targets in GRAPH.items()
        if package(m) == "seethink.records"
        for t in targets
        if package(t) != "seethink.records" and t not in allowed
    )
    assert not wrong, f"seethink.records imports more than the leaf utilities: {wrong}"


@pytest.mark.parametrize("leaf", sorted(LEAVES))
def test_leaf_utilities_import_nothing_else(leaf):
    assert GRAPH[leaf] <= LEAVES[leaf]


def _cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """One cycle of the directed graph, or None (depth-first search)."""
    state, stack = {}, []

    def visit(n):
        state[n] = "open"
        stack.append(n)
        for t in sorted(edges.get(n, ())):
            if state.get(t) == "open":
                return stack[stack.index(t) :] + [t]
            if t not in state and (found := visit(t)):
                return found
        state[n] = "done"
        stack.pop()
        return None

    for n in sorted(edges):
        if n not in state and (found := visit(n)):
            return found
    return None


def test_cycle_finder_finds_cycles():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None


def test_no_import_cycle_between_packages():
    edges = {}
    for m, targets in GRAPH.items():
        for t in targets:
            if package(t) != package(m):
                edges.setdefault(package(m), set()).add(package(t))
    loop = _cycle(edges)
    if loop:
        why = [
            (m, t)
            for a, b in zip(loop, loop[1:])
            for m, ts in GRAPH.items()
            if package(m) == a
            for t in ts
            if package(t) == b
        ]
        pytest.fail(f"packages import each other in a loop {' -> '.join(loop)}, through {why}")


def test_modules_and_functions_stay_short():
    long_modules = {m: n for m, p in MODULES.items() if (n := len(p.read_text().splitlines())) > 400}
    long_functions = []
    for m, p in MODULES.items():
        for node in ast.walk(ast.parse(p.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.end_lineno - node.lineno + 1 > 60:
                long_functions.append(f"{m}.{node.name} ({node.end_lineno - node.lineno + 1} lines)")
    assert not long_modules, f"modules over 400 lines: {long_modules}"
    assert not long_functions, f"functions over 60 lines: {long_functions}"
