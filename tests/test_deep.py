"""Models and the weighted training loop of lib.deep."""

import numpy as np
import pytest
import torch

from lib import deep


def _blobs(rng, n=240, K=3, d=64):
    centres = rng.normal(scale=2.0, size=(K, d))
    y = np.arange(n) % K
    return (centres[y] + rng.normal(size=(n, d))).astype(np.float32), y


def test_shapes_of_every_offline_model():
    rng = np.random.default_rng(0)
    assert deep.build("small_cnn", rng)(torch.zeros(2, 784)).shape == (2, 10)
    assert deep.build("small_cnn", rng, image_size=8)(torch.zeros(2, 1, 8, 8)).shape == (2, 10)
    assert deep.build("mlp_head", rng, n_classes=4)(torch.zeros(2, 384)).shape == (2, 4)
    assert deep.build("resnet9", rng, width=8)(torch.zeros(2, 3, 32, 32)).shape == (2, 10)
    with pytest.raises(ValueError, match="unknown model"):
        deep.build("vgg", rng)


def test_training_is_deterministic_and_learns():
    X, y = _blobs(np.random.default_rng(0))
    runs = []
    for _ in range(2):
        m = deep.build("mlp_head", np.random.default_rng(1), n_classes=3, d_in=64)
        r = deep.train(m, X, y, rng=np.random.default_rng(2), epochs=3, lr=0.05, batch_size=32,
                       X_eval=X, y_eval=y, n_classes=3)
        runs.append((m, r))
    for a, b in zip(runs[0][0].state_dict().values(), runs[1][0].state_dict().values()):
        assert torch.equal(a, b)
    r = runs[0][1]
    assert r.class_accuracy.shape == (3, 3) and r.accuracy[-1] > 0.9
    np.testing.assert_allclose(r.accuracy, r.class_accuracy.mean(1))  # balanced classes


def test_zero_weight_class_is_not_learned_and_weights_scale_the_loss():
    """Weight 0 on all samples of class 2: the net never predicts it (the loss ignores them)."""
    X, y = _blobs(np.random.default_rng(0))
    w = (y != 2).astype(float)
    m = deep.build("mlp_head", np.random.default_rng(1), n_classes=3, d_in=64)
    r = deep.train(m, X, y, rng=np.random.default_rng(2), sample_weight=w, epochs=3, lr=0.05, batch_size=32,
                   X_eval=X, y_eval=y, n_classes=3)
    assert r.class_accuracy[-1, 2] == 0.0 and r.class_accuracy[-1, :2].min() > 0.9
    # doubling every weight = doubling the learning rate of plain SGD (momentum 0)
    outs = []
    for scale, lr in ((2.0, 0.01), (1.0, 0.02)):
        m = deep.build("mlp_head", np.random.default_rng(1), n_classes=3, d_in=64)
        deep.train(m, X, y, rng=np.random.default_rng(2), sample_weight=np.full(len(y), scale), epochs=1,
                   lr=lr, momentum=0.0, batch_size=32)
        outs.append(torch.cat([p.detach().ravel() for p in m.parameters()]))
    torch.testing.assert_close(outs[0], outs[1], rtol=1e-5, atol=1e-6)


def test_bad_weights_are_rejected():
    X, y = _blobs(np.random.default_rng(0), n=30)
    m = deep.build("mlp_head", np.random.default_rng(1), n_classes=3, d_in=64)
    with pytest.raises(ValueError, match="non-negative"):
        deep.train(m, X, y, rng=np.random.default_rng(0), sample_weight=-np.ones(len(y)))
