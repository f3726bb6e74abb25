"""Data-trimming experiments of [FI] §6.1: synthetic 2-D data, a small ReLU network whose last
layer carries the FI, and the accuracy-vs-budget protocol on tabular data.

Each function takes arrays and an explicit ``np.random.Generator`` and returns tidy
``pandas`` rows; the chapter (``notebooks/04_fi_trimming.py``) only plots and prints them.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np
import pandas as pd
import torch

from . import fi
from .influence import retrain, utility_influence
from .models import LogisticRegression
from .preprocessing import standardise
from .reproducibility import torch_generator

# ---------------------------------------------------------------------- data
def two_gaussians(n: int, rng: np.random.Generator, centre: float = 1.25, sd: float = 1.0
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Two isotropic 2-D Gaussians at ``±(centre, centre)`` with balanced random labels
    ([FI] §6.1 "2D linear model", following [CH]; the centres are our choice)."""
    y = rng.integers(0, 2, n)
    X = np.where(y[:, None] == 1, centre, -centre) + sd * rng.standard_normal((n, 2))
    return X, y


def two_moons(n: int, rng: np.random.Generator, noise: float = 0.25) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaving crescents (scikit-learn ``make_moons``) ([FI] §6.1 "2D nonlinear")."""
    from sklearn.datasets import make_moons

    X, y = make_moons(n, noise=noise, random_state=int(rng.integers(0, 2**31 - 1)))
    return X, y.astype(np.int64)


# ---------------------------------------------------------------------- scores
def trimming_scores(model: LogisticRegression, X_tr, y_tr, X_val, y_val) -> dict[str, np.ndarray]:
    """``{"FI": FI_util, "IV": -utility influence}``; larger = remove first for both."""
    return {"FI": fi.fi_util(model, X_tr, y_tr, X_val, y_val),
            "IV": -utility_influence(model, X_tr, y_tr, X_val, y_val)}


# ---------------------------------------------------------------------- logistic regression
def trim_logistic(X_tr, y_tr, X_val, y_val, X_te, y_te, budgets: Sequence[int], rng: np.random.Generator,
                  l2: float | str = "auto", n_random: int = 5) -> tuple[pd.DataFrame, dict]:
    """Fit, score with FI and IV, remove the top-``b`` samples, retrain, report test accuracy.

    Random trimming is averaged over ``n_random`` draws ([FI] D.1). Returns the rows
    ``(method, budget, accuracy)`` and a dict with the base model and the scores.
    """
    base = LogisticRegression(l2=l2).fit(X_tr, y_tr)
    scores = trimming_scores(base, X_tr, y_tr, X_val, y_val)
    rows = []
    n = len(y_tr)

    def refit(removed):  # weight 0 = removed; warm-started at the base model (same optimum)
        return retrain(base, X_tr, y_tr, fi.keep_mask(n, removed).astype(float)).score(X_te, y_te)

    for b in budgets:
        for method, s in scores.items():
            rows.append({"method": method, "budget": b, "accuracy": refit(fi.top_b(s, b))})
        accs = [refit(fi.trim_random(n, b, rng)) for _ in range(n_random)]
        rows.append({"method": "random", "budget": b, "accuracy": float(np.mean(accs))})
    return pd.DataFrame(rows), {"model": base, **scores}


def linear_experiment(seeds: Sequence[int], budgets: Sequence[int], sizes=(150, 100, 600),
                      centre: float = 1.25) -> pd.DataFrame:
    """[FI] Table 1: two Gaussians, LR, FI vs IV (vs random) per seed and budget."""
    frames = []
    for seed in seeds:
        r = np.random.default_rng(seed)
        X, y = two_gaussians(sum(sizes), r, centre)
        a, b_ = sizes[0], sizes[0] + sizes[1]
        X_tr, X_val, X_te = standardise(X[:a], X[a:b_], X[b_:])
        df, _ = trim_logistic(X_tr, y[:a], X_val, y[a:b_], X_te, y[b_:], budgets, r)
        frames.append(df.assign(seed=seed))
    return pd.concat(frames, ignore_index=True)


def decision_line(model: LogisticRegression, xs: np.ndarray) -> np.ndarray:
    """``x2`` on the boundary ``w1 x1 + w2 x2 + b = 0`` of a binary 2-D model."""
    (w1, w2), b = model.coef_[0], model.intercept_[0]
    return -(w1 * xs + b) / w2


# ---------------------------------------------------------------------- small ReLU network
class MLP(torch.nn.Module):
    """Input -> two ReLU hidden layers -> one logit ([FI] §6.1 nonlinear model)."""

    def __init__(self, d_in: int, hidden: int) -> None:
        super().__init__()
        self.body = torch.nn.Sequential(torch.nn.Linear(d_in, hidden), torch.nn.ReLU(),
                                        torch.nn.Linear(hidden, hidden), torch.nn.ReLU())
        self.head = torch.nn.Linear(hidden, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))[:, 0]


def train_mlp(X: np.ndarray, y: np.ndarray, init_seed: int, hidden: int = 16, epochs: int = 300,
              lr: float = 0.03, weight_decay: float = 1e-4) -> MLP:
    """Full-batch Adam from a fixed initialisation (``init_seed``): deterministic on CPU."""
    torch.manual_seed(init_seed)
    net = MLP(X.shape[1], hidden).double()
    opt = torch.optim.Adam(net.parameters(), lr=lr, weight_decay=weight_decay)
    Xt, yt = torch.as_tensor(X, dtype=torch.float64), torch.as_tensor(y, dtype=torch.float64)
    for _ in range(epochs):
        opt.zero_grad()
        torch.nn.functional.binary_cross_entropy_with_logits(net(Xt), yt).backward()
        opt.step()
    return net.eval()


def embed(net: MLP, X: np.ndarray) -> np.ndarray:
    """Penultimate features (inputs of the last layer)."""
    with torch.no_grad():
        return net.body(torch.as_tensor(X, dtype=torch.float64)).numpy()


def mlp_accuracy(net: MLP, X: np.ndarray, y: np.ndarray) -> float:
    with torch.no_grad():
        return float(((net(torch.as_tensor(X, dtype=torch.float64)) > 0).numpy() == y).mean())


def last_layer_scores(net: MLP, X_tr, y_tr, X_val, y_val, l2: float | str = "auto"
                      ) -> dict[str, np.ndarray]:
    """FI and IV of the last layer: a logistic-regression head fitted on standardised
    penultimate features (the network body is frozen)."""
    E_tr, E_val = standardise(embed(net, X_tr), embed(net, X_val))
    head = LogisticRegression(l2=l2).fit(E_tr, y_tr)
    return trimming_scores(head, E_tr, y_tr, E_val, y_val)


def nonlinear_experiment(seeds: Sequence[int], budgets: Sequence[int], sizes=(500, 250, 250),
                         noise: float = 0.25, hidden: int = 16, epochs: int = 300) -> pd.DataFrame:
    """[FI] Table 2: two moons, a 2-hidden-layer ReLU network, last-layer FI vs IV. After
    trimming the whole network is retrained from the same initialisation."""
    rows = []
    for seed in seeds:
        r = np.random.default_rng(seed)
        X, y = two_moons(sum(sizes), r, noise)
        a, b_ = sizes[0], sizes[0] + sizes[1]
        X_tr, X_val, X_te = standardise(X[:a], X[a:b_], X[b_:])
        y_tr, y_val, y_te = y[:a], y[a:b_], y[b_:]
        net = train_mlp(X_tr, y_tr, seed, hidden, epochs)
        scores = last_layer_scores(net, X_tr, y_tr, X_val, y_val)
        rows.append({"seed": seed, "method": "none", "budget": 0, "accuracy": mlp_accuracy(net, X_te, y_te)})
        for b in budgets:
            for method, s in scores.items():
                keep = fi.keep_mask(a, fi.top_b(s, b))
                acc = mlp_accuracy(train_mlp(X_tr[keep], y_tr[keep], seed, hidden, epochs), X_te, y_te)
                rows.append({"seed": seed, "method": method, "budget": b, "accuracy": acc})
    return pd.DataFrame(rows)


def head_to_head(df: pd.DataFrame) -> pd.DataFrame:
    """Per budget: #seeds where FI beats IV, mean ± sd accuracy of each (Tables 1-2 format)."""
    wide = df[df.method.isin(["FI", "IV"])].pivot_table(index=["budget", "seed"], columns="method",
                                                        values="accuracy")
    g = wide.groupby("budget")
    return pd.DataFrame({"FI better": g.apply(lambda w: int((w.FI > w.IV).sum())),
                         "ties": g.apply(lambda w: int((w.FI == w.IV).sum())),
                         "seeds": g.size(),
                         "acc FI": g.FI.mean(), "sd FI": g.FI.std(),
                         "acc IV": g.IV.mean(), "sd IV": g.IV.std()})


