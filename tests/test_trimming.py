import numpy as np
import pytest

from lib.trimming import random_trim, trim


def test_hand_made():
    I = np.array([0.5, -2.0, -0.1, 0.0, -3.0, 1.0])
    r = trim(I, 2)
    assert r.removed.tolist() == [4, 1]
    assert r.kept.tolist() == [0, 2, 3, 5]
    r = trim(I, 10)  # budget larger than the number of negatives: only negatives go
    assert r.removed.tolist() == [4, 1, 2]
    assert trim(I, 0).removed.size == 0
    assert trim(np.array([1.0, 0.0]), 5).removed.size == 0


def test_ties_keep_index_order():
    assert trim(np.array([-1.0, -1.0, -1.0]), 2).removed.tolist() == [0, 1]


def test_property_random(rng):
    for _ in range(200):
        n = int(rng.integers(1, 30))
        I = rng.normal(size=n)
        b = int(rng.integers(0, n + 3))
        r = trim(I, b)
        assert len(r.removed) == min(b, int((I < 0).sum()))
        assert (I[r.removed] < 0).all()
        assert np.all(np.diff(I[r.removed]) >= 0)
        assert sorted(np.concatenate([r.removed, r.kept]).tolist()) == list(range(n))
        if len(r.removed) and len(r.kept):  # every removed score is <= every kept one
            assert I[r.removed].max() <= I[r.kept].min()


def test_errors():
    with pytest.raises(ValueError, match="1-D"):
        trim(np.zeros((2, 2)), 1)
    with pytest.raises(ValueError, match="budget"):
        trim(np.zeros(3), -1)
    with pytest.raises(ValueError, match="NaN"):
        trim(np.array([np.nan]), 1)


def test_highest_and_lowest_remove_exactly_budget():
    s = np.array([0.1, 3.0, -2.0, 3.0, 0.5])
    assert trim(s, 3, "highest").removed.tolist() == [1, 3, 4]  # ties: lower index first
    assert trim(s, 2, "lowest").removed.tolist() == [2, 0]  # positive scores go too
    assert trim(s, 0, "highest").removed.size == 0
    assert trim(s, 5, "lowest").kept.size == 0
    with pytest.raises(ValueError, match="larger than the number of samples"):
        trim(s, 6, "highest")
    with pytest.raises(ValueError, match="rule"):
        trim(s, 1, "largest")


def test_property_highest(rng):
    for _ in range(100):
        n = int(rng.integers(1, 30))
        s = rng.normal(size=n)
        b = int(rng.integers(0, n + 1))
        r = trim(s, b, "highest")
        assert len(r.removed) == b and np.all(np.diff(s[r.removed]) <= 0)
        if 0 < b < n:
            assert s[r.removed].min() >= s[r.kept].max()
        assert r.keep_mask.sum() == n - b and not r.keep_mask[r.removed].any()


def test_random_trim(rng):
    r = random_trim(20, 7, rng)
    assert len(set(r.removed.tolist())) == 7 and len(r.kept) == 13
    assert random_trim(20, 7, np.random.default_rng(3)).removed.tolist() == \
        random_trim(20, 7, np.random.default_rng(3)).removed.tolist()
    with pytest.raises(ValueError, match="larger"):
        random_trim(3, 4, rng)


def test_iv_rule_removes_the_samples_whose_removal_lowers_the_validation_loss_most():
    """The [CH] rule on exact influence: the removed sample's actual LOO effect on the
    validation loss is the most negative one (checked by retraining)."""
    import torch

    from lib.influence import loo_effect, utility_influence
    from lib.models import LogisticRegression

    g = np.random.default_rng(4)
    X = g.normal(size=(40, 2))
    y = (X[:, 0] + 0.8 * g.normal(size=40) > 0).astype(int)
    y[:4] = 1 - y[:4]  # a few flipped labels
    Xv = g.normal(size=(200, 2))
    yv = (Xv[:, 0] > 0).astype(int)
    model = LogisticRegression().fit(X, y)
    I = utility_influence(model, X, y, Xv, yv)
    r = trim(I, 3)
    assert (I[r.removed] < 0).all()
    Xv_t = torch.as_tensor(Xv)
    val_loss = lambda m, th: m.loss(Xv_t, yv, th).sum()  # noqa: E731
    actual = loo_effect(model, X, y, range(len(y)), [val_loss])[:, 0]
    assert set(np.argsort(actual)[:3]) == set(r.removed.tolist())


def test_ties_from_floating_noise_keep_index_order(rng):
    """Duplicated rows score equal in exact arithmetic; their computed scores differ in the last bits,
    differently on another processor. Trimming must remove the same samples whatever the noise."""
    eps = np.finfo(float).eps
    base = rng.normal(size=40)
    base[20:] = base[:20]  # rows 20.. duplicate rows 0..19
    removed = set()
    for _ in range(10):
        noisy = base * (1 + 4 * eps * rng.standard_normal(40))
        for rule in ("negative", "lowest", "highest"):
            removed.add((rule, tuple(trim(noisy, 7, rule).removed)))
    assert len(removed) == 3  # one removal set per rule
    for _rule, r in removed:  # of each duplicated pair the lower index goes first
        for i in r:
            assert i < 20 or (i - 20) in r
    # a score that is zero in exact arithmetic, computed as -1e-17, is not negative
    assert trim(np.array([1.0, -1e-17, -0.5]), 3).removed.tolist() == [2]
