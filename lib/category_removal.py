"""[PC] §5.1 protocol: remove the top beneficial / detrimental samples per category, retrain,
compare the category-wise influence prediction with the actual per-class change (Figs. 3, 4, 9).

For each target class ``k`` the ``fraction`` of the training set with the largest ``P[:, k]``
(beneficial: removing them should *raise* class-``k`` validation loss) and, separately, with the
smallest ``P[:, k]`` (detrimental) is removed; the model is retrained from the same seed and its
per-class validation accuracy and summed loss are compared with the full model's.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.stats import spearmanr

from .parallel import map_tasks


@dataclass
class RemovalResult:
    """All arrays are (K targets, K classes) unless noted; ``kind`` in ``("beneficial", "detrimental")``.

    ``influence[kind][k, j]``: ``sum_{i removed for target k} P[i, j]`` — predicted increase of
    the summed class-``j`` validation loss. ``acc_change`` / ``loss_change``: mean over seeds of
    retrained-minus-full per-class validation accuracy / summed loss. ``counts[kind][k, c]``:
    removed samples for target ``k`` whose own label is ``c`` ([PC] Fig. 9).
    ``acc_change_seeds[kind]`` / ``loss_change_seeds[kind]``: (seeds, K, K).
    """

    influence: dict[str, np.ndarray]
    acc_change: dict[str, np.ndarray]
    loss_change: dict[str, np.ndarray]
    acc_change_seeds: dict[str, np.ndarray]
    counts: dict[str, np.ndarray]
    base_accuracy: np.ndarray  # (seeds, K)
    loss_change_seeds: dict[str, np.ndarray] | None = None

    def spearman(self, kind: str, quantity: str = "accuracy") -> float:
        """Spearman correlation over all K x K cells between the predicted performance change
        ``-influence`` (a loss increase is a performance drop) and the actual change of accuracy
        (``quantity="accuracy"``) or of minus the summed loss (``"loss"``) — [PC] Figs. 3C/3F."""
        actual = self.acc_change[kind] if quantity == "accuracy" else -self.loss_change[kind]
        return float(spearmanr(-self.influence[kind].ravel(), actual.ravel()).statistic)

    def spearman_interval(self, kind: str, quantity: str = "accuracy", level: float = 0.9,
                          n_boot: int = 2000, seed: int = 0) -> tuple[float, float]:
        """Percentile bootstrap interval of :meth:`spearman` over the K x K cells (cells drawn with
        replacement). A rough guide to how much the correlation depends on which cells one has:
        the cells of one removal set are not independent, so the interval is on the narrow side."""
        actual = self.acc_change[kind] if quantity == "accuracy" else -self.loss_change[kind]
        pred, act = -self.influence[kind].ravel(), actual.ravel()
        rng = np.random.default_rng(seed)
        idx = rng.integers(0, len(pred), size=(n_boot, len(pred)))
        stats = np.array([spearmanr(pred[i], act[i]).statistic for i in idx])
        lo, hi = np.nanquantile(stats, [(1 - level) / 2, (1 + level) / 2])
        return float(lo), float(hi)

    def _seeds(self, kind: str, quantity: str) -> np.ndarray:
        if quantity == "accuracy":
            return self.acc_change_seeds[kind]
        if quantity == "loss" and self.loss_change_seeds is not None:
            return -self.loss_change_seeds[kind]
        raise ValueError(f"quantity must be 'accuracy' or 'loss' (with per-seed losses), got {quantity!r}")

    def seed_reliability(self, kind: str, quantity: str = "accuracy") -> float:
        """How reproducible the *actual* K x K changes are: Spearman correlation between the
        mean change over the even-numbered and over the odd-numbered seeds (split half), raised to
        the full number of seeds with the Spearman-Brown formula ``2r / (1 + r)``. Its square root
        is roughly the highest correlation any prediction can reach against the seed-averaged
        changes (classical test theory: noise in the target attenuates every correlation).
        NaN with fewer than two seeds."""
        A = self._seeds(kind, quantity)
        if len(A) < 2:
            return float("nan")
        r = float(spearmanr(A[0::2].mean(0).ravel(), A[1::2].mean(0).ravel()).statistic)
        return 2 * r / (1 + r) if r > -1 else float("nan")

    def retraining_noise(self, kind: str, quantity: str = "accuracy") -> float:
        """Mean over the K x K cells of the across-seed standard deviation of the actual change
        (NaN with one seed); compare it with :meth:`effect_size`."""
        A = self._seeds(kind, quantity)
        return float(A.std(0, ddof=1).mean()) if len(A) > 1 else float("nan")

    def effect_size(self, kind: str, quantity: str = "accuracy") -> float:
        """Mean absolute seed-averaged change over the K x K cells."""
        return float(np.abs(self._seeds(kind, quantity).mean(0)).mean())

    def noise_ceiling(self, kind: str, quantity: str = "accuracy") -> float:
        """``sqrt(max(seed_reliability, 0))``: roughly the best Spearman a perfect prediction of the
        expected change could reach against these noisy, seed-averaged measurements."""
        r = self.seed_reliability(kind, quantity)
        return float(np.sqrt(max(r, 0.0))) if np.isfinite(r) else float("nan")

    def summary(self) -> dict[str, float]:
        """The chapter's key numbers (all floats): Spearman by kind and quantity, reproducibility
        of the actual changes over seeds, sign agreement on the targeted classes, own-label shares."""
        own = {kd: float(np.trace(self.counts[kd]) / self.counts[kd].sum()) for kd in self.counts}
        out = {"base accuracy": float(self.base_accuracy.mean())}
        for q in ("accuracy", "loss"):
            for kd in ("beneficial", "detrimental"):
                out[f"spearman {kd} ({q})"] = self.spearman(kd, q)
        for kd in ("beneficial", "detrimental"):
            out[f"spearman {kd} (accuracy) 90% low"], out[f"spearman {kd} (accuracy) 90% high"] = \
                self.spearman_interval(kd)
        for kd in ("beneficial", "detrimental"):
            out[f"seed reliability {kd} (accuracy)"] = self.seed_reliability(kd)
            out[f"noise ceiling {kd} (accuracy)"] = self.noise_ceiling(kd)
            out[f"retraining noise sd {kd} (accuracy)"] = self.retraining_noise(kd)
            out[f"mean |change| {kd} (accuracy)"] = self.effect_size(kd)
        out.update({
            "target accuracy drops (beneficial removed)": self.diagonal_sign_agreement("beneficial"),
            "target accuracy rises (detrimental removed)": self.diagonal_sign_agreement("detrimental"),
            "mean target change, beneficial removed": float(np.diag(self.acc_change["beneficial"]).mean()),
            "mean target change, detrimental removed": float(np.diag(self.acc_change["detrimental"]).mean()),
            "share own label, beneficial": own["beneficial"],
            "share own label, detrimental": own["detrimental"],
        })
        return out

    def diagonal_sign_agreement(self, kind: str) -> float:
        """Share of target classes whose own accuracy moved as predicted (down for beneficial, up
        for detrimental removals); ties (no change) count as disagreement."""
        d = np.diag(self.acc_change[kind])
        return float(np.mean(d < 0) if kind == "beneficial" else np.mean(d > 0))


def removal_sets(P: np.ndarray, fraction: float) -> dict[str, list[np.ndarray]]:
    """Indices of the top ``fraction`` beneficial (largest ``P[:, k]``) and detrimental (smallest)
    training samples for every class ``k``."""
    P = np.asarray(P)
    if P.ndim != 2 or not 0 < fraction < 0.5:
        raise ValueError(f"need P of shape (n, K) and 0 < fraction < 0.5, got {P.shape}, {fraction}")
    m = max(1, int(round(fraction * len(P))))
    order = np.argsort(P, axis=0, kind="stable")
    return {"beneficial": [order[::-1, k][:m] for k in range(P.shape[1])],
            "detrimental": [order[:, k][:m] for k in range(P.shape[1])]}


def _fit_and_evaluate(task: tuple) -> tuple[np.ndarray, np.ndarray]:
    fit, evaluate, keep, seed = task
    return evaluate(fit(keep, seed))


def run(P: np.ndarray, y_train: np.ndarray, fit: Callable[[np.ndarray, int], object],
        evaluate: Callable[[object], tuple[np.ndarray, np.ndarray]], *, fraction: float = 0.1,
        seeds: tuple[int, ...] | list[int] = (0, 1), progress: bool = False, n_jobs: int | None = 1,
        backend: str | None = None) -> RemovalResult:
    """Run the protocol. ``fit(keep_indices, seed)`` trains a fresh model on the kept training
    samples; ``evaluate(model)`` returns per-class validation (accuracy (K,), summed loss (K,)).

    The ``len(seeds) * (1 + 2K)`` retrainings are independent and go through
    :func:`lib.parallel.map_tasks` (``n_jobs``, ``backend``; serial by default): each one's
    randomness comes from its ``seed``, so the result does not depend on the backend."""
    y_train = np.asarray(y_train)
    K = P.shape[1]
    sets = removal_sets(P, fraction)
    n = len(y_train)
    kinds = ("beneficial", "detrimental")
    acc = {kd: np.zeros((len(seeds), K, K)) for kd in kinds}
    loss = {kd: np.zeros((len(seeds), K, K)) for kd in kinds}
    jobs = [(s, None, None) for s in range(len(seeds))]
    jobs += [(s, kd, k) for s in range(len(seeds)) for kd in kinds for k in range(K)]
    tasks = [(fit, evaluate, np.arange(n) if kd is None else np.setdiff1d(np.arange(n), sets[kd][k]), seeds[s])
             for s, kd, k in jobs]
    results = map_tasks(_fit_and_evaluate, tasks, n_jobs=n_jobs, backend=backend, progress=progress)
    bases = {s: r for (s, kd, _), r in zip(jobs, results) if kd is None}
    base_acc = np.stack([bases[s][0] for s in range(len(seeds))])
    for (s, kd, k), (a, lo) in zip(jobs, results):
        if kd is not None:
            acc[kd][s, k] = a - bases[s][0]
            loss[kd][s, k] = lo - bases[s][1]
    return RemovalResult(
        influence={kd: np.stack([P[idx].sum(0) for idx in sets[kd]]) for kd in kinds},
        acc_change={kd: acc[kd].mean(0) for kd in kinds},
        loss_change={kd: loss[kd].mean(0) for kd in kinds},
        acc_change_seeds=acc,
        loss_change_seeds=loss,
        counts={kd: np.stack([np.bincount(y_train[idx], minlength=K) for idx in sets[kd]]) for kd in kinds},
        base_accuracy=base_acc,
    )


