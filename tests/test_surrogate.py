"""lib.surrogate: the [CH] App. D.1 network with its last-layer convex surrogate, and the linearised attack."""

import numpy as np
import pytest
import torch
from scipy.stats import pearsonr

from lib import fairness, influence
from lib.models import LogisticRegression
from lib.surrogate import fit_surrogate_mlp, init_mlp, linearised_attack, train_mlp

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def data():
    r = np.random.default_rng(3)
    n, d = 160, 5
    X = r.standard_normal((n, d))
    g = (r.random(n) < 0.4).astype(int)
    X[:, 0] += 0.8 * g
    logit = X[:, 0] - 0.7 * X[:, 1] + 0.5 * X[:, 2] * X[:, 3]
    y = (r.random(n) < 1 / (1 + np.exp(-2 * logit))).astype(int)
    return X[:120], y[:120], g[:120], X[120:], y[120:], g[120:]


def _params(net):
    return torch.cat([p.reshape(-1) for p in net.parameters()])


def test_training_is_deterministic_and_seeded(data):
    X, y = data[0], data[1]
    a, b = train_mlp(X, y, seed=1, hidden=6, epochs=30), train_mlp(X, y, seed=1, hidden=6, epochs=30)
    c = train_mlp(X, y, seed=2, hidden=6, epochs=30)
    assert torch.equal(_params(a), _params(b))
    assert not torch.allclose(_params(a), _params(c))
    assert len(a.body) == 4  # two (Linear, ReLU) hidden layers
    torch.manual_seed(123)  # torch's global generator plays no part
    assert torch.equal(_params(train_mlp(X, y, seed=1, hidden=6, epochs=30)), _params(a))
    net = init_mlp(5, 6, 2, np.random.default_rng(0))
    assert all(p.dtype == torch.float64 for p in net.parameters())
    assert float(net.body[0].weight.detach().abs().max()) <= 1 / np.sqrt(5)
    assert float(net.out.weight.detach().abs().max()) <= 1 / np.sqrt(6)


def test_zero_weight_removes_a_sample_exactly(data):
    X, y = data[0], data[1]
    keep = np.ones(len(y), bool)
    keep[[0, 5, 17]] = False
    weighted = train_mlp(X, y, seed=0, hidden=6, epochs=40, sample_weight=keep.astype(float))
    subset = train_mlp(X[keep], y[keep], seed=0, hidden=6, epochs=40)
    torch.testing.assert_close(_params(weighted), _params(subset), rtol=1e-10, atol=1e-12)


def test_head_influence_predicts_head_retraining(data):
    """With the body frozen, the surrogate's influence is the exact logistic-regression influence on the
    embeddings: it must match leave-one-out refits of the head (utility, DP and EOP quantities)."""
    X, y, _, Xv, yv, gv = data
    model = fit_surrogate_mlp(X, y, seed=0, hidden=6, epochs=60, l2=5.0)
    E, Ev = model.embed(X), model.embed(Xv)
    fs = [fairness.utility_quantity(Ev, yv), fairness.dp_quantity(Ev, gv), fairness.eop_quantity(Ev, yv, gv)]
    idx = np.arange(0, 120, 4)
    actual = influence.loo_effect(model.head, E, y, idx, fs)
    for k, f in enumerate(fs):
        pred = influence.influence_on(model.head, E, y, f)[idx]
        assert pearsonr(pred, actual[:, k])[0] > 0.98


def test_surrogate_predicts_through_its_head(data):
    X, y = data[0], data[1]
    model = fit_surrogate_mlp(X, y, seed=0, hidden=6, epochs=60)
    p = model.predict_proba(X)[:, 1]
    np.testing.assert_allclose(p, model.head.predict_proba(model.embed(X))[:, 1])
    assert model.score(X, y) > 0.6
    assert model.loss(X, y).shape == (len(y),)


def test_linearised_attack_is_the_linear_attack_for_a_linear_model(data):
    X, y = data[0], data[1]
    lr = LogisticRegression(l2=1.0).fit(X, y)
    got = linearised_attack(lambda Xt: lr.logits(Xt)[:, 0], X, gamma=1.3)
    np.testing.assert_allclose(got, fairness.linear_attack(lr, X, 1.3), rtol=1e-10, atol=1e-12)
    assert (lr.predict(got) != lr.predict(X)).all()  # gamma > 1 flips every prediction of a linear model


def test_linearised_attack_on_the_network_moves_along_the_gradient(data):
    X, y = data[0], data[1]
    model = fit_surrogate_mlp(X, y, seed=0, hidden=6, epochs=60)
    X_adv = linearised_attack(model.input_logit, X, gamma=1.3)
    Xt = torch.as_tensor(X).requires_grad_(True)
    z = model.input_logit(Xt)
    (grad,) = torch.autograd.grad(z.sum(), Xt)
    delta = torch.as_tensor(X_adv) - Xt.detach()
    # the linearised logit lands at (1 - gamma) z: across the boundary
    torch.testing.assert_close((grad * delta).sum(1), -1.3 * z.detach(), rtol=1e-9, atol=1e-10)
    with pytest.raises(ValueError, match="gamma"):
        linearised_attack(model.input_logit, X, gamma=0.0)


def test_bad_inputs_are_clear_errors(data):
    X, y = data[0], data[1]
    with pytest.raises(ValueError, match="binary"):
        train_mlp(X, y + 1, seed=0)
    with pytest.raises(ValueError, match="sample_weight"):
        train_mlp(X, y, seed=0, sample_weight=np.zeros(len(y)))
