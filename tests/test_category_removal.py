"""Bookkeeping of the [PC] §5.1 removal protocol."""

import numpy as np
import pytest

from lib import category_removal as cr
from lib.experiments import ch03_deep_category_influence as ch03


def test_removal_sets_pick_the_extremes():
    P = np.array(
        [[3.0, -1], [1, 2], [-2, 0.5], [0, -3], [2, 1], [-1, 0], [0.5, 0.2], [1.5, -0.5], [-0.5, 3], [0.1, 0.1]]
    )
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
    lo, hi = res.spearman_interval("beneficial", "loss")
    assert lo == pytest.approx(1.0) and hi == pytest.approx(1.0)  # a perfect ranking stays perfect
    summary = res.summary()
    assert summary["spearman beneficial (loss)"] == pytest.approx(1.0) and len(summary) == 23
    assert res.counts["beneficial"].sum(1).tolist() == [5, 5, 5]
    idx = cr.removal_sets(P, 0.1)["detrimental"][2]
    assert res.counts["detrimental"][2].tolist() == np.bincount(y[idx], minlength=K).tolist()


def test_seed_reliability_and_noise_separate_signal_from_retraining_noise():
    """Additive 'model' plus seed-dependent noise: without noise the actual changes are the same
    for every seed (reliability 1, noise 0); with noise far above the effects reliability collapses."""
    rng = np.random.default_rng(0)
    n, K = 60, 3
    P = rng.normal(size=(n, K))
    y = rng.integers(0, K, n)

    def study(scale):
        def fit(keep, seed):
            return keep, seed

        def evaluate(model):
            keep, seed = model
            noise = np.random.default_rng([seed, len(keep), int(keep.sum())]).normal(scale=scale, size=K)
            loss = -P[keep].sum(0) + noise
            return -loss / 100, loss

        return cr.run(P, y, fit, evaluate, fraction=0.1, seeds=(0, 1, 2, 3))

    clean, noisy = study(0.0), study(100.0)
    assert clean.seed_reliability("beneficial") == pytest.approx(1.0)
    assert clean.seed_reliability("detrimental", "loss") == pytest.approx(1.0)
    assert clean.retraining_noise("beneficial") == pytest.approx(0.0)
    assert noisy.retraining_noise("beneficial") > clean.effect_size("beneficial")
    assert noisy.seed_reliability("beneficial") < 0.8
    lo, hi = noisy.spearman_interval("beneficial")
    assert lo < noisy.spearman("beneficial") < hi and hi - lo > 0.1
    assert np.isnan(
        cr.run(
            P, y, lambda k, s: (k, s), lambda m: (P[m[0]].sum(0) / 100, -P[m[0]].sum(0)), fraction=0.1, seeds=(0,)
        ).seed_reliability("beneficial")
    )
    with pytest.raises(ValueError, match="quantity"):
        clean.seed_reliability("beneficial", "f1")


def test_deep_study_rejects_an_unknown_device_before_training():
    X = np.zeros((20, 4), dtype=np.float32)
    y = np.arange(20) % 2
    with pytest.raises(ValueError, match="unknown device"):
        ch03.deep_study(
            X,
            y,
            X,
            y,
            2,
            kind="mlp_head",
            model_kwargs={"n_classes": 2, "d_in": 4},
            train_kwargs={},
            damping=0.1,
            device="gpu",
        )
