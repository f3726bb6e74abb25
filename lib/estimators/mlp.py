"""The survey's non-convex task: :class:`MLPTask`, a :class:`~lib.estimators.Task` on the
:class:`lib.models.OneHiddenLayerMLP` ([S] §3-5).

[S] (Hammoudeh & Lowd) stresses that on non-convex models (i) retraining is itself random, so
leave-one-out (LOO) should be an *expected* influence over training seeds (§3 item 5, §4 Remark 1,
§4.1.2) and (ii) influence functions lose their guarantees (§5.1.1.2: the Hessian need not be
positive definite; Basu et al.'s "fragility"). :class:`MLPTask`'s ``fit(weights, seed)`` retrains
the MLP from the seed's initialisation, and :func:`expected_loo` is
``E_s[U(D, s) - U(D \\ {i}, s)]`` over training seeds with the *same* seed for each with/without
pair ([S] §3 item 5, [KS21]).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import torch

from ..models import OneHiddenLayerMLP, as_labels, as_tensor
from .task import Task

__all__ = ["MLPTask", "expected_loo", "l2_sweep", "seed_agreement"]


@dataclass
class MLPTask(Task):
    """A :class:`~lib.estimators.Task` whose model is the :class:`lib.models.OneHiddenLayerMLP`;
    ``fit(weights, seed)`` retrains from the seed's initialisation (``seed=None``: the task's ``seed``).
    ``U = -(summed validation loss)``."""

    l2: float = 1.0
    hidden: int = 8
    activation: str = "tanh"
    seed: int = 0
    tol: float = 1e-8
    max_iter: int = 500
    _full: OneHiddenLayerMLP | None = field(default=None, repr=False)

    def make_model(self) -> OneHiddenLayerMLP:
        return OneHiddenLayerMLP(self.hidden, self.activation, self.l2, self.tol, self.max_iter)

    def fit(
        self, weights: np.ndarray | None = None, seed: int | None = None, warm_start: torch.Tensor | None = None
    ) -> OneHiddenLayerMLP:
        """Train the OneHiddenLayerMLP with per-sample ``weights`` (0 = removed) from ``seed``'s initialisation."""
        return self.make_model().fit(
            self.X_train,
            self.y_train,
            sample_weight=weights,
            n_classes=self.n_classes,
            seed=self.seed if seed is None else seed,
            warm_start=warm_start,
        )

    def fit_many(
        self, weights: np.ndarray, seed: int | None = None, warm_start: torch.Tensor | None = None
    ) -> tuple[OneHiddenLayerMLP, torch.Tensor]:
        """``M`` retrainings at once (rows of ``weights``): ``(a model for shapes, thetas (M, P))``."""
        model = self.make_model()
        W = np.asarray(weights, dtype=float)
        if warm_start is not None:
            warm_start = as_tensor(warm_start)
            warm_start = warm_start.expand(len(W), -1) if warm_start.ndim == 1 else warm_start
        thetas, _, _ = model.fit_many(
            self.X_train,
            self.y_train,
            W,
            n_classes=self.n_classes,
            seed=self.seed if seed is None else seed,
            warm_start=warm_start,
        )
        return model, thetas

    def utilities(
        self,
        weights: np.ndarray,
        seed: int | None = None,
        utility: str = "loss",
        warm_start: torch.Tensor | None = None,
    ) -> np.ndarray:
        """``U`` of ``M`` models trained at once, one per row of ``weights``: ``-(summed validation
        loss)`` (``utility="loss"``) or validation accuracy (``"accuracy"``)."""
        if utility not in ("loss", "accuracy"):
            raise ValueError(f"utility must be 'loss' or 'accuracy', got {utility!r}")
        model, thetas = self.fit_many(weights, seed, warm_start)
        with torch.no_grad():
            if utility == "loss":
                return -model.batch_loss(thetas, self.X_val, self.y_val).sum(1).numpy()
            Z = model.batch_logits(thetas, self.X_val)
            pred = (Z[..., 0] > 0).long() if Z.shape[-1] == 1 else Z.argmax(-1)
            return (pred == as_labels(self.y_val)[None, :]).double().mean(1).numpy()

    @property
    def model(self) -> OneHiddenLayerMLP:
        """The OneHiddenLayerMLP trained on the whole training set from the task's ``seed`` (cached)."""
        if self._full is None:
            self._full = self.fit()
        return self._full

    def utility(self, model: OneHiddenLayerMLP) -> float:
        """``U = -(summed validation loss)``: higher is better."""
        return -float(model.loss(self.X_val, self.y_val).sum())

    def embedding(self, X: np.ndarray) -> np.ndarray:
        """The full model's hidden-layer activations (the last layer's inputs)."""
        return self.model.hidden_features(X).numpy()

    def leave_one_out(
        self, indices: np.ndarray | None = None, utility: str = "loss", threads: int | None = 1
    ) -> np.ndarray:
        """Leave-one-out of the task's training seed: :func:`lib.estimators.mlp.expected_loo` with that one seed (the
        deterministic retraining run, not the survey's expectation over seeds)."""
        from ..reproducibility import torch_threads

        with torch_threads(threads):
            return expected_loo(self, [self.seed], indices=indices, utility=utility)


def _loo_weights(n: int, indices: np.ndarray) -> np.ndarray:
    W = np.ones((1 + len(indices), n))
    W[1 + np.arange(len(indices)), indices] = 0.0
    return W


