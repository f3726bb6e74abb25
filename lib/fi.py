"""The FI influence measure on the perturbation manifold ([FI] §2-§3, §5, Appendix A-B).

A training sample ``z_i = (x_i, y_i)`` is perturbed to ``(x_i + omega, y_i)``; the model is
refitted, ``theta_hat(x_i + omega)``. With the book's sum-form objective (``lib.models``) the
implicit-function theorem gives ([FI] Eq. A.7, with its minus sign; book/conventions.md §2)

    d theta / d omega = -H_sum^{-1} M_i ,      M_i = d_x d_theta loss(y_i, x_i; theta)  (P x d),

which equals the paper's ``-n^{-1} H_mean^{-1} M_i``. Then ([FI] Eq. 2.2, 2.3, 3.1)

    a_i = d_omega L(V; theta(omega))  = g_V^T d theta/d omega                       (1 x d),
    V_i[c] = d_omega log P(c | x_i + omega, theta(x_i + omega))                       (K x d),
    G_i = sum_c P(c|x_i) V_i[c]^T V_i[c] = B_i^T B_i,   B_i = diag(sqrt p_i) V_i,
    FI_util(i) = a_i G_i^+ a_i^T = || (B_i B_i^T)^+ B_i a_i^T ||^2 .

``g_V`` is the gradient of the *mean* validation loss (Eq. 3.1). ``G_i`` has rank at most
``min(d, K - 1)`` (rank 1 for binary problems), so the pseudo-inverse with a relative
tolerance is used, never ``G + eps I`` (book/conventions.md §2); the efficient form only inverts a
``K x K`` matrix. Because ``G_i`` is singular, FI is *not* invariant to rescaling features
(Theorem 1 needs a diffeomorphism of the full perturbation space): standardise features first.

Everything is batched over training samples in chunks: ``a_i = -u^T M_i`` with
``u = H^{-1} g_V`` and ``d z_i / d omega = W^T - Q_i^T M_i`` with ``Q_i = H^{-1} J_i^T``
(``J_i`` the logit Jacobian), so no ``(n, P, P)`` tensor is ever built.

For a neural network, the "last layer" FI treats the penultimate features as the inputs of a
logistic-regression head (fit :class:`lib.models.LogisticRegression` on the embeddings) and
perturbs the embedding of sample ``i``.

Approximations ([FI] §5, Algorithms 5-6): KFSVD (a K-FAC Hessian plus a rank-``k`` truncated
SVD of every ``M_i``) and subsampling + a random forest that predicts FI ranks of the rest.

Corruptions for the noisy sets ([FI] D.1) and the perturbation ablation ([FI] E.1, Table 7):
white noise on the features of chosen rows, flipped binary feature columns, flipped labels;
``perturbation_gradients`` / ``predicted_loss_change`` give the first-order effect of a
feature perturbation on the validation loss (tested against refitting). Which samples to
remove given FI or IV scores is :func:`lib.trimming.trim` (``rule="highest"`` for FI).
"""

from __future__ import annotations

import numpy as np
import torch

from .influence import solve_hessian
from .models import ArrayLike, LinearModel, as_labels, as_tensor, check_model
from .reproducibility import tie_safe

# ---------------------------------------------------------------------- building blocks


def check_fitted(model: LinearModel) -> None:
    """Raise a clear error unless ``model`` is a fitted :class:`lib.models.LinearModel` (logits
    ``design(X) @ theta``, e.g. :class:`lib.models.LogisticRegression`) with an intercept. FI
    perturbs the inputs of a linear last layer: for a network, use its embeddings as the inputs."""
    try:
        check_model(model, LinearModel)
    except TypeError as err:
        raise TypeError(f"FI is defined for a linear last layer: {err} (use the embeddings of a network "
                        "as inputs of a lib.models.LogisticRegression head)") from None
    if not model.fit_intercept:
        raise ValueError("lib.fi assumes a model with an intercept (fit_intercept=True)")


def _weights(model: LinearModel) -> torch.Tensor:
    """``W`` of shape ``(d, m)`` (the feature rows of ``theta``)."""
    return model.theta_[:-1]


