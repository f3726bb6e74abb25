"""The survey's gradient-based influence estimators ([S] Hammoudeh & Lowd, §5) for a :class:`lib.estimators.Task`.

Every Task-shaped function has the call shape of :mod:`lib.estimators`:
``estimator(task, rng, **options) -> (n_train,)``, the effect of training sample ``i`` on
``U = -(summed validation loss)``, **positive = the sample helps**.

Static estimators (the model trained to convergence, ``task.model``; sum-form objective
``J = sum_i loss_i + (l2/2)||W||^2`` with exact Hessian ``H``, book/conventions.md §1):

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

Model-agnostic: every estimator reads the model through a small interface -- the flat parameter
vector's per-sample loss gradients (``model.per_sample_grads``), the gradient of a summed loss
(:func:`loss_gradient`), the objective's Hessian (``model.hessian``) and Hessian-vector products
(:func:`hessian_vector_product`), the penalty mask and ``l2_``, and the inputs of the last linear
layer (:func:`last_layer_inputs`, for representer points). ``lib.models.LogisticRegression``
provides them in closed form (per-sample gradients ``x_i ⊗ r_i``); the one-hidden-layer
:class:`lib.models.OneHiddenLayerMLP` provides them with ``torch.func`` (``vmap(grad)``, ``hessian``,
``grad`` of ``grad . v``). Everything is vectorised over samples: dot products with per-sample gradients
are matrix products.

On a non-convex model ``H`` need not be positive definite: the static estimators that invert it
take ``damping`` (``H + damping I``, Koh & Liang's dampening, [S] §5.1.1.2); with ``damping=0`` a
non-positive-definite ``H`` is an error that says so.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from ..influence import solve_hessian, utility_influence
from ..models import DifferentiableModel, as_labels
from .task import Task

#: A model the estimators can read: any :class:`lib.models.DifferentiableModel`.
Model = DifferentiableModel

__all__ = [
    "Trajectory",
    "arnoldi",
    "gas",
    "gas_scores",
    "hessian_vector_product",
    "hydra_fast",
    "influence_arnoldi",
    "influence_cg",
    "influence_exact",
    "influence_lissa",
    "influence_renormalized",
    "last_layer_inputs",
    "loss_gradient",
    "lissa_solve",
    "conjugate_gradient",
    "relatif",
    "relatif_scores",
    "representer_point",
    "self_influence",
    "tracin",
    "tracin_cp",
    "tracin_self_influence",
    "train_sgd",
]


# ---------------------------------------------------------------------- gradients and HVPs
def loss_gradient(model: Model, X: np.ndarray, y: np.ndarray, theta: torch.Tensor | None = None) -> torch.Tensor:
    """Gradient of the *summed* loss over ``(X, y)`` (no penalty), flattened ``(n_params,)``
    (``model.loss_gradient``: ``X_aug^T R`` for logistic regression, ``torch.func.grad`` for the MLP)."""
    return model.loss_gradient(X, y, theta)


def last_layer_inputs(model: Model, X: np.ndarray) -> torch.Tensor:
    """Inputs ``f(x)`` of the model's last linear layer, without the constant: the features for
    logistic regression, the hidden activations for the MLP ([S] §5.1.2.2, representer points)."""
    return model.last_layer_inputs(X)


def hessian_vector_product(
    model: Model,
    X: np.ndarray,
    y: np.ndarray | None = None,
    sample_weight: np.ndarray | None = None,
    theta: torch.Tensor | None = None,
) -> Callable[[torch.Tensor], torch.Tensor]:
    """``v -> H v`` for the objective's exact Hessian without forming ``H`` (``model.hvp``: a closed
    form for logistic regression, reverse-over-reverse ``torch.func`` for the MLP, whose Hessian
    depends on the labels). Accepts ``(n_params,)`` or ``(n_params, k)`` blocks of vectors."""
    return model.hvp(X, y, sample_weight, theta)


def conjugate_gradient(
    hvp: Callable[[torch.Tensor], torch.Tensor], b: torch.Tensor, tol: float = 1e-10, max_iter: int | None = None
) -> tuple[torch.Tensor, int]:
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
                "positive definite; add an L2 penalty or use a damped estimator (LiSSA with damping)"
            )
        alpha = rr / dHd
        x = x + alpha * d
        r = r - alpha * Hd
        rr_new = r @ r
        d = r + (rr_new / rr) * d
        rr = rr_new
    return x, it


def lissa_solve(
    hvp_batch: Callable[[torch.Tensor, np.ndarray], torch.Tensor],
    b: torch.Tensor,
    n: int,
    rng: np.random.Generator,
    depth: int = 1000,
    repeats: int = 1,
    batch_size: int | None = None,
    scale: float = 1.0,
    damping: float = 0.0,
) -> torch.Tensor:
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


def arnoldi(
    hvp: Callable[[torch.Tensor], torch.Tensor], dim: int, n_iter: int, top_k: int, rng: np.random.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """Top-``top_k`` (largest ``|lambda|``) eigenpairs of ``H`` by Arnoldi iteration (Schioppa et al. 2022).

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
            coef = Q[:, : k + 1].T @ w
            w = w - Q[:, : k + 1] @ coef
            Hs[: k + 1, k] += coef
        Hs[k + 1, k] = w.norm()
        if float(Hs[k + 1, k]) < 1e-12 * float(Hs[: k + 1, k].abs().max().clamp_min(1e-300)):
            k_done = k + 1  # invariant subspace found
            break
        Q[:, k + 1] = w / Hs[k + 1, k]
    A = Hs[:k_done, :k_done]
    A = 0.5 * (A + A.T)  # H is symmetric: Arnoldi = Lanczos up to round-off
    evals, evecs = torch.linalg.eigh(A)
    order = torch.argsort(evals.abs(), descending=True)[: min(top_k, k_done)]
    return evals[order], Q[:, :k_done] @ evecs[:, order]


