"""The library's two layers, enforced from the source (AST), not by convention:

* no module outside ``lib/experiments/`` imports from ``lib.experiments`` (the chapter drivers),
  so everything else in ``lib/`` is the reusable library;
* ``lib/`` has no import cycles (module-level and function-level imports alike).
"""

import ast
from pathlib import Path

import pytest

LIB = Path(__file__).resolve().parents[1] / "lib"


def _module_name(path: Path) -> str:
    parts = path.relative_to(LIB.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(LIB.rglob("*.py"))}


def _imports(name: str, path: Path, known: set[str]) -> set[str]:
    """Every ``lib`` module ``name`` imports (``from x import y`` counts ``x.y`` when that is a module)."""
    is_pkg = path.name == "__init__.py"
    package = name if is_pkg else name.rpartition(".")[0]
    out = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
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
            if t in known and t != name:
                out.add(t)
    return out


def _graph() -> dict[str, set[str]]:
    mods = _modules()
    return {n: _imports(n, p, set(mods)) for n, p in mods.items()}


def test_graph_sees_the_library():
    g = _graph()
    assert "lib.influence" in g and "lib.models.logistic" in g["lib.influence"] or "lib.models" in g["lib.influence"]
    assert any(m.startswith("lib.experiments.") for m in g)


def test_nothing_outside_experiments_imports_the_chapter_drivers():
    bad = {m: sorted(d for d in deps if d.startswith("lib.experiments"))
           for m, deps in _graph().items() if not m.startswith("lib.experiments")}
    bad = {m: d for m, d in bad.items() if d}
    assert not bad, f"reusable modules import chapter drivers: {bad}"


def test_no_import_cycles():
    g = _graph()
    state: dict[str, int] = {}
    stack: list[str] = []
    cycles = []

    def visit(m: str) -> None:
        state[m] = 1
        stack.append(m)
        for d in sorted(g[m]):
            if state.get(d) == 1:
                cycles.append(stack[stack.index(d):] + [d])
            elif d not in state:
                visit(d)
        stack.pop()
        state[m] = 2

    for m in sorted(g):
        if m not in state:
            visit(m)
    assert not cycles, "import cycles in lib/: " + "; ".join(" -> ".join(c) for c in cycles)


@pytest.mark.parametrize("snippet, expected", [("from .. import fi\n", {"lib.fi"}),
                                               ("from ..models import LogisticRegression\n", {"lib.models"})])
def test_relative_imports_resolve(tmp_path, snippet, expected):
    known = {"lib.fi", "lib.models", "lib.experiments.chX"}
    path = tmp_path / "chX.py"
    path.write_text(snippet)
    assert _imports("lib.experiments.chX", path, known) == expected
