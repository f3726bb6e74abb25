"""lib.reweighting: checkpoints, the one-epoch fit of PARETO-LP-GA, target rules, one full step."""

import copy

import numpy as np
import pytest
import torch

from lib import reweighting as rw

pytestmark = pytest.mark.usefixtures("one_torch_thread")
K = 3


def _blobs(rng, centres, n):
    y = np.arange(n) % K
    return centres[y] + rng.normal(size=(n, centres.shape[1])), y


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    centres = rng.normal(scale=0.6, size=(K, 16))
    return [_blobs(rng, centres, n) for n in (96, 60, 60)]


def _spec(**kw):
    return rw.TrainingSpec(
        **{
            "kind": "mlp_head",
            "model_kwargs": {"n_classes": K, "d_in": 16, "hidden": 8},
            "epochs": 3,
            "lr": 0.05,
            "batch_size": 16,
            "momentum": 0.9,
            "weight_decay": 1e-3,
            "dtype": "float64",
            **kw,
        }
    )


@pytest.fixture(scope="module")
def run(data):
    (X, y), (Xv, yv), (Xt, yt) = data
    return rw.train_run(_spec(), X, y, Xv, yv, Xt, yt, K, seed=4)


def _params(model):
    return torch.cat([p.detach().ravel() for p in model.state_dict().values()])


def test_run_keeps_a_checkpoint_and_per_class_accuracy_per_epoch(run, data):
    assert len(run.checkpoints) == 4 and run.val_accuracy.shape == (4, K) == run.test_accuracy.shape
    assert [c.epoch for c in run.checkpoints] == [0, 1, 2, 3] and len(run.orders) == 3
    assert next(run.model(3).parameters()).dtype == torch.float64
    _, (Xv, yv), _ = data
    np.testing.assert_array_equal(rw.ClassAccuracy(Xv, yv, K)(run.model(2)), run.val_accuracy[2])
    assert run.val_accuracy[3].mean() > run.val_accuracy[0].mean() + 0.2  # it learns (chance: 1/3)
    with pytest.raises(ValueError, match="epoch must be in"):
        run.model(4)


def test_unweighted_fit_is_the_runs_next_epoch_and_leaves_the_checkpoint_untouched(run, data):
    (X, y), *_ = data
    fit = rw.EpochFit(run.spec, run.checkpoints[1], X, y, run.orders[1], seed=run.seed)
    before = copy.deepcopy(run.checkpoints[1])
    assert torch.equal(_params(fit(np.ones(len(y)))), _params(run.model(2)))  # continuing the run, bit for bit
    w = np.random.default_rng(0).uniform(0, 3, len(y))
    a, b = fit(w), fit(w)
    assert torch.equal(_params(a), _params(b))  # deterministic
    assert not torch.equal(_params(a), _params(run.model(2)))  # the weights matter
    for k, v in before.model_state.items():  # every candidate starts from the same parameters
        assert torch.equal(v, run.checkpoints[1].model_state[k])
    for k, buf in before.optimizer_state["state"].items():
        for name, t in buf.items():
            assert torch.equal(t, run.checkpoints[1].optimizer_state["state"][k][name])
    # Table 2's gentle optimiser: a fresh SGD at lr 1e-4 barely moves the model
    gentle = rw.EpochFit(
        run.spec,
        run.checkpoints[1],
        X,
        y,
        run.orders[1],
        rw.EpochSettings(lr=1e-4, weight_decay=1e-4, batch_size=32),
        seed=run.seed,
    )
    moved = (_params(gentle(w)) - _params(run.model(1))).abs().max()
    assert 0 < moved < 0.01 * (_params(run.model(2)) - _params(run.model(1))).abs().max()


def test_target_rules():
    assert rw.lowest_classes(np.array([0.9, 0.5, 0.7, 0.5]), 2) == [1, 3]
    acc = np.array([[0.1, 0.1, 0.1], [0.6, 0.7, 0.8], [0.7, 0.75, 0.85], [0.72, 0.6, 0.8], [0.5, 0.7, 0.9]])
    assert rw.detrimental_epoch(acc, 0.03) == (2, [1, 2])  # epoch 3 lowers classes 1 (-0.15) and 2 (-0.05)
    assert rw.detrimental_epoch(acc, 0.1) == (2, [1])
    assert rw.detrimental_epoch(acc, 0.03, first=3) == (3, [0])
    assert rw.detrimental_epoch(acc, 0.03, max_targets=1) == (2, [1])
    assert rw.detrimental_epoch(acc, 0.5) is None
    with pytest.raises(ValueError, match="n must be"):
        rw.lowest_classes(np.ones(3), 4)