# ---------------------------------------------------------------------- static estimators
def _train_grads(model: Model, task: Task, theta: torch.Tensor | None = None) -> torch.Tensor:
    return model.per_sample_grads(task.X_train, task.y_train, theta)


def _check_damping(damping: float) -> float:
    if not (np.isfinite(damping) and damping >= 0):
        raise ValueError(f"damping must be a finite number >= 0, got {damping!r}")
    return float(damping)


def _hessian(model: Model, task: Task, damping: float = 0.0) -> torch.Tensor:
    """The training objective's exact Hessian plus ``damping * I``."""
    H = model.hessian(task.X_train, task.y_train)
    damping = _check_damping(damping)
    return H + damping * torch.eye(H.shape[0], dtype=H.dtype) if damping else H


def _damped(hvp: Callable[[torch.Tensor], torch.Tensor], damping: float) -> Callable[[torch.Tensor], torch.Tensor]:
    damping = _check_damping(damping)
    return hvp if not damping else (lambda v: hvp(v) + damping * v)


def influence_exact(task: Task, rng: np.random.Generator | None = None, damping: float = 0.0) -> np.ndarray:
    """Influence functions with the exact Hessian ([S] Eq. 33): ``g_val^T (H + damping I)^{-1} g_i``,
    by :func:`lib.influence.utility_influence` (Cholesky) with the damped Hessian. A
    non-positive-definite ``H`` (a non-convex model) is an error suggesting ``damping``.
    """
    m = task.model
    return utility_influence(m, task.X_train, task.y_train, task.X_val, task.y_val, hessian=_hessian(m, task, damping))


def influence_cg(
    task: Task,
    rng: np.random.Generator | None = None,
    tol: float = 1e-10,
    max_iter: int | None = None,
    damping: float = 0.0,
) -> np.ndarray:
    """Influence functions with ``s_test = (H + damping I)^{-1} g_val`` by conjugate gradients on
    HVPs ([S] §5.1.1.1)."""
    m = task.model
    hvp = _damped(hessian_vector_product(m, task.X_train, task.y_train), damping)
    s, _ = conjugate_gradient(hvp, loss_gradient(m, task.X_val, task.y_val), tol=tol, max_iter=max_iter)
    return (_train_grads(m, task) @ s).numpy()


def influence_lissa(
    task: Task,
    rng: np.random.Generator,
    depth: int = 1000,
    repeats: int = 1,
    batch_size: int | None = None,
    scale: float | None = None,
    damping: float = 0.0,
) -> np.ndarray:
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

    s = lissa_solve(
        hvp_batch,
        loss_gradient(m, task.X_val, task.y_val),
        n,
        rng,
        depth=depth,
        repeats=repeats,
        batch_size=batch_size,
        scale=scale,
        damping=damping,
    )
    return (_train_grads(m, task) @ s).numpy()


