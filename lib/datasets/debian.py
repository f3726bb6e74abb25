"""Data files shipped in Debian packages, extracted into ``data/cache/debian/`` without
installing anything system-wide.

``fetch_package(name)``: ``apt-get download NAME`` into a temporary folder (``apt-get update``
first only if the package lists are missing), ``dpkg-deb -x`` into the cache, then verify the
sha256 of every file we read against ``data/registry.yaml``. Idempotent: when the pinned files
are already there and match, nothing is downloaded. ``debian_file(package, relpath)`` is how
loaders find a file (or folder) and raises :class:`MissingDataError` naming ``make data``.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

from .registry import CACHE_DIR, MissingDataError
from .checksums import ChecksumError, load_registry, verify_file

DEBIAN_DIR = CACHE_DIR / "debian"
FETCH_HINT = "run `make data` (or `python -m lib.datasets fetch --profile quick`)"
_NO_LISTS = ("Unable to locate package", "has no installation candidate", "No packages found")


def package_entry(package: str) -> dict:
    """The registry entry of a Debian package; an unknown name lists the known ones."""
    packages = load_registry()["debian"]
    if package not in packages:
        raise ValueError(f"Debian package {package!r} is not in data/registry.yaml; known: {', '.join(packages)}")
    return packages[package]


def verify_package(package: str, root: Path = DEBIAN_DIR) -> None:
    """Check every pinned file of ``package`` under ``root`` (MissingDataError / ChecksumError)."""
    for rel, expected in package_entry(package)["files"].items():
        verify_file(root / rel, expected, fix=FETCH_HINT)


def is_fetched(package: str, root: Path = DEBIAN_DIR) -> bool:
    try:
        verify_package(package, root)
    except (MissingDataError, ChecksumError):
        return False
    return True


def _run(cmd: list[str], cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, check=False)


def download_deb(package: str, folder: Path, run: Callable = _run) -> Path:
    """``apt-get download package`` into ``folder``; runs ``apt-get update`` once and retries
    only if apt has no package lists for it. Returns the ``.deb`` path."""
    if shutil.which("apt-get") is None and run is _run:
        raise RuntimeError(f"apt-get not found: this fetch needs a Debian/Ubuntu machine. Alternatively extract the "
                           f"files of Debian package {package!r} listed in data/registry.yaml into {DEBIAN_DIR}/")
    res = run(["apt-get", "download", package], cwd=folder)
    if res.returncode != 0 and any(s in (res.stderr or "") for s in _NO_LISTS):
        upd = run(["apt-get", "update"])
        if upd.returncode != 0:
            raise RuntimeError(f"apt-get update failed (needed to find {package!r}):\n{upd.stderr}")
        res = run(["apt-get", "download", package], cwd=folder)
    if res.returncode != 0:
        raise RuntimeError(f"apt-get download {package} failed:\n{res.stderr}")
    debs = sorted(Path(folder).glob(f"{package}_*.deb"))
    if not debs:
        raise RuntimeError(f"apt-get download {package} reported success but left no .deb in {folder}")
    return debs[-1]


def fetch_package(package: str, root: Path = DEBIAN_DIR, run: Callable = _run) -> Path:
    """Make the pinned files of Debian ``package`` available under ``root`` (default
    ``data/cache/debian``); quick no-op when they are already there and verified."""
    entry = package_entry(package)
    if is_fetched(package, root):
        return root
    root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="deb-") as tmp:
        # as root, apt warns that its `_apt` user cannot write here and downloads unsandboxed
        deb = download_deb(package, Path(tmp), run=run)
        version = run(["dpkg-deb", "-f", str(deb), "Version"]).stdout.strip()
        res = run(["dpkg-deb", "-x", str(deb), str(root)])
        if res.returncode != 0:
            raise RuntimeError(f"dpkg-deb -x {deb.name} failed:\n{res.stderr}")
    try:
        verify_package(package, root)
    except ChecksumError as err:
        raise ChecksumError(f"{err}\nDebian package {package} version {version!r} was extracted; data/registry.yaml "
                            f"pins version {entry['version']!r}. If Debian changed the package, re-pin the "
                            f"checksums in data/registry.yaml after checking the files.") from err
    (root / ".versions").mkdir(exist_ok=True)
    (root / ".versions" / package).write_text(version + "\n")
    return root


def debian_file(package: str, relpath: str, verify: bool = True) -> Path:
    """Path of ``relpath`` (a file or folder, relative to the filesystem root, e.g.
    ``usr/share/games/fortunes/sports``) from Debian ``package`` in the cache.

    Raises :class:`MissingDataError` naming ``make data`` when absent; with ``verify`` checks
    the pinned sha256 of the registered files at or under ``relpath`` (memoised, cheap).
    """
    entry = package_entry(package)
    relpath = relpath.strip("/")
    path = DEBIAN_DIR / relpath
    if not path.exists():
        raise MissingDataError(f"{path} (from Debian package {package}) not found: {FETCH_HINT}")
    if verify:
        for rel, expected in entry["files"].items():
            if rel == relpath or rel.startswith(relpath + "/"):
                verify_file(DEBIAN_DIR / rel, expected, fix=FETCH_HINT)
    return path


def fetch_fashion_mnist() -> None:
    """Fetch Debian ``dataset-fashion-mnist`` (Fashion-MNIST IDX files)."""
    fetch_package("dataset-fashion-mnist")


def fetch_fortunes() -> None:
    """Fetch Debian ``fortunes`` (the politics/sports/work/science fortune files)."""
    fetch_package("fortunes")


def fetch_janeaustenr() -> None:
    """Fetch Debian ``r-cran-janeaustenr`` (Jane Austen's six novels as R data)."""
    fetch_package("r-cran-janeaustenr")


def fetch_quick_packages() -> None:
    """Fetch every Debian package of data/registry.yaml (what ``make data`` needs)."""
    for package in load_registry()["debian"]:
        fetch_package(package)
