"""IDX parser on a tiny fixture (hand-checked bytes) and the MNIST-5k loader."""

import gzip

import numpy as np
import pytest

from lib.datasets import FIXTURES_DIR, MissingDataError, images


def test_idx_fixture_matches_known_content():
    X = images.read_idx(FIXTURES_DIR / "tiny-images-idx3-ubyte.gz")
    y = images.read_idx(FIXTURES_DIR / "tiny-labels-idx1-ubyte.gz")
    assert X.shape == (3, 4, 5) and X.dtype == np.uint8
    assert X[2, 3, 4] == 59 and X[1, 0, 0] == 20  # row-major order
    np.testing.assert_array_equal(y, [0, 9, 3])


def test_idx_header_bytes_by_hand(tmp_path):
    # type 0x0C = big-endian int32, 1 dimension of size 2: values 1 and -2
    raw = bytes([0, 0, 0x0C, 1, 0, 0, 0, 2]) + (1).to_bytes(4, "big") + (-2).to_bytes(4, "big", signed=True)
    path = tmp_path / "x.idx"
    path.write_bytes(raw)
    np.testing.assert_array_equal(images.read_idx(path), [1, -2])
    (tmp_path / "bad.gz").write_bytes(gzip.compress(raw[:-1]))
    with pytest.raises(ValueError, match="truncated"):
        images.read_idx(tmp_path / "bad.gz")
    (tmp_path / "nope").write_bytes(b"\x01\x00\x08\x01")
    with pytest.raises(ValueError, match="not an IDX"):
        images.read_idx(tmp_path / "nope")


def test_write_then_read_roundtrip(tmp_path):
    a = np.random.default_rng(0).integers(0, 256, (2, 3, 3), dtype=np.uint8)
    images.write_idx(tmp_path / "a.gz", a)
    np.testing.assert_array_equal(images.read_idx(tmp_path / "a.gz"), a)


def test_mnist5k_is_balanced_real_digits():
    ds = images.load_mnist5k()
    assert ds.X.shape == (5000, 784) and ds.X.min() == 0.0 and ds.X.max() == 1.0
    np.testing.assert_array_equal(np.bincount(ds.y), [500] * 10)
    # a real digit image has ink in the middle and blank borders
    img = ds.X.reshape(-1, 28, 28)
    assert img[:, 0, :].mean() < 0.01 < img[:, 10:18, 10:18].mean()


def test_fashion_mnist_missing_or_loaded():
    try:
        ds = images.load_fashion_mnist("test")
    except MissingDataError as err:
        assert "make data" in str(err)
        return
    assert ds.X.shape == (10000, 784)
    np.testing.assert_array_equal(np.bincount(ds.y), [1000] * 10)


def test_pool_images_averages_blocks():
    X = np.arange(16, dtype=np.float32).reshape(1, 16)
    np.testing.assert_array_equal(images.pool_images(X, (1, 4, 4), 2), [[2.5, 4.5, 10.5, 12.5]])
    with pytest.raises(ValueError, match="not divisible"):
        images.pool_images(X, (1, 4, 4), 3)