def inverse_hessian(model: LinearModel, X: ArrayLike, y: ArrayLike,
                    hessian: torch.Tensor | None = None) -> torch.Tensor:
    """Symmetrised ``H^{-1}`` (P, P) of the training objective on ``(X, y)`` (or of ``hessian``,
    e.g. the K-FAC approximation), ``P = theta.numel()``."""
    H = model.hessian(X, y) if hessian is None else hessian
    Hinv = solve_hessian(H, torch.eye(model.theta_.numel(), dtype=H.dtype))
    return 0.5 * (Hinv + Hinv.T)


def _logit_curvature(z: torch.Tensor) -> torch.Tensor:
    """``S = d r / d z`` per sample, shape ``(n, m, m)``: ``p(1-p)`` or ``diag p - p p^T``."""
    if z.shape[1] == 1:
        p = torch.sigmoid(z)
        return (p * (1 - p))[:, :, None]
    p = torch.softmax(z, dim=1)
    return torch.diag_embed(p) - p[:, :, None] * p[:, None, :]


def mixed_derivatives(model: LinearModel, X: ArrayLike, y: ArrayLike) -> torch.Tensor:
    """``M_i = d_x d_theta loss(y_i, x_i; theta)``, shape ``(n, P, d)`` with ``P = p*m`` flattened
    like ``theta`` (row-major ``(p, m)``).

    ``grad_theta loss = x_aug ⊗ r`` with ``r = p - y``, so
    ``M_i[(j, l), t] = delta_{jt} r_l + x_aug_j (S_i W^T)_{l t}``.
    """
    check_fitted(model)
    Xa = model.design(X)
    n, p = Xa.shape
    d = p - 1
    R = model.residuals(X, y)  # (n, m)
    m = R.shape[1]
    SWt = _logit_curvature(Xa @ model.theta_) @ _weights(model).T  # (n, m, d)
    M = Xa[:, :, None, None] * SWt[:, None, :, :]  # (n, p, m, d)
    eye = torch.eye(p, d, dtype=Xa.dtype)  # delta_{jt}, intercept row zero
    M = M + eye[None, :, None, :] * R[:, None, :, None]
    return M.reshape(n, p * m, d)


def dtheta_domega(model: LinearModel, X_train: ArrayLike, y_train: ArrayLike,
                  hessian: torch.Tensor | None = None) -> torch.Tensor:
    """``d theta_hat(x_i + omega) / d omega`` at ``omega = 0`` for every training sample,
    ``-H_sum^{-1} M_i`` ([FI] Eq. A.7 with its minus sign), shape ``(n, P, d)``.

    Materialises ``n * P * d`` numbers: meant for tests and small problems; :func:`fi_util`
    never builds it.
    """
    H = model.hessian(X_train, y_train) if hessian is None else hessian
    M = mixed_derivatives(model, X_train, y_train)
    n, P, d = M.shape
    sol = solve_hessian(H, M.permute(1, 0, 2).reshape(P, n * d))
    return -sol.reshape(P, n, d).permute(1, 0, 2)


def logprob_jacobian(model: LinearModel, X: ArrayLike) -> tuple[torch.Tensor, torch.Tensor]:
    """``A_i = d log P(c | x_i) / d z_i`` of shape ``(n, K, m)`` and the class probabilities
    ``(n, K)``; binary: ``A = [[-p], [1 - p]]``, softmax: ``I - 1 p^T``."""
    z = model.logits(X)
    if z.shape[1] == 1:
        p1 = torch.sigmoid(z)  # (n, 1)
        A = torch.stack([-p1, 1 - p1], dim=1)  # (n, 2, 1)
        return A, torch.cat([1 - p1, p1], dim=1)
    p = torch.softmax(z, dim=1)
    K = p.shape[1]
    A = torch.eye(K, dtype=z.dtype)[None] - p[:, None, :]
    return A, p


def metric_tensor(model: LinearModel, X_train: ArrayLike, y_train: ArrayLike,
                  hessian: torch.Tensor | None = None) -> torch.Tensor:
    """The metric tensor ``G_{z_i}(omega_0)`` of the perturbation manifold ([FI] §2), shape
    ``(n, d, d)``: ``sum_c P(c|x_i) V_i[c]^T V_i[c]`` with
    ``V_i[c] = d_theta log P(c) d theta/d omega + d_x log P(c)`` (Eq. 2.3).
    Direct form (builds ``d theta / d omega``): for tests and small problems."""
    B = _b_matrices(model, X_train, dtheta_domega(model, X_train, y_train, hessian), X_train)
    return B.transpose(1, 2) @ B


