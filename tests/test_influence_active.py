"""Influence-based active learning with a linear-SVM learner (lib.influence_active, [CH] §5.5)."""

import numpy as np
import pytest
from scipy.stats import rankdata

from lib import fi_active
from lib import influence_active as ia
from lib.influence import utility_influence
from lib.models import LogisticRegression
from lib.trees import fit_influence_tree


def _split(rng, n_init=30, n_pool=120, d=4):
    w = np.linspace(1.5, -1.0, d)

    def draw(n):
        X = rng.standard_normal((n, d))
        return X, (X @ w + 0.5 * rng.standard_normal(n) > 0).astype(int)

    parts = [draw(n) for n in (n_init, n_pool, 100, 300)]
    return fi_active.ActiveSplit(*parts[0], *parts[1], *parts[2], *parts[3], n_classes=2)


@pytest.fixture
def split():
    return _split(np.random.default_rng(0))


def _influence(split):
    s = LogisticRegression().fit(split.X_init, split.y_init)
    return utility_influence(s, split.X_init, split.y_init, split.X_val, split.y_val)


def test_label_free_tree_equals_the_labelled_set_tree_where_labels_are_known(split):
    infl = _influence(split)
    X = split.X_init
    # a fully grown, unshrunk tree reproduces the labelled set's influence on the labelled samples
    full = ia.label_free_tree(X, infl, np.random.default_rng(1), lam=0.0, max_depth=None, min_samples_leaf=1)
    assert np.allclose(full.predict(X), infl)
    # with shrinkage and a depth limit it is Algorithm 1's tree with the label column held constant
    # (the IV acquisition of the FI chapter), on the labelled set and on the pool alike
    free = ia.label_free_tree(X, infl, np.random.default_rng(2), lam=10.0, max_depth=4)
    alg1 = fit_influence_tree(X, np.zeros(len(X)), infl, np.random.default_rng(2), lam=10.0, max_depth=4)
    for Z in (X, split.X_pool):  # equal up to the fixed-point grid of the targets (2^-30 of the largest)
        assert np.allclose(free.predict(Z), alg1.predict(np.column_stack([Z, np.zeros(len(Z))])), rtol=0, atol=1e-8)
    s = LogisticRegression().fit(split.X_init, split.y_init)
    iv = fi_active.iv_scores(
        s, X, split.y_init, split.X_val, split.y_val, split.X_pool, np.random.default_rng(2), lam=10.0, max_depth=4
    )
    assert np.allclose(free.predict(split.X_pool), iv, rtol=0, atol=1e-8)


def test_exact_targets_make_tied_splits_machine_independent():
    rng = np.random.default_rng(5)
    v = rng.standard_normal(1000) * 0.3
    q = ia.exact_targets(v)
    assert np.abs(q - v).max() <= 2.0**-30 and np.array_equal(ia.exact_targets(q), q)
    # partial sums are exact: any order gives the same bits
    perm = rng.permutation(1000)
    assert np.cumsum(q)[-1] == np.cumsum(q[perm])[-1] == np.cumsum(q[::-1])[-1]
    # two features that cut the samples into the same two groups but order them differently inside
    # the groups: their split improvements tie exactly; with float targets last-bit noise (another
    # machine's code path) breaks the tie either way, on the grid always the same way
    changed = 0
    for _ in range(30):
        x = rng.standard_normal(40)
        X2 = np.c_[x, np.where(x > 0, 1, -1) * (1 + rng.random(40))]
        t = (x > 0) + 0.1 * rng.standard_normal(40)
        roots = {
            ia.label_free_tree(
                X2, t * (1 + 1e-15 * rng.standard_normal(40)), np.random.default_rng(0), max_depth=1
            ).tree.tree_.feature[0]
            for _ in range(8)
        }
        changed += len(roots) > 1
    assert changed == 0  # (without the grid: 4 of these 30 cases change their root feature)


def test_exact_grid_makes_dot_products_order_independent():
    rng = np.random.default_rng(7)
    A, B = ia.exact_grid(rng.standard_normal((50, 103)) * 3, rng.standard_normal((20, 103)))
    assert A.shape == (50, 103) and np.array_equal(A * 2**20, np.round(A * 2**20))  # on a grid of step >= 2^-20
    perm = rng.permutation(103)
    for i in range(5):  # the same bits in any summation order (numpy's BLAS vs a reversed Python sum)
        exact = A[i] @ B[0]
        assert exact == A[i, perm] @ B[0, perm] == sum(A[i, ::-1] * B[0, ::-1])
    with pytest.raises(ValueError, match="standardise"):
        ia.exact_grid(np.full((2, 10), 1e7))


