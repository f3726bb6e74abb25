"""Dataset registry: ``lib.datasets.load(name)`` -> :class:`Dataset`.

Each source module registers its loaders with :func:`register`. Quick-profile sets are
available offline (scikit-learn's bundled data, package-shipped files, generated synthetic
sets); full-profile sets are read from the git-ignored cache ``data/cache/`` and raise
:class:`MissingDataError` naming the command that fetches them. ``data/README.md`` lists
every source, its licence and checksum.
"""

from __future__ import annotations

from .registry import (CACHE_DIR, DATA_DIR, FIXTURES_DIR, ROOT, Dataset, MissingDataError, describe, entry, fetch,
                       load, names, register)

# Source modules register themselves on import.
from . import bundled  # noqa: E402,F401
from . import debian, fi_synthetic, full, images, pc_synthetic, tabular, text  # noqa: E402,F401

__all__ = ["CACHE_DIR", "DATA_DIR", "FIXTURES_DIR", "ROOT", "Dataset", "MissingDataError", "describe", "entry",
           "fetch", "load", "names", "register"]
