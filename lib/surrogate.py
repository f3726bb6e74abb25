"""A convex surrogate for the influence of a non-convex classifier ([CH] §2, App. D.1).

[CH] §2 ("Extension to non-convex models") lists three ways to use influence functions on a network
and adopts the first: *a linear model as a surrogate on the embeddings obtained via the non-convex
model* (Li & Liu 2022). Its App. D.1 trains a multilayer perceptron with two ReLU hidden layers; the
authors' public code (``NNLastLayerIF``) then refits the last layer as an L2 logistic regression on
the network's last hidden layer, predicts with that logistic head, and computes every influence for
the head's parameters only (body frozen). After trimming, the *whole* network is retrained and its
head refitted. This module is that model:

* :class:`ReLUMLP` -- input -> ``depth`` x (Linear, ReLU) -> one logit.
* :func:`train_mlp` -- deterministic full-batch Adam in float64 on the weighted mean log-loss (the
  initial weights are drawn by NumPy from ``seed``, :func:`init_mlp`; a sample of weight 0 is removed
  exactly).
* :class:`SurrogateMLP` / :func:`fit_surrogate_mlp` -- the trained body plus a
  :class:`lib.models.LogisticRegression` head fitted to convergence on its embeddings. Its influence
  on any [CH] quantity is ``lib.influence.influence_on(model.head, model.embed(X_train), y_train, f)``
  with ``f`` built on embeddings (``lib.fairness.*_quantity(model.embed(X_val), ...)``): exact for the
  head with the body held fixed, a first-order *surrogate* for retraining the whole network.
* :func:`linearised_attack` -- [CH] §2's minimal-perturbation attack for any differentiable logit:
  one step ``x' = x - gamma z(x) grad z(x) / ||grad z(x)||^2`` (the first DeepFool step with
  overshoot ``gamma``). For a linear model it *is* ``lib.fairness.linear_attack``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from .models import ArrayLike, LogisticRegression, LogitClassifier, as_labels, as_tensor

_DTYPE = torch.float64


class ReLUMLP(nn.Module):
    """``d_in -> depth x (Linear(hidden), ReLU) -> Linear(1)``: [CH] App. D.1's "MLP (2 hidden layers with
    ReLU activations in between layers)" for ``depth = 2``. ``body`` is the embedding (last hidden layer)."""

    def __init__(self, d_in: int, hidden: int, depth: int = 2) -> None:
        super().__init__()
        if not (int(d_in) >= 1 and int(hidden) >= 1 and int(depth) >= 1):
            raise ValueError(f"need d_in, hidden and depth >= 1, got {d_in}, {hidden}, {depth}")
        layers: list[nn.Module] = []
        width = int(d_in)
        for _ in range(int(depth)):
            layers += [nn.Linear(width, int(hidden)), nn.ReLU()]
            width = int(hidden)
        self.body = nn.Sequential(*layers)
        self.out = nn.Linear(width, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.body(x))[:, 0]


def init_mlp(d_in: int, hidden: int, depth: int, rng: np.random.Generator) -> ReLUMLP:
    """A float64 :class:`ReLUMLP` whose weights and biases are ``U(-1/sqrt(fan_in), 1/sqrt(fan_in))`` (torch's
    default ``nn.Linear`` distribution) drawn by NumPy: the same on every processor."""
    net = ReLUMLP(d_in, hidden, depth).to(_DTYPE)
    with torch.no_grad():
        for layer in [m for m in net.body if isinstance(m, nn.Linear)] + [net.out]:
            bound = 1.0 / np.sqrt(layer.in_features)
            layer.weight.copy_(torch.as_tensor(rng.uniform(-bound, bound, tuple(layer.weight.shape))))
            layer.bias.copy_(torch.as_tensor(rng.uniform(-bound, bound, tuple(layer.bias.shape))))
    return net


def _weights(sample_weight: ArrayLike | None, n: int) -> torch.Tensor:
    if sample_weight is None:
        return torch.ones(n, dtype=_DTYPE)
    w = as_tensor(sample_weight).reshape(-1)
    if w.shape[0] != n or (w < 0).any() or not torch.isfinite(w).all() or float(w.sum()) <= 0:
        raise ValueError(f"sample_weight must be {n} finite non-negative numbers with a positive sum")
    return w