def test_binary_entropy_margin_and_uncertainty_rank_the_pool_identically():
    p1 = np.random.default_rng(0).random(200)
    proba = np.column_stack([1 - p1, p1])
    ranks = [rankdata(f(proba)) for f in (ia.entropy_scores, ia.margin_scores, ia.uncertainty_scores)]
    assert np.array_equal(ranks[0], ranks[1]) and np.array_equal(ranks[1], ranks[2])
    proba3 = np.array([[0.5, 0.3, 0.2], [0.4, 0.4, 0.2]])  # with three classes they can disagree
    assert ia.margin_scores(proba3)[1] > ia.margin_scores(proba3)[0]


def test_isal_scores_predict_the_effect_of_adding_a_sample():
    split = _split(np.random.default_rng(4), n_init=200)
    s = LogisticRegression(l2=5.0).fit(split.X_init, split.y_init)
    U = split.X_pool[:12]
    pseudo = s.predict(U)
    scores = ia.isal_scores(s, split.X_init, split.y_init, split.X_val, split.y_val, U, pseudo)
    base = s.loss(split.X_val, split.y_val).sum().item()
    actual = []
    for u in range(len(U)):  # actual decrease of the validation loss after adding u with its pseudo-label
        s2 = LogisticRegression(l2=5.0).fit(np.vstack([split.X_init, U[u : u + 1]]), np.r_[split.y_init, pseudo[u]])
        actual.append(base - s2.loss(split.X_val, split.y_val).sum().item())
    assert np.corrcoef(scores, actual)[0, 1] > 0.95
    assert np.allclose(scores, actual, rtol=0.25, atol=0.02)


def test_platt_svm_predicts_with_the_svm_and_calibrates_probabilities(split):
    m = ia.PlattSVM().fit(split.X_init, split.y_init)
    assert np.array_equal(m.predict(split.X_test), (m.decision_function(split.X_test) > 0).astype(int))
    p = m.predict_proba(split.X_test)
    assert np.allclose(p.sum(1), 1.0) and 0 <= m.score(split.X_test, split.y_test) <= 1
    # Platt's sigmoid is monotone in the decision value
    order = np.argsort(m.decision_function(split.X_test))
    assert (np.diff(p[order, 1]) >= -1e-12).all()
    # Platt's sigmoid agrees with scikit-learn's sigmoid calibration on the same decision values
    from sklearn.calibration import _SigmoidCalibration

    f = m.decision_function(split.X_init)
    a, b = ia.platt_sigmoid(f, split.y_init)
    ref = _SigmoidCalibration().fit(f, split.y_init).predict(f)
    assert np.allclose(1 / (1 + np.exp(-(a * f + b))), ref, atol=1e-5)
    with pytest.raises(ValueError, match="2 labelled samples"):
        ia.PlattSVM().fit(split.X_init[:3], np.array([0, 0, 1]))


@pytest.mark.parametrize("method", ia.METHODS)
def test_every_method_labels_distinct_pool_samples(split, method):
    run = ia.run_active(split, method, rounds=3, acquisition=10, rng=np.random.default_rng(0))
    picked = np.concatenate(run.queried)
    assert len(picked) == 30 == len(np.unique(picked))
    assert run.history.n_labeled.tolist() == [30, 40, 50, 60]
    assert run.history.accuracy.between(0, 1).all()


def test_the_fixed_tree_labels_the_pool_in_one_fixed_order(split):
    a = ia.run_active(split, "tree", rounds=3, acquisition=10, rng=np.random.default_rng(0))
    infl = _influence(split)
    tree = ia.label_free_tree(split.X_init, infl, np.random.default_rng(0))
    order = np.argsort(-np.round(tree.predict(split.X_pool), 10), kind="stable")
    assert np.array_equal(np.concatenate(a.queried), order[:30])


def test_compare_methods_and_errors(split):
    curves, _ = ia.compare_methods(split, ["random", "isal"], rounds=2, acquisition=5, seed=3)
    assert set(curves.method) == {"random", "isal"} and len(curves) == 6
    with pytest.raises(ValueError, match="unknown acquisition"):
        ia.run_active(split, "bald", 1, 5, np.random.default_rng(0))
