import numpy as np
import pytest
import torch
from scipy.stats import spearmanr

from lib import fairness, influence
from lib.datasets.toy import ch_toy
from lib.models import LogisticRegression


@pytest.fixture
def toy(rng):
    d = ch_toy(rng, n_train=60, n_val=80)
    model = LogisticRegression(l2=5.0).fit(d.X_train, d.y_train)
    return d, model


def _quantities(d, model):
    X_adv = fairness.linear_attack(model, d.X_val)
    return {
        "utility": fairness.utility_quantity(d.X_val, d.y_val),
        "dp": fairness.dp_quantity(d.X_val, d.g_val),
        "eop": fairness.eop_quantity(d.X_val, d.y_val, d.g_val),
        "robust": fairness.robustness_quantity(X_adv, d.y_val),
    }


def test_gradients_match_central_finite_differences(toy):
    d, model = toy
    for name, f in _quantities(d, model).items():
        g = influence.quantity_gradient(model, f).numpy()
        th = model.theta_.reshape(-1)
        fd = np.empty_like(g)
        h = 1e-6
        for j in range(len(th)):
            e = torch.zeros_like(th)
            e[j] = h
            fp = float(f(model, (th + e).reshape(model.theta_.shape)))
            fm = float(f(model, (th - e).reshape(model.theta_.shape)))
            fd[j] = (fp - fm) / (2 * h)
        np.testing.assert_allclose(g, fd, rtol=1e-5, atol=1e-7, err_msg=name)
        assert np.abs(g).max() > 1e-4, f"{name}: zero gradient makes the test vacuous"


def test_dp_value_by_hand(toy):
    d, model = toy
    p = model.predict_proba(d.X_val)[:, 1]
    expected = abs(p[d.g_val == 1].mean() - p[d.g_val == 0].mean())
    got = float(fairness.dp_quantity(d.X_val, d.g_val)(model, model.theta_))
    assert got == pytest.approx(expected, rel=1e-12)


def test_influence_on_matches_leave_one_out(toy):
    d, model = toy
    fs = _quantities(d, model)
    idx = np.arange(len(d.y_train))
    actual = influence.loo_effect(model, d.X_train, d.y_train, idx, list(fs.values()))
    for k, (name, f) in enumerate(fs.items()):
        pred = influence.influence_on(model, d.X_train, d.y_train, f)
        rho = spearmanr(pred, actual[:, k]).statistic
        assert rho >= 0.95, f"{name}: Spearman {rho:.3f}"


def test_attack_flips_every_prediction_for_gamma_above_one(toy):
    d, model = toy
    before = model.predict(d.X_val)
    for gamma in (1.01, 1.3, 3.0):
        after = model.predict(fairness.linear_attack(model, d.X_val, gamma))
        assert (after != before).all()
    # gamma < 1 stops short of the boundary: nothing flips
    assert (model.predict(fairness.linear_attack(model, d.X_val, 0.5)) == before).all()


def test_metrics_and_errors(toy):
    d, model = toy
    X_adv = fairness.linear_attack(model, d.X_val)
    m = fairness.metrics(model, d.X_val, d.y_val, d.g_val, X_adv)
    assert m["adv_accuracy"] == pytest.approx(1 - m["accuracy"])
    with pytest.raises(ValueError, match="binary sensitive"):
        fairness.dp_quantity(d.X_val, d.g_val + 2)
    with pytest.raises(ValueError, match="shape"):
        fairness.dp_quantity(d.X_val, d.g_val[:-1])
    multi = LogisticRegression().fit(d.X_train, np.arange(len(d.y_train)) % 3)
    with pytest.raises(ValueError, match="binary classifiers"):
        fairness.linear_attack(multi, d.X_val)
