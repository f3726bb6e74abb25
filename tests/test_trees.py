import numpy as np
import pytest

from lib.datasets.toy import ch_toy
from lib.trees import fit_influence_tree, grid_predictions, hierarchical_shrinkage


@pytest.fixture
def data(rng):
    d = ch_toy(rng)
    target = np.sin(d.X_train[:, 0]) + 0.5 * d.y_train + 0.1 * rng.normal(size=len(d.y_train))
    return d, target


def test_lambda_zero_is_cart(data, rng):
    d, I = data
    t = fit_influence_tree(d.X_train, d.y_train, I, rng, lam=0.0)
    Q = np.column_stack([d.X_val, d.y_val])
    np.testing.assert_allclose(t.predict(Q), t.tree.predict(Q), rtol=1e-12, atol=1e-12)


def test_huge_lambda_is_root_mean(data, rng):
    d, I = data
    t = fit_influence_tree(d.X_train, d.y_train, I, rng, lam=1e12)
    np.testing.assert_allclose(t.predict(np.column_stack([d.X_val, d.y_val])), I.mean(), atol=1e-8)


def test_shrinkage_by_hand_on_a_stump(rng):
    X = np.array([[0.0], [0.0], [0.0], [1.0]])
    y = np.array([0.0, 0.0, 0.0, 4.0])
    from sklearn.tree import DecisionTreeRegressor

    stump = DecisionTreeRegressor(max_depth=1).fit(X, y)
    vals = hierarchical_shrinkage(stump, lam=4.0)  # root mean 1, leaves 0 and 4, parent count 4
    leaf_right = stump.apply(np.array([[1.0]]))[0]
    assert vals[0] == pytest.approx(1.0)
    assert vals[leaf_right] == pytest.approx(1.0 + (4.0 - 1.0) / (1 + 4.0 / 4.0))


def test_shrinkage_reduces_variance_and_grid(data, rng):
    d, I = data
    Q = np.column_stack([d.X_train, d.y_train])
    spreads = [fit_influence_tree(d.X_train, d.y_train, I, np.random.default_rng(0), lam=lam).predict(Q).std()
               for lam in (0.0, 10.0, 100.0)]
    assert spreads[0] > spreads[1] > spreads[2]
    t = fit_influence_tree(d.X_train, d.y_train, I, rng)
    xx, yy, zz = grid_predictions(t, 1, (-3, 3), (-2, 2), resolution=11)
    assert xx.shape == yy.shape == zz.shape == (11, 11)
    assert np.isfinite(zz).all()
    with pytest.raises(ValueError, match="lambda"):
        fit_influence_tree(d.X_train, d.y_train, I, rng, lam=-1)


def test_tree_does_not_depend_on_the_last_bits_of_the_influence():
    """Two one-hot columns split every node into the same samples: in exact arithmetic their impurity
    decreases are equal, and CART's choice between them was decided by the influence's last bits
    (which differ between processors). The fitted tree must be the same for any such noise."""
    from sklearn.tree import DecisionTreeRegressor

    eps = np.finfo(float).eps
    raw_flips = 0
    for seed in range(30):
        g = np.random.default_rng(seed)
        a = g.integers(0, 2, 60).astype(float)
        X = np.column_stack([a, 1 - a, g.normal(size=60)])  # one-hot pair + a continuous feature
        infl = g.normal(size=60) + 2 * a
        infl2 = infl * (1 + 4 * eps * g.standard_normal(60))
        fits = [fit_influence_tree(X, np.zeros(60), v, np.random.default_rng(seed), max_depth=3) for v in (infl, infl2)]
        assert np.array_equal(fits[0].tree.tree_.feature, fits[1].tree.tree_.feature)
        assert np.array_equal(fits[0].node_values, fits[1].node_values)
        Q = np.column_stack([g.integers(0, 2, (50, 2)), g.normal(size=50), np.zeros(50)])  # columns disagree
        np.testing.assert_array_equal(fits[0].predict(Q), fits[1].predict(Q))
        # the premise: plain CART on the raw values does flip between the two columns
        feats = [DecisionTreeRegressor(max_depth=3, min_samples_leaf=3, random_state=seed)
                 .fit(np.column_stack([X, np.zeros(60)]), v).tree_.feature for v in (infl, infl2)]
        raw_flips += int(not np.array_equal(*feats))
    assert raw_flips > 0
