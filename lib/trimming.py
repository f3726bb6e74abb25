"""[CH] Algorithm 2: data trimming by influence under a budget."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np


class Trim(NamedTuple):
    removed: np.ndarray  #: indices removed, most negative influence first
    kept: np.ndarray  #: the other indices, ascending


def trim(influence: np.ndarray, budget: int) -> Trim:
    """Remove at most ``budget`` samples, only those with negative influence, most negative first
    ([CH] Algorithm 2: ``min(b, b')`` with ``b'`` the number of negative influences).

    With the book's sign (``I`` predicts ``f(without i) - f(with i)`` for a lower-is-better
    ``f``), negative influence means removal is predicted to improve ``f``. Ties keep index order.
    """
    I = np.asarray(influence, dtype=float)
    if I.ndim != 1:
        raise ValueError(f"influence must be a 1-D array (one score per sample), got shape {I.shape}")
    if not np.isfinite(I).all():
        raise ValueError("influence contains NaN or infinite values")
    if int(budget) != budget or budget < 0:
        raise ValueError(f"budget must be a non-negative integer, got {budget!r}")
    order = np.argsort(I, kind="stable")
    n_neg = int((I < 0).sum())
    removed = order[: min(int(budget), n_neg)]
    kept = np.setdiff1d(np.arange(len(I)), removed)
    return Trim(removed, kept)
