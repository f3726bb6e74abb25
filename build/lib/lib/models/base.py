"""Shared pieces of the book's models: array conversion, sample-weight checks, the singular-Hessian
error, and prediction from logits."""

from __future__ import annotations

import numpy as np
import torch

ArrayLike = np.ndarray | torch.Tensor

DTYPE = torch.float64


class SingularHessianError(np.linalg.LinAlgError):
    """The Hessian is not positive definite, so ``H^{-1}`` does not exist."""


def as_tensor(x: ArrayLike, dtype: torch.dtype = DTYPE) -> torch.Tensor:
    """Convert an array to a float64 (by default) torch tensor without copying when possible."""
    if isinstance(x, torch.Tensor):
        return x.to(dtype)
    return torch.as_tensor(np.asarray(x), dtype=dtype)


def as_labels(y: ArrayLike) -> torch.Tensor:
    """Integer class labels ``0..K-1`` as a long tensor; clear error otherwise."""
    y_np = y.detach().cpu().numpy() if isinstance(y, torch.Tensor) else np.asarray(y)
    if y_np.ndim != 1:
        raise ValueError(f"labels must be a 1-D array, got shape {y_np.shape}")
    if y_np.size and (not np.all(np.equal(np.mod(y_np, 1), 0)) or y_np.min() < 0):
        raise ValueError(
            "labels must be integers 0..K-1; map them first, e.g. with "
            "np.unique(y, return_inverse=True)[1]"
        )
    return torch.as_tensor(y_np.astype(np.int64))


def check_sample_weight(sample_weight: ArrayLike | None, n: int) -> torch.Tensor:
    """Per-sample loss weights as a float64 tensor of length ``n`` (all ones for ``None``); a clear
    error for a wrong length or a negative / non-finite weight."""
    if sample_weight is None:
        return torch.ones(n, dtype=DTYPE)
    w = as_tensor(sample_weight).reshape(-1)
    if w.shape[0] != n:
        raise ValueError(f"sample_weight has {w.shape[0]} entries for {n} samples")
    if (w < 0).any() or not torch.isfinite(w).all():
        raise ValueError("sample_weight must be finite and non-negative")
    return w


class LogitClassifier:
    """Prediction from ``self.logits(X)`` — ``(n, 1)`` binary or ``(n, K)`` softmax logits — shared
    by the book's models (each supplies ``logits`` and ``_check_fitted``)."""

    def predict_proba(self, X: ArrayLike) -> np.ndarray:
        self._check_fitted()
        with torch.no_grad():
            z = self.logits(X)
            if z.shape[1] == 1:
                p1 = torch.sigmoid(z[:, 0])
                return torch.stack([1 - p1, p1], dim=1).numpy()
            return torch.softmax(z, dim=1).numpy()

    def predict(self, X: ArrayLike) -> np.ndarray:
        return self.predict_proba(X).argmax(axis=1)

    def score(self, X: ArrayLike, y: ArrayLike) -> float:
        """Accuracy."""
        return float((self.predict(X) == as_labels(y).numpy()).mean())

    def loss_gradients(self, X: ArrayLike, y: ArrayLike, W: ArrayLike, theta: torch.Tensor | None = None
                       ) -> torch.Tensor:
        """Gradients of ``F`` weighted sums of per-sample losses, ``sum_i W[i, f] grad loss_i``:
        shape ``(F, n_params)`` for ``W`` of shape ``(n, F)``. Generic form from
        :meth:`per_sample_grads`; models with a closed form override it."""
        return as_tensor(W).T @ self.per_sample_grads(X, y, theta)

    def grad_dot(self, X: ArrayLike, y: ArrayLike, V: torch.Tensor, theta: torch.Tensor | None = None
                 ) -> torch.Tensor:
        """``grad loss_i^T V``: every per-sample loss gradient against ``F`` parameter-space
        vectors, shape ``(n, F)`` for ``V`` of shape ``(n_params, F)``. Generic form from
        :meth:`per_sample_grads`; models with a closed form override it."""
        return self.per_sample_grads(X, y, theta) @ V
