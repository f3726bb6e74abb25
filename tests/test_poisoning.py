"""Anchoring attacks (lib.poisoning, Mehrabi et al. 2021 as [CH] §5.2 uses them)."""

import numpy as np
import pytest

from lib import poisoning
from lib.models import LogisticRegression


def _data(rng, n):
    """1-D feature + group column; group 1 is advantaged; 30 % of the advantaged negatives (and of
    the disadvantaged positives) sit in a tight cluster deep inside their class region."""
    g = (rng.random(n) < 0.5).astype(int)
    y = (rng.random(n) < np.where(g == 1, 0.6, 0.4)).astype(int)
    X = np.where(y == 1, 1.0, -1.0)[:, None] + 0.7 * rng.standard_normal((n, 1))
    c = rng.random(n) < 0.3
    for mask, centre in (((g == 1) & (y == 0) & c, -2.0), ((g == 0) & (y == 1) & c, 2.0)):
        X[mask, 0] = centre + 0.05 * rng.standard_normal(mask.sum())
    return np.c_[X, g], y, g


def _fit(X, y):
    return LogisticRegression(l2=1.0).fit(X, y).predict


@pytest.mark.parametrize("method", poisoning.METHODS)
@pytest.mark.parametrize("n_targets", [1, 3])
def test_attack_places_the_stated_number_of_flipped_points_near_their_targets(method, n_targets):
    rng = np.random.default_rng(0)
    X, y, g = _data(rng, 200)
    tau, eps = 0.05, 0.1
    P = poisoning.anchoring_attack(X, y, g, rng, method, eps=eps, tau=tau, n_targets=n_targets, fit=_fit)
    assert len(P) == round(eps * len(y)) == 20
    assert (P.y == 1 - y[P.targets]).all()  # opposite label to the target
    assert (P.groups == g[P.targets]).all()  # same group as the target
    assert (np.linalg.norm(P.X - X[P.targets], axis=1) <= tau + 1e-12).all()
    adv = poisoning.advantaged_group(y, g)
    assert adv == P.advantaged == 1
    # positive poison near advantaged negatives, negative poison near disadvantaged positives
    assert ((g[P.targets] == adv) == (P.y == 1)).all()
    # inverse class balance: round(P(y=0) * N) positive-label points
    assert (P.y == 1).sum() == round(np.mean(y == 0) * 20)
    assert all(len(np.unique(P.targets[P.y == k])) == n_targets for k in (0, 1))
    Xa, _, _, is_poison = P.combine(X, y, g)
    assert Xa.shape == (220, 2) and is_poison.sum() == 20 and not is_poison[:200].any()


def _bias_after(method, X, y, g, X_test, g_test, rng):
    P = poisoning.anchoring_attack(X, y, g, rng, method, tau=0.05, fit=_fit)
    Xa, ya, _, _ = P.combine(X, y, g)
    return poisoning.bias(_fit(Xa, ya)(X_test), g_test, P.advantaged)


def test_nraa_raises_the_bias_more_than_raa_on_a_small_case():
    for seed in range(3):
        rng = np.random.default_rng(seed)
        X, y, g = _data(rng, 200)
        Xt, _, gt = _data(rng, 3000)
        clean = poisoning.bias(_fit(X, y)(Xt), gt, poisoning.advantaged_group(y, g))
        raa = np.mean([_bias_after("RAA", X, y, g, Xt, gt, np.random.default_rng([seed, s])) for s in range(6)])
        nraa = _bias_after("NRAA", X, y, g, Xt, gt, np.random.default_rng([seed, 0]))
        assert clean < raa < nraa


def test_nraa_with_one_candidate_is_the_popularity_rule():
    rng = np.random.default_rng(3)
    X, y, g = _data(rng, 150)
    P = poisoning.anchoring_attack(X, y, g, rng, "NRAA", tau=0.0, n_candidates=1)
    cand = np.flatnonzero((g == 1) & (y == 0))
    pop = poisoning.popularity(X[cand], poisoning.default_radius(X[cand]))
    assert P.targets[P.y == 1][0] == cand[np.argmax(pop)]
    assert np.allclose(P.X, X[P.targets])  # tau = 0: exact copies of the targets


def test_popularity_counts_neighbours_within_the_radius():
    X = np.array([[0.0], [0.1], [0.25], [3.0]])
    assert poisoning.popularity(X, 0.2).tolist() == [1, 2, 1, 0]
    assert np.allclose(poisoning.pairwise_distances(X)[0], [0.0, 0.1, 0.25, 3.0])


def test_bad_arguments_are_clear_errors():
    rng = np.random.default_rng(0)
    X, y, g = _data(rng, 50)
    with pytest.raises(ValueError, match="RAA"):
        poisoning.anchoring_attack(X, y, g, rng, "XYZ")
    with pytest.raises(ValueError, match="fraction"):
        poisoning.anchoring_attack(X, y, g, rng, eps=1.5)
    with pytest.raises(ValueError, match="both sensitive groups"):
        poisoning.anchoring_attack(X, y, np.zeros_like(g), rng)
