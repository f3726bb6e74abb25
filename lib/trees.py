"""[CH] Algorithm 1: an influence-estimation tree (CART + hierarchical shrinkage).

A regression tree is fitted to ``q_i = [x_i, y_i] -> I(-x_i)`` with scikit-learn's CART; then
hierarchical shrinkage (HS, Agarwal et al. 2022; [CH] §3.1) replaces every node's prediction by

    h(q) = xi(q, t_0) + sum_{j=1..w} (xi(q, t_j) - xi(q, t_{j-1})) / (1 + lam / phi(t_{j-1}))

with ``xi`` the node mean and ``phi`` the node's sample count. HS is computed here over the fitted
``tree_`` arrays (imodels' ``HSTreeRegressor`` does the same, but ``import imodels`` fails in
this environment: its package import pulls ``skope_rules``, which needs the undeclared ``six``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.tree import DecisionTreeRegressor

from .reproducibility import tie_safe


def hierarchical_shrinkage(tree: DecisionTreeRegressor, lam: float) -> np.ndarray:
    """Shrunk prediction of every node of a fitted sklearn regression tree, shape ``(n_nodes,)``."""
    if lam < 0:
        raise ValueError(f"the shrinkage lambda must be >= 0, got {lam}")
    t = tree.tree_
    mean = t.value[:, 0, 0].astype(float)
    count = t.weighted_n_node_samples.astype(float)
    out = np.empty_like(mean)
    out[0] = mean[0]
    stack = [0]
    while stack:  # walk over nodes (not samples): parents are done before children
        node = stack.pop()
        for child in (t.children_left[node], t.children_right[node]):
            if child != -1:
                out[child] = out[node] + (mean[child] - mean[node]) / (1.0 + lam / count[node])
                stack.append(child)
    return out


@dataclass
class InfluenceTree:
    """CART fitted on ``[x, y] -> influence`` with shrunk node values (``lam``)."""

    tree: DecisionTreeRegressor
    lam: float
    node_values: np.ndarray

    def predict(self, Q: np.ndarray) -> np.ndarray:
        return self.node_values[self.tree.apply(np.asarray(Q, dtype=float))]


def regression_inputs(X: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``q_i = [x_i, y_i]`` ([CH] Algorithm 1, line 3)."""
    X, y = np.asarray(X, dtype=float), np.asarray(y)
    if X.ndim != 2 or y.shape != (X.shape[0],):
        raise ValueError(f"need X of shape (n, d) and y of shape (n,), got {X.shape} and {y.shape}")
    return np.column_stack([X, y.astype(float)])


def fit_influence_tree(X: np.ndarray, y: np.ndarray, influence: np.ndarray, rng: np.random.Generator,
                       lam: float = 10.0, max_depth: int | None = 6, min_samples_leaf: int = 3) -> InfluenceTree:
    """[CH] Algorithm 1: CART on ``([x_i, y_i], I(-x_i))`` then hierarchical shrinkage with ``lam``.

    ``max_depth``, ``min_samples_leaf`` and ``lam`` are not given in the paper (our defaults).

    CART is fitted on the influence quantised by :func:`lib.reproducibility.tie_safe` (10
    significant digits): two features that split a node into the same samples (one-hot columns,
    duplicated rows) give the same impurity decrease in exact arithmetic, and which of them CART
    picks would otherwise be decided by the influence's last bits, which differ between machines.
    On the quantised target the fit is bitwise the same everywhere.
    """
    Q = regression_inputs(X, y)
    I = np.asarray(influence, dtype=float)
    if I.shape != (Q.shape[0],):
        raise ValueError(f"influence must have one value per sample ({Q.shape[0]}), got shape {I.shape}")
    cart = DecisionTreeRegressor(max_depth=max_depth, min_samples_leaf=min_samples_leaf,
                                 random_state=int(rng.integers(0, 2**31 - 1))).fit(Q, tie_safe(I))
    return InfluenceTree(cart, float(lam), hierarchical_shrinkage(cart, lam))


def grid_predictions(tree: InfluenceTree, label: int, xlim: tuple[float, float], ylim: tuple[float, float],
                     resolution: int = 200) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The tree's influence estimate on a 2-D grid for a fixed label (region plots of [CH] Fig. 1).

    Returns ``(xx, yy, zz)`` meshes of shape ``(resolution, resolution)``.
    """
    xs = np.linspace(*xlim, resolution)
    ys = np.linspace(*ylim, resolution)
    xx, yy = np.meshgrid(xs, ys)
    Q = np.column_stack([xx.ravel(), yy.ravel(), np.full(xx.size, float(label))])
    return xx, yy, tree.predict(Q).reshape(xx.shape)
