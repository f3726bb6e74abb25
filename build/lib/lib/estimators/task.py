"""The supervised problem every estimator of the survey works on: :class:`Task`."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from ..influence import loo_effect
from ..models import DifferentiableModel, LogisticRegression
from ..reproducibility import torch_threads

UTILITIES = ("loss", "accuracy")


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

    def utility(self, model: DifferentiableModel) -> float:
        """``U = -(summed validation loss)``: higher is better."""
        return -float(model.loss(self.X_val, self.y_val).sum())

    def embedding(self, X: np.ndarray) -> np.ndarray:
        """The representation a kNN surrogate works on (kNN-Shapley): the raw features here."""
        return np.asarray(X, dtype=float)

    def leave_one_out(self, indices: np.ndarray | None = None, utility: str = "loss",
                      threads: int | None = 1) -> np.ndarray:
        """Actual leave-one-out ``U(D) - U(D \\ {i})`` ([S] §4.1, Eq. 7) by exact, warm-started
        retraining to convergence (:func:`lib.influence.loo_effect`). ``utility``: ``"loss"``
        (``U = -(summed validation loss)``) or ``"accuracy"``. ``indices`` restricts the work to some
        samples (the others are NaN)."""
        if utility not in UTILITIES:
            raise ValueError(f"utility must be one of {UTILITIES}, got {utility!r}")
        n = self.n_train
        idx = np.arange(n) if indices is None else np.asarray(indices, dtype=np.int64).ravel()
        X_val, y_val = torch.as_tensor(self.X_val, dtype=torch.float64), self.y_val
        if utility == "loss":
            f = lambda m, th: -m.loss(X_val, y_val, th).sum()  # noqa: E731
        else:
            y_t = torch.as_tensor(np.asarray(y_val), dtype=torch.long)

            def f(m, th: torch.Tensor) -> torch.Tensor:
                z = m.logits(X_val, th)
                pred = (z[:, 0] > 0).long() if z.shape[1] == 1 else z.argmax(1)  # binary: one logit
                return (pred == y_t).double().mean()
        # loo_effect returns f(without i) - f(with i); the value is U(D) - U(D \ i)
        with torch_threads(threads):
            effect = loo_effect(self.model, self.X_train, self.y_train, idx, [f])[:, 0]
        out = np.full(n, np.nan)
        out[idx] = -effect
        return out
