"""Pinned checksums of the data files: ``data/registry.yaml`` and file verification.

One job: read the registry and check a file's size and digests against an entry of it.
Every digest an entry gives (``sha256``, ``md5``) and its ``bytes`` are checked; a
mismatch is a :class:`ChecksumError` that names the file, both values and what to do.
"""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path
from typing import Any

import yaml

from .registry import REGISTRY_FILE

REGISTRY_PATH = REGISTRY_FILE
_DIGESTS = ("sha256", "md5")


class ChecksumError(ValueError):
    """A data file's size or digest differs from the one pinned in ``data/registry.yaml``."""


@functools.cache
def load_registry(path: Path = REGISTRY_PATH) -> dict[str, Any]:
    """The parsed ``data/registry.yaml`` (cached; sections ``debian``, ``pypi`` and ``full``)."""
    with open(path, encoding="utf-8") as fh:
        return yaml.safe_load(fh)


def file_digest(path: str | Path, algorithm: str = "sha256", chunk: int = 1 << 20) -> str:
    """Hex digest of a file, read in chunks (works for multi-GB archives)."""
    h = hashlib.new(algorithm)
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(chunk), b""):
            h.update(block)
    return h.hexdigest()


_VERIFIED: dict[tuple[str, int, int], tuple] = {}


def verify_file(path: str | Path, expected: dict[str, Any], fix: str = "") -> dict[str, str]:
    """Check ``path`` against a registry entry ``{bytes:, sha256:, md5:}`` (each optional).

    Returns the digests computed. Raises :class:`MissingDataError` if the file is absent and
    :class:`ChecksumError` on any mismatch; ``fix`` (e.g. "run `make data`") ends the message.
    Results are memoised on (path, size, mtime) so repeated loads do not re-hash.
    """
    from .registry import MissingDataError

    path = Path(path)
    if not path.is_file():
        raise MissingDataError(f"{path} not found. {fix}".strip())
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    wanted = tuple(sorted((k, v) for k, v in expected.items() if k in (*_DIGESTS, "bytes") and v is not None))
    if _VERIFIED.get(key) == wanted:
        return {}
    if expected.get("bytes") is not None and stat.st_size != int(expected["bytes"]):
        raise ChecksumError(f"{path}: size {stat.st_size} bytes, but data/registry.yaml pins "
                            f"{expected['bytes']} bytes (truncated, corrupt or a different version). {fix}".strip())
    seen = {}
    for algo in _DIGESTS:
        if expected.get(algo) is None:
            continue
        seen[algo] = file_digest(path, algo)
        if seen[algo] != str(expected[algo]).lower():
            raise ChecksumError(f"{path}: {algo} {seen[algo]} does not match {expected[algo]} pinned in "
                                f"data/registry.yaml (corrupt or a different version of the file). {fix}".strip())
    _VERIFIED[key] = wanted
    return seen
