"""Chapter 5's drivers ([CH] §4, App. D-F, H) on small synthetic sets: budgets, splits, the trimming study
against lib.fairness and retraining, the first-order stop, Fig. 10's comparison and App. H's protocol."""

import numpy as np
import pandas as pd
import pytest
import torch

from lib import fairness
from lib.datasets import Dataset
from lib.experiments import ch05_ch_trimming_real_data as ch
from lib.models import LogisticRegression

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _dataset(n=500, seed=0):
    r = np.random.default_rng(seed)
    g = (r.random(n) < 0.4).astype(int)
    X = np.column_stack(
        [r.standard_normal(n) + 0.8 * g, r.standard_normal(n), g.astype(float), (r.random(n) < 0.5).astype(float)]
    )
    y = (r.random(n) < 1 / (1 + np.exp(-(1.5 * X[:, 0] - X[:, 1])))).astype(int)
    return Dataset("toy", X, y, ("0", "1"), groups=g, meta={"feature_names": ["a", "b", "group", "coin"]})


@pytest.fixture(scope="module")
def split():
    return ch.split_dataset(_dataset(), None, np.random.default_rng(1))


@pytest.fixture(scope="module")
def study(split):
    return ch.trimming_study(split, ch.ModelSpec("logistic", l2=5.0), [0, 5, 10, 15], random_seeds=(42, 1, 35))


def test_budgets_are_the_authors():
    assert ch.trimming_budgets(3000) == list(range(0, 151, 15))
    assert ch.trimming_budgets(18_292) == [int(b) for b in np.linspace(0, int(0.05 * 18_292), 11)]
    with pytest.raises(ValueError):
        ch.trimming_budgets(100, fraction=0.0)


def test_split_is_60_20_20_standardised_with_binary_columns(split):
    assert (split.n_train, len(split.y_val), len(split.y_test)) == (300, 100, 100)
    np.testing.assert_allclose(split.X_train.mean(0), 0, atol=1e-12)
    assert set(split.binary) == {2, 3} and split.binary[2] == ("0", "1")
    rows = np.random.default_rng(1).permutation(500)[:300]
    np.testing.assert_allclose(split.X_train * split.scale + split.mean, _dataset().X[rows])
    with pytest.raises(ValueError, match="sensitive groups"):
        ch.split_dataset(Dataset("x", np.zeros((20, 2)), np.zeros(20, int), ("0", "1")), None, np.random.default_rng(0))


def test_validation_quantities_are_lib_fairness(split):
    m = LogisticRegression(l2=5.0).fit(split.X_train, split.y_train)
    X_adv = fairness.linear_attack(m, split.X_val)
    q = ch.validation_quantities(ch.logits_of(m, split.X_val), split.y_val, split.g_val, ch.logits_of(m, X_adv))
    with torch.no_grad():
        ref = {
            "val_loss": fairness.utility_quantity(split.X_val, split.y_val)(m, m.theta_),
            "val_dp": fairness.dp_quantity(split.X_val, split.g_val)(m, m.theta_),
            "val_eop": fairness.eop_quantity(split.X_val, split.y_val, split.g_val)(m, m.theta_),
            "val_adv_loss": fairness.robustness_quantity(X_adv, split.y_val)(m, m.theta_),
        }
    for k, v in ref.items():
        assert q[k] == pytest.approx(float(v), rel=1e-10)


def test_study_rows_removals_and_predictions(study, split):
    c = study.curves
    assert len(c) == 4 * 4 + 3 * 4
    base = c[c.budget == 0]
    assert base.drop(columns=["target", "seed"]).nunique().max() == 1  # budget 0 = the untrimmed model everywhere
    assert (c.removed <= c.budget).all()
    for t in ch.TARGETS:
        rows = c[c.target == t].set_index("budget")
        removed = np.argsort(study.influence[t], kind="stable")[:15]
        assert rows.loc[15, f"predicted_{t}"] == pytest.approx(study.influence[t][removed].sum())
    # the linear attack flips every prediction of the crafting model
    assert study.flip_rate == 1.0
    # ground truth: for a small removal the first-order prediction matches retraining
    for t in ("utility", "dp", "robustness"):
        row = ch.target_curves(c, t).loc[5]
        assert row["actual change"] == pytest.approx(row["predicted change"], rel=0.25, abs=1e-6)


def test_random_trimming_is_nested_per_seed(split):
    order = ch.random_trim(split.n_train, 15, np.random.default_rng(42)).removed
    assert len(set(order[:5]) - set(order[:10])) == 0


def test_effect_sign_and_first_order_stop(study):
    e = ch.effect(study.curves, "robustness")
    assert e["budget"] == 15 and e["improves"] == (e["after"] > e["before"])
    assert np.sign(e["z"]) == np.sign(e["change"] - e["random change"])
    scores = np.array([-0.5, 0.2, -0.1, -0.3, 0.4])
    assert ch.first_order_stop(scores, 0.6) == 2  # -0.5, -0.3 reach -0.8 <= -0.6
    assert ch.first_order_stop(scores, 0.5) == 1
    assert ch.first_order_stop(scores, 5.0) == 3  # never reached: all negatives
    stopped = ch.first_order_stopped(study, "dp")
    assert stopped["stop"] == ch.first_order_stop(study.influence["dp"], study.curves.val_dp.iloc[0])
    with pytest.raises(ValueError, match="gap targets"):
        ch.first_order_stopped(study, "utility")


