"""What the influence core, the estimators and the reweighting need from a model.

:class:`DifferentiableModel` is the one model protocol of the library (``typing.Protocol``: any
class with these members works, no inheritance needed). The book's two implementations are
:class:`lib.models.LogisticRegression` (closed forms) and :class:`lib.models.OneHiddenLayerMLP`
(``torch.func``). Conventions (the book's, see the conventions page):

* the model is trained to a stationary point of the *sum-form* objective
  ``J(theta) = sum_i w_i loss_i(theta) + (l2_/2) ||penalty_mask * theta||^2``;
* ``theta_`` holds the fitted parameters (any shape; flattened row-major where a vector is meant);
* every method with a ``theta`` argument evaluates at that parameter value instead of ``theta_``
  (and stays differentiable in it), so that quantities ``f(model, theta)`` can be differentiated;
* :meth:`hessian` is the Hessian of exactly ``J`` (regulariser included); along a flat direction
  of the loss that no gradient reaches (a softmax's shared intercept) a positive multiple of
  ``u u^T`` is added (:meth:`null_direction`), which changes no influence score.

:class:`LinearModel` adds what the methods that are defined only for a linear last layer need
(FI's perturbation manifold, the linear evasion attack): logits ``design(X) @ theta``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, runtime_checkable

import numpy as np
import torch

from .base import ArrayLike


@runtime_checkable
class DifferentiableModel(Protocol):
    """A classifier trained with per-sample loss weights whose objective can be differentiated."""

    theta_: torch.Tensor | None
    n_classes_: int | None
    l2_: float | None

    @property
    def n_params(self) -> int: ...

    @property
    def n_logits(self) -> int: ...

    def clone(self) -> DifferentiableModel:
        """An unfitted copy with the same hyper-parameters."""

    def fit(self, X: ArrayLike, y: ArrayLike, sample_weight: ArrayLike | None = None,
            n_classes: int | None = None, warm_start: torch.Tensor | None = None) -> DifferentiableModel:
        """Train to a stationary point of the weighted objective (``warm_start``: initial ``theta``)."""

    def logits(self, X: ArrayLike, theta: torch.Tensor | None = None) -> torch.Tensor:
        """``(n, 1)`` binary or ``(n, K)`` softmax logits."""

    def loss(self, X: ArrayLike, y: ArrayLike, theta: torch.Tensor | None = None) -> torch.Tensor:
        """Per-sample cross-entropy, shape ``(n,)``."""

    def residuals(self, X: ArrayLike, y: ArrayLike, theta: torch.Tensor | None = None) -> torch.Tensor:
        """``dloss_i / dlogits_i``, shape ``(n, n_logits)``."""

    def predict_proba(self, X: ArrayLike) -> np.ndarray: ...

    def predict(self, X: ArrayLike) -> np.ndarray: ...

    def score(self, X: ArrayLike, y: ArrayLike) -> float: ...

    def per_sample_grads(self, X: ArrayLike, y: ArrayLike, theta: torch.Tensor | None = None) -> torch.Tensor:
        """Flattened per-sample loss gradients, shape ``(n, n_params)``."""

    def grad_dot(self, X: ArrayLike, y: ArrayLike, V: torch.Tensor, theta: torch.Tensor | None = None
                 ) -> torch.Tensor:
        """``grad loss_i^T V`` for ``V`` of shape ``(n_params, F)``: shape ``(n, F)``."""

    def loss_gradients(self, X: ArrayLike, y: ArrayLike, W: ArrayLike, theta: torch.Tensor | None = None
                       ) -> torch.Tensor:
        """``sum_i W[i, f] grad loss_i`` for ``W`` of shape ``(n, F)``: shape ``(F, n_params)``."""

    def loss_gradient(self, X: ArrayLike, y: ArrayLike, theta: torch.Tensor | None = None) -> torch.Tensor:
        """Gradient of the summed loss over ``(X, y)`` (no penalty), shape ``(n_params,)``."""

    def hessian(self, X: ArrayLike, y: ArrayLike | None = None, sample_weight: ArrayLike | None = None,
                theta: torch.Tensor | None = None) -> torch.Tensor:
        """Hessian of the objective, shape ``(n_params, n_params)``."""

    def hvp(self, X: ArrayLike, y: ArrayLike | None = None, sample_weight: ArrayLike | None = None,
            theta: torch.Tensor | None = None) -> Callable[[torch.Tensor], torch.Tensor]:
        """``v -> H v`` for ``(n_params,)`` or ``(n_params, k)`` blocks, without forming ``H``."""

    def penalty_mask(self) -> torch.Tensor:
        """1 for penalised parameters, 0 for unpenalised ones (biases), in the shape of ``theta_``."""

    def null_direction(self) -> torch.Tensor | None:
        """Unit vector of the loss's flat direction that ``hessian`` fills in, or ``None``."""

    def last_layer_inputs(self, X: ArrayLike) -> torch.Tensor:
        """Inputs of the last linear layer without the constant (representer points)."""

    def initial_params(self, rng: np.random.Generator, scale: float = 0.0) -> torch.Tensor:
        """Where a run of stochastic gradient descent on the objective starts (shape of ``theta_``)."""


@runtime_checkable
class LinearModel(DifferentiableModel, Protocol):
    """A :class:`DifferentiableModel` whose logits are ``design(X) @ theta`` (features plus an
    optional column of ones): what FI ([FI] Eq. 2.1-3.1) and the linear evasion attack ([CH] §4) need."""

    fit_intercept: bool

    def design(self, X: ArrayLike) -> torch.Tensor:
        """Features with a trailing column of ones when the model has an intercept."""

    @property
    def coef_(self) -> np.ndarray: ...

    @property
    def intercept_(self) -> np.ndarray: ...


def check_model(model: object, protocol: type = DifferentiableModel, fitted: bool = True) -> None:
    """Raise a clear :class:`TypeError` unless ``model`` implements ``protocol`` (and is fitted)."""
    if not isinstance(model, protocol):
        missing = [name for name in dir(protocol) if not name.startswith("_") and not hasattr(model, name)]
        raise TypeError(f"{type(model).__name__} does not implement {protocol.__name__} "
                        f"(missing: {', '.join(missing) or 'attributes'}); see lib.models.protocol")
    if fitted and getattr(model, "theta_", None) is None:
        raise RuntimeError(f"this {type(model).__name__} is not fitted yet; call .fit(X, y) first")
