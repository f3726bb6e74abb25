"""The one-hidden-layer MLP task (lib.models.OneHiddenLayerMLP, lib.estimators.mlp) against ground truth: torch.func derivatives,
retraining, expected leave-one-out over seeds, the SGD trajectory, and the estimators' call shape."""

import numpy as np
import pytest
import torch
from torch.func import hessian

from lib.datasets import load
from lib.estimators import Task, estimators_for, valuation
from lib.estimators import gradient as G
from lib.estimators import mlp as M
from lib.models import OneHiddenLayerMLP, SingularHessianError
from lib.preprocessing import standardised_split


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _task(d: int = 5, n: int = 40, n_val: int = 60, hidden: int = 3, l2: float = 10.0, seed: int = 0,
          name: str = "breast_cancer") -> M.MLPTask:
    ds = load(name)
    (Xt, yt), (Xv, yv) = standardised_split(ds.X[:, :d], ds.y, [n, n_val], np.random.default_rng(seed))
    return M.MLPTask(Xt, yt, Xv, yv, n_classes=ds.n_classes, l2=l2, hidden=hidden)


@pytest.fixture(scope="module")
def strong() -> M.MLPTask:
    """Well regularised: l2 = 10 makes the (non-convex) objective's minimum unique in practice."""
    return _task()


def _pearson(a, b) -> float:
    return float(np.corrcoef(a, b)[0, 1])


# ---------------------------------------------------------------------- derivatives
@pytest.mark.parametrize("K,activation", [(2, "tanh"), (3, "tanh"), (2, "relu"), (3, "relu")])
def test_batched_closed_forms_match_torch_func(K, activation, rng):
    """The training's closed-form gradient and Hessian == torch.func.grad / torch.func.hessian."""
    X, y = rng.standard_normal((20, 4)), rng.integers(0, K, 20)
    m = OneHiddenLayerMLP(hidden=3, activation=activation, l2=0.5)
    m._set_shapes(4, K)
    theta = torch.as_tensor(rng.standard_normal((3, m.n_params)))
    W = torch.as_tensor(rng.uniform(0, 2, (3, 20)))
    g, H = m._batch_grad_hessian(theta, m._design(X), m._targets(y), W)
    for j in range(3):
        np.testing.assert_allclose(g[j], m.gradient(X, y, W[j], theta[j]), atol=1e-10)
        np.testing.assert_allclose(H[j], m.hessian(X, y, W[j], theta[j]), atol=1e-9)
        assert float(m._batch_objective(theta, m._design(X), m._targets(y), W)[j]) == pytest.approx(
            float(m.objective(X, y, W[j], theta[j])), rel=1e-12)


