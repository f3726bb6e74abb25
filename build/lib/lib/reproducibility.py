"""Determinism: one call seeds every generator and fixes thread counts (book/conventions.md §3)."""

from __future__ import annotations

import contextlib
import os
import random
from collections.abc import Iterable, Iterator
from typing import TypeVar

import numpy as np
import torch

T = TypeVar("T")


def setup(seed: int = 0, threads: int | None = 2) -> np.random.Generator:
    """Seed ``random``, NumPy and torch, make torch deterministic and fix thread counts.

    Returns a fresh ``numpy.random.Generator`` seeded with ``seed``: pass it on explicitly
    to every function that draws random numbers (no global state is relied upon).
    """
    if threads is not None:
        torch.set_num_threads(int(threads))
        os.environ.setdefault("OMP_NUM_THREADS", str(threads))
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True, warn_only=True)
    return np.random.default_rng(seed)


@contextlib.contextmanager
def torch_threads(n: int | None) -> Iterator[None]:
    """Temporarily set torch's intra-op thread count (``None``: leave it unchanged).

    The book's small models (tens to hundreds of parameters) run faster on one thread: the
    thread start-up cost dominates such tiny products (about 4x on a busy 2-core machine).
    """
    old = torch.get_num_threads()
    if n is not None:
        torch.set_num_threads(int(n))
    try:
        yield
    finally:
        torch.set_num_threads(old)


def torch_generator(rng: np.random.Generator) -> torch.Generator:
    """A torch generator derived from (and advancing) a NumPy generator."""
    g = torch.Generator()
    g.manual_seed(int(rng.integers(0, 2**63 - 1)))
    return g


def progress(iterable: Iterable[T], enabled: bool = False, **kwargs) -> Iterator[T]:
    """A tqdm progress bar when ``enabled``; the bare iterable otherwise.

    Notebooks pass their ``progress`` parameter, which is off in the quick profile so that
    checked outputs hold no bars or timings.
    """
    if not enabled:
        yield from iterable
        return
    from tqdm.auto import tqdm

    yield from tqdm(iterable, **kwargs)