def _b_matrices(model: LinearModel, X: ArrayLike, D: torch.Tensor, X_design: ArrayLike
                ) -> torch.Tensor:
    """``B_i = diag(sqrt p_i) A_i dz_i/domega`` from an explicit ``D_i = d theta/d omega``."""
    Xa = model.design(X_design)
    n, p = Xa.shape
    m = model.theta_.shape[1]
    Dr = D.reshape(n, p, m, -1)
    dz = torch.einsum("np,npmt->nmt", Xa, Dr) + _weights(model).T[None]  # (n, m, d)
    A, prob = logprob_jacobian(model, X)
    return prob.sqrt()[:, :, None] * (A @ dz)


def fi_from_parts(a: torch.Tensor, B: torch.Tensor, rtol: float = 1e-10) -> torch.Tensor:
    """``FI_i = a_i G_i^+ a_i^T = ||(B_i B_i^T)^+ B_i a_i^T||^2`` (efficient ``K x K`` form).

    ``a``: ``(n, d)``; ``B``: ``(n, K, d)``. The pseudo-inverse uses a tolerance relative to
    the largest singular value (never ``G + eps I``, book/conventions.md §2).
    """
    if a.ndim != 2 or B.ndim != 3 or B.shape[0] != a.shape[0] or B.shape[2] != a.shape[1]:
        raise ValueError(f"need a (n, d) and B (n, K, d); got {tuple(a.shape)} and {tuple(B.shape)}")
    BBt = B @ B.transpose(1, 2)
    v = torch.linalg.pinv(BBt, rtol=rtol, hermitian=True) @ (B @ a[:, :, None])
    return (v[:, :, 0] ** 2).sum(1)


def fi_direct(a: torch.Tensor, G: torch.Tensor, rtol: float = 1e-10) -> torch.Tensor:
    """``a_i G_i^+ a_i^T`` with the ``d x d`` pseudo-inverse (reference for the efficient form)."""
    return torch.einsum("nd,nde,ne->n", a, torch.linalg.pinv(G, rtol=rtol, hermitian=True), a)


def mean_loss_gradient(model: LinearModel, X_val: ArrayLike, y_val: ArrayLike) -> torch.Tensor:
    """``g_V = |V|^{-1} sum_{(x', y') in V} d_theta L(y', x'; theta)``, shape ``(P,)`` ([FI] Eq. 3.1)."""
    Xa, R = model.design(X_val), model.residuals(X_val, y_val)
    return (Xa.T @ R).reshape(-1) / Xa.shape[0]


# ---------------------------------------------------------------------- FI_util
def _chunked_parts(model: LinearModel, X_train: ArrayLike, y_train: ArrayLike,
                   X_val: ArrayLike, y_val: ArrayLike, hessian: torch.Tensor | None, rank: int | None,
                   chunk: int, with_metric: bool = True):
    """Yield ``(a, B)`` per chunk of training samples: ``a`` (c, d) = ``d_omega L_V`` and
    ``B`` (c, K, d) with ``G = B^T B`` (``None`` unless ``with_metric``)."""
    check_fitted(model)
    y_t = as_labels(y_train)
    X_train = as_tensor(X_train)
    if X_train.shape[0] != len(y_t):
        raise ValueError(f"X_train has {X_train.shape[0]} rows but y_train has {len(y_t)} labels")
    p, m = model.theta_.shape
    P = p * m
    Hinv = inverse_hessian(model, X_train, y_t, hessian)
    u = Hinv @ mean_loss_gradient(model, X_val, y_val)  # (P,)
    Hr = Hinv.reshape(P, p, m)  # Hinv[:, (j', k)]
    Wt = _weights(model).T  # (m, d)
    for s in range(0, len(y_t), chunk):
        Xc, yc = X_train[s:s + chunk], y_t[s:s + chunk]
        M = mixed_derivatives(model, Xc, yc)  # (c, P, d)
        if rank is not None:
            M = truncated(M, rank)
        a = -torch.einsum("P,nPt->nt", u, M)  # (c, d)
        if not with_metric:
            yield a, None
            continue
        Q = torch.einsum("Pjk,nj->nPk", Hr, model.design(Xc))  # H^{-1} J_i^T, (c, P, m)
        dz = Wt[None] - Q.transpose(1, 2) @ M  # (c, m, d)
        A, prob = logprob_jacobian(model, Xc)
        yield a, prob.sqrt()[:, :, None] * (A @ dz)


