"""The survey's gradient-based influence estimators ([S] Hammoudeh & Lowd, §5) for a :class:`Task`.

Every Task-shaped function has the call shape of :mod:`lib.estimators`:
``estimator(task, rng, **options) -> (n_train,)``, the effect of training sample ``i`` on
``U = -(summed validation loss)``, **positive = the sample helps**.

Static estimators (the model trained to convergence, ``task.model``; sum-form objective
``J = sum_i loss_i + (l2/2)||W||^2`` with exact Hessian ``H``, DESIGN.md §1):

* :func:`influence_exact` -- Koh & Liang influence functions, ``g_val^T H^{-1} g_i`` ([S] Eq. 33),
  computed by :func:`lib.influence.utility_influence` (Cholesky).
* :func:`influence_cg` -- the same with ``s_test = H^{-1} g_val`` by conjugate gradients on
  Hessian-vector products (no explicit inverse) ([S] §5.1.1.1, Koh & Liang's CG option).
* :func:`influence_lissa` -- ``s_test`` by LiSSA, Agarwal et al.'s stochastic Neumann series with
  damping and scale ([S] §5.1.1.1).
* :func:`influence_arnoldi` -- Schioppa et al.: Arnoldi iteration finds the top-``k`` eigenpairs
  of ``H``; influence is computed in that subspace ([S] §5.1.1.3).
* :func:`representer_point` -- Yeh et al.'s representer values ([S] Eq. 43-46).
* :func:`relatif` -- Barshan et al.'s theta-relative influence ([S] Eq. 65).
* :func:`influence_renormalized` -- Hammoudeh & Lowd's renormalised influence ([S] Eq. 68).
* :func:`self_influence` -- ``g_i^T H^{-1} g_i >= 0`` (mislabelled-sample detection).

Dynamic estimators (a trajectory of mini-batch SGD, :func:`train_sgd`):

* :func:`tracin` -- TracIn with every step's actual batch ([S] Eq. 54).
* :func:`tracin_cp` -- TracInCP over checkpoints with all samples ([S] Eq. 55).
* :func:`gas` -- renormalised TracInCP, gradient aggregated similarity ([S] Eq. 67).
* :func:`hydra_fast` -- Chen et al.'s fast HyDRA: hypergradients without Hessian terms ([S] Alg. 4, Eq. 61).

Everything is vectorised over samples: per-sample gradients of a linear model are
``x_i ⊗ r_i`` (``lib.models``), and dot products with them are matrix products.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from ..influence import solve_hessian, utility_influence
from ..models import LogisticRegression, as_labels, as_tensor
from . import Task

__all__ = [
    "GRADIENT_ESTIMATORS", "Trajectory", "arnoldi", "gas", "gas_scores", "hessian_vector_product",
    "hydra_fast", "influence_arnoldi", "influence_cg", "influence_exact", "influence_lissa",
    "influence_renormalized",
    "lissa_solve", "conjugate_gradient", "relatif", "relatif_scores", "representer_point",
    "self_influence", "tracin", "tracin_cp", "tracin_self_influence", "train_sgd",
]


# ---------------------------------------------------------------------- gradients and HVPs
def _val_gradient(model: LogisticRegression, X: np.ndarray, y: np.ndarray,
                  theta: torch.Tensor | None = None) -> torch.Tensor:
    """Gradient of the *summed* validation loss, flattened ``(n_params,)``."""
    Xa, R = model.design(X), model.residuals(X, y, theta)
    return (Xa.T @ R).reshape(-1)


def hessian_vector_product(model: LogisticRegression, X: np.ndarray, y: np.ndarray | None = None,
                           sample_weight: np.ndarray | None = None,
                           theta: torch.Tensor | None = None) -> Callable[[torch.Tensor], torch.Tensor]:
    """``v -> H v`` for the logistic objective's exact Hessian without forming ``H``.

    ``H v = X^T (S ⊙ (X V)) + l2 * mask ⊙ V`` (+ the softmax null-direction term of
    ``LogisticRegression.hessian``), with ``S`` the per-sample logit curvature: ``O(n p)`` per
    product. Accepts ``(n_params,)`` or ``(n_params, k)`` blocks of vectors.
    """
    theta = model.theta_ if theta is None else theta
    Xa = model.design(X)
    w = model._weights(sample_weight, Xa.shape[0])
    p, m = theta.shape
    z = Xa @ theta
    pr = torch.sigmoid(z) if m == 1 else torch.softmax(z, dim=1)
    mask = model.penalty_mask()
    u = model.null_direction()
    c = None
    if u is not None:  # same constant as LogisticRegression.hessian: its mean diagonal, >= 1
        diag = (w[:, None] * Xa ** 2).T @ (pr * (1 - pr))  # (p, m): diagonal of the data term
        c = (diag + model.l2_ * mask).mean().clamp_min(1.0)

    def hvp(v: torch.Tensor) -> torch.Tensor:
        single = v.ndim == 1
        Vb = v.reshape(p, m, -1) if not single else v.reshape(p, m, 1)
        Zv = torch.einsum("np,pmk->nmk", Xa, Vb)
        if m == 1:
            SZ = (pr * (1 - pr))[:, :, None] * Zv
        else:
            SZ = pr[:, :, None] * Zv - pr[:, :, None] * (pr[:, :, None] * Zv).sum(1, keepdim=True)
        out = torch.einsum("np,nmk->pmk", Xa * w[:, None], SZ) + model.l2_ * mask[:, :, None] * Vb
        out = out.reshape(p * m, -1)
        if u is not None:
            out = out + c * u[:, None] * (u @ Vb.reshape(p * m, -1))[None, :]
        return out[:, 0] if single else out

    return hvp


def conjugate_gradient(hvp: Callable[[torch.Tensor], torch.Tensor], b: torch.Tensor,
                       tol: float = 1e-10, max_iter: int | None = None) -> tuple[torch.Tensor, int]:
    """Solve ``H x = b`` for symmetric positive definite ``H`` given only ``v -> H v``.

    Hestenes & Stiefel's conjugate gradients; stops when ``||r|| <= tol * ||b||``. Returns
    ``(x, iterations)``. Exact (up to round-off) after ``len(b)`` iterations.
    """
    max_iter = 2 * b.numel() if max_iter is None else int(max_iter)
    x = torch.zeros_like(b)
    r = b.clone()
    d = r.clone()
    rr = r @ r
    bnorm = float(b.norm())
    it = 0
    for it in range(1, max_iter + 1):
        if float(rr.sqrt()) <= tol * bnorm:
            it -= 1
            break
        Hd = hvp(d)
        dHd = d @ Hd
        if float(dHd) <= 0:
            raise np.linalg.LinAlgError(
                f"conjugate gradients met non-positive curvature d^T H d = {float(dHd):.3g}: H is not "
                "positive definite; add an L2 penalty or use a damped estimator (LiSSA with damping)")
        alpha = rr / dHd
        x = x + alpha * d
        r = r - alpha * Hd
        rr_new = r @ r
        d = r + (rr_new / rr) * d
        rr = rr_new
    return x, it


def lissa_solve(hvp_batch: Callable[[torch.Tensor, np.ndarray], torch.Tensor], b: torch.Tensor, n: int,
                rng: np.random.Generator, depth: int = 1000, repeats: int = 1, batch_size: int | None = None,
                scale: float = 1.0, damping: float = 0.0) -> torch.Tensor:
    """``(H + damping I)^{-1} b`` by LiSSA (Agarwal et al. 2017; [S] §5.1.1.1).

    Recursion ``s_j = b + (1 - damping/scale) s_{j-1} - H_B s_{j-1} / scale`` with a fresh
    mini-batch Hessian ``H_B`` (unbiased for ``H``) at each step; the estimate is ``s_depth / scale``,
    averaged over ``repeats``. Converges when ``scale`` exceeds the largest eigenvalue of ``H``;
    the error decays like ``(1 - lambda_min/scale)^depth``.

    ``hvp_batch(v, idx)`` must return an unbiased estimate of ``H v`` from the samples ``idx``.
    """
    if scale <= 0 or depth < 1 or repeats < 1:
        raise ValueError(f"need scale > 0, depth >= 1, repeats >= 1; got {scale}, {depth}, {repeats}")
    batch_size = n if batch_size is None else int(batch_size)
    total = torch.zeros_like(b)
    for _ in range(repeats):
        s = b.clone()
        for _ in range(depth):
            idx = np.arange(n) if batch_size >= n else rng.choice(n, size=batch_size, replace=False)
            s = b + (1 - damping / scale) * s - hvp_batch(s, idx) / scale
        total += s / scale
    return total / repeats


def arnoldi(hvp: Callable[[torch.Tensor], torch.Tensor], dim: int, n_iter: int, top_k: int,
            rng: np.random.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Top-``top_k`` (largest |lambda|) eigenpairs of ``H`` by Arnoldi iteration (Schioppa et al. 2022).

    Builds an orthonormal Krylov basis ``Q`` (``n_iter`` HVPs, full re-orthogonalisation) from a
    random start, diagonalises the small Hessenberg matrix ``Q^T H Q`` and returns the Ritz values
    ``(top_k,)`` and Ritz vectors ``(dim, top_k)``. With ``n_iter = dim`` the space is exact.
    """
    n_iter = min(int(n_iter), dim)
    if not 1 <= top_k <= n_iter:
        raise ValueError(f"need 1 <= top_k <= n_iter (= {n_iter}), got top_k={top_k}")
    v0 = torch.as_tensor(rng.standard_normal(dim), dtype=torch.float64)
    Q = torch.zeros(dim, n_iter + 1, dtype=torch.float64)
    Hs = torch.zeros(n_iter + 1, n_iter, dtype=torch.float64)
    Q[:, 0] = v0 / v0.norm()
    k_done = n_iter
    for k in range(n_iter):
        w = hvp(Q[:, k])
        for _ in range(2):  # classical Gram-Schmidt, twice (numerically orthogonal)
            coef = Q[:, :k + 1].T @ w
            w = w - Q[:, :k + 1] @ coef
            Hs[:k + 1, k] += coef
        Hs[k + 1, k] = w.norm()
        if float(Hs[k + 1, k]) < 1e-12 * float(Hs[:k + 1, k].abs().max().clamp_min(1e-300)):
            k_done = k + 1  # invariant subspace found
            break
        Q[:, k + 1] = w / Hs[k + 1, k]
    A = Hs[:k_done, :k_done]
    A = 0.5 * (A + A.T)  # H is symmetric: Arnoldi = Lanczos up to round-off
    evals, evecs = torch.linalg.eigh(A)
    order = torch.argsort(evals.abs(), descending=True)[:min(top_k, k_done)]
    return evals[order], Q[:, :k_done] @ evecs[:, order]


