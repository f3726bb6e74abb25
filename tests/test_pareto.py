"""lib.pareto: the LP's first-order prediction vs retraining, its constraints, the GA's elitism."""

import numpy as np
import pytest

from lib import influence as inf
from lib import pareto
from lib.datasets.pc_synthetic import angular_radius, noisy_disks
from lib.models import LogisticRegression


@pytest.fixture(scope="module")
def problem():
    rng = np.random.default_rng(1)
    X, y, _ = noisy_disks(rng, (120, 120), (20, 8))
    Xv, yv, _ = noisy_disks(rng, (100, 100), (0, 0))
    Xt, yt, _ = noisy_disks(rng, (100, 100), (0, 0))
    m = LogisticRegression(l2=1.0).fit(X, y)
    P = inf.influence_vectors(m, X, y, Xv, yv)
    return m, X, y, Xv, yv, Xt, yt, P


def test_lp_prediction_matches_retraining(problem):
    m, X, y, Xv, yv, _, _, P = problem
    w = pareto.pareto_weights(P, [0], w_max=3.0, rho=0.01, eps=[0.0, 0.0], class_sizes=np.bincount(yv))
    pred = inf.reweighting_prediction(P, w)
    actual = inf.evaluate(inf.retrain(m, X, y, w), inf.class_loss_quantities(Xv, yv, 2)) - inf.evaluate(
        m, inf.class_loss_quantities(Xv, yv, 2))
    # small trust region (rho = 0.01): first order within 5% of the largest change (measured: ~1%)
    assert np.abs(pred - actual).max() <= 0.05 * np.abs(actual).max() + 0.01, (pred, actual)
    assert pred[0] < 0 and actual[0] < 0  # the target's loss falls, as predicted


def test_lp_respects_box_trust_region_and_class_constraints(problem):
    *_, yv, _, _, P = problem
    n = len(P)
    sizes = np.bincount(yv)
    for rho, wmax, s2n in [(0.05, 2.0, False), (0.2, 3.0, True), (None, 1.5, False)]:
        eps = np.array([0.0, 0.01])
        w = pareto.pareto_weights(P, [0, 1], w_max=wmax, rho=rho, eps=eps, class_sizes=sizes, sum_to_n=s2n)
        assert w.min() >= -1e-9 and w.max() <= wmax + 1e-9
        if rho is not None:
            assert np.abs(w - 1).sum() <= rho * n + 1e-6
        if s2n:
            assert w.sum() == pytest.approx(n, abs=1e-6)
        assert np.all((w - 1) @ (P / sizes) >= -eps - 1e-7)
    # a vertex solution: almost every weight sits at a bound (0, 1 from the trust region, w_max)
    w = pareto.pareto_weights(P, [0, 1], w_max=3.0, rho=None, class_sizes=sizes)
    assert np.mean(np.isclose(w, 0) | np.isclose(w, 3.0)) > 0.95


def test_lp_beats_every_single_removal_on_its_objective(problem):
    *_, yv, _, _, P = problem
    sizes = np.bincount(yv)
    w = pareto.pareto_weights(P, [0, 1], w_max=3.0, rho=0.05, class_sizes=sizes)
    gain = (w - 1) @ (P / sizes)
    single = -(P / sizes)  # removing sample i alone
    assert gain.sum() >= single.sum(1).max() - 1e-9 and np.all(gain >= -1e-9)


def test_infeasible_lp_names_the_constraint(problem):
    *_, yv, _, _, P = problem
    # alpha form: demand twice the current total influence of both classes within a tiny trust region
    alpha = np.where(P.sum(0) > 0, 2.0, -2.0)
    with pytest.raises(pareto.InfeasibleLPError, match=r"k=\d.*alpha"):
        pareto.pareto_weights(P, [0], alpha=alpha, rho=0.001, class_sizes=np.bincount(yv))
    with pytest.raises(pareto.InfeasibleLPError, match="eps_k"):
        pareto.pareto_weights(P, [0], eps=[-10.0, -10.0], rho=0.01, class_sizes=np.bincount(yv))
    with pytest.raises(ValueError, match="not both"):
        pareto.pareto_weights(P, [0], eps=[0, 0], alpha=[1, 1], class_sizes=np.bincount(yv))


def test_fitness_is_finite_and_tie_broken():
    assert pareto.fitness(np.array([-0.1, 0.2]), [0]) == (-1000.0, -0.1)
    assert pareto.fitness(np.array([0.1, -0.2]), [0]) == pytest.approx((-0.1, 0.1))
    assert pareto.fitness(np.array([0.0, 0.0]), [0, 1])[0] == -2000.0


def test_ga_elitism_and_reproducibility():
    rng = np.random.default_rng(3)
    X, y = angular_radius(rng, (80, 80))
    Xv, yv = angular_radius(rng, (80, 80))
    Xt, yt = angular_radius(rng, (80, 80))
    m = LogisticRegression(l2=1.0).fit(X, y)
    P = inf.influence_vectors(m, X, y, Xv, yv)
    kw = dict(targets=[0], generations=3, n_elites=2, n_mutated=2, n_random=2, n_children=2,
              metric="neg_loss", rho=0.05)
    res = pareto.pareto_lp_ga(m, X, y, P, Xv, yv, Xt, yt, rng=np.random.default_rng(0), **kw)
    hist = [h for h in res.history]
    assert all(b >= a for a, b in zip(hist, hist[1:])), hist  # lexicographic, non-decreasing
    assert res.val_change is not None and res.test_change is not None
    res2 = pareto.pareto_lp_ga(m, X, y, P, Xv, yv, Xt, yt, rng=np.random.default_rng(0), **kw)
    np.testing.assert_allclose(res.weights, res2.weights)
