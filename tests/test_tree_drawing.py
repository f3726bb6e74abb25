"""lib.tree_rules: reading an influence tree ([CH] Fig. 3 / App. F) -- leaves, rules, drawing."""

import matplotlib.pyplot as plt
import numpy as np
import pytest

from lib.tree_rules import Condition, Leaf, describe_condition, describe_leaf, draw_influence_tree, tree_leaves
from lib.trees import fit_influence_tree, regression_inputs


@pytest.fixture
def fitted(rng):
    X = rng.standard_normal((300, 3))
    y = (rng.random(300) < 0.5).astype(int)
    target = np.where(X[:, 0] > 0.3, 1.0, -1.0) + 0.5 * y + 0.1 * rng.standard_normal(300)
    return X, y, fit_influence_tree(X, y, target, rng, lam=10.0, max_depth=3)


def _satisfies(q, path):
    return all((q[c.feature] <= c.threshold) if c.op == "<=" else (q[c.feature] > c.threshold) for c in path)


def test_leaves_hold_the_predicted_values_counts_and_paths(fitted):
    X, y, tree = fitted
    Q = regression_inputs(X, y)
    leaves = tree_leaves(tree)
    assert sum(leaf.n_samples for leaf in leaves) == len(y)
    assert len(leaves) == tree.tree.get_n_leaves()
    node_of = tree.tree.apply(Q)
    pred = tree.predict(Q)
    for leaf in leaves:
        inside = node_of == leaf.node
        assert inside.sum() == leaf.n_samples
        np.testing.assert_allclose(pred[inside], leaf.value)  # the shrunk value predict() returns
        assert all(_satisfies(q, leaf.path) for q in Q[inside])
        assert not any(_satisfies(q, leaf.path) for q in Q[~inside])
        assert len(leaf.path) <= 3


def test_rules_in_words():
    names = ["age", "sex_Female", "label"]
    cats = {1: ("0", "1"), 2: ("0", "1")}
    assert describe_condition(Condition(0, "<=", 0.5), names, lambda j, t: 10 * t + 30) == "age <= 35"
    assert describe_condition(Condition(1, ">", 0.1), names, categories=cats) == "sex_Female = 1"
    assert describe_condition(Condition(0, ">", 7073.4), names) == "age > 7,073"
    leaf = Leaf(3, (Condition(0, ">", 0.0), Condition(2, "<=", 0.5)), 10, -1.0, -0.5)
    assert describe_leaf(leaf, names, categories=cats) == "age > 0 and label = 0"
    assert describe_leaf(Leaf(0, (), 5, 0.0, 0.0), names) == "all samples"


def test_drawing_returns_the_drawn_leaves(fitted):
    tree = fitted[2]
    fig, ax = plt.subplots()
    leaves = draw_influence_tree(tree, ["a", "b", "c", "label"], ax, categories={3: ("0", "1")}, title="t")
    assert [leaf.value for leaf in leaves] == [leaf.value for leaf in tree_leaves(tree)]
    texts = [t.get_text() for t in ax.texts]
    for leaf in leaves:
        assert any(t.startswith(f"{leaf.value:+.2f}\nn={leaf.n_samples}") for t in texts)
    plt.close(fig)
    with pytest.raises(ValueError, match="feature names"):
        draw_influence_tree(tree, ["a", "b"])
