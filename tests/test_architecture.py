"""The package's shape: no import circle, no private name used across packages, small modules.

The import graph is read from the source with :mod:`ast`, counting every import statement
anywhere in a module: top level, inside functions (lazy imports) and under ``TYPE_CHECKING``,
because a circle hidden by a lazy import is still a circle for whoever reads or changes the
code. ``from irbench.a import b`` counts as an edge to ``irbench.a.b`` when that is a module,
else to ``irbench.a``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "irbench"
MAX_LINES = 500


def _modules(root: Path) -> dict[str, Path]:
    out = {}
    for path in sorted(root.rglob("*.py")):
        parts = list(path.relative_to(root.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def _imports(module: str, path: Path, known: dict[str, Path]) -> list[tuple[str, list[str]]]:
    """(imported module, names imported from it) for every import statement in ``path``."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: list[tuple[str, list[str]]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(alias.name, []) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                parts = parts[: len(parts) - node.level + 1]
                base = ".".join([*parts, base] if base else parts)
            names = [alias.name for alias in node.names]
            modules = [n for n in names if f"{base}.{n}" in known]  # `from pkg import module`
            found += [(f"{base}.{name}", []) for name in modules]
            if len(modules) < len(names):
                found.append((base, [n for n in names if n not in modules]))
    return found


def _owner(name: str, known: dict[str, Path]) -> str | None:
    while name and name not in known:
        name = name.rpartition(".")[0]
    return name or None


def import_graph(root: Path) -> dict[str, set[str]]:
    known = _modules(root)
    graph: dict[str, set[str]] = {m: set() for m in known}
    for module, path in known.items():
        for target, _ in _imports(module, path, known):
            owner = _owner(target, known)
            if owner is not None and owner != module:
                graph[module].add(owner)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, edges = work[-1]
            for nxt in edges:
                if nxt not in index:
                    index[nxt] = low[nxt] = len(index)
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(sorted(graph[nxt]))))
                    break
                if nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        found.append(sorted(component))
    return found


def _top_package(module: str) -> str:
    """``irbench.engine`` for ``irbench.engine.runs``; the root's own modules are ``irbench``."""
    parts = module.split(".")
    return ".".join(parts[:2]) if len(parts) > 2 or module in _PACKAGES else parts[0]


_PACKAGES = {m for m, p in _modules(PACKAGE).items() if p.name == "__init__.py"}


def private_crossings(root: Path) -> list[str]:
    """Imports of a private name (``_x``), or of a private module, from another package
    (``irbench.engine`` importing ``irbench.io._trec``). Modules at the root (``irbench._arrow``)
    serve every package."""
    known = _modules(root)
    bad = []
    for module, path in known.items():
        here = _top_package(module)
        for target, names in _imports(module, path, known):
            if not target.startswith("irbench") or _top_package(target) == here:
                continue
            # irbench._arrow, irbench._version: the whole package's own helpers
            private_module = any(part.startswith("_") for part in target.split(".")[2:])
            private_names = [n for n in names if n.startswith("_") and n != "__version__"]
            if private_module or private_names:
                bad.append(f"{module} imports {target} {private_names or ''}".rstrip())
    return sorted(bad)


def test_no_import_circle() -> None:
    found = cycles(import_graph(PACKAGE))
    assert not found, "import circles: " + "; ".join(" <-> ".join(c) for c in found)


def test_the_circle_finder_finds_circles(tmp_path: Path) -> None:
    """Not vacuous: a lazy import back to a module that imports it is found."""
    pkg = tmp_path / "irbench"
    (pkg / "engine").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "engine" / "__init__.py").write_text("")
    (pkg / "engine" / "a.py").write_text("from irbench.engine.b import f\n")
    (pkg / "engine" / "b.py").write_text("def f():\n    from irbench.engine import a\n")
    (pkg / "engine" / "c.py").write_text("from . import a\n")
    assert cycles(import_graph(pkg)) == [["irbench.engine.a", "irbench.engine.b"]]


def test_no_private_name_crosses_packages() -> None:
    assert private_crossings(PACKAGE) == []


@pytest.mark.parametrize("module", sorted(_modules(PACKAGE)))
def test_modules_are_small(module: str) -> None:
    lines = len(_modules(PACKAGE)[module].read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_LINES, f"{module} has {lines} lines (split it by what its parts do)"
