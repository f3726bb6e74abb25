"""Data-trimming experiments of [FI] §6.1: synthetic 2-D data, a small ReLU network whose last
layer carries the FI, and the accuracy-vs-budget protocol on tabular data.

Each function takes arrays and an explicit ``np.random.Generator`` and returns tidy
``pandas`` rows; the chapter (``notebooks/08_fi_trimming.py``) only plots and prints them.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np
import pandas as pd
import torch

from .. import fi
from .._book.pages import Claim
from ..datasets.fi_synthetic import two_gaussians, two_moons
from ..influence import retrain, utility_influence
from ..models import LogisticRegression
from ..preprocessing import standardise, standardised_blocks
from ..trimming import Trim, random_trim, trim

# ---------------------------------------------------------------------- scores
#: how each method turns its score into a removal set (:func:`lib.trimming.trim`): FI removes
#: the ``b`` largest ``FI_util`` ([FI] Algorithm 3), IV the ``b`` most negative utility
#: influences. [FI] D.1 removes ``b`` points with every strategy; [CH] Algorithm 2
#: (``rule="negative"``) would stop at the last negative influence.
TRIM_RULE = {"FI": "highest", "IV": "lowest"}


def trimming_scores(model: LogisticRegression, X_train, y_train, X_val, y_val) -> dict[str, np.ndarray]:
    """``{"FI": FI_util, "IV": utility influence}`` (the book's sign: negative = harmful)."""
    return {"FI": fi.fi_util(model, X_train, y_train, X_val, y_val),
            "IV": utility_influence(model, X_train, y_train, X_val, y_val)}


def removal(method: str, scores: np.ndarray, b: int) -> Trim:
    """The samples ``method`` (``"FI"`` or ``"IV"``) removes at budget ``b``."""
    return trim(scores, b, TRIM_RULE[method])


# ---------------------------------------------------------------------- logistic regression
def trim_logistic(X_train, y_train, X_val, y_val, X_test, y_test, budgets: Sequence[int], rng: np.random.Generator,
                  l2: float | str = "auto", n_random: int = 5, flagged: np.ndarray | None = None
                  ) -> tuple[pd.DataFrame, dict]:
    """Fit, score with FI and IV, remove the top-``b`` samples, retrain, report test accuracy.

    Random trimming is averaged over ``n_random`` draws ([FI] D.1). Returns the rows
    ``(method, budget, removed, accuracy)`` and a dict with the base model and the scores.
    ``flagged`` (boolean, one per training sample, e.g. the corrupted ones) adds the column
    ``precision``: the fraction of the removed samples that are flagged (NaN if none removed).
    """
    base = LogisticRegression(l2=l2).fit(X_train, y_train)
    scores = trimming_scores(base, X_train, y_train, X_val, y_val)
    rows = []
    n = len(y_train)
    if flagged is not None and np.shape(flagged) != (n,):
        raise ValueError(f"flagged must be one boolean per training sample ({n}), got shape {np.shape(flagged)}")

    def evaluate(t: Trim) -> dict:  # weight 0 = removed; warm-started at the base model (same optimum)
        out = {"removed": len(t.removed),
               "accuracy": retrain(base, X_train, y_train, t.keep_mask.astype(float)).score(X_test, y_test)}
        if flagged is not None:
            out["precision"] = float(np.mean(flagged[t.removed])) if len(t.removed) else np.nan
        return out

    for b in budgets:
        for method, s in scores.items():
            rows.append({"method": method, "budget": b, **evaluate(removal(method, s, b))})
        draws = pd.DataFrame([evaluate(random_trim(n, b, rng)) for _ in range(n_random)])
        rows.append({"method": "random", "budget": b, **draws.mean().to_dict()})
    return pd.DataFrame(rows), {"model": base, **scores}


def linear_experiment(seeds: Sequence[int], budgets: Sequence[int], sizes=(150, 100, 600),
                      centre: float = 1.25) -> pd.DataFrame:
    """[FI] Table 1: two Gaussians, LR, FI vs IV (vs random) per seed and budget."""
    frames = []
    for seed in seeds:
        r = np.random.default_rng(seed)
        X, y = two_gaussians(sum(sizes), r, centre)
        (X_train, y_train), (X_val, y_val), (X_test, y_test) = standardised_blocks(X, y, sizes)
        df, _ = trim_logistic(X_train, y_train, X_val, y_val, X_test, y_test, budgets, r)
        frames.append(df.assign(seed=seed))
    return pd.concat(frames, ignore_index=True)


def decision_line(model: LogisticRegression, xs: np.ndarray) -> np.ndarray:
    """``x2`` on the boundary ``w1 x1 + w2 x2 + b = 0`` of a binary 2-D model."""
    (w1, w2), b = model.coef_[0], model.intercept_[0]
    return -(w1 * xs + b) / w2


# ---------------------------------------------------------------------- small ReLU network
class TwoHiddenLayerReLUNet(torch.nn.Module):
    """Input -> two ReLU hidden layers -> one logit ([FI] §6.1 nonlinear model)."""

    def __init__(self, d_in: int, hidden: int) -> None:
        super().__init__()
        self.body = torch.nn.Sequential(torch.nn.Linear(d_in, hidden), torch.nn.ReLU(),
                                        torch.nn.Linear(hidden, hidden), torch.nn.ReLU())
        self.head = torch.nn.Linear(hidden, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))[:, 0]


