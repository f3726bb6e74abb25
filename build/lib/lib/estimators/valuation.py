"""Retraining-based and game-theoretic influence estimators ([S] Hammoudeh & Lowd, §4).

Every method here values a training sample by retraining on subsets ``S`` of the training
set ``D`` and reading a *utility* ``U(S)`` (a cooperative game). The book's sign convention
(see the conventions page) holds throughout: **positive = the sample helps** (raises ``U``).

* leave-one-out ([S] §4.1, Eq. 7): ``U(D) - U(D \\ {i})``;
* DOWNSAMPLING (Feldman & Zhang 2020, [S] §4.2, Eq. 8): mean ``U`` of random size-``m``
  subsets containing ``i`` minus mean ``U`` of those without it;
* Shapley value ([S] §4.3, Eq. 16), estimated by truncated Monte Carlo (TMC-Shapley,
  Ghorbani & Zou 2019), exactly for k-nearest-neighbour utilities (kNN-Shapley, Jia et al.
  2019, [S] Eq. 25), and its cardinality-reweighted variant Beta Shapley (Kwon & Zou 2022);
* Banzhaf value ([S] Eq. 26) by maximum sample reuse (MSR, Wang & Jia 2023).

Two layers:

* *game* functions take a generic ``utility_fn(subset_indices) -> float`` and the number of
  players ``n`` (``exact_shapley``, ``exact_banzhaf``, ``tmc_shapley_game``, ...). Tests use
  them with cheap synthetic games whose values are known.
* *task* functions follow the common call shape of :mod:`lib.estimators`
  (``estimator(task, rng, **options) -> (n_train,)``) and wrap the game functions with
  :func:`task_utility_fn`: ``U(S)`` = ``-(summed validation loss)`` of the task's logistic
  regression trained on ``S`` (``utility="loss"``) or its validation accuracy
  (``utility="accuracy"``). ``U(empty set)`` is defined explicitly as the utility of the
  uniform prior ``p(y|x) = 1/K`` (``-n_val log K`` resp. ``1/K``): no model is trained on no
  data. A subset that lacks a class still trains (``n_classes`` is fixed by the task).
  On an :class:`~lib.estimators.mlp.MLPTask` ``U(S)`` is the MLP retrained on ``S`` from the
  task's seed (one seed: the deterministic training run, not the survey's expectation over
  seeds), and the subsets a Monte-Carlo estimator needs are retrained together in batches
  (``MLPTask.utilities``): the values are the same as one fit at a time.

The Monte-Carlo estimators take ``return_stderr=True`` to return ``(values, stderr)``: the
per-sample standard error of the estimate (sample standard deviation of the draws over
``sqrt(#draws)``; for the in/out estimators, of a difference of two means).

Complexities ([S] Table 1, with ``T`` the cost of one training run): LOO ``O(nT)``,
DOWNSAMPLING ``O(KT)`` for ``K`` submodels, TMC-Shapley ``O(P n T)`` for ``P`` permutations
(``P ~ n`` in [GZ19], so ``O(n^2 T)``), MSR Banzhaf ``O(M T)`` for ``M`` sampled subsets,
kNN-Shapley ``O(N_val n log n)`` with no training at all.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import numpy as np
from scipy.special import betaln, gammaln

from ..models import DifferentiableModel, LogisticRegression, SingularHessianError
from ..reproducibility import torch_threads
from .task import UTILITIES, Task

#: ``utility_fn(subset_indices) -> float``: the value of a coalition of training samples.
UtilityFn = Callable[[np.ndarray], float]

#: Largest ``n`` the exact enumeration oracles accept (``2**n`` utility evaluations).
MAX_EXACT_N = 14

MISSING_CLASS = ("fit", "prior")


# ---------------------------------------------------------------------------- helpers
def _check_rng(rng: np.random.Generator | None, name: str) -> np.random.Generator:
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"{name} needs an explicit numpy Generator as rng "
                        f"(rng = lib.reproducibility.setup(seed)), got {type(rng).__name__}")
    return rng


def _check_positive_int(value, name: str, minimum: int = 1) -> int:
    if not (isinstance(value, (int, np.integer)) and value >= minimum):
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _check_n(n, name: str = "n") -> int:
    return _check_positive_int(n, name, 1)


def _check_utility(utility: str) -> str:
    if utility not in UTILITIES:
        raise ValueError(f"utility must be one of {UTILITIES}, got {utility!r}")
    return utility


def _model_utility(task: Task, model: DifferentiableModel, utility: str) -> float:
    if utility == "loss":
        return task.utility(model)
    return model.score(task.X_val, task.y_val)


def empty_utility(task: Task, utility: str = "loss") -> float:
    """``U(empty set)``: the utility of the uniform prior ``p(y|x) = 1/K``.

    ``-n_val * log K`` for ``utility="loss"`` (the cross-entropy of uniform predictions) and
    the expected accuracy of a uniform random guess, ``1/K``, for ``utility="accuracy"``.
    """
    _check_utility(utility)
    K = int(task.n_classes)
    if utility == "loss":
        return -len(task.y_val) * float(np.log(K))
    return 1.0 / K


class TaskUtility:
    """``U(S)`` of a :class:`~lib.estimators.Task`: train on subset ``S``, score on validation.

    Callable as ``utility_fn(subset_indices) -> float``. Results are cached by subset (the
    Monte-Carlo estimators revisit small subsets often). Each fit is warm-started at the
    full-data model's parameters (``Task.fit_subset``); rows outside ``S`` get weight 0,
    which in the sum-form objective is identical to training on ``S`` alone.

    ``missing_class`` says what a subset that lacks one of the task's classes is worth:

    * ``"fit"`` (default): train anyway (``n_classes`` is fixed by the task). The intercept of
      an absent class then diverges and training stops where the gradient norm falls below
      the solver's tolerance, so with ``utility="loss"`` such subsets get very large,
      tolerance-dependent losses (e.g. ~20 nats per validation point of the absent class).
      With a softmax (K > 2) Newton's Hessian can become singular on the way; such fits fall
      back to a short L-BFGS run (counted in ``n_fallbacks``, with a warning); prefer
      ``"prior"`` for multi-class tasks.
    * ``"prior"``: ``U(S) = U(empty set)`` (the uniform prior), as in Ghorbani & Zou's public
      TMC-Shapley code, which only trains once every class is present.

    ``n_fits`` counts the models actually trained; ``threads`` is torch's thread count
    during the fits (see :func:`torch_threads`).
    """

    def __init__(self, task: Task, utility: str = "loss", missing_class: str = "fit",
                 cache: bool = True, threads: int | None = 1) -> None:
        if not isinstance(task, Task):
            raise TypeError(f"task must be a lib.estimators.Task, got {type(task).__name__}")
        if missing_class not in MISSING_CLASS:
            raise ValueError(f"missing_class must be one of {MISSING_CLASS}, got {missing_class!r}")
        self.task = task
        self.utility = _check_utility(utility)
        self.missing_class = missing_class
        self.threads = threads
        self.n = task.n_train
        self.empty = empty_utility(task, utility)
        self._y = np.asarray(task.y_train).astype(np.int64)
        self._cache: dict[bytes, float] | None = {} if cache else None
        self.n_fits = 0
        self.n_fallbacks = 0
        with torch_threads(threads):
            task.model  # fit (and cache) the full model once: every subset fit warm-starts there

    def _lookup(self, subset: np.ndarray) -> tuple[np.ndarray, float | None]:
        """``(sorted indices, value or None when a model must be trained)``."""
        idx = np.unique(np.asarray(subset, dtype=np.int64))
        if idx.size and (idx[0] < 0 or idx[-1] >= self.n):
            raise IndexError(f"subset indices must lie in [0, {self.n}), got {idx[0]}..{idx[-1]}")
        if idx.size == 0:
            return idx, self.empty
        if idx.size == self.n:
            return idx, _model_utility(self.task, self.task.model, self.utility)
        if self.missing_class == "prior" and np.unique(self._y[idx]).size < self.task.n_classes:
            return idx, self.empty
        if self._cache is not None:
            return idx, self._cache.get(idx.tobytes())
        return idx, None

    def __call__(self, subset: np.ndarray) -> float:
        idx, value = self._lookup(subset)
        if value is not None:
            return value
        with torch_threads(self.threads):
            value = _model_utility(self.task, self._fit(idx), self.utility)
        self.n_fits += 1
        if self._cache is not None:
            self._cache[idx.tobytes()] = value
        return value

    @property
    def supports_batch(self) -> bool:
        """Whether the task retrains many subsets at once (``MLPTask.utilities``)."""
        return hasattr(self.task, "utilities")

    def batch(self, masks: np.ndarray) -> np.ndarray:
        """``U(S)`` for every row of the boolean ``(M, n)`` matrix ``masks``; the subsets that need a
        model are retrained together (``task.utilities``), the rest come from the cache or the
        conventions of :meth:`__call__`. Same values as calling the game row by row."""
        if not self.supports_batch:
            return np.array([float(self(np.flatnonzero(m))) for m in masks])
        masks = np.asarray(masks, dtype=bool)
        values = np.empty(len(masks))
        todo: dict[bytes, list[int]] = {}
        for r, m in enumerate(masks):
            idx, value = self._lookup(np.flatnonzero(m))
            if value is None:
                todo.setdefault(idx.tobytes(), []).append(r)
            else:
                values[r] = value
        if todo:
            rows = [rs[0] for rs in todo.values()]
            with torch_threads(self.threads):
                fitted = self.task.utilities(masks[rows].astype(float), utility=self.utility)
            self.n_fits += len(rows)
            for (key, rs), v in zip(todo.items(), fitted):
                values[rs] = float(v)
                if self._cache is not None:
                    self._cache[key] = float(v)
        return values


    def _fit(self, idx: np.ndarray) -> DifferentiableModel:
        try:
            return self.task.fit_subset(idx)
        except SingularHessianError:
            # A softmax subset that lacks a class: that class's intercept runs off to -inf, its
            # curvature vanishes and Newton's Cholesky fails before the gradient tolerance is
            # met. No finite optimum exists; a short L-BFGS run (<= 50 iterations, no Hessian)
            # gives a model that is as arbitrary as Newton's stopping point, but cheaply.
            if self.n_fallbacks == 0:
                warnings.warn("a training subset lacks a class and the softmax has no finite "
                              "optimum; using a short L-BFGS fit (values of such subsets depend "
                              "on the solver). Use missing_class='prior' for a defined utility.",
                              RuntimeWarning, stacklevel=3)
            self.n_fallbacks += 1
            w = np.zeros(self.n)
            w[idx] = 1.0
            return LogisticRegression(l2=self.task.l2, solver="lbfgs", max_iter=1).fit(
                self.task.X_train, self.task.y_train, sample_weight=w, n_classes=self.task.n_classes,
                warm_start=self.task.model.theta_)


def task_utility_fn(task: Task, utility: str = "loss", missing_class: str = "fit") -> TaskUtility:
    """The task's utility game ``U(S)`` as a ``utility_fn`` (see :class:`TaskUtility`)."""
    return TaskUtility(task, utility, missing_class)


