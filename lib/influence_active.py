"""Influence-based active learning with a learner that is not the influence model ([CH] §5.5,
App. C.4, App. G).

[CH] labels the pool samples whose *influence* on the validation loss is predicted to be the most
beneficial. The pool has no labels, so Algorithm 1's tree is trained **without the label column**:
a CART regression tree (with hierarchical shrinkage) from the features of the labelled samples to
their utility influence ([CH] Eq. 1, computed with a logistic-regression surrogate, App. C.4), then
evaluated on the pool (:func:`label_free_tree`). The learner is a linear SVM with Platt-scaled
probabilities (:class:`PlattSVM`; the authors' code uses ``SVC(kernel="linear", probability=True)``);
the influence surrogate is the book's L2 logistic regression. The authors' code fits the tree once,
on the initial labelled set,
and never refits it (``"tree"``); ``"tree-refit"`` refits it every round, which is the IV acquisition
of the FI chapter (:func:`lib.fi_active.iv_scores`; a unit test shows the two trees agree) with the
targets on a fixed-point grid (:func:`exact_targets`) so that the trees do not depend on the machine.

Baselines ([CH] §5.5): random; entropy, margin and uncertainty (least-confidence) sampling on the
learner's probabilities (modAL's definitions); ISAL (Liu et al. 2021) as we read it: the
influence of *adding* a pool sample with the learner's predicted label as pseudo-label,
``grad L_V^T H^{-1} grad loss(x_u, yhat_u)`` (the predicted decrease of the summed validation loss,
logistic surrogate on the labelled set); and FI-active ([FI], :func:`lib.fi_active.fi_active`,
reused) on the same surrogate. For a binary task entropy, margin and uncertainty order the pool
identically (each is a decreasing function of ``|p - 1/2|``): they are one strategy, and any
difference between their curves is noise of the learner (a unit test checks the orders).

The round structure (labelled set, pool, validation and test sets; capped rounds; top-``N``
selection) is :mod:`lib.fi_active`'s (:class:`~lib.fi_active.ActiveSplit`,
:func:`~lib.fi_active.capped_rounds`, :func:`~lib.fi_active.select_top`).
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd
from sklearn.tree import DecisionTreeRegressor

from . import fi_active
from .fi_active import ActiveRun, ActiveSplit, RoundsCappedWarning, capped_rounds, select_top
from .influence import class_loss_gradients, influence, utility_influence
from .models import LogisticRegression
from .trees import InfluenceTree, hierarchical_shrinkage

#: acquisition functions of :func:`run_active` (larger score = label first)
METHODS = ("tree", "tree-refit", "isal", "fi", "entropy", "margin", "uncertainty", "random")


def platt_sigmoid(f: np.ndarray, y: np.ndarray, tol: float = 1e-12, max_iter: int = 100) -> tuple[float, float]:
    """Platt's (1999) sigmoid ``P(y=1 | f) = sigmoid(a f + b)`` fitted to decision values ``f`` by
    Newton's method on the cross-entropy with Platt's smoothed targets ``(N+ + 1) / (N+ + 2)`` and
    ``1 / (N- + 2)``. Converged to ``tol`` (not to an optimiser's default tolerance), so the fitted
    probabilities differ between machines only by rounding, not by where an iteration stopped."""
    f, y = np.asarray(f, dtype=float), np.asarray(y)
    n1, n0 = int((y == 1).sum()), int((y == 0).sum())
    t = np.where(y == 1, (n1 + 1.0) / (n1 + 2.0), 1.0 / (n0 + 2.0))
    Z = np.column_stack([f, np.ones_like(f)])
    w = np.array([0.0, np.log((n1 + 1.0) / (n0 + 1.0))])

    def loss(w):
        z = Z @ w
        return float(np.sum(np.logaddexp(0.0, z) - t * z))

    for _ in range(max_iter):
        p = 1.0 / (1.0 + np.exp(-(Z @ w)))
        g = Z.T @ (p - t)
        if np.abs(g).max() < tol:
            break
        H = (Z * (p * (1 - p))[:, None]).T @ Z + 1e-12 * np.eye(2)
        step = np.linalg.solve(H, g)
        lr, J = 1.0, loss(w)
        while loss(w - lr * step) > J - 1e-4 * lr * float(g @ step) and lr > 1e-10:
            lr *= 0.5
        w = w - lr * step
    return float(w[0]), float(w[1])


class PlattSVM:
    """A linear SVM with Platt-scaled probabilities, the learner of [CH] §5.5 (the authors' code uses
    ``SVC(kernel="linear", probability=True)``, deprecated in scikit-learn 1.9, whose internal folds
    are unseeded).

    ``predict`` is the sign of the decision function of the SVM fitted on all labelled samples;
    ``predict_proba`` applies Platt's sigmoid (:func:`platt_sigmoid`) fitted to out-of-fold decision
    values (stratified folds, not shuffled: deterministic), computed on the first call only.
    ``C`` and ``tol`` are ``SVC``'s (defaults 1 and 1e-3). libsvm's SMO stops at the KKT tolerance
    ``tol``, so its decision values depend, at about 1e-4, on the path the solver took, which a
    last-bit change of a kernel value (BLAS dot products) alters: give it features on which every dot
    product is exact (:func:`exact_grid`) to make it machine-independent.
    """

    def __init__(self, C: float = 1.0, folds: int = 5, tol: float = 1e-3) -> None:
        self.C = float(C)
        self.folds = int(folds)
        self.tol = float(tol)

    def fit(self, X: np.ndarray, y: np.ndarray) -> PlattSVM:
        from sklearn.svm import SVC

        self.X_, self.y_ = np.asarray(X, dtype=float), np.asarray(y)
        if np.bincount(self.y_).min() < 2:
            raise ValueError("Platt scaling needs at least 2 labelled samples of every class")
        self.svm_ = SVC(kernel="linear", C=self.C, tol=self.tol).fit(self.X_, self.y_)
        self.sigmoid_ = None  # fitted on the first predict_proba (only uncertainty sampling asks)
        return self

    def decision_function(self, X: np.ndarray) -> np.ndarray:
        return self.svm_.decision_function(X)

    def predict(self, X: np.ndarray) -> np.ndarray:
        return self.svm_.predict(X)

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        if self.sigmoid_ is None:
            from sklearn.model_selection import StratifiedKFold, cross_val_predict
            from sklearn.svm import SVC

            folds = StratifiedKFold(min(self.folds, int(np.bincount(self.y_).min())))
            f = cross_val_predict(
                SVC(kernel="linear", C=self.C, tol=self.tol), self.X_, self.y_, cv=folds, method="decision_function"
            )
            self.sigmoid_ = platt_sigmoid(f, self.y_)
        a, b = self.sigmoid_
        p1 = 1.0 / (1.0 + np.exp(-(a * self.decision_function(X) + b)))
        return np.column_stack([1.0 - p1, p1])

    def score(self, X: np.ndarray, y: np.ndarray) -> float:
        return float((self.predict(X) == np.asarray(y)).mean())


def linear_svm(random_state: int) -> PlattSVM:
    """The default learner of :func:`run_active` (``random_state`` is unused: the fit is deterministic)."""
    return PlattSVM()


def exact_grid(*arrays: np.ndarray) -> tuple[np.ndarray, ...]:
    """The arrays on one binary grid fine enough to keep the data (step ``2**-k``, ``k <= 20``) and
    coarse enough that every dot product of two rows is computed exactly in float64 (all products
    and partial sums are multiples of ``2**-2k`` below ``2**52`` of them), in any summation order.
    Kernel values, and therefore libsvm's path, are then the same on every machine."""
    arrays = [np.asarray(a, dtype=float) for a in arrays]
    top = max(float(np.abs(a).max()) for a in arrays if a.size)
    d = max(a.shape[1] for a in arrays)
    # need d * top^2 / step^2 < 2^52  ->  k < (52 - log2(d) - 2 log2(top)) / 2
    k = min(20, int(np.floor((52 - np.log2(d) - 2 * np.log2(max(top, 1.0))) / 2)) - 1)
    if k < 8:
        raise ValueError(
            f"features up to {top:.3g} in {d} dimensions cannot be put on an exact-dot grid finer than "
            "2^-8: standardise them first"
        )
    step = 2.0**-k
    return tuple(np.round(a / step) * step for a in arrays)


# ---------------------------------------------------------------------- the label-free tree
def exact_targets(values: np.ndarray, bits: int = 30) -> np.ndarray:
    """The values on a binary fixed-point grid: multiples of ``2**(e - bits)`` with ``2**e >= max|v|``.

    CART compares split improvements built from partial sums of the targets. Two features that cut
    the labelled samples into the same two groups (co-monotone features, frequent in small sets)
    tie exactly, but with float targets the sums are accumulated in a feature-dependent order and
    the tie is broken by rounding noise, which differs between machines and code paths; the trees
    then split on different features and predict the pool differently. On this grid every partial
    sum of up to ``2**(52 - bits)`` targets is exact, so such ties are broken the same way
    everywhere (by the tree's feature order). The grid's step is ``2**-bits`` of the largest value.
    """
    v = np.asarray(values, dtype=float)
    top = float(np.abs(v).max()) if v.size else 0.0
    if top == 0.0 or not np.isfinite(top):
        return v.copy()
    step = 2.0 ** (int(np.ceil(np.log2(top))) - bits)
    return np.round(v / step) * step


def label_free_tree(
    X: np.ndarray,
    influence_values: np.ndarray,
    rng: np.random.Generator,
    lam: float = 10.0,
    max_depth: int | None = 6,
    min_samples_leaf: int = 3,
) -> InfluenceTree:
    """[CH] Algorithm 1 without the label column (§5.5): CART from ``x_i`` to ``I(-x_i)``, then
    hierarchical shrinkage with ``lam``. ``predict`` takes plain feature rows (pool samples). The
    targets are first put on a fine fixed-point grid (:func:`exact_targets`) so that the tree is the
    same on every machine."""
    X = np.asarray(X, dtype=float)
    targets = exact_targets(np.asarray(influence_values, dtype=float))
    if X.ndim != 2 or targets.shape != (X.shape[0],):
        raise ValueError(f"need X of shape (n, d) and one influence value per row, got {X.shape} and {targets.shape}")
    cart = DecisionTreeRegressor(
        max_depth=max_depth, min_samples_leaf=min_samples_leaf, random_state=int(rng.integers(0, 2**31 - 1))
    ).fit(X, targets)
    return InfluenceTree(cart, float(lam), hierarchical_shrinkage(cart, lam))


# ---------------------------------------------------------------------- scores
def uncertainty_scores(proba: np.ndarray) -> np.ndarray:
    """Least confidence ``1 - max_c p_c`` (modAL's uncertainty sampling)."""
    return 1.0 - np.asarray(proba).max(1)


def margin_scores(proba: np.ndarray) -> np.ndarray:
    """Minus the gap between the two largest probabilities (modAL's margin sampling)."""
    p = np.sort(np.asarray(proba), axis=1)
    return -(p[:, -1] - p[:, -2])


def entropy_scores(proba: np.ndarray) -> np.ndarray:
    """Predictive entropy ``-sum_c p_c log p_c`` (modAL's entropy sampling)."""
    p = np.clip(np.asarray(proba), 1e-300, 1.0)
    return -(p * np.log(p)).sum(1)


def isal_scores(
    surrogate: LogisticRegression,
    X_lab: np.ndarray,
    y_lab: np.ndarray,
    X_val: np.ndarray,
    y_val: np.ndarray,
    X_unl: np.ndarray,
    pseudo: np.ndarray,
) -> np.ndarray:
    """Influence of *adding* each pool sample with its pseudo-label on the summed validation loss:
    ``grad L_V^T H^{-1} grad loss(x_u, yhat_u)`` with the surrogate's Hessian on the labelled set
    (positive = adding it is predicted to lower the validation loss)."""
    H = surrogate.hessian(X_lab, y_lab)
    g = class_loss_gradients(surrogate, X_val, y_val).sum(0)
    return influence(surrogate, X_unl, pseudo, g, hessian=H)


# ---------------------------------------------------------------------- the loop
def run_active(
    split: ActiveSplit,
    method: str,
    rounds: int,
    acquisition: int,
    rng: np.random.Generator,
    learner: Callable[[int], object] | None = None,
    learner_state: int = 0,
    l2: float | str = "auto",
    tree_lam: float = 10.0,
    tree_depth: int | None = 6,
    tree_min_leaf: int = 3,
) -> ActiveRun:
    """[CH] §5.5: fit the learner on the labelled set, score the pool with ``method``, label the top
    ``acquisition`` samples, refit, repeat; test accuracy of the learner after every round.

    ``learner(random_state)`` builds the classifier (default :func:`linear_svm`, refitted from scratch
    every round with ``learner_state``); influence methods use a logistic-regression surrogate
    (``l2``) fitted on the labelled set (App. C.4). ``"tree"`` fits :func:`label_free_tree` once, on the
    initial labelled set (the authors' code); ``"tree-refit"`` every round. Rounds are capped at
    ``pool // acquisition``. ``history``: ``round``, ``n_labeled``, ``accuracy``, ``seconds``.
    """
    if method not in METHODS:
        raise ValueError(f"unknown acquisition method {method!r}; use one of {METHODS}")
    make = linear_svm if learner is None else learner
    R, note = capped_rounds(rounds, len(split.y_pool), acquisition)
    available = np.ones(len(split.y_pool), bool)
    X_lab, y_lab = split.X_init, split.y_init

    def fit_learner(X, y):
        return make(learner_state).fit(X, y)

    def surrogate(X, y):
        return LogisticRegression(l2=l2).fit(X, y, n_classes=split.n_classes)

    fixed_tree = None
    if method == "tree":
        s0 = surrogate(X_lab, y_lab)
        fixed_tree = label_free_tree(
            X_lab,
            utility_influence(s0, X_lab, y_lab, split.X_val, split.y_val),
            rng,
            tree_lam,
            tree_depth,
            tree_min_leaf,
        )
    model = fit_learner(X_lab, y_lab)
    rows = [
        {
            "round": 0,
            "n_labeled": len(y_lab),
            "accuracy": float(model.score(split.X_test, split.y_test)),
            "seconds": 0.0,
        }
    ]
    queried = []
    for r in range(1, R + 1):
        pool_idx = np.flatnonzero(available)
        U = split.X_pool[pool_idx]
        t0 = time.perf_counter()
        if method == "random":
            scores = rng.random(len(U))
        elif method in ("entropy", "margin", "uncertainty"):
            proba = model.predict_proba(U)
            score = {"entropy": entropy_scores, "margin": margin_scores, "uncertainty": uncertainty_scores}[method]
            scores = score(proba)
        elif method == "tree":
            scores = fixed_tree.predict(U)
        else:
            s = surrogate(X_lab, y_lab)
            if method == "tree-refit":  # = fi_active.iv_scores (a unit test), with machine-independent ties
                infl = utility_influence(s, X_lab, y_lab, split.X_val, split.y_val)
                scores = label_free_tree(X_lab, infl, rng, tree_lam, tree_depth, tree_min_leaf).predict(U)
            elif method == "isal":
                scores = isal_scores(s, X_lab, y_lab, split.X_val, split.y_val, U, model.predict(U))
            else:  # "fi"
                scores = fi_active.fi_active(s, X_lab, y_lab, U)
        dt = time.perf_counter() - t0
        # rounded before ranking: scores equal up to float noise (tree leaves, symmetric probabilities)
        # must tie exactly so that every machine labels the same samples
        picked = pool_idx[select_top(np.round(np.asarray(scores, dtype=float), 10), acquisition)]
        available[picked] = False
        queried.append(picked)
        X_lab = np.concatenate([X_lab, split.X_pool[picked]])
        y_lab = np.concatenate([y_lab, split.y_pool[picked]])
        model = fit_learner(X_lab, y_lab)
        rows.append(
            {
                "round": r,
                "n_labeled": len(y_lab),
                "accuracy": float(model.score(split.X_test, split.y_test)),
                "seconds": dt,
            }
        )
    return ActiveRun(method, pd.DataFrame(rows), queried, rounds, note)


def compare_methods(
    split: ActiveSplit, methods: Sequence[str], rounds: int, acquisition: int, seed: int, **options
) -> tuple[pd.DataFrame, dict[str, ActiveRun]]:
    """Run every method on one split. Method ``i`` draws from ``default_rng([seed, i])``; the learner's
    own randomness (Platt scaling's internal folds) is ``learner_state = seed`` for every method, so
    methods differ only in what they label. Returns the stacked curves (``method``, ``seed``, ``round``,
    ``n_labeled``, ``accuracy``, ``seconds``) and the runs."""
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise ValueError(f"unknown acquisition method(s) {unknown}; use some of {METHODS}")
    runs, frames = {}, []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RoundsCappedWarning)  # the note is recorded on each run
        for i, m in enumerate(methods):
            run = run_active(
                split, m, rounds, acquisition, np.random.default_rng([seed, i]), learner_state=seed, **options
            )
            runs[m] = run
            frames.append(run.history.assign(method=m, seed=seed))
    return pd.concat(frames, ignore_index=True), runs
