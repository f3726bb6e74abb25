"""Execute a chapter: jupytext source -> notebook -> papermill, with profiles and checked parameters.

    python -m lib._book.runner NAME [--profile quick|full] [-p key=value ...] [--output PATH]

``NAME`` is the stem of ``notebooks/NAME.py``. The quick profile is the literal defaults of the
notebook's ``parameters`` cell; ``profiles.yaml`` holds per-notebook overrides for the other
profiles. Unknown parameter names are an error that lists the valid ones (papermill itself
only warns). The executed notebook is written to ``book/NAME.ipynb`` by default.
"""

from __future__ import annotations

import argparse
import ast
import os
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "notebooks"
BOOK = ROOT / "book"
INLINE_BACKEND = "module://matplotlib_inline.backend_inline"
PROFILES_FILE = ROOT / "profiles.yaml"
PROFILES = ("quick", "full")
# chapter -> "module:function(params) -> list of problems": what a run needs (data, model files) is
# checked before the kernel starts, so a long run fails at once with the command that fixes it
PREFLIGHT = {"03_deep_category_influence": "lib.experiments.ch03_deep_category_influence:preflight"}


class ParameterError(ValueError):
    """A parameter name or value the notebook does not accept."""


class MissingRequirementError(FileNotFoundError):
    """Data or model files a chapter's run needs are missing (the message says how to get them)."""


def preflight(name: str, params: dict[str, Any]) -> None:
    """Raise :class:`MissingRequirementError` listing what the run of ``name`` with ``params`` lacks."""
    import importlib

    target = PREFLIGHT.get(name)
    if target is None:
        return
    module, func = target.split(":")
    problems = getattr(importlib.import_module(module), func)(params)
    if problems:
        raise MissingRequirementError(f"notebooks/{name}.py cannot run with these parameters:\n- "
                                      + "\n- ".join(problems))


def notebook_names() -> list[str]:
    return sorted(p.stem for p in NOTEBOOKS.glob("*.py"))


def source_path(name: str) -> Path:
    path = NOTEBOOKS / f"{name}.py"
    if not path.exists():
        raise FileNotFoundError(
            f"no notebook source notebooks/{name}.py; available: {', '.join(notebook_names()) or 'none'}"
        )
    return path


def read_source(name: str):
    """The chapter as an nbformat notebook node (jupytext percent format)."""
    import jupytext

    nb = jupytext.read(source_path(name))
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return nb


def parameters_cell(nb) -> Any:
    cells = [c for c in nb.cells if c.cell_type == "code" and "parameters" in c.metadata.get("tags", [])]
    if len(cells) != 1:
        raise ParameterError(f"a chapter needs exactly one cell tagged 'parameters', found {len(cells)}")
    return cells[0]


def default_parameters(name: str) -> dict[str, Any]:
    """The literal defaults of the parameters cell (= the quick profile)."""
    cell = parameters_cell(read_source(name))
    params: dict[str, Any] = {}
    for node in ast.parse(cell.source).body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            try:
                params[node.targets[0].id] = ast.literal_eval(node.value)
            except ValueError as err:
                raise ParameterError(
                    f"notebooks/{name}.py: parameter {node.targets[0].id} must be a literal "
                    "(no parameter is computed from another)"
                ) from err
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            params[node.target.id] = ast.literal_eval(node.value)
    return params


def load_profiles() -> dict[str, Any]:
    import yaml

    if not PROFILES_FILE.exists():
        return {}
    return yaml.safe_load(PROFILES_FILE.read_text()) or {}


def profile_parameters(name: str, profile: str) -> dict[str, Any]:
    """Defaults overridden by ``profiles.yaml[name][profile]``."""
    if profile not in PROFILES:
        raise ParameterError(f"unknown profile {profile!r}; choose one of {', '.join(PROFILES)}")
    params = default_parameters(name)
    overrides = (load_profiles().get(name) or {}).get(profile) or {}
    check_names(name, overrides, params, where=f"profiles.yaml[{name}][{profile}]")
    params.update(overrides)
    return params


def check_names(name: str, given: dict[str, Any], valid: dict[str, Any], where: str = "parameters") -> None:
    unknown = sorted(set(given) - set(valid))
    if unknown:
        raise ParameterError(
            f"unknown parameter(s) {', '.join(unknown)} for notebook {name} (in {where}); "
            f"valid parameters: {', '.join(sorted(valid))}"
        )