def fi_util(model: LinearModel, X_train: ArrayLike, y_train: ArrayLike,
            X_val: ArrayLike, y_val: ArrayLike, hessian: torch.Tensor | None = None,
            rank: int | None = None, chunk: int = 512, rtol: float = 1e-10) -> np.ndarray:
    """``FI_util`` of every training sample ([FI] Eq. 3.1, Algorithm 1), shape ``(n_train,)``, >= 0.

    Parameters
    ----------
    hessian:
        ``H_sum`` of the training objective; default: the exact one (``model.hessian``).
        Pass :func:`kfac_hessian` for the KFSVD approximation.
    rank:
        If given, every ``M_i = d_x d_theta loss_i`` is replaced by its rank-``rank`` truncated
        SVD (the "SVD" of KFSVD, [FI] §5 / Algorithm 5 lines 8-9).
    chunk:
        Samples per batch (memory ``chunk * P * d``).
    """
    out = [fi_from_parts(a, B, rtol)
           for a, B in _chunked_parts(model, X_train, y_train, X_val, y_val, hessian, rank, chunk)]
    return torch.cat(out).clamp_min(0.0).numpy()


def perturbation_gradients(model: LinearModel, X_train: ArrayLike, y_train: ArrayLike,
                           X_val: ArrayLike, y_val: ArrayLike, chunk: int = 512) -> np.ndarray:
    """``a_i = d_omega L_V(theta_hat(x_i + omega))`` at ``omega = 0`` ([FI] Eq. 2.2 / 3.1 with the
    mean validation loss), shape ``(n_train, d)``: the first-order change of the validation loss
    per unit shift of sample ``i``'s features, the model refitted (the numerator of ``FI_util``)."""
    return torch.cat([a for a, _ in _chunked_parts(model, X_train, y_train, X_val, y_val, None, None,
                                                   chunk, with_metric=False)]).numpy()


def predicted_loss_change(a: np.ndarray, idx: ArrayLike, delta: np.ndarray) -> float:
    """First-order prediction of ``L_V(refitted on perturbed data) - L_V(theta_hat)`` when the
    features of training samples ``idx`` move by the rows of ``delta``: ``sum_i a_i . delta_i``.

    With zero-mean noise ``delta_i ~ N(0, s^2 I)`` its expectation is 0 and its variance
    ``s^2 sum_i ||a_i||^2``: noise changes the loss only through its spread (and second order).
    """
    a = np.asarray(a, dtype=float)
    idx = np.asarray(idx, dtype=int)
    delta = np.asarray(delta, dtype=float)
    if delta.shape != (len(idx), a.shape[1]):
        raise ValueError(f"delta must have one row per perturbed sample and {a.shape[1]} columns, "
                         f"got {delta.shape} for {len(idx)} samples")
    return float(np.einsum("nd,nd->", a[idx], delta))


def fi_binary_closed_form(model: LinearModel, X_train: ArrayLike, y_train: ArrayLike,
                          X_val: ArrayLike, y_val: ArrayLike) -> np.ndarray:
    """Binary oracle: ``G_i = p(1-p) v_i^T v_i`` (rank 1) with ``v_i = dz_i/domega``, hence
    ``FI_i = (a_i . v_i)^2 / (p_i (1 - p_i) ||v_i||^4)``. Builds ``d theta/d omega`` explicitly."""
    if model.n_logits != 1:
        raise ValueError("the closed form is for binary models (one logit)")
    D = dtheta_domega(model, X_train, y_train)
    a = torch.einsum("P,nPt->nt", mean_loss_gradient(model, X_val, y_val), D)
    v = torch.einsum("np,npt->nt", model.design(X_train), D) + _weights(model).T
    pr = torch.sigmoid(model.logits(X_train))[:, 0]
    return ((a * v).sum(1) ** 2 / (pr * (1 - pr) * (v * v).sum(1) ** 2)).numpy()


