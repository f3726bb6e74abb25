"""lib.fairness.label_gaps: the hard-label DP and EOP gaps of [CH]'s evaluator."""

import numpy as np
import pytest

from lib.fairness import label_gaps


def test_gaps_by_hand():
    y = np.array([1, 1, 0, 0, 1, 1, 0, 0])
    p = np.array([1, 0, 1, 0, 1, 1, 0, 0])
    g = np.array([1, 1, 1, 1, 0, 0, 0, 0])
    out = label_gaps(y, p, g)
    assert out["dp"] == pytest.approx(abs(2 / 4 - 2 / 4))
    assert out["eop"] == pytest.approx(abs(1 / 2 - 2 / 2))


def test_symmetric_in_the_group_coding_and_checked():
    r = np.random.default_rng(0)
    y, p, g = (r.random((3, 50)) < 0.5).astype(int)
    assert label_gaps(y, p, g) == label_gaps(y, p, 1 - g)
    with pytest.raises(ValueError, match="0/1"):
        label_gaps(y, p + 1, g)
    with pytest.raises(ValueError, match="groups"):
        label_gaps(y, p, g[:10])
