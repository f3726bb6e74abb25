"""lib.ceiling against constructions with known answers and an independent LP solver."""

import numpy as np
import pytest
from scipy.optimize import linprog

from lib import ceiling


def _linprog_t(P, delta_max=1.0):
    """Independent solve (HiGHS): max t s.t. P^T d >= t, -1 <= d <= delta_max."""
    n, K = P.shape
    c = np.r_[np.zeros(n), -1.0]
    A = np.c_[-P.T, np.ones(K)]  # t - P^T d <= 0
    bounds = [(-1.0, delta_max)] * n + [(None, None)]
    res = linprog(c, A_ub=A, b_ub=np.zeros(K), bounds=bounds, method="highs")
    assert res.status == 0
    return -res.fun


def test_obvious_pareto_improvement_is_below_ceiling():
    # sample 0 hurts both classes: removing it (delta_0 = -1) gains 1 and 2
    P = np.array([[-1.0, -2.0], [1.0, -1.0], [-1.0, 1.0]])
    r = ceiling.ceiling_test(P)
    assert r.below_ceiling and r.t > 0.5
    assert np.all(P.T @ r.delta >= r.t - 1e-9)
    assert np.all(r.delta >= -1 - 1e-9) and np.all(r.delta <= 1 + 1e-9)
    assert ceiling.region_counts(P) == {"jointly_positive": 0, "jointly_negative": 1, "tradeoff": 2, "neutral": 0}


def test_rows_on_positive_normal_hyperplane_are_at_ceiling(rng):
    c = rng.normal(size=50)
    P = np.c_[c, -c]  # every row orthogonal to (1, 1)
    r = ceiling.ceiling_test(P, delta_max=3.0)
    assert abs(r.t_relative) < 1e-7 and not r.below_ceiling
    s = ceiling.svd_view(P)
    assert s.flatness < 1e-12 and s.positive_normal and s.at_ceiling
    np.testing.assert_allclose(s.normal, np.ones(2) / np.sqrt(2), atol=1e-10)
    # the paper's PCA check says "room for improvement" although there is none
    ratio, says_room = ceiling.pca_check(P)
    assert ratio > 0.99 and says_room


def test_hyperplane_with_mixed_sign_normal_is_not_a_ceiling(rng):
    c = rng.normal(size=40)
    P = np.c_[c, c]  # rows orthogonal to (1, -1): not a positive normal
    assert ceiling.svd_view(P).positive_normal is False
    assert ceiling.ceiling_test(P).below_ceiling


def test_three_class_ceiling(rng):
    # rows orthogonal to a strictly positive normal y in R^3 -> at ceiling
    y = np.array([1.0, 2.0, 0.5])
    B = np.linalg.svd(y[None, :])[2][1:]  # basis of y's orthogonal complement
    P = rng.normal(size=(30, 2)) @ B
    assert abs(ceiling.ceiling_test(P).t_relative) < 1e-7
    assert ceiling.svd_view(P).at_ceiling


@pytest.mark.parametrize("seed", range(6))
def test_agrees_with_scipy_linprog(seed):
    rng = np.random.default_rng(seed)
    n, K = rng.integers(5, 40), rng.integers(2, 5)
    P = rng.normal(size=(n, K)) + rng.normal(size=K) * (seed % 2)
    dm = float(rng.uniform(0.5, 3.0))
    r = ceiling.ceiling_test(P, delta_max=dm)
    assert r.t == pytest.approx(_linprog_t(P, dm), rel=1e-6, abs=1e-8)


def test_scale_normalises_classes():
    P = np.array([[-1.0, -10.0], [2.0, -20.0]])
    r1 = ceiling.ceiling_test(P, scale=np.array([1.0, 10.0]))
    r2 = ceiling.ceiling_test(P / [1.0, 10.0])
    assert r1.t == pytest.approx(r2.t)


def test_bad_input_is_a_clear_error():
    with pytest.raises(ValueError, match="influence_vectors"):
        ceiling.ceiling_test(np.ones(5))
    with pytest.raises(ValueError, match="NaN"):
        ceiling.region_counts(np.array([[np.nan, 1.0]]))