def _in_out_difference(masks: np.ndarray, values: np.ndarray, method: str,
                       return_stderr: bool = False
                      ) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """``mean U(S: i in S) - mean U(S: i not in S)`` for every ``i``, from ``(M, n)`` masks;
    with ``return_stderr`` also its Monte-Carlo standard error (two independent-sample means)."""
    masks = masks.astype(float)
    n_in = masks.sum(0)
    n_out = masks.shape[0] - n_in
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_in, mean_out = (values @ masks) / n_in, (values @ (1.0 - masks)) / n_out
        est = mean_in - mean_out
        if return_stderr:
            var_in = ((values**2) @ masks / n_in - mean_in**2) * n_in / (n_in - 1)
            var_out = ((values**2) @ (1.0 - masks) / n_out - mean_out**2) * n_out / (n_out - 1)
            se = np.sqrt(np.maximum(var_in, 0) / n_in + np.maximum(var_out, 0) / n_out)
    bad = (n_in == 0) | (n_out == 0)
    if bad.any():
        warnings.warn(f"{method}: {int(bad.sum())} samples were in all or in none of the sampled "
                      "subsets; their value is NaN. Increase the number of sampled subsets.",
                      RuntimeWarning, stacklevel=3)
    return (est, se) if return_stderr else est


def _evaluate_masks(utility_fn: UtilityFn, masks: np.ndarray) -> np.ndarray:
    if getattr(utility_fn, "supports_batch", False):
        return utility_fn.batch(masks)
    return np.array([float(utility_fn(np.flatnonzero(m))) for m in masks])