# ---------------------------------------------------------------------- tabular protocol
def tabular_split(X: np.ndarray, y: np.ndarray, is_test: np.ndarray, n_train: int, n_val: int,
                  n_test: int, rng: np.random.Generator):
    """Subsample train/validation from the training part and a test set from the test part
    ([FI] D.1: 5,000 train / 4,200 test), standardised with the training statistics."""
    tr_pool, te_pool = np.flatnonzero(~is_test), np.flatnonzero(is_test)
    if n_train + n_val > len(tr_pool) or n_test > len(te_pool):
        raise ValueError("asked for more samples than the dataset's train/test parts hold")
    idx = rng.choice(tr_pool, n_train + n_val, replace=False)
    te = rng.choice(te_pool, n_test, replace=False)
    tr, va = idx[:n_train], idx[n_train:]
    X_tr, X_val, X_te = standardise(X[tr], X[va], X[te])
    return X_tr, y[tr], X_val, y[va], X_te, y[te]


def tabular_experiment(X, y, is_test, seeds: Sequence[int], budgets: Sequence[int], n_train: int,
                       n_val: int, n_test: int, l2: float | str = "auto") -> pd.DataFrame:
    """[FI] Fig. 2: test accuracy vs budget for FI, IV and random trimming, per seed."""
    frames = []
    for seed in seeds:
        r = np.random.default_rng(seed)
        split = tabular_split(X, y, is_test, n_train, n_val, n_test, r)
        df, _ = trim_logistic(*split, budgets, r, l2=l2)
        frames.append(df.assign(seed=seed))
    return pd.concat(frames, ignore_index=True)


