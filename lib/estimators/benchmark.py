"""Measure influence estimators against ground truth ([S] §7: "experiments that are quantifiable
and verifiable w.r.t. a ground truth"): agreement with actual leave-one-out, mislabelled-sample
detection, and run time, all from one run.
"""

from __future__ import annotations

import time
import tracemalloc
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np
from scipy import stats

from ..reproducibility import tie_safe, torch_threads
from .task import Task

Estimator = Callable[[Task, np.random.Generator], np.ndarray]


def flip_labels(y: np.ndarray, fraction: float, n_classes: int, rng: np.random.Generator
                ) -> tuple[np.ndarray, np.ndarray]:
    """Flip ``round(fraction * n)`` labels, chosen uniformly, each to a uniformly drawn *other* class.

    Returns ``(noisy labels, sorted indices of the flipped samples)``.
    """
    if not 0 < fraction < 1:
        raise ValueError(f"fraction must lie in (0, 1), got {fraction}")
    if n_classes < 2:
        raise ValueError(f"need at least two classes to flip labels, got n_classes={n_classes}")
    y = np.asarray(y).copy()
    idx = np.sort(rng.choice(len(y), size=max(1, int(round(fraction * len(y)))), replace=False))
    shift = rng.integers(1, n_classes, size=len(idx))
    y[idx] = (y[idx] + shift) % n_classes
    return y, idx


def actual_loo(task: Task, threads: int | None = 1) -> np.ndarray:
    """Ground truth: ``U(D) - U(D without i)`` by retraining (``task.leave_one_out``): to
    convergence (warm-started Newton) for the convex task; from the task's seed for an ``MLPTask``
    (:func:`lib.estimators.mlp.expected_loo` with one seed)."""
    return task.leave_one_out(threads=threads)


def detection_curve(scores: np.ndarray, flipped: np.ndarray, lowest_first: bool = True
                    ) -> tuple[np.ndarray, np.ndarray, float]:
    """Fraction of flipped samples found vs fraction of the training set inspected.

    Samples are inspected from the most negative score (``lowest_first``; "most harmful") or from
    the largest (self-influence). Returns ``(inspected, found, auc)`` with ``inspected = k/n`` for
    ``k = 0..n`` and the area under the curve (trapezoid; random order ~ 0.5, perfect ~ 1 - f/2).
    Ties are broken by index, deterministically: the scores are ranked after
    :func:`lib.reproducibility.tie_safe`, so that estimators equal in exact arithmetic rank alike
    on every machine.
    """
    scores = np.asarray(scores, dtype=float)
    n = len(scores)
    if not np.isfinite(scores).all():
        raise ValueError("scores contain NaN or inf; compute every sample's score first")
    q = tie_safe(scores)
    order = np.argsort(q if lowest_first else -q, kind="stable")
    is_flipped = np.zeros(n, dtype=bool)
    is_flipped[np.asarray(flipped, dtype=int)] = True
    found = np.concatenate([[0.0], np.cumsum(is_flipped[order]) / is_flipped.sum()])
    inspected = np.arange(n + 1) / n
    return inspected, found, float(np.trapezoid(found, inspected))


@dataclass
class Run:
    """One estimator's values with its measured wall time and peak traced (NumPy/Python) memory."""

    values: np.ndarray
    seconds: float
    peak_mib: float


