"""Models and the weighted training loop of lib.deep."""

import copy

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
        r = deep.train(
            m, X, y, rng=np.random.default_rng(2), epochs=3, lr=0.05, batch_size=32, X_eval=X, y_eval=y, n_classes=3
        )
        runs.append((m, r))
    for a, b in zip(runs[0][0].state_dict().values(), runs[1][0].state_dict().values(), strict=True):
        assert torch.equal(a, b)
    r = runs[0][1]
    assert r.class_accuracy.shape == (3, 3) and r.accuracy[-1] > 0.9
    np.testing.assert_allclose(r.accuracy, r.class_accuracy.mean(1))  # balanced classes


def test_zero_weight_class_is_not_learned_and_weights_scale_the_loss():
    """Weight 0 on all samples of class 2: the net never predicts it (the loss ignores them)."""
    X, y = _blobs(np.random.default_rng(0))
    w = (y != 2).astype(float)
    m = deep.build("mlp_head", np.random.default_rng(1), n_classes=3, d_in=64)
    r = deep.train(
        m,
        X,
        y,
        rng=np.random.default_rng(2),
        sample_weight=w,
        epochs=3,
        lr=0.05,
        batch_size=32,
        X_eval=X,
        y_eval=y,
        n_classes=3,
    )
    assert r.class_accuracy[-1, 2] == 0.0 and r.class_accuracy[-1, :2].min() > 0.9
    # doubling every weight = doubling the learning rate of plain SGD (momentum 0)
    outs = []
    for scale, lr in ((2.0, 0.01), (1.0, 0.02)):
        m = deep.build("mlp_head", np.random.default_rng(1), n_classes=3, d_in=64)
        deep.train(
            m,
            X,
            y,
            rng=np.random.default_rng(2),
            sample_weight=np.full(len(y), scale),
            epochs=1,
            lr=lr,
            momentum=0.0,
            batch_size=32,
        )
        outs.append(torch.cat([p.detach().ravel() for p in m.parameters()]))
    torch.testing.assert_close(outs[0], outs[1], rtol=1e-5, atol=1e-6)


def test_bad_weights_are_rejected():
    X, y = _blobs(np.random.default_rng(0), n=30)
    m = deep.build("mlp_head", np.random.default_rng(1), n_classes=3, d_in=64)
    with pytest.raises(ValueError, match="non-negative"):
        deep.train(m, X, y, rng=np.random.default_rng(0), sample_weight=-np.ones(len(y)))


# --- devices, optimisers, schedules, token inputs --------------------------------------------


def test_device_cpu_works_and_bad_devices_are_clear_errors():
    assert deep.resolve_device("cpu") == torch.device("cpu")
    assert deep.resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    for bad in ("gpu", "cuda:x", "tpu", ""):
        with pytest.raises(ValueError, match="unknown device"):
            deep.resolve_device(bad)
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="sees none"):
            deep.resolve_device("cuda")
    X, y = _blobs(np.random.default_rng(0), n=60)
    runs = []
    for device in (None, "cpu"):  # explicit CPU = the default path, bit for bit
        m = deep.build("mlp_head", np.random.default_rng(1), device="cpu", n_classes=3, d_in=64)
        deep.train(m, X, y, rng=np.random.default_rng(2), epochs=2, batch_size=16, device=device)
        runs.append(torch.cat([p.detach().ravel() for p in m.parameters()]))
        assert deep.model_device(m).type == "cpu"
    assert torch.equal(runs[0], runs[1])
    with pytest.raises(ValueError, match="unknown device"):
        deep.build("mlp_head", np.random.default_rng(1), device="gpu0", n_classes=3, d_in=64)


def test_triangle_schedule_and_adamw():
    f = [deep.lr_factor(t, 100, "triangle") for t in range(101)]
    assert f[0] == 0.0 and f[20] == 1.0 and f[100] == 0.0 and f[60] == pytest.approx(0.5)
    assert deep.lr_factor(7, 100, "constant") == 1.0
    assert deep.lr_factor(0, 3, "triangle") == 0.0 and deep.lr_factor(1, 3, "triangle") == 1.0  # peak >= 1 step
    with pytest.raises(ValueError, match="lr_schedule"):
        deep.lr_factor(0, 10, "cosine")
    X, y = _blobs(np.random.default_rng(0))
    m = deep.build("mlp_head", np.random.default_rng(1), n_classes=3, d_in=64)
    r = deep.train(
        m,
        X,
        y,
        rng=np.random.default_rng(2),
        epochs=3,
        lr=0.01,
        batch_size=32,
        optimizer="adamw",
        weight_decay=0.01,
        lr_schedule="triangle",
        X_eval=X,
        y_eval=y,
        n_classes=3,
    )
    assert r.accuracy[-1] > 0.9
    with pytest.raises(ValueError, match="optimizer"):
        deep.train(m, X, y, rng=np.random.default_rng(2), optimizer="lbfgs")
    with pytest.raises(ValueError, match="lr_schedule"):
        deep.train(m, X, y, rng=np.random.default_rng(2), lr_schedule="cosine")