def train_mlp(
    X: ArrayLike,
    y: ArrayLike,
    *,
    seed: int,
    hidden: int = 32,
    depth: int = 2,
    epochs: int = 100,
    lr: float = 3e-3,
    weight_decay: float = 0.0,
    sample_weight: ArrayLike | None = None,
) -> ReLUMLP:
    """Full-batch Adam on ``sum_i w_i loss_i / sum_i w_i`` (binary log-loss) for ``epochs`` steps, float64.

    The initial weights and biases follow torch's default ``nn.Linear`` distribution,
    ``U(-1/sqrt(fan_in), 1/sqrt(fan_in))``, drawn in float64 by ``np.random.default_rng(seed)``: torch's own
    CPU initialisation draws in float32 with kernels compiled per instruction set, so the same seed would
    give weights an ulp apart on different processors, which the Adam steps amplify. So the same data,
    weights and seed give the same network on every machine (up to round-off); a weight of 0 removes a
    sample exactly (the same gradients as training without it). ``weight_decay``
    is Adam's L2 term. The recipe (width, steps, learning rate) is ours: [CH] gives none, its code runs
    10,000 full-batch SGD steps on a GPU.
    """
    X_t = as_tensor(X)
    y_t = as_labels(y)
    if X_t.ndim != 2 or len(y_t) != X_t.shape[0]:
        raise ValueError(f"need X of shape (n, d) and y of shape (n,), got {tuple(X_t.shape)} and {tuple(y_t.shape)}")
    if int(y_t.max()) > 1:
        raise ValueError("train_mlp fits a binary classifier: labels must be 0/1")
    if int(epochs) < 1 or not lr > 0:
        raise ValueError(f"need epochs >= 1 and lr > 0, got {epochs}, {lr}")
    w = _weights(sample_weight, len(y_t))
    net = init_mlp(X_t.shape[1], hidden, depth, np.random.default_rng(int(seed)))
    opt = torch.optim.Adam(net.parameters(), lr=float(lr), weight_decay=float(weight_decay))
    target = y_t.to(_DTYPE)
    for _ in range(int(epochs)):
        opt.zero_grad()
        loss = nn.functional.binary_cross_entropy_with_logits(net(X_t), target, weight=w, reduction="sum") / w.sum()
        loss.backward()
        opt.step()
    return net.eval().requires_grad_(False)


@dataclass
class SurrogateMLP(LogitClassifier):
    """A trained :class:`ReLUMLP` body and a logistic-regression head on its embeddings: predictions
    are ``head(body(x))``; influence is computed for the head (the convex surrogate)."""

    net: ReLUMLP
    head: LogisticRegression

    def _check_fitted(self) -> None:
        self.head._check_fitted()

    def embed(self, X: ArrayLike) -> np.ndarray:
        """The last hidden layer ``body(x)``, shape ``(n, hidden)``: the head's inputs."""
        with torch.no_grad():
            return self.net.body(as_tensor(X)).numpy()

    def logits(self, X: ArrayLike, theta: torch.Tensor | None = None) -> torch.Tensor:
        """``(n, 1)`` logits of the head on the embeddings (``theta``: head parameters)."""
        return self.head.logits(self.embed(X), theta)

    def input_logit(self, X: torch.Tensor) -> torch.Tensor:
        """The logit ``z(x)`` ``(n,)`` as a differentiable function of the inputs (for attacks)."""
        return self.head.logits(self.net.body(X.to(_DTYPE)))[:, 0]

    def loss(self, X: ArrayLike, y: ArrayLike) -> torch.Tensor:
        """Per-sample log-loss of the whole model."""
        return self.head.loss(self.embed(X), y)


def fit_surrogate_mlp(
    X: ArrayLike,
    y: ArrayLike,
    *,
    seed: int,
    sample_weight: ArrayLike | None = None,
    hidden: int = 32,
    depth: int = 2,
    epochs: int = 100,
    lr: float = 3e-3,
    weight_decay: float = 0.0,
    l2: float | str = "auto",
) -> SurrogateMLP:
    """Train the network (:func:`train_mlp`), then refit its last layer as ``LogisticRegression(l2)`` on
    the embeddings of the same (weighted) samples -- the authors' ``NNLastLayerIF`` (with an intercept
    and the book's Newton solver instead of scikit-learn's intercept-free ``newton-cg``)."""
    net = train_mlp(
        X,
        y,
        seed=seed,
        hidden=hidden,
        depth=depth,
        epochs=epochs,
        lr=lr,
        weight_decay=weight_decay,
        sample_weight=sample_weight,
    )
    with torch.no_grad():
        E = net.body(as_tensor(X)).numpy()
    head = LogisticRegression(l2=l2).fit(E, y, sample_weight=sample_weight, n_classes=2)
    return SurrogateMLP(net, head)


def linearised_attack(logit_fn: Callable[[torch.Tensor], torch.Tensor], X: ArrayLike, gamma: float = 1.3) -> np.ndarray:
    """[CH] §2's attack for a differentiable binary classifier with logit ``z = logit_fn(X)`` ``(n,)``:

        x' = x - gamma * z(x) / ||grad_x z(x)||^2 * grad_x z(x)     (one step per sample).

    It moves each point along the logit's gradient to where the *linearised* logit is ``(1 - gamma) z``:
    across the boundary for ``gamma > 1``. For a linear model (``z = theta^T x + b``) it equals
    :func:`lib.fairness.linear_attack`; for a network one step need not flip the prediction (the caller
    measures how many it does). A sample whose logit gradient is zero (locally constant logit) is left
    unchanged. Craft the set once against the original model and keep it fixed.
    """
    if not gamma > 0:
        raise ValueError(f"gamma must be > 0 (> 1 to cross the boundary), got {gamma}")
    X_t = as_tensor(X).clone().requires_grad_(True)
    z = logit_fn(X_t)
    if z.shape != (X_t.shape[0],):
        raise ValueError(f"logit_fn must return one logit per row, shape ({X_t.shape[0]},), got {tuple(z.shape)}")
    (g,) = torch.autograd.grad(z.sum(), X_t)
    norm2 = (g * g).sum(1)
    flat = norm2 == 0  # a locally constant logit (every ReLU on the path dead): no direction to move in
    with torch.no_grad():
        step = torch.where(flat, torch.zeros_like(z), z / torch.where(flat, torch.ones_like(norm2), norm2))
        X_adv = X_t - gamma * step[:, None] * g
    return X_adv.detach().numpy()