# ---------------------------------------------------------------------- approximations ([FI] §5)
def truncated(M: torch.Tensor, rank: int, oversample: int = 4, n_iter: int = 3) -> torch.Tensor:
    """Batched rank-``rank`` truncated SVD ``U_k Lambda_k V_k^T`` of matrices ``(n, P, d)`` by
    randomised subspace (power) iteration ([FI] §5; Halko et al. 2011), with a fixed-seed
    test matrix so results are deterministic. Exact when ``rank + oversample >= min(P, d)``."""
    if rank < 1:
        raise ValueError(f"the truncated-SVD rank must be >= 1, got {rank}")
    n, P, d = M.shape
    k = min(rank, P, d)
    ell = min(k + oversample, P, d)
    gen = torch.Generator().manual_seed(0)
    Y = M @ torch.randn(d, ell, generator=gen, dtype=M.dtype)  # (n, P, ell)
    for _ in range(n_iter):
        Q = torch.linalg.qr(Y).Q
        Y = M @ (M.transpose(1, 2) @ Q)
    Q = torch.linalg.qr(Y).Q  # (n, P, ell)
    Ub, S, Vh = torch.linalg.svd(Q.transpose(1, 2) @ M, full_matrices=False)  # small (ell x d)
    U = Q @ Ub[:, :, :k]
    return (U * S[:, None, :k]) @ Vh[:, :k, :]


def kfac_hessian(model: LinearModel, X_train: ArrayLike, damping: float | None = None
                 ) -> torch.Tensor:
    """K-FAC approximation of ``H_sum`` for the linear head ([FI] §5; Martens & Grosse 2015):
    ``sum_i (x_i x_i^T) ⊗ S_i ~ n^{-1} (sum_i x_i x_i^T) ⊗ (sum_i S_i)``, plus ``damping * I``
    (default: the model's L2 strength, applied to the intercept too so it stays invertible).

    Returned dense (``P x P``) because the heads here are small; in factored form its inverse
    is ``(Q_A ⊗ Q_S)(Λ_A ⊗ Λ_S + damping)^{-1}(Q_A ⊗ Q_S)^T``, which is what saves memory.
    """
    check_fitted(model)
    Xa = model.design(X_train)
    n = Xa.shape[0]
    A = Xa.T @ Xa / n
    S = _logit_curvature(Xa @ model.theta_).sum(0)
    lam = model.l2_ if damping is None else float(damping)
    H = torch.kron(A, S)
    return H + lam * torch.eye(H.shape[0], dtype=H.dtype)


def fi_kfsvd(model: LinearModel, X_train: ArrayLike, y_train: ArrayLike,
             X_val: ArrayLike, y_val: ArrayLike, rank: int = 1, chunk: int = 512) -> np.ndarray:
    """``FI_util`` with the KFSVD approximation ([FI] Algorithm 5): K-FAC Hessian and
    rank-``rank`` truncated SVD of each ``d_x d_theta loss_i``."""
    return fi_util(model, X_train, y_train, X_val, y_val, hessian=kfac_hessian(model, X_train),
                   rank=rank, chunk=chunk)


