"""Chapter 9's experiment drivers ([FI] §6.2, App. D.2): the splits of the two-moons and tabular
active-learning runs, the paper's round configurations and the summaries the page prints
(``notebooks/09_fi_active_learning.py``). The algorithms are in :mod:`lib.fi_active`."""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd

from ..datasets.fi_synthetic import two_moons
from ..fi_active import ActiveSplit, RoundsCappedWarning, _scorer, capped_rounds, select_top
from ..models import LogisticRegression
from ..preprocessing import polynomial_features, standardise


#: [FI] Table 4 (tabular) and Table 5 (image): classes, rounds, initial pool, unlabelled pool,
#: acquisition size, as printed in the paper (Appendix D.2).
PAPER_CONFIGS = {
    "Adult": {"classes": 2, "rounds": 12, "initial": 300, "pool": 5000, "acquisition": 500},
    "CelebA": {"classes": 2, "rounds": 11, "initial": 300, "pool": 3000, "acquisition": 150},
    "Jigsaw Toxicity": {"classes": 2, "rounds": 8, "initial": 180, "pool": 5000, "acquisition": 500},
    "MNIST": {"classes": 10, "rounds": 14, "initial": 60, "pool": 420, "acquisition": 30},
    "EMNIST": {"classes": 37, "rounds": 10, "initial": 600, "pool": 2000, "acquisition": 100},
    "CIFAR10": {"classes": 10, "rounds": 9, "initial": 6000, "pool": 10000, "acquisition": 2000},
}


# ---------------------------------------------------------------------- data
def tabular_active_split(X: np.ndarray, y: np.ndarray, is_test: np.ndarray, n_initial: int, n_pool: int,
                         n_val: int, n_test: int, rng: np.random.Generator) -> ActiveSplit:
    """Initial labelled set, pool and validation set drawn from the dataset's training part, a
    test set from its test part; features standardised with the statistics of the initial set
    and the pool together (unlabelled features are available to the learner)."""
    tr_pool, te_pool = np.flatnonzero(~is_test), np.flatnonzero(is_test)
    need = n_initial + n_pool + n_val
    if need > len(tr_pool) or n_test > len(te_pool):
        raise ValueError(f"asked for {need} training-part and {n_test} test-part samples; the dataset has "
                         f"{len(tr_pool)} and {len(te_pool)}")
    idx = rng.choice(tr_pool, need, replace=False)
    te = rng.choice(te_pool, n_test, replace=False)
    a, b = n_initial, n_initial + n_pool
    return _standardised_split(X, y, idx[:a], idx[a:b], idx[b:], te)


def _standardised_split(X, y, i0, ip, iv, it) -> ActiveSplit:
    mu_sd_ref = np.concatenate([X[i0], X[ip]])
    _, X_init, X_pool, X_val, X_test = standardise(mu_sd_ref, X[i0], X[ip], X[iv], X[it])
    K = int(np.max(y)) + 1
    return ActiveSplit(X_init, y[i0], X_pool, y[ip], X_val, y[iv], X_test, y[it], K)


def moons_active_split(n_initial: int, n_pool: int, n_val: int, n_test: int, rng: np.random.Generator,
                       noise: float = 0.25, degree: int = 3) -> tuple[ActiveSplit, dict[str, np.ndarray]]:
    """Two moons (``lib.fi_experiments.two_moons``) mapped by :func:`polynomial_features`, split
    at random; also returns the raw 2-D inputs of each part for plotting."""
    n = n_initial + n_pool + n_val + n_test
    X2, y = two_moons(n, rng, noise)
    F = polynomial_features(X2, degree)
    bounds = np.cumsum([0, n_initial, n_pool, n_val, n_test])
    parts = [np.arange(a, b) for a, b in zip(bounds[:-1], bounds[1:])]
    raw = {name: X2[p] for name, p in zip(("init", "pool", "val", "test"), parts)}
    return _standardised_split(F, y, *parts), raw


def paper_rounds_table() -> pd.DataFrame:
    """[FI] Tables 4-5 with the queries they need and the rounds that fit the pool."""
    rows = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RoundsCappedWarning)
        for name, c in PAPER_CONFIGS.items():
            R, _ = capped_rounds(c["rounds"], c["pool"], c["acquisition"])
            rows.append({"dataset": name, **c, "queries needed": c["rounds"] * c["acquisition"],
                         "rounds that fit": R})
    return pd.DataFrame(rows).set_index("dataset")


def summarise(curves: pd.DataFrame) -> pd.DataFrame:
    """Per method, averaged over seeds: accuracy after round 1, the mean over rounds ``1..R``
    (area under the learning curve), its standard deviation over seeds (NaN for one seed) and
    the accuracy after the last round ``R``."""
    c = curves[curves["round"] > 0]
    last = c["round"].max()
    per_seed = pd.DataFrame({
        "first round": c[c["round"] == 1].set_index(["method", "seed"]).accuracy,
        "mean over rounds": c.groupby(["method", "seed"]).accuracy.mean(),
        "final": c[c["round"] == last].set_index(["method", "seed"]).accuracy})
    out = per_seed.groupby("method").mean()
    out.insert(2, "sd over seeds", per_seed.groupby("method")["mean over rounds"].std())
    return out


def first_round_scores(split: ActiveSplit, methods: Sequence[str], seed: int, l2: float | str = "auto",
                       **options) -> pd.DataFrame:
    """The acquisition scores every method gives the whole pool in round 1 (model fitted on the
    initial set), one column per method; method ``i`` draws from ``default_rng([seed, i])`` as in
    :func:`compare_methods`. Also ``confidence``: the model's max class probability."""
    model = LogisticRegression(l2=l2).fit(split.X_init, split.y_init, n_classes=split.n_classes)
    out = {}
    for i, m in enumerate(methods):
        scorer = _scorer(m, split, np.random.default_rng([seed, i]), options.get("aggregation", "trimmed_mean"),
                         options.get("forest_alpha", 0.2), options.get("forest_trees", 100),
                         options.get("bald_samples", 100), options.get("iv_lam", 10.0), options.get("iv_depth", 6))
        out[m] = np.asarray(scorer(model, split.X_init, split.y_init, split.X_pool), dtype=float)
    out["confidence"] = model.predict_proba(split.X_pool).max(1)
    return pd.DataFrame(out)


def pick_confidence(scores: pd.DataFrame, acquisition: int) -> pd.Series:
    """Mean confidence (max class probability of the current model) of each method's
    ``acquisition`` top-scored pool samples, and of the whole pool ([FI] Fig. 5: FI picks
    samples the current model finds hard)."""
    methods = [c for c in scores.columns if c != "confidence"]
    conf = scores["confidence"].to_numpy()
    out = {m: float(conf[select_top(scores[m].to_numpy(), acquisition)].mean()) for m in methods}
    out["whole pool"] = float(conf.mean())
    return pd.Series(out, name="mean confidence of round-1 picks")