def influence_arnoldi(
    task: Task, rng: np.random.Generator, n_iter: int = 60, top_k: int = 30, damping: float = 0.0
) -> np.ndarray:
    """Arnoldi influence functions (Schioppa et al. 2022; [S] §5.1.1.3).

    ``H^{-1}`` is replaced by ``U diag(1/lambda) U^T`` on the top-``top_k`` Ritz space from
    ``n_iter`` Arnoldi steps of ``H + damping I``; gradients are projected onto it. Exact when
    ``top_k = n_params``. (Top = largest ``|lambda|``: on a non-convex model a negative eigenvalue
    can be kept and flips the sign of its direction's contribution.)
    """
    m = task.model
    hvp = _damped(hessian_vector_product(m, task.X_train, task.y_train), damping)
    evals, U = arnoldi(hvp, m.n_params, n_iter, top_k, rng)
    gv = loss_gradient(m, task.X_val, task.y_val) @ U / evals
    return (_train_grads(m, task) @ U @ gv).numpy()


def self_influence(task: Task, rng: np.random.Generator | None = None, damping: float = 0.0) -> np.ndarray:
    """``g_i^T (H + damping I)^{-1} g_i`` (>= 0): how much sample ``i``'s own loss relies on itself
    ([S] §2 fn. 4).

    High self-influence flags atypical or mislabelled samples (Koh & Liang; Pruthi et al.).
    """
    m = task.model
    G = _train_grads(m, task)
    H = _hessian(m, task, damping)
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


def influence_renormalized(task: Task, rng: np.random.Generator | None = None, damping: float = 0.0) -> np.ndarray:
    """Renormalised influence functions ([S] Eq. 68, Hammoudeh & Lowd): ``I_IF(i) / ||g_i||``."""
    m = task.model
    return influence_exact(task, damping=damping) / _train_grads(m, task).norm(dim=1).clamp_min(1e-300).numpy()


