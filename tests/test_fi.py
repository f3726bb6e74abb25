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
    """A rescaled feature changes FI when G is singular: FI is not scale-invariant (DESIGN.md §2)."""
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


def test_trimming_rules():
    scores = np.array([0.1, 3.0, -2.0, 3.0, 0.5])
    assert fi.top_b(scores, 3).tolist() == [1, 3, 4]
    assert fi.trim_fi(scores, 0).size == 0
    with pytest.raises(ValueError, match="budget"):
        fi.top_b(scores, 6)
    X, y, Xv, yv = _data(2, seed=2)
    model = LogisticRegression().fit(X, y)
    from lib.influence import utility_influence

    iv = utility_influence(model, X, y, Xv, yv)
    removed = fi.trim_iv(model, X, y, Xv, yv, 5)
    assert set(removed) == set(np.argsort(iv)[:5])
    r = fi.trim_random(len(y), 10, np.random.default_rng(0))
    assert len(set(r)) == 10
    assert fi.keep_mask(len(y), removed).sum() == len(y) - 5
    with pytest.raises(TypeError, match="LogisticRegression"):
        fi.fi_util(object(), X, y, Xv, yv)


def test_randomised_truncated_svd_matches_exact_svd():
    M = torch.as_tensor(np.random.default_rng(1).normal(size=(6, 8, 5)))
    U, S, Vh = torch.linalg.svd(M, full_matrices=False)
    best2 = (U[:, :, :2] * S[:, None, :2]) @ Vh[:, :2, :]
    np.testing.assert_allclose(fi.truncated(M, 2, n_iter=8).numpy(), best2.numpy(), atol=1e-6)
    with pytest.raises(ValueError, match="rank"):
        fi.truncated(M, 0)
