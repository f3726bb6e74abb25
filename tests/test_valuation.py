"""Retraining-based / game-theoretic estimators against ground truth: closed-form games, exact
enumeration of all coalitions, actual retraining (lib.estimators.valuation)."""

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer, load_wine

from lib.estimators import Task, estimators_for
from lib.estimators import valuation as val
from lib.models import LogisticRegression
from lib.preprocessing import standardised_split


# ---------------------------------------------------------------------------- games
def additive_game(v):
    return lambda S: float(v[np.asarray(S, dtype=int)].sum())


def glove_game(S):
    """Players 0, 1 hold left gloves, player 2 the right one: a pair is worth 1."""
    S = set(np.asarray(S, dtype=int).tolist())
    return float(2 in S and bool(S & {0, 1}))


def rich_game(a, bonus=(0, 1)):
    """Submodular part (concave in the total weight) plus a pairwise complementarity."""
    def u(S):
        S = np.asarray(S, dtype=int)
        return float(np.log1p(a[S].sum()) + 0.7 * (bonus[0] in S and bonus[1] in S) - 0.2 * len(S) ** 0.5)
    return u


def marginal_moments(game, n, subset_prob, position_weight):
    """Exact mean and variance of one Monte-Carlo draw ``w(|S|) [U(S+i) - U(S)]`` when the
    coalition ``S`` before ``i`` has probability ``subset_prob[|S|]`` (enumeration)."""
    codes, bits = val._all_masks(n)
    u = np.array([game(np.flatnonzero(b)) for b in bits])
    size = bits.sum(1)
    delta = u[codes[:, None] | (1 << np.arange(n))[None, :]] - u[:, None]
    p = np.where(bits, 0.0, subset_prob[np.minimum(size, n - 1)][:, None])
    x = position_weight[np.minimum(size, n - 1)][:, None] * delta
    mean = (p * x).sum(0)
    return mean, (p * x**2).sum(0) - mean**2


def game_variance(game, n):
    """Variance of ``U(S)`` over uniformly random subsets (all ``2^n``)."""
    _, bits = val._all_masks(n)
    return np.var([game(np.flatnonzero(b)) for b in bits])


N = 8
A = np.random.default_rng(1).uniform(0.2, 2.0, N)


# ---------------------------------------------------------------------------- exact oracles
def test_exact_semivalues_of_additive_game_are_the_weights():
    v = np.random.default_rng(0).normal(size=7)
    for phi in (val.exact_shapley(additive_game(v), 7), val.exact_banzhaf(additive_game(v), 7),
                val.exact_beta_shapley(additive_game(v), 7, 16, 1),
                val.exact_beta_shapley(additive_game(v), 7, 2, 5)):
        np.testing.assert_allclose(phi, v, atol=1e-12)  # weights are normalised


def test_exact_values_of_glove_game_match_closed_form():
    np.testing.assert_allclose(val.exact_shapley(glove_game, 3), [1 / 6, 1 / 6, 2 / 3], atol=1e-12)
    np.testing.assert_allclose(val.exact_banzhaf(glove_game, 3), [1 / 4, 1 / 4, 3 / 4], atol=1e-12)


def test_exact_shapley_efficiency_and_symmetry():
    a = A.copy()
    a[5] = a[4]  # players 4 and 5 are interchangeable
    game = rich_game(a)
    sv, bz = val.exact_shapley(game, N), val.exact_banzhaf(game, N)
    assert sv.sum() == pytest.approx(game(np.arange(N)) - game([]), abs=1e-12)
    assert sv[4] == pytest.approx(sv[5], abs=1e-12) and bz[4] == pytest.approx(bz[5], abs=1e-12)
    assert abs(sv[4] - sv[3]) > 1e-3  # ... and only they
    assert abs(bz.sum() - sv.sum()) > 1e-3  # Banzhaf is not efficient: the games are distinguishable


def test_beta_one_one_is_shapley():
    game = rich_game(A)
    np.testing.assert_allclose(val.exact_beta_shapley(game, N, 1.0, 1.0), val.exact_shapley(game, N), atol=1e-12)
    np.testing.assert_allclose(val.beta_subset_weights(N, 1.0, 1.0), val.shapley_subset_weights(N), rtol=1e-12)
    # Beta(16, 1) favours small coalitions: its weights decrease with the coalition size
    assert np.all(np.diff(val.beta_subset_weights(N, 16.0, 1.0)) < 0)


