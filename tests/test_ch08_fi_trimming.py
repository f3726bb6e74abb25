"""The [FI] §6.1 protocols of lib.experiments.ch08_fi_trimming on small synthetic sets."""

import numpy as np
import pytest

from lib.experiments import ch08_fi_trimming as fx
from lib.influence import utility_influence
from lib.models import LogisticRegression


def _split(seed: int = 0, n: int = 300, d: int = 4):
    g = np.random.default_rng(seed)
    w = g.normal(size=d)

    def draw(m):
        X = g.normal(size=(m, d))
        return X, (X @ w + 0.5 * g.normal(size=m) > 0).astype(int)

    return (*draw(n), *draw(200), *draw(400))


def test_corrupt_touches_only_the_flagged_rows():
    X, y, *_ = _split()
    Xb = np.sign(X)  # binary columns for the column flips
    for kind, X0 in (("gaussian", X), ("flip_columns", Xb), ("labels", X)):
        Xn, yn, flagged = fx.corrupt(X0, y, 30, kind, np.random.default_rng(1), n_columns=4)
        assert flagged.sum() == 30
        assert np.array_equal(Xn[~flagged], X0[~flagged]) and np.array_equal(yn[~flagged], y[~flagged])
        changed = (Xn != X0).any(1) | (yn != y)
        assert changed[flagged].all()
    with pytest.raises(ValueError, match="corruption"):
        fx.corrupt(X, y, 3, "salt", np.random.default_rng(0))
    with pytest.raises(ValueError, match="n_noisy"):
        fx.corrupt(X, y, len(y) + 1, "labels", np.random.default_rng(0))


def test_precision_counts_the_flagged_among_the_removed():
    X, y, Xv, yv, Xt, yt = _split(3)
    Xn, yn, flagged = fx.corrupt(X, y, 30, "labels", np.random.default_rng(2))
    df, info = fx.trim_logistic(Xn, yn, Xv, yv, Xt, yt, [0, 10, 20], np.random.default_rng(0), flagged=flagged)
    for b in (10, 20):
        iv_removed = fx.removal("IV", info["IV"], b).removed
        row = df[(df.method == "IV") & (df.budget == b)].iloc[0]
        assert row.precision == pytest.approx(flagged[iv_removed].mean()) and row.removed == len(iv_removed)
    assert np.isnan(df[df.budget == 0].precision).all()
    # mislabelled samples have negative influence: IV finds them far above the 10% base rate
    assert df[(df.method == "IV") & (df.budget == 10)].precision.iloc[0] >= 0.5
    assert (info["IV"][flagged].mean() < 0) and np.array_equal(
        info["IV"], utility_influence(info["model"], Xn, yn, Xv, yv))
    with pytest.raises(ValueError, match="flagged"):
        fx.trim_logistic(Xn, yn, Xv, yv, Xt, yt, [1], np.random.default_rng(0), flagged=flagged[:5])


def test_noisy_experiment_rows_and_clean_reference():
    X, y, Xv, yv, Xt, yt = _split(4)
    Xall, yall = np.vstack([X, Xt]), np.concatenate([y, yt])
    is_test = np.r_[np.zeros(len(y), bool), np.ones(len(yt), bool)]
    df = fx.noisy_tabular_experiment(Xall, yall, is_test, [0], [0, 10], 150, 100, 200, "labels", 15)
    assert set(df.method) == {"FI", "IV", "random"} and set(df.budget) == {0, 10}
    clean = df["clean accuracy"].iloc[0]
    r = np.random.default_rng(0)
    X_train, y_train, X_val, y_val, X_test, y_test = fx.tabular_split(Xall, yall, is_test, 150, 100, 200, r)
    assert clean == LogisticRegression().fit(X_train, y_train).score(X_test, y_test)


def test_perturbation_ablation_perturbs_the_chosen_rows():
    X, y, Xv, yv, Xt, yt = _split(5)
    df = fx.perturbation_ablation(X, y, Xv, yv, Xt, yt, [0, 20], np.random.default_rng(0), kind="labels", n_draws=2)
    assert (df[df.budget == 0].change == 0).all() and (df[df.budget == 0]["val loss change"] == 0).all()
    assert set(df.selection) == {"top FI", "bottom FI", "random"}
    # by hand: flip the labels of the 20 largest-FI samples and refit
    base = LogisticRegression().fit(X, y)
    from lib import fi
    top = np.argsort(-fi.fi_util(base, X, y, Xv, yv), kind="stable")[:20]
    y2 = y.copy()
    y2[top] = 1 - y2[top]
    expected = LogisticRegression().fit(X, y2).score(Xt, yt)
    got = df[(df.budget == 20) & (df.selection == "top FI")].accuracy.iloc[0]
    assert got == pytest.approx(expected)
    with pytest.raises(ValueError, match="corruption"):
        fx.perturbation_ablation(X, y, Xv, yv, Xt, yt, [1], np.random.default_rng(0), kind="x")
