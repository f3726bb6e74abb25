"""The book's machinery: executed notebooks hold the current sources; parameters are checked."""

import json

import jupytext
import pytest

from lib._book import provenance, runner


def _code_cells(nb):
    return [c for c in nb.cells if c.cell_type == "code" and "injected-parameters" not in c.metadata.get("tags", [])]


@pytest.mark.parametrize("name", runner.notebook_names())
def test_executed_notebook_holds_current_source(name):
    """Sync test: book/NAME.ipynb was executed from the current notebooks/NAME.py."""
    executed = runner.BOOK / f"{name}.ipynb"
    assert executed.exists(), f"{executed} missing: run `make run NB={name}`"
    src = [c.source.strip() for c in _code_cells(jupytext.read(runner.source_path(name)))]
    done = [c.source.strip() for c in _code_cells(jupytext.read(executed))]
    assert src == done, f"book/{name}.ipynb is stale: re-run `make run NB={name}`"
    nb = json.loads(executed.read_text())
    errors = [o for c in nb["cells"] for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors, f"book/{name}.ipynb holds an error output"
    stale = provenance.stale_reasons(name, nb.get("metadata", {}), runner.source_path(name))
    assert not stale, f"book/{name}.ipynb is stale ({'; '.join(stale)}): re-run `make run NB={name}` and commit it"


def test_provenance_notices_a_change_of_the_library(tmp_path):
    src = tmp_path / "nb.py"
    src.write_text("from lib import ceiling\nx = 1\n")
    meta = {"book": {**provenance.fingerprint(src), "profile": "quick", "overrides": {}}}
    assert provenance.stale_reasons("nb", meta, src) == []
    assert "lib/ceiling.py" in {str(p.relative_to(provenance.ROOT)) for p in provenance.library_files(src.read_text())}
    src.write_text("from lib import ceiling\nx = 2\n")
    assert provenance.stale_reasons("nb", meta, src) == ["notebooks/nb.py changed since it was executed"]
    src.write_text("from lib import ceiling\nx = 1\n")
    changed = dict(meta["book"], lib="0" * 16)
    assert "the lib/ code it runs changed since it was executed" in provenance.stale_reasons("nb", {"book": changed}, src)
    assert provenance.stale_reasons("nb", {}, src)


@pytest.mark.parametrize("name", runner.notebook_names())
def test_parameters_are_literals_with_valid_profiles(name):
    quick = runner.default_parameters(name)
    assert quick, "a chapter needs a parameters cell"
    full = runner.profile_parameters(name, "full")
    assert set(full) == set(quick)


@pytest.mark.parametrize("name", runner.notebook_names())
def test_chapter_has_checked_outputs_and_parameters_table(name):
    """Every chapter checks some outputs under nbval: cells tagged ``nbval-check-output`` (the
    convention; a reader does not see tags) or, in chapters not yet converted, cells holding the
    ``# NBVAL_CHECK_OUTPUT`` comment."""
    nb = jupytext.read(runner.source_path(name))
    checked = [c for c in nb.cells if c.cell_type == "code"
               and ("nbval-check-output" in c.metadata.get("tags", []) or "# NBVAL_CHECK_OUTPUT" in c.source)]
    assert checked, f"notebooks/{name}.py has no cell tagged nbval-check-output"
    assert "parameters_table(" in runner.source_path(name).read_text()


@pytest.mark.parametrize("name", runner.notebook_names())
def test_executed_page_holds_its_figures(name):
    """A chapter that plots holds PNG figures in its executed page: figures must not vanish
    through a headless backend (the Makefile exports MPLBACKEND=Agg for the unit tests)."""
    if "plt.show()" not in runner.source_path(name).read_text():
        pytest.skip("chapter draws no figures")
    nb = json.loads((runner.BOOK / f"{name}.ipynb").read_text())
    n_png = sum("image/png" in o.get("data", {}) for c in nb["cells"] for o in c.get("outputs", []))
    assert n_png > 0, f"book/{name}.ipynb holds no figure: re-run `make run NB={name}`"


def test_unknown_parameter_is_an_error_listing_valid_ones():
    names = runner.notebook_names()
    if not names:
        pytest.skip("no chapters yet")
    with pytest.raises(runner.ParameterError, match="valid parameters:"):
        runner.execute(names[0], overrides={"no_such_parameter": 1})


def test_unknown_notebook_and_profile_are_clear_errors():
    with pytest.raises(FileNotFoundError, match="available:"):
        runner.default_parameters("no_such_chapter")
    names = runner.notebook_names()
    if names:
        with pytest.raises(runner.ParameterError, match="unknown profile"):
            runner.profile_parameters(names[0], "turbo")


def test_cli_unknown_parameter_exit_code(capsys):
    names = runner.notebook_names()
    if not names:
        pytest.skip("no chapters yet")
    assert runner.main([names[0], "-p", "bogus=3"]) == 2
    assert "valid parameters" in capsys.readouterr().err


def test_parse_assignments_literals():
    assert runner.parse_assignments(["n=10", "lr=0.5", "name=digits", "flag=true"]) == {
        "n": 10, "lr": 0.5, "name": "digits", "flag": True}
    with pytest.raises(runner.ParameterError):
        runner.parse_assignments(["oops"])


def test_dataset_registry_errors():
    from lib import datasets

    with pytest.raises(ValueError, match="known datasets"):
        datasets.load("no_such_set")
    ds = datasets.load("wine")
    assert ds.X.shape == (178, 13) and ds.n_classes == 3


def test_execute_injects_profile_and_overrides_only(tmp_path, monkeypatch):
    """papermill receives the full-profile overrides plus the command-line ones, nothing else."""
    import papermill

    names = runner.notebook_names()
    if not names:
        pytest.skip("no chapters yet")
    calls = {}
    monkeypatch.setattr(papermill, "execute_notebook", lambda *a, **kw: calls.update(kw))
    monkeypatch.setattr(runner, "_strip_volatile_metadata", lambda path: None)
    monkeypatch.setattr(runner, "_stamp", lambda *args: None)
    name = names[0]
    quick = runner.default_parameters(name)
    runner.execute(name, "quick", {}, output=tmp_path / "out.ipynb")
    assert calls["parameters"] == {}
    key = next(iter(quick))
    runner.execute(name, "full", {key: quick[key]}, output=tmp_path / "out.ipynb")
    full = runner.profile_parameters(name, "full")
    expected = {k: v for k, v in full.items() if v != quick[k]} | {key: quick[key]}
    assert calls["parameters"] == expected
