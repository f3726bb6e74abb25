"""[CH] §4 toy data: two isotropic 2-D Gaussians, one per class, and a binary sensitive group
correlated with the class (the (+) class is mostly majority group, the (-) class mostly
minority), 150 training and 100 validation samples.

The paper gives no means, spreads or group rates; the defaults below are ours (stated in the
chapter). Not registered in :mod:`lib.datasets` (it is a generator with a split, not a fixed set).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ToySplit:
    """Training and validation arrays; ``g`` = 1 marks the majority group."""

    X_train: np.ndarray
    y_train: np.ndarray
    g_train: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray
    g_val: np.ndarray


def _draw(rng: np.random.Generator, n: int, mean_pos, mean_neg, std: float, p_major_pos: float,
          p_major_neg: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    y = (rng.random(n) < 0.5).astype(np.int64)
    means = np.where(y[:, None] == 1, np.asarray(mean_pos, float), np.asarray(mean_neg, float))
    X = means + std * rng.standard_normal((n, 2))
    g = (rng.random(n) < np.where(y == 1, p_major_pos, p_major_neg)).astype(np.int64)
    return X, y, g


def ch_toy(rng: np.random.Generator, n_train: int = 150, n_val: int = 100,
           mean_pos: tuple[float, float] = (1.0, 1.0), mean_neg: tuple[float, float] = (-1.0, -1.0),
           std: float = 1.0, p_major_pos: float = 0.8, p_major_neg: float = 0.3) -> ToySplit:
    """Draw the [CH] toy set: class ``y=1`` ("+") ~ N(mean_pos, std^2 I), ``y=0`` ("-") ~
    N(mean_neg, std^2 I), balanced in expectation; group ``g=1`` (majority) with probability
    ``p_major_pos`` in the (+) class and ``p_major_neg`` in the (-) class."""
    if n_train < 2 or n_val < 2:
        raise ValueError("need at least two training and two validation samples")
    if not (0 <= p_major_pos <= 1 and 0 <= p_major_neg <= 1):
        raise ValueError("group probabilities must lie in [0, 1]")
    args = (mean_pos, mean_neg, std, p_major_pos, p_major_neg)
    X_train, y_train, g_train = _draw(rng, n_train, *args)
    X_val, y_val, g_val = _draw(rng, n_val, *args)
    return ToySplit(X_train, y_train, g_train, X_val, y_val, g_val)
