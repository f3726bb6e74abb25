"""Gradient-based estimators ([S] §5) against closed forms, exact solves and the SGD trajectory."""

import numpy as np
import pytest
import torch

from lib.datasets import load
from lib.estimators import Task, estimators_for
from lib.estimators import gradient as G
from lib.preprocessing import standardised_split


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _task(name: str, n: int = 80, n_val: int = 40, seed: int = 0) -> Task:
    ds = load(name)
    (Xt, yt), (Xv, yv) = standardised_split(ds.X, ds.y, [n, n_val], np.random.default_rng(seed))
    return Task(Xt, yt, Xv, yv, n_classes=ds.n_classes)


@pytest.fixture(scope="module", params=["breast_cancer", "wine"])
def task(request) -> Task:
    return _task(request.param)


def _rel(a, b):
    return float(np.abs(np.asarray(a) - np.asarray(b)).max() / np.abs(np.asarray(b)).max())


def test_hvp_matches_exact_hessian(task):
    m = task.model
    H = m.hessian(task.X_train, task.y_train)
    V = torch.as_tensor(np.random.default_rng(1).standard_normal((m.n_params, 3)))
    hvp = G.hessian_vector_product(m, task.X_train, task.y_train)
    assert torch.allclose(hvp(V), H @ V, rtol=1e-10, atol=1e-10)
    assert torch.allclose(hvp(V[:, 0]), H @ V[:, 0], rtol=1e-10, atol=1e-10)


def test_cg_and_full_rank_arnoldi_equal_exact_influence(task, rng):
    exact = G.influence_exact(task)
    assert _rel(G.influence_cg(task, rng), exact) < 1e-7
    p = task.model.n_params
    assert _rel(G.influence_arnoldi(task, rng, n_iter=p, top_k=p), exact) < 1e-7
    # a truncated eigen-space drops the small-eigenvalue directions, which H^-1 amplifies
    assert _rel(G.influence_arnoldi(task, rng, n_iter=p, top_k=3), exact) > 1e-3


def test_arnoldi_finds_the_top_eigenvalues(task, rng):
    m = task.model
    evals, U = G.arnoldi(G.hessian_vector_product(m, task.X_train, task.y_train), m.n_params, 25, 3, rng)
    true = np.sort(np.linalg.eigvalsh(m.hessian(task.X_train, task.y_train).numpy()))[::-1][:3]
    np.testing.assert_allclose(evals.numpy(), true, rtol=1e-6)
    np.testing.assert_allclose((U.T @ U).numpy(), np.eye(3), atol=1e-8)


def test_lissa_converges_to_exact(task, rng):
    exact = G.influence_exact(task)
    assert _rel(G.influence_lissa(task, rng, depth=600), exact) < 1e-4  # full-batch HVPs
    few = G.influence_lissa(task, rng, depth=5)
    assert _rel(few, exact) > 1e-2  # too shallow: the series has not converged
    stoch = G.influence_lissa(task, rng, depth=400, repeats=4, batch_size=40)
    assert np.corrcoef(stoch, exact)[0, 1] > 0.98


def test_conjugate_gradient_rejects_indefinite_operator():
    A = torch.diag(torch.tensor([1.0, -1.0], dtype=torch.float64))
    with pytest.raises(np.linalg.LinAlgError, match="positive definite"):
        G.conjugate_gradient(lambda v: A @ v, torch.tensor([1.0, 1.0], dtype=torch.float64))


def test_self_influence_nonnegative_and_equals_diagonal(task, rng):
    s = G.self_influence(task)
    assert (s >= 0).all()
    m = task.model
    g = m.per_sample_grads(task.X_train, task.y_train)
    Hinv = torch.linalg.inv(m.hessian(task.X_train, task.y_train))
    np.testing.assert_allclose(s[:5], [float(g[i] @ Hinv @ g[i]) for i in range(5)], rtol=1e-8)
    assert (G.tracin_self_influence(task, rng, epochs=3) >= 0).all()


def test_relatif_and_gas_scale_invariance(rng):
    Gt = torch.as_tensor(rng.standard_normal((12, 5)))
    Gv = torch.as_tensor(rng.standard_normal((4, 5)))
    A = torch.as_tensor(rng.standard_normal((5, 5)))
    H = A @ A.T + 5 * torch.eye(5, dtype=torch.float64)
    c = torch.as_tensor(rng.uniform(0.1, 10, 12))[:, None]
    for norm in ("theta", "l"):
        r = G.relatif_scores(Gt, Gv.sum(0), H, norm)
        np.testing.assert_allclose(G.relatif_scores(c * Gt, Gv.sum(0), H, norm), r, rtol=1e-10)
        # same sign as the influence function, different ranking in general
        np.testing.assert_array_equal(np.sign(r), np.sign((Gt @ torch.linalg.solve(H, Gv.sum(0))).numpy()))
    cv = torch.as_tensor(rng.uniform(0.1, 10, 4))[:, None]
    np.testing.assert_allclose(G.gas_scores(c * Gt, cv * Gv), G.gas_scores(Gt, Gv), rtol=1e-10)
    assert (G.gas_scores(Gt, Gt[:1]).argmax() == 0)  # the most similar sample to itself
    with pytest.raises(ValueError, match="norm must be"):
        G.relatif_scores(Gt, Gv.sum(0), H, "bogus")