def relatif(
    task: Task, rng: np.random.Generator | None = None, norm: str = "theta", damping: float = 0.0
) -> np.ndarray:
    """RelatIF ([S] Eq. 65) on the utility: the influence function divided by ``||H^{-1} g_i||``."""
    m = task.model
    return relatif_scores(
        _train_grads(m, task), loss_gradient(m, task.X_val, task.y_val), _hessian(m, task, damping), norm=norm
    )


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

    For the MLP the decomposition is Yeh et al.'s: of the *last layer* only, with ``x`` replaced by
    the hidden activations ``f(x)`` (:func:`last_layer_inputs`). It is exact at a stationary point
    of the full objective (the gradient with respect to ``W2`` vanishes, so
    ``W2 = -(1/l2) sum_i f(x_i) r_i^T``); Yeh et al. fine-tune the last layer to reach one, our
    training already converges.
    """
    m = task.model
    F_train = last_layer_inputs(m, task.X_train)
    F_val = last_layer_inputs(m, task.X_val)
    alpha = -m.residuals(task.X_train, task.y_train) / m.l2_  # (n, m)
    K = F_train @ F_val.T  # (n, n_val): <f_i, f_t>
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

    thetas: list[torch.Tensor]  # theta^(t-1), t = 1..T, each in the model's shape ((p, m) or (P,))
    batches: list[np.ndarray]  # B^(t)
    lrs: list[float]  # eta^(t)
    final: torch.Tensor  # theta^(T)
    weight_decay: float  # lambda of [S] Eq. 57 (on the weights, not the intercept/biases)
    model: Model  # shapes, losses, gradients (its theta_ is not used)
    epoch_ends: list[int]  # indices t (0-based into thetas) of each epoch's first step


def train_sgd(
    task: Task,
    rng: np.random.Generator,
    epochs: int = 30,
    batch_size: int = 32,
    lr: float = 0.2,
    weight_decay: float | None = None,
    init_scale: float = 0.0,
) -> Trajectory:
    """Train the task's model by plain mini-batch SGD without momentum ([S] Eq. 53, 57).

    Step: ``theta <- theta - eta * ((1/|B|) sum_{i in B} grad loss_i + lambda * mask * theta)``.
    ``weight_decay=None`` uses ``lambda = l2/n``, i.e. the mean form of the task's objective, so
    SGD approaches a minimiser of the same objective as ``task.model`` (for the non-convex MLP not
    necessarily the same one). Batches are a fresh permutation of the training set every epoch,
    drawn from ``rng``; deterministic given ``rng``. Start: logistic regression at
    ``init_scale * N(0, 1)`` (0 by default); the MLP at the initialisation of the task's ``seed``
    (where ``task.model``'s training started; zero is a saddle point of an MLP).
    """
    if epochs < 1 or batch_size < 1 or lr <= 0:
        raise ValueError(f"need epochs >= 1, batch_size >= 1, lr > 0; got {epochs}, {batch_size}, {lr}")
    ref = task.model
    n = task.n_train
    lam = ref.l2_ / n if weight_decay is None else float(weight_decay)
    y = as_labels(task.y_train)
    mask = ref.penalty_mask()
    theta = ref.initial_params(rng, init_scale)
    thetas, batches, lrs, epoch_ends = [], [], [], []
    for _ in range(epochs):
        perm = rng.permutation(n)
        epoch_ends.append(len(thetas))
        for s in range(0, n, batch_size):
            B = perm[s : s + batch_size]
            thetas.append(theta)
            batches.append(B)
            lrs.append(float(lr))
            g = loss_gradient(ref, task.X_train[B], y[B], theta).reshape(theta.shape) / len(B) + lam * mask * theta
            theta = theta - lr * g
    return Trajectory(thetas, batches, lrs, theta, lam, ref, epoch_ends)


def _checkpoints(traj: Trajectory, every: int | None) -> list[int]:
    T = len(traj.thetas)
    if every is None:
        return traj.epoch_ends
    return list(range(0, T, int(every)))


def _val_grads_per_sample(model: Model, task: Task, theta: torch.Tensor) -> torch.Tensor:
    return model.per_sample_grads(task.X_val, task.y_val, theta)


def tracin(task: Task, rng: np.random.Generator, traj: Trajectory | None = None, **sgd) -> np.ndarray:
    """TracIn ([S] Eq. 54): ``sum_{t: i in B_t} eta_t/|B_t| grad loss_i(theta_{t-1}) . grad L_val(theta_{t-1})``.

    Uses every step's actual batch. Positive = the sample's updates lowered the validation loss.
    Only the batch's per-sample gradients are formed at each step.
    """
    traj = train_sgd(task, rng, **sgd) if traj is None else traj
    m = traj.model
    y = as_labels(task.y_train)
    out = torch.zeros(task.n_train, dtype=torch.float64)
    for theta, B, lr in zip(traj.thetas, traj.batches, traj.lrs, strict=True):
        v = loss_gradient(m, task.X_val, task.y_val, theta)
        out[B] += lr / len(B) * (m.per_sample_grads(task.X_train[B], y[B], theta) @ v)
    return out.numpy()


def tracin_cp(
    task: Task, rng: np.random.Generator, traj: Trajectory | None = None, every: int | None = None, **sgd
) -> np.ndarray:
    """TracInCP ([S] Eq. 55): ``sum_{t in T} eta_t grad loss_i(theta_t) . grad L_val(theta_t)`` over
    checkpoints (``every`` steps; ``None`` = each epoch's start) with *all* training samples."""
    traj = train_sgd(task, rng, **sgd) if traj is None else traj
    m = traj.model
    out = torch.zeros(task.n_train, dtype=torch.float64)
    for t in _checkpoints(traj, every):
        theta = traj.thetas[t]
        out += traj.lrs[t] * (_train_grads(m, task, theta) @ loss_gradient(m, task.X_val, task.y_val, theta))
    return out.numpy()


def tracin_self_influence(
    task: Task, rng: np.random.Generator, traj: Trajectory | None = None, every: int | None = None, **sgd
) -> np.ndarray:
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


def gas(
    task: Task, rng: np.random.Generator, traj: Trajectory | None = None, every: int | None = None, **sgd
) -> np.ndarray:
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
    for theta, B, lr in zip(traj.thetas, traj.batches, traj.lrs, strict=True):
        h = h * (1 - lr * traj.weight_decay * mask)[None, :]
        h[B] -= lr * n / len(B) * m.per_sample_grads(task.X_train[B], task.y_train[B], theta)
    gv = loss_gradient(m, task.X_val, task.y_val, traj.final)
    return (-(h @ gv) / n).numpy()