# ---------------------------------------------------------------------- static estimators
def _train_grads(model: LogisticRegression, task: Task, theta: torch.Tensor | None = None) -> torch.Tensor:
    return model.per_sample_grads(task.X_train, task.y_train, theta)


def influence_exact(task: Task, rng: np.random.Generator | None = None) -> np.ndarray:
    """Influence functions with the exact Hessian ([S] Eq. 33; :func:`lib.influence.utility_influence`)."""
    m = task.model
    return utility_influence(m, task.X_train, task.y_train, task.X_val, task.y_val)


def influence_cg(task: Task, rng: np.random.Generator | None = None, tol: float = 1e-10,
                 max_iter: int | None = None) -> np.ndarray:
    """Influence functions with ``s_test = H^{-1} g_val`` by conjugate gradients on HVPs ([S] §5.1.1.1)."""
    m = task.model
    hvp = hessian_vector_product(m, task.X_train, task.y_train)
    s, _ = conjugate_gradient(hvp, _val_gradient(m, task.X_val, task.y_val), tol=tol, max_iter=max_iter)
    return (_train_grads(m, task) @ s).numpy()


def influence_lissa(task: Task, rng: np.random.Generator, depth: int = 1000, repeats: int = 1,
                    batch_size: int | None = None, scale: float | None = None, damping: float = 0.0) -> np.ndarray:
    """Influence functions with ``s_test`` by LiSSA ([S] §5.1.1.1).

    ``scale=None`` uses ``1.1 x`` the largest Hessian eigenvalue (20 power iterations on HVPs).
    Mini-batch Hessians are ``(n/|B|) sum_{i in B} H_i + l2 * mask``: unbiased for ``H``.
    """
    m = task.model
    n = task.n_train
    full = hessian_vector_product(m, task.X_train, task.y_train)
    if scale is None:
        v = torch.as_tensor(rng.standard_normal(m.n_params), dtype=torch.float64)
        for _ in range(20):
            v = full(v)
            v = v / v.norm()
        scale = 1.1 * float(v @ full(v))

    def hvp_batch(v: torch.Tensor, idx: np.ndarray) -> torch.Tensor:
        if len(idx) == n:
            return full(v)
        w = np.zeros(n)
        w[idx] = n / len(idx)
        return hessian_vector_product(m, task.X_train, task.y_train, sample_weight=w)(v)

    s = lissa_solve(hvp_batch, _val_gradient(m, task.X_val, task.y_val), n, rng, depth=depth,
                    repeats=repeats, batch_size=batch_size, scale=scale, damping=damping)
    return (_train_grads(m, task) @ s).numpy()