def fi_random_forest(model: LinearModel, X_train: ArrayLike, y_train: ArrayLike,
                     X_val: ArrayLike, y_val: ArrayLike, rng: np.random.Generator,
                     alpha: float = 0.2, use_label: bool = True, n_estimators: int = 100,
                     kfsvd_rank: int | None = None) -> np.ndarray:
    """Subsampling approximation ([FI] §5, Algorithm 6): compute FI on a random ``alpha``
    fraction, regress the *ascending ranks* on the features with a random forest
    (scikit-learn), and predict a rank score for every training sample (higher = larger FI).

    The FI of the subsample uses the model trained on all data (as in Algorithm 5 line 2);
    ``kfsvd_rank`` switches to the KFSVD values. ``use_label=True`` appends the label to the
    forest's inputs: FI depends on ``y_i`` through the residual, which Algorithm 6 (inputs
    ``x`` only) ignores; ``False`` follows the paper literally.
    """
    from scipy.stats import rankdata
    from sklearn.ensemble import RandomForestRegressor

    if not 0 < alpha <= 1:
        raise ValueError(f"alpha is the subsampled fraction, in (0, 1]; got {alpha}")
    X = np.asarray(X_train, dtype=float)
    y = as_labels(y_train).numpy()
    n = len(y)
    sub = np.sort(rng.choice(n, size=max(2, int(round(alpha * n))), replace=False))
    if kfsvd_rank is None:
        fi = fi_util(model, X[sub], y[sub], X_val, y_val, hessian=model.hessian(X, y))
    else:
        fi = fi_util(model, X[sub], y[sub], X_val, y_val, hessian=kfac_hessian(model, X), rank=kfsvd_rank)
    feats = np.column_stack([X, y]) if use_label else X
    forest = RandomForestRegressor(n_estimators=n_estimators, min_samples_leaf=2,
                                   random_state=int(rng.integers(0, 2**31 - 1)), n_jobs=1)
    forest.fit(feats[sub], rankdata(tie_safe(fi)))  # duplicated rows: equal ranks on every machine
    return forest.predict(feats)


# ---------------------------------------------------------------------- corruptions ([FI] D.1, E.1)
def _rows(idx: ArrayLike, n: int) -> np.ndarray:
    idx = np.asarray(idx, dtype=int)
    if idx.ndim != 1 or (idx.size and (idx.min() < 0 or idx.max() >= n)) or len(np.unique(idx)) != len(idx):
        raise ValueError(f"idx must be distinct row indices in [0, {n}), got {idx!r}")
    return idx


def add_feature_noise(X: ArrayLike, idx: ArrayLike, variance: float, rng: np.random.Generator) -> np.ndarray:
    """A copy of ``X`` with white noise ``N(0, variance)`` added to every feature of the rows
    ``idx`` ([FI] D.1 "noisy" sets: 500 training samples, variance 0.1; E.1 / Table 7)."""
    X = np.array(X, dtype=float)
    if not variance >= 0:
        raise ValueError(f"variance must be >= 0, got {variance}")
    idx = _rows(idx, len(X))
    X[idx] += np.sqrt(variance) * rng.standard_normal((len(idx), X.shape[1]))
    return X


def flip_binary_features(X: ArrayLike, idx: ArrayLike, n_columns: int, rng: np.random.Generator
                         ) -> tuple[np.ndarray, np.ndarray]:
    """A copy of ``X`` in which ``n_columns`` randomly chosen binary columns (exactly two distinct
    values, e.g. -1/+1 raw or standardised) have their two values swapped in the rows ``idx``
    ([FI] D.1, noisy CelebA: six attribute columns flipped). Returns ``(X_noisy, columns)``."""
    X = np.array(X, dtype=float)
    idx = _rows(idx, len(X))
    levels = [np.unique(X[:, j]) for j in range(X.shape[1])]
    binary = np.flatnonzero([len(v) == 2 for v in levels])
    if n_columns > len(binary):
        raise ValueError(f"asked to flip {n_columns} columns but X has only {len(binary)} binary columns")
    cols = np.sort(rng.choice(binary, size=n_columns, replace=False))
    for j in cols:
        lo, hi = levels[j]
        X[idx, j] = np.where(X[idx, j] == lo, hi, lo)
    return X, cols


def flip_labels(y: ArrayLike, idx: ArrayLike, n_classes: int, rng: np.random.Generator) -> np.ndarray:
    """A copy of ``y`` whose labels at ``idx`` are replaced by a different class, drawn uniformly
    among the other ``n_classes - 1`` (binary: ``1 - y``)."""
    y = np.array(y, dtype=np.int64)
    idx = _rows(idx, len(y))
    if n_classes < 2 or y.min(initial=0) < 0 or y.max(initial=0) >= n_classes:
        raise ValueError(f"labels must lie in 0..{n_classes - 1} with n_classes >= 2")
    y[idx] = (y[idx] + rng.integers(1, n_classes, size=len(idx))) % n_classes
    return y