# ---------------------------------------------------------------------------- Monte Carlo vs exact
def test_tmc_shapley_matches_exact_within_monte_carlo_error(rng):
    game, P = rich_game(A), 400
    exact = val.exact_shapley(game, N)
    mean, var = marginal_moments(game, N, val.shapley_subset_weights(N), np.ones(N))
    np.testing.assert_allclose(mean, exact, atol=1e-12)
    se = np.sqrt(var / P)
    est = val.tmc_shapley_game(game, N, rng, n_permutations=P, truncation_tol=0.0)
    assert np.all(np.abs(est - exact) < 4.5 * se), (est - exact) / se
    # the tolerance discriminates: Banzhaf values would fail it
    assert np.any(np.abs(val.exact_banzhaf(game, N) - exact) > 4.5 * se)
    # no truncation: every permutation telescopes, so efficiency holds exactly
    assert est.sum() == pytest.approx(game(np.arange(N)) - game([]), abs=1e-10)


def test_tmc_truncation_bounds_efficiency_error_and_saves_evaluations(rng):
    game = additive_game(np.r_[np.full(4, 1.0), np.full(16, 1e-3)])  # later samples barely matter
    calls = []
    counted = lambda S: calls.append(1) or game(S)  # noqa: E731
    tol, total = 0.01, game(np.arange(20)) - game([])
    est = val.tmc_shapley_game(counted, 20, rng, n_permutations=30, truncation_tol=tol)
    assert abs(est.sum() - total) <= tol * abs(total) + 1e-12
    assert 0 < abs(est.sum() - total)  # it did truncate ...
    assert len(calls) < 30 * 19  # ... and skipped utility evaluations


def test_banzhaf_msr_matches_exact_within_monte_carlo_error(rng):
    game, M = rich_game(A), 6000
    exact = val.exact_banzhaf(game, N)
    se = 2 * np.sqrt(game_variance(game, N) / M)
    est = val.banzhaf_msr_game(game, N, rng, n_samples=M)
    assert np.all(np.abs(est - exact) < 4.5 * se), (est - exact) / se
    assert np.any(np.abs(val.exact_shapley(game, N) - exact) > 4.5 * se)


def test_beta_shapley_matches_exact_within_monte_carlo_error(rng):
    game, P, alpha, beta = rich_game(A), 600, 16.0, 1.0
    exact = val.exact_beta_shapley(game, N, alpha, beta)
    s = np.arange(N)
    binom = np.exp(val.gammaln(N) - val.gammaln(s + 1) - val.gammaln(N - s))
    weight = N * binom * val.beta_subset_weights(N, alpha, beta)
    mean, var = marginal_moments(game, N, val.shapley_subset_weights(N), weight)
    np.testing.assert_allclose(mean, exact, atol=1e-12)  # the importance weights are unbiased
    se = np.sqrt(var / P)
    est = val.beta_shapley_game(game, N, rng, alpha=alpha, beta=beta, n_permutations=P)
    assert np.all(np.abs(est - exact) < 4.5 * se), (est - exact) / se
    assert np.any(np.abs(val.exact_shapley(game, N) - exact) > 4.5 * se)


def test_downsampling_matches_its_expectation(rng):
    game, K = rich_game(A), 6000
    exact = val.exact_downsampling(game, N, m=round(0.7 * N))
    se = 2.5 * np.sqrt(game_variance(game, N) / K)  # in/out groups of ~70% / 30% of K
    est = val.downsampling_game(game, N, rng, n_models=K, subset_frac=0.7)
    assert np.all(np.abs(est - exact) < 4.5 * se), (est - exact) / se
    # closed form on an additive game: v_i - (sum_j v_j - v_i) / (n - 1)
    v = np.random.default_rng(2).normal(size=N)
    np.testing.assert_allclose(val.exact_downsampling(additive_game(v), N, 5), v - (v.sum() - v) / (N - 1), atol=1e-12)


# ---------------------------------------------------------------------------- kNN-Shapley
def _knn_data(n, n_val, seed, n_classes=3):
    r = np.random.default_rng(seed)
    X, Xv = r.normal(size=(n, 2)), r.normal(size=(n_val, 2))
    return X, r.integers(0, n_classes, n), Xv, r.integers(0, n_classes, n_val)


