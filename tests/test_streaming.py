"""Streaming influence vectors (training set in chunks / on disk) against the in-memory result."""

import numpy as np
import pytest
import torch

from lib import influence as inf
from lib.models import LogisticRegression, OneHiddenLayerMLP


def _data(K=4, n=900, n_val=200, d=5, seed=0):
    r = np.random.default_rng(seed)
    W = r.normal(size=(d, K))
    X, Xv = r.normal(size=(n, d)), r.normal(size=(n_val, d))
    y = (X @ W + r.gumbel(size=(n, K))).argmax(1)
    yv = (Xv @ W + r.gumbel(size=(n_val, K))).argmax(1)
    return X, y, Xv, yv


@pytest.mark.parametrize("K", [2, 4])
@pytest.mark.parametrize("weighted", [False, True])
def test_streaming_equals_in_memory_for_any_chunk_size(K, weighted):
    X, y, Xv, yv = _data(K)
    w = np.random.default_rng(1).uniform(0.2, 2.0, len(y)) if weighted else None
    model = LogisticRegression().fit(X, y, sample_weight=w, n_classes=K)
    ref = inf.influence_vectors(model, X, y, Xv, yv, sample_weight=w)
    scale = np.abs(ref).max()
    outs = {}
    for chunk in (3, 37, 256, 10_000):
        batches = inf.array_batches(X, y, w, chunk_size=chunk)
        torch.testing.assert_close(
            inf.hessian_streaming(model, batches),
            model.hessian(X, y, w),
            rtol=1e-12,
            atol=1e-12 * float(model.hessian(X, y, w).abs().max()),
        )
        outs[chunk] = inf.influence_vectors_streaming(model, batches, Xv, yv)
        assert outs[chunk].shape == ref.shape
        np.testing.assert_allclose(outs[chunk], ref, rtol=1e-9, atol=1e-12 * scale)
    for chunk in (3, 37, 256):  # chunk-size independence, directly
        np.testing.assert_allclose(outs[chunk], outs[10_000], rtol=1e-9, atol=1e-12 * scale)


def test_memmap_in_and_out(tmp_path):
    X, y, Xv, yv = _data()
    model = LogisticRegression().fit(X, y)
    ref = inf.influence_vectors(model, X, y, Xv, yv)
    Xm = np.lib.format.open_memmap(tmp_path / "X.npy", mode="w+", dtype=np.float32, shape=X.shape)
    Xm[:] = X
    ym = np.lib.format.open_memmap(tmp_path / "y.npy", mode="w+", dtype=np.int64, shape=y.shape)
    ym[:] = y
    X32 = Xm.astype(np.float64)  # what the float32 file holds
    ref32 = inf.influence_vectors(model, X32, y, Xv, yv)
    out = np.lib.format.open_memmap(tmp_path / "P.npy", mode="w+", dtype=np.float64, shape=ref.shape)
    got = inf.influence_vectors_streaming(model, inf.array_batches(Xm, ym, chunk_size=128), Xv, yv, out=out)
    assert got is out
    np.testing.assert_allclose(np.load(tmp_path / "P.npy"), ref32, rtol=1e-9, atol=1e-12 * np.abs(ref).max())
    # influence_vectors itself reads a memmap in chunks and gives the same numbers
    np.testing.assert_allclose(
        inf.influence_vectors(model, Xm, ym, Xv, yv), ref32, rtol=1e-9, atol=1e-12 * np.abs(ref).max()
    )
    # float32 storage changes the result only at float32 precision
    np.testing.assert_allclose(ref32, ref, rtol=0, atol=1e-5 * np.abs(ref).max())


def test_generator_batches_with_weights_column():
    X, y, Xv, yv = _data(3)
    w = np.linspace(0.5, 1.5, len(y))
    model = LogisticRegression().fit(X, y, sample_weight=w)

    def batches():
        for s in range(0, len(y), 100):
            yield X[s : s + 100], y[s : s + 100], w[s : s + 100]

    np.testing.assert_allclose(
        inf.influence_vectors_streaming(model, batches, Xv, yv),
        inf.influence_vectors(model, X, y, Xv, yv, sample_weight=w),
        rtol=1e-9,
        atol=1e-12,
    )


def test_streaming_errors():
    X, y, Xv, yv = _data()
    model = LogisticRegression().fit(X, y)
    with pytest.raises(TypeError, match="callable"):
        inf.influence_vectors_streaming(model, iter([(X, y)]), Xv, yv)
    with pytest.raises(ValueError, match="tuple"):
        inf.influence_vectors_streaming(model, lambda: iter([X]), Xv, yv)
    with pytest.raises(ValueError, match="shape"):
        inf.influence_vectors_streaming(model, inf.array_batches(X, y), Xv, yv, out=np.zeros((len(y), 3)))
    with pytest.raises(ValueError, match="rows but out has"):
        inf.influence_vectors_streaming(model, inf.array_batches(X, y), Xv, yv, out=np.zeros((len(y) + 1, 4)))
    with pytest.raises(ValueError, match="more than"):
        inf.influence_vectors_streaming(model, inf.array_batches(X, y), Xv, yv, out=np.zeros((10, 4)))
    with pytest.raises(ValueError, match="rows"):
        inf.array_batches(X, y[:-1])
    mlp = OneHiddenLayerMLP(hidden=3).fit(X[:100], y[:100])
    with pytest.raises(TypeError, match="data_hessian"):
        inf.influence_vectors_streaming(mlp, inf.array_batches(X, y), Xv, yv)


def test_in_memory_influence_scores_rows_block_by_block(monkeypatch):
    X, y, Xv, yv = _data(3)
    w = np.random.default_rng(3).uniform(0.5, 1.5, len(y))
    model = LogisticRegression().fit(X, y, sample_weight=w)
    whole = inf.influence_vectors(model, X, y, Xv, yv, sample_weight=w)
    monkeypatch.setattr(inf, "_ROWS", 64)
    np.testing.assert_allclose(
        inf.influence_vectors(model, X, y, Xv, yv, sample_weight=w), whole, rtol=1e-10, atol=1e-13 * np.abs(whole).max()
    )
    np.testing.assert_allclose(
        inf.utility_influence(model, X, y, Xv, yv, sample_weight=w),
        whole.sum(1),
        rtol=1e-9,
        atol=1e-12 * np.abs(whole).max(),
    )