# ---------------------------------------------------------------------------- exact oracles
def _all_masks(n: int) -> tuple[np.ndarray, np.ndarray]:
    codes = np.arange(2**n, dtype=np.int64)
    bits = ((codes[:, None] >> np.arange(n)) & 1).astype(bool)
    return codes, bits


def exact_semivalue(utility_fn: UtilityFn, n: int, subset_weights: np.ndarray) -> np.ndarray:
    """``phi_i = sum_{S subset D\\{i}} p(|S|) [U(S + i) - U(S)]`` by full enumeration.

    ``subset_weights[s]`` is the weight ``p(s)`` of one coalition of size ``s = 0..n-1``
    (a semivalue, [S] §4.3: Shapley ``p(s) = 1/(n C(n-1, s))``, Banzhaf ``p(s) = 2^{1-n}``).
    Costs ``2^n`` utility evaluations, so ``n <= MAX_EXACT_N``.
    """
    n = _check_n(n)
    if n > MAX_EXACT_N:
        raise ValueError(f"exact enumeration needs 2**n utility evaluations; n={n} exceeds "
                         f"MAX_EXACT_N={MAX_EXACT_N}: use a Monte-Carlo estimator instead")
    p = np.asarray(subset_weights, dtype=float)
    if p.shape != (n,):
        raise ValueError(f"subset_weights must have one entry per coalition size 0..n-1, "
                         f"shape ({n},), got {p.shape}")
    codes, bits = _all_masks(n)
    u = _evaluate_masks(utility_fn, bits)
    size = bits.sum(1)
    with_i = codes[:, None] | (1 << np.arange(n))[None, :]        # (2^n, n): S + i
    marginal = u[with_i] - u[:, None]
    w = np.where(bits, 0.0, p[np.minimum(size, n - 1)][:, None])  # only S not containing i
    return (w * marginal).sum(0)