def influence_arnoldi(task: Task, rng: np.random.Generator, n_iter: int = 60, top_k: int = 30) -> np.ndarray:
    """Arnoldi influence functions (Schioppa et al. 2022; [S] §5.1.1.3).

    ``H^{-1}`` is replaced by ``U diag(1/lambda) U^T`` on the top-``top_k`` Ritz space from
    ``n_iter`` Arnoldi steps; gradients are projected onto it. Exact when ``top_k = n_params``.
    """
    m = task.model
    evals, U = arnoldi(hessian_vector_product(m, task.X_train, task.y_train), m.n_params, n_iter, top_k, rng)
    gv = _val_gradient(m, task.X_val, task.y_val) @ U / evals
    return (_train_grads(m, task) @ U @ gv).numpy()


def self_influence(task: Task, rng: np.random.Generator | None = None) -> np.ndarray:
    """``g_i^T H^{-1} g_i`` (>= 0): how much sample ``i``'s own loss relies on itself ([S] §2 fn. 4).

    High self-influence flags atypical or mislabelled samples (Koh & Liang; Pruthi et al.).
    """
    m = task.model
    G = _train_grads(m, task)
    H = m.hessian(task.X_train, task.y_train)
    return (G * solve_hessian(H, G.T).T).sum(1).numpy()


