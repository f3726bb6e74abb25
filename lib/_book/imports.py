"""The import graph of ``lib/``, read from the source (AST): which library modules each module (or
a chapter's notebook source) imports, at module level or inside functions. Used by the import
contract test (two layers, no cycles) and by the page provenance (which library code a page ran)."""

from __future__ import annotations

import ast
from pathlib import Path

LIB = Path(__file__).resolve().parents[1]


def module_name(path: Path) -> str:
    """``lib/estimators/gradient.py`` -> ``lib.estimators.gradient`` (packages: their ``__init__``)."""
    parts = path.resolve().relative_to(LIB.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    """Every module of ``lib/`` by dotted name."""
    return {module_name(p): p for p in sorted(LIB.rglob("*.py"))}


def imports_of(source: str, name: str, is_package: bool, known: set[str], parents: bool = True) -> set[str]:
    """The modules in ``known`` that the code ``source`` (of module ``name``) imports; ``from x
    import y`` counts ``x.y`` when that is a module. Relative imports resolve against ``name``.
    ``parents``: also count the packages Python initialises on the way (``import lib.a.b`` runs
    ``lib/__init__`` and ``lib/a/__init__``): right for "which code runs", wrong for cycles."""
    package = name if is_package else name.rpartition(".")[0]
    out = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            targets = [mod] + [f"{mod}.{a.name}" for a in node.names]
        else:
            continue
        for t in targets:
            parts = t.split(".")
            for j in range(1 if parents else len(parts), len(parts) + 1):
                prefix = ".".join(parts[:j])
                if prefix in known and prefix != name:
                    out.add(prefix)
    return out


def graph(parents: bool = True) -> dict[str, set[str]]:
    """``{module: modules it imports}`` over ``lib/`` (``parents``: see :func:`imports_of`)."""
    mods = modules()
    return {n: imports_of(p.read_text(), n, p.name == "__init__.py", set(mods), parents) for n, p in mods.items()}


def dependencies(source: str, g: dict[str, set[str]] | None = None) -> set[str]:
    """Every ``lib`` module that code ``source`` (a notebook) imports, directly or transitively."""
    g = graph() if g is None else g
    todo = list(imports_of(source, "__main__", False, set(g)))
    seen: set[str] = set()
    while todo:
        m = todo.pop()
        if m not in seen:
            seen.add(m)
            todo.extend(g[m] - seen)
    return seen
