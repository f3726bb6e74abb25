"""Bookkeeping of the [PC] §5.1 removal protocol."""

import numpy as np
import pytest

from lib import category_removal as cr


def test_removal_sets_pick_the_extremes():
    P = np.array([[3.0, -1], [1, 2], [-2, 0.5], [0, -3], [2, 1], [-1, 0], [0.5, 0.2], [1.5, -0.5], [-0.5, 3], [0.1, 0.1]])
    sets = cr.removal_sets(P, 0.2)
    assert [sorted(s) for s in sets["beneficial"]] == [[0, 4], [1, 8]]
    assert [sorted(s) for s in sets["detrimental"]] == [[2, 5], [0, 3]]
    with pytest.raises(ValueError):
        cr.removal_sets(P, 0.7)


def test_run_with_an_additive_model_recovers_exact_predictions():
    """A 'model' whose class-j loss is the sum over kept samples of -P[i, j]: removal changes the
    loss by exactly sum P[removed, j], so the loss Spearman is 1 and counts follow the labels."""
    rng = np.random.default_rng(0)
    n, K = 50, 3
    P = rng.normal(size=(n, K))
    y = rng.integers(0, K, n)

    def fit(keep, seed):
        return keep

    def evaluate(keep):
        loss = -P[keep].sum(0)
        return -loss / 100, loss

    res = cr.run(P, y, fit, evaluate, fraction=0.1, seeds=(0, 1))
    np.testing.assert_allclose(res.loss_change["beneficial"], res.influence["beneficial"])
    assert res.spearman("beneficial", "loss") == pytest.approx(1.0)
    assert res.spearman("detrimental", "accuracy") == pytest.approx(1.0)
    assert res.diagonal_sign_agreement("beneficial") == 1.0
    assert res.counts["beneficial"].sum(1).tolist() == [5, 5, 5]
    idx = cr.removal_sets(P, 0.1)["detrimental"][2]
    assert res.counts["detrimental"][2].tolist() == np.bincount(y[idx], minlength=K).tolist()