def relatif_scores(G_train: torch.Tensor, g_val: torch.Tensor, H: torch.Tensor, norm: str = "theta") -> np.ndarray:
    """Barshan et al.'s relative influence from gradients: ``I_IF(i) / ||H^{-1} g_i||`` ([S] Eq. 65,
    ``norm="theta"``) or ``I_IF(i) / sqrt(g_i^T H^{-1} g_i)`` (their l-relative form, ``norm="l"``).

    Invariant to rescaling any single training gradient ``g_i -> c g_i`` (``c > 0``).
    """
    HinvG = solve_hessian(H, G_train.T).T  # (n, P)
    num = HinvG @ g_val
    if norm == "theta":
        den = HinvG.norm(dim=1)
    elif norm == "l":
        den = (G_train * HinvG).sum(1).clamp_min(0).sqrt()
    else:
        raise ValueError(f"norm must be 'theta' (||H^-1 g_i||, [S] Eq. 65) or 'l' (sqrt(g_i^T H^-1 g_i)), got {norm!r}")
    return (num / den.clamp_min(1e-300)).numpy()


def influence_renormalized(task: Task, rng: np.random.Generator | None = None) -> np.ndarray:
    """Renormalised influence functions ([S] Eq. 68, Hammoudeh & Lowd): ``I_IF(i) / ||g_i||``."""
    m = task.model
    return influence_exact(task) / _train_grads(m, task).norm(dim=1).clamp_min(1e-300).numpy()