def parse_assignments(pairs: list[str]) -> dict[str, Any]:
    """``["k=v", ...]`` -> dict; values are Python/YAML literals (``n=10``, ``lr=0.1``, ``name=digits``)."""
    import yaml

    out: dict[str, Any] = {}
    for pair in pairs:
        if "=" not in pair:
            raise ParameterError(f"parameter {pair!r} is not of the form key=value")
        key, value = pair.split("=", 1)
        out[key.strip()] = yaml.safe_load(value)
    return out


def execute(name: str, profile: str = "quick", overrides: dict[str, Any] | None = None,
            output: Path | None = None, log_output: bool = False) -> Path:
    """Execute ``notebooks/name.py`` with papermill and write the executed notebook."""
    import nbformat
    import papermill as pm

    valid = default_parameters(name)
    overrides = overrides or {}
    check_names(name, overrides, valid)
    profile_values = profile_parameters(name, profile)
    # papermill injects only what differs from the notebook's own literal defaults
    params_for_pm = {k: v for k, v in {**profile_values, **overrides}.items() if k in overrides or v != valid[k]}
    preflight(name, {**profile_values, **overrides})
    output = Path(output) if output else BOOK / f"{name}.ipynb"
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp_in = output.with_suffix(".input.ipynb")
    nbformat.write(read_source(name), tmp_in)
    env_path = os.environ.get("PYTHONPATH", "")
    os.environ["PYTHONPATH"] = str(ROOT) + (os.pathsep + env_path if env_path else "")
    # the pages must hold their figures: the kernel renders inline whatever MPLBACKEND the
    # caller exported (the Makefile exports Agg for the headless unit tests)
    old_backend = os.environ.get("MPLBACKEND")
    os.environ["MPLBACKEND"] = INLINE_BACKEND
    try:
        pm.execute_notebook(str(tmp_in), str(output), parameters=params_for_pm, kernel_name="python3",
                            cwd=str(ROOT), log_output=log_output, progress_bar=False)
    finally:
        tmp_in.unlink(missing_ok=True)
        if old_backend is None:
            os.environ.pop("MPLBACKEND", None)
        else:
            os.environ["MPLBACKEND"] = old_backend
    _strip_volatile_metadata(output)
    return output


def _strip_volatile_metadata(path: Path) -> None:
    """Drop timings papermill writes into metadata, so that re-runs give identical files."""
    import nbformat

    nb = nbformat.read(path, as_version=4)
    nb.metadata.get("papermill", {}).pop("start_time", None)
    nb.metadata.get("papermill", {}).pop("end_time", None)
    nb.metadata.get("papermill", {}).pop("duration", None)
    nb.metadata.get("papermill", {}).pop("input_path", None)
    nb.metadata.get("papermill", {}).pop("output_path", None)
    for cell in nb.cells:
        pmd = cell.metadata.get("papermill")
        if pmd:
            for key in ("start_time", "end_time", "duration"):
                pmd.pop(key, None)
        cell.metadata.pop("execution", None)
    nbformat.write(nb, path)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m lib._book.runner", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("name", nargs="?", help="notebook stem (notebooks/NAME.py); omit with --all")
    ap.add_argument("--all", action="store_true", help="execute every notebook")
    ap.add_argument("--profile", default="quick", choices=PROFILES)
    ap.add_argument("-p", "--param", action="append", default=[], metavar="KEY=VALUE")
    ap.add_argument("--output", type=Path, default=None)
    ap.add_argument("--list", action="store_true", help="list the notebook's parameters and exit")
    args = ap.parse_args(argv)
    names = notebook_names() if args.all else [args.name]
    if not args.all and not args.name:
        ap.error(f"name a notebook ({', '.join(notebook_names())}) or pass --all")
    try:
        for name in names:
            if args.list:
                for key, value in profile_parameters(name, args.profile).items():
                    print(f"{key} = {value!r}")
                continue
            out = execute(name, args.profile, parse_assignments(args.param), args.output)
            print(f"executed notebooks/{name}.py ({args.profile}) -> {out.relative_to(ROOT) if out.is_relative_to(ROOT) else out}")
    except (ParameterError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
