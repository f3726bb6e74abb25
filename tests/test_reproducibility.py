"""lib.reproducibility.tie_safe: scores equal in exact arithmetic rank alike on every machine."""

import numpy as np

from lib.reproducibility import tie_safe


def _noisy(x: np.ndarray, rng: np.random.Generator, ulps: float = 4.0) -> np.ndarray:
    """``x`` with relative noise of a few ulps: what another processor's BLAS or summation order gives."""
    return x * (1.0 + ulps * np.finfo(float).eps * rng.standard_normal(x.shape))


def test_noise_of_a_few_ulps_becomes_an_exact_tie(rng):
    x = rng.normal(size=1000)
    same = 0
    for _ in range(20):
        a, b = tie_safe(_noisy(x, rng)), tie_safe(_noisy(x, rng))
        same += int(np.array_equal(a, b))
    # a value can straddle a grid point (probability ~ 1e-5 per value): nearly every draw is equal
    assert same >= 19
    dup = np.array([1.0, 1.0 + 2 * np.finfo(float).eps, 0.3, 0.3 * (1 - np.finfo(float).eps)])
    q = tie_safe(dup)
    assert q[0] == q[1] and q[2] == q[3]
    assert np.argsort(-q, kind="stable").tolist() == [0, 1, 2, 3]  # ties broken by index


def test_distinct_values_keep_their_order_and_the_grid_is_exact(rng):
    x = rng.normal(size=500) * 10.0 ** rng.integers(-3, 3, 500)
    q = tie_safe(x)
    big = np.abs(x) > 1e-8 * np.abs(x).max()
    order = np.argsort(x[big])
    assert np.all(np.diff(q[big][order]) >= 0)  # monotone
    np.testing.assert_allclose(q, x, rtol=0, atol=1e-10 * np.abs(x).max())
    np.testing.assert_array_equal(tie_safe(q), q)  # idempotent: the grid is exact


def test_scale_free_and_special_values():
    x = np.array([3.0, -1.0, 0.25])
    for scale in (1e-30, 1e-3, 1.0, 1e12):
        # at most half a grid step, < 6e-11 max|x|
        np.testing.assert_allclose(tie_safe(scale * x), scale * x, rtol=0, atol=6e-11 * 3.0 * scale)
    np.testing.assert_array_equal(tie_safe(np.zeros(4)), np.zeros(4))
    s = tie_safe(np.array([np.nan, np.inf, 1.0, -np.inf]))
    assert np.isnan(s[0]) and s[1] == np.inf and s[2] == 1.0 and s[3] == -np.inf
    assert tie_safe(np.array([])).shape == (0,)
    # a value that is zero in exact arithmetic but computed as -1e-18 is not "negative"
    assert tie_safe(np.array([1.0, -1e-18]))[1] == 0.0
