"""lib.pareto: the LP's first-order prediction vs retraining, its constraints, the GA's elitism."""

import itertools
from functools import partial

import numpy as np
import pytest

from lib import influence as inf
from lib import pareto
from lib.datasets.pc_synthetic import noisy_disks
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
        m, inf.class_loss_quantities(Xv, yv, 2)
    )
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


def _toy_problem():
    """A linear world whose best PARETO-LP-GA weights are known: the 'model' is the weight vector
    and the per-class change is exactly the LP's first-order prediction. Samples 0-9 help the target
    class 0 only (P0 = 1..10), 10-19 help it more (P0 = 11..20) but cost class 1 a lot (P1 = -100),
    20-39 help class 1 only. With w_max = 3 and rho = 0.1 (budget sum |w - 1| <= 4) the best
    fitness (target gain + non-target loss) up-weights samples 8 and 9 to 3: trading budget for the
    costly samples gains 0.11 per unit of class-1 loss, less than the fitness pays for it."""
    P = np.zeros((40, 2))
    P[:10, 0] = np.arange(1, 11)
    P[10:20, 0] = np.arange(11, 21)
    P[10:20, 1] = -100.0
    P[20:, 1] = 0.5
    w_best = np.ones(40)
    w_best[[8, 9]] = 3.0
    return P, w_best


def toy_fit(w):
    return np.array(w, dtype=float)


def toy_score(model, P):
    # no BLAS: loky workers run BLAS with another thread count (another summation order)
    return (P * (model - 1.0)[:, None]).sum(0)


TOY_GA = {
    "targets": [0],
    "base": np.zeros(2),
    "normalise": False,
    "w_max": 3.0,
    "rho": 0.1,
    "threshold_max": 1.0,
    "generations": 6,
    "n_elites": 2,
    "n_mutated": 2,
    "n_random": 2,
    "n_children": 2,
}


def test_ga_finds_the_known_best_weights_of_a_toy():
    P, w_best = _toy_problem()
    res = pareto.pareto_lp_ga(P, toy_fit, partial(toy_score, P=P), rng=np.random.default_rng(0), **TOY_GA)
    np.testing.assert_allclose(res.weights, w_best, atol=1e-6)
    assert res.fitness == pytest.approx((38.0, 38.0))  # 2 x (9 + 10), no class-1 loss
    np.testing.assert_allclose(res.val_change, [38.0, 0.0], atol=1e-6)
    assert res.model is not None and np.array_equal(res.model, res.weights)
    assert res.thresholds[1] == 0.0  # eps_1 = 0: class 1 may not lose
    hist = list(res.history)
    assert all(b >= a for a, b in itertools.pairwise(hist)), hist  # elitism: lexicographic, non-decreasing
    assert res.n_evaluations == len(res.evaluations) <= 8 + 6 * 6


def test_ga_same_rng_same_result_and_weights_in_the_box():
    P, _ = _toy_problem()
    kw = dict(TOY_GA, threshold_max=50.0, generations=3)
    a = pareto.pareto_lp_ga(P, toy_fit, partial(toy_score, P=P), rng=np.random.default_rng(5), **kw)
    b = pareto.pareto_lp_ga(P, toy_fit, partial(toy_score, P=P), rng=np.random.default_rng(5), **kw)
    np.testing.assert_array_equal(a.weights, b.weights)
    assert a.history == b.history and a.fitness == b.fitness
    for e in a.evaluations:  # every candidate's weights stay in [0, w_max]
        w = pareto.pareto_weights(P, [0], eps=e["thresholds"], normalise=False, w_max=3.0, rho=0.1)
        assert w.min() >= 0.0 and w.max() <= 3.0
        assert np.abs(w - 1).sum() <= 0.1 * len(P) + 1e-6
    c = pareto.pareto_lp_ga(P, toy_fit, partial(toy_score, P=P), rng=np.random.default_rng(6), **kw)
    assert [e["thresholds"].tolist() for e in c.evaluations] != [e["thresholds"].tolist() for e in a.evaluations]


