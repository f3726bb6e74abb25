"""FI on the perturbation manifold ([FI] §2-§5) against closed forms and finite differences."""

import numpy as np
import pytest
import torch
from scipy.stats import spearmanr

from lib import fi
from lib.models import LogisticRegression


def _data(K: int, n: int = 80, d: int = 3, seed: int = 0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=1.5, size=(K, d))
    y = rng.integers(0, K, n + 40)
    X = centres[y] + rng.normal(size=(n + 40, d))
    return X[:n], y[:n], X[n:], y[n:]


@pytest.fixture(params=[2, 3], ids=["binary", "multinomial"])
def fitted(request):
    K = request.param
    X, y, Xv, yv = _data(K)
    return K, LogisticRegression(tol=1e-11).fit(X, y), X, y, Xv, yv


def test_fi_nonnegative_and_rank_of_metric_tensor(fitted):
    K, model, X, y, Xv, yv = fitted
    values = fi.fi_util(model, X, y, Xv, yv)
    assert values.shape == (len(y),) and (values >= 0).all() and values.max() > 0
    G = fi.metric_tensor(model, X, y).numpy()
    ranks = [np.linalg.matrix_rank(g, tol=1e-9 * np.abs(g).max()) for g in G]
    assert max(ranks) == min(X.shape[1], K - 1)
    assert np.allclose(G, G.transpose(0, 2, 1))


def test_efficient_form_equals_direct_pseudo_inverse(fitted):
    K, model, X, y, Xv, yv = fitted
    D = fi.dtheta_domega(model, X, y)
    a = torch.einsum("P,nPt->nt", fi.mean_loss_gradient(model, Xv, yv), D)
    direct = fi.fi_direct(a, fi.metric_tensor(model, X, y), rtol=1e-9).numpy()
    fast = fi.fi_util(model, X, y, Xv, yv, chunk=17)  # several chunks
    np.testing.assert_allclose(fast, direct, rtol=1e-6, atol=1e-12 * direct.max())


def test_binary_closed_form():
    X, y, Xv, yv = _data(2, seed=3)
    model = LogisticRegression().fit(X, y)
    np.testing.assert_allclose(fi.fi_util(model, X, y, Xv, yv),
                               fi.fi_binary_closed_form(model, X, y, Xv, yv), rtol=1e-8)


def test_dtheta_domega_matches_finite_differences_of_retraining(fitted):
    """Perturb x_i by +-h e_t, refit to a tiny gradient norm, compare central differences."""
    K, model, X, y, Xv, yv = fitted
    D = fi.dtheta_domega(model, X, y).numpy()
    g_val = fi.mean_loss_gradient(model, Xv, yv).numpy()
    h = 1e-4
    for i in (0, 7):
        for t in range(X.shape[1]):
            thetas = []
            for sign in (1, -1):
                Xp = X.copy()
                Xp[i, t] += sign * h
                thetas.append(model.clone().fit(Xp, y, n_classes=K, warm_start=model.theta_).theta_.numpy().ravel())
            fd = (thetas[0] - thetas[1]) / (2 * h)
            np.testing.assert_allclose(D[i, :, t], fd, rtol=1e-4, atol=1e-7)
            # the perturbation derivative a = g_V^T dtheta/domega, sign included
            assert np.isclose(g_val @ D[i, :, t], g_val @ fd, rtol=1e-4, atol=1e-9)


def test_pinv_not_ridge_scaling():
    """A rescaled feature changes FI when G is singular: FI is not scale-invariant (book/conventions.md §2)."""
    X, y, Xv, yv = _data(2, seed=5)
    base = fi.fi_util(LogisticRegression(l2=1.0).fit(X, y), X, y, Xv, yv)
    s = np.array([10.0, 1.0, 1.0])
    scaled = fi.fi_util(LogisticRegression(l2=1.0).fit(X * s, y), X * s, y, Xv * s, yv)
    assert not np.allclose(base, scaled, rtol=1e-3)


@pytest.mark.parametrize("K", [2, 3])
def test_approximations_rank_like_exact_fi(K):
    X, y, Xv, yv = _data(K, n=300, d=4, seed=11)
    model = LogisticRegression().fit(X, y)
    exact = fi.fi_util(model, X, y, Xv, yv)
    kfsvd = fi.fi_kfsvd(model, X, y, Xv, yv, rank=2)
    assert spearmanr(exact, kfsvd)[0] > 0.5
    # full rank + exact Hessian reproduces the exact values
    np.testing.assert_allclose(fi.fi_util(model, X, y, Xv, yv, rank=X.shape[1] + 1), exact, rtol=1e-8)
    forest = fi.fi_random_forest(model, X, y, Xv, yv, np.random.default_rng(0), alpha=0.3)
    assert spearmanr(exact, forest)[0] > 0.5


def test_fi_needs_our_logistic_regression():
    X, y, Xv, yv = _data(2, seed=2)
    with pytest.raises(TypeError, match="LogisticRegression"):
        fi.fi_util(object(), X, y, Xv, yv)


