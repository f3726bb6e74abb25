"""FI for active learning ([FI] §4, Eq. 4.1, Algorithms 2, 4, 7-8; experiments §6.2, App. D.2).

For an unlabelled pool sample ``x_u`` the current model assigns a pseudo-label
``y_hat_u = argmax_c P(c | x_u)`` and the pair ``z_u = (x_u, y_hat_u)`` is treated as a
validation sample. Its FI with respect to every labelled sample ``z_j`` (Eq. 2.1, with the
single-sample loss in place of the validation mean of Eq. 3.1) is

    FI(z_u, z_j) = a_uj G_j^+ a_uj^T,     a_uj = g_u^T d theta / d omega_j = -g_u^T H^{-1} M_j,

with ``g_u = d_theta loss(y_hat_u, x_u)``, ``M_j = d_x d_theta loss(y_j, x_j)`` and ``G_j`` the
metric tensor of the perturbation manifold of ``z_j`` (all as in :mod:`lib.fi`, sum-form
Hessian, book/conventions.md §2). Eq. 4.1 aggregates over the labelled set,

    FI_active(x_u) = g({FI(z_u, z_j)}_{j=1..n_L}),

with ``g`` the mean of the values between the 10th and 90th percentiles (§6.2). Algorithm 4
labels the ``N`` pool samples with the largest ``FI_active``, retrains, and repeats.

Efficient form: with ``B_j = diag(sqrt p_j) V_j`` (``K x d``) and
``C_j = (B_j B_j^T)^+ B_j``, ``FI(z_u, z_j) = ||C_j a_uj^T||^2 = ||E_j g_u||^2`` where
``E_j = C_j M_j^T H^{-1}`` is ``K x P``. The ``E_j`` are computed once per round; then every
pair costs ``K * P`` operations and no ``(n_U, n_L, P, d)`` tensor is built.

Binary identity (tested): ``g_u = x~_u (p_u - y_hat_u)`` and ``|p_u - y_hat_u| = min(p_u, 1-p_u)``,
so ``FI(z_u, z_j) = min(p_u, 1-p_u)^2 (x~_u^T c_j)^2`` and, because the trimmed mean is
positively homogeneous, ``FI_active(x_u) = min(p_u, 1-p_u)^2 * g_j((x~_u^T c_j)^2)``: an
uncertainty factor times a leverage-like factor that grows with ``||x_u||``.

Baselines ([FI] §6.2): random selection; predictive entropy (uncertainty sampling); BALD
(Houlsby et al. 2011, cited by [FI] through Kirsch et al.) with the Laplace posterior
``N(theta_hat, H^{-1})`` of the logistic model; IV ([CH] §5.5): a [CH] influence tree fitted on
the labelled samples' utility influence (features only: the pool has no labels), predicting the
influence of pool samples; the most beneficial ones are labelled. As in [FI], IV is recomputed
in every round.

Rounds: [FI] Table 4 (Adult: 12 rounds x 500 from a pool of 5,000) and Table 5 (CIFAR-10:
9 x 2,000 from 10,000) ask for more queries than the pool holds. :func:`capped_rounds` caps
the rounds at ``pool // acquisition`` (book/conventions.md §2), warns and records the note.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch

from . import fi
from .influence import utility_influence
from .models import ArrayLike, LinearModel, LogisticRegression, as_labels, as_tensor
from .reproducibility import tie_safe
from .trees import fit_influence_tree

#: Acquisition functions of :func:`run_active_learning` (larger score = label first).
METHODS = ("fi", "fi-forest", "iv", "bald", "entropy", "random")
#: Aggregations ``g`` of Eq. 4.1.
AGGREGATIONS = ("trimmed_mean", "mean", "median")


class RoundsCappedWarning(UserWarning):
    """More rounds were asked for than the unlabelled pool can feed."""


# ---------------------------------------------------------------------- FI_active
def _check_features(X: ArrayLike, name: str, d: int | None = None) -> torch.Tensor:
    X = as_tensor(X)
    if X.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array (samples x features), got shape {tuple(X.shape)}")
    if d is not None and X.shape[1] != d:
        raise ValueError(f"{name} has {X.shape[1]} features but the model was fitted on {d}")
    return X


def pseudo_labels(model: LinearModel, X: ArrayLike) -> np.ndarray:
    """``y_hat = argmax_c P(c | x)`` of the current model ([FI] Algorithm 2, line 6)."""
    return model.predict(X)


def fi_e_matrices(model: LinearModel, X_lab: ArrayLike, y_lab: ArrayLike,
                  hessian: torch.Tensor | None = None, rank: int | None = None, chunk: int = 256,
                  rtol: float = 1e-10) -> torch.Tensor:
    """``E_j = C_j M_j^T H^{-1}`` for every labelled sample, shape ``(n_L, K, P)``, so that
    ``FI(z', z_j) = ||E_j d_theta L(z')||^2`` for any sample ``z'`` (module docstring).

    ``hessian`` (default: exact ``H_sum`` on the labelled set) and ``rank`` (truncated SVD of
    ``M_j``) select the KFSVD approximation of [FI] Algorithm 7, as in :func:`lib.fi.fi_util`.
    """
    fi.check_fitted(model)
    d = model.theta_.shape[0] - 1
    X_lab = _check_features(X_lab, "X_lab", d)
    y_t = as_labels(y_lab)
    if X_lab.shape[0] != len(y_t):
        raise ValueError(f"X_lab has {X_lab.shape[0]} rows but y_lab has {len(y_t)} labels")
    p, m = model.theta_.shape
    P = p * m
    Hinv = fi.inverse_hessian(model, X_lab, y_t, hessian)
    Hr = Hinv.reshape(P, p, m)
    Wt = model.theta_[:-1].T  # (m, d)
    out = []
    for s in range(0, len(y_t), chunk):
        Xc, yc = X_lab[s:s + chunk], y_t[s:s + chunk]
        M = fi.mixed_derivatives(model, Xc, yc)  # (c, P, d)
        if rank is not None:
            M = fi.truncated(M, rank)
        Q = torch.einsum("Pjk,nj->nPk", Hr, model.design(Xc))  # H^{-1} J_i^T
        dz = Wt[None] - Q.transpose(1, 2) @ M  # d z_j / d omega, (c, m, d)
        A, prob = fi.logprob_jacobian(model, Xc)
        B = prob.sqrt()[:, :, None] * (A @ dz)  # (c, K, d)
        C = torch.linalg.pinv(B @ B.transpose(1, 2), rtol=rtol, hermitian=True) @ B
        out.append((C @ M.transpose(1, 2)) @ Hinv)  # (c, K, P)
    return torch.cat(out)


def fi_pairwise(model: LinearModel, X_lab: ArrayLike, y_lab: ArrayLike, X_unl: ArrayLike,
                y_unl: ArrayLike | None = None, hessian: torch.Tensor | None = None,
                rank: int | None = None, chunk: int = 256) -> np.ndarray:
    """``FI(z_u, z_j)`` for every pool sample ``u`` (rows) and labelled sample ``j`` (columns),
    shape ``(n_U, n_L)``, >= 0 ([FI] Algorithm 2, lines 5-13). ``y_unl`` defaults to the
    model's pseudo-labels. Column-for-column equal to :func:`lib.fi.fi_util` with the
    one-sample validation set ``{z_u}`` (a unit test)."""
    E = fi_e_matrices(model, X_lab, y_lab, hessian, rank)
    return np.concatenate(list(_pairwise_chunks(model, E, X_unl, y_unl, chunk)), axis=0)


def _pairwise_chunks(model: LinearModel, E: torch.Tensor, X_unl: ArrayLike,
                     y_unl: ArrayLike | None, chunk: int):
    Xu = _check_features(X_unl, "X_unl", model.theta_.shape[0] - 1)
    yu = pseudo_labels(model, Xu) if y_unl is None else as_labels(y_unl).numpy()
    if len(yu) != Xu.shape[0]:
        raise ValueError(f"X_unl has {Xu.shape[0]} rows but y_unl has {len(yu)} labels")
    for s in range(0, Xu.shape[0], chunk):
        g = model.per_sample_grads(Xu[s:s + chunk], yu[s:s + chunk])  # (c, P)
        yield (torch.einsum("jkP,uP->ujk", E, g) ** 2).sum(-1).numpy()


def aggregate(F: np.ndarray, how: str | Callable[[np.ndarray], np.ndarray] = "trimmed_mean",
              lower: float = 10.0, upper: float = 90.0) -> np.ndarray:
    """The aggregation ``g`` of Eq. 4.1, row-wise over a ``(n_U, n_L)`` matrix.

    ``"trimmed_mean"`` ([FI] §6.2): the mean of the values that lie between the ``lower``-th and
    ``upper``-th percentiles of the row (inclusive; linear interpolation). ``"mean"``,
    ``"median"``, or a callable mapping the matrix to one value per row.
    """
    F = np.asarray(F, dtype=float)
    if F.ndim != 2 or F.shape[1] == 0:
        raise ValueError(f"need a (n_unlabelled, n_labelled) matrix with n_labelled >= 1, got {F.shape}")
    if callable(how):
        out = np.asarray(how(F), dtype=float)
        if out.shape != (F.shape[0],):
            raise ValueError(f"a callable aggregation must return one value per row, got shape {out.shape}")
        return out
    if how == "mean":
        return F.mean(1)
    if how == "median":
        return np.median(F, axis=1)
    if how != "trimmed_mean":
        raise ValueError(f"unknown aggregation {how!r}; use one of {AGGREGATIONS} or a callable")
    if not 0 <= lower < upper <= 100:
        raise ValueError(f"percentiles must satisfy 0 <= lower < upper <= 100, got {lower}, {upper}")
    lo, hi = np.percentile(F, [lower, upper], axis=1, keepdims=True)
    mask = (F >= lo) & (F <= hi)
    return (F * mask).sum(1) / mask.sum(1)


def fi_active(model: LinearModel, X_lab: ArrayLike, y_lab: ArrayLike, X_unl: ArrayLike,
              how: str | Callable = "trimmed_mean", hessian: torch.Tensor | None = None,
              rank: int | None = None, chunk: int = 256) -> np.ndarray:
    """``FI_active`` of every pool sample ([FI] Eq. 4.1, Algorithm 2), shape ``(n_U,)``.

    ``model`` must be fitted on ``(X_lab, y_lab)``; pool samples get the model's pseudo-labels.
    Rows of the pairwise matrix are aggregated chunk by chunk (memory ``chunk * n_L``).
    """
    E = fi_e_matrices(model, X_lab, y_lab, hessian, rank)
    return np.concatenate([aggregate(F, how) for F in _pairwise_chunks(model, E, X_unl, None, chunk)])


def fi_active_forest(model: LinearModel, X_lab: ArrayLike, y_lab: ArrayLike, X_unl: ArrayLike,
                     rng: np.random.Generator, alpha: float = 0.2, how: str | Callable = "trimmed_mean",
                     rank: int | None = None, n_estimators: int = 100) -> np.ndarray:
    """Subsampling approximation ([FI] Algorithm 8, lines 3-11): ``FI_active`` on a random
    ``alpha`` fraction of the pool, a random forest from features to the *ascending ranks*,
    predicted for the whole pool (larger = label first). ``rank`` adds the truncated SVD of
    Algorithm 7 (with the exact Hessian: for a linear head K-FAC saves nothing)."""
    from scipy.stats import rankdata
    from sklearn.ensemble import RandomForestRegressor

    if not 0 < alpha <= 1:
        raise ValueError(f"alpha is the subsampled fraction of the pool, in (0, 1]; got {alpha}")
    X = np.asarray(X_unl, dtype=float)
    n = X.shape[0]
    sub = np.sort(rng.choice(n, size=min(n, max(2, int(round(alpha * n)))), replace=False))
    values = fi_active(model, X_lab, y_lab, X[sub], how, rank=rank)
    forest = RandomForestRegressor(n_estimators=n_estimators, min_samples_leaf=2,
                                   random_state=int(rng.integers(0, 2**31 - 1)), n_jobs=1)
    forest.fit(X[sub], rankdata(tie_safe(values)))  # duplicated rows: equal ranks on every machine
    return forest.predict(X)


# ---------------------------------------------------------------------- baselines
def entropy_scores(model: LinearModel, X_unl: ArrayLike) -> np.ndarray:
    """Predictive entropy ``-sum_c p_c log p_c`` (uncertainty sampling)."""
    p = np.clip(model.predict_proba(X_unl), 1e-300, 1.0)
    return -(p * np.log(p)).sum(1)


def laplace_samples(model: LinearModel, X_lab: ArrayLike, y_lab: ArrayLike, n_samples: int,
                    rng: np.random.Generator) -> torch.Tensor:
    """Draws ``theta_s ~ N(theta_hat, H^{-1})`` (Laplace posterior of the L2-regularised
    logistic model, ``H`` the Hessian of the training objective), shape ``(S, p, m)``."""
    if n_samples < 2:
        raise ValueError(f"BALD needs at least 2 posterior samples, got {n_samples}")
    H = model.hessian(X_lab, y_lab)
    L = torch.linalg.cholesky(H)
    eps = torch.as_tensor(rng.standard_normal((H.shape[0], n_samples)), dtype=H.dtype)
    delta = torch.linalg.solve_triangular(L.T, eps, upper=True)  # cov = (L L^T)^{-1} = H^{-1}
    return model.theta_[None] + delta.T.reshape(n_samples, *model.theta_.shape)


def bald_scores(model: LinearModel, X_lab: ArrayLike, y_lab: ArrayLike, X_unl: ArrayLike,
                rng: np.random.Generator, n_samples: int = 100) -> np.ndarray:
    """BALD: mutual information between the label and the parameters,
    ``H[E_theta p(y|x, theta)] - E_theta H[p(y|x, theta)]``, Monte Carlo over the Laplace
    posterior (:func:`laplace_samples`). Top-``N`` by score (not the joint BatchBALD)."""
    thetas = laplace_samples(model, X_lab, y_lab, n_samples, rng)
    z = torch.einsum("np,spm->snm", model.design(X_unl), thetas)
    if z.shape[2] == 1:
        p1 = torch.sigmoid(z[..., 0])
        probs = torch.stack([1 - p1, p1], dim=-1)
    else:
        probs = torch.softmax(z, dim=-1)

    def ent(p: torch.Tensor) -> torch.Tensor:
        return -(p * torch.log(p.clamp_min(1e-300))).sum(-1)

    return (ent(probs.mean(0)) - ent(probs).mean(0)).clamp_min(0.0).numpy()


def iv_scores(model: LinearModel, X_lab: ArrayLike, y_lab: ArrayLike, X_val: ArrayLike,
              y_val: ArrayLike, X_unl: ArrayLike, rng: np.random.Generator, lam: float = 10.0,
              max_depth: int | None = 6) -> np.ndarray:
    """IV for active learning ([CH] §5.5, recomputed every round as in [FI] §6.2): utility
    influence of the labelled samples on the validation loss (book sign: positive = helps),
    a [CH] influence tree fitted on the *features only* (the pool is unlabelled; the label
    column of :func:`lib.trees.fit_influence_tree` is held constant), its prediction for the pool."""
    X_lab = np.asarray(X_lab, dtype=float)
    infl = utility_influence(model, X_lab, y_lab, X_val, y_val)
    tree = fit_influence_tree(X_lab, np.zeros(len(X_lab)), infl, rng, lam=lam, max_depth=max_depth)
    X_unl = np.asarray(X_unl, dtype=float)
    return tree.predict(np.column_stack([X_unl, np.zeros(len(X_unl))]))


# ---------------------------------------------------------------------- selection and rounds
def select_top(scores: ArrayLike, n: int, available: np.ndarray | None = None) -> np.ndarray:
    """Indices of the ``n`` largest scores among the ``available`` ones ([FI] Algorithm 4,
    line 4), ties broken by the lower index; never an unavailable index. Scores are compared after
    :func:`lib.reproducibility.tie_safe`: duplicated pool rows (Adult, Bank) score equal in exact
    arithmetic, and which of them is picked must not depend on the machine's floating noise."""
    s = np.asarray(scores, dtype=float)
    if s.ndim != 1:
        raise ValueError(f"scores must be 1-D, got shape {s.shape}")
    avail = np.ones(len(s), bool) if available is None else np.asarray(available, bool)
    if avail.shape != s.shape:
        raise ValueError(f"available mask has shape {avail.shape}, scores {s.shape}")
    idx = np.flatnonzero(avail)
    if not 0 < n <= len(idx):
        raise ValueError(f"cannot select {n} samples: {len(idx)} are still available")
    if np.isnan(s[idx]).any():
        raise ValueError("acquisition scores contain NaN")
    return idx[np.argsort(-tie_safe(s[idx]), kind="stable")[:n]]


