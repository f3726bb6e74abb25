"""The [CH] experiments (Chhabra et al., ICLR 2024, §4 and App. B) as functions of arrays.

Chapter 1 calls these; the building blocks are :mod:`lib.fairness` (quantities, attack,
metrics), :mod:`lib.trimming` (Algorithm 2) and :mod:`lib.trees` (Algorithm 1).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import linregress, pearsonr, spearmanr

from .. import fairness, influence
from ..datasets.toy import ToySplit
from ..influence import Quantity
from ..models import LogisticRegression
from ..trimming import trim

#: the metric each influence function targets, and whether larger is better
TARGET_METRIC = {"utility": ("accuracy", True), "fairness": ("dp_gap", False), "robustness": ("adv_accuracy", True)}


def toy_quantities(model: LogisticRegression, d: ToySplit, gamma: float = 1.3) -> tuple[dict[str, Quantity], np.ndarray]:
    """Utility ([CH] Eq. 1), DP fairness (Eq. 2) and robustness (Eq. 3) quantities on the
    validation set, plus the adversarial validation set crafted once against ``model``."""
    X_adv = fairness.linear_attack(model, d.X_val, gamma)
    fs = {
        "utility": fairness.utility_quantity(d.X_val, d.y_val),
        "fairness": fairness.dp_quantity(d.X_val, d.g_val),
        "robustness": fairness.robustness_quantity(X_adv, d.y_val),
    }
    return fs, X_adv


def agreement(predicted: np.ndarray, actual: np.ndarray) -> dict[str, float]:
    """Spearman, Pearson and least-squares slope of actual on predicted (1 = calibrated)."""
    predicted, actual = np.asarray(predicted, float), np.asarray(actual, float)
    return {"spearman": float(spearmanr(predicted, actual).statistic),
            "pearson": float(pearsonr(predicted, actual).statistic),
            "slope": float(linregress(predicted, actual).slope)}


def trim_experiment(d: ToySplit, l2: float | str = "auto", gamma: float = 1.3, budget: int = 10) -> pd.DataFrame:
    """[CH] §4 toy experiment: for each function, trim with Algorithm 2 (budget ``b``), retrain
    from scratch on the kept samples and report every metric before and after.

    The adversarial validation set is crafted once against the original model and reused.
    Returns one row per (function, stage) with the metrics and the validation loss.
    """
    model = LogisticRegression(l2=l2).fit(d.X_train, d.y_train)
    fs, X_adv = toy_quantities(model, d, gamma)

    def row(m: LogisticRegression, function: str, stage: str, n_removed: int) -> dict:
        out = {"function": function, "stage": stage, "removed": n_removed}
        out.update(fairness.metrics(m, d.X_val, d.y_val, d.g_val, X_adv))
        out["val_loss"] = float(fs["utility"](m, m.theta_).detach())
        out["adv_loss"] = float(fs["robustness"](m, m.theta_).detach())
        return out

    rows = []
    for name, f in fs.items():
        I = influence.influence_on(model, d.X_train, d.y_train, f)
        r = trim(I, budget)
        new = LogisticRegression(l2=l2).fit(d.X_train[r.kept], d.y_train[r.kept])
        rows += [row(model, name, "before", 0), row(new, name, "after", len(r.removed))]
    return pd.DataFrame(rows)


def loo_agreement(model: LogisticRegression, X: np.ndarray, y: np.ndarray, fs: dict[str, Quantity],
                  indices: np.ndarray) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Predicted influence vs. actual leave-one-out retraining ([CH] App. B, Fig. 7).

    Returns the long table of (function, index, predicted, actual) and one agreement row per
    function (Spearman, Pearson, slope).
    """
    actual = influence.loo_effect(model, X, y, indices, list(fs.values()))
    long, summary = [], []
    for k, (name, f) in enumerate(fs.items()):
        pred = influence.influence_on(model, X, y, f)[indices]
        long.append(pd.DataFrame({"function": name, "index": indices, "predicted": pred, "actual": actual[:, k]}))
        summary.append({"function": name, **agreement(pred, actual[:, k])})
    return pd.concat(long, ignore_index=True), pd.DataFrame(summary).set_index("function")


def one_dim_counterexample(rng: np.random.Generator, n: int = 200, n_val: int = 200,
                           l2: float = 1.0) -> pd.DataFrame:
    """[FI] §1 counterexample: 1-D logistic regression ``p = sigmoid(beta x)`` (no intercept) with
    every ``x_i > 0``. Then ``I_util(i) = c * (p_i - y_i) x_i`` with one scalar ``c`` for all ``i``,
    so the sign of every influence is fixed by the label alone and Algorithm 2 removes one class.

    Data: ``x ~ LogNormal(0, 0.5)`` for ``y=0`` and ``LogNormal(0.7, 0.5)`` for ``y=1``; 5% of the
    labels are flipped (outliers in both classes). Returns one row per training sample.
    """
    def draw(m):
        y = (rng.random(m) < 0.5).astype(np.int64)
        x = np.exp(np.where(y == 1, 0.7, 0.0) + 0.5 * rng.standard_normal(m))
        flip = rng.random(m) < 0.05
        return x[:, None], np.where(flip, 1 - y, y), flip

    X, y, flip = draw(n)
    X_val, y_val, _ = draw(n_val)
    model = LogisticRegression(l2=l2, fit_intercept=False).fit(X, y)
    I = influence.utility_influence(model, X, y, X_val, y_val)
    return pd.DataFrame({"x": X[:, 0], "y": y, "flipped": flip, "influence": I})


def l2_sweep(X: np.ndarray, y: np.ndarray, X_val: np.ndarray, y_val: np.ndarray, l2s: list[float],
             indices: np.ndarray) -> pd.DataFrame:
    """How the L2 strength controls agreement between the utility influence and actual LOO.

    For each ``l2`` (sum-form objective, :class:`lib.models.LogisticRegression`) fits the model,
    predicts the change of the summed validation loss for the training samples ``indices``,
    retrains without each of them, and reports Spearman / Pearson / slope and the validation
    accuracy. Weak penalties let single high-leverage samples move the model beyond the
    first-order regime (slope and correlation drop); strong ones bias the model.
    """
    fs = influence.class_loss_quantities(X_val, y_val, int(np.max(y)) + 1)
    total: list[Quantity] = [lambda m, th: sum(f(m, th) for f in fs)]
    rows = []
    for l2 in l2s:
        model = LogisticRegression(l2=l2).fit(X, y)
        pred = influence.utility_influence(model, X, y, X_val, y_val)[indices]
        actual = influence.loo_effect(model, X, y, indices, total)[:, 0]
        rows.append({"l2": float(l2), **agreement(pred, actual), "val_accuracy": model.score(X_val, y_val)})
    return pd.DataFrame(rows)
