"""The shape of the core package: no import circles, public names defined as themselves.

The import graph is read from the source (module-level imports, ``if TYPE_CHECKING:`` blocks
left out: they never run), so a circle cannot hide behind an import inside a function that runs
later: such imports are listed too, and only the ones named here as deliberate are allowed.
"""

from __future__ import annotations

import ast
from pathlib import Path

import runio

PACKAGE = Path(runio.__file__).parent

# Imports inside functions that are deliberate, not circles dodged: optional dependencies and
# heavy modules loaded on first use (module -> imported module).
LAZY = {
    ("runio.storage", "runio.storage._sqlite"),
    ("runio.storage", "runio.storage._postgres"),
    ("runio.testing", "runio.testing._conformance"),
}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _resolve(module: str, is_package: bool, node: ast.ImportFrom) -> list[str]:
    """The modules ``from ... import ...`` imports: each name that is a submodule, else the
    module it is taken from."""
    if node.level == 0:
        base = node.module or ""
    else:
        parts = module.split(".")
        keep = len(parts) - node.level + (1 if is_package else 0)
        base = ".".join(parts[:keep] + ([node.module] if node.module else []))
    found = []
    for alias in node.names:
        sub = f"{base}.{alias.name}"
        found.append(
            sub
            if (PACKAGE.parent / (sub.replace(".", "/") + ".py")).exists()
            or (PACKAGE.parent / sub.replace(".", "/") / "__init__.py").exists()
            else base
        )
    return found


def _imports(path: Path) -> tuple[set[str], set[str]]:
    """(module-level imports, imports inside functions) of runio modules."""
    module = _module_name(path)
    is_package = path.name == "__init__.py"
    tree = ast.parse(path.read_text())
    top: set[str] = set()
    inner: set[str] = set()

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                for sub in child.orelse:
                    visit(sub, in_function)
                continue
            names: list[str] = []
            if isinstance(child, ast.Import):
                names = [alias.name for alias in child.names]
            elif isinstance(child, ast.ImportFrom):
                names = _resolve(module, is_package, child)
            (inner if in_function else top).update(n for n in names if n.startswith("runio"))
            visit(
                child,
                in_function or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef),
            )

    visit(tree, False)
    return top, inner


def _graph() -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    files = {
        _module_name(p): p for p in PACKAGE.rglob("*.py") if "_scaffold_template" not in str(p)
    }
    graph: dict[str, set[str]] = {}
    lazy: dict[str, set[str]] = {}
    for name, path in files.items():
        top, inner = _imports(path)
        graph[name] = {m for m in top if m in files and m != name}
        lazy[name] = {m for m in inner if m in files and m != name}
    return graph, lazy


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)) is not None:
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)) is not None:
            return found
    return None


def test_the_core_package_has_no_import_circle() -> None:
    graph, _ = _graph()
    cycle = _cycle(graph)
    assert cycle is None, "import circle: " + " -> ".join(cycle or [])


def test_imports_inside_functions_are_only_the_deliberate_lazy_ones() -> None:
    _, lazy = _graph()
    found = {(module, target) for module, targets in lazy.items() for target in targets}
    assert found <= LAZY, f"imports inside functions (a circle dodged?): {sorted(found - LAZY)}"


def test_public_classes_are_defined_under_their_public_names() -> None:
    for name in runio.__all__:
        value = getattr(runio, name)
        if isinstance(value, type):
            assert value.__name__ == name, f"runio.{name} is defined as {value.__name__}"


def test_io_attributes_list_matches_io() -> None:
    from runio._names import IO_ATTRIBUTES

    public = {n for n in dir(runio.IO) if not n.startswith("_")} | {"logger"}
    assert public == IO_ATTRIBUTES
