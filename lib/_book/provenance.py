"""What an executed page was computed from: the fingerprint the runner stores in each executed
notebook (``metadata["book"]``), so that a test can tell a page that is current from one that is
older than its source or than the library code it runs (content hashes, not file times: a fresh
clone gives every file the same time)."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from . import imports

ROOT = imports.LIB.parent


def _sha(parts: list[tuple[str, bytes]]) -> str:
    h = hashlib.sha256()
    for name, data in parts:
        h.update(name.encode() + b"\0" + hashlib.sha256(data).digest())
    return h.hexdigest()[:16]


def library_files(source: str) -> list[Path]:
    """The ``lib/`` files a notebook source runs (its imports, transitively)."""
    mods = imports.modules()
    return sorted(mods[m] for m in imports.dependencies(source))


def fingerprint(source_path: Path) -> dict[str, str]:
    """``{"source": hash of notebooks/NAME.py, "lib": hash of every lib file it runs}``."""
    text = Path(source_path).read_text()
    files = library_files(text)
    return {"source": _sha([("source", text.encode())]),
            "lib": _sha([(str(p.relative_to(ROOT)), p.read_bytes()) for p in files])}


def stale_reasons(name: str, executed_metadata: dict[str, Any], source_path: Path) -> list[str]:
    """Why the executed page ``name`` does not show what the current code produces (empty: current)."""
    book = executed_metadata.get("book") or {}
    if not book:
        return ["it carries no provenance (executed by an older runner)"]
    now = fingerprint(source_path)
    out = []
    if book.get("source") != now["source"]:
        out.append(f"notebooks/{name}.py changed since it was executed")
    if book.get("lib") != now["lib"]:
        out.append("the lib/ code it runs changed since it was executed")
    if book.get("profile") != "quick" or book.get("overrides"):
        out.append(f"it was executed with profile {book.get('profile')!r} and overrides {book.get('overrides')}, "
                   "not the quick profile")
    return out
