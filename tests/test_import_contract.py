"""The library's two layers, enforced from the source (AST, lib._book.imports), not by convention:

* no module outside ``lib/experiments/`` imports from ``lib.experiments`` (the chapter drivers),
  so everything else in ``lib/`` is the reusable library;
* ``lib/`` has no import cycles (module-level and function-level imports alike).
"""

from lib._book import imports


def test_graph_sees_the_library():
    g = imports.graph()
    assert "lib.models" in g["lib.influence"]
    assert any(m.startswith("lib.experiments.") for m in g)
    assert "lib.ekfac" in imports.dependencies("from lib.experiments import ch03_deep_category_influence as c\n", g)


def test_nothing_outside_experiments_imports_the_chapter_drivers():
    bad = {m: sorted(d for d in deps if d.startswith("lib.experiments"))
           for m, deps in imports.graph().items() if not m.startswith("lib.experiments")}
    bad = {m: d for m, d in bad.items() if d}
    assert not bad, f"reusable modules import chapter drivers: {bad}"


def test_no_import_cycles():
    g = imports.graph(parents=False)  # the modules named in import statements
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


def test_relative_imports_resolve():
    known = {"lib", "lib.fi", "lib.models", "lib.experiments", "lib.experiments.chX"}
    assert imports.imports_of("from .. import fi\n", "lib.experiments.chX", False, known) == {"lib", "lib.fi"}
    assert imports.imports_of("from ..models import M\n", "lib.experiments.chX", False, known) == {"lib", "lib.models"}
    assert imports.imports_of("import lib.fi\n", "lib.experiments.chX", False, known) == {"lib", "lib.fi"}