def test_mlp_study_runs_on_the_surrogate(split):
    spec = ch.ModelSpec("mlp", l2=5.0, hidden=4, epochs=20, seed=0)
    st = ch.trimming_study(split, spec, [0, 10], targets=("dp",), random_seeds=(42,))
    assert set(st.influence) == {"utility", "dp", "eop", "robustness"}
    assert st.influence["dp"].shape == (split.n_train,)
    assert 0.0 <= st.flip_rate <= 1.0
    assert len(st.curves) == 2 + 2
    with pytest.raises(ValueError, match="unknown target"):
        ch.trimming_study(split, spec, [0, 10], targets=("bogus",))


def test_influence_tree_reads_in_original_units(split, study):
    tf = ch.influence_tree(split, study.influence["dp"], np.random.default_rng(0), max_depth=2)
    assert tf.columns == [0, 1, 2, 3] and tf.names == ["a", "b", "group", "coin", "label"]
    assert tf.categories[4] == ("0", "1") and tf.categories[2] == ("0", "1")
    tmap = tf.threshold_map(split)
    raw = split.X_train_raw[:, 0]
    lo, hi = raw[split.X_train[:, 0] <= 0.0].max(), raw[split.X_train[:, 0] > 0.0].min()
    assert tmap(0, 0.0) == 0.5 * (lo + hi) and lo < split.mean[0] < hi  # the midpoint of original values
    assert tmap(4, 0.5) == 0.5  # the label column is shown as it is
    assert 0.0 <= tf.sign_agreement <= 1.0 and tf.r2 <= 1.0


def test_complementary_one_hot_columns_are_dropped_for_trees():
    d = _dataset()
    X = np.column_stack([d.X, 1.0 - d.X[:, 2], d.X[:, 3]])  # the complement of "group", a copy of "coin"
    d2 = Dataset("toy", X, d.y, d.classes, groups=d.groups, meta={"feature_names": ["a", "b", "g", "c", "not g", "c2"]})
    sp = ch.split_dataset(d2, None, np.random.default_rng(1))
    assert ch.distinct_partitions(sp) == [0, 1, 2, 3]
    st = ch.trimming_study(sp, ch.ModelSpec("logistic", l2=5.0), [0], targets=("dp",), random_seeds=(42,))
    tf = ch.influence_tree(sp, st.influence["dp"], np.random.default_rng(0))
    assert tf.columns == [0, 1, 2, 3] and tf.tree.tree.n_features_in_ == 5
    assert tf.threshold_map(sp)(3, 0.0) == 0.5  # "coin" is 0/1: CART's midpoint in original units


def test_shapley_vs_influence_curves():
    d = _dataset(400, seed=3)
    r = ch.shapley_vs_influence(
        d.X,
        d.y,
        np.random.default_rng(0),
        n_train=40,
        n_val=100,
        n_test=100,
        permutations=5,
        l2=1.0,
        random_seeds=(42, 1),
    )
    c = r.curves
    assert set(c.method) == {"influence", "tmc-shapley", "random"}
    assert sorted(c.budget.unique()) == list(range(6))  # 12.5% of 40
    assert c[c.budget == 0].accuracy.nunique() == 1
    assert r.shapley.n_permutations == 5 and r.influence.shape == (40,)


def test_deep_trimming_protocol():
    pytest.importorskip("kronfluence")
    r = np.random.default_rng(0)
    y = np.repeat(np.arange(3), 40)
    X = r.standard_normal((120, 8)) + y[:, None] * 0.8
    out = ch.deep_trimming(
        X,
        y,
        3,
        np.random.default_rng(1),
        fractions=[0.0, 0.1],
        seeds=[0],
        n_queries=5,
        hidden=6,
        epochs=3,
        batch_size=16,
        damping=0.1,
    )
    assert out.scores.shape == (5, 72)
    assert set(out.order) == set(out.union) and set(out.union) == set(np.flatnonzero((out.scores < 0).any(0)))
    total = out.scores.sum(0)[out.order]
    assert (np.diff(total) >= 0).all()
    assert set(out.curves.method) == {"influence", "random"} and out.curves.removed.max() == 7


def test_parallel_retraining_equals_serial(split):
    spec = ch.ModelSpec("logistic", l2=5.0)
    serial = ch.trimming_study(split, spec, [0, 10], targets=("dp",), random_seeds=(42,)).curves
    parallel = ch.trimming_study(split, spec, [0, 10], targets=("dp",), random_seeds=(42,), n_jobs=2).curves
    pd.testing.assert_frame_equal(serial, parallel, check_exact=True)


def test_label_gaps_by_hand():
    y = np.array([1, 1, 0, 0, 1, 1, 0, 0])
    p = np.array([1, 0, 1, 0, 1, 1, 0, 0])
    g = np.array([1, 1, 1, 1, 0, 0, 0, 0])
    out = ch.label_gaps(y, p, g)
    assert out["dp"] == pytest.approx(abs(2 / 4 - 2 / 4))
    assert out["eop"] == pytest.approx(abs(1 / 2 - 2 / 2))  # true-positive rates 1/2 and 2/2
    r = np.random.default_rng(0)
    y, p, g = (r.random((3, 50)) < 0.5).astype(int)
    assert ch.label_gaps(y, p, g) == ch.label_gaps(y, p, 1 - g)  # symmetric in the group coding
    with pytest.raises(ValueError, match="0/1"):
        ch.label_gaps(y, p + 1, g)
    with pytest.raises(ValueError, match="one entry per sample"):
        ch.label_gaps(y, p, g[:10])
