"""Dataset registry: ``lib.datasets.load(name)`` -> :class:`Dataset`.

Each source module registers its loaders with :func:`register`. Quick-profile sets are
available offline (scikit-learn's bundled data, package-shipped files, generated synthetic
sets); full-profile sets are read from the git-ignored cache ``data/cache/`` and raise
:class:`MissingDataError` naming the command that fetches them. ``data/README.md`` lists
every source, its licence and checksum.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
DATA_DIR = ROOT / "data"
CACHE_DIR = DATA_DIR / "cache"
FIXTURES_DIR = DATA_DIR / "fixtures"


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
class _Entry:
    loader: Callable[..., Dataset]
    profile: str
    fetch: Callable[[], None] | None
    description: str


_REGISTRY: dict[str, _Entry] = {}


def register(name: str, profile: str = "quick", fetch: Callable[[], None] | None = None,
             description: str = "") -> Callable[[Callable[..., Dataset]], Callable[..., Dataset]]:
    """Decorator registering ``loader`` under ``name``; ``fetch`` fills the cache if needed."""

    def deco(loader: Callable[..., Dataset]) -> Callable[..., Dataset]:
        if name in _REGISTRY:
            raise ValueError(f"dataset {name!r} registered twice")
        _REGISTRY[name] = _Entry(loader, profile, fetch, description or (loader.__doc__ or "").strip().split("\n")[0])
        return loader

    return deco


def names(profile: str | None = None) -> list[str]:
    return sorted(n for n, e in _REGISTRY.items() if profile is None or e.profile == profile)


def describe() -> list[dict[str, str]]:
    return [{"name": n, "profile": e.profile, "description": e.description} for n, e in sorted(_REGISTRY.items())]


def load(name: str, **kwargs: Any) -> Dataset:
    """Load a registered dataset; an unknown name is an error listing the known ones."""
    if name not in _REGISTRY:
        raise ValueError(f"unknown dataset {name!r}; known datasets: {', '.join(names())}")
    return _REGISTRY[name].loader(**kwargs)


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


# Source modules register themselves on import.
from . import bundled  # noqa: E402,F401
from . import debian, full, images, pc_synthetic, tabular, text  # noqa: E402,F401