@dataclass
class Comparison:
    runs: dict[str, Run] = field(default_factory=dict)

    def table(self, loo: np.ndarray | None, flipped: np.ndarray,
              self_scores: Mapping[str, np.ndarray] | None = None,
              references: Mapping[str, np.ndarray] | None = None) -> "pandas.DataFrame":  # noqa: F821
        """One row per estimator: Spearman/Pearson with actual LOO, detection AUC, seconds, peak MiB.

        ``references`` adds ``spearman_<name>``/``pearson_<name>`` columns against further ground
        truths (e.g. single-seed and expected LOO of a non-convex model); ``loo=None`` leaves out
        the ``loo`` columns.
        """
        import pandas as pd

        refs = ({} if loo is None else {"loo": loo}) | dict(references or {})
        if not refs:
            raise ValueError("need a ground truth: pass loo or references")
        rows = []
        for name, run in self.runs.items():
            v = run.values
            row = {"estimator": name}
            for r, ref in refs.items():
                row[f"spearman_{r}"] = float(stats.spearmanr(v, ref)[0])
                row[f"pearson_{r}"] = float(stats.pearsonr(v, ref)[0])
            rows.append({**row, "detection_auc": detection_curve(v, flipped)[2],
                         "seconds": run.seconds, "peak_mib": run.peak_mib})
        for name, s in (self_scores or {}).items():
            row = {"estimator": name}
            for r in refs:
                row[f"spearman_{r}"] = row[f"pearson_{r}"] = np.nan
            rows.append({**row, "detection_auc": detection_curve(s, flipped, lowest_first=False)[2],
                         "seconds": np.nan, "peak_mib": np.nan})
        return pd.DataFrame(rows).set_index("estimator")


def run_estimators(task: Task, estimators: Mapping[str, Estimator], rng: np.random.Generator,
                   options: Mapping[str, dict] | None = None, trace_memory: bool = False,
                   threads: int | None = 1) -> Comparison:
    """Run every estimator on the same task, timing each (wall clock) and tracing peak memory.

    ``task.model`` is fitted *before* timing, so no estimator is charged for the shared full fit.
    Each estimator gets its own child generator of ``rng`` (order-independent results).
    ``tracemalloc`` sees NumPy and Python allocations, not torch's CPU allocator: the memory
    column is a lower bound for torch-based estimators.
    """
    options = options or {}
    _ = task.model
    seeds = rng.spawn(len(estimators))
    out = Comparison()
    for (name, f), child in zip(estimators.items(), seeds):
        with torch_threads(threads):
            out.runs[name] = _timed(task, name, f, child, options.get(name, {}), trace_memory)
    return out


def _timed(task: Task, name: str, f: Estimator, rng: np.random.Generator, opts: dict, trace_memory: bool) -> Run:
    if trace_memory:
        tracemalloc.start()
    t0 = time.perf_counter()
    try:
        values = np.asarray(f(task, rng, **opts), dtype=float)
    finally:
        seconds = time.perf_counter() - t0
        peak = tracemalloc.get_traced_memory()[1] / 2**20 if trace_memory else 0.0
        if trace_memory:
            tracemalloc.stop()
    if values.shape != (task.n_train,):
        raise ValueError(f"estimator {name!r} returned shape {values.shape}, expected ({task.n_train},)")
    return Run(values, seconds, peak)


#: The survey's Table 1 as text, with the complexities in the training-set size n, the number of
#: parameters p, the training iterations T and the number of models K.
SURVEY_TABLE_1 = {
    "LOO": {"full time": "O(nT)", "incremental": "O(n)", "space": "O(n + p)", "storage": "O(np)*"},
    "Downsampling": {"full time": "O(KT)", "incremental": "O(K)", "space": "O(n + p)", "storage": "O(Kp)*"},
    "Shapley": {"full time": "O(2^n T)", "incremental": "O(2^n)", "space": "O(n + p)", "storage": "O(2^n p)*"},
    "Influence functions": {"full time": "O(np)", "incremental": "O(np)", "space": "O(n + p)", "storage": "0"},
    "Representer point": {"full time": "O(n)", "incremental": "O(n)", "space": "O(n + p)", "storage": "0"},
    "TracIn": {"full time": "O(npT)", "incremental": "O(npT)", "space": "O(n + p)", "storage": "O(pT)"},
    "HyDRA": {"full time": "O(npT)", "incremental": "O(np)", "space": "O(np)", "storage": "O(pT + np)*"},
}
