"""Influence-based reweighing (lib.reweighing, after Li & Liu 2022): the LP and a retraining check."""

import numpy as np
import pytest

from lib import fairness
from lib.influence import influence_on, utility_influence
from lib.models import LogisticRegression
from lib.reweighing import influence_reweighing


def _data(rng, n):
    g = (rng.random(n) < 0.4).astype(int)
    X = np.c_[rng.standard_normal((n, 3)) + 0.8 * g[:, None], g]
    y = (X[:, 0] + X[:, 1] + 0.5 * rng.standard_normal(n) > 0.4).astype(int)
    return X, y, g


def test_lp_meets_its_constraints():
    rng = np.random.default_rng(0)
    I_fair, I_util = rng.standard_normal(50), rng.standard_normal(50)
    r = influence_reweighing(I_fair, I_util, f_value=2.0, alpha=0.5)
    assert r.alpha == 0.5 and ((0 <= r.weights) & (r.weights <= 1)).all()
    assert r.predicted_fairness_change <= -1.0 + 1e-9 and r.predicted_utility_change <= 1e-9
    # out of reach: the reduction is capped at what the data allow, and the result says so
    r2 = influence_reweighing(np.abs(I_fair) * 0.01 - 0.005, I_util, f_value=100.0, alpha=1.0)
    assert r2.alpha < 1.0 and r2.predicted_utility_change <= 1e-9


def test_reweighing_lowers_the_actual_gap_after_retraining():
    rng = np.random.default_rng(1)
    X, y, _ = _data(rng, 400)
    Xv, yv, gv = _data(rng, 400)
    model = LogisticRegression(l2=5.0).fit(X, y)
    dp = fairness.dp_quantity(Xv, gv)
    f0 = float(dp(model, model.theta_))
    r = influence_reweighing(influence_on(model, X, y, dp), utility_influence(model, X, y, Xv, yv), f0, alpha=0.3)
    refit = LogisticRegression(l2=5.0).fit(X, y, sample_weight=r.weights)
    f1 = float(dp(refit, refit.theta_))
    # the gap falls by at least half of the first-order prediction (group effects add up superlinearly
    # here: the actual fall is larger than predicted)
    assert r.predicted_fairness_change < 0 and f1 - f0 < 0.5 * r.predicted_fairness_change


def test_bad_arguments():
    with pytest.raises(ValueError, match="alpha"):
        influence_reweighing(np.ones(3), np.ones(3), 1.0, alpha=0)
    with pytest.raises(ValueError, match="equal length"):
        influence_reweighing(np.ones(3), np.ones(4), 1.0)
