"""The block-structured logistic-regression Hessian (one large ``A^T A`` product plus the K diagonal
blocks) against the former per-sample ``x x^T ⊗ S`` formula and against autograd."""

import numpy as np
import pytest
import torch

from lib.models import LogisticRegression


def _fit(K: int, weighted: bool, fit_intercept: bool = True, n: int = 700, d: int = 6, seed: int = 0):
    r = np.random.default_rng([seed, K])
    W = r.normal(size=(d, K))
    X = r.normal(size=(n, d))
    y = (X @ W + r.gumbel(size=(n, K))).argmax(1)
    w = r.uniform(0.0, 3.0, n) if weighted else None
    model = LogisticRegression(l2=2.0, fit_intercept=fit_intercept).fit(X, y, sample_weight=w, n_classes=K)
    return model, X, y, w


@pytest.mark.parametrize("K", [2, 3, 10])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_hessian_equals_the_former_formula(K, weighted, fit_intercept):
    model, X, y, w = _fit(K, weighted, fit_intercept)
    for chunk in (4096, 97):  # one chunk, and many uneven ones
        H = model.hessian(X, y, w, chunk=chunk)
        R = model._hessian_reference(X, y, w)
        assert H.shape == R.shape == (model.n_params, model.n_params)
        torch.testing.assert_close(H, R, rtol=1e-13, atol=1e-12 * float(R.abs().max()))


@pytest.mark.parametrize("K", [2, 4])
@pytest.mark.parametrize("weighted", [False, True])
def test_hessian_equals_autograd_and_keeps_the_null_direction_term(K, weighted):
    model, X, y, w = _fit(K, weighted)
    theta = model.theta_.reshape(-1)
    J = torch.autograd.functional.hessian(lambda th: model.objective(X, y, w, th.reshape(model.theta_.shape)), theta)
    H = model.hessian(X, y, w)
    u = model.null_direction()
    if K == 2:
        assert u is None
        torch.testing.assert_close(H, J, rtol=1e-12, atol=1e-10)
        return
    # softmax with an intercept: H = J + c u u^T with c the mean diagonal of J (>= 1), as before
    c = J.diagonal().mean().clamp_min(1.0)
    torch.testing.assert_close(H, J + c * torch.outer(u, u), rtol=1e-12, atol=1e-10)
    assert float(torch.linalg.eigvalsh(H)[0]) > 0


def test_data_hessian_is_additive_over_rows_and_reads_a_memmap_in_chunks(tmp_path):
    model, X, y, w = _fit(5, True)
    parts = sum(model.data_hessian(X[s], y[s], w[s]) for s in (slice(0, 250), slice(250, 251), slice(251, None)))
    torch.testing.assert_close(parts, model.data_hessian(X, y, w), rtol=1e-13, atol=1e-11)
    mm = np.lib.format.open_memmap(tmp_path / "X.npy", mode="w+", dtype=np.float64, shape=X.shape)
    mm[:] = X
    torch.testing.assert_close(model.hessian(mm, y, w, chunk=64), model.hessian(X, y, w), rtol=1e-13, atol=1e-11)
