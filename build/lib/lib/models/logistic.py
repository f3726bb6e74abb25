"""L2-regularised logistic regression whose objective, gradients and Hessian are exposed.

The influence code (``lib.influence``) needs the *exact* Hessian of the objective the model
was trained on (the book's convention; see the conventions page). It implements the
:class:`lib.models.DifferentiableModel` protocol in closed form. The objective is the sum form

    J(theta) = sum_i w_i * loss_i(theta) + (l2 / 2) * ||W||^2 ,

with the intercept unpenalised. Binary problems use one logit (sigmoid, ``m = 1``),
multiclass problems one logit per class (softmax, ``m = K``). Parameters are stored as a
``(p, m)`` matrix ``theta = [W; b]`` with ``p = d + fit_intercept``; flattened row-major, the
per-sample gradient is ``x_aug ⊗ r`` with ``r = dloss/dlogits`` (``p - y`` or ``p - onehot(y)``).

With a softmax and an unpenalised intercept, adding the same constant to every class
intercept leaves every prediction unchanged: ``H`` is singular along that one direction
``u``. Every loss gradient is orthogonal to ``u`` (``sum_k r_k = 0``), so Newton steps and
influence scores are computed with ``H + c * u u^T``, which is invertible and gives exactly
the same answers on the subspace where gradients live.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable

import numpy as np
import torch

from .base import DTYPE as _DTYPE
from .base import ArrayLike, LogitClassifier, SingularHessianError, as_labels, as_tensor, check_sample_weight


class LogisticRegression(LogitClassifier):
    """Binary or multinomial logistic regression, trained to convergence by Newton's method.

    Parameters
    ----------
    l2:
        Strength of the L2 penalty ``(l2/2) ||W||^2`` on the weights (not the intercept) in the
        *sum-form* objective, or ``"auto"`` (the default): ``max(10, n_params / 2)``. The
        first-order influence estimate tracks actual leave-one-out retraining only when every
        sample's leverage is small, which needs a penalty that grows with the number of
        parameters; chapter 1 shows the trade-off. The resolved value is ``l2_`` after fitting.
    fit_intercept:
        Whether to learn an (unpenalised) intercept.
    tol:
        Convergence tolerance on the Euclidean norm of the objective's gradient.
    max_iter:
        Maximum number of Newton (or L-BFGS) iterations.
    solver:
        ``"newton"`` (exact Hessian; the default when the number of parameters is at most
        ``newton_max_params``), ``"lbfgs"`` or ``"auto"``.
    """

    newton_max_params = 6000

    def __init__(
        self,
        l2: float | str = "auto",
        fit_intercept: bool = True,
        tol: float = 1e-8,
        max_iter: int = 100,
        solver: str = "auto",
    ) -> None:
        if not (l2 == "auto" or (isinstance(l2, numbers.Real) and l2 >= 0)):
            raise ValueError(f"l2 must be 'auto' or a number >= 0, got {l2!r}")
        if solver not in {"auto", "newton", "lbfgs"}:
            raise ValueError(f"solver must be 'auto', 'newton' or 'lbfgs', got {solver!r}")
        self.l2 = l2 if l2 == "auto" else float(l2)
        self.l2_: float | None = None
        self.fit_intercept = bool(fit_intercept)
        self.tol = float(tol)
        self.max_iter = int(max_iter)
        self.solver = solver
        self.theta_: torch.Tensor | None = None
        self.n_classes_: int | None = None

    # ------------------------------------------------------------------ shapes
    @property
    def n_logits(self) -> int:
        self._check_fitted()
        return 1 if self.n_classes_ == 2 else int(self.n_classes_)

    @property
    def n_params(self) -> int:
        self._check_fitted()
        return int(self.theta_.numel())

    def clone(self) -> "LogisticRegression":
        """An unfitted copy with the same hyper-parameters."""
        return LogisticRegression(self.l2, self.fit_intercept, self.tol, self.max_iter, self.solver)

    def design(self, X: ArrayLike) -> torch.Tensor:
        """Features with a trailing column of ones when the model has an intercept."""
        X = as_tensor(X)
        if X.ndim != 2:
            raise ValueError(f"X must be a 2-D array (n_samples, n_features), got shape {tuple(X.shape)}")
        if not torch.isfinite(X).all():
            raise ValueError("X contains NaN or infinite values; impute or drop them first")
        if self.fit_intercept:
            X = torch.cat([X, torch.ones(X.shape[0], 1, dtype=X.dtype)], dim=1)
        return X

    # ------------------------------------------------------------------ objective pieces
    def logits(self, X: ArrayLike, theta: torch.Tensor | None = None) -> torch.Tensor:
        theta = self.theta_ if theta is None else theta
        return self.design(X) @ theta

    def loss(self, X: ArrayLike, y: ArrayLike, theta: torch.Tensor | None = None) -> torch.Tensor:
        """Per-sample cross-entropy loss, differentiable with respect to ``theta``."""
        self._check_fitted(theta)
        y = as_labels(y)
        z = self.logits(X, theta)
        if z.shape[1] == 1:
            z = z[:, 0]
            return torch.nn.functional.softplus(z) - y.to(z.dtype) * z
        return torch.logsumexp(z, dim=1) - z.gather(1, y[:, None])[:, 0]

    def residuals(self, X: ArrayLike, y: ArrayLike, theta: torch.Tensor | None = None) -> torch.Tensor:
        """``dloss_i / dlogits_i`` of shape ``(n, m)``: ``p - y`` (binary) or ``p - onehot(y)``."""
        y = as_labels(y)
        z = self.logits(X, theta)
        if z.shape[1] == 1:
            return torch.sigmoid(z) - y.to(z.dtype)[:, None]
        return torch.softmax(z, dim=1) - torch.nn.functional.one_hot(y, z.shape[1]).to(z.dtype)

    def per_sample_grads(self, X: ArrayLike, y: ArrayLike, theta: torch.Tensor | None = None) -> torch.Tensor:
        """Flattened per-sample loss gradients ``x_aug ⊗ r``, shape ``(n, p*m)``.

        Materialises ``n * p * m`` numbers: prefer :func:`lib.influence.influence` which never does.
        """
        Xa, R = self.design(X), self.residuals(X, y, theta)
        return (Xa[:, :, None] * R[:, None, :]).reshape(Xa.shape[0], -1)

    def grad_dot(self, X: ArrayLike, y: ArrayLike, V: torch.Tensor, theta: torch.Tensor | None = None
                 ) -> torch.Tensor:
        """``grad loss_i^T V`` for ``V`` ``(n_params, F)``, shape ``(n, F)``, without forming the
        per-sample gradients: ``x_i^T V_f r_i`` with ``V_f`` the ``(p, m)`` matrix of column ``f``."""
        theta = self.theta_ if theta is None else theta
        p, m = theta.shape
        Vf = V.T.reshape(-1, p, m)  # (F, p, m)
        return torch.einsum("np,fpm,nm->nf", self.design(X), Vf, self.residuals(X, y, theta))

    def loss_gradients(self, X: ArrayLike, y: ArrayLike, W: ArrayLike, theta: torch.Tensor | None = None
                       ) -> torch.Tensor:
        """``sum_i W[i, f] grad loss_i``, shape ``(F, n_params)``: ``sum_i W_if x_i ⊗ r_i``."""
        W = as_tensor(W)
        Xa, R = self.design(X), self.residuals(X, y, theta)
        return torch.einsum("nk,np,nm->kpm", W, Xa, R).reshape(W.shape[1], -1)

    def loss_gradient(self, X: ArrayLike, y: ArrayLike, theta: torch.Tensor | None = None) -> torch.Tensor:
        """Gradient of the summed loss over ``(X, y)`` (no penalty), flattened: ``X_aug^T R``."""
        Xa, R = self.design(X), self.residuals(X, y, theta)
        return (Xa.T @ R).reshape(-1)

    def last_layer_inputs(self, X: ArrayLike) -> torch.Tensor:
        """The features themselves (the model is one linear layer)."""
        return as_tensor(X)

    def initial_params(self, rng: np.random.Generator, scale: float = 0.0) -> torch.Tensor:
        """``scale * N(0, 1)`` in the shape of ``theta_`` (0 by default: the objective is convex)."""
        self._check_fitted()
        return torch.as_tensor(scale * rng.standard_normal(tuple(self.theta_.shape)), dtype=_DTYPE)

    def hvp(self, X: ArrayLike, y: ArrayLike | None = None, sample_weight: ArrayLike | None = None,
            theta: torch.Tensor | None = None) -> Callable[[torch.Tensor], torch.Tensor]:
        """``v -> H v`` for the objective's exact Hessian without forming ``H``.

        ``H v = X^T (S ⊙ (X V)) + l2 * mask ⊙ V`` (+ the softmax null-direction term of
        :meth:`hessian`), with ``S`` the per-sample logit curvature: ``O(n p)`` per product.
        ``y`` is not needed (the Hessian of cross-entropy does not depend on the labels). Accepts
        ``(n_params,)`` or ``(n_params, k)`` blocks of vectors.
        """
        theta = self.theta_ if theta is None else theta
        Xa = self.design(X)
        w = check_sample_weight(sample_weight, Xa.shape[0])
        p, m = theta.shape
        z = Xa @ theta
        pr = torch.sigmoid(z) if m == 1 else torch.softmax(z, dim=1)
        mask = self.penalty_mask()
        u = self.null_direction()
        c = None
        if u is not None:  # same constant as hessian(): its mean diagonal, >= 1
            diag = (w[:, None] * Xa ** 2).T @ (pr * (1 - pr))  # (p, m): diagonal of the data term
            c = (diag + self.l2_ * mask).mean().clamp_min(1.0)

        def hv(v: torch.Tensor) -> torch.Tensor:
            single = v.ndim == 1
            Vb = v.reshape(p, m, -1) if not single else v.reshape(p, m, 1)
            Zv = torch.einsum("np,pmk->nmk", Xa, Vb)
            if m == 1:
                SZ = (pr * (1 - pr))[:, :, None] * Zv
            else:
                SZ = pr[:, :, None] * Zv - pr[:, :, None] * (pr[:, :, None] * Zv).sum(1, keepdim=True)
            out = torch.einsum("np,nmk->pmk", Xa * w[:, None], SZ) + self.l2_ * mask[:, :, None] * Vb
            out = out.reshape(p * m, -1)
            if u is not None:
                out = out + c * u[:, None] * (u @ Vb.reshape(p * m, -1))[None, :]
            return out[:, 0] if single else out

        return hv

    def penalty_mask(self) -> torch.Tensor:
        """1 for penalised parameters (weights), 0 for the intercept row, shape ``(p, m)``."""
        self._check_fitted()
        mask = torch.ones_like(self.theta_)
        if self.fit_intercept:
            mask[-1] = 0.0
        return mask

    def objective(self, X: ArrayLike, y: ArrayLike, sample_weight: ArrayLike | None = None,
                  theta: torch.Tensor | None = None) -> torch.Tensor:
        theta = self.theta_ if theta is None else theta
        w = check_sample_weight(sample_weight, len(as_labels(y)))
        return (w * self.loss(X, y, theta)).sum() + 0.5 * self.l2_ * ((theta * self.penalty_mask()) ** 2).sum()

    def gradient(self, X: ArrayLike, y: ArrayLike, sample_weight: ArrayLike | None = None,
                 theta: torch.Tensor | None = None) -> torch.Tensor:
        """Gradient of the objective, shape ``(p, m)``."""
        theta = self.theta_ if theta is None else theta
        Xa, R = self.design(X), self.residuals(X, y, theta)
        w = check_sample_weight(sample_weight, Xa.shape[0])
        return Xa.T @ (w[:, None] * R) + self.l2_ * self.penalty_mask() * theta

    def hessian(self, X: ArrayLike, y: ArrayLike | None = None, sample_weight: ArrayLike | None = None,
                theta: torch.Tensor | None = None, chunk: int = 4096) -> torch.Tensor:
        """Exact Hessian of the objective (regulariser included), shape ``(p*m, p*m)``.

        For a softmax with an intercept, ``c * u u^T`` is added along the one flat direction
        (see the module docstring); ``y`` is not needed (the Hessian of cross-entropy does not
        depend on the labels) and is accepted for a uniform call shape.
        """
        theta = self.theta_ if theta is None else theta
        Xa = self.design(X)
        n, p = Xa.shape
        m = theta.shape[1]
        w = check_sample_weight(sample_weight, n)
        z = Xa @ theta
        H = torch.zeros(p, m, p, m, dtype=Xa.dtype)
        for s in range(0, n, chunk):
            xs, zs, ws = Xa[s:s + chunk], z[s:s + chunk], w[s:s + chunk]
            if m == 1:
                pr = torch.sigmoid(zs)
                S = (pr * (1 - pr))[:, :, None]  # (c, 1, 1)
            else:
                pr = torch.softmax(zs, dim=1)
                S = torch.diag_embed(pr) - pr[:, :, None] * pr[:, None, :]
            S = ws[:, None, None] * S
            # sum_n x_ni x_nj S_nkl  ->  (p, m, p, m)
            XS = (xs[:, :, None] * S.reshape(len(xs), 1, m * m)).reshape(len(xs), p * m * m)
            H += (xs.T @ XS).reshape(p, p, m, m).permute(0, 2, 1, 3)
        H = H.reshape(p * m, p * m)
        H += torch.diag(self.l2_ * self.penalty_mask().reshape(-1))
        u = self.null_direction()
        if u is not None:
            H += (H.diagonal().mean().clamp_min(1.0)) * torch.outer(u, u)
        return H

    def null_direction(self) -> torch.Tensor | None:
        """Unit vector of the softmax-intercept flat direction, or ``None`` when there is none."""
        self._check_fitted()
        if not self.fit_intercept or self.n_logits == 1:
            return None
        u = torch.zeros_like(self.theta_)
        u[-1] = 1.0
        return (u / u.norm()).reshape(-1)

    # ------------------------------------------------------------------ fitting
    def fit(self, X: ArrayLike, y: ArrayLike, sample_weight: ArrayLike | None = None,
            n_classes: int | None = None, warm_start: torch.Tensor | None = None) -> "LogisticRegression":
        """Minimise the objective to a gradient norm below ``tol``.

        ``n_classes`` fixes ``K`` when a subset of the data (leave-one-out, trimming) lacks a
        class; ``warm_start`` is an initial ``theta`` (used by retraining loops).
        """
        Xa = self.design(X)
        y_t = as_labels(y)
        if len(y_t) != Xa.shape[0]:
            raise ValueError(f"X has {Xa.shape[0]} rows but y has {len(y_t)} labels")
        K = int(n_classes) if n_classes is not None else int(y_t.max()) + 1
        if K < 2:
            raise ValueError("need at least two classes to fit a classifier")
        if int(y_t.max()) >= K:
            raise ValueError(f"labels reach {int(y_t.max())} but n_classes={K}")
        self.n_classes_ = K
        m = 1 if K == 2 else K
        if warm_start is not None:
            self.theta_ = as_tensor(warm_start).clone().reshape(Xa.shape[1], m)
        else:
            self.theta_ = torch.zeros(Xa.shape[1], m, dtype=_DTYPE)
        d = Xa.shape[1] - int(self.fit_intercept)
        self.l2_ = max(10.0, 0.5 * (d + 1) * m) if self.l2 == "auto" else self.l2
        solver = self.solver
        if solver == "auto":
            solver = "newton" if self.theta_.numel() <= self.newton_max_params else "lbfgs"
        w = check_sample_weight(sample_weight, Xa.shape[0])
        if solver == "newton":
            self._fit_newton(X, y_t, w)
        else:
            self._fit_lbfgs(X, y_t, w)
        return self

    def _fit_newton(self, X, y, w) -> None:
        J = self.objective(X, y, w)
        for it in range(self.max_iter):
            g = self.gradient(X, y, w)
            gnorm = float(g.norm())
            if gnorm < self.tol:
                break
            H = self.hessian(X, y, w)
            L, info = torch.linalg.cholesky_ex(H)
            if int(info) != 0:
                raise SingularHessianError(
                    "the Hessian is singular during training: with l2=0 the features are "
                    "collinear or the classes separable; add an L2 penalty "
                    "(LogisticRegression(l2=10.0) or the default l2='auto')"
                )
            step = torch.cholesky_solve(g.reshape(-1, 1), L).reshape(g.shape)
            decrement = float((g * step).sum())  # squared Newton decrement: 2x the predicted decrease
            if decrement <= 1e-15 * max(1.0, abs(float(J))):
                # the predicted decrease is below the objective's rounding error: the line search
                # cannot certify it, so take the full Newton step and stop (converged to precision)
                self.theta_ = self.theta_ - step
                break
            t = 1.0
            while True:  # backtracking (Armijo) line search
                new = self.theta_ - t * step
                J_new = self.objective(X, y, w, new)
                if J_new <= J - 1e-4 * t * float((g * step).sum()) or t < 1e-10:
                    break
                t *= 0.5
            self.theta_, J = new, J_new
        self.n_iter_ = it
        self.grad_norm_ = float(self.gradient(X, y, w).norm())
        if not np.isfinite(self.grad_norm_):
            raise FloatingPointError("training diverged (non-finite gradient); standardise the features")

    def _fit_lbfgs(self, X, y, w) -> None:
        theta = self.theta_.clone().requires_grad_(True)
        opt = torch.optim.LBFGS([theta], lr=1, max_iter=self.max_iter * 50, tolerance_grad=self.tol,
                                tolerance_change=1e-16, history_size=50, line_search_fn="strong_wolfe")

        def closure():
            opt.zero_grad()
            J = self.objective(X, y, w, theta)
            J.backward()
            return J

        opt.step(closure)
        self.theta_ = theta.detach()
        self.n_iter_ = opt.state[theta].get("n_iter", 0)
        self.grad_norm_ = float(self.gradient(X, y, w).norm())

    @property
    def coef_(self) -> np.ndarray:
        """Weights, shape ``(m, d)`` like scikit-learn."""
        self._check_fitted()
        W = self.theta_[:-1] if self.fit_intercept else self.theta_
        return W.T.numpy()

    @property
    def intercept_(self) -> np.ndarray:
        self._check_fitted()
        return self.theta_[-1].numpy() if self.fit_intercept else np.zeros(self.theta_.shape[1])

    # ------------------------------------------------------------------ helpers
    def _check_fitted(self, theta: torch.Tensor | None = None) -> None:
        if self.theta_ is None and theta is None:
            raise RuntimeError("this LogisticRegression is not fitted yet; call .fit(X, y) first")

