"""Influence functions with the book's one sign convention (see the conventions page).

For a differentiable quantity ``f(theta)`` (a validation loss, a fairness gap, ...) the
influence of removing training sample ``i`` is

    I_f(i) = w_i * grad f(theta)^T H^{-1} grad loss_i(theta)            ([CH] Eq. 1-4)

with ``H`` the Hessian of the *training objective* (regulariser included, ``lib.models``).
It predicts ``f(theta_without_i) - f(theta)``; for losses, positive means the sample helps.

The category-wise influence vector of [PC] (§3, Eq. 1) is ``P[i, k] = I_{L_{V_k}}(i)`` with
``L_{V_k}`` the summed loss of the validation samples of class ``k``; its rows add up to the
utility influence ``I_util`` of [CH] Eq. (1).

Every function takes any :class:`lib.models.DifferentiableModel`. Everything is batched through the
model's ``grad_dot`` and ``loss_gradients``: for logistic regression the per-sample gradients are
``x_i ⊗ r_i``, so ``v^T g_i = x_i^T V r_i`` and an ``(n, F)`` influence matrix costs two matrix
products; no ``(n, #params)`` gradient matrix is ever built.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch

from .models import ArrayLike, DifferentiableModel, SingularHessianError, as_labels, as_tensor, check_sample_weight

#: ``f(model, theta) -> scalar tensor`` differentiable in ``theta``.
Quantity = Callable[[DifferentiableModel, torch.Tensor], torch.Tensor]


def solve_hessian(H: torch.Tensor, B: torch.Tensor) -> torch.Tensor:
    """``H^{-1} B`` by Cholesky; a clear :class:`SingularHessianError` when ``H`` is not PD."""
    L, info = torch.linalg.cholesky_ex(H)
    if int(info) != 0:
        eig = torch.linalg.eigvalsh(H)
        raise SingularHessianError(
            f"the Hessian ({H.shape[0]} x {H.shape[0]}) is not positive definite "
            f"(smallest eigenvalue {float(eig[0]):.3g}, largest {float(eig[-1]):.3g}). "
            "Influence functions need a strictly convex objective: train with an L2 penalty "
            "(LogisticRegression(l2=10.0)), remove duplicated/constant features, or use a "
            "damped estimator (lib.estimators) for non-convex models."
        )
    return torch.cholesky_solve(B, L)


def quantity_gradient(model: DifferentiableModel, f: Quantity) -> torch.Tensor:
    """``grad_theta f(model, theta)`` at the fitted parameters, flattened to ``(n_params,)``."""
    theta = model.theta_.detach().clone().requires_grad_(True)
    value = f(model, theta)
    if value.ndim != 0:
        raise ValueError(f"the quantity must be a scalar, got shape {tuple(value.shape)}")
    (grad,) = torch.autograd.grad(value, theta, allow_unused=True)
    if grad is None:
        grad = torch.zeros_like(theta)
    return grad.reshape(-1)


def influence(model: DifferentiableModel, X_train: ArrayLike, y_train: ArrayLike,
              grad_f: torch.Tensor, sample_weight: ArrayLike | None = None,
              hessian: torch.Tensor | None = None) -> np.ndarray:
    """Influence of removing each training sample on ``F`` quantities.

    Parameters
    ----------
    grad_f:
        Gradients of the quantities, shape ``(F, n_params)`` or ``(n_params,)``.
    hessian:
        The objective's Hessian if already computed (else it is built from the training set).

    Returns
    -------
    ``(n_train, F)`` array (``(n_train,)`` for a single quantity): ``w_i grad_f^T H^{-1} g_i``.
    """
    single = grad_f.ndim == 1
    G = grad_f.reshape(1, -1) if single else grad_f
    H = model.hessian(X_train, y_train, sample_weight) if hessian is None else hessian
    V = solve_hessian(H, G.T.to(H.dtype))  # (n_params, F)
    w = check_sample_weight(sample_weight, len(as_labels(y_train)))
    # I[i, f] = w_i * grad loss_i^T V_f
    out = (model.grad_dot(X_train, y_train, V) * w[:, None]).numpy()
    return out[:, 0] if single else out


def class_loss_gradients(model: DifferentiableModel, X: ArrayLike, y: ArrayLike) -> torch.Tensor:
    """Gradients of the summed loss of each class's samples, shape ``(K, n_params)``."""
    y_t = as_labels(y)
    onehot = torch.nn.functional.one_hot(y_t, model.n_classes_).to(torch.float64)  # (n, K)
    return model.loss_gradients(X, y_t, onehot)


