"""Fairness and robustness quantities of [CH] (Chhabra et al., ICLR 2024, §2 and App. A).

Each ``*_quantity`` function returns ``f(model, theta) -> scalar tensor`` for
:func:`lib.influence.influence_on` (differentiable in ``theta``); :func:`metrics` gives the
plain numbers reported before/after trimming. All quantities are "lower is better", so with
the book's sign convention (``I_f(i)`` predicts ``f(without i) - f(with i)``) a *negative*
influence marks a sample whose removal is predicted to improve ``f`` ([CH] Algorithm 2 trims
those).

Binary classifiers (one logit, any :class:`lib.models.DifferentiableModel`): ``p(y=1|x) = sigmoid(z(x))``;
the linear attack needs a linear model (:class:`lib.models.LinearModel`).
"""

from __future__ import annotations

import numpy as np
import torch

from .influence import Quantity
from .models import ArrayLike, DifferentiableModel, LinearModel, as_labels, as_tensor


def _check_binary(model: DifferentiableModel) -> None:
    if model.n_logits != 1:
        raise ValueError(
            f"[CH] fairness/robustness quantities are defined for binary classifiers; the model has "
            f"{model.n_classes_} classes. Binarise the labels (e.g. one class vs. the rest) first."
        )


def _group_masks(groups: ArrayLike, n: int, where: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    g = np.asarray(groups)
    if g.shape != (n,):
        raise ValueError(f"groups must have shape ({n},) like the labels, got {g.shape}")
    if not np.isin(g, (0, 1)).all():
        raise ValueError("groups must be a binary sensitive attribute coded 0/1")
    sel = np.ones(n, bool) if where is None else where
    g1, g0 = sel & (g == 1), sel & (g == 0)
    if not g1.any() or not g0.any():
        raise ValueError("both sensitive groups need at least one sample in the selection "
                         "(for EOP: among the y=1 samples); use a larger validation set")
    return g1, g0


def positive_probability(model: DifferentiableModel, X: ArrayLike, theta: torch.Tensor | None = None) -> torch.Tensor:
    """``p(y=1|x)`` of a binary model, differentiable in ``theta``."""
    _check_binary(model)
    return torch.sigmoid(model.logits(X, theta)[:, 0])


def utility_quantity(X_val: ArrayLike, y_val: ArrayLike) -> Quantity:
    """Summed validation loss ([CH] Eq. 1)."""
    X_t, y_t = as_tensor(X_val), as_labels(y_val)
    return lambda m, th: m.loss(X_t, y_t, th).sum()


def dp_quantity(X_val: ArrayLike, groups: ArrayLike) -> Quantity:
    """Demographic-parity gap ``|E_V[p(y=1)|g=1] - E_V[p(y=1)|g=0]|`` ([CH] Eq. 2)."""
    X_t = as_tensor(X_val)
    g1, g0 = (torch.as_tensor(m) for m in _group_masks(groups, X_t.shape[0]))

    def f(model: DifferentiableModel, theta: torch.Tensor) -> torch.Tensor:
        p = positive_probability(model, X_t, theta)
        return (p[g1].mean() - p[g0].mean()).abs()

    return f


def eop_quantity(X_val: ArrayLike, y_val: ArrayLike, groups: ArrayLike) -> Quantity:
    """Equal-opportunity gap as [CH] App. A Eq. (4) defines it: the absolute difference of the
    mean *loss* of the ``y=1`` validation samples between the two groups."""
    X_t, y_t = as_tensor(X_val), as_labels(y_val)
    g1, g0 = (torch.as_tensor(m) for m in _group_masks(groups, len(y_t), y_t.numpy() == 1))

    def f(model: DifferentiableModel, theta: torch.Tensor) -> torch.Tensor:
        loss = model.loss(X_t, y_t, theta)
        return (loss[g1].mean() - loss[g0].mean()).abs()

    return f


def robustness_quantity(X_adv: ArrayLike, y_val: ArrayLike) -> Quantity:
    """Summed loss on the adversarial validation set ``V'`` ([CH] Eq. 3). ``X_adv`` is crafted
    once, against the original model (:func:`linear_attack`), and kept fixed afterwards."""
    return utility_quantity(X_adv, y_val)


def linear_attack(model: LinearModel, X: ArrayLike, gamma: float = 1.3) -> np.ndarray:
    """Minimal-perturbation attack on a linear model ([CH] §2, after Megyeri et al. 2019):

        x' = x - gamma * (theta^T x + b) / ||theta||^2 * theta .

    Each point moves orthogonally to the decision boundary; ``gamma > 1`` carries it across, so
    every prediction of the crafting model flips (``gamma = 1.3`` as in the authors' code).
    """
    _check_binary(model)
    if not model.fit_intercept:
        raise ValueError("linear_attack expects a model with an intercept")
    if gamma <= 0:
        raise ValueError(f"gamma must be > 0 (> 1 to cross the boundary), got {gamma}")
    X_t = as_tensor(X)
    w = model.theta_[:-1, 0]
    b = model.theta_[-1, 0]
    nw = float(w @ w)
    if nw == 0.0:
        raise ValueError("the model's weights are all zero: there is no decision boundary to attack")
    with torch.no_grad():
        X_adv = X_t - gamma * ((X_t @ w + b) / nw)[:, None] * w[None, :]
    return X_adv.numpy()


def metrics(model: DifferentiableModel, X_val: ArrayLike, y_val: ArrayLike, groups: ArrayLike,
            X_adv: ArrayLike | None = None) -> dict[str, float]:
    """Plain numbers of [CH] §4: accuracy, DP gap, EOP gap (loss form) and adversarial accuracy."""
    with torch.no_grad():
        out = {
            "accuracy": model.score(X_val, y_val),
            "dp_gap": float(dp_quantity(X_val, groups)(model, model.theta_)),
            "eop_gap": float(eop_quantity(X_val, y_val, groups)(model, model.theta_)),
        }
        if X_adv is not None:
            out["adv_accuracy"] = model.score(X_adv, y_val)
    return out


def prediction_dp_gap(predictions: ArrayLike, groups: ArrayLike) -> float:
    """Signed demographic-parity gap of *hard* predictions, ``P(yhat=1 | g=1) - P(yhat=1 | g=0)``:
    the number [CH]'s code reports (Table 1 prints it signed) and the one any classifier has,
    including those without probabilities (fairlearn's randomised ThresholdOptimizer)."""
    p = np.asarray(predictions)
    if p.ndim != 1 or not np.isin(p, (0, 1)).all():
        raise ValueError("predictions must be a 1-D array of 0/1 labels")
    g1, g0 = _group_masks(groups, len(p))
    return float(p[g1].mean() - p[g0].mean())