def test_representer_values_reconstruct_the_weights(task):
    m = task.model
    alpha = -m.residuals(task.X_train, task.y_train).numpy() / m.l2_  # (n, m)
    W = task.X_train.T @ alpha  # [S] Eq. 43: theta* = sum_i alpha_i x_i
    np.testing.assert_allclose(W, m.theta_[:-1].numpy(), rtol=1e-5, atol=1e-6)
    # target="loss" = influence functions with H replaced by l2 I on the weights
    g = m.per_sample_grads(task.X_train, task.y_train).reshape(task.n_train, -1, m.n_logits)[:, :-1]
    gv = G.loss_gradient(m, task.X_val, task.y_val).reshape(-1, m.n_logits)[:-1]
    np.testing.assert_allclose(G.representer_point(task, target="loss"),
                               (g * gv).sum((1, 2)).numpy() / m.l2_, rtol=1e-8)
    with pytest.raises(ValueError, match="target must be"):
        G.representer_point(task, target="bogus")


def test_tracin_telescopes_under_full_batch_gradient_descent(task, rng):
    """sum_i TracIn(i) ~ L_val(theta_0) - L_val(theta_T) for small steps ([S] Eq. 49-54)."""
    n = task.n_train
    errors = []
    for lr, steps in [(0.04, 100), (0.01, 400)]:  # same training time lr * steps
        traj = G.train_sgd(task, rng, epochs=steps, batch_size=n, lr=lr, weight_decay=0.0)
        m = traj.model
        Lv = lambda th: float(m.loss(task.X_val, task.y_val, th).sum())  # noqa: E731
        actual = Lv(traj.thetas[0]) - Lv(traj.final)
        assert actual > 0.1 * Lv(traj.thetas[0])  # training did reduce the validation loss
        errors.append(abs(G.tracin(task, rng, traj=traj).sum() - actual) / abs(actual))
    assert errors[1] < 0.01
    assert errors[1] < 0.4 * errors[0]  # the gap is the second-order Taylor term: O(lr)
    # with full batches TracIn and TracInCP (checkpoint every step) coincide up to the 1/|B| scaling
    np.testing.assert_allclose(G.tracin_cp(task, rng, traj=traj, every=1) / n, G.tracin(task, rng, traj=traj),
                               rtol=1e-10, atol=1e-12)


def test_fast_hydra_without_weight_decay_is_tracin_with_final_test_gradient(task, rng):
    """[S] Eq. 62-64: lambda = 0 turns Alg. 4 into TracIn with grad L_val(theta_T)."""
    traj = G.train_sgd(task, rng, epochs=4, batch_size=16, lr=0.1, weight_decay=0.0)
    m = traj.model
    gT = G.loss_gradient(m, task.X_val, task.y_val, traj.final)
    expect = np.zeros(task.n_train)
    for theta, B, lr in zip(traj.thetas, traj.batches, traj.lrs):
        expect[B] += lr / len(B) * (m.per_sample_grads(task.X_train[B], task.y_train[B], theta) @ gT).numpy()
    np.testing.assert_allclose(G.hydra_fast(task, rng, traj=traj), expect, rtol=1e-10, atol=1e-14)
    # with weight decay the hypergradients shrink: the estimate differs
    traj_wd = G.train_sgd(task, np.random.default_rng(0), epochs=4, batch_size=16, lr=0.1, weight_decay=0.5)
    traj_0 = G.train_sgd(task, np.random.default_rng(0), epochs=4, batch_size=16, lr=0.1, weight_decay=0.0)
    assert _rel(G.hydra_fast(task, rng, traj=traj_wd), G.hydra_fast(task, rng, traj=traj_0)) > 1e-2


def test_estimators_have_the_common_call_shape_and_agree_with_exact_influence(rng):
    task = _task("breast_cancer", n=60, n_val=30)
    exact = G.influence_exact(task)
    for name, f in estimators_for("logistic").items():
        if f.family not in ("static gradient", "dynamic gradient"):
            continue
        opts = {"epochs": 3} if name in {"tracin", "tracin_cp", "gas", "hydra_fast"} else {}
        v = f(task, np.random.default_rng(0), **opts)
        assert v.shape == (task.n_train,) and np.isfinite(v).all(), name
    assert np.corrcoef(G.relatif(task), exact)[0, 1] > 0  # same sign structure
    assert (np.sign(G.relatif(task)) == np.sign(exact)).all()


def test_renormalized_if_divides_by_gradient_norm(task):
    m = task.model
    norms = m.per_sample_grads(task.X_train, task.y_train).norm(dim=1).numpy()
    np.testing.assert_allclose(G.influence_renormalized(task) * norms, G.influence_exact(task), rtol=1e-10)
