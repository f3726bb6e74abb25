"""Reading an influence tree ([CH] Fig. 3, App. F): its leaves with their paths, counts and values, the
regions as rules in words, and a readable drawing.

:func:`lib.trees.fit_influence_tree` fits [CH] Algorithm 1 (CART on ``[x_i, y_i] -> I(-x_i)`` with
hierarchical shrinkage); this module reads the fitted tree the way the paper's App. F figures present
it: :func:`tree_leaves` (every leaf, its root-to-leaf conditions, its sample count, the CART mean and the
shrunk value :meth:`lib.trees.InfluenceTree.predict` returns), :func:`describe_leaf` (a leaf as a rule,
with thresholds in original units and one-hot columns as ``= value``) and :func:`draw_influence_tree`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from .trees import InfluenceTree


@dataclass(frozen=True)
class Condition:
    """One split on a root-to-leaf path: ``x[feature] <= threshold`` (``op="<="``) or ``>``."""

    feature: int
    op: str
    threshold: float


@dataclass(frozen=True)
class Leaf:
    """A leaf of an influence tree: its node id, the path of conditions from the root, the number of
    training samples in it, the CART mean of their influence and the shrunk value (what
    :meth:`lib.trees.InfluenceTree.predict` returns for every sample in the leaf)."""

    node: int
    path: tuple[Condition, ...]
    n_samples: int
    mean: float
    value: float


def tree_leaves(tree: InfluenceTree) -> list[Leaf]:
    """Every leaf of the tree, left to right (``<=`` branch first), with its path, count and values."""
    t = tree.tree.tree_
    leaves: list[Leaf] = []

    def walk(node: int, path: tuple[Condition, ...]) -> None:
        left, right = t.children_left[node], t.children_right[node]
        if left == -1:
            leaves.append(
                Leaf(
                    int(node),
                    path,
                    int(t.n_node_samples[node]),
                    float(t.value[node, 0, 0]),
                    float(tree.node_values[node]),
                )
            )
            return
        f, thr = int(t.feature[node]), float(t.threshold[node])
        walk(int(left), path + (Condition(f, "<=", thr),))
        walk(int(right), path + (Condition(f, ">", thr),))

    walk(0, ())
    return leaves


ThresholdMap = Callable[[int, float], float]


def describe_condition(
    c: Condition,
    feature_names: Sequence[str],
    threshold_map: ThresholdMap | None = None,
    categories: Mapping[int, tuple[str, str]] | None = None,
    digits: int = 3,
) -> str:
    """``c`` in words: ``"age <= 28.5"`` (``digits`` significant digits; thresholds of ``10**digits`` and above
    as whole numbers, ``"capital_gain > 7,073"``), or ``"sex_Female = 1"`` for a feature listed in ``categories``
    (``{feature: (label of the <= side, label of the > side)}``, e.g. one-hot columns and the class label).
    ``threshold_map(feature, threshold)`` shows thresholds in original units (e.g. undo standardisation)."""
    name = feature_names[c.feature]
    if categories and c.feature in categories:
        return f"{name} = {categories[c.feature][0 if c.op == '<=' else 1]}"
    thr = threshold_map(c.feature, c.threshold) if threshold_map else c.threshold
    shown = f"{thr:,.0f}" if abs(thr) >= 10**digits else f"{thr:.{digits}g}"  # 7,070 rather than 7.07e+03
    return f"{name} {c.op} {shown}"


def describe_leaf(
    leaf: Leaf,
    feature_names: Sequence[str],
    threshold_map: ThresholdMap | None = None,
    categories: Mapping[int, tuple[str, str]] | None = None,
) -> str:
    """The leaf's region as one rule: ``"age <= 28.5 and label = 1"`` (``"all samples"`` for a stump)."""
    if not leaf.path:
        return "all samples"
    return " and ".join(describe_condition(c, feature_names, threshold_map, categories) for c in leaf.path)


def draw_influence_tree(
    tree: InfluenceTree,
    feature_names: Sequence[str],
    ax=None,
    *,
    threshold_map: ThresholdMap | None = None,
    categories: Mapping[int, tuple[str, str]] | None = None,
    value_format: str = "{:+.2f}",
    fontsize: float = 7.5,
    title: str | None = None,
) -> list[Leaf]:
    """Draw the tree on ``ax`` (a new figure if ``None``): split boxes ``feature <= t`` (left branch = yes,
    thresholds through ``threshold_map``), leaf boxes with the shrunk influence value and the sample count,
    green for positive (helpful) and red for negative (harmful) leaves, shaded by magnitude.

    ``feature_names`` names the columns of ``[x, y]`` (:func:`lib.trees.regression_inputs`: the label is last).
    Returns :func:`tree_leaves` (the values drawn), so a caller can print or check them.
    """
    import matplotlib.pyplot as plt

    t = tree.tree.tree_
    if len(feature_names) != tree.tree.n_features_in_:
        raise ValueError(
            f"need {tree.tree.n_features_in_} feature names (features and the label), got {len(feature_names)}"
        )
    if ax is None:
        _, ax = plt.subplots(figsize=(12, 3.5))
    leaves = tree_leaves(tree)
    xpos: dict[int, float] = {leaf.node: float(k) for k, leaf in enumerate(leaves)}
    depth: dict[int, int] = {0: 0}

    def place(node: int) -> float:
        left, right = t.children_left[node], t.children_right[node]
        if left == -1:
            return xpos[node]
        for child in (left, right):
            depth[int(child)] = depth[node] + 1
        xpos[node] = 0.5 * (place(int(left)) + place(int(right)))
        return xpos[node]

    place(0)
    vmax = max((abs(leaf.value) for leaf in leaves), default=1.0) or 1.0
    max_depth = max(depth.values())
    for node, x in xpos.items():
        y = -depth[node]
        left, right = t.children_left[node], t.children_right[node]
        if left != -1:
            c = Condition(int(t.feature[node]), "<=", float(t.threshold[node]))
            text = describe_condition(c, feature_names, threshold_map, categories)
            if categories and c.feature in categories:
                text = f"{feature_names[c.feature]}: {categories[c.feature][0]}?"
            text += f"\nn={int(t.n_node_samples[node])}"
            ax.text(
                x,
                y,
                text,
                ha="center",
                va="center",
                fontsize=fontsize,
                bbox={"boxstyle": "round", "fc": "#f0f0f0", "ec": "grey"},
            )
            for child, label in ((int(left), "yes"), (int(right), "no")):
                cx, cy = xpos[child], -depth[child]
                ax.annotate(
                    "",
                    xy=(cx, cy + 0.25),
                    xytext=(x, y - 0.25),
                    arrowprops={"arrowstyle": "-", "color": "grey", "lw": 0.8},
                )
                ax.text(
                    0.5 * (x + cx), 0.5 * (y + cy), label, fontsize=fontsize - 1, color="grey", ha="center", va="center"
                )
        else:
            v = float(tree.node_values[node])
            alpha = 0.25 + 0.75 * abs(v) / vmax
            colour = (0.3, 0.7, 0.4, alpha) if v >= 0 else (0.85, 0.3, 0.3, alpha)
            ax.text(
                x,
                y,
                value_format.format(v) + f"\nn={int(t.n_node_samples[node])}",
                ha="center",
                va="center",
                fontsize=fontsize,
                bbox={"boxstyle": "round", "fc": colour, "ec": "black", "lw": 0.5},
            )
    ax.set_xlim(-0.6, len(leaves) - 0.4)
    ax.set_ylim(-max_depth - 0.6, 0.6)
    ax.axis("off")
    if title:
        ax.set_title(title, fontsize=fontsize + 2)
    return leaves
