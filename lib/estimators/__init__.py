"""The survey's influence estimators ([S] Hammoudeh & Lowd) with one call shape.

Every estimator is a function ``estimator(task, rng, **options) -> np.ndarray`` of shape
``(n_train,)``: the estimated effect of training sample ``i`` on the task's utility
``U = -(summed validation loss)``, signed so that **positive = the sample helps** (it matches
``lib.influence.utility_influence`` and actual leave-one-out ``U(D) - U(D without i)``).
Retraining-based estimators call ``task.fit``; gradient-based ones use ``task.model``.

Two tasks: :class:`Task` (L2 logistic regression, convex: retraining is exact and deterministic)
and :class:`lib.estimators.mlp.MLPTask` (a one-hidden-layer MLP, non-convex: retraining depends on
a training seed, and the ground truth is the expected leave-one-out over seeds,
:func:`lib.estimators.mlp.expected_loo`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..models import LogisticRegression


@dataclass
class Task:
    """A supervised problem shared by all estimators: data, a model factory, a utility."""

    X_train: np.ndarray
    y_train: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray
    l2: float | str = "auto"
    n_classes: int | None = None
    _full: LogisticRegression | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.n_classes is None:
            self.n_classes = int(max(self.y_train.max(), self.y_val.max())) + 1

    @property
    def n_train(self) -> int:
        return len(self.y_train)

    def fit(self, weights: np.ndarray | None = None) -> LogisticRegression:
        """Train the task's logistic regression with per-sample ``weights`` (0 = removed)."""
        warm = None if self._full is None else self._full.theta_
        return LogisticRegression(l2=self.l2).fit(self.X_train, self.y_train, sample_weight=weights,
                                                  n_classes=self.n_classes, warm_start=warm)

    def fit_subset(self, idx: np.ndarray) -> LogisticRegression:
        w = np.zeros(self.n_train)
        w[np.asarray(idx, dtype=int)] = 1.0
        return self.fit(w)

    @property
    def model(self) -> LogisticRegression:
        """The model trained on the whole training set (cached)."""
        if self._full is None:
            self._full = self.fit()
        return self._full

    def utility(self, model: LogisticRegression) -> float:
        """``U = -(summed validation loss)``: higher is better."""
        return -float(model.loss(self.X_val, self.y_val).sum())

    def embedding(self, X: np.ndarray) -> np.ndarray:
        """The representation a kNN surrogate works on (kNN-Shapley): the raw features here."""
        return np.asarray(X, dtype=float)