def shapley_subset_weights(n: int) -> np.ndarray:
    """Shapley weight of one coalition of size ``s``: ``s!(n-1-s)!/n!`` ([S] Eq. 16)."""
    s = np.arange(n)
    return np.exp(gammaln(s + 1) + gammaln(n - s) - gammaln(n + 1))


def beta_subset_weights(n: int, alpha: float, beta: float) -> np.ndarray:
    """Beta(alpha, beta)-Shapley weight of one coalition of size ``s`` (Kwon & Zou 2022, Eq. 3):

    ``p(s) = w(s+1)/n`` with ``w(j) = n B(j + beta - 1, n - j + alpha) / B(alpha, beta)``, i.e.
    ``p(s) = B(s + beta, n - s - 1 + alpha) / B(alpha, beta)``. ``alpha = beta = 1`` is the
    Shapley value; ``alpha > beta`` (their default ``(16, 1)``) favours small coalitions.
    """
    if not (alpha > 0 and beta > 0):
        raise ValueError(f"alpha and beta must be > 0, got alpha={alpha!r}, beta={beta!r}")
    s = np.arange(n)
    return np.exp(betaln(s + beta, n - s - 1 + alpha) - betaln(alpha, beta))


def exact_shapley(utility_fn: UtilityFn, n: int) -> np.ndarray:
    """Exact Shapley values ([S] Eq. 16) of the game ``utility_fn`` on ``n <= 14`` players."""
    return exact_semivalue(utility_fn, n, shapley_subset_weights(_check_n(n)))


def exact_banzhaf(utility_fn: UtilityFn, n: int) -> np.ndarray:
    """Exact Banzhaf values ([S] Eq. 26): every coalition weighs ``2^{1-n}``."""
    n = _check_n(n)
    return exact_semivalue(utility_fn, n, np.full(n, 2.0 ** (1 - n)))


