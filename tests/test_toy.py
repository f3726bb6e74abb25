import numpy as np

from lib.datasets.toy import ch_toy


def test_shapes_determinism_and_group_correlation():
    a = ch_toy(np.random.default_rng(1))
    b = ch_toy(np.random.default_rng(1))
    assert a.X_train.shape == (150, 2) and a.X_val.shape == (100, 2)
    np.testing.assert_array_equal(a.X_train, b.X_train)
    big = ch_toy(np.random.default_rng(2), n_train=20000, n_val=2)
    pos, neg = big.y_train == 1, big.y_train == 0
    assert abs(big.g_train[pos].mean() - 0.8) < 0.02 and abs(big.g_train[neg].mean() - 0.3) < 0.02
    np.testing.assert_allclose(big.X_train[pos].mean(0), [1, 1], atol=0.05)
    np.testing.assert_allclose(big.X_train[neg].std(0), [1, 1], atol=0.05)