@pytest.mark.parametrize("K", [2, 3])
def test_hvp_and_per_sample_grads_match_explicit_derivatives(K, rng):
    X, y = rng.standard_normal((25, 4)), rng.integers(0, K, 25)
    m = OneHiddenLayerMLP(hidden=3, l2=1.0).fit(X, y, n_classes=K, seed=1)
    H = m.hessian(X, y)
    V = torch.as_tensor(rng.standard_normal((m.n_params, 3)))
    hvp = G.hessian_vector_product(m, X, y)
    np.testing.assert_allclose(hvp(V), H @ V, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(hvp(V[:, 0]), H @ V[:, 0], rtol=1e-9, atol=1e-9)
    # the explicit Hessian of the summed loss plus the penalty, by torch.func on an independent closure
    Xa, T = m._design(X), m._targets(y)
    H_ref = hessian(lambda th: m._loss_from_logits(m._forward(th, Xa), T).sum()
                    + 0.5 * m.l2_ * ((m.penalty_mask() * th) ** 2).sum())(m.theta_)
    if K > 2:  # softmax: the output-bias null direction u is lifted by c u u^T (as in LogisticRegression)
        u = m.null_direction()
        np.testing.assert_allclose(H_ref @ u, torch.zeros_like(u), atol=1e-10)
        c = H_ref.diagonal().mean().clamp_min(1.0)
        np.testing.assert_allclose(H, H_ref + c * torch.outer(u, u), atol=1e-9)
    else:
        np.testing.assert_allclose(H, H_ref, atol=1e-9)
    # per-sample gradients sum to the loss gradient; a central difference checks one of them
    Gs = m.per_sample_grads(X, y)
    np.testing.assert_allclose(Gs.sum(0), G.loss_gradient(m, X, y), atol=1e-10)
    e = torch.zeros(m.n_params, dtype=torch.float64)
    e[2] = 1e-6
    fd = (m.loss(X[:1], y[:1], m.theta_ + e) - m.loss(X[:1], y[:1], m.theta_ - e)) / 2e-6
    assert float(Gs[0, 2]) == pytest.approx(float(fd[0]), abs=1e-7)


# ---------------------------------------------------------------------- training
def test_fit_converges_is_deterministic_and_batch_equals_single_fits(strong):
    t = strong
    m = t.model
    assert m.grad_norm_ <= t.tol and float(m.gradient(t.X_train, t.y_train).norm()) <= t.tol
    assert torch.equal(t.fit(seed=0).theta_, m.theta_)  # same data + same seed = same model
    W = np.ones((4, t.n_train))
    W[1, 3] = W[2, 7] = 0.0
    W[3, :10] = 0.0
    _, thetas = t.fit_many(W, seed=2)
    for j in range(4):
        single = t.fit(W[j], seed=2).theta_
        np.testing.assert_allclose(thetas[j], single, atol=1e-8)
    # a weight of 0 is the same as dropping the sample
    keep = np.delete(np.arange(t.n_train), 3)
    dropped = t.make_model().fit(t.X_train[keep], t.y_train[keep], n_classes=2, seed=2)
    np.testing.assert_allclose(thetas[1], dropped.theta_, atol=1e-8)


def test_weak_penalty_has_several_minima_and_a_positive_definite_hessian_at_each():
    """Non-convexity is real: different seeds reach different stationary points (objective values)."""
    t = _task(d=8, n=60, hidden=4, l2=0.1)
    fits = [t.fit(seed=s) for s in range(4)]
    J = [float(f.objective(t.X_train, t.y_train)) for f in fits]
    assert max(J) - min(J) > 1e-3
    for f in fits:  # each is a local minimum: positive definite Hessian
        assert float(torch.linalg.eigvalsh(f.hessian(t.X_train, t.y_train))[0]) > 0


# ---------------------------------------------------------------------- expected LOO
def test_expected_loo_with_one_seed_is_plain_loo(strong):
    t = strong
    for s in (0, 3):
        e = M.expected_loo(t, [s])
        u_full = t.utility(t.fit(seed=s))
        for i in (0, 11, 39):
            w = np.ones(t.n_train)
            w[i] = 0.0
            assert e[i] == pytest.approx(u_full - t.utility(t.fit(w, seed=s)), abs=1e-7)
    # several seeds: the mean of the per-seed LOO values, each the plain LOO of its seed
    mean, per = M.expected_loo(t, [0, 3], return_per_seed=True)
    np.testing.assert_allclose(per[0], M.expected_loo(t, [0]), atol=1e-12)
    np.testing.assert_allclose(mean, per.mean(0))
    # restricted to some samples; the common-call-shape LOO and the benchmark's ground truth
    part = M.expected_loo(t, [0], indices=[2, 5])
    assert np.isnan(part).sum() == t.n_train - 2
    np.testing.assert_allclose(part[[2, 5]], per[0, [2, 5]], atol=1e-8)
    np.testing.assert_allclose(valuation.leave_one_out(t), per[0], atol=1e-8)
    acc = M.expected_loo(t, [0], utility="accuracy")
    assert set(np.round(acc * len(t.y_val)).astype(int)) <= set(range(-len(t.y_val), len(t.y_val) + 1))


def test_warm_started_loo_is_retraining_from_the_seeds_optimum(strong):
    t = strong
    warm = M.expected_loo(t, [0], warm_start=True)
    w = np.ones(t.n_train)
    w[5] = 0.0
    direct = t.utility(t.model) - t.utility(t.fit(w, warm_start=t.model.theta_))
    assert warm[5] == pytest.approx(direct, abs=1e-7)
    # with a unique minimum (strong penalty) the start does not matter
    np.testing.assert_allclose(warm, M.expected_loo(t, [0]), atol=1e-6)


def test_exact_influence_agrees_with_loo_at_a_converged_well_regularised_mlp(strong):
    """[S] §5.1.1: near a strict minimum the first-order estimate tracks retraining. Threshold:
    Pearson >= 0.99 on this tiny MLP (l2 = 10); seeds do not matter here (one minimum)."""
    t = strong
    IF = G.influence_exact(t)
    mean, per = M.expected_loo(t, [0, 1, 2], return_per_seed=True)
    np.testing.assert_allclose(per[1], per[0], atol=1e-6)
    assert _pearson(IF, mean) >= 0.99
    slope = float(np.polyfit(mean, IF, 1)[0])
    assert 0.8 < slope < 1.25
    # the Hessian-free solvers reproduce the exact solve
    p = t.model.n_params
    np.testing.assert_allclose(G.influence_cg(t), IF, rtol=1e-6, atol=1e-9 * np.abs(IF).max())
    np.testing.assert_allclose(G.influence_arnoldi(t, np.random.default_rng(0), n_iter=p, top_k=p), IF,
                               atol=1e-7 * np.abs(IF).max())
    assert _pearson(G.influence_lissa(t, np.random.default_rng(0), depth=800), IF) > 0.9999


def test_weak_penalty_makes_loo_seed_dependent_and_influence_worse(strong):
    """The non-convex case: with l2 = 0.1 single-seed LOO differs between seeds, and the influence
    function agrees with LOO (single seed or expected) much less than at l2 = 10."""
    weak = _task(d=8, n=60, hidden=4, l2=0.1)
    mean, per = M.expected_loo(weak, range(4), return_per_seed=True)
    pairs = np.corrcoef(per)[np.triu_indices(4, 1)]
    assert pairs.min() < 0.9                       # retraining noise: seeds disagree
    IF = G.influence_exact(weak)
    strong_corr = _pearson(G.influence_exact(strong), M.expected_loo(strong, [0]))
    assert _pearson(IF, per[0]) < strong_corr - 0.3
    assert _pearson(IF, mean) < strong_corr - 0.2


def test_damping_and_non_positive_definite_hessian(strong, rng):
    t = _task(l2=10.0)
    m = t.model
    G_t = m.per_sample_grads(t.X_train, t.y_train)
    gv = G.loss_gradient(m, t.X_val, t.y_val)
    H = m.hessian(t.X_train, t.y_train) + 3.0 * torch.eye(m.n_params, dtype=torch.float64)
    np.testing.assert_allclose(G.influence_exact(t, damping=3.0), (G_t @ torch.linalg.solve(H, gv)).numpy(), rtol=1e-8)
    np.testing.assert_allclose(G.influence_cg(t, damping=3.0), G.influence_exact(t, damping=3.0), rtol=1e-6)
    # away from a minimum (the symmetric point theta = 0 is a saddle of a tanh MLP) H is indefinite
    saddle = M.MLPTask(t.X_train, t.y_train, t.X_val, t.y_val, n_classes=2, l2=0.01, hidden=3)
    saddle._full = saddle.make_model().fit(t.X_train, t.y_train, seed=0)
    saddle._full.theta_ = torch.zeros_like(saddle._full.theta_)
    saddle._full.theta_[-1] = 0.3
    saddle._full.theta_[:3] = torch.as_tensor(rng.standard_normal(3))
    lam_min = float(torch.linalg.eigvalsh(saddle._full.hessian(t.X_train, t.y_train))[0])
    assert lam_min < 0
    with pytest.raises(SingularHessianError, match="positive definite"):
        G.influence_exact(saddle)
    assert np.isfinite(G.influence_exact(saddle, damping=1.0 - lam_min)).all()
    with pytest.raises(ValueError, match="damping"):
        G.influence_exact(t, damping=-1.0)


# ---------------------------------------------------------------------- dynamic and last-layer estimators
def test_tracin_telescopes_under_full_batch_gradient_descent_on_the_mlp(rng):
    """sum_i TracIn(i) ~ L_val(theta_0) - L_val(theta_T) for small steps ([S] Eq. 49-54); the gap
    is the second-order Taylor term, O(lr) at fixed training time."""
    t = _task(l2=1.0)
    n = t.n_train
    errors = []
    for lr, steps in [(0.04, 100), (0.01, 400)]:
        traj = G.train_sgd(t, rng, epochs=steps, batch_size=n, lr=lr, weight_decay=0.0)
        m = traj.model
        Lv = lambda th: float(m.loss(t.X_val, t.y_val, th).sum())  # noqa: E731
        actual = Lv(traj.thetas[0]) - Lv(traj.final)
        assert actual > 0.1 * Lv(traj.thetas[0])
        errors.append(abs(G.tracin(t, rng, traj=traj).sum() - actual) / abs(actual))
    assert errors[1] < 0.01
    assert errors[1] < 0.4 * errors[0]
    np.testing.assert_allclose(G.tracin_cp(t, rng, traj=traj, every=1) / n, G.tracin(t, rng, traj=traj),
                               rtol=1e-10, atol=1e-12)
    # the trajectory starts where the task's model's training started
    np.testing.assert_array_equal(traj.thetas[0], t.model.init_params(5, 2, t.seed))


def test_fast_hydra_without_weight_decay_is_tracin_with_final_gradient_on_the_mlp(rng):
    t = _task(l2=1.0)
    traj = G.train_sgd(t, rng, epochs=3, batch_size=8, lr=0.1, weight_decay=0.0)
    m = traj.model
    gT = G.loss_gradient(m, t.X_val, t.y_val, traj.final)
    expect = np.zeros(t.n_train)
    for theta, B, lr in zip(traj.thetas, traj.batches, traj.lrs):
        expect[B] += lr / len(B) * (m.per_sample_grads(t.X_train[B], t.y_train[B], theta) @ gT).numpy()
    np.testing.assert_allclose(G.hydra_fast(t, rng, traj=traj), expect, rtol=1e-10, atol=1e-14)


def test_representer_values_reconstruct_the_last_layer(strong):
    """[S] Eq. 43 for the last layer: at a stationary point W2 = sum_i alpha_i f(x_i)."""
    t = strong
    m = t.model
    alpha = -m.residuals(t.X_train, t.y_train) / m.l2_            # (n, 1)
    F = G.last_layer_inputs(m, t.X_train)                          # hidden activations
    _, V = m.unpack(m.theta_)
    np.testing.assert_allclose(F.T @ alpha, V[:-1], atol=1e-7)
    # the unconverged initialisation does not satisfy it
    theta0 = m.init_params(5, 2, 0)
    F0 = m.hidden_features(t.X_train, theta0)
    a0 = -m.residuals(t.X_train, t.y_train, theta0) / m.l2_
    assert float((F0.T @ a0 - m.unpack(theta0)[1][:-1]).abs().max()) > 1e-2


def test_knn_shapley_uses_the_hidden_embedding(strong):
    t = strong
    emb = t.embedding(t.X_train)
    assert emb.shape == (t.n_train, t.hidden)
    v = valuation.knn_shapley_task(t, k=3)
    np.testing.assert_allclose(v, valuation.knn_shapley(emb, t.y_train, t.embedding(t.X_val), t.y_val, k=3))
    assert v.sum() == pytest.approx(valuation.knn_utility(emb, t.y_train, t.embedding(t.X_val), t.y_val, k=3)(
        np.arange(t.n_train)))  # efficiency


# ---------------------------------------------------------------------- batched games, call shape
def test_batched_games_equal_one_fit_at_a_time(strong, rng):
    t = _task(n=14, l2=3.0)
    u = valuation.TaskUtility(t)
    masks = rng.random((6, 14)) < 0.5
    masks[0] = False
    masks[1] = True
    masks[2] = masks[3]                                     # a repeated subset is fitted once
    batch = u.batch(masks)
    assert u.n_fits == len({m.tobytes() for m in masks[2:]})
    fresh = valuation.TaskUtility(t, cache=False)
    one = [fresh(np.flatnonzero(m)) for m in masks]
    np.testing.assert_allclose(batch, one, atol=1e-9)
    assert batch[0] == u.empty and batch[1] == pytest.approx(t.utility(t.model))

    class Sequential:  # the same game without the batch path
        def __init__(self, f):
            self.f = f

        def __call__(self, S):
            return self.f(S)

    for est in (valuation.tmc_shapley_game, valuation.banzhaf_msr_game):
        opts = {"n_permutations": 2} if est is valuation.tmc_shapley_game else {"n_samples": 12}
        a = est(valuation.TaskUtility(t), 14, np.random.default_rng(5), **opts)
        b = est(Sequential(valuation.TaskUtility(t)), 14, np.random.default_rng(5), **opts)
        np.testing.assert_allclose(a, b, atol=1e-9)


def test_every_estimator_has_the_common_call_shape_on_the_mlp(strong):
    t = strong
    opts = {"tracin": {"epochs": 2}, "tracin_cp": {"epochs": 2}, "gas": {"epochs": 2}, "hydra_fast": {"epochs": 2},
            "influence_lissa": {"depth": 50}, "influence_arnoldi": {"n_iter": 10, "top_k": 5},
            "downsampling": {"n_models": 30}, "tmc_shapley": {"n_permutations": 1}, "banzhaf_msr": {"n_samples": 30},
            "knn_shapley": {"k": 3}}
    entries = estimators_for(t, exclude=("loo",))
    assert set(opts) <= set(entries)
    for name, f in entries.items():
        v = f(t, np.random.default_rng(0), **opts.get(name, {}))
        assert v.shape == (t.n_train,) and np.isfinite(v).all(), name


def test_bad_input_gives_clear_errors(strong):
    with pytest.raises(ValueError, match="hidden"):
        OneHiddenLayerMLP(hidden=0)
    with pytest.raises(ValueError, match="activation"):
        OneHiddenLayerMLP(activation="sigmoid")
    with pytest.raises(ValueError, match="l2"):
        OneHiddenLayerMLP(l2=0.0)
    with pytest.raises(RuntimeError, match="not fitted"):
        OneHiddenLayerMLP().loss(np.zeros((2, 3)), np.zeros(2, dtype=int))
    with pytest.raises(ValueError, match="features"):
        strong.model.loss(np.zeros((2, 3)), np.zeros(2, dtype=int))
    with pytest.raises(ValueError, match="weights must have shape"):
        strong.fit_many(np.ones((2, 3)))
    with pytest.raises(TypeError, match="MLPTask"):
        M.expected_loo(Task(strong.X_train, strong.y_train, strong.X_val, strong.y_val), [0])
    with pytest.raises(ValueError, match="seed"):
        M.expected_loo(strong, [])
    with pytest.raises(ValueError, match="labels"):
        G.hessian_vector_product(strong.model, strong.X_train)


def test_chunked_training_and_sweep_helpers(strong):
    t = strong
    W = np.ones((5, t.n_train))
    W[np.arange(1, 5), np.arange(4)] = 0.0
    m = t.make_model()
    whole, _, _ = m.fit_many(t.X_train, t.y_train, W, seed=1)
    chunked, gn, it = m.fit_many(t.X_train, t.y_train, W, seed=1, chunk=2)
    np.testing.assert_allclose(chunked, whole, atol=1e-10)
    assert (gn <= t.tol).all() and (it > 0).all()
    with pytest.raises(ValueError, match="chunk"):
        m.fit_many(t.X_train, t.y_train, W, chunk=0)
    # seed_agreement: a perfect estimate of the expectation, computed from noisy per-seed rows
    rng = np.random.default_rng(0)
    truth = rng.standard_normal(50)
    others = truth + 0.1 * rng.standard_normal((3, 50))
    r = M.seed_agreement(truth, others[0], others)
    assert r["pearson_if_expected_loo"] > 0.99 and r["seed_to_seed_loo_pearson"] > 0.98
    assert r["pearson_loo_same_seed_expected_loo"] > 0.98
    # the sweep on the tiny task: strong penalty = unique minimum, IF ~ LOO
    sweep = M.l2_sweep(t, [10.0], n_seeds=2)
    assert sweep.loc[10.0, "seed_to_seed_loo_pearson"] > 0.999
    assert sweep.loc[10.0, "pearson_if_loo_same_seed"] >= 0.99 and sweep.loc[10.0, "min_hessian_eigenvalue"] > 0
    with pytest.raises(ValueError, match="n_seeds"):
        M.l2_sweep(t, [1.0], n_seeds=1)
