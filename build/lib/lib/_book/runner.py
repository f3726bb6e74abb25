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

from . import numerics

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


def _parameter_nodes(name: str) -> list[tuple[str, ast.expr, ast.expr | None]]:
    """``(name, value node, annotation node or None)`` for every assignment of the parameters cell."""
    cell = parameters_cell(read_source(name))
    out = []
    for node in ast.parse(cell.source).body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            out.append((node.targets[0].id, node.value, None))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value is not None:
            out.append((node.target.id, node.value, node.annotation))
        else:
            raise ParameterError(f"notebooks/{name}.py: the parameters cell may only hold `name = literal` "
                                 f"or `name: type = literal` lines, got {ast.unparse(node)!r}")
    return out


def default_parameters(name: str) -> dict[str, Any]:
    """The literal defaults of the parameters cell (= the quick profile)."""
    params: dict[str, Any] = {}
    for key, value, _ in _parameter_nodes(name):
        try:
            params[key] = ast.literal_eval(value)
        except ValueError as err:
            raise ParameterError(
                f"notebooks/{name}.py: parameter {key} must be a literal (no parameter is computed from another)"
            ) from err
    return params


def parameter_types(name: str) -> dict[str, str]:
    """The type each parameter accepts: its annotation in the parameters cell (``damping: float |
    None = 0.1``) or, without one, the type of its default (``budget = 10`` -> ``int``)."""
    out = {}
    for key, value, annotation in _parameter_nodes(name):
        out[key] = ast.unparse(annotation) if annotation is not None else _type_of(ast.literal_eval(value))
    return out


def _type_of(value: Any) -> str:
    if value is None:
        return "Any"
    if isinstance(value, list):
        kinds = {_type_of(v) for v in value}
        if kinds == {"int", "float"}:
            kinds = {"float"}
        return f"list[{kinds.pop()}]" if len(kinds) == 1 else "list"
    return type(value).__name__


def _matches(value: Any, spec: ast.expr) -> bool:
    """Whether ``value`` fits the type expression ``spec`` (names, ``X | Y``, ``list[X]``)."""
    if isinstance(spec, ast.BinOp) and isinstance(spec.op, ast.BitOr):
        return _matches(value, spec.left) or _matches(value, spec.right)
    if isinstance(spec, ast.Constant) and spec.value is None:
        return value is None
    if isinstance(spec, ast.Subscript) and isinstance(spec.value, ast.Name) and spec.value.id == "list":
        return isinstance(value, list) and all(_matches(v, spec.slice) for v in value)
    if isinstance(spec, ast.Name):
        if spec.id == "Any":
            return True
        if spec.id == "None":
            return value is None
        if spec.id == "float":
            return isinstance(value, (int, float)) and not isinstance(value, bool)
        if spec.id == "int":
            return isinstance(value, int) and not isinstance(value, bool)
        kinds = {"str": str, "bool": bool, "list": list, "dict": dict}
        if spec.id in kinds:
            return isinstance(value, kinds[spec.id])
    raise ParameterError(f"unsupported parameter type {ast.unparse(spec)!r} (use int, float, str, bool, "
                         "list[...], dict, None and |)")


def check_types(name: str, given: dict[str, Any], where: str = "parameters") -> None:
    """Reject a value whose type does not match the parameter's (:func:`parameter_types`) before
    any kernel starts: ``budget=abc`` for ``budget = 10`` is an error naming ``int``."""
    types = parameter_types(name)
    bad = []
    for key, value in given.items():
        spec = types.get(key)
        if spec is not None and not _matches(value, ast.parse(spec, mode="eval").body):
            bad.append(f"{key}={value!r} ({type(value).__name__}; expected {spec})")
    if bad:
        raise ParameterError(f"wrong type for parameter(s) of notebook {name} (in {where}): " + "; ".join(bad))


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
    check_types(name, overrides, where=f"profiles.yaml[{name}][{profile}]")
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
    check_types(name, overrides)
    profile_values = profile_parameters(name, profile)
    # papermill injects only what differs from the notebook's own literal defaults
    params_for_pm = {k: v for k, v in {**profile_values, **overrides}.items() if k in overrides or v != valid[k]}
    preflight(name, {**profile_values, **overrides})
    output = Path(output) if output else BOOK / f"{name}.ipynb"
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp_in = output.with_suffix(".input.ipynb")
    nbformat.write(read_source(name), tmp_in)
    saved = dict(os.environ)
    env_path = os.environ.get("PYTHONPATH", "")
    os.environ["PYTHONPATH"] = str(ROOT) + (os.pathsep + env_path if env_path else "")
    # the pages must hold their figures: the kernel renders inline whatever MPLBACKEND the
    # caller exported (the Makefile exports Agg for the headless unit tests)
    os.environ["MPLBACKEND"] = INLINE_BACKEND
    numerics.apply()  # the kernel computes like every other machine (lib._book.numerics)
    try:
        pm.execute_notebook(str(tmp_in), str(output), parameters=params_for_pm, kernel_name="python3",
                            cwd=str(ROOT), log_output=log_output, progress_bar=False)
    finally:
        tmp_in.unlink(missing_ok=True)
        os.environ.clear()
        os.environ.update(saved)
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
