"""The dataset registry: :class:`Dataset`, :func:`register`, :func:`load`, the cache folders.

Source modules (``lib.datasets.bundled``, ``tabular``, ...) register their loaders here on import;
``lib.datasets`` imports them all, so use ``lib.datasets.load(name)``.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

#: the source tree (``data/`` beside ``lib/``) when the library runs from a checkout
ROOT = Path(__file__).resolve().parents[2]
#: the pinned sources and checksums of every dataset, shipped inside the package (in a checkout a
#: link to ``data/registry.yaml``)
REGISTRY_FILE = Path(__file__).resolve().parent / "registry.yaml"


def _data_dir() -> Path:
    """``$PERF_CEILING_DATA`` if set; else the checkout's ``data/`` folder; else (an installed wheel)
    ``~/.cache/perf-ceiling-book``."""
    env = os.environ.get("PERF_CEILING_DATA")
    if env:
        return Path(env).expanduser()
    if (ROOT / "data" / "registry.yaml").exists():
        return ROOT / "data"
    return Path.home() / ".cache" / "perf-ceiling-book"


DATA_DIR = _data_dir()
CACHE_DIR = DATA_DIR / "cache"
FIXTURES_DIR = ROOT / "data" / "fixtures"


class MissingDataError(FileNotFoundError):
    """A dataset's files are not in the cache; the message names the command that fetches them."""


@dataclass(frozen=True)
class Dataset:
    """Features ``X`` (n, d) float, labels ``y`` (n,) int in ``0..K-1``, class names, and
    optional sensitive-group labels ``groups`` (n,) int."""

    name: str
    X: np.ndarray
    y: np.ndarray
    classes: tuple[str, ...]
    groups: np.ndarray | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def n_classes(self) -> int:
        return len(self.classes)

    def __len__(self) -> int:
        return len(self.y)


@dataclass(frozen=True)
class Entry:
    """A registered dataset: its loader, profile (``quick``/``full``), fetcher and one-line description."""

    loader: Callable[..., Dataset]
    profile: str
    fetch: Callable[[], None] | None
    description: str


_REGISTRY: dict[str, Entry] = {}


def register(name: str, profile: str = "quick", fetch: Callable[[], None] | None = None,
             description: str = "") -> Callable[[Callable[..., Dataset]], Callable[..., Dataset]]:
    """Decorator registering ``loader`` under ``name``; ``fetch`` fills the cache if needed."""

    def deco(loader: Callable[..., Dataset]) -> Callable[..., Dataset]:
        if name in _REGISTRY:
            raise ValueError(f"dataset {name!r} registered twice")
        _REGISTRY[name] = Entry(loader, profile, fetch, description or (loader.__doc__ or "").strip().split("\n")[0])
        return loader

    return deco


def entry(name: str) -> Entry:
    """The registry entry of ``name``; an unknown name is an error listing the known ones."""
    if name not in _REGISTRY:
        raise ValueError(f"unknown dataset {name!r}; known datasets: {', '.join(names())}")
    return _REGISTRY[name]


def names(profile: str | None = None) -> list[str]:
    return sorted(n for n, e in _REGISTRY.items() if profile is None or e.profile == profile)


def describe() -> list[dict[str, str]]:
    return [{"name": n, "profile": e.profile, "description": e.description} for n, e in sorted(_REGISTRY.items())]


def load(name: str, **kwargs: Any) -> Dataset:
    """Load a registered dataset; an unknown name is an error listing the known ones."""
    return entry(name).loader(**kwargs)


def fetch(profile: str = "quick") -> list[str]:
    """Run the fetchers of every dataset of ``profile`` whose files are not cached yet."""
    done = []
    seen: set[int] = set()
    for name in names(profile):
        entry = _REGISTRY[name]
        if entry.fetch is not None and id(entry.fetch) not in seen:
            seen.add(id(entry.fetch))
            entry.fetch()
            done.append(name)
    return done