def exact_beta_shapley(utility_fn: UtilityFn, n: int, alpha: float = 16.0, beta: float = 1.0) -> np.ndarray:
    """Exact Beta(alpha, beta)-Shapley values (Kwon & Zou 2022) by enumeration."""
    n = _check_n(n)
    return exact_semivalue(utility_fn, n, beta_subset_weights(n, alpha, beta))


def exact_downsampling(utility_fn: UtilityFn, n: int, m: int) -> np.ndarray:
    """The expectation DOWNSAMPLING estimates ([S] Eq. 8 with ``K -> inf``): mean ``U`` over all
    size-``m`` subsets containing ``i`` minus the mean over those without ``i``."""
    n = _check_n(n)
    if not 1 <= m < n:
        raise ValueError(f"subset size m must satisfy 1 <= m < n={n}, got {m}")
    _, bits = _all_masks(n)
    bits = bits[bits.sum(1) == m]
    return _in_out_difference(bits, _evaluate_masks(utility_fn, bits), "exact_downsampling")


# ---------------------------------------------------------------------------- Monte Carlo games
def _subset_size(n: int, subset_frac: float) -> int:
    if not 0 < subset_frac < 1:
        raise ValueError(f"subset_frac must lie in (0, 1), got {subset_frac!r}")
    m = int(round(subset_frac * n))
    if not 1 <= m < n:
        raise ValueError(f"subset_frac={subset_frac} gives subsets of {m} of n={n} samples; "
                         "need 1 <= m < n (raise n or change subset_frac)")
    return m


def downsampling_game(utility_fn: UtilityFn, n: int, rng: np.random.Generator, *,
                      n_models: int = 200, subset_frac: float = 0.7, return_stderr: bool = False
                      ) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """DOWNSAMPLING (Feldman & Zhang 2020; [S] §4.2, Eq. 8) on a generic game.

    Trains ``K = n_models`` submodels on uniformly random subsets of fixed size
    ``m = round(subset_frac * n)`` ([FZ20] use ``m/n = 0.7``) and returns, for each ``i``,
    the mean utility of the submodels that saw ``i`` minus the mean of those that did not.
    Its expectation is :func:`exact_downsampling`, the *expected* LOO effect at size ``m``.
    """
    n = _check_n(n)
    rng = _check_rng(rng, "downsampling")
    K = _check_positive_int(n_models, "n_models", 2)
    m = _subset_size(n, subset_frac)
    order = rng.random((K, n)).argsort(axis=1)
    masks = np.zeros((K, n), dtype=bool)
    np.put_along_axis(masks, order[:, :m], True, axis=1)
    return _in_out_difference(masks, _evaluate_masks(utility_fn, masks), "downsampling", return_stderr)


def banzhaf_msr_game(utility_fn: UtilityFn, n: int, rng: np.random.Generator, *,
                     n_samples: int = 500, return_stderr: bool = False
                      ) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """Banzhaf values by maximum sample reuse (MSR, Wang & Jia 2023; [S] Eq. 26).

    Draws ``n_samples`` subsets with every sample included independently with probability
    1/2 (a uniform draw from the power set) and reuses *every* draw for *every* sample:
    ``phi_i = mean U(S: i in S) - mean U(S: i not in S)``. Unbiased up to the (vanishing)
    event that ``i`` is in all or none of the draws.
    """
    n = _check_n(n)
    rng = _check_rng(rng, "banzhaf_msr")
    M = _check_positive_int(n_samples, "n_samples", 2)
    masks = rng.random((M, n)) < 0.5
    return _in_out_difference(masks, _evaluate_masks(utility_fn, masks), "banzhaf_msr", return_stderr)


