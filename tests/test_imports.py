"""The package's import graph: no import cycles and no import of another module's private names.

Every ``import`` of ``pipeline`` and ``custom_ops`` counts, at module level or inside a function
(the lazy imports that keep TensorFlow and torch apart are still dependencies); imports under
``if TYPE_CHECKING:`` do not run and do not count. A private name (``_name``) may be used only in
its own module; a package may keep private submodules (``custom_ops/_shapes.py``) for itself.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("pipeline", "custom_ops")


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


MODULES = _modules()


def _package_of(module: str) -> str:
    """The package a module belongs to (a package's ``__init__`` belongs to the package itself)."""
    return module if (MODULES[module].name == "__init__.py") else module.rpartition(".")[0]


def _runtime_nodes(tree: ast.AST) -> Iterator[ast.AST]:
    """Every node except those under ``if TYPE_CHECKING:``."""
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            stack.extend(node.orelse)
            continue
        yield node
        stack.extend(ast.iter_child_nodes(node))


def _imports(module: str) -> Iterator[tuple[str, str | None, int, dict[str, str]]]:
    """(imported module, imported name or None, line, alias -> module) for each project import."""
    tree = ast.parse(MODULES[module].read_text(encoding="utf-8"))
    for node in _runtime_nodes(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name in MODULES:
                    yield alias.name, None, node.lineno, {alias.asname or alias.name: alias.name}
        elif isinstance(node, ast.ImportFrom) and node.module:
            base = node.module
            if node.level:  # relative: from the importer's package, one level up per extra dot
                package = _package_of(module).split(".")
                base = ".".join([*package[: len(package) - node.level + 1], base])
            if base not in MODULES:
                continue
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                if sub in MODULES:
                    yield sub, None, node.lineno, {alias.asname or alias.name: sub}
                else:
                    yield base, alias.name, node.lineno, {}


def _graph() -> dict[str, set[str]]:
    return {m: {target for target, _, _, _ in _imports(m) if target != m} for m in MODULES}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def _private_uses(module: str) -> Iterator[str]:
    tree = ast.parse(MODULES[module].read_text(encoding="utf-8"))
    aliases: dict[str, str] = {}
    for target, name, line, bound in _imports(module):
        aliases.update(bound)
        if name is not None and _private(name) and target != module:
            yield f"{module}:{line} imports {target}.{name}"
        owner = _package_of(target)
        if name is None and _private(target.rpartition(".")[2]) and not f"{module}.".startswith(f"{owner}."):
            yield f"{module}:{line} imports the private module {target} from outside {owner}"
    for node in _runtime_nodes(tree):
        named = isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
        if named and _private(node.attr) and node.value.id in aliases:  # type: ignore[attr-defined]
            yield f"{module}:{node.lineno} uses {aliases[node.value.id]}.{node.attr}"


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def test_the_walk_sees_the_package() -> None:
    graph = _graph()
    assert {"pipeline.flow", "pipeline.stages.torch_side", "custom_ops.catalog"} <= set(graph)
    assert "pipeline.conversion" in graph["pipeline.flow"]
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


# Cycles that are still being taken apart; this list only shrinks.
KNOWN_CYCLES: list[list[str]] = []


def test_no_import_cycles() -> None:
    cycles = [c for c in _cycles(_graph()) if c not in KNOWN_CYCLES]
    assert cycles == [], "import cycles: " + "; ".join(" <-> ".join(c) for c in cycles)


def test_no_module_imports_another_modules_private_names() -> None:
    uses = [use for module in MODULES for use in _private_uses(module)]
    assert uses == [], "\n".join(uses)