def init_mlp(d_in: int, hidden: int, rng: np.random.Generator) -> TwoHiddenLayerReLUNet:
    """A float64 :class:`TwoHiddenLayerReLUNet` with torch's default ``nn.Linear`` distribution
    (weights and biases ``U(-1/sqrt(fan_in), 1/sqrt(fan_in))``) drawn by NumPy in float64.

    torch's own CPU initialisation draws in float32 with kernels compiled per instruction set, so
    the same seed gives initial weights that differ by a float32 ulp (~6e-8) between processors,
    and 300 Adam steps amplify that into different networks. NumPy's ``Generator.uniform`` is the
    same on every machine; the training that follows then differs only at round-off (~1e-13).
    """
    net = TwoHiddenLayerReLUNet(d_in, hidden).double()
    with torch.no_grad():
        for layer in (net.body[0], net.body[2], net.head):
            bound = 1.0 / np.sqrt(layer.in_features)
            layer.weight.copy_(torch.as_tensor(rng.uniform(-bound, bound, tuple(layer.weight.shape))))
            layer.bias.copy_(torch.as_tensor(rng.uniform(-bound, bound, tuple(layer.bias.shape))))
    return net


def train_mlp(X: np.ndarray, y: np.ndarray, init_seed: int, hidden: int = 16, epochs: int = 300,
              lr: float = 0.03, weight_decay: float = 1e-4) -> TwoHiddenLayerReLUNet:
    """Full-batch Adam from a fixed initialisation (:func:`init_mlp` with ``default_rng(init_seed)``):
    deterministic, and the same on every machine up to round-off."""
    net = init_mlp(X.shape[1], hidden, np.random.default_rng(init_seed))
    opt = torch.optim.Adam(net.parameters(), lr=lr, weight_decay=weight_decay)
    inputs, targets = torch.as_tensor(X, dtype=torch.float64), torch.as_tensor(y, dtype=torch.float64)
    for _ in range(epochs):
        opt.zero_grad()
        torch.nn.functional.binary_cross_entropy_with_logits(net(inputs), targets).backward()
        opt.step()
    return net.eval()


def embed(net: TwoHiddenLayerReLUNet, X: np.ndarray) -> np.ndarray:
    """Penultimate features (inputs of the last layer)."""
    with torch.no_grad():
        return net.body(torch.as_tensor(X, dtype=torch.float64)).numpy()


def mlp_accuracy(net: TwoHiddenLayerReLUNet, X: np.ndarray, y: np.ndarray) -> float:
    with torch.no_grad():
        return float(((net(torch.as_tensor(X, dtype=torch.float64)) > 0).numpy() == y).mean())


def last_layer_scores(net: TwoHiddenLayerReLUNet, X_train, y_train, X_val, y_val, l2: float | str = "auto"
                      ) -> dict[str, np.ndarray]:
    """FI and IV of the last layer: a logistic-regression head fitted on standardised
    penultimate features (the network body is frozen)."""
    E_tr, E_val = standardise(embed(net, X_train), embed(net, X_val))
    head = LogisticRegression(l2=l2).fit(E_tr, y_train)
    return trimming_scores(head, E_tr, y_train, E_val, y_val)