def approximation_ablation(X_tr, y_tr, X_val, y_val, X_te, y_te, budget: int, rng: np.random.Generator,
                           rank: int = 1, alpha: float = 0.2, l2: float | str = "auto") -> pd.DataFrame:
    """[FI] Table 8: exact FI vs KFSVD vs KFSVD + random-forest subsampling: test accuracy
    after trimming ``budget`` samples, the score's time, and its Spearman correlation with exact FI."""
    from scipy.stats import spearmanr

    model = LogisticRegression(l2=l2).fit(X_tr, y_tr)
    variants = {
        "exact": lambda: fi.fi_util(model, X_tr, y_tr, X_val, y_val),
        f"KFSVD (k={rank})": lambda: fi.fi_kfsvd(model, X_tr, y_tr, X_val, y_val, rank=rank),
        f"KFSVD + forest (alpha={alpha})": lambda: fi.fi_random_forest(
            model, X_tr, y_tr, X_val, y_val, rng, alpha=alpha, kfsvd_rank=rank),
    }
    rows, exact = [], None
    for name, f in variants.items():
        t0 = time.perf_counter()
        s = f()
        dt = time.perf_counter() - t0
        exact = s if exact is None else exact
        w = fi.keep_mask(len(y_tr), fi.top_b(s, budget)).astype(float)
        rows.append({"variant": name, "accuracy": retrain(model, X_tr, y_tr, w).score(X_te, y_te),
                     "seconds": dt, "spearman vs exact": spearmanr(s, exact)[0]})
    return pd.DataFrame(rows).set_index("variant")