def relatif(task: Task, rng: np.random.Generator | None = None, norm: str = "theta") -> np.ndarray:
    """RelatIF ([S] Eq. 65) on the utility: the influence function divided by ``||H^{-1} g_i||``."""
    m = task.model
    return relatif_scores(_train_grads(m, task), _val_gradient(m, task.X_val, task.y_val),
                          m.hessian(task.X_train, task.y_train), norm=norm)


def representer_point(task: Task, rng: np.random.Generator | None = None, target: str = "label") -> np.ndarray:
    """Yeh et al.'s representer point values ([S] Eq. 43-46), summed over the validation set.

    Our sum-form objective ``sum_i loss_i + (l2/2)||W||^2`` is [S] Eq. 36 with ``lambda = l2/n``, so
    the stationarity condition gives ``W = sum_i alpha_i x_i^T`` with representer values
    ``alpha_i = -(1/l2) dloss_i/dlogits`` (an ``m``-vector). Sample ``i`` contributes
    ``c_it = alpha_i (x_i . x_t)`` to validation sample ``t``'s logits (the intercept is not
    decomposed: it is unpenalised).

    ``target="label"`` is [S] Eq. 45: the ``y_t``-th logit component (for one-logit binary models
    ``+c_it`` if ``y_t = 1`` else ``-c_it``): positive = sample ``i`` excites the right class.
    ``target="loss"`` adapts it to the utility: removing ``i`` removes ``c_it``, changing the loss
    to first order by ``-r_t . c_it`` -- i.e. influence functions with ``H`` replaced by ``l2 I``.
    """
    m = task.model
    Xtr = as_tensor(task.X_train)
    Xv = as_tensor(task.X_val)
    alpha = -m.residuals(task.X_train, task.y_train) / m.l2_  # (n, m)
    K = Xtr @ Xv.T  # (n, n_val): <f_i, f_t>
    if target == "label":
        yv = as_labels(task.y_val)
        if alpha.shape[1] == 1:
            sel = (2.0 * yv.to(torch.float64) - 1.0)[None, :] * alpha[:, :1]  # (n, n_val)
        else:
            sel = alpha[:, yv]  # (n, n_val): alpha_i[y_t]
        return (sel * K).sum(1).numpy()
    if target == "loss":
        Rv = m.residuals(task.X_val, task.y_val)  # (n_val, m)
        return (-(alpha @ Rv.T) * K).sum(1).numpy()
    raise ValueError(f"target must be 'label' ([S] Eq. 45) or 'loss' (first-order utility), got {target!r}")


# ---------------------------------------------------------------------- SGD trajectory
@dataclass
class Trajectory:
    """A mini-batch SGD run: parameters *before* each step, the step's batch and learning rate."""

    thetas: list[torch.Tensor]   # theta^(t-1), t = 1..T, each (p, m)
    batches: list[np.ndarray]    # B^(t)
    lrs: list[float]             # eta^(t)
    final: torch.Tensor          # theta^(T)
    weight_decay: float          # lambda of [S] Eq. 57 (on the weights, not the intercept)
    model: LogisticRegression    # shapes, design, residuals (its theta_ is not used)
    epoch_ends: list[int]        # indices t (0-based into thetas) of each epoch's first step