def nonlinear_experiment(seeds: Sequence[int], budgets: Sequence[int], sizes=(500, 250, 250),
                         noise: float = 0.25, hidden: int = 16, epochs: int = 300) -> pd.DataFrame:
    """[FI] Table 2: two moons, a 2-hidden-layer ReLU network, last-layer FI vs IV. After
    trimming the whole network is retrained from the same initialisation."""
    rows = []
    for seed in seeds:
        r = np.random.default_rng(seed)
        X, y = two_moons(sum(sizes), r, noise)
        (X_train, y_train), (X_val, y_val), (X_test, y_test) = standardised_blocks(X, y, sizes)
        net = train_mlp(X_train, y_train, seed, hidden, epochs)
        scores = last_layer_scores(net, X_train, y_train, X_val, y_val)
        rows.append({"seed": seed, "method": "none", "budget": 0, "accuracy": mlp_accuracy(net, X_test, y_test)})
        for b in budgets:
            for method, s in scores.items():
                keep = removal(method, s, b).keep_mask
                acc = mlp_accuracy(train_mlp(X_train[keep], y_train[keep], seed, hidden, epochs), X_test, y_test)
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
    X_train, X_val, X_test = standardise(X[tr], X[va], X[te])
    return X_train, y[tr], X_val, y[va], X_test, y[te]


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


CORRUPTIONS = ("gaussian", "flip_columns", "labels")