def influence_vectors(model: DifferentiableModel, X_train: ArrayLike, y_train: ArrayLike,
                      X_val: ArrayLike, y_val: ArrayLike, sample_weight: ArrayLike | None = None,
                      hessian: torch.Tensor | None = None) -> np.ndarray:
    """Category-wise influence vectors ([PC] §3, Eq. 1), shape ``(n_train, K)``.

    ``P[i, k]`` predicts the change of the *summed* validation loss of class ``k`` when
    training sample ``i`` is removed and the model retrained: positive = sample ``i`` helps
    class ``k``. ``sample_weight`` are the training weights the model was fitted with.
    """
    return influence(model, X_train, y_train, class_loss_gradients(model, X_val, y_val),
                     sample_weight, hessian)


def utility_influence(model: DifferentiableModel, X_train: ArrayLike, y_train: ArrayLike,
                      X_val: ArrayLike, y_val: ArrayLike, sample_weight: ArrayLike | None = None,
                      hessian: torch.Tensor | None = None) -> np.ndarray:
    """Utility influence ([CH] Eq. 1): effect of removing each sample on the summed
    validation loss, shape ``(n_train,)``; equals ``influence_vectors(...).sum(1)``."""
    g = class_loss_gradients(model, X_val, y_val).sum(0)
    return influence(model, X_train, y_train, g, sample_weight, hessian)


def influence_on(model: DifferentiableModel, X_train: ArrayLike, y_train: ArrayLike, f: Quantity,
                 sample_weight: ArrayLike | None = None, hessian: torch.Tensor | None = None) -> np.ndarray:
    """Influence of removing each training sample on an arbitrary differentiable quantity
    ``f(model, theta)`` (fairness gaps, adversarial losses, ...), shape ``(n_train,)``."""
    return influence(model, X_train, y_train, quantity_gradient(model, f), sample_weight, hessian)


def reweighting_prediction(P: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """First-order change of each class's summed validation loss when training weights go
    from 1 to ``weights``: ``Delta L_{V_k} ~ -sum_i (w_i - 1) P[i, k]`` (the book's convention).

    Removing sample ``i`` is ``w_i = 0`` and recovers ``P[i, k]`` as the change.
    """
    return -(np.asarray(weights, dtype=float) - 1.0) @ P


# ---------------------------------------------------------------------- ground truth
def retrain(model: DifferentiableModel, X: ArrayLike, y: ArrayLike,
            sample_weight: ArrayLike | None = None) -> DifferentiableModel:
    """Refit a copy of ``model`` with new weights, warm-started at its parameters."""
    new = model.clone()
    return new.fit(X, y, sample_weight=sample_weight, n_classes=model.n_classes_, warm_start=model.theta_)


def evaluate(model: DifferentiableModel, fs: Sequence[Quantity]) -> np.ndarray:
    with torch.no_grad():
        return np.array([float(f(model, model.theta_)) for f in fs])


def group_removal_effect(model: DifferentiableModel, X_train: ArrayLike, y_train: ArrayLike,
                         groups: Sequence[Sequence[int]], fs: Sequence[Quantity],
                         sample_weight: ArrayLike | None = None) -> np.ndarray:
    """Actual change of each quantity when each group of training samples is removed and the
    model retrained to convergence: ``f(theta_without_group) - f(theta)``, shape ``(G, F)``."""
    n = len(as_labels(y_train))
    base_w = np.ones(n) if sample_weight is None else np.asarray(sample_weight, dtype=float)
    base = evaluate(model, fs)
    out = np.empty((len(groups), len(fs)))
    for g, idx in enumerate(groups):
        w = base_w.copy()
        w[np.asarray(idx, dtype=int)] = 0.0
        out[g] = evaluate(retrain(model, X_train, y_train, w), fs) - base
    return out


def loo_effect(model: DifferentiableModel, X_train: ArrayLike, y_train: ArrayLike,
               indices: Sequence[int], fs: Sequence[Quantity],
               sample_weight: ArrayLike | None = None) -> np.ndarray:
    """Actual leave-one-out change of each quantity, shape ``(len(indices), F)``."""
    return group_removal_effect(model, X_train, y_train, [[int(i)] for i in indices], fs, sample_weight)


def class_loss_quantities(X_val: ArrayLike, y_val: ArrayLike, n_classes: int) -> list[Quantity]:
    """``[L_{V_0}, ..., L_{V_{K-1}}]``: the summed validation loss of each class, as quantities."""
    y_np = as_labels(y_val).numpy()
    X_t = as_tensor(X_val)
    fs: list[Quantity] = []
    for k in range(n_classes):
        mask = y_np == k
        Xk, yk = X_t[mask], y_np[mask]
        fs.append(lambda m, th, Xk=Xk, yk=yk: m.loss(Xk, yk, th).sum())
    return fs