# ---------------------------------------------------------------------- cross-fitted test (#16)
def _synthetic_Q(rng, genuine: float, n_train=150, K=3, per_class=40, noise=2.0):
    """Per-validation-sample influence whose class means lie exactly on a hyperplane through the
    origin with a positive normal (no Pareto improvement exists in expectation), plus noise; with
    ``genuine > 0`` a fifth of the training samples also help every class (a real improvement)."""
    normal = np.array([1.0, 2.0, 1.5])[:K]
    normal /= np.linalg.norm(normal)
    M = rng.standard_normal((n_train, K))
    M -= np.outer(M @ normal, normal)  # every row on the hyperplane normal . x = 0
    M[: n_train // 5] += genuine
    y = np.repeat(np.arange(K), per_class)
    Q = M[:, y] + noise * rng.standard_normal((n_train, len(y)))
    return Q, y


def test_per_sample_influence_sums_to_the_influence_vectors():
    from lib.datasets import load
    from lib.influence import influence_vectors, per_sample_influence
    from lib.models import LogisticRegression

    ds = load("wine")
    X = (ds.X - ds.X.mean(0)) / ds.X.std(0)
    tr, va = np.arange(0, 178, 2), np.arange(1, 178, 2)
    m = LogisticRegression().fit(X[tr], ds.y[tr])
    Q = per_sample_influence(m, X[tr], ds.y[tr], X[va], ds.y[va])
    assert Q.shape == (len(tr), len(va))
    P = influence_vectors(m, X[tr], ds.y[tr], X[va], ds.y[va])
    np.testing.assert_allclose(Q @ np.eye(3)[ds.y[va]], P, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("seed", range(5))
def test_crossfit_does_not_see_room_that_is_only_noise(seed):
    Q, y = _synthetic_Q(np.random.default_rng(seed), genuine=0.0)
    res = ceiling.crossfit_ceiling_test(Q, y, np.random.default_rng(100 + seed), n_splits=10)
    assert res.in_sample.below_ceiling  # the optimistic in-sample LP always finds "room"
    assert not res.below_ceiling and res.p_value >= 0.05
    assert res.verdict != "below_ceiling"


@pytest.mark.parametrize("seed", range(5))
def test_crossfit_finds_a_genuine_jointly_beneficial_direction(seed):
    Q, y = _synthetic_Q(np.random.default_rng(seed), genuine=1.0)
    res = ceiling.crossfit_ceiling_test(Q, y, np.random.default_rng(100 + seed), n_splits=10)
    assert res.below_ceiling and res.verdict == "below_ceiling"
    assert res.fraction_all_gain > 0.9 and np.median(res.worst_lower) > 0


def test_crossfit_bookkeeping_and_errors():
    Q, y = _synthetic_Q(np.random.default_rng(0), genuine=0.5)
    res = ceiling.crossfit_ceiling_test(Q, y, np.random.default_rng(1), n_splits=3, rho=0.05)
    assert res.gains.shape == (6, 3) and res.deltas.shape == (6, Q.shape[0]) and res.halves.shape == (6, len(y))
    assert (np.abs(res.deltas).sum(1) <= 0.05 * Q.shape[0] + 1e-6).all()  # the trust region holds
    assert (res.halves[0] == ~res.halves[1]).all()  # each split is used in both directions
    for k in range(3):  # stratified halves
        assert res.halves[0][y == k].sum() == (y == k).sum() // 2
    again = ceiling.crossfit_ceiling_test(Q, y, np.random.default_rng(1), n_splits=3, rho=0.05)
    np.testing.assert_array_equal(res.gains, again.gains)  # same rng, same result
    assert set(res.summary()) >= {"verdict", "p-value (every class gains)"}
    with pytest.raises(ValueError, match="n_val"):
        ceiling.crossfit_ceiling_test(Q[:, :-1], y, np.random.default_rng(0))
    with pytest.raises(ValueError, match=">= 4 validation samples"):
        ceiling.crossfit_ceiling_test(Q[:, :3], y[:3], np.random.default_rng(0))
    with pytest.raises(ValueError, match="confidence"):
        ceiling.crossfit_ceiling_test(Q, y, np.random.default_rng(0), confidence=1.0)