def train_sgd(task: Task, rng: np.random.Generator, epochs: int = 30, batch_size: int = 32, lr: float = 0.2,
              weight_decay: float | None = None, init_scale: float = 0.0) -> Trajectory:
    """Train the task's logistic model by plain mini-batch SGD without momentum ([S] Eq. 53, 57).

    Step: ``theta <- theta - eta * ((1/|B|) sum_{i in B} grad loss_i + lambda * mask * theta)``.
    ``weight_decay=None`` uses ``lambda = l2/n``, i.e. the mean form of the task's objective, so
    SGD approaches the same minimiser as ``task.model``. Batches are a fresh permutation of the
    training set every epoch, drawn from ``rng``; deterministic given ``rng``.
    """
    if epochs < 1 or batch_size < 1 or lr <= 0:
        raise ValueError(f"need epochs >= 1, batch_size >= 1, lr > 0; got {epochs}, {batch_size}, {lr}")
    ref = task.model
    n = task.n_train
    lam = ref.l2_ / n if weight_decay is None else float(weight_decay)
    Xa = ref.design(task.X_train)
    y = as_labels(task.y_train)
    mask = ref.penalty_mask()
    theta = torch.as_tensor(init_scale * rng.standard_normal(tuple(ref.theta_.shape)), dtype=torch.float64)
    thetas, batches, lrs, epoch_ends = [], [], [], []
    for _ in range(epochs):
        perm = rng.permutation(n)
        epoch_ends.append(len(thetas))
        for s in range(0, n, batch_size):
            B = perm[s:s + batch_size]
            thetas.append(theta)
            batches.append(B)
            lrs.append(float(lr))
            R = ref.residuals(task.X_train[B], y[B], theta)
            g = Xa[B].T @ R / len(B) + lam * mask * theta
            theta = theta - lr * g
    return Trajectory(thetas, batches, lrs, theta, lam, ref, epoch_ends)


def _checkpoints(traj: Trajectory, every: int | None) -> list[int]:
    T = len(traj.thetas)
    if every is None:
        return traj.epoch_ends
    return list(range(0, T, int(every)))


def _val_grads_per_sample(model: LogisticRegression, task: Task, theta: torch.Tensor) -> torch.Tensor:
    return model.per_sample_grads(task.X_val, task.y_val, theta)


def tracin(task: Task, rng: np.random.Generator, traj: Trajectory | None = None, **sgd) -> np.ndarray:
    """TracIn ([S] Eq. 54): ``sum_{t: i in B_t} eta_t/|B_t| grad loss_i(theta_{t-1}) . grad L_val(theta_{t-1})``.

    Uses every step's actual batch. Positive = the sample's updates lowered the validation loss.
    ``v . (x_i ⊗ r_i) = x_i^T V r_i``, so no per-sample gradient is materialised.
    """
    traj = train_sgd(task, rng, **sgd) if traj is None else traj
    m = traj.model
    Xa = m.design(task.X_train)
    y = as_labels(task.y_train)
    out = torch.zeros(task.n_train, dtype=torch.float64)
    for theta, B, lr in zip(traj.thetas, traj.batches, traj.lrs):
        V = _val_gradient(m, task.X_val, task.y_val, theta).reshape(theta.shape)
        R = m.residuals(task.X_train[B], y[B], theta)
        out[B] += lr / len(B) * ((Xa[B] @ V) * R).sum(1)
    return out.numpy()


def tracin_cp(task: Task, rng: np.random.Generator, traj: Trajectory | None = None,
              every: int | None = None, **sgd) -> np.ndarray:
    """TracInCP ([S] Eq. 55): ``sum_{t in T} eta_t grad loss_i(theta_t) . grad L_val(theta_t)`` over
    checkpoints (``every`` steps; ``None`` = each epoch's start) with *all* training samples."""
    traj = train_sgd(task, rng, **sgd) if traj is None else traj
    m = traj.model
    out = torch.zeros(task.n_train, dtype=torch.float64)
    for t in _checkpoints(traj, every):
        theta = traj.thetas[t]
        out += traj.lrs[t] * (_train_grads(m, task, theta) @ _val_gradient(m, task.X_val, task.y_val, theta))
    return out.numpy()


