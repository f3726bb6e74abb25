"""lib.estimators.capped: TMC-Shapley under a time budget reports its per-permutation time."""

import numpy as np
import pytest

from lib.estimators.capped import gz19_error, prefix_utility, tmc_shapley_capped
from lib.estimators.valuation import tmc_shapley_game


def _game(n, weights):
    return lambda S: float(np.sqrt(weights[np.asarray(S, dtype=int)].sum()))


class FakeClock:
    """A clock the test advances by hand (the games below add one second per utility evaluation)."""

    def __init__(self):
        self.t = 0.0

    def __call__(self):
        return self.t


def test_same_values_as_tmc_shapley_game():
    n = 9
    w = np.random.default_rng(0).random(n)
    game = _game(n, w)
    for tol in (0.0, 0.05):
        run = tmc_shapley_capped(
            game, n, np.random.default_rng(1), time_budget_s=1e9, max_permutations=30, truncation_tol=tol
        )
        ref = tmc_shapley_game(game, n, np.random.default_rng(1), n_permutations=30, truncation_tol=tol)
        np.testing.assert_allclose(run.values, ref, rtol=1e-12, atol=1e-12)
        assert run.n_permutations == 30 and run.stopped == "max_permutations"
    # without truncation every permutation's marginals add up to U(D) - U(empty) (efficiency)
    full = tmc_shapley_capped(
        game, n, np.random.default_rng(2), time_budget_s=1e9, max_permutations=5, truncation_tol=0.0
    )
    np.testing.assert_allclose(full.marginals.sum(1), game(np.arange(n)) - game([]), rtol=1e-12)
    assert (full.evaluations == n - 1).all()  # U(D) and U(empty) are computed once, up front
    # GZ19's code truncates relative to U(D) itself (here U(empty) = 2, so |U(D)| > |U(D) - U(empty)|)
    shifted = lambda S: 2.0 + game(S)
    u_d, u_0 = shifted(np.arange(n)), shifted([])
    value = tmc_shapley_capped(
        shifted,
        n,
        np.random.default_rng(2),
        time_budget_s=1e9,
        max_permutations=5,
        truncation_tol=0.05,
        truncation_reference="value",
    )
    ranged = tmc_shapley_capped(
        shifted,
        n,
        np.random.default_rng(2),
        time_budget_s=1e9,
        max_permutations=5,
        truncation_tol=0.05 * u_d / (u_d - u_0),
    )
    np.testing.assert_allclose(value.values, ranged.values)
    np.testing.assert_array_equal(value.evaluations, ranged.evaluations)
    assert value.evaluations.sum() < full.evaluations.sum()
    with pytest.raises(ValueError, match="truncation_reference"):
        tmc_shapley_capped(game, n, np.random.default_rng(2), time_budget_s=1.0, truncation_reference="x")


def test_budget_stops_the_run_and_times_each_permutation():
    n = 10
    clock = FakeClock()
    w = np.random.default_rng(0).random(n)

    def game(S):
        clock.t += 1.0
        return float(w[np.asarray(S, dtype=int)].sum())

    run = tmc_shapley_capped(game, n, np.random.default_rng(0), time_budget_s=25.0, truncation_tol=0.0, clock=clock)
    # setup: U(D) and U(empty) = 2 s; each permutation evaluates the 9 proper prefixes = 9 s
    assert run.setup_seconds == 2.0
    assert run.n_permutations == 2 and run.stopped == "time_budget"
    np.testing.assert_array_equal(run.seconds, [9.0, 9.0])
    np.testing.assert_array_equal(run.evaluations, [9, 9])
    assert run.partial_seconds == 5.0 and run.partial_evaluations == 5  # cut at t = 25
    assert run.seconds_per_permutation == 9.0 and not run.is_lower_bound
    assert run.estimated_seconds(100) == 2.0 + 900.0
    assert run.stderr.shape == (n,)


def test_no_completed_permutation_gives_a_lower_bound():
    n = 50
    clock = FakeClock()

    def game(S):
        clock.t += 1.0
        return float(len(S))

    run = tmc_shapley_capped(game, n, np.random.default_rng(0), time_budget_s=12.0, truncation_tol=0.0, clock=clock)
    assert run.n_permutations == 0 and run.is_lower_bound
    assert run.seconds_per_permutation == run.partial_seconds == 10.0
    assert np.isnan(run.values).all() and np.isnan(run.stderr).all()
    with pytest.raises(ValueError, match="time_budget_s"):
        tmc_shapley_capped(game, n, np.random.default_rng(0), time_budget_s=0.0)


def test_gz19_error():
    assert gz19_error(np.ones((50, 3))) == 1.0
    assert gz19_error(np.ones((120, 3))) == 0.0
    M = np.zeros((100, 1))
    M[-1] = 100.0  # the running mean jumps from 0 to 1 at the last permutation
    assert gz19_error(M) == pytest.approx(1.0, rel=1e-9)
    rng = np.random.default_rng(0)
    noisy = rng.normal(1.0, 0.1, (400, 5))
    assert gz19_error(noisy) < 0.05 < gz19_error(rng.normal(1.0, 3.0, (400, 5)))


def test_prefix_utility_trains_on_the_subset_only():
    r = np.random.default_rng(0)
    X, y = r.standard_normal((40, 3)), (r.random(40) < 0.5).astype(int)
    Xv, yv = r.standard_normal((30, 3)), np.r_[np.ones(20, int), np.zeros(10, int)]
    u = prefix_utility(X, y, Xv, yv, l2=1.0)
    assert u(np.array([], dtype=int)) == pytest.approx(2 / 3)  # the majority class of the validation set
    assert u(np.flatnonzero(y == 1)) == pytest.approx(2 / 3)  # one class only: no model is trained
    from lib.models import LogisticRegression

    S = np.arange(20)
    assert u(S) == LogisticRegression(l2=1.0).fit(X[S], y[S]).score(Xv, yv)
