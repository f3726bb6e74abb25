"""Packaging: the wheel holds every subpackage and data file the library reads, and installs.

Builds the wheel from this checkout (no build isolation: offline), installs it with ``--no-deps``
into a fresh virtual environment whose dependencies come from this environment's site-packages
(a ``.pth`` link, so nothing is downloaded), and imports every public module from *outside* the
source tree.
"""

import shutil
import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _public_modules() -> list[str]:
    out = []
    for p in sorted((ROOT / "lib").rglob("*.py")):
        parts = p.relative_to(ROOT).with_suffix("").parts
        if parts[-1] == "__main__" or any(x.startswith("_") and x != "__init__" for x in parts):
            continue
        out.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return out


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """The wheel, built from a copy of the sources (setuptools writes a build/ folder beside them)."""
    src = tmp_path_factory.mktemp("src")
    shutil.copytree(ROOT / "lib", src / "lib", ignore=shutil.ignore_patterns("__pycache__"))  # links resolved
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(out),
                    str(src)], check=True, capture_output=True, cwd=out)
    (whl,) = out.glob("perf_ceiling_book-*.whl")
    return whl


def test_wheel_holds_every_module_and_the_data_registry(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = {str(p.relative_to(ROOT)) for p in (ROOT / "lib").rglob("*.py")}
    assert expected <= names, f"missing from the wheel: {sorted(expected - names)[:10]}"
    assert "lib/datasets/registry.yaml" in names
    assert any(n.startswith("lib/experiments/") for n in names) and any(n.startswith("lib/estimators/") for n in names)


def test_installed_wheel_imports_every_public_module_outside_the_source_tree(wheel, tmp_path):
    env = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(env)
    py = env / "bin" / "python"
    site = subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          check=True, capture_output=True, text=True).stdout.strip()
    # dependencies: this environment's packages, linked (not the source tree, not the editable install)
    (Path(site) / "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run([str(py), "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(wheel)], check=True,
                   capture_output=True, cwd=tmp_path)
    mods = _public_modules()
    code = (f"import importlib, lib; assert lib.__file__.startswith({site!r}), lib.__file__\n"
            f"for m in {mods!r}: importlib.import_module(m)\n"
            "import lib.datasets as d; assert d.load('wine').X.shape == (178, 13)\n"
            "from lib.datasets.checksums import load_registry; assert 'full' in load_registry()\n"
            "print(len(d.names()))")
    res = subprocess.run([str(py), "-P", "-c", code], capture_output=True, text=True, cwd=tmp_path,
                         env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "PERF_CEILING_DATA": str(tmp_path / "d")})
    assert res.returncode == 0, res.stderr[-3000:]
    assert int(res.stdout.split()[-1]) > 10
