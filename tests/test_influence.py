"""Influence against ground truth: leave-one-out retraining, infinitesimal reweighting."""

import numpy as np
import pytest
import torch
from scipy import stats
from sklearn.datasets import load_breast_cancer, load_wine, make_classification

from lib import influence as inf
from lib.models import LogisticRegression
from lib.preprocessing import standardised_split as _split


def standardised_split(X, y, n_train, n_val, seed):
    (Xtr, ytr), (Xva, yva) = _split(X, y, [n_train, n_val], np.random.default_rng(seed))
    return Xtr, ytr, Xva, yva


def _data(name):
    if name == "breast_cancer":
        X, y = load_breast_cancer(return_X_y=True)
        return standardised_split(X, y, 250, 250, seed=3)
    if name == "wine":
        X, y = load_wine(return_X_y=True)
        return standardised_split(X, y, 89, 89, seed=4)
    X, y = make_classification(500, 12, n_informative=6, n_classes=3, n_clusters_per_class=1, random_state=7)
    return standardised_split(X, y, 250, 250, seed=5)


@pytest.mark.parametrize("name", ["breast_cancer", "wine", "synthetic3"])
def test_influence_vectors_match_leave_one_out(name):
    Xtr, ytr, Xva, yva = _data(name)
    model = LogisticRegression().fit(Xtr, ytr)
    P = inf.influence_vectors(model, Xtr, ytr, Xva, yva)
    idx = np.random.default_rng(0).choice(len(ytr), 40, replace=False)
    actual = inf.loo_effect(model, Xtr, ytr, idx, inf.class_loss_quantities(Xva, yva, model.n_classes_))
    pred = P[idx]
    r = stats.pearsonr(pred.ravel(), actual.ravel())[0]
    slope = np.polyfit(actual.ravel(), pred.ravel(), 1)[0]
    assert r >= 0.99, r
    assert 0.8 <= slope <= 1.1, slope


def test_infinitesimal_reweighting_is_exact():
    """d f / d w_i at w_i = 1 equals -P[i] up to finite-difference error (the IF is a derivative)."""
    Xtr, ytr, Xva, yva = _data("wine")
    model = LogisticRegression(tol=1e-11).fit(Xtr, ytr)
    P = inf.influence_vectors(model, Xtr, ytr, Xva, yva)
    fs = inf.class_loss_quantities(Xva, yva, model.n_classes_)
    eps = 1e-4
    for i in (0, 5, 17):
        w = np.ones(len(ytr))
        w[i] = 1 - eps
        fd = (inf.evaluate(inf.retrain(model, Xtr, ytr, w), fs) - inf.evaluate(model, fs)) / eps
        np.testing.assert_allclose(fd, P[i], rtol=2e-3, atol=1e-6)


def test_rows_add_up_to_utility_influence():
    Xtr, ytr, Xva, yva = _data("synthetic3")
    model = LogisticRegression().fit(Xtr, ytr)
    P = inf.influence_vectors(model, Xtr, ytr, Xva, yva)
    u = inf.utility_influence(model, Xtr, ytr, Xva, yva)
    np.testing.assert_allclose(P.sum(1), u, rtol=1e-10, atol=1e-12)
    # and equals the generic autograd path
    fv = lambda m, th: m.loss(Xva, yva, th).sum()  # noqa: E731
    np.testing.assert_allclose(inf.influence_on(model, Xtr, ytr, fv), u, rtol=1e-8, atol=1e-10)


def test_mislabelled_samples_have_negative_mean_influence():
    X, y = make_classification(600, 10, n_informative=5, class_sep=2.0, random_state=0)
    Xtr, ytr, Xva, yva = standardised_split(X, y, 300, 300, seed=1)
    flip = np.random.default_rng(2).choice(300, 30, replace=False)
    ytr = ytr.copy()
    ytr[flip] = 1 - ytr[flip]
    model = LogisticRegression().fit(Xtr, ytr)
    u = inf.utility_influence(model, Xtr, ytr, Xva, yva)
    clean = np.setdiff1d(np.arange(300), flip)
    assert u[flip].mean() < 0 < u[clean].mean()


