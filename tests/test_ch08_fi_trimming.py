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


def test_mlp_initialisation_is_numpy_float64_and_ignores_torch_seed():
    """The network's initial weights come from a NumPy Generator in float64 (the same on every
    processor), not from torch's float32 CPU kernels (which differ by an ulp between instruction sets)."""
    import torch

    torch.manual_seed(1)
    a = fx.init_mlp(2, 5, np.random.default_rng(3))
    torch.manual_seed(2)
    b = fx.init_mlp(2, 5, np.random.default_rng(3))
    pa, pb = (torch.cat([p.detach().flatten() for p in n.parameters()]) for n in (a, b))
    assert pa.dtype == torch.float64 and torch.equal(pa, pb)
    g = np.random.default_rng(3)
    np.testing.assert_array_equal(a.body[0].weight.detach().numpy(), g.uniform(-1 / np.sqrt(2), 1 / np.sqrt(2), (5, 2)))
    bound = 1 / np.sqrt(5)
    assert (a.head.weight.abs() <= bound).all() and (a.body[2].bias.abs() <= bound).all()
    X = np.random.default_rng(0).normal(size=(40, 2))
    y = (X[:, 0] > 0).astype(int)
    n1, n2 = fx.train_mlp(X, y, 7, hidden=5, epochs=20), fx.train_mlp(X, y, 7, hidden=5, epochs=20)
    assert all(torch.equal(p, q) for p, q in zip(n1.parameters(), n2.parameters(), strict=True))


def test_claims_verdicts_follow_the_numbers():
    import pandas as pd

    from lib._book import pages

    def h2h(wins, ties, fi, iv):
        return pd.DataFrame({"FI better": wins, "ties": ties, "seeds": [5, 5, 5], "acc FI": fi, "sd FI": 0.01,
                             "acc IV": iv, "sd IV": 0.01}, index=pd.Index([5, 10, 20], name="budget"))

    t1 = h2h([4, 1, 1], [0, 3, 1], [0.97, 0.95, 0.95], [0.95, 0.95, 0.95])
    idx = pd.MultiIndex.from_product([["label flips", "paper's noise"], ["Adult", "Bank"], [0, 50]],
                                     names=["variant", "dataset", "budget"])
    acc = pd.DataFrame({"FI": 0.80, "IV": 0.80, "random": 0.80}, index=idx)
    acc.loc[("paper's noise", "Adult", 50)] = [0.82, 0.81, 0.80]  # FI > IV > random
    acc.loc[("paper's noise", "Bank", 50)] = [0.79, 0.81, 0.80]  # FI below both
    prec = pd.DataFrame({"FI": [0.5, 0.1], "IV": [0.4, 0.6], "random": 0.1},
                        index=pd.MultiIndex.from_product([["label flips"], ["Adult", "Bank"], [50]],
                                                         names=["variant", "dataset", "budget"]))
    t7 = pd.DataFrame({"bottom FI": [0.0, -0.001, 0.0, -0.005], "random": [0.0, 0.0, 0.0, -0.001],
                       "top FI": [0.0, 0.0, 0.0, -0.03]},
                      index=pd.MultiIndex.from_product([["features", "labels flipped"], [0, 300]],
                                                       names=["perturbation", "budget"]))
    abl = pd.DataFrame({"accuracy": [0.84, 0.83, 0.838], "spearman vs exact": [1.0, 0.8, 0.7]})
    gains = {"Adult": pd.Series({"FI": 0.003, "IV": 0.002, "random": 0.0}),
             "Bank": pd.Series({"FI": -0.003, "IV": -0.002, "random": -0.001}),
             "CelebA": pd.Series({"FI": 0.001, "IV": -0.002, "random": 0.0})}
    rows = fx.claims(t1, t1, gains, acc, prec, t7, abl, base_rate=0.1)
    v = {r.claim: r.verdict for r in rows}
    assert v["Table 1 (2-D linear), b=5: FI beats IV"] == "reproduced"  # 4/5 wins, +2 pts
    assert v["Table 1 (2-D linear), b=10: FI beats IV"] == "not reproduced"  # 1 win, 3 ties, no margin
    assert v["Fig. 2 Adult: FI trimming gains most, random none"] == "reproduced"
    assert v["Fig. 2 Bank: FI gains most (more than 10 points)"] == "not reproduced"
    assert v["Fig. 2 CelebA: FI gains, IV lowers the accuracy"] == "reproduced"
    assert v["Fig. 8 Adult + noise: FI and IV beat random, FI beats IV"] == "reproduced"
    assert v["Fig. 8 Bank + noise: FI and IV beat random, FI beats IV"] == "not reproduced"
    assert v["FI finds corrupted samples better than IV (label flips, first 50 removed)"] == "partly"
    assert v["Table 7 (features): perturbing top-FI samples costs more accuracy than bottom-FI"] == "not reproduced"
    assert v["Table 7 (labels flipped): perturbing top-FI samples costs more accuracy than bottom-FI"] == "reproduced"
    assert v["Table 8: the subsampling approximation keeps the accuracy (and is faster)"] == "partly"
    assert len(pages.claims_table(rows)) == len(rows)
