"""EKFAC category-wise influence (kronfluence) against the explicit damped Gauss-Newton /
Hessian influence (torch.func) and against actual retraining without the selected samples."""

import numpy as np
import pytest
import torch
from torch import nn
from torch.nn import functional as F

from lib import ekfac

LAM = 0.1


def _data(seed=0, n=300, n_val=120, d=6, K=3):
    r = np.random.default_rng(seed)
    W = r.normal(size=(d, K))
    X = r.normal(size=(n, d)).astype(np.float32)
    Xv = r.normal(size=(n_val, d)).astype(np.float32)
    y = (X @ W + r.gumbel(size=(n, K))).argmax(1)
    yv = (Xv @ W + r.gumbel(size=(n_val, K))).argmax(1)
    return X, y, Xv, yv, K


def _fit_regularised(model, X, y, lam, n_norm):
    """Minimise sum CE + (n_norm * lam / 2) ||theta||^2 (all parameters) with L-BFGS, in place."""
    Xt, yt = torch.as_tensor(X, dtype=next(model.parameters()).dtype), torch.as_tensor(y)
    opt = torch.optim.LBFGS(
        model.parameters(),
        lr=1,
        max_iter=500,
        tolerance_grad=1e-12,
        tolerance_change=1e-14,
        line_search_fn="strong_wolfe",
    )

    def closure():
        opt.zero_grad()
        obj = F.cross_entropy(model(Xt), yt, reduction="sum") / n_norm
        obj = obj + lam / 2 * sum((p**2).sum() for p in model.parameters())
        obj.backward()
        return obj

    opt.step(closure)
    return model


def _linear_head(X, y, K, seed=0):
    torch.manual_seed(seed)
    m = nn.Sequential(nn.Linear(X.shape[1], K)).double()
    return _fit_regularised(m, X, y, LAM, len(y))


def _tiny_mlp(X, y, K):
    torch.manual_seed(0)
    m = nn.Sequential(nn.Linear(X.shape[1], 8), nn.Tanh(), nn.Linear(8, K))
    opt = torch.optim.Adam(m.parameters(), 0.02)
    for _ in range(300):
        opt.zero_grad()
        F.cross_entropy(m(torch.as_tensor(X)), torch.as_tensor(y)).backward()
        opt.step()
    return m


def _pearson(a, b):
    return np.array([np.corrcoef(a[:, k], b[:, k])[0, 1] for k in range(a.shape[1])])


def test_exact_ggn_equals_hessian_on_linear_head_and_is_additive_over_validation():
    """Softmax regression: the Gauss-Newton matrix *is* the Hessian (closed form)."""
    X, y, Xv, yv, K = _data()
    m = _linear_head(X, y, K)
    P_g = ekfac.exact_category_influence(m, X, y, Xv, yv, K, damping=LAM)
    P_h = ekfac.exact_category_influence(m, X, y, Xv, yv, K, damping=LAM, curvature="hessian")
    np.testing.assert_allclose(P_g, P_h, rtol=1e-8, atol=1e-12)
    # L_{V_k} is a sum over validation samples: P is additive over a split of the validation set
    halves = [
        ekfac.exact_category_influence(m, X, y, Xv[s], yv[s], K, damping=LAM) for s in (slice(0, 50), slice(50, None))
    ]
    np.testing.assert_allclose(P_g, halves[0] + halves[1], rtol=1e-8, atol=1e-12)


def test_ekfac_agrees_with_exact_on_linear_head():
    X, y, Xv, yv, K = _data()
    m = _linear_head(X, y, K).float()
    P = ekfac.category_influence(m, X, y, Xv, yv, K, rng=np.random.default_rng(1), damping=LAM, fisher_samples=10)
    P_exact = ekfac.exact_category_influence(m, X, y, Xv, yv, K, damping=LAM)
    assert P.shape == (len(y), K)
    assert _pearson(P, P_exact).min() >= 0.95
    assert (np.sign(P) == np.sign(P_exact)).mean() > 0.9


def test_ekfac_agrees_with_exact_gauss_newton_on_tiny_mlp():
    X, y, Xv, yv, K = _data()
    m = _tiny_mlp(X, y, K)
    P = ekfac.category_influence(m, X, y, Xv, yv, K, rng=np.random.default_rng(1), damping=LAM)
    P_ggn = ekfac.exact_category_influence(m, X, y, Xv, yv, K, damping=LAM)
    assert _pearson(P, P_ggn).min() >= 0.9


