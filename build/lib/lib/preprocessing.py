"""Splits and feature standardisation shared by every chapter."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def split_indices(n: int, sizes: Sequence[int], rng: np.random.Generator) -> list[np.ndarray]:
    """Disjoint random index sets of the given sizes (their sum must not exceed ``n``)."""
    if sum(sizes) > n:
        raise ValueError(f"asked for {sum(sizes)} samples ({' + '.join(map(str, sizes))}) but only {n} exist")
    perm = rng.permutation(n)
    bounds = np.cumsum([0, *sizes])
    return [perm[a:b] for a, b in zip(bounds[:-1], bounds[1:])]


def standardise(X_train: np.ndarray, *others: np.ndarray) -> tuple[np.ndarray, ...]:
    """Scale every set with the training mean and standard deviation (constant features -> 0)."""
    mu = X_train.mean(0)
    sd = X_train.std(0)
    sd = np.where(sd > 1e-12, sd, 1.0)
    return tuple((X - mu) / sd for X in (X_train, *others))


def standardised_split(X: np.ndarray, y: np.ndarray, sizes: Sequence[int], rng: np.random.Generator
                       ) -> list[tuple[np.ndarray, np.ndarray]]:
    """Random disjoint splits of ``(X, y)``, standardised with the first split's statistics."""
    idx = split_indices(len(y), sizes, rng)
    Xs = standardise(*(X[i] for i in idx))
    return [(Xi, y[i]) for Xi, i in zip(Xs, idx)]


def standardised_blocks(X: np.ndarray, y: np.ndarray, sizes: Sequence[int]
                        ) -> list[tuple[np.ndarray, np.ndarray]]:
    """Consecutive blocks of ``(X, y)`` of the given sizes (for data generated i.i.d., no shuffle
    needed), standardised with the first block's statistics."""
    bounds = np.cumsum([0, *sizes])
    if bounds[-1] > len(y):
        raise ValueError(f"asked for {bounds[-1]} samples ({' + '.join(map(str, sizes))}) but only {len(y)} exist")
    Xs = standardise(*(X[a:b] for a, b in zip(bounds[:-1], bounds[1:])))
    return [(Xi, y[a:b]) for Xi, a, b in zip(Xs, bounds[:-1], bounds[1:])]


def polynomial_features(X: np.ndarray, degree: int) -> np.ndarray:
    """Monomials of the inputs up to ``degree`` (no constant): a fixed feature map under which a
    logistic model can draw the curved boundary of the two moons. FI then perturbs these
    features, like the paper's last-layer FI for its networks."""
    from sklearn.preprocessing import PolynomialFeatures

    if degree < 1:
        raise ValueError(f"degree must be >= 1, got {degree}")
    return PolynomialFeatures(degree, include_bias=False).fit_transform(np.asarray(X, float))
