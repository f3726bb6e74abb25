"""Budgeted data trimming: which training samples to remove, given one score per sample.

One function, :func:`trim`, serves every trimming rule of the book:

* ``rule="negative"`` — [CH] Algorithm 2: remove at most ``budget`` samples, only those with
  negative influence, most negative first (``min(b, b')`` with ``b'`` the number of negatives).
  With the book's sign (``I`` predicts ``f(without i) - f(with i)`` for a lower-is-better
  ``f``), negative influence means removal is predicted to improve ``f``.
* ``rule="highest"`` — [FI] Algorithm 3: remove exactly the ``budget`` largest scores
  (``FI_util`` is unsigned, >= 0; larger = more sensitive).
* ``rule="lowest"`` — remove exactly the ``budget`` smallest scores whatever their sign (the
  IV baseline as [FI] §6.1 runs it: ``b`` points for every strategy, D.1).

:func:`random_trim` is the random baseline ([FI] D.1). Ties keep index order: scores are ranked
after :func:`lib.reproducibility.tie_safe` (10 significant digits), so that scores equal in exact
arithmetic (duplicated rows) are exact ties on every machine, not an order set by floating noise.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .reproducibility import tie_safe

RULES = ("negative", "highest", "lowest")


class Trim(NamedTuple):
    removed: np.ndarray  #: indices removed, in removal order (most extreme score first)
    kept: np.ndarray  #: the other indices, ascending

    @property
    def keep_mask(self) -> np.ndarray:
        """Boolean mask over all ``len(removed) + len(kept)`` samples, True = kept (use
        ``.astype(float)`` as retraining weights)."""
        mask = np.ones(len(self.removed) + len(self.kept), dtype=bool)
        mask[self.removed] = False
        return mask


def _check_budget(budget: int) -> int:
    if isinstance(budget, bool) or int(budget) != budget or budget < 0:
        raise ValueError(f"budget must be a non-negative integer, got {budget!r}")
    return int(budget)


def _result(order: np.ndarray, n: int) -> Trim:
    removed = np.asarray(order, dtype=np.int64)
    kept = np.setdiff1d(np.arange(n), removed)
    return Trim(removed, kept)


def trim(scores: np.ndarray, budget: int, rule: str = "negative") -> Trim:
    """Remove up to ``budget`` samples by ``rule`` (``"negative"``, ``"highest"``, ``"lowest"``;
    see the module docstring). ``"highest"``/``"lowest"`` remove exactly ``budget`` samples and
    need ``budget <= len(scores)``; ``"negative"`` removes ``min(budget, #negatives)``.
    """
    s = np.asarray(scores, dtype=float)
    if s.ndim != 1:
        raise ValueError(f"scores must be a 1-D array (one score per sample), got shape {s.shape}")
    if not np.isfinite(s).all():
        raise ValueError("scores contain NaN or infinite values")
    b = _check_budget(budget)
    if rule not in RULES:
        raise ValueError(f"unknown trimming rule {rule!r}; use one of {', '.join(RULES)}")
    if rule != "negative" and b > len(s):
        raise ValueError(f"budget {b} is larger than the number of samples {len(s)}")
    q = tie_safe(s)  # near-ties from floating noise become exact ties, broken by index
    if rule == "highest":
        return _result(np.argsort(-q, kind="stable")[:b], len(s))
    order = np.argsort(q, kind="stable")
    if rule == "negative":
        b = min(b, int((q < 0).sum()))
    return _result(order[:b], len(s))


def random_trim(n: int, budget: int, rng: np.random.Generator) -> Trim:
    """Random trimming baseline: ``budget`` of ``n`` indices drawn without replacement."""
    b = _check_budget(budget)
    if b > n:
        raise ValueError(f"budget {b} is larger than the number of samples {n}")
    return _result(rng.choice(n, size=b, replace=False), n)