def capped_rounds(rounds: int, pool: int, acquisition: int) -> tuple[int, str]:
    """``min(rounds, pool // acquisition)`` and a note; warns (:class:`RoundsCappedWarning`)
    when the cap bites (book/conventions.md §2: [FI] Tables 4-5 ask for more queries than the pool holds)."""
    for name, v in (("rounds", rounds), ("pool", pool), ("acquisition", acquisition)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
            raise TypeError(f"{name} must be an integer, got {v!r}")
    if rounds < 0:
        raise ValueError(f"rounds must be >= 0, got {rounds}")
    if acquisition < 1:
        raise ValueError(f"the acquisition size must be >= 1 sample per round, got {acquisition}")
    if acquisition > pool:
        raise ValueError(f"the acquisition size {acquisition} exceeds the unlabelled pool ({pool}): "
                         "use a larger pool or a smaller acquisition size")
    cap = pool // acquisition
    if rounds <= cap:
        return int(rounds), ""
    note = (f"{rounds} rounds x {acquisition} queries need {rounds * acquisition} pool samples but the "
            f"pool holds {pool}: capped at {cap} rounds (pool // acquisition)")
    warnings.warn(note, RoundsCappedWarning, stacklevel=2)
    return int(cap), note


# ---------------------------------------------------------------------- the loop
@dataclass
class ActiveSplit:
    """Initial labelled set, unlabelled pool (labels revealed only when queried), a validation
    set (used by IV only) and a test set; ``n_classes`` fixes ``K`` for every fit."""

    X_init: np.ndarray
    y_init: np.ndarray
    X_pool: np.ndarray
    y_pool: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    n_classes: int

    def __post_init__(self) -> None:
        for part in ("init", "pool", "val", "test"):
            X, y = getattr(self, f"X_{part}"), getattr(self, f"y_{part}")
            if X.ndim != 2 or y.shape != (X.shape[0],):
                raise ValueError(f"X_{part} must be (n, d) and y_{part} (n,), got {X.shape} and {y.shape}")
            if X.shape[1] != self.X_init.shape[1]:
                raise ValueError(f"X_{part} has {X.shape[1]} features, X_init {self.X_init.shape[1]}")
        missing = sorted(set(range(self.n_classes)) - set(np.unique(self.y_init).tolist()))
        if missing:
            raise ValueError(f"the initial labelled set lacks class(es) {missing}: the first model cannot "
                             "be fitted; use a larger initial pool or another seed")


@dataclass
class ActiveRun:
    """One active-learning run: the learning curve, the pool indices queried per round, and a
    note when the rounds were capped."""

    method: str
    history: pd.DataFrame
    queried: list[np.ndarray] = field(default_factory=list)
    rounds_requested: int = 0
    note: str = ""


def _scorer(method: str, split: ActiveSplit, rng: np.random.Generator, aggregation, forest_alpha: float,
            forest_trees: int, bald_samples: int, iv_lam: float, iv_depth: int | None):
    if method == "fi":
        return lambda m, X, y, U: fi_active(m, X, y, U, aggregation)
    if method == "fi-forest":
        return lambda m, X, y, U: fi_active_forest(m, X, y, U, rng, forest_alpha, aggregation,
                                                             n_estimators=forest_trees)
    if method == "iv":
        return lambda m, X, y, U: iv_scores(m, X, y, split.X_val, split.y_val, U, rng, iv_lam, iv_depth)
    if method == "bald":
        return lambda m, X, y, U: bald_scores(m, X, y, U, rng, bald_samples)
    if method == "entropy":
        return lambda m, X, y, U: entropy_scores(m, U)
    if method == "random":
        return lambda m, X, y, U: rng.random(len(U))
    raise ValueError(f"unknown acquisition method {method!r}; use one of {METHODS}")


def run_active_learning(split: ActiveSplit, method: str, rounds: int, acquisition: int,
                        rng: np.random.Generator, l2: float | str = "auto",
                        aggregation: str | Callable = "trimmed_mean", forest_alpha: float = 0.2,
                        forest_trees: int = 100, bald_samples: int = 100, iv_lam: float = 10.0,
                        iv_depth: int | None = 6) -> ActiveRun:
    """[FI] Algorithm 4: fit on the labelled set, score the remaining pool with ``method``,
    label the top ``acquisition`` samples, refit, repeat; test accuracy after every round.

    Rounds are capped at ``pool // acquisition`` (:func:`capped_rounds`). Every refit starts
    from zero (Newton converges in a few steps; a warm start near the optimum can stall the
    line search just above the gradient tolerance). ``history`` has one row per round ``0..R``
    (round 0 = the initial model): ``n_labeled``, ``accuracy``, ``seconds`` (scoring time).
    """
    scorer = _scorer(method, split, rng, aggregation, forest_alpha, forest_trees, bald_samples, iv_lam, iv_depth)
    n_pool = len(split.y_pool)
    R, note = capped_rounds(rounds, n_pool, acquisition)
    available = np.ones(n_pool, bool)
    X_lab, y_lab = split.X_init, split.y_init
    model = LogisticRegression(l2=l2).fit(X_lab, y_lab, n_classes=split.n_classes)
    rows = [{"round": 0, "n_labeled": len(y_lab), "accuracy": model.score(split.X_test, split.y_test),
             "seconds": 0.0}]
    queried = []
    for r in range(1, R + 1):
        pool_idx = np.flatnonzero(available)
        t0 = time.perf_counter()
        scores = np.asarray(scorer(model, X_lab, y_lab, split.X_pool[pool_idx]), dtype=float)
        dt = time.perf_counter() - t0
        picked = pool_idx[select_top(scores, acquisition)]
        if not available[picked].all():  # pragma: no cover - guarded by construction
            raise AssertionError("a pool sample was queried twice")
        available[picked] = False
        queried.append(picked)
        X_lab = np.concatenate([X_lab, split.X_pool[picked]])
        y_lab = np.concatenate([y_lab, split.y_pool[picked]])
        model = LogisticRegression(l2=l2).fit(X_lab, y_lab, n_classes=split.n_classes)
        rows.append({"round": r, "n_labeled": len(y_lab), "accuracy": model.score(split.X_test, split.y_test),
                     "seconds": dt})
    return ActiveRun(method, pd.DataFrame(rows), queried, rounds, note)


def compare_methods(split: ActiveSplit, methods: Sequence[str], rounds: int, acquisition: int, seed: int,
                    **options) -> tuple[pd.DataFrame, dict[str, ActiveRun]]:
    """Run every method on the same split; method ``i`` draws from ``default_rng([seed, i])``.
    Returns the stacked learning curves (columns ``method``, ``seed``, ``round``, ...) and the runs."""
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise ValueError(f"unknown acquisition method(s) {unknown}; use some of {METHODS}")
    runs, frames = {}, []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RoundsCappedWarning)  # the note is recorded on each run
        for i, m in enumerate(methods):
            run = run_active_learning(split, m, rounds, acquisition, np.random.default_rng([seed, i]), **options)
            runs[m] = run
            frames.append(run.history.assign(method=m, seed=seed))
    return pd.concat(frames, ignore_index=True), runs


