"""Fairness-specific distribution shifts (Roh et al. 2023), as [CH] §5.1 uses them.

Roh et al. ("Improving Fair Training under Correlation Shifts", ICML 2023) describe the shifts that
break a fair model as changes of the joint distribution of the sensitive group ``g`` and the label
``y`` between training and deployment; a *correlation shift* changes how strongly ``y`` depends on
``g``. [CH] §5.1 trains on ACS Income California 2014 and tests on California 2018 (time),
Michigan 2014 (location) and Michigan 2018 (time & location). Without ACS data offline, the book
builds such shifts from one real data set: the test (and validation) samples are *resampled* so
that their ``(g, y)`` table follows a shifted target while ``P(x | g, y)`` stays that of the data
(the assumption under which Roh et al. analyse the shift).

* :func:`joint_table` — the 2 x 2 table ``P[g, y]`` of a sample.
* :func:`correlation_shift` — ``P + delta * [[1, -1], [-1, 1]]`` (rows ``g``, columns ``y``):
  both marginals stay, the label gap ``P(y=1|g=1) - P(y=1|g=0)`` moves. ``strength`` is the fraction
  of the largest feasible ``delta`` in the direction that *amplifies* the existing gap (negative
  strength shrinks it, down to reversing it).
* :func:`resample_to_table` — indices whose ``(g, y)`` counts follow a target table (largest-
  remainder rounding), drawn without replacement.
"""

from __future__ import annotations

import numpy as np

#: ``D[g, y]``: the direction of a correlation shift in the (g, y) table (marginals unchanged)
_DIRECTION = np.array([[1.0, -1.0], [-1.0, 1.0]])


def _check_binary(name: str, a: np.ndarray) -> np.ndarray:
    a = np.asarray(a)
    if a.ndim != 1 or not np.isin(a, (0, 1)).all():
        raise ValueError(f"{name} must be a 1-D array of 0/1 values")
    return a.astype(np.int64)


def joint_table(y: np.ndarray, g: np.ndarray) -> np.ndarray:
    """``P[g, y]``, the 2 x 2 joint distribution of group and label in a sample."""
    y, g = _check_binary("y", y), _check_binary("groups", g)
    if y.shape != g.shape:
        raise ValueError(f"y and groups must have the same length, got {y.shape} and {g.shape}")
    if len(y) == 0:
        raise ValueError("need at least one sample")
    table = np.zeros((2, 2))
    np.add.at(table, (g, y), 1.0)
    return table / len(y)


def label_gap(table: np.ndarray) -> float:
    """``P(y=1 | g=1) - P(y=1 | g=0)`` of a ``(g, y)`` table: the base rates' demographic-parity gap."""
    t = np.asarray(table, dtype=float)
    return float(t[1, 1] / t[1].sum() - t[0, 1] / t[0].sum())


def correlation_shift(table: np.ndarray, strength: float) -> np.ndarray:
    """The table shifted along ``[[1, -1], [-1, 1]]`` (marginals of ``g`` and ``y`` unchanged).

    ``strength`` in ``[-1, 1]`` is the fraction of the largest feasible step (a cell reaching 0) in the
    direction that *widens* the label gap :func:`label_gap` of ``table`` (for a gap of exactly 0 the
    positive direction, which raises ``P(y=1|g=1)``); a negative strength narrows the gap and, past
    zero, reverses it. ``strength = 0`` returns the table unchanged.
    """
    t = np.asarray(table, dtype=float)
    if t.shape != (2, 2) or (t < 0).any() or not np.isclose(t.sum(), 1.0):
        raise ValueError(f"table must be a 2 x 2 joint distribution P[g, y] (non-negative, sum 1), got {t}")
    if not -1.0 <= strength <= 1.0:
        raise ValueError(f"strength must lie in [-1, 1] (a fraction of the feasible shift), got {strength}")
    sign = 1.0 if label_gap(t) >= 0 else -1.0
    direction = sign * np.sign(strength) * _DIRECTION
    # the step along `direction` is limited by the cells it lowers
    limit = min(t[direction < 0]) if strength != 0 else 0.0
    return t + abs(strength) * limit * direction


def cell_counts(table: np.ndarray, n: int) -> np.ndarray:
    """Integer ``(g, y)`` counts summing to ``n`` closest to ``n * table`` (largest remainder)."""
    t = np.asarray(table, dtype=float).ravel()
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    raw = t * n
    counts = np.floor(raw).astype(np.int64)
    short = n - counts.sum()
    order = np.argsort(-(raw - counts), kind="stable")
    counts[order[:short]] += 1
    return counts.reshape(2, 2)


def resample_to_table(
    y: np.ndarray,
    g: np.ndarray,
    table: np.ndarray,
    n: int,
    rng: np.random.Generator,
    available: np.ndarray | None = None,
) -> np.ndarray:
    """``n`` indices drawn without replacement (among ``available``, default all) whose ``(g, y)``
    counts are :func:`cell_counts` of ``table``; returned in random order.

    Raises a ``ValueError`` naming the cell when a cell does not hold enough samples (ask for a
    smaller ``n`` or a weaker shift).
    """
    y, g = _check_binary("y", y), _check_binary("groups", g)
    pool = np.ones(len(y), bool) if available is None else np.asarray(available, bool)
    if pool.shape != y.shape:
        raise ValueError(f"available must be one boolean per sample ({len(y)}), got shape {pool.shape}")
    counts = cell_counts(table, n)
    picked = []
    for gi in (0, 1):
        for yi in (0, 1):
            idx = np.flatnonzero(pool & (g == gi) & (y == yi))
            k = int(counts[gi, yi])
            if k > len(idx):
                raise ValueError(
                    f"the cell g={gi}, y={yi} needs {k} samples but only {len(idx)} are available: "
                    "ask for fewer samples or a weaker shift"
                )
            picked.append(rng.choice(idx, size=k, replace=False))
    out = np.concatenate(picked)
    return out[rng.permutation(len(out))]