def _permutation_semivalue(utility_fn: UtilityFn, n: int, rng: np.random.Generator,
                           n_permutations: int, truncation_tol: float,
                           position_weights: np.ndarray, method: str, return_stderr: bool = False
                      ) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """Permutation sampling of a semivalue with importance weights per coalition size.

    For each random permutation the marginal contribution of the sample at position ``s``
    (``s`` samples before it) is ``U(prefix + i) - U(prefix)``, weighted by
    ``position_weights[s] = n C(n-1, s) p(s)`` (1 for Shapley). Truncation ([GZ19] Alg. 1):
    once ``|U(D) - U(prefix)| < truncation_tol * |U(D) - U(empty)|`` the remaining marginal
    contributions of the permutation are set to 0 without training. A game that retrains in
    batches (``utility_fn.supports_batch``) gets all prefixes of a permutation in one batch, and
    truncation is then applied to the computed values: the same estimate, more fits.
    """
    n = _check_n(n)
    rng = _check_rng(rng, method)
    P = _check_positive_int(n_permutations, "n_permutations", 1)
    if not truncation_tol >= 0:
        raise ValueError(f"truncation_tol must be >= 0 (0 = no truncation), got {truncation_tol!r}")
    everything = np.arange(n)
    u_full = float(utility_fn(everything))
    u_empty = float(utility_fn(everything[:0]))
    tol = truncation_tol * abs(u_full - u_empty)
    total, total_sq = np.zeros(n), np.zeros(n)
    batched = getattr(utility_fn, "supports_batch", False)
    for _ in range(P):
        perm = rng.permutation(n)
        marginal = np.zeros(n)
        prev = u_empty
        if batched:  # U of every proper prefix perm[:s+1], s = 0..n-2, in one batch
            rows, cols = np.tril_indices(n - 1)                  # row s holds positions 0..s
            prefix = np.zeros((n - 1, n), dtype=bool)
            prefix[rows, perm[cols]] = True
            u_prefix = utility_fn.batch(prefix)
        for s in range(n):
            if truncation_tol > 0 and abs(u_full - prev) < tol:
                break  # truncated: the rest of the permutation contributes 0
            if s == n - 1:
                cur = u_full
            else:
                cur = float(u_prefix[s]) if batched else float(utility_fn(perm[: s + 1]))
            marginal[s] = cur - prev
            prev = cur
        draw = position_weights * marginal
        total[perm] += draw
        total_sq[perm] += draw**2
    mean = total / P
    if not return_stderr:
        return mean
    with np.errstate(invalid="ignore", divide="ignore"):
        var = np.maximum(total_sq / P - mean**2, 0.0) * P / (P - 1)
    return mean, np.sqrt(var / P)


def tmc_shapley_game(utility_fn: UtilityFn, n: int, rng: np.random.Generator, *,
                     n_permutations: int = 100, truncation_tol: float = 0.01,
                     return_stderr: bool = False
                      ) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """Truncated Monte Carlo Shapley (Ghorbani & Zou 2019; [S] §4.3.3) on a generic game.

    Averages marginal contributions along ``n_permutations`` random permutations.
    ``truncation_tol`` is *relative* to ``|U(D) - U(empty)|`` (0 = no truncation; then every
    permutation's contributions add up to ``U(D) - U(empty)`` exactly: efficiency).
    """
    n = _check_n(n)
    return _permutation_semivalue(utility_fn, n, rng, n_permutations, truncation_tol,
                                  np.ones(n), "tmc_shapley", return_stderr)


def beta_shapley_game(utility_fn: UtilityFn, n: int, rng: np.random.Generator, *,
                      alpha: float = 16.0, beta: float = 1.0, n_permutations: int = 100,
                      truncation_tol: float = 0.0, return_stderr: bool = False
                      ) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """Beta(alpha, beta)-Shapley (Kwon & Zou 2022) by weighted permutation sampling.

    The marginal contribution of the sample at position ``s`` of a uniform permutation is
    importance-weighted by ``n C(n-1, s) p(s)`` with ``p`` from :func:`beta_subset_weights`,
    so the estimate is unbiased for the Beta-Shapley value (the weights average to 1 over
    positions; ``alpha = beta = 1`` gives weight 1: TMC-Shapley without truncation).
    """
    n = _check_n(n)
    s = np.arange(n)
    log_binom = gammaln(n) - gammaln(s + 1) - gammaln(n - s)
    weights = n * np.exp(log_binom + np.log(beta_subset_weights(n, alpha, beta)))
    return _permutation_semivalue(utility_fn, n, rng, n_permutations, truncation_tol,
                                  weights, "beta_shapley", return_stderr)