def expected_loo(
    task: MLPTask,
    seeds: Sequence[int],
    *,
    indices: np.ndarray | None = None,
    utility: str = "loss",
    warm_start: bool = False,
    return_per_seed: bool = False,
) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """Expected leave-one-out influence over training seeds ([S] §3 item 5; §4 Remark 1; [KS21])::

        E_s[ U(D, s) - U(D \\ {i}, s) ]
          ~ (1/|seeds|) sum_s [U(D, s) - U(D \\ {i}, s)],

    the *same* seed ``s`` (initialisation) for the model with and the model without ``i``. With
    one seed it is plain LOO of that seed's deterministic training. For each seed the ``1 + n``
    retrainings are one batched :meth:`lib.models.OneHiddenLayerMLP.fit_many` call.

    ``warm_start=True`` starts each model without ``i`` at the seed's full-data optimum instead of
    at the seed's initialisation: retraining that stays in the same basin, which is what a
    first-order influence estimate describes (Bae et al.'s warm-start gap, [S] §5.1.1.2).
    ``indices`` restricts the work to some samples (the others are NaN). ``return_per_seed``
    also returns the ``(len(seeds), n)`` matrix of per-seed LOO values.
    """
    if not isinstance(task, MLPTask):
        raise TypeError(f"expected_loo needs an MLPTask (retraining with a seed), got {type(task).__name__}")
    seeds = [int(s) for s in seeds]
    if not seeds:
        raise ValueError("need at least one training seed")
    n = task.n_train
    idx = np.arange(n) if indices is None else np.asarray(indices, dtype=np.int64).ravel()
    W = _loo_weights(n, idx)
    per_seed = np.full((len(seeds), n), np.nan)
    for k, s in enumerate(seeds):
        if warm_start:
            full = task.fit(seed=s)
            U = task.utilities(W[1:], seed=s, utility=utility, warm_start=full.theta_)
            u_full = task.utility(full) if utility == "loss" else full.score(task.X_val, task.y_val)
            per_seed[k, idx] = u_full - U
        else:
            U = task.utilities(W, seed=s, utility=utility)
            per_seed[k, idx] = U[0] - U[1:]
    mean = per_seed.mean(0)
    return (mean, per_seed) if return_per_seed else mean


def _pairwise_mean_corr(rows: np.ndarray) -> float:
    """Mean Pearson correlation over all pairs of rows (``nan`` for fewer than two rows)."""
    if len(rows) < 2:
        return float("nan")
    c = np.corrcoef(rows)
    return float(c[np.triu_indices(len(rows), 1)].mean())


def seed_agreement(scores: np.ndarray, loo_same_seed: np.ndarray, loo_other_seeds: np.ndarray) -> dict[str, float]:
    """How an estimate computed at one training seed relates to retraining ground truths.

    ``loo_same_seed`` ``(n,)``: LOO of the seed the estimate was computed at; ``loo_other_seeds``
    ``(S, n)``: LOO of ``S`` other seeds, whose mean is an independent estimate of the expected LOO.
    Returns the Pearson correlation of ``scores`` with the same-seed LOO, Pearson and Spearman with
    the other seeds' mean, the Pearson correlation of the single-seed LOO with that mean (how well
    *one* retraining run estimates the expectation), and the mean pairwise Pearson correlation
    between all single-seed LOO vectors (1 = retraining is not noisy).
    """
    from scipy import stats

    other = np.asarray(loo_other_seeds, dtype=float)
    mean = other.mean(0)
    return {
        "pearson_if_loo_same_seed": float(np.corrcoef(scores, loo_same_seed)[0, 1]),
        "pearson_if_expected_loo": float(np.corrcoef(scores, mean)[0, 1]),
        "spearman_if_expected_loo": float(stats.spearmanr(scores, mean)[0]),
        "pearson_loo_same_seed_expected_loo": float(np.corrcoef(loo_same_seed, mean)[0, 1]),
        "seed_to_seed_loo_pearson": _pairwise_mean_corr(np.vstack([loo_same_seed, other])),
    }


def l2_sweep(task: MLPTask, l2_values: Sequence[float], n_seeds: int, damping: float = 0.0) -> pandas.DataFrame:  # noqa: F821
    """Influence functions against retraining as the penalty weakens (Basu et al.'s weight-decay
    finding, [S] §5.1.1.2): for each ``l2`` the task's OneHiddenLayerMLP is retrained, the exact influence function
    is computed at the task's seed and compared (:func:`seed_agreement`) with that seed's LOO and with
    the expected LOO over ``n_seeds - 1`` further seeds. Also reports the smallest Hessian eigenvalue
    and the validation accuracy. One row per ``l2``; ``seconds`` is the wall time of the row.
    """
    import pandas as pd

    from .gradient import influence_exact

    if int(n_seeds) < 2:
        raise ValueError(
            f"n_seeds must be >= 2 (one for the influence function's seed, one or more for "
            f"the expectation), got {n_seeds!r}"
        )
    rows = []
    for l2 in l2_values:
        t0 = time.perf_counter()
        t = replace(task, l2=float(l2), _full=None)
        seeds = [t.seed + k for k in range(int(n_seeds))]
        _, per = expected_loo(t, seeds, return_per_seed=True)
        IF = influence_exact(t, damping=damping)
        H = t.model.hessian(t.X_train, t.y_train)
        rows.append(
            {
                "l2": float(l2),
                **seed_agreement(IF, per[0], per[1:]),
                "min_hessian_eigenvalue": float(torch.linalg.eigvalsh(H)[0]),
                "val_accuracy": t.model.score(t.X_val, t.y_val),
                "seconds": time.perf_counter() - t0,
            }
        )
    return pd.DataFrame(rows).set_index("l2")
