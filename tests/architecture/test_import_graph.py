"""The import graph of console/, widgets/ and backends/ has no cycle and no layering break.

Imports are read from the source (module level and inside functions alike: a cycle hidden in
a function is still a cycle). Imports under ``if TYPE_CHECKING:`` are left out: they never
run, they only name types for the reader.

Layers, bottom up: ``backends`` (the contract, then the backends) and ``widgets`` (knowing
nothing of the domain) at the bottom, ``console`` on top. Also: the Prism client depends on
nothing simulated (the simulator served as Prism lives beside it, in ``backends.prism_sim``).
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("console", "widgets", "backends")

# (importer prefix, imported prefix, why it is forbidden)
FORBIDDEN = [
    ("widgets", "backends", "widgets know nothing of the domain"),
    ("widgets", "console", "widgets know nothing of the console"),
    ("backends", "console", "backends know nothing of the console"),
    ("backends.prism.", "backends.simulator", "the Prism client depends on nothing simulated"),
    ("backends.prism.", "backends.prism_sim", "the Prism client depends on nothing simulated"),
]


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join(parts)] = path
    return found


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(module: str, path: Path, known: dict[str, Path]) -> set[str]:
    tree = ast.parse(path.read_text(), str(path))
    is_package = path.name == "__init__.py"
    found: set[str] = set()

    def resolve(name: str) -> str | None:
        # The longest known module that ``name`` names or lies inside.
        while name and name not in known:
            name = name.rpartition(".")[0]
        return name or None

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            for alias in node.names:
                if (target := resolve(alias.name)) is not None:
                    found.add(target)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".") if is_package else module.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                prefix = ".".join(base + ([node.module] if node.module else []))
            else:
                prefix = node.module or ""
            for alias in node.names:
                target = resolve(f"{prefix}.{alias.name}") if f"{prefix}.{alias.name}" in known else resolve(prefix)
                if target is not None:
                    found.add(target)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    found.discard(module)
    return found


def _graph() -> dict[str, set[str]]:
    known = _modules()
    return {module: _imports(module, path, known) for module, path in known.items()}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []
    counter = [0]

    def strong(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                strong(w)
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
                out.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            strong(v)
    return out


def _package_edges(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    # A package's __init__ importing its own modules is how a package is built, not a cycle
    # of design: those edges are left out, every other edge of the package stays.
    return {m: {t for t in targets if not t.startswith(m + ".")} for m, targets in graph.items()}


def test_the_reader_sees_imports_at_every_level():
    graph = _graph()
    # A module-level import, a relative one and one inside a function, as sanity checks of the reader.
    assert "backends.contract" in graph["backends.factory"]
    assert "backends.registry" in graph["backends.factory"]
    assert "backends.factory" in graph["console.cli"] or "backends.factory" in graph["console.app"]


def test_no_import_cycles():
    cycles = _cycles(_package_edges(_graph()))
    assert cycles == [], "import cycles: " + "; ".join(" <-> ".join(c) for c in cycles)


def test_no_layering_breaks():
    breaks = [
        f"{module} imports {target}: {why}"
        for module, targets in _graph().items()
        for target in sorted(targets)
        for importer, imported, why in FORBIDDEN
        if (module + ".").startswith(importer if importer.endswith(".") else importer + ".")
        and (target == imported or target.startswith(imported + "."))
    ]
    assert breaks == []
