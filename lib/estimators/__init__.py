"""The survey's influence estimators ([S] Hammoudeh & Lowd) with one call shape and one registry.

Every estimator is a function ``estimator(task, rng, **options) -> np.ndarray`` of shape
``(n_train,)``: the estimated effect of training sample ``i`` on the task's utility
``U = -(summed validation loss)``, signed so that **positive = the sample helps** (it matches
``lib.influence.utility_influence`` and actual leave-one-out ``U(D) - U(D without i)``).
Retraining-based estimators call ``task.fit``; gradient-based ones use ``task.model``.

Two tasks: :class:`Task` (L2 logistic regression, convex: retraining is exact and deterministic)
and :class:`lib.estimators.mlp.MLPTask` (a one-hidden-layer MLP, non-convex: retraining depends on
a training seed, and the ground truth is the expected leave-one-out over seeds,
:func:`lib.estimators.mlp.expected_loo`).

``REGISTRY`` lists every estimator once, with its family, the survey's section, the tasks it
applies to and how a chapter's budget parameters become its options (:class:`Budget`);
:func:`estimators_for` picks the entries for a task (``tests/test_estimator_registry.py`` runs a
conformance test over every entry).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from . import gradient, valuation
from .mlp import MLPTask
from .task import Task

__all__ = ["REGISTRY", "Budget", "Estimator", "MLPTask", "Task", "estimators_for", "options_for", "task_kind"]

EstimatorFn = Callable[..., np.ndarray]

FAMILIES = ("retraining", "static gradient", "dynamic gradient", "surrogate")
TASKS = ("logistic", "mlp")


@dataclass(frozen=True)
class Budget:
    """The compute budget of the Monte-Carlo, iterative and SGD-based estimators (a chapter's
    parameters): SGD epochs/batch/learning rate of the dynamic estimators, LiSSA depth and batch,
    Arnoldi iterations and kept eigenpairs, DOWNSAMPLING models, TMC-/Beta-Shapley permutations,
    Banzhaf subsets, the kNN-Shapley ``k``, and what a subset lacking a class is worth
    (``missing_class``, :class:`lib.estimators.valuation.TaskUtility`). ``None`` = the estimator's
    own default."""

    sgd_epochs: int | None = None
    sgd_batch_size: int | None = None
    sgd_lr: float | None = None
    lissa_depth: int | None = None
    lissa_batch_size: int | None = None
    arnoldi_iter: int | None = None
    arnoldi_top_k: int | None = None
    downsampling_models: int | None = None
    tmc_permutations: int | None = None
    banzhaf_samples: int | None = None
    beta_permutations: int | None = None
    knn_k: int | None = None
    missing_class: str | None = None

    def replace(self, **changes: Any) -> Budget:
        return replace(self, **changes)


def _pick(budget: Budget, **names: str) -> dict[str, Any]:
    """``{option: getattr(budget, field)}`` for the fields that are set."""
    return {opt: getattr(budget, f) for opt, f in names.items() if getattr(budget, f) is not None}


def _sgd(b: Budget) -> dict[str, Any]:
    return _pick(b, epochs="sgd_epochs", batch_size="sgd_batch_size", lr="sgd_lr")


@dataclass(frozen=True)
class Estimator:
    """One registry entry: the function, its family (one of ``FAMILIES``), where the survey
    describes it, the tasks it applies to, and how a :class:`Budget` becomes its options."""

    name: str
    fn: EstimatorFn
    family: str
    survey: str
    tasks: tuple[str, ...] = TASKS
    budget: Callable[[Budget], dict[str, Any]] = field(default=lambda b: {})

    def options(self, budget: Budget | None = None) -> dict[str, Any]:
        return self.budget(budget or Budget())

    def __call__(self, task: Task, rng: np.random.Generator, **options: Any) -> np.ndarray:
        return self.fn(task, rng, **options)


def _valuation(b: Budget, **names: str) -> dict[str, Any]:
    return _pick(b, **names, missing_class="missing_class")


#: Every estimator of the survey once, by name, as an :class:`Estimator` (function, family, section, tasks, budget).
REGISTRY: dict[str, Estimator] = {e.name: e for e in [
    Estimator("influence_exact", gradient.influence_exact, "static gradient", "[S] §5.1.1, Eq. 33"),
    Estimator("influence_cg", gradient.influence_cg, "static gradient", "[S] §5.1.1.1 (conjugate gradients)"),
    Estimator("influence_lissa", gradient.influence_lissa, "static gradient", "[S] §5.1.1.1 (LiSSA)",
              budget=lambda b: _pick(b, depth="lissa_depth", batch_size="lissa_batch_size")),
    Estimator("influence_arnoldi", gradient.influence_arnoldi, "static gradient", "[S] §5.1.1.3 (Arnoldi)",
              budget=lambda b: _pick(b, n_iter="arnoldi_iter", top_k="arnoldi_top_k")),
    Estimator("representer_point", gradient.representer_point, "static gradient", "[S] §5.1.2, Eq. 43-46"),
    Estimator("relatif", gradient.relatif, "static gradient", "[S] §5.3, Eq. 65"),
    Estimator("renormalized_if", gradient.influence_renormalized, "static gradient", "[S] §5.3, Eq. 68"),
    Estimator("tracin", gradient.tracin, "dynamic gradient", "[S] §5.2.1, Eq. 54", budget=_sgd),
    Estimator("tracin_cp", gradient.tracin_cp, "dynamic gradient", "[S] §5.2.1, Eq. 55", budget=_sgd),
    Estimator("gas", gradient.gas, "dynamic gradient", "[S] §5.3, Eq. 67", budget=_sgd),
    Estimator("hydra_fast", gradient.hydra_fast, "dynamic gradient", "[S] §5.2.2, Alg. 4, Eq. 61", budget=_sgd),
    Estimator("loo", valuation.leave_one_out, "retraining", "[S] §4.1, Eq. 7"),
    Estimator("downsampling", valuation.downsampling, "retraining", "[S] §4.2, Eq. 8",
              budget=lambda b: _valuation(b, n_models="downsampling_models")),
    Estimator("tmc_shapley", valuation.tmc_shapley, "retraining", "[S] §4.3, Eq. 16 (TMC)",
              budget=lambda b: _valuation(b, n_permutations="tmc_permutations")),
    Estimator("banzhaf_msr", valuation.banzhaf_msr, "retraining", "[S] §4.3, Eq. 26 (MSR)",
              budget=lambda b: _valuation(b, n_samples="banzhaf_samples")),
    Estimator("beta_shapley", valuation.beta_shapley, "retraining", "[S] §4.3 (Beta Shapley)",
              tasks=("logistic",), budget=lambda b: _valuation(b, n_permutations="beta_permutations")),
    Estimator("knn_shapley", valuation.knn_shapley_task, "surrogate", "[S] §4.3, Eq. 24-25 (kNN-Shapley)",
              budget=lambda b: _pick(b, k="knn_k")),
]}


def task_kind(task: Task) -> str:
    """``"mlp"`` for an :class:`MLPTask`, ``"logistic"`` for the convex :class:`Task`."""
    return "mlp" if isinstance(task, MLPTask) else "logistic"


def estimators_for(task: Task | str, exclude: tuple[str, ...] = ()) -> dict[str, Estimator]:
    """The registry entries that apply to ``task`` (or a task kind in ``TASKS``), in registry order,
    without the names in ``exclude`` (e.g. ``("loo",)`` when LOO is the ground truth)."""
    kind = task if isinstance(task, str) else task_kind(task)
    if kind not in TASKS:
        raise ValueError(f"unknown task kind {kind!r}; choose one of {TASKS}")
    unknown = sorted(set(exclude) - set(REGISTRY))
    if unknown:
        raise ValueError(f"unknown estimator(s) {unknown}; known: {', '.join(REGISTRY)}")
    return {k: e for k, e in REGISTRY.items() if kind in e.tasks and k not in exclude}


def options_for(entries: Mapping[str, Estimator], budget: Budget) -> dict[str, dict[str, Any]]:
    """``{name: options}`` of every entry under ``budget`` (what ``benchmark.run_estimators`` takes)."""
    return {k: e.options(budget) for k, e in entries.items()}

