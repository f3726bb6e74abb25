"""Online learning with per-batch influence trimming (lib.online, [CH] §5.4)."""

import numpy as np
import pytest

from lib import online


def _stream(rng, n, d=5):
    w = np.linspace(1.0, -1.0, d)
    X = rng.standard_normal((n, d))
    y = (X @ w + 0.3 * rng.standard_normal(n) > 0).astype(int)
    return X, y


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    return _stream(rng, 1000), _stream(rng, 300), _stream(rng, 500)


def test_batch_bounds_cover_the_stream():
    b = online.batch_bounds(1003, 10)
    assert b[0] == 0 and b[-1] == 1003 and len(b) == 11 and (np.diff(b) >= 100).all()
    with pytest.raises(ValueError, match="n_batches"):
        online.batch_bounds(5, 10)


def test_the_loop_trims_exactly_b_per_batch(data):
    (Xs, ys), (Xv, yv), (Xt, yt) = data
    run = online.run_online(Xs, ys, Xv, yv, Xt, yt, np.random.default_rng(1), n_batches=10)
    h = run.history
    assert len(run.trims) == 10 and run.budgets == [10] * 10  # int(0.1 * 100)
    for b, t in enumerate(run.trims, start=1):
        assert len(t.removed) == 10 and len(t.kept) == 90
        step = h[(h.batch == b)]
        assert (step[step.variant.isin(["influence", "random"])].n_fitted == 90).all()
        assert (step[step.variant.isin(["none", "clean"])].n_fitted == 100).all()
        assert (step[step.variant == "influence"].n_trimmed == 10).all()
    # one third of each batch's labels is flipped
    assert all(len(f) == round(100 / 3) for f in run.flipped)
    assert set(h.learner) == {"logistic regression", "linear SVM"} and len(h) == 10 * 2 * 4


def test_influence_trimming_finds_flipped_labels_better_than_chance(data):
    (Xs, ys), (Xv, yv), (Xt, yt) = data
    run = online.run_online(Xs, ys, Xv, yv, Xt, yt, np.random.default_rng(2), n_batches=5)
    h = run.history
    infl = h[(h.variant == "influence") & (h.learner == "linear SVM")]
    rand = h[(h.variant == "random") & (h.learner == "linear SVM")]
    # a third of the labels are flipped: random trimming hits ~1/3 of them, influence far more
    assert infl.flipped_trimmed.sum() / infl.n_trimmed.sum() > 0.8
    assert rand.flipped_trimmed.sum() / rand.n_trimmed.sum() < 0.6


def test_trim_batch_uses_a_fresh_surrogate_and_the_rule(data):
    (Xs, ys), (Xv, yv), _ = data
    t, scores = online.trim_batch(Xs[:100], ys[:100], Xv, yv, 7)
    assert len(t.removed) == 7 and (scores[t.removed].max() <= np.delete(scores, t.removed).min())
    t2, _ = online.trim_batch(Xs[:100], ys[:100], Xv, yv, 7, rule="negative")
    assert len(t2.removed) == min(7, int((scores < 0).sum()))


def test_same_seed_same_history(data):
    (Xs, ys), (Xv, yv), (Xt, yt) = data
    a = online.run_online(Xs, ys, Xv, yv, Xt, yt, np.random.default_rng(5), n_batches=3).history
    b = online.run_online(Xs, ys, Xv, yv, Xt, yt, np.random.default_rng(5), n_batches=3).history
    assert a.equals(b)
    with pytest.raises(ValueError, match="variant"):
        online.run_online(Xs, ys, Xv, yv, Xt, yt, np.random.default_rng(5), variants=["oracle"])