def test_upweighting_matches_the_total_weight_change():
    y = np.array([0, 0, 1, 1, 1, 2])
    w = rw.upweight_classes(y, [1], total_change=1.5, w_max=3.0)
    np.testing.assert_allclose(w, [1, 1, 1.5, 1.5, 1.5, 1])
    assert np.abs(w - 1).sum() == pytest.approx(1.5)
    assert rw.upweight_classes(y, [2], total_change=10.0, w_max=3.0)[5] == 3.0  # capped at w_max


@pytest.fixture(scope="module")
def step(run, data):
    (X, y), (Xv, yv), (Xt, yt) = data
    P = rw.checkpoint_influence(run, 1, X, y, Xv, yv, K, damping=0.1)
    ga = {"generations": 2, "n_elites": 2, "n_mutated": 2, "n_random": 2, "n_children": 2}
    kw = {
        "rng": np.random.default_rng(0),
        "n_shuffles": 3,
        "ga_kwargs": ga,
        "lp_kwargs": {"rho": 0.1, "solver": "highs"},
    }
    return P, kw, rw.reweight_step(run, 1, [0], P, X, y, Xv, yv, Xt, yt, K, **kw)


def test_reweight_step_evaluates_the_ga_and_every_baseline(step, run, data):
    P, _, res = step
    (_, y), *_ = data
    assert P.shape == (len(y), K) and np.isfinite(P).all()
    assert set(res.accuracy) == {"previous", "run", *rw.METHODS}
    for m in res.accuracy.values():
        assert m["val"].shape == (K,) and m["test"].shape == (K,)
    np.testing.assert_array_equal(res.accuracy["standard"]["test"], res.accuracy["run"]["test"])
    np.testing.assert_array_equal(res.accuracy["previous"]["val"], run.val_accuracy[1])
    assert res.shuffles_val.shape == (3, K) and res.ga.model is None
    assert res.weights.min() >= 0 and res.weights.max() <= 3.0
    assert res.weight_change == pytest.approx(np.abs(res.weights - 1).sum())
    assert np.abs(res.weights - 1).sum() <= 0.1 * len(y) + 1e-6
    np.testing.assert_allclose(res.ga.val_change, res.accuracy["pareto_lp_ga"]["val"] - run.val_accuracy[1])
    assert res.change("pareto_lp_ga").shape == (K,)


@pytest.mark.parametrize("backend", [None, "threading"])  # None: joblib's processes (loky)
def test_reweight_step_parallel_equals_serial(step, run, data, backend):
    P, kw, serial = step
    (X, y), (Xv, yv), (Xt, yt) = data
    para = rw.reweight_step(
        run, 1, [0], P, X, y, Xv, yv, Xt, yt, K, **dict(kw, rng=np.random.default_rng(0)), n_jobs=2, backend=backend
    )
    np.testing.assert_array_equal(serial.weights, para.weights)
    for m in serial.accuracy:
        for split in ("val", "test"):
            np.testing.assert_array_equal(serial.accuracy[m][split], para.accuracy[m][split])
    np.testing.assert_array_equal(serial.shuffles_test, para.shuffles_test)
    assert [e["fitness"] for e in serial.ga.evaluations] == [e["fitness"] for e in para.ga.evaluations]


def test_ceiling_summary_on_a_deep_P(step):
    P, *_ = step
    s = rw.ceiling_summary(P, np.full(K, 20))
    assert set(s) >= {"t", "t_relative", "flatness", "pca_ratio"} and s["pca_ratio"] >= 1 / K - 1e-9
    assert s["t"] >= 0


def test_bad_input_is_a_clear_error(run, data):
    (X, y), (Xv, yv), (Xt, yt) = data
    with pytest.raises(ValueError, match="dtype"):
        _spec(dtype="float16")
    with pytest.raises(ValueError, match="reference"):
        rw.reweight_step(
            run, 1, [0], np.zeros((len(y), K)), X, y, Xv, yv, Xt, yt, K, rng=np.random.default_rng(0), reference="next"
        )
    with pytest.raises(ValueError, match="a next epoch must exist"):
        rw.reweight_step(run, 3, [0], np.zeros((len(y), K)), X, y, Xv, yv, Xt, yt, K, rng=np.random.default_rng(0))