def test_integer_inputs_stay_token_ids():
    """Token ids must reach an embedding layer as int64 (a float cast would break BERT)."""

    class Bag(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = torch.nn.EmbeddingBag(20, 8)
            self.out = torch.nn.Linear(8, 2)

        def forward(self, ids):
            assert ids.dtype == torch.long
            return self.out(self.emb(ids))

    rng = np.random.default_rng(0)
    ids = rng.integers(0, 20, size=(40, 5))
    y = (ids[:, 0] < 10).astype(int)
    torch.manual_seed(0)
    m = Bag()
    r = deep.train(m, ids, y, rng=rng, epochs=2, batch_size=8, X_eval=ids, y_eval=y, n_classes=2)
    acc, loss = deep.class_metrics(m, ids, y, 2)
    assert r.class_accuracy.shape == (2, 2) and np.isfinite(loss).all() and acc.shape == (2,)


@pytest.mark.parametrize("optimizer, schedule", [("sgd", "triangle"), ("adamw", "constant")])
def test_chained_one_epoch_calls_equal_one_run(optimizer, schedule):
    """Continuing a run from its optimiser state, schedule position and batch orders reproduces it
    bit for bit (what PARETO-LP-GA's one epoch from a checkpoint relies on)."""
    X, y = _blobs(np.random.default_rng(0), n=90)
    orders = [np.random.default_rng([5, e]).permutation(90) for e in range(3)]
    kw = {
        "lr": 0.05,
        "batch_size": 32,
        "momentum": 0.9,
        "weight_decay": 1e-3,
        "optimizer": optimizer,
        "lr_schedule": schedule,
    }
    whole = deep.build("mlp_head", np.random.default_rng(1), n_classes=3, d_in=64)
    deep.train(whole, X, y, rng=np.random.default_rng(2), epochs=3, batch_orders=orders, **kw)
    part = deep.build("mlp_head", np.random.default_rng(1), n_classes=3, d_in=64)
    state, spe = None, 3  # 90 samples / batch 32 = 3 steps per epoch
    for e in range(3):
        before = copy.deepcopy(state)
        r = deep.train(
            part,
            X,
            y,
            rng=np.random.default_rng([9, e]),
            epochs=1,
            batch_orders=[orders[e]],
            optimizer_state=state,
            schedule_steps=(e * spe, 3 * spe),
            keep_optimizer_state=True,
            **kw,
        )
        if state is not None:  # the caller's state is not updated in place
            for k, buf in state["state"].items():
                for name, t in buf.items():
                    assert torch.equal(t, before["state"][k][name])
        state = r.optimizer_state
    for a, b in zip(whole.state_dict().values(), part.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    # the explicit order is used: another order gives another model
    other = deep.build("mlp_head", np.random.default_rng(1), n_classes=3, d_in=64)
    deep.train(other, X, y, rng=np.random.default_rng(2), epochs=3, batch_orders=orders[::-1], **kw)
    assert not torch.equal(next(other.parameters()), next(whole.parameters()))
    assert deep.train(other, X, y, rng=np.random.default_rng(2), epochs=1).optimizer_state is None


def test_batch_orders_and_schedule_steps_are_checked():
    X, y = _blobs(np.random.default_rng(0), n=30)
    m = deep.build("mlp_head", np.random.default_rng(1), n_classes=3, d_in=64)
    with pytest.raises(ValueError, match="one permutation per epoch"):
        deep.train(m, X, y, rng=np.random.default_rng(0), epochs=2, batch_orders=[np.arange(30)])
    with pytest.raises(ValueError, match="permutation of range"):
        deep.train(m, X, y, rng=np.random.default_rng(0), epochs=1, batch_orders=[np.zeros(30, int)])
    with pytest.raises(ValueError, match="schedule_steps"):
        deep.train(m, X, y, rng=np.random.default_rng(0), epochs=1, schedule_steps=(5, 2))


def test_float64_model_trains_and_predicts_in_float64():
    X, y = _blobs(np.random.default_rng(0), n=60)
    m = deep.build("mlp_head", np.random.default_rng(1), n_classes=3, d_in=64).double()
    r = deep.train(
        m, X, y, rng=np.random.default_rng(2), epochs=2, lr=0.05, batch_size=16, X_eval=X, y_eval=y, n_classes=3
    )
    assert next(m.parameters()).dtype == torch.float64 and r.accuracy[-1] > 0.9
    assert deep.predict_logits(m, X).dtype == torch.float64
    assert (
        deep.predict_logits(deep.build("mlp_head", np.random.default_rng(1), n_classes=3, d_in=64), X).dtype
        == torch.float32
    )
