"""The performance-ceiling book's library: ``import lib``.

Small modules with one job each (see README.md for the map). Submodules are imported
lazily so that ``import lib`` stays cheap and a missing optional dependency of one chapter
does not break another.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = [
    "book", "influence", "models", "reproducibility",
]


def __getattr__(name: str) -> Any:
    try:
        module = importlib.import_module(f".{name}", __name__)
    except ModuleNotFoundError as err:
        if err.name == f"{__name__}.{name}":
            raise AttributeError(f"module 'lib' has no attribute or submodule {name!r}") from None
        raise
    globals()[name] = module
    return module
