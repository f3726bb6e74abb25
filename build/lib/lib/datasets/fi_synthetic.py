"""The synthetic 2-D sets of [FI] §6.1: two Gaussians ("2D linear model") and two moons
("2D nonlinear"). Generated in code from an explicit ``np.random.Generator``."""

from __future__ import annotations

import numpy as np


# ---------------------------------------------------------------------- data
def two_gaussians(n: int, rng: np.random.Generator, centre: float = 1.25, sd: float = 1.0
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Two isotropic 2-D Gaussians at ``±(centre, centre)`` with balanced random labels
    ([FI] §6.1 "2D linear model", following [CH]; the centres are our choice)."""
    y = rng.integers(0, 2, n)
    X = np.where(y[:, None] == 1, centre, -centre) + sd * rng.standard_normal((n, 2))
    return X, y


def two_moons(n: int, rng: np.random.Generator, noise: float = 0.25) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaving crescents (scikit-learn ``make_moons``) ([FI] §6.1 "2D nonlinear")."""
    from sklearn.datasets import make_moons

    X, y = make_moons(n, noise=noise, random_state=int(rng.integers(0, 2**31 - 1)))
    return X, y.astype(np.int64)