def test_weighted_training_influence_and_reweighting_prediction():
    Xtr, ytr, Xva, yva = _data("wine")
    w = np.random.default_rng(1).uniform(0.5, 1.5, len(ytr))
    model = LogisticRegression().fit(Xtr, ytr, sample_weight=w)
    P = inf.influence_vectors(model, Xtr, ytr, Xva, yva, sample_weight=w)
    fs = inf.class_loss_quantities(Xva, yva, model.n_classes_)
    # small change of weights: predicted vs actual change of each class loss
    delta = np.random.default_rng(2).normal(0, 0.02, len(ytr))
    pred = -(delta / w) @ P  # P already carries w_i; the change is relative to w_i
    new = inf.retrain(model, Xtr, ytr, w + delta)
    actual = inf.evaluate(new, fs) - inf.evaluate(model, fs)
    np.testing.assert_allclose(pred, actual, rtol=0.05, atol=1e-3)
    # unit weights: the helper's formula
    m1 = LogisticRegression().fit(Xtr, ytr)
    P1 = inf.influence_vectors(m1, Xtr, ytr, Xva, yva)
    w1 = 1 + delta
    actual1 = inf.evaluate(inf.retrain(m1, Xtr, ytr, w1), fs) - inf.evaluate(m1, fs)
    np.testing.assert_allclose(inf.reweighting_prediction(P1, w1), actual1, rtol=0.05, atol=1e-3)


def test_vectorised_matches_per_sample_gradients():
    Xtr, ytr, Xva, yva = _data("synthetic3")
    model = LogisticRegression().fit(Xtr, ytr)
    G = model.per_sample_grads(Xtr, ytr)
    Gv = inf.class_loss_gradients(model, Xva, yva)
    H = model.hessian(Xtr, ytr)
    loop = np.array([[float(Gv[k] @ torch.linalg.solve(H, G[i])) for k in range(3)] for i in range(20)])
    np.testing.assert_allclose(inf.influence_vectors(model, Xtr, ytr, Xva, yva)[:20], loop, rtol=1e-8, atol=1e-12)


def test_hessian_matches_autograd():
    Xtr, ytr, _, _ = _data("synthetic3")
    model = LogisticRegression().fit(Xtr, ytr)
    J = torch.autograd.functional.hessian(
        lambda th: model.objective(Xtr, ytr, None, th.reshape(model.theta_.shape)), model.theta_.reshape(-1)
    )
    H = model.hessian(Xtr, ytr)
    u = model.null_direction()
    P = torch.eye(len(u), dtype=H.dtype) - torch.outer(u, u)
    torch.testing.assert_close(P @ H @ P, P @ J @ P)


def test_binary_model_converges_and_matches_sklearn():
    from sklearn.linear_model import LogisticRegression as SkLR

    Xtr, ytr, Xva, _ = _data("breast_cancer")
    ours = LogisticRegression(l2=1.0).fit(Xtr, ytr)
    assert ours.grad_norm_ < 1e-8
    sk = SkLR(C=1.0, tol=1e-12, max_iter=10000).fit(Xtr, ytr)
    np.testing.assert_allclose(ours.predict_proba(Xva), sk.predict_proba(Xva), atol=1e-5)


def test_newton_stops_at_rounding_precision_from_a_warm_start():
    """An unreachable tolerance must not make Newton crawl through max_iter tiny line-search
    steps: once the predicted decrease is below the objective's rounding error it stops."""
    Xtr, ytr, Xva, _ = _data("wine")
    cold = LogisticRegression(tol=0.0, max_iter=100).fit(Xtr, ytr)
    assert cold.n_iter_ < 30 and cold.grad_norm_ < 1e-9
    nudge = 1e-6 * torch.randn(cold.theta_.shape, generator=torch.Generator().manual_seed(0), dtype=cold.theta_.dtype)
    warm = LogisticRegression(tol=0.0, max_iter=100).fit(Xtr, ytr, warm_start=cold.theta_ + nudge)
    assert warm.n_iter_ < 5 and warm.grad_norm_ < 1e-9
    np.testing.assert_allclose(warm.predict_proba(Xva), cold.predict_proba(Xva), atol=1e-10)


def test_singular_hessian_is_a_clear_error():
    X = np.array([[0.0, 0.0], [1.0, 1.0], [2.0, 2.0], [3.0, 3.0]])
    y = np.array([0, 0, 1, 1])
    with pytest.raises(inf.SingularHessianError, match="L2 penalty"):
        LogisticRegression(l2=0.0).fit(X, y)
    model = LogisticRegression().fit(X, y)
    H = model.hessian(X, y)
    H[0, 0] = -1.0
    with pytest.raises(inf.SingularHessianError, match="not positive definite"):
        inf.utility_influence(model, X, y, X, y, hessian=H)


def test_bad_input_errors():
    with pytest.raises(ValueError, match="integers"):
        LogisticRegression().fit(np.zeros((3, 2)), np.array([0.5, 1, 0]))
    with pytest.raises(ValueError, match="NaN"):
        LogisticRegression().fit(np.array([[np.nan, 0.0], [1, 1]]), np.array([0, 1]))
    with pytest.raises(ValueError, match="rows"):
        LogisticRegression().fit(np.zeros((3, 2)), np.array([0, 1]))
    with pytest.raises(RuntimeError, match="not fitted"):
        LogisticRegression().predict(np.zeros((2, 2)))
