"""Conformance of every entry of the one estimator registry (lib.estimators.REGISTRY): the common
call shape, finite values, determinism given the generator, and positive rank agreement with
actual leave-one-out on a small convex task with flipped labels."""

import numpy as np
import pytest
from scipy.stats import spearmanr

from lib.datasets import load
from lib.estimators import REGISTRY, Budget, MLPTask, Task, estimators_for, options_for
from lib.estimators.benchmark import actual_loo, flip_labels
from lib.preprocessing import standardised_split

#: small budgets: the Monte-Carlo estimators are noisy at these sizes, but must not be wrong in sign
BUDGET = Budget(sgd_epochs=20, sgd_batch_size=16, sgd_lr=0.2, lissa_depth=300, arnoldi_iter=7, arnoldi_top_k=4,
                downsampling_models=300, tmc_permutations=20, banzhaf_samples=300, beta_permutations=20, knn_k=5,
                missing_class="prior")


@pytest.fixture(scope="module")
def convex():
    ds = load("breast_cancer")
    rng = np.random.default_rng(3)
    (Xt, yt), (Xv, yv) = standardised_split(ds.X[:, :6], ds.y, [40, 60], rng)
    y_noisy, flipped = flip_labels(yt, 0.2, 2, rng)
    task = Task(Xt, y_noisy, Xv, yv, n_classes=2)
    return task, actual_loo(task)


@pytest.mark.parametrize("name", list(REGISTRY))
def test_entry_conforms_on_a_convex_task(name, convex):
    task, loo = convex
    entry = REGISTRY[name]
    assert "logistic" in entry.tasks
    opts = entry.options(BUDGET)
    a = np.asarray(entry(task, np.random.default_rng(0), **opts))
    b = np.asarray(entry(task, np.random.default_rng(0), **opts))
    assert a.shape == (task.n_train,) and np.isfinite(a).all()
    np.testing.assert_array_equal(a, b)  # same generator -> same result
    rho = spearmanr(a, loo)[0]
    assert rho > 0.3, f"{name}: Spearman with actual LOO {rho:.2f}"


@pytest.mark.parametrize("name", list(estimators_for("mlp", exclude=("loo",))))
def test_entry_runs_on_the_mlp_task(name, convex):
    task, _ = convex
    mtask = MLPTask(task.X_train, task.y_train, task.X_val, task.y_val, n_classes=2, l2=3.0, hidden=3)
    entry = REGISTRY[name]
    opts = entry.options(BUDGET.replace(sgd_epochs=2, tmc_permutations=2, downsampling_models=30, banzhaf_samples=30))
    a = np.asarray(entry(mtask, np.random.default_rng(1), **opts))
    assert a.shape == (task.n_train,) and np.isfinite(a).all()
    np.testing.assert_array_equal(a, np.asarray(entry(mtask, np.random.default_rng(1), **opts)))


def test_registry_lookup_and_options():
    assert list(estimators_for("logistic", exclude=("loo",)))[:2] == ["influence_exact", "influence_cg"]
    assert "beta_shapley" not in estimators_for("mlp")
    opts = options_for(estimators_for("logistic"), Budget(tmc_permutations=7, missing_class="prior"))
    assert opts["tmc_shapley"] == {"n_permutations": 7, "missing_class": "prior"}
    assert opts["influence_exact"] == {}
    with pytest.raises(ValueError, match="unknown estimator"):
        estimators_for("logistic", exclude=("tracin_typo",))
    with pytest.raises(ValueError, match="task kind"):
        estimators_for("svm")
    assert {e.family for e in REGISTRY.values()} <= {"retraining", "static gradient", "dynamic gradient", "surrogate"}