# ---------------------------------------------------------------------------- kNN-Shapley
def knn_utility(X_train: np.ndarray, y_train: np.ndarray, X_val: np.ndarray, y_val: np.ndarray,
                k: int = 5) -> UtilityFn:
    """The kNN game of Jia et al. (2019) ([S] Eq. 24, sign flipped so that higher = better):
    ``U(S) = mean_val (1/k) sum_{j in kNN(x_val; S)} 1[y_j = y_val]``, ``U(empty) = 0``.
    Ties in distance are broken by training index (stable sort), as in :func:`knn_shapley`."""
    X_train, y_train, X_val, y_val, k = _check_knn(X_train, y_train, X_val, y_val, k)
    order = _knn_order(X_train, X_val)
    match = (y_train[order] == y_val[:, None]).astype(float)

    def utility_fn(subset: np.ndarray) -> float:
        inside = np.zeros(len(y_train), dtype=bool)
        inside[np.asarray(subset, dtype=np.int64)] = True
        keep = inside[order]                                      # (N_val, n) in distance order
        rank = np.cumsum(keep, axis=1)
        return float(((keep & (rank <= k)) * match).sum(1).mean() / k)

    return utility_fn


def _check_knn(X_train, y_train, X_val, y_val, k):
    X_train = np.asarray(X_train, dtype=float)
    X_val = np.asarray(X_val, dtype=float)
    y_train = np.asarray(y_train).ravel()
    y_val = np.asarray(y_val).ravel()
    if X_train.ndim != 2 or X_val.ndim != 2 or X_train.shape[1] != X_val.shape[1]:
        raise ValueError(f"X_train and X_val must be 2-D with the same number of features, got "
                         f"shapes {X_train.shape} and {X_val.shape}")
    if len(y_train) != len(X_train) or len(y_val) != len(X_val):
        raise ValueError(f"labels do not match rows: X_train {X_train.shape[0]} vs y_train "
                         f"{len(y_train)}, X_val {X_val.shape[0]} vs y_val {len(y_val)}")
    if len(y_train) == 0 or len(y_val) == 0:
        raise ValueError("kNN-Shapley needs at least one training and one validation point")
    k = _check_positive_int(k, "k", 1)
    return X_train, y_train, X_val, y_val, k


def _knn_order(X_train: np.ndarray, X_val: np.ndarray) -> np.ndarray:
    """Training indices sorted by Euclidean distance to each validation point, ``(N_val, n)``."""
    d2 = (X_val**2).sum(1)[:, None] - 2.0 * X_val @ X_train.T + (X_train**2).sum(1)[None, :]
    return np.argsort(np.maximum(d2, 0.0), axis=1, kind="stable")


def knn_shapley(X_train: np.ndarray, y_train: np.ndarray, X_val: np.ndarray, y_val: np.ndarray,
                k: int = 5, batch_size: int = 1024) -> np.ndarray:
    """Exact kNN-Shapley values (Jia et al. 2019, Theorem 1; [S] Eq. 25), averaged over ``X_val``.

    With the training points sorted by distance to a validation point
    (``alpha_1`` nearest, ``alpha_n`` farthest) and ``m_j = 1[y_{alpha_j} = y_val]``:

        s_{alpha_n} = m_n / n,                                     (n >= k)
        s_{alpha_j} = s_{alpha_{j+1}} + (m_j - m_{j+1}) / k * min(k, j) / j.

    The base case as printed (``m_n / n``) assumes ``n >= k``; in general the farthest point
    enters the neighbourhood iff fewer than ``k`` others precede it, so
    ``s_{alpha_n} = m_n min(k, n) / (k n)`` (equal to ``m_n / n`` when ``n >= k``; needed for
    ``k > n``, checked against enumeration in the tests).
    The recursion is a reverse cumulative sum, evaluated for a batch of validation points at
    once. The values sum to ``U(D)`` of :func:`knn_utility` (efficiency, ``U(empty) = 0``).
    """
    X_train, y_train, X_val, y_val, k = _check_knn(X_train, y_train, X_val, y_val, k)
    n = len(y_train)
    j = np.arange(1, n)                                           # positions 1..n-1
    step = np.minimum(k, j) / (k * j)
    total = np.zeros(n)
    for start in range(0, len(y_val), batch_size):
        Xb, yb = X_val[start:start + batch_size], y_val[start:start + batch_size]
        order = _knn_order(X_train, Xb)
        m = (y_train[order] == yb[:, None]).astype(float)         # (B, n), sorted by distance
        s = np.empty_like(m)
        s[:, -1] = m[:, -1] * min(k, n) / (k * n)                # = m_n / n when n >= k
        incr = (m[:, :-1] - m[:, 1:]) * step                      # term j (1-based) at column j-1
        s[:, :-1] = s[:, -1:] + np.cumsum(incr[:, ::-1], axis=1)[:, ::-1]
        values = np.empty_like(s)
        np.put_along_axis(values, order, s, axis=1)               # back to training order
        total += values.sum(0)
    return total / len(y_val)