@pytest.mark.parametrize("k", [1, 3, 5, 10])
def test_knn_shapley_matches_exact_enumeration(k):
    X, y, Xv, yv = _knn_data(8, 6, seed=k)
    game = val.knn_utility(X, y, Xv, yv, k)
    exact = val.exact_shapley(game, 8)
    phi = val.knn_shapley(X, y, Xv, yv, k=k, batch_size=4)  # two batches
    np.testing.assert_allclose(phi, exact, atol=1e-12)
    assert phi.sum() == pytest.approx(game(np.arange(8)), abs=1e-12)  # efficiency, U(empty) = 0


def test_knn_shapley_efficiency_and_duplicates_on_real_data():
    X, y = load_wine(return_X_y=True)
    (Xtr, ytr), (Xva, yva) = standardised_split(X, y, [80, 60], np.random.default_rng(0))
    Xtr, ytr = np.vstack([Xtr, Xtr[:3]]), np.r_[ytr, ytr[:3]]  # rows 80..82 duplicate 0..2
    phi = val.knn_shapley(Xtr, ytr, Xva, yva, k=5)
    assert phi.sum() == pytest.approx(val.knn_utility(Xtr, ytr, Xva, yva, 5)(np.arange(83)), abs=1e-12)
    np.testing.assert_allclose(phi[:3], phi[80:], atol=1e-12)


# ---------------------------------------------------------------------------- on a Task
def _task(n_train, seed, dup=False, n_val=80):
    X, y = load_breast_cancer(return_X_y=True)
    (Xtr, ytr), (Xva, yva) = standardised_split(X[:, :4], y, [n_train, n_val], np.random.default_rng(seed))
    if dup:
        Xtr[-1], ytr[-1] = Xtr[-2], ytr[-2]
    return Task(Xtr, ytr, Xva, yva)


def test_leave_one_out_equals_actual_retraining():
    task = _task(20, seed=0)
    loo = val.leave_one_out(task, np.random.default_rng(0))
    loo_acc = val.leave_one_out(task, utility="accuracy")
    full = LogisticRegression().fit(task.X_train, task.y_train)
    for i in range(task.n_train):
        with val.torch_threads(1):  # cold start, rows really deleted
            m = LogisticRegression().fit(np.delete(task.X_train, i, 0), np.delete(task.y_train, i), n_classes=2)
        assert loo[i] == pytest.approx(task.utility(full) - task.utility(m), abs=1e-7)
        assert loo_acc[i] == pytest.approx(full.score(task.X_val, task.y_val) - m.score(task.X_val, task.y_val))
    assert np.ptp(loo) > 1e-3
    part = val.leave_one_out(task, indices=[3, 7])
    assert np.isnan(part[0]) and part[3] == pytest.approx(loo[3], abs=1e-9)


def test_task_utility_game():
    task = _task(6, seed=1)
    u = val.task_utility_fn(task)
    assert u([]) == pytest.approx(-len(task.y_val) * np.log(2))
    assert val.empty_utility(task, "accuracy") == 0.5
    assert u(np.arange(6)) == pytest.approx(task.utility(task.model))
    one_class = np.flatnonzero(task.y_train == task.y_train[0])
    assert val.task_utility_fn(task, missing_class="prior")(one_class) == u([])
    assert u(one_class) < u([]) - 10  # trained anyway: confident in the one class it saw
    u([0, 1]); u([1, 0])
    assert u.n_fits == 2  # cached by subset (order-free)
    with pytest.raises(IndexError):
        u([6])
    acc = val.task_utility_fn(task, utility="accuracy")
    assert acc(np.arange(6)) == task.model.score(task.X_val, task.y_val) and acc([]) == 0.5
    assert acc([0, 1, 2]) == task.fit_subset([0, 1, 2]).score(task.X_val, task.y_val)