def test_perturbation_gradients_are_the_numerator_of_fi(fitted):
    K, model, X, y, Xv, yv = fitted
    D = fi.dtheta_domega(model, X, y)
    a_direct = torch.einsum("P,nPt->nt", fi.mean_loss_gradient(model, Xv, yv), D).numpy()
    np.testing.assert_allclose(fi.perturbation_gradients(model, X, y, Xv, yv, chunk=13), a_direct,
                               rtol=1e-7, atol=1e-12)


@pytest.mark.parametrize("K", [2, 3])
def test_predicted_loss_change_matches_refitting_on_perturbed_features(K):
    """Move the features of several samples at once, refit, compare the change of the mean
    validation loss with sum_i a_i . delta_i (first order: error shrinks like scale^2)."""
    X, y, Xv, yv = _data(K, seed=7)
    model = LogisticRegression(tol=1e-11).fit(X, y)
    a = fi.perturbation_gradients(model, X, y, Xv, yv)
    idx = np.array([3, 11, 40])
    direction = np.random.default_rng(0).normal(size=(3, X.shape[1]))

    def actual(scale):
        Xp = X.copy()
        Xp[idx] += scale * direction
        refit = model.clone().fit(Xp, y, n_classes=K, warm_start=model.theta_)
        with torch.no_grad():
            return float(refit.loss(torch.as_tensor(Xv), yv).mean() - model.loss(torch.as_tensor(Xv), yv).mean())

    errs = []
    for scale in (1e-2, 1e-3):
        pred = fi.predicted_loss_change(a, idx, scale * direction)
        assert abs(pred) > 0
        errs.append(abs(actual(scale) - pred))
        assert np.isclose(actual(scale), pred, rtol=5e-2)
    assert errs[1] < errs[0] / 30  # second-order remainder
    with pytest.raises(ValueError, match="one row per perturbed sample"):
        fi.predicted_loss_change(a, idx, direction[:2])


def test_fi_is_the_largest_loss_change_per_unit_of_metric():
    """FI_i = sup_w (a_i w)^2 / (w^T G_i w) over the row space of G_i (generalised Rayleigh
    quotient): no random direction exceeds it and the maximiser G^+ a attains it."""
    X, y, Xv, yv = _data(3, seed=9)
    model = LogisticRegression().fit(X, y)
    a = fi.perturbation_gradients(model, X, y, Xv, yv)
    G = fi.metric_tensor(model, X, y).numpy()
    values = fi.fi_util(model, X, y, Xv, yv)
    rng = np.random.default_rng(0)
    for i in (0, 5, 17):
        Gp = np.linalg.pinv(G[i], rcond=1e-10, hermitian=True)
        W = rng.normal(size=(500, X.shape[1])) @ (G[i] @ Gp)  # directions inside the row space
        quotient = (W @ a[i]) ** 2 / np.einsum("nd,de,ne->n", W, G[i], W)
        assert quotient.max() <= values[i] * (1 + 1e-8)
        w = Gp @ a[i]
        assert np.isclose((w @ a[i]) ** 2 / (w @ G[i] @ w), values[i], rtol=1e-6)


def test_corruptions():
    rng = np.random.default_rng(0)
    X = np.where(np.random.default_rng(1).random((50, 4)) < 0.5, -1.0, 1.0)
    X[:, 3] = np.arange(50)  # not binary
    idx = np.array([2, 7, 9])
    noisy = fi.add_feature_noise(X, idx, 0.1, rng)
    changed = np.flatnonzero((noisy != X).any(1))
    assert changed.tolist() == idx.tolist()
    big = fi.add_feature_noise(np.zeros((20000, 1)), np.arange(20000), 0.1, rng)
    assert abs(big.var() - 0.1) < 0.005
    flipped, cols = fi.flip_binary_features(X, idx, 2, rng)
    assert len(cols) == 2 and 3 not in cols
    assert (flipped[np.ix_(idx, cols)] == -X[np.ix_(idx, cols)]).all()
    assert np.array_equal(np.delete(flipped, idx, 0), np.delete(X, idx, 0))
    with pytest.raises(ValueError, match="only 3 binary columns"):
        fi.flip_binary_features(X, idx, 4, rng)
    y = np.array([0, 1, 2, 1, 0, 2])
    y2 = fi.flip_labels(y, [0, 1, 2], 3, rng)
    assert (y2[:3] != y[:3]).all() and (y2[3:] == y[3:]).all() and y2.max() <= 2
    assert fi.flip_labels(np.array([0, 1, 1]), [1, 2], 2, rng).tolist() == [0, 0, 0]
    with pytest.raises(ValueError, match="distinct row indices"):
        fi.add_feature_noise(X, [1, 1], 0.1, rng)
    with pytest.raises(ValueError, match="labels must lie"):
        fi.flip_labels(y, [0], 2, rng)


def test_randomised_truncated_svd_matches_exact_svd():
    M = torch.as_tensor(np.random.default_rng(1).normal(size=(6, 8, 5)))
    U, S, Vh = torch.linalg.svd(M, full_matrices=False)
    best2 = (U[:, :, :2] * S[:, None, :2]) @ Vh[:, :2, :]
    np.testing.assert_allclose(fi.truncated(M, 2, n_iter=8).numpy(), best2.numpy(), atol=1e-6)
    with pytest.raises(ValueError, match="rank"):
        fi.truncated(M, 0)