def tracin_self_influence(task: Task, rng: np.random.Generator, traj: Trajectory | None = None,
                          every: int | None = None, **sgd) -> np.ndarray:
    """TracInCP self-influence ``sum_t eta_t ||grad loss_i(theta_t)||^2`` (Pruthi et al.'s mislabel ranking)."""
    traj = train_sgd(task, rng, **sgd) if traj is None else traj
    m = traj.model
    out = torch.zeros(task.n_train, dtype=torch.float64)
    for t in _checkpoints(traj, every):
        out += traj.lrs[t] * (_train_grads(m, task, traj.thetas[t]) ** 2).sum(1)
    return out.numpy()


def gas_scores(G_train: torch.Tensor, G_val: torch.Tensor) -> torch.Tensor:
    """Renormalised dot products ([S] Eq. 67 at one checkpoint): ``sum_t cos(g_i, g_t)``, shape ``(n,)``."""
    Gt = G_train / G_train.norm(dim=1, keepdim=True).clamp_min(1e-300)
    Gv = G_val / G_val.norm(dim=1, keepdim=True).clamp_min(1e-300)
    return Gt @ Gv.sum(0)


def gas(task: Task, rng: np.random.Generator, traj: Trajectory | None = None,
        every: int | None = None, **sgd) -> np.ndarray:
    """Gradient aggregated similarity ([S] Eq. 67, Hammoudeh & Lowd): TracInCP with every training
    and every validation gradient replaced by its unit vector, summed over validation samples."""
    traj = train_sgd(task, rng, **sgd) if traj is None else traj
    m = traj.model
    out = torch.zeros(task.n_train, dtype=torch.float64)
    for t in _checkpoints(traj, every):
        theta = traj.thetas[t]
        out += traj.lrs[t] * gas_scores(_train_grads(m, task, theta), _val_grads_per_sample(m, task, theta))
    return out.numpy()


def hydra_fast(task: Task, rng: np.random.Generator, traj: Trajectory | None = None, **sgd) -> np.ndarray:
    """Fast HyDRA ([S] Alg. 4, Eq. 61; Chen et al. 2021): Hessian-free hypergradients
    ``h_i <- (1 - eta lambda) h_i - eta n/|B| grad loss_i`` (for ``i`` in the batch) along the SGD
    run, then ``-(1/n) grad L_val(theta_T)^T h_i``. Weight decay acts on the weights only, as in
    :func:`train_sgd`. With ``lambda = 0`` this is TracIn with the final validation gradient ([S] Eq. 63).
    """
    traj = train_sgd(task, rng, **sgd) if traj is None else traj
    m = traj.model
    n = task.n_train
    mask = m.penalty_mask().reshape(-1)
    h = torch.zeros(n, mask.numel(), dtype=torch.float64)
    for theta, B, lr in zip(traj.thetas, traj.batches, traj.lrs):
        h = h * (1 - lr * traj.weight_decay * mask)[None, :]
        h[B] -= lr * n / len(B) * m.per_sample_grads(task.X_train[B], task.y_train[B], theta)
    gv = _val_gradient(m, task.X_val, task.y_val, traj.final)
    return (-(h @ gv) / n).numpy()


#: name -> Task-shaped estimator (positive = helps).
GRADIENT_ESTIMATORS: dict[str, Callable[..., np.ndarray]] = {
    "influence_exact": influence_exact,
    "influence_cg": influence_cg,
    "influence_lissa": influence_lissa,
    "influence_arnoldi": influence_arnoldi,
    "representer_point": representer_point,
    "relatif": relatif,
    "renormalized_if": influence_renormalized,
    "tracin": tracin,
    "tracin_cp": tracin_cp,
    "gas": gas,
    "hydra_fast": hydra_fast,
}
