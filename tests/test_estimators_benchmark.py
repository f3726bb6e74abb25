"""Benchmark helpers: label flipping, detection curves, ground-truth LOO, timed runs."""

import numpy as np
import pytest

from lib.estimators import Task, benchmark


def test_flip_labels_changes_exactly_the_reported_samples(rng):
    y = rng.integers(0, 3, 200)
    noisy, idx = benchmark.flip_labels(y, 0.1, 3, rng)
    assert len(idx) == 20 and set(np.flatnonzero(noisy != y)) == set(idx)
    assert noisy.min() >= 0 and noisy.max() <= 2
    with pytest.raises(ValueError, match="fraction"):
        benchmark.flip_labels(y, 1.5, 3, rng)


def test_detection_curve_perfect_and_reversed_rankings():
    n, flipped = 100, np.arange(10)
    scores = np.arange(n, dtype=float)  # flipped samples have the lowest scores
    x, found, auc = benchmark.detection_curve(scores, flipped)
    assert found[10] == 1.0 and found[9] == 0.9 and x[-1] == 1.0
    assert auc == pytest.approx(1 - 0.1 / 2, abs=0.01)
    assert benchmark.detection_curve(-scores, flipped)[2] == pytest.approx(0.1 / 2, abs=0.01)
    assert benchmark.detection_curve(-scores, flipped, lowest_first=False)[2] == pytest.approx(0.95, abs=0.01)
    with pytest.raises(ValueError, match="NaN"):
        benchmark.detection_curve(np.full(n, np.nan), flipped)


def test_actual_loo_matches_plain_retraining_and_run_estimators_times(rng):
    X = rng.standard_normal((30, 3))
    y = (X[:, 0] + 0.5 * rng.standard_normal(30) > 0).astype(int)
    Xv = rng.standard_normal((20, 3))
    yv = (Xv[:, 0] > 0).astype(int)
    task = Task(X, y, Xv, yv)
    loo = benchmark.actual_loo(task)
    for i in (0, 7):
        keep = np.delete(np.arange(30), i)
        assert loo[i] == pytest.approx(task.utility(task.model) - task.utility(task.fit_subset(keep)), abs=1e-6)
    comp = benchmark.run_estimators(task, {"loo": lambda t, r: benchmark.actual_loo(t)}, rng, trace_memory=True)
    assert comp.runs["loo"].seconds > 0 and comp.runs["loo"].peak_mib >= 0
    np.testing.assert_allclose(comp.runs["loo"].values, loo)
    tab = comp.table(loo, np.array([0, 1]))
    assert tab.loc["loo", "spearman_loo"] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="shape"):
        benchmark.run_estimators(task, {"bad": lambda t, r: np.zeros(3)}, rng)


def test_table_against_several_ground_truths(rng):
    X = rng.standard_normal((30, 3))
    y = (X[:, 0] + 0.5 * rng.standard_normal(30) > 0).astype(int)
    task = Task(X, y, X[:20], y[:20])
    a = rng.standard_normal(30)
    comp = benchmark.run_estimators(task, {"a": lambda t, r: a, "neg": lambda t, r: -a}, rng)
    tab = comp.table(None, np.array([0, 1]), {"self": np.abs(a)}, references={"truth": a})
    assert "pearson_loo" not in tab and tab.loc["a", "pearson_truth"] == pytest.approx(1.0)
    assert tab.loc["neg", "spearman_truth"] == pytest.approx(-1.0)
    assert np.isnan(tab.loc["self", "pearson_truth"]) and np.isfinite(tab.loc["self", "detection_auc"])
    both = comp.table(a, np.array([0, 1]), references={"truth": -a})
    assert both.loc["a", "pearson_loo"] == pytest.approx(1.0) and both.loc["a", "pearson_truth"] == pytest.approx(-1.0)
    with pytest.raises(ValueError, match="ground truth"):
        comp.table(None, np.array([0, 1]))


def test_detection_curve_ignores_floating_noise_between_equal_scores(rng):
    """Two estimators equal in exact arithmetic (exact IF and converged CG) rank alike."""
    eps = np.finfo(float).eps
    s = np.repeat(rng.normal(size=25), 4)  # many exact ties
    flipped = rng.choice(100, 10, replace=False)
    ref = benchmark.detection_curve(s, flipped)
    for _ in range(5):
        noisy = s * (1 + 4 * eps * rng.standard_normal(100))
        x, f, auc = benchmark.detection_curve(noisy, flipped)
        np.testing.assert_array_equal(f, ref[1])
        assert auc == ref[2]
