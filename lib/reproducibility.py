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


#: significant decimal digits :func:`tie_safe` keeps (relative to the largest score)
TIE_DIGITS = 10


def tie_safe(scores: np.ndarray, digits: int = TIE_DIGITS) -> np.ndarray:
    """``scores`` quantised to about ``digits`` significant decimal digits of the largest ``|score|``,
    for ranking and selecting (book/conventions.md §3).

    Scores that are equal in exact arithmetic (duplicated rows of Adult or Bank, an estimator that
    converges to another) differ in their last bits by floating-point noise, and that noise depends
    on the processor (BLAS kernels, SIMD summation orders). An ``argsort`` of the raw scores then
    breaks such ties differently on another machine. On the quantised scores they are exact ties,
    which a stable sort breaks by index everywhere. The grid step is a power of two (``2**e`` with
    ``2**e <= max|score| * 10**-digits``), so the quantisation itself is exact: no transcendental
    function, whose last bit could depend on the machine, is evaluated. Non-finite values pass
    through unchanged; an all-zero array stays zero.
    """
    s = np.asarray(scores, dtype=float)
    finite = np.isfinite(s)
    if not finite.any():
        return s.copy()
    top = float(np.max(np.abs(s[finite])))
    if top == 0.0:
        return s.copy()
    _, e = np.frexp(top)  # top = m * 2**e with 0.5 <= m < 1, exact
    step = np.ldexp(1.0, int(e) - int(np.ceil(digits * np.log2(10.0))))
    out = s.copy()
    out[finite] = np.round(s[finite] / step) * step
    return out


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