def test_ga_penalises_infeasible_lps_instead_of_crashing():
    """The paper's alpha form: alpha_0 > 1 demands more than class 0's total influence (210) and
    alpha_1 < 1 a gain for class 1 (total -990); within the trust region many individuals have no
    feasible LP. They get the finite penalty -1000 x (targets + 1) and the GA goes on."""
    P, _ = _toy_problem()
    kw = dict(TOY_GA, generations=3, threshold_max=None)
    res = pareto.pareto_lp_ga(P, toy_fit, partial(toy_score, P=P), rng=np.random.default_rng(1), form="alpha", **kw)
    infeasible = [e for e in res.evaluations if e["val_change"] is None]
    assert 0 < len(infeasible) < len(res.evaluations)
    assert all(e["fitness"] == (-2000.0, -np.inf) for e in infeasible)
    assert res.fitness[0] > -1000.0 and np.isfinite(res.val_change).all()
    # every class total negative and alpha_k < 1: every LP demands a gain of >= 10% of |S_k| that the
    # tiny trust region cannot give; the unweighted model comes back, with the penalty
    neg = -np.abs(P)
    none = pareto.pareto_lp_ga(
        neg,
        toy_fit,
        partial(toy_score, P=neg),
        rng=np.random.default_rng(1),
        form="alpha",
        **dict(kw, rho=0.001, generations=1, threshold_max=0.9),
    )
    assert all(e["val_change"] is None for e in none.evaluations)
    np.testing.assert_array_equal(none.weights, np.ones(len(P)))
    assert none.fitness[0] == -2000.0 and none.history == [(-2000.0, -np.inf)] * 2


def test_ga_parallel_equals_serial():
    P, _ = _toy_problem()
    kw = dict(TOY_GA, threshold_max=50.0, generations=3)
    serial = pareto.pareto_lp_ga(P, toy_fit, partial(toy_score, P=P), rng=np.random.default_rng(2), **kw)
    para = pareto.pareto_lp_ga(P, toy_fit, partial(toy_score, P=P), rng=np.random.default_rng(2), n_jobs=2, **kw)
    np.testing.assert_array_equal(serial.weights, para.weights)
    assert serial.history == para.history
    assert [e["fitness"] for e in serial.evaluations] == [e["fitness"] for e in para.evaluations]


def test_ga_rejects_bad_input():
    P, _ = _toy_problem()
    score = partial(toy_score, P=P)
    with pytest.raises(ValueError, match="base must hold"):
        pareto.pareto_lp_ga(P, toy_fit, score, [0], np.random.default_rng(0), np.zeros(3), normalise=False)
    with pytest.raises(ValueError, match="class_sizes"):
        pareto.pareto_lp_ga(P, toy_fit, score, [0], np.random.default_rng(0), np.zeros(2))
    with pytest.raises(ValueError, match="targets"):
        pareto.pareto_lp_ga(P, toy_fit, score, [2], np.random.default_rng(0), np.zeros(2), normalise=False)
    with pytest.raises(ValueError, match="form"):
        pareto.pareto_lp_ga(P, toy_fit, score, [0], np.random.default_rng(0), np.zeros(2), normalise=False, form="beta")


def test_highs_solves_the_same_lp_as_cbc(problem):
    *_, yv, _, _, P = problem
    sizes = np.bincount(yv)
    for kw in (
        {"eps": [0.0, 0.01], "rho": 0.05},
        {"alpha": [0.9, 0.9], "rho": 0.02, "sum_to_n": True},
        {"eps": [0.0, 0.0], "rho": None, "w_max": 1.5},
    ):
        a = pareto.pareto_weights(P, [0], class_sizes=sizes, **kw)
        b = pareto.pareto_weights(P, [0], class_sizes=sizes, solver="highs", **kw)
        gain_a, gain_b = ((w - 1) @ (P[:, 0] / sizes[0]) for w in (a, b))
        assert gain_b == pytest.approx(gain_a, rel=1e-6, abs=1e-9)
    with pytest.raises(pareto.InfeasibleLPError, match="eps_k"):
        pareto.pareto_weights(P, [0], eps=[-10.0, -10.0], rho=0.01, class_sizes=sizes, solver="highs")
    with pytest.raises(ValueError, match="solver"):
        pareto.pareto_weights(P, [0], class_sizes=sizes, solver="glpk")


def test_ga_on_logistic_regression_with_a_convex_fit(problem):
    """Chapter 2's use: fit = refit to convergence, score = minus the per-class validation loss."""
    m, X, y, Xv, yv, *_, P = problem
    score = partial(pareto.per_class_metric, X=Xv, y=yv, K=2, metric="neg_loss")
    res = pareto.pareto_lp_ga(
        P,
        partial(inf.retrain, m, X, y),
        score,
        [0],
        np.random.default_rng(0),
        score(m),
        class_sizes=np.bincount(yv),
        rho=0.02,
        generations=2,
        n_elites=2,
        n_mutated=2,
        n_random=2,
        n_children=2,
    )
    assert res.val_change[0] > 0  # the target's validation loss falls (noisy set: plenty of room)
    np.testing.assert_allclose(score(res.model) - score(m), res.val_change)