def test_exact_and_monte_carlo_shapley_on_a_logistic_regression_task():
    task = _task(6, seed=2, dup=True)  # samples 4 and 5 are duplicates
    for mc in ("fit", "prior"):
        u = val.task_utility_fn(task, missing_class=mc)
        sv, bz = val.exact_shapley(u, 6), val.exact_banzhaf(u, 6)
        assert sv.sum() == pytest.approx(u(np.arange(6)) - u([]), abs=1e-9)
        assert sv[4] == pytest.approx(sv[5], abs=1e-6) and bz[4] == pytest.approx(bz[5], abs=1e-6)
        assert np.ptp(sv) > 1e-2
    # the task wrapper (its own cached game) matches the exact values within MC error
    P = 300
    mean, var = marginal_moments(u, 6, val.shapley_subset_weights(6), np.ones(6))
    est = val.tmc_shapley(task, np.random.default_rng(3), n_permutations=P, truncation_tol=0.0,
                          missing_class="prior")
    assert np.all(np.abs(est - sv) < 4.5 * np.sqrt(var / P) + 1e-9)


def test_task_wrappers_follow_the_common_call_shape():
    task, rng = _task(8, seed=4), np.random.default_rng(0)
    for name, f in estimators_for(task).items():
        if f.family not in ("retraining", "surrogate"):
            continue
        opts = {"downsampling": dict(n_models=10), "tmc_shapley": dict(n_permutations=2),
                "banzhaf_msr": dict(n_samples=10), "beta_shapley": dict(n_permutations=2),
                "knn_shapley": dict(k=3)}.get(name, {})
        out = f(task, rng, **opts)
        assert out.shape == (8,) and np.isfinite(out).all(), name


def test_clear_errors():
    game = additive_game(np.ones(20))
    with pytest.raises(ValueError, match="MAX_EXACT_N"):
        val.exact_shapley(game, 20)
    with pytest.raises(TypeError, match="Generator"):
        val.tmc_shapley_game(game, 20, 0)
    with pytest.raises(ValueError, match="subset_frac"):
        val.downsampling_game(game, 20, np.random.default_rng(0), subset_frac=1.2)
    with pytest.raises(ValueError, match="utility"):
        val.leave_one_out(_task(5, 0), utility="auc")


def test_multiclass_task_game_prior_mode():
    X, y = load_wine(return_X_y=True)
    (Xtr, ytr), (Xva, yva) = standardised_split(X[:, :4], y, [6, 60], np.random.default_rng(1))
    assert set(ytr) == {0, 1, 2} and np.sum(ytr == 0) == np.sum(ytr == 2) == 1
    task = Task(Xtr, ytr, Xva, yva, n_classes=3)
    u = val.task_utility_fn(task, missing_class="prior")
    assert u([]) == pytest.approx(-60 * np.log(3))
    sv = val.exact_shapley(u, 6)
    assert sv.sum() == pytest.approx(u(np.arange(6)) - u([]), abs=1e-9)
    # the two singleton classes are needed by every coalition that trains: symmetric players
    i0, i2 = np.flatnonzero(ytr == 0)[0], np.flatnonzero(ytr == 2)[0]
    assert sv[i0] == pytest.approx(sv[i2], abs=1e-12) and sv[i0] > 0
    assert u.n_fits == 14  # the 2^4 - 1 subsets holding every class, less the full set (no refit)


def test_in_out_estimators_flag_samples_never_or_always_drawn(rng):
    with pytest.warns(RuntimeWarning, match="Increase the number"):
        est = val.downsampling_game(additive_game(np.ones(10)), 10, rng, n_models=2, subset_frac=0.5)
    assert np.isnan(est).any()


def test_reported_standard_errors_match_the_exact_ones(rng):
    game = rich_game(A)
    _, var = marginal_moments(game, N, val.shapley_subset_weights(N), np.ones(N))
    _, se = val.tmc_shapley_game(game, N, rng, n_permutations=400, truncation_tol=0.0, return_stderr=True)
    np.testing.assert_allclose(se, np.sqrt(var / 400), rtol=0.2)
    est, se = val.banzhaf_msr_game(game, N, rng, n_samples=4000, return_stderr=True)
    assert est.shape == se.shape == (N,)
    _, bits = val._all_masks(N)
    u = np.array([game(np.flatnonzero(b)) for b in bits])
    exact_se = np.sqrt([(u[b].var() + u[~b].var()) / 2000 for b in bits.T])  # ~M/2 draws each side
    np.testing.assert_allclose(se, exact_se, rtol=0.2)