def corrupt(X_train: np.ndarray, y_train: np.ndarray, n_noisy: int, kind: str, rng: np.random.Generator,
            variance: float = 0.1, n_columns: int = 6) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Corrupt ``n_noisy`` random training samples ([FI] D.1 "noisy real-world datasets").

    ``kind``: ``"gaussian"`` adds white noise of ``variance`` to their features (the paper's
    Adult/Bank/Jigsaw noise: 500 of 5,000 samples, variance 0.1); ``"flip_columns"`` swaps the two
    values of ``n_columns`` random binary feature columns in those rows (the paper's CelebA noise:
    six columns; that the flip is restricted to the sampled rows is our reading of D.1);
    ``"labels"`` flips their labels (not in the paper; the classic mislabelling test).
    Returns ``(X_noisy, y_noisy, flagged)`` with ``flagged`` the boolean mask of corrupted rows.
    """
    if kind not in CORRUPTIONS:
        raise ValueError(f"unknown corruption {kind!r}; use one of {', '.join(CORRUPTIONS)}")
    n = len(y_train)
    if not 0 <= n_noisy <= n:
        raise ValueError(f"n_noisy={n_noisy} must be between 0 and the training size {n}")
    idx = rng.choice(n, n_noisy, replace=False)
    flagged = np.zeros(n, dtype=bool)
    flagged[idx] = True
    X, y = np.array(X_train, dtype=float), np.array(y_train)
    if kind == "gaussian":
        X = fi.add_feature_noise(X, idx, variance, rng)
    elif kind == "flip_columns":
        X, _ = fi.flip_binary_features(X, idx, n_columns, rng)
    else:
        y = fi.flip_labels(y, idx, int(max(y.max(), 1)) + 1, rng)
    return X, y, flagged


def noisy_tabular_experiment(X, y, is_test, seeds: Sequence[int], budgets: Sequence[int], n_train: int,
                             n_val: int, n_test: int, kind: str, n_noisy: int, variance: float = 0.1,
                             n_columns: int = 6, l2: float | str = "auto") -> pd.DataFrame:
    """[FI] Fig. 8: the Fig. 2 protocol on a training set with ``n_noisy`` corrupted samples
    (:func:`corrupt`; validation and test sets stay clean). Rows add ``precision`` (fraction of
    the removed samples that are corrupted; random trimming's expectation is ``n_noisy / n_train``)
    and ``clean accuracy`` (the same split without corruption, untrimmed)."""
    frames = []
    for seed in seeds:
        r = np.random.default_rng(seed)
        X_train, y_train, X_val, y_val, X_test, y_test = tabular_split(X, y, is_test, n_train, n_val, n_test, r)
        clean = LogisticRegression(l2=l2).fit(X_train, y_train).score(X_test, y_test)
        Xn, yn, flagged = corrupt(X_train, y_train, n_noisy, kind, r, variance, n_columns)
        df, _ = trim_logistic(Xn, yn, X_val, y_val, X_test, y_test, budgets, r, l2=l2, flagged=flagged)
        frames.append(df.assign(seed=seed, corruption=kind, **{"clean accuracy": clean}))
    return pd.concat(frames, ignore_index=True)


def perturbation_ablation(X_train, y_train, X_val, y_val, X_test, y_test, budgets: Sequence[int],
                          rng: np.random.Generator, kind: str = "gaussian", variance: float = 0.1,
                          n_draws: int = 5, l2: float | str = "auto") -> pd.DataFrame:
    """[FI] E.1, Table 7: perturb the ``b`` training samples with the highest FI, the ``b`` with
    the lowest FI, or ``b`` random ones, refit, and measure the test accuracy.

    ``kind`` is a :func:`corrupt` kind applied to the chosen rows: ``"gaussian"`` (the paper's
    "Gaussian noise", variance not stated: ``variance``), ``"flip_columns"`` or ``"labels"``.
    Every cell averages ``n_draws`` noise draws (and random row sets). Rows: ``selection``,
    ``budget``, ``accuracy``, ``change`` (vs the unperturbed model) and ``val loss change``.
    """
    if kind not in CORRUPTIONS:
        raise ValueError(f"unknown corruption {kind!r}; use one of {', '.join(CORRUPTIONS)}")
    base = LogisticRegression(l2=l2).fit(X_train, y_train)
    acc0, loss0 = base.score(X_test, y_test), _mean_loss(base, X_val, y_val)
    scores = fi.fi_util(base, X_train, y_train, X_val, y_val)
    n, K = len(y_train), int(max(np.max(y_train), 1)) + 1
    rows = []
    for b in budgets:
        for selection in ("top FI", "bottom FI", "random"):
            accs, losses = [], []
            deterministic = kind == "labels" and K == 2 and selection != "random"  # binary flips: one outcome
            for _ in range(1 if deterministic else n_draws):
                if selection == "random":
                    idx = random_trim(n, b, rng).removed
                else:
                    idx = trim(scores, b, "highest" if selection == "top FI" else "lowest").removed
                X, y = np.array(X_train, dtype=float), np.array(y_train)
                if kind == "gaussian":
                    X = fi.add_feature_noise(X, idx, variance, rng)
                elif kind == "flip_columns":
                    X, _ = fi.flip_binary_features(X, idx, 6, rng)
                else:
                    y = fi.flip_labels(y, idx, K, rng)
                model = base.clone().fit(X, y, n_classes=base.n_classes_, warm_start=base.theta_)
                accs.append(model.score(X_test, y_test))
                losses.append(_mean_loss(model, X_val, y_val))
            rows.append({"selection": selection, "budget": b, "accuracy": float(np.mean(accs)),
                         "change": float(np.mean(accs)) - acc0, "val loss change": float(np.mean(losses)) - loss0})
    return pd.DataFrame(rows)


def _mean_loss(model: LogisticRegression, X, y) -> float:
    with torch.no_grad():
        return float(model.loss(torch.as_tensor(np.asarray(X, dtype=float)), y, model.theta_).mean())


def approximation_ablation(X_train, y_train, X_val, y_val, X_test, y_test, budget: int, rng: np.random.Generator,
                           rank: int = 1, alpha: float = 0.2, l2: float | str = "auto") -> pd.DataFrame:
    """[FI] Table 8: exact FI vs KFSVD vs KFSVD + random-forest subsampling: test accuracy
    after trimming ``budget`` samples, the score's time, and its Spearman correlation with exact FI."""
    from scipy.stats import spearmanr

    model = LogisticRegression(l2=l2).fit(X_train, y_train)
    variants = {
        "exact": lambda: fi.fi_util(model, X_train, y_train, X_val, y_val),
        f"KFSVD (k={rank})": lambda: fi.fi_kfsvd(model, X_train, y_train, X_val, y_val, rank=rank),
        f"KFSVD + forest (alpha={alpha})": lambda: fi.fi_random_forest(
            model, X_train, y_train, X_val, y_val, rng, alpha=alpha, kfsvd_rank=rank),
    }
    rows, exact = [], None
    for name, f in variants.items():
        t0 = time.perf_counter()
        s = f()
        dt = time.perf_counter() - t0
        exact = s if exact is None else exact
        w = trim(s, budget, "highest").keep_mask.astype(float)
        rows.append({"variant": name, "accuracy": retrain(model, X_train, y_train, w).score(X_test, y_test),
                     "seconds": dt, "spearman vs exact": spearmanr(s, exact)[0]})
    return pd.DataFrame(rows).set_index("variant")


# ---------------------------------------------------------------------- paper vs. measured
#: [FI] Table 1 (two Gaussians, 30 seeds) and Table 2 (two moons, 20 seeds): budget -> (seeds in
#: which FI beats IV, FI accuracy %, IV accuracy %)
PAPER_TABLE_1 = {5: (23, 96.22, 95.77), 10: (28, 96.20, 94.84), 20: (30, 96.23, 93.36)}
PAPER_TABLE_2 = {5: (17, 89.90, 87.50), 10: (17, 90.24, 88.02), 20: (15, 90.32, 87.80)}
PAPER_SEEDS = {"Table 1": 30, "Table 2": 20}
#: [FI] Table 7 (Bank, b = 300 of 5,000): accuracy change in points after perturbing the top-/bottom-FI samples
PAPER_TABLE_7 = (-2.91, -1.31)


def _pts(x: float) -> str:
    return f"{100 * x:+.2f} pts"


def _head_to_head_claims(name: str, table: pd.DataFrame, paper: dict, n_paper: int) -> list[Claim]:
    """Rows for [FI] Tables 1-2: FI beats IV in most seeds, with the paper's accuracy margin."""
    rows = []
    for b, row in table.iterrows():
        wins, ties, n = int(row["FI better"]), int(row["ties"]), int(row["seeds"])
        losses = n - wins - ties
        k, acc_fi, acc_iv = paper[b]
        gap, paper_gap = 100 * (row["acc FI"] - row["acc IV"]), acc_fi - acc_iv
        margin = gap >= 0.5 * paper_gap
        if wins > n / 2 and margin:
            verdict = "reproduced"
        elif wins > n / 2 or (wins > losses and margin):
            verdict = "partly"
        else:
            verdict = "not reproduced"
        rows.append(Claim(
            f"{name}, b={b}: FI beats IV", f"{k}/{n_paper} seeds; FI {acc_fi:.2f}% vs IV {acc_iv:.2f}%",
            f"{wins}/{n} seeds (ties {ties}); FI {100 * row['acc FI']:.2f}% vs IV {100 * row['acc IV']:.2f}%",
            verdict, f"FI wins {wins}, ties {ties}, loses {losses}; mean margin {gap:+.2f} pts (paper "
                     f"{paper_gap:+.2f}; seed sd of IV {100 * row['sd IV']:.2f} pts)"))
    return rows


def claims(table1: pd.DataFrame, table2: pd.DataFrame, gains: dict[str, pd.Series], noisy_acc: pd.DataFrame,
           noisy_prec: pd.DataFrame, table7: pd.DataFrame, ablation: pd.DataFrame, *, base_rate: float
           ) -> list[Claim]:
    """The chapter's claims table ([FI] Tables 1, 2, 7, 8, Figs. 2 and 8), each row with a verdict
    computed from the measured numbers.

    ``table1``/``table2`` are :func:`head_to_head` tables, ``gains`` maps ``"Adult"``, ``"Bank"``,
    ``"CelebA"`` to each rule's accuracy change at the largest budget (Fig. 2), ``noisy_acc`` /
    ``noisy_prec`` the accuracy and precision pivots of the Fig. 8 runs (index variant, dataset,
    budget), ``table7`` the pivot of :func:`perturbation_ablation` (index perturbation, budget),
    ``ablation`` :func:`approximation_ablation`, ``base_rate`` the corrupted share of the training set.
    """
    rows = _head_to_head_claims("Table 1 (2-D linear)", table1, PAPER_TABLE_1, PAPER_SEEDS["Table 1"])
    rows += _head_to_head_claims("Table 2 (two moons)", table2, PAPER_TABLE_2, PAPER_SEEDS["Table 2"])

    g = gains["Adult"]
    order = "FI > IV > random" if g["FI"] > g["IV"] > g["random"] else None
    rows.append(Claim(
        "Fig. 2 Adult: FI trimming gains most, random none", "FI > IV > random",
        ", ".join(f"{m} {_pts(v)}" for m, v in g.items()),
        "reproduced" if order else "partly" if min(g["FI"], g["IV"]) > g["random"] else "not reproduced",
        "the paper's order" if order else f"best rule {g.idxmax()}; both influence rules above random"
        if min(g["FI"], g["IV"]) > g["random"] else f"best rule {g.idxmax()}"))
    g = gains["Bank"]
    rows.append(Claim(
        "Fig. 2 Bank: FI gains most (more than 10 points)", "FI > IV > random",
        ", ".join(f"{m} {_pts(v)}" for m, v in g.items()),
        "reproduced" if g.idxmax() == "FI" and g["FI"] > 0.05 else "partly" if g.idxmax() == "FI" else
        "not reproduced", f"best rule {g.idxmax()}; every change within {100 * g.abs().max():.2f} pts"))
    g = gains["CelebA"]
    rows.append(Claim(
        "Fig. 2 CelebA: FI gains, IV lowers the accuracy", "FI > random > IV",
        ", ".join(f"{m} {_pts(v)}" for m, v in g.items()),
        "reproduced" if g["FI"] > 0 > g["IV"] else "partly" if g["FI"] > g["IV"] else "not reproduced",
        f"FI {_pts(g['FI'])}, IV {_pts(g['IV'])}; every change within {100 * g.abs().max():.2f} pts"))

    b_max = noisy_acc.index.get_level_values("budget").max()
    for name in noisy_acc.loc["paper's noise"].index.get_level_values("dataset").unique():
        acc = noisy_acc.loc[("paper's noise", name)]
        ng = acc.loc[b_max] - acc.loc[0]
        beat = [m for m in ("FI", "IV") if ng[m] > ng["random"]]
        rows.append(Claim(
            f"Fig. 8 {name} + noise: FI and IV beat random, FI beats IV", "FI > IV > random",
            ", ".join(f"{m} {_pts(v)}" for m, v in ng.items()) + f" (b={b_max})",
            "reproduced" if ng["FI"] > ng["IV"] > ng["random"] else
            "partly" if ng["FI"] > min(ng["IV"], ng["random"]) else "not reproduced",
            f"beat random: {', '.join(beat) or 'neither'}; {'FI' if ng['FI'] > ng['IV'] else 'IV'} ahead"))
    b_min = noisy_prec.index.get_level_values("budget").min()
    prec = noisy_prec.loc["label flips"].xs(b_min, level="budget")
    better = int((prec.FI > prec.IV).sum())
    rows.append(Claim(
        f"FI finds corrupted samples better than IV (label flips, first {b_min} removed)",
        "not in the paper (it corrupts features)",
        "; ".join(f"{n}: FI {r.FI:.2f}, IV {r.IV:.2f}, random {r.random:.2f}" for n, r in prec.iterrows()),
        "reproduced" if better == len(prec) else "partly" if better else "not reproduced",
        f"FI more precise than IV on {better} of {len(prec)} sets; both above the {base_rate:.0%} base rate on "
        f"{int(((prec.FI > base_rate) & (prec.IV > base_rate)).sum())}"))

    b_t7 = table7.index.get_level_values("budget").max()
    for pert, t in table7.groupby(level="perturbation"):
        r = t.xs(b_t7, level="budget").iloc[0]
        noise = t.xs("random", axis=1)[t.index.get_level_values("budget") > 0].std()  # the control's spread
        noise = float(noise) if np.isfinite(noise) else 0.0  # one budget: no spread to compare with
        gap = r["bottom FI"] - r["top FI"]
        if gap > noise and r["top FI"] <= -0.02:
            verdict = "reproduced"
        elif gap > noise:
            verdict = "partly"
        else:
            verdict = "not reproduced"
        paper = (f"b=300 of 5,000: top-FI {PAPER_TABLE_7[0]:+.2f}, bottom-FI {PAPER_TABLE_7[1]:+.2f} pts"
                 if pert.startswith("features") else "not in the paper")
        rows.append(Claim(
            f"Table 7 ({pert}): perturbing top-FI samples costs more accuracy than bottom-FI", paper,
            f"b={b_t7}: top-FI {_pts(r['top FI'])}, bottom-FI {_pts(r['bottom FI'])}, random {_pts(r['random'])}",
            verdict, f"gap {100 * gap:+.2f} pts; the random control varies by {100 * noise:.2f} pts across budgets"
                     + ("" if r["top FI"] <= -0.02 else "; far smaller changes than the paper's")))

    exact, approx = ablation.accuracy.iloc[0], ablation.accuracy.iloc[-1]
    kept = abs(exact - approx) <= 0.005
    rows.append(Claim(
        "Table 8: the subsampling approximation keeps the accuracy (and is faster)",
        "MNIST 93.8 vs 94.0%, CelebA 80.9 vs 78.1%; 3-4x faster",
        f"Adult: exact {100 * exact:.2f}%, KFSVD + forest {100 * approx:.2f}%; rank correlation with exact FI "
        f"{ablation['spearman vs exact'].iloc[-1]:.2f}",
        "partly" if kept else "not reproduced",
        ("accuracy kept" if kept else "accuracy not kept") + "; the speed-up is not assessed here: for a linear "
        "head the exact K x K form is already cheap (machine-dependent timings in the table above)"))
    return rows
