import numpy as np
import pytest

from lib.trimming import trim


def test_hand_made():
    I = np.array([0.5, -2.0, -0.1, 0.0, -3.0, 1.0])
    r = trim(I, 2)
    assert r.removed.tolist() == [4, 1]
    assert r.kept.tolist() == [0, 2, 3, 5]
    r = trim(I, 10)  # budget larger than the number of negatives: only negatives go
    assert r.removed.tolist() == [4, 1, 2]
    assert trim(I, 0).removed.size == 0
    assert trim(np.array([1.0, 0.0]), 5).removed.size == 0


def test_ties_keep_index_order():
    assert trim(np.array([-1.0, -1.0, -1.0]), 2).removed.tolist() == [0, 1]


def test_property_random(rng):
    for _ in range(200):
        n = int(rng.integers(1, 30))
        I = rng.normal(size=n)
        b = int(rng.integers(0, n + 3))
        r = trim(I, b)
        assert len(r.removed) == min(b, int((I < 0).sum()))
        assert (I[r.removed] < 0).all()
        assert np.all(np.diff(I[r.removed]) >= 0)
        assert sorted(np.concatenate([r.removed, r.kept]).tolist()) == list(range(n))
        if len(r.removed) and len(r.kept):  # every removed score is <= every kept one
            assert I[r.removed].max() <= I[r.kept].min()


def test_errors():
    with pytest.raises(ValueError, match="1-D"):
        trim(np.zeros((2, 2)), 1)
    with pytest.raises(ValueError, match="budget"):
        trim(np.zeros(3), -1)
    with pytest.raises(ValueError, match="NaN"):
        trim(np.array([np.nan]), 1)