def test_sign_convention_matches_actual_removal_on_linear_head():
    """Removing the 10% most beneficial samples for class k raises the summed class-k validation
    loss, removing the 10% most detrimental lowers it, and the predicted sum tracks the change."""
    X, y, Xv, yv, K = _data(n_val=150)
    n = len(y)
    base = _linear_head(X, y, K)
    P = ekfac.category_influence(
        base.float(), X, y, Xv, yv, K, rng=np.random.default_rng(1), damping=LAM, fisher_samples=10
    )
    base.double()

    def class_losses(model):
        with torch.no_grad():
            lo = F.cross_entropy(model(torch.as_tensor(Xv, dtype=torch.float64)), torch.as_tensor(yv), reduction="none")
        return np.bincount(yv, weights=lo.numpy(), minlength=K)

    L0 = class_losses(base)
    pred, actual = [], []
    for k in range(K):
        for sign in (1, -1):
            remove = np.argsort(-sign * P[:, k])[: n // 10]
            keep = np.setdiff1d(np.arange(n), remove)
            torch.manual_seed(0)
            m = _fit_regularised(nn.Sequential(nn.Linear(X.shape[1], K)).double(), X[keep], y[keep], LAM, n)
            delta = class_losses(m) - L0
            assert np.sign(delta[k]) == sign, f"class {k}, removing {'beneficial' if sign > 0 else 'detrimental'}"
            pred.append(P[remove].sum(0))
            actual.append(delta)
    from scipy.stats import spearmanr

    assert spearmanr(np.ravel(pred), np.ravel(actual)).statistic > 0.8


def test_bad_input_is_a_clear_error():
    X, y, Xv, yv, K = _data(n=20, n_val=10)
    with pytest.raises(ValueError, match="nn.Linear or nn.Conv2d"):
        ekfac.category_influence(nn.Sequential(nn.Tanh()), X, y, Xv, yv, K, rng=np.random.default_rng(0))
    with pytest.raises(ValueError, match="lengths differ"):
        ekfac.category_influence(nn.Sequential(nn.Linear(6, 3)), X, y[:-1], Xv, yv, K, rng=np.random.default_rng(0))


def test_class_aggregated_queries_equal_the_pairwise_scores_summed_by_class():
    """category_influence sums the query gradients per class (kronfluence's aggregate mode): the
    same numbers as summing the per-validation-sample scores; an empty class is a zero column."""
    X, y, Xv, yv, K = _data(n=200, n_val=60)
    m = _tiny_mlp(X, y, K)
    S = ekfac.pairwise_scores(m, X, y, Xv, yv, rng=np.random.default_rng(1), damping=LAM)
    P = ekfac.category_influence(m, X, y, Xv, yv, K, rng=np.random.default_rng(1), damping=LAM, device="cpu")
    np.testing.assert_allclose(P, S.T @ np.eye(K)[yv] / len(y), rtol=1e-4, atol=1e-6 * np.abs(P).max())
    P4 = ekfac.category_influence(m, X, y, Xv[yv != 2], yv[yv != 2], K, rng=np.random.default_rng(1), damping=LAM)
    assert np.all(P4[:, 2] == 0) and np.abs(P4[:, :2]).max() > 0
    with pytest.raises(ValueError, match="unknown device"):
        ekfac.category_influence(m, X, y, Xv, yv, K, rng=np.random.default_rng(1), device="gpu")


def test_saturated_model_with_heuristic_damping_is_a_clear_error_not_nan():
    """A model whose softmax is saturated has a zero Gauss-Newton matrix: kronfluence's damping
    heuristic (0.1 x mean eigenvalue) is then 0 and the scores 0/0 — caught, with the fix named."""
    X, y, Xv, yv, K = _data(n=60, n_val=20)
    m = nn.Sequential(nn.Linear(X.shape[1], K))
    with torch.no_grad():
        m[0].weight.fill_(0.0)
        m[0].bias.copy_(torch.tensor([1e4, 0.0, 0.0]))
    with pytest.raises(FloatingPointError, match="positive damping"):
        ekfac.category_influence(m, X, y, Xv, yv, K, rng=np.random.default_rng(0), damping=None)
    P = ekfac.category_influence(m, X, y, Xv, yv, K, rng=np.random.default_rng(0), damping=0.1)
    assert np.isfinite(P).all()


def test_float64_precision_makes_pairwise_and_class_aggregated_scores_agree_to_float64_rounding():
    """dtype=torch.float64: kronfluence's factors, gradients and scores in double precision, so the two
    routes to P (summed pairwise scores, aggregated class queries) agree far below float32's noise."""
    import copy

    X, y, Xv, yv, K = _data(n=200, n_val=60)
    m = copy.deepcopy(_tiny_mlp(X, y, K)).double()
    kw = {"rng": np.random.default_rng(1), "damping": LAM}
    S = ekfac.pairwise_scores(m, X, y, Xv, yv, **kw, dtype=torch.float64)
    P = ekfac.category_influence(m, X, y, Xv, yv, K, rng=np.random.default_rng(1), damping=LAM, dtype=torch.float64)
    np.testing.assert_allclose(P, S.T @ np.eye(K)[yv] / len(y), rtol=1e-10, atol=1e-12 * np.abs(P).max())
    P32 = ekfac.category_influence(m, X, y, Xv, yv, K, rng=np.random.default_rng(1), damping=LAM)
    np.testing.assert_allclose(P32, P, rtol=1e-3, atol=1e-4 * np.abs(P).max())  # the float32 default: close
    with pytest.raises(ValueError, match="dtype"):
        ekfac.pairwise_scores(m, X, y, Xv, yv, **kw, dtype=torch.float16)
