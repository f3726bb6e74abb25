"""The linear evasion attack of [CH] §2/§5.3 and the hard-prediction DP gap (lib.fairness)."""

import numpy as np
import pytest

from lib import fairness
from lib.models import LogisticRegression


@pytest.mark.parametrize("gamma", [1.0001, 1.3, 2.0, 5.0])
def test_linear_attack_flips_every_prediction_of_the_crafting_model(rng, gamma):
    X = rng.standard_normal((400, 6))
    y = (X @ np.arange(1, 7) + rng.standard_normal(400) > 0).astype(int)
    model = LogisticRegression(l2=2.0).fit(X, y)
    X_adv = fairness.linear_attack(model, X, gamma=gamma)
    assert (model.predict(X_adv) != model.predict(X)).all()
    # the move is orthogonal to the boundary: only along the weight vector
    w = model.coef_[0]
    resid = (X_adv - X) - np.outer((X_adv - X) @ w / (w @ w), w)
    assert np.abs(resid).max() < 1e-10


def test_linear_attack_below_one_moves_points_without_crossing(rng):
    X = rng.standard_normal((200, 3))
    y = (X[:, 0] > 0).astype(int)
    model = LogisticRegression(l2=2.0).fit(X, y)
    X_half = fairness.linear_attack(model, X, gamma=0.5)
    assert (model.predict(X_half) == model.predict(X)).all()
    z, z_half = model.logits(X)[:, 0].numpy(), model.logits(X_half)[:, 0].numpy()
    assert np.allclose(z_half, 0.5 * z)  # the margin is scaled by 1 - gamma


def test_prediction_dp_gap_is_signed():
    pred = np.array([1, 1, 0, 0, 1, 0])
    groups = np.array([1, 1, 1, 0, 0, 0])
    assert fairness.prediction_dp_gap(pred, groups) == pytest.approx(2 / 3 - 1 / 3)
    assert fairness.prediction_dp_gap(pred, 1 - groups) == pytest.approx(-1 / 3)
    with pytest.raises(ValueError, match="0/1"):
        fairness.prediction_dp_gap(np.array([0.2, 0.7]), np.array([0, 1]))