# ---------------------------------------------------------------------------- Task-shaped
def leave_one_out(task: Task, rng: np.random.Generator | None = None, *, utility: str = "loss",
                  indices: np.ndarray | None = None) -> np.ndarray:
    """Leave-one-out ([S] §4.1, Eq. 7): ``U(D) - U(D \\ {i})`` by retraining (``task.leave_one_out``:
    exact, warm-started retraining for the convex task; the task's seed for an ``MLPTask``).
    ``indices`` restricts the work to some samples (the others are NaN). Deterministic: ``rng`` is
    accepted for the common call shape only."""
    _check_utility(utility)
    return task.leave_one_out(indices, utility)


def downsampling(task: Task, rng: np.random.Generator, *, n_models: int = 200,
                 subset_frac: float = 0.7, utility: str = "loss",
                 missing_class: str = "fit", return_stderr: bool = False
                      ) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """DOWNSAMPLING (Feldman & Zhang 2020) on the task: see :func:`downsampling_game`."""
    return downsampling_game(task_utility_fn(task, utility, missing_class), task.n_train, rng,
                             n_models=n_models, subset_frac=subset_frac, return_stderr=return_stderr)


def tmc_shapley(task: Task, rng: np.random.Generator, *, n_permutations: int = 100,
                truncation_tol: float = 0.01, utility: str = "loss",
                missing_class: str = "fit", return_stderr: bool = False
                      ) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """TMC-Shapley (Ghorbani & Zou 2019) on the task: see :func:`tmc_shapley_game`."""
    return tmc_shapley_game(task_utility_fn(task, utility, missing_class), task.n_train, rng,
                            n_permutations=n_permutations, truncation_tol=truncation_tol,
                            return_stderr=return_stderr)


def banzhaf_msr(task: Task, rng: np.random.Generator, *, n_samples: int = 500,
                utility: str = "loss", missing_class: str = "fit", return_stderr: bool = False
                      ) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """Banzhaf values by maximum sample reuse (Wang & Jia 2023): see :func:`banzhaf_msr_game`."""
    return banzhaf_msr_game(task_utility_fn(task, utility, missing_class), task.n_train, rng,
                            n_samples=n_samples, return_stderr=return_stderr)


def beta_shapley(task: Task, rng: np.random.Generator, *, alpha: float = 16.0, beta: float = 1.0,
                 n_permutations: int = 100, truncation_tol: float = 0.0,
                 utility: str = "loss", missing_class: str = "fit", return_stderr: bool = False
                      ) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """Beta(alpha, beta)-Shapley (Kwon & Zou 2022) on the task: see :func:`beta_shapley_game`."""
    return beta_shapley_game(task_utility_fn(task, utility, missing_class), task.n_train, rng,
                             alpha=alpha, beta=beta, n_permutations=n_permutations,
                             truncation_tol=truncation_tol, return_stderr=return_stderr)


def knn_shapley_task(task: Task, rng: np.random.Generator | None = None, *, k: int = 5) -> np.ndarray:
    """kNN-Shapley on the task's embedding (``task.embedding``: the raw features of a logistic
    task, the hidden layer of an MLP task, as Jia et al. use deep features): a *surrogate* game
    whose utility is the kNN classifier's validation accuracy ([S] Eq. 24), not the model's loss.
    Deterministic: ``rng`` is accepted for the common call shape only."""
    return knn_shapley(task.embedding(task.X_train), task.y_train, task.embedding(task.X_val), task.y_val, k=k)
