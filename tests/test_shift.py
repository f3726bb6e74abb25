"""Fairness-specific distribution shifts (lib.shift): tables, correlation shifts, resampling."""

import numpy as np
import pytest

from lib import shift


def _sample(rng, n=4000):
    g = (rng.random(n) < 0.35).astype(int)
    y = (rng.random(n) < np.where(g == 1, 0.15, 0.35)).astype(int)  # group 1 has the lower base rate
    return y, g


def test_joint_table_counts_cells():
    y = np.array([0, 1, 1, 0, 1])
    g = np.array([0, 0, 1, 1, 1])
    assert np.allclose(shift.joint_table(y, g), [[0.2, 0.2], [0.2, 0.4]])
    with pytest.raises(ValueError, match="0/1"):
        shift.joint_table(np.array([0, 2]), np.array([0, 1]))


@pytest.mark.parametrize("strength", [0.3, 0.6, 0.9, -0.5, -1.0])
def test_correlation_shift_keeps_marginals_and_moves_the_gap(strength):
    y, g = _sample(np.random.default_rng(0))
    base = shift.joint_table(y, g)
    new = shift.correlation_shift(base, strength)
    assert np.allclose(new.sum(0), base.sum(0)) and np.allclose(new.sum(1), base.sum(1))
    assert (new >= -1e-12).all() and np.isclose(new.sum(), 1.0)
    gap0, gap1 = shift.label_gap(base), shift.label_gap(new)
    assert gap0 < 0  # group 1 has the lower base rate
    if strength > 0:
        assert gap1 < gap0  # amplified: more negative
    else:
        assert gap1 > gap0
    if abs(strength) == 1.0:
        assert np.isclose(new.min(), 0.0)  # the feasible limit: one cell emptied


def test_correlation_shift_zero_is_identity_and_bad_input_is_an_error():
    base = np.array([[0.4, 0.2], [0.3, 0.1]])
    assert np.allclose(shift.correlation_shift(base, 0.0), base)
    with pytest.raises(ValueError, match=r"\[-1, 1\]"):
        shift.correlation_shift(base, 1.5)
    with pytest.raises(ValueError, match="joint distribution"):
        shift.correlation_shift(base * 2, 0.5)


def test_cell_counts_sum_to_n():
    counts = shift.cell_counts(np.array([[0.333, 0.333], [0.167, 0.167]]), 101)
    assert counts.sum() == 101 and np.abs(counts - 101 * np.array([[0.333, 0.333], [0.167, 0.167]])).max() < 1


def test_resample_follows_the_target_table_without_replacement():
    rng = np.random.default_rng(1)
    y, g = _sample(rng)
    target = shift.correlation_shift(shift.joint_table(y, g), 0.6)
    avail = np.ones(len(y), bool)
    avail[:500] = False
    idx = shift.resample_to_table(y, g, target, 1000, rng, available=avail)
    assert len(idx) == 1000 == len(np.unique(idx)) and (idx >= 500).all()
    assert np.array_equal(
        np.round(shift.joint_table(y[idx], g[idx]) * 1000).astype(int), shift.cell_counts(target, 1000)
    )


def test_resample_names_the_short_cell():
    y = np.array([0, 0, 1, 1])
    g = np.array([0, 1, 0, 1])
    with pytest.raises(ValueError, match="g=1, y=1"):
        shift.resample_to_table(y, g, np.array([[0.0, 0.0], [0.0, 1.0]]), 3, np.random.default_rng(0))
