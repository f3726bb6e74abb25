"""[CH] on real data (Chhabra et al., ICLR 2024): §4 Fig. 2, App. C.1, D.1, D.2, E, F and H.

Everything chapter 5 (``notebooks/05_ch_trimming_real_data.py``) computes, as functions of arrays
and explicit seeds; the notebook loads data, calls these and plots. Building blocks:
:mod:`lib.influence` (influence of removing a sample), :mod:`lib.fairness` (the [CH] quantities,
the linear attack, hard-label DP gaps), :mod:`lib.trimming` (Algorithm 2 is ``rule="negative"``),
:mod:`lib.trees` (Algorithm 1) and :mod:`lib.tree_rules` (reading the trees), :mod:`lib.surrogate` (the
App. D.1 network and its convex surrogate), :mod:`lib.estimators.capped` (time-capped TMC-Shapley), :mod:`lib.ekfac` and
:mod:`lib.deep` (App. H), :mod:`lib.parallel` (independent retrainings).

Defaults the paper leaves out come from the authors' code (anshuman23/InfDataSel): budgets
``0 .. 5%`` of the training set in 10 steps (``np.linspace(0, int(0.05 n), 11)``), random trimming
with seeds 42, 1, 35, 999, 5454 (nested random subsets per seed), the linear attack with
``gamma = 1.3`` crafted once against the original model, 60/20/20 splits.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch

from .. import datasets, fairness, influence
from ..estimators.capped import CappedRun, gz19_error, prefix_utility, tmc_shapley_capped
from ..models import LogisticRegression
from ..parallel import map_tasks
from ..preprocessing import standardise
from ..reproducibility import torch_threads
from ..surrogate import SurrogateMLP, fit_surrogate_mlp, linearised_attack
from ..trees import InfluenceTree, fit_influence_tree
from ..trimming import random_trim, trim

DATASETS = ("adult", "bank", "celeba")
#: App. C.1: total rows (60/20/20 splits) and number of features of the paper's versions
PAPER_ROWS = {"adult": 45_222, "bank": 30_488, "celeba": 104_163}
PAPER_FEATURES = {"adult": 102, "bank": 51, "celeba": 39}
#: the authors' random-trimming seeds (SEC-4-2-HELPER.py)
RANDOM_SEEDS = (42, 1, 35, 999, 5454)
#: the influence functions, each with the test metric Fig. 2 plots and whether larger is better
TARGETS = {
    "utility": ("accuracy", True),
    "dp": ("dp", False),
    "eop": ("eop", False),
    "robustness": ("adv_accuracy", True),
}
#: the validation quantity each influence function predicts (lower is better for all)
QUANTITY = {"utility": "val_loss", "dp": "val_dp", "eop": "val_eop", "robustness": "val_adv_loss"}
#: [CH] Table 2 (App. E.1): influence vs TMC-Shapley execution times as printed
PAPER_TABLE2 = {
    "bank": ("1.659 s", "11.2 h"),
    "adult": ("4.061 s", "> 96 h"),
    "celeba": ("2.301 s", "> 96 h"),
    "jigsaw": ("85.42 s", "> 96 h"),
}


# ---------------------------------------------------------------------- data (App. C.1)
@dataclass
class Split:
    """Train / validation / test sets of one dataset, standardised with the training statistics
    (``mean``, ``scale``), with the sensitive groups; ``X_train_raw`` keeps the training features in
    original units (tree thresholds are shown as midpoints of original values)."""

    name: str
    X_train: np.ndarray
    y_train: np.ndarray
    g_train: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray
    g_val: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    g_test: np.ndarray
    feature_names: list[str]
    mean: np.ndarray
    scale: np.ndarray
    binary: dict[int, tuple[str, str]] = field(default_factory=dict)
    X_train_raw: np.ndarray | None = None

    @property
    def n_train(self) -> int:
        return len(self.y_train)


def split_dataset(
    ds: datasets.Dataset, n_rows: int | None, rng: np.random.Generator, fractions: Sequence[float] = (0.6, 0.2, 0.2)
) -> Split:
    """``n_rows`` random rows of ``ds`` (``None``: all) cut 60/20/20 (App. C.1) and standardised with the
    training mean and standard deviation. Columns with two values are recorded in ``binary`` (their two
    values as labels) so that tree rules read ``sex_Female = 1``."""
    if ds.groups is None:
        raise ValueError(f"dataset {ds.name!r} has no sensitive groups; [CH]'s fairness functions need them")
    n = len(ds) if n_rows is None else int(n_rows)
    if not 10 <= n <= len(ds):
        raise ValueError(f"n_rows must lie between 10 and the dataset's {len(ds)} rows, got {n_rows}")
    if len(fractions) != 3 or abs(sum(fractions) - 1) > 1e-9:
        raise ValueError(f"fractions must be three shares adding up to 1, got {fractions}")
    idx = rng.permutation(len(ds))[:n]
    n_tr, n_val = round(fractions[0] * n), round(fractions[1] * n)
    tr, va, te = idx[:n_tr], idx[n_tr : n_tr + n_val], idx[n_tr + n_val :]
    mean, scale = ds.X[tr].mean(0), ds.X[tr].std(0)
    scale = np.where(scale > 1e-12, scale, 1.0)
    X_train, X_val, X_test = standardise(ds.X[tr], ds.X[va], ds.X[te])
    binary = {}
    for j in range(ds.X.shape[1]):
        values = np.unique(ds.X[tr, j])
        if len(values) == 2:
            binary[j] = tuple(f"{v:g}" for v in values)
    names = list(ds.meta.get("feature_names", [f"x{j}" for j in range(ds.X.shape[1])]))
    return Split(
        ds.name,
        X_train,
        ds.y[tr],
        ds.groups[tr],
        X_val,
        ds.y[va],
        ds.groups[va],
        X_test,
        ds.y[te],
        ds.groups[te],
        names,
        mean,
        scale,
        binary,
        np.asarray(ds.X[tr], dtype=float),
    )


def trimming_budgets(n_train: int, fraction: float = 0.05, steps: int = 10) -> list[int]:
    """The authors' budgets: ``int`` of ``np.linspace(0, int(fraction * n_train), steps + 1)``."""
    if not 0 < fraction < 1 or steps < 1:
        raise ValueError(f"need 0 < fraction < 1 and steps >= 1, got {fraction}, {steps}")
    return [int(b) for b in np.linspace(0, int(fraction * n_train), steps + 1)]


# ---------------------------------------------------------------------- models
@dataclass(frozen=True)
class ModelSpec:
    """The base learner: ``"logistic"`` (the book's L2 logistic regression, §4) or ``"mlp"`` (App. D.1:
    two ReLU hidden layers of ``hidden`` units -- ``None`` = as many as input features, the authors'
    width -- trained by :func:`lib.surrogate.train_mlp` from ``seed``, last layer refitted as an L2
    logistic regression, the convex surrogate the influence is computed for)."""

    kind: str = "logistic"
    l2: float | str = "auto"
    hidden: int | None = 32
    depth: int = 2
    epochs: int = 100
    lr: float = 3e-3
    weight_decay: float = 0.0
    seed: int = 0

    def __post_init__(self) -> None:
        if self.kind not in ("logistic", "mlp"):
            raise ValueError(f"model kind must be 'logistic' or 'mlp', got {self.kind!r}")


Model = LogisticRegression | SurrogateMLP


def fit_model(
    spec: ModelSpec,
    X: np.ndarray,
    y: np.ndarray,
    weights: np.ndarray | None = None,
    warm_start: torch.Tensor | None = None,
) -> Model:
    """Train ``spec``'s model with per-sample ``weights`` (0 = trimmed). A logistic regression is
    trained to its unique optimum (``warm_start`` only saves Newton steps); the network retrains from
    ``spec.seed``'s initialisation, like the authors' fixed seed."""
    if spec.kind == "logistic":
        return LogisticRegression(l2=spec.l2).fit(X, y, sample_weight=weights, n_classes=2, warm_start=warm_start)
    return fit_surrogate_mlp(
        X,
        y,
        seed=spec.seed,
        sample_weight=weights,
        hidden=spec.hidden or X.shape[1],
        depth=spec.depth,
        epochs=spec.epochs,
        lr=spec.lr,
        weight_decay=spec.weight_decay,
        l2=spec.l2,
    )


def head_of(model: Model) -> LogisticRegression:
    """The convex model the influence is computed for: the model itself or the network's head."""
    return model if isinstance(model, LogisticRegression) else model.head


def features_of(model: Model, X: np.ndarray) -> np.ndarray:
    """The head's inputs: the features themselves, or the network's last hidden layer."""
    return np.asarray(X, dtype=float) if isinstance(model, LogisticRegression) else model.embed(X)


def attack(model: Model, X: np.ndarray, gamma: float = 1.3) -> np.ndarray:
    """[CH] §2's attack against ``model`` in input space: :func:`lib.fairness.linear_attack` for the
    logistic regression, its one-step linearisation (:func:`lib.surrogate.linearised_attack`) for the
    network (the authors attack the network's embedding instead, which a retrained network does not share)."""
    if isinstance(model, LogisticRegression):
        return fairness.linear_attack(model, X, gamma)
    return linearised_attack(model.input_logit, X, gamma)


def logits_of(model: Model, X: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return model.logits(X)[:, 0].numpy()


def validation_quantities(
    z_val: np.ndarray, y_val: np.ndarray, g_val: np.ndarray, z_adv: np.ndarray
) -> dict[str, float]:
    """The four quantities the influence functions predict, from a model's validation logits: summed
    log-loss (Eq. 1), DP gap of probabilities (Eq. 2), EOP loss gap (App. A, Eq. 4) and summed loss on
    the adversarial validation set (Eq. 3) -- the values of :mod:`lib.fairness`'s quantities."""
    y = np.asarray(y_val, float)
    g = np.asarray(g_val)
    loss = np.logaddexp(0.0, z_val) - y * z_val
    p = 1.0 / (1.0 + np.exp(-z_val))
    pos = y == 1
    return {
        "val_loss": float(loss.sum()),
        "val_dp": float(abs(p[g == 1].mean() - p[g == 0].mean())),
        "val_eop": float(abs(loss[pos & (g == 1)].mean() - loss[pos & (g == 0)].mean())),
        "val_adv_loss": float((np.logaddexp(0.0, z_adv) - y * z_adv).sum()),
    }


def label_gaps(y_true: np.ndarray, y_pred: np.ndarray, groups: np.ndarray) -> dict[str, float]:
    """Group gaps of *hard* predictions, the numbers the authors' evaluator (``eval.py`` of
    anshuman23/InfDataSel) reports in [CH] Fig. 2 and App. D.2: ``dp`` = ``|P(yhat=1 | g=1) -
    P(yhat=1 | g=0)|`` and ``eop`` = the same gap among the ``y = 1`` samples (of true-positive rates).
    The influence quantities (:func:`lib.fairness.dp_quantity`, :func:`lib.fairness.eop_quantity`) are
    their differentiable stand-ins: probabilities for DP, the ``y = 1`` loss for EOP (Eq. 2, App. A)."""
    y, p, g = (np.asarray(a).ravel() for a in (y_true, y_pred, groups))
    if not (y.shape == p.shape == g.shape):
        raise ValueError(f"y_true, y_pred and groups need one entry per sample, got {y.shape}, {p.shape}, {g.shape}")
    pos = y == 1
    return {"dp": abs(fairness.prediction_dp_gap(p, g)), "eop": abs(fairness.prediction_dp_gap(p[pos], g[pos]))}


def test_metrics(model: Model, split: Split, X_adv_test: np.ndarray) -> dict[str, float]:
    """What Fig. 2 / 8 / 9 plot, on the test set: accuracy, hard-label DP and EOP gaps (the authors'
    evaluator, :func:`label_gaps`), accuracy on the fixed adversarial test set."""
    pred = model.predict(split.X_test)
    return {
        "accuracy": float((pred == split.y_test).mean()),
        **label_gaps(split.y_test, pred, split.g_test),
        "adv_accuracy": float((model.predict(X_adv_test) == split.y_test).mean()),
    }


# ---------------------------------------------------------------------- the trimming study (Fig. 2, 8, 9)
@dataclass
class _Retrain:
    """One retraining task (picklable for :func:`lib.parallel.map_tasks`)."""

    spec: ModelSpec
    split: Split
    X_adv_val: np.ndarray
    X_adv_test: np.ndarray
    warm: torch.Tensor | None

    def __call__(self, removed: np.ndarray) -> dict[str, float]:
        keep = np.ones(self.split.n_train)
        keep[removed] = 0.0
        with torch_threads(1):  # one thread in every worker: the same summation order, the same numbers
            model = fit_model(self.spec, self.split.X_train, self.split.y_train, keep, self.warm)
            return evaluate(model, self.split, self.X_adv_val, self.X_adv_test)


def evaluate(model: Model, split: Split, X_adv_val: np.ndarray, X_adv_test: np.ndarray) -> dict[str, float]:
    """Test metrics and validation quantities of a (retrained) model."""
    q = validation_quantities(logits_of(model, split.X_val), split.y_val, split.g_val, logits_of(model, X_adv_val))
    return {**test_metrics(model, split, X_adv_test), **q}


@dataclass
class Study:
    """Output of :func:`trimming_study`: the base model, the influence of every training sample on each
    target (``influence[target]``, book sign: negative = removal predicted to help), the adversarial
    sets, the attack's flip rate on the test set, and the tidy curves (one row per target or random
    seed and budget)."""

    spec: ModelSpec
    split: Split
    model: Model
    influence: dict[str, np.ndarray]
    X_adv_val: np.ndarray
    X_adv_test: np.ndarray
    flip_rate: float
    curves: pd.DataFrame


def study_influence(model: Model, split: Split, X_adv_val: np.ndarray) -> dict[str, np.ndarray]:
    """Influence of removing each training sample on the four [CH] quantities (Eq. 1-4), computed for the
    convex head on its inputs (one Hessian, four solves)."""
    head = head_of(model)
    E_train, E_val = features_of(model, split.X_train), features_of(model, split.X_val)
    E_adv = features_of(model, X_adv_val)
    fs = {
        "utility": fairness.utility_quantity(E_val, split.y_val),
        "dp": fairness.dp_quantity(E_val, split.g_val),
        "eop": fairness.eop_quantity(E_val, split.y_val, split.g_val),
        "robustness": fairness.robustness_quantity(E_adv, split.y_val),
    }
    H = head.hessian(E_train, split.y_train)
    return {k: influence.influence_on(head, E_train, split.y_train, f, hessian=H) for k, f in fs.items()}


def trimming_study(
    split: Split,
    spec: ModelSpec,
    budgets: Sequence[int],
    *,
    targets: Sequence[str] = tuple(TARGETS),
    gamma: float = 1.3,
    random_seeds: Sequence[int] = RANDOM_SEEDS,
    rule: str = "negative",
    n_jobs: int = 1,
) -> Study:
    """[CH] §4 (Fig. 2; App. D.1 Fig. 8 with ``spec.kind="mlp"``; App. D.2 Fig. 9 with the ``"eop"`` target):
    fit, compute each target's influence on the validation set, trim with Algorithm 2 (``rule="negative"``:
    at most ``b`` samples, negative influence only, most negative first) for every budget, retrain,
    evaluate on the test set; random trimming removes the first ``b`` of a random order drawn with each
    of ``random_seeds`` (nested subsets, as the authors' ``random.sample(...)[:b]``).

    Rows: ``target`` (a key of :data:`TARGETS` or ``"random"``), ``seed`` (random rows), ``budget``,
    ``removed``, the test metrics, the validation quantities, and ``predicted_<target>``: the summed
    influence of the removed samples on each target, the first-order prediction of the change of that
    quantity (the right axis of the paper's double-y plots). Retrainings run through
    :func:`lib.parallel.map_tasks` (``n_jobs``), each a deterministic function of its removal set.
    """
    unknown = sorted(set(targets) - set(TARGETS))
    if unknown:
        raise ValueError(f"unknown target(s) {unknown}; choose from {', '.join(TARGETS)}")
    budgets = [int(b) for b in budgets]
    if not budgets or min(budgets) < 0 or max(budgets) > split.n_train:
        raise ValueError(f"budgets must lie in 0..{split.n_train}, got {budgets}")
    model = fit_model(spec, split.X_train, split.y_train)
    X_adv_val, X_adv_test = attack(model, split.X_val, gamma), attack(model, split.X_test, gamma)
    flip = float((model.predict(X_adv_test) != model.predict(split.X_test)).mean())
    infl = study_influence(model, split, X_adv_val)
    removals: list[tuple[str, int | None, int, np.ndarray]] = []
    for target in targets:
        for b in budgets:
            removals.append((target, None, b, trim(infl[target], b, rule).removed))
    for s in random_seeds:
        order = random_trim(split.n_train, max(budgets), np.random.default_rng(int(s))).removed
        for b in budgets:
            removals.append(("random", int(s), b, order[:b]))
    warm = model.theta_ if isinstance(model, LogisticRegression) else None
    job = _Retrain(spec, split, X_adv_val, X_adv_test, warm)
    base = evaluate(model, split, X_adv_val, X_adv_test)
    todo = [k for k, r in enumerate(removals) if len(r[3])]
    results = dict(zip(todo, map_tasks(job, [removals[k][3] for k in todo], n_jobs=n_jobs), strict=True))
    rows = []
    for k, (target, seed, b, removed) in enumerate(removals):
        row = {"target": target, "seed": seed, "budget": b, "removed": len(removed), **results.get(k, base)}
        row.update({f"predicted_{t}": float(infl[t][removed].sum()) for t in infl})
        rows.append(row)
    return Study(spec, split, model, infl, X_adv_val, X_adv_test, flip, pd.DataFrame(rows))


def first_order_stop(scores: np.ndarray, value: float) -> int:
    """The budget at which Algorithm 2's first-order prediction says a gap quantity reaches zero: the
    fewest most-negative samples whose summed influence (``scores``: one per training sample) is
    ``<= -value`` (``value`` = the gap on the validation set before trimming); the number of negative
    influences if they never get there. The
    quantities are absolute gaps, so trimming past this point is predicted to *open* the gap in the other
    direction (the authors' README: they clip fairness values below 0 to 0 instead)."""
    neg = np.sort(np.asarray(scores, float)[np.asarray(scores) < 0])
    reached = np.flatnonzero(np.cumsum(neg) <= -float(value))
    return int(reached[0] + 1) if len(reached) else len(neg)


def validation_gap(study: Study, target: str) -> float:
    """The gap quantity of ``target`` on the validation set before trimming (budget 0: the untrimmed
    model, the same in every row of that budget)."""
    base = study.curves[(study.curves.target == "random") & (study.curves.budget == 0)].iloc[0]
    return float(base[QUANTITY[target]])


def first_order_stopped(study: Study, target: str) -> dict[str, float]:
    """Algorithm 2 with the budget set by :func:`first_order_stop` (a choice made on the validation set
    only): retrain once with the ``stop`` most negative samples removed and return ``stop`` and the test
    metrics -- the fairness trimming the paper's fixed budgets would give if they stopped where the
    first-order prediction closes the validation gap."""
    if target not in ("dp", "eop"):
        raise ValueError(f"the first-order stop is defined for the gap targets 'dp' and 'eop', got {target!r}")
    b = first_order_stop(study.influence[target], validation_gap(study, target))
    keep = trim(study.influence[target], b, "negative").keep_mask.astype(float)
    warm = study.model.theta_ if isinstance(study.model, LogisticRegression) else None
    model = fit_model(study.spec, study.split.X_train, study.split.y_train, keep, warm)
    return {"stop": b, **evaluate(model, study.split, study.X_adv_val, study.X_adv_test)}


def target_curves(curves: pd.DataFrame, target: str) -> pd.DataFrame:
    """Per budget: the target's test metric after influence trimming, the random mean and sd over seeds,
    the predicted and actual change of the target's validation quantity."""
    metric, _ = TARGETS[target]
    inf = curves[curves.target == target].set_index("budget")
    rnd = curves[curves.target == "random"].groupby("budget")[metric]
    q = QUANTITY[target]
    base_q = inf[q].iloc[0] if inf.index[0] == 0 else np.nan
    return pd.DataFrame(
        {
            "removed": inf["removed"],
            "influence": inf[metric],
            "random mean": rnd.mean(),
            "random sd": rnd.std(ddof=1),
            "predicted change": inf[f"predicted_{target}"],
            "actual change": inf[q] - base_q,
        }
    )


def effect(curves: pd.DataFrame, target: str) -> dict[str, float]:
    """The change of the target's metric from budget 0 to the largest budget: after influence trimming, the
    random mean and sd of that change over seeds, and ``z``: how many random sds the influence change lies
    beyond the random mean, signed so that positive = better than random."""
    metric, higher = TARGETS[target]
    c = target_curves(curves, target)
    b0, b1 = c.index.min(), c.index.max()
    sign = 1.0 if higher else -1.0
    inf_change = c.loc[b1, "influence"] - c.loc[b0, "influence"]
    rnd = curves[curves.target == "random"]
    per_seed = rnd[rnd.budget == b1].set_index("seed")[metric] - rnd[rnd.budget == b0].set_index("seed")[metric]
    sd = float(per_seed.std(ddof=1))
    return {
        "metric": metric,
        "before": float(c.loc[b0, "influence"]),
        "after": float(c.loc[b1, "influence"]),
        "change": float(inf_change),
        "random change": float(per_seed.mean()),
        "random sd": sd,
        "z": float(sign * (inf_change - per_seed.mean()) / sd) if sd > 0 else np.nan,
        "improves": bool(sign * inf_change > 0),
        "budget": int(b1),
    }


def effects_table(studies: dict[tuple[str, str], Study], targets: Sequence[str]) -> pd.DataFrame:
    """:func:`effect` for every (dataset, model) study and target, one row each."""
    rows = []
    for (name, kind), st in studies.items():
        for t in targets:
            if t in set(st.curves.target):
                rows.append({"dataset": name, "model": kind, "target": t, **effect(st.curves, t)})
    return pd.DataFrame(rows)


def prediction_agreement(curves: pd.DataFrame, target: str) -> dict[str, float]:
    """Predicted (summed influence) vs actual (retrained) change of the target's validation quantity over
    the budgets > 0: Pearson correlation and the ratio at the largest budget (1 = first order exact)."""
    c = target_curves(curves, target)
    c = c[c.index > 0]
    r = float(np.corrcoef(c["predicted change"], c["actual change"])[0, 1]) if len(c) > 2 else np.nan
    last = c.iloc[-1]
    return {
        "pearson": r,
        "ratio at max budget": float(last["actual change"] / last["predicted change"])
        if last["predicted change"] != 0
        else np.nan,
    }


def double_y_plot(
    ax,
    curves: pd.DataFrame,
    target: str,
    title: str = "",
    ylabel: str | None = None,
    legend: bool = False,
    stop: int | None = None,
):
    """[CH]'s double-y plot: the target's test metric after influence trimming (blue) and random trimming
    (red: mean and the min-max band over the seeds) on the left axis; the summed influence of the trimmed
    samples (grey, dashed) on the right axis; a dotted vertical line at ``stop`` (the first-order stop of
    a gap quantity) when it lies within the budgets. Returns the right axis and, with ``legend``, the
    legend handles and labels."""
    metric, _ = TARGETS[target]
    c = target_curves(curves, target)
    rnd = curves[curves.target == "random"].groupby("budget")[metric]
    x = c.index.to_numpy()
    ax.plot(x, c["influence"], "o-", color="tab:blue", label="influence trimming", ms=4)
    ax.plot(x, c["random mean"], "s-", color="tab:red", label="random (mean of seeds)", ms=3)
    ax.fill_between(
        x, rnd.min().reindex(x), rnd.max().reindex(x), color="tab:red", alpha=0.2, label="random (min-max of seeds)"
    )
    if stop is not None and stop <= x.max():
        ax.axvline(stop, color="black", ls=":", lw=1, label="first-order stop")
    ax.set_xlabel("samples trimmed")
    ax.set_ylabel(ylabel or metric)
    ax.set_title(title, fontsize=10)
    ax2 = ax.twinx()
    ax2.plot(x, c["predicted change"], "--", color="grey", label="summed influence of trimmed")
    ax2.set_ylabel("summed influence", color="grey", fontsize=9)
    ax2.tick_params(axis="y", labelcolor="grey", labelsize=8)
    ax2.grid(False)
    if legend:
        h1, l1 = ax.get_legend_handles_labels()
        h2, l2 = ax2.get_legend_handles_labels()
        return ax2, (h1 + h2, l1 + l2)
    return ax2, None


# ---------------------------------------------------------------------- influence trees (Fig. 3, App. F)
@dataclass
class TreeFit:
    """One influence tree: the fitted tree (on influence normalised by ``max |I|``, as the authors' plots),
    the training columns it saw (``columns``, indices into the split's features; the label is appended),
    their names, the rule formatter inputs, and how well it summarises the influence."""

    tree: InfluenceTree
    columns: list[int]
    names: list[str]
    categories: dict[int, tuple[str, str]]
    scale: float
    sign_agreement: float
    r2: float

    def threshold_map(self, split: Split):
        """Tree thresholds in original units (the tree's column ``j`` is the split's ``columns[j]``): the
        midpoint of the two training values on either side, computed from the original values (CART's own
        midpoint, free of the round-off of undoing the standardisation); without ``X_train_raw``, the
        threshold unstandardised."""
        cols = self.columns

        def original(j: int, t: float) -> float:
            if j >= len(cols):
                return t
            c = cols[j]
            if split.X_train_raw is None:
                return t * split.scale[c] + split.mean[c]
            below = split.X_train[:, c] <= t
            return 0.5 * (split.X_train_raw[below, c].max() + split.X_train_raw[~below, c].min())

        return original


def distinct_partitions(split: Split) -> list[int]:
    """The feature columns without the binary ones that split the training set exactly like an earlier
    binary column (its complement or a copy: ``sex_Female`` and ``sex_Male`` of a one-hot sex). CART rates
    such columns identically, so which one it reports would be decided by round-off."""
    keep, seen = [], []
    for j in range(split.X_train.shape[1]):
        if j in split.binary:
            mask = split.X_train[:, j] == split.X_train[:, j].max()
            if any((mask == m).all() or (mask != m).all() for m in seen):
                continue
            seen.append(mask)
        keep.append(j)
    return keep


def influence_tree(
    split: Split, scores: np.ndarray, rng: np.random.Generator, lam: float = 10.0, max_depth: int = 3
) -> TreeFit:
    """[CH] Algorithm 1 on ``([x_i, y_i], I_i / max|I|)`` with ``I = scores`` (CART of depth ``max_depth``
    -- the authors' App. F trees have depth 3 -- then hierarchical shrinkage with ``lam``), on the columns of
    :func:`distinct_partitions`. Reports the fraction of training samples whose influence sign the tree
    gets right and the tree's R^2 on the normalised influence."""
    scale = float(np.abs(scores).max()) or 1.0
    target = np.asarray(scores, float) / scale
    cols = distinct_partitions(split)
    X = split.X_train[:, cols]
    tree = fit_influence_tree(X, split.y_train, target, rng, lam=lam, max_depth=max_depth, min_samples_leaf=5)
    pred = tree.predict(np.column_stack([X, split.y_train]))
    r2 = 1.0 - float(((pred - target) ** 2).sum() / ((target - target.mean()) ** 2).sum())
    cats = {k: split.binary[j] for k, j in enumerate(cols) if j in split.binary}
    cats[len(cols)] = ("0", "1")
    return TreeFit(
        tree,
        cols,
        [split.feature_names[j] for j in cols] + ["label"],
        cats,
        scale,
        float((np.sign(pred) == np.sign(target)).mean()),
        r2,
    )


# ---------------------------------------------------------------------- influence vs TMC-Shapley (App. E)
@dataclass
class ShapleyComparison:
    """Fig. 10 on one Bank subsample: the utility influence, the TMC-Shapley run, and the test accuracy
    after trimming by each (and by random trimming) at every budget."""

    influence: np.ndarray
    shapley: CappedRun
    curves: pd.DataFrame
    gz19_error: float


def shapley_vs_influence(
    X: np.ndarray,
    y: np.ndarray,
    rng: np.random.Generator,
    *,
    n_train: int = 100,
    n_val: int = 500,
    n_test: int = 1000,
    max_fraction: float = 0.125,
    l2: float | str = "auto",
    permutations: int = 100,
    truncation_tol: float = 0.01,
    time_budget_s: float = 3600.0,
    random_seeds: Sequence[int] = RANDOM_SEEDS,
) -> ShapleyComparison:
    """[CH] App. E.2 (Fig. 10): on ``n_train`` random rows (the paper: 100 Bank samples), remove up to
    ``max_fraction`` of them (12.5%) with Algorithm 2 by the utility influence (validation loss) and by
    TMC-Shapley values (GZ19's game: validation accuracy of a logistic regression fitted on the coalition,
    :func:`lib.estimators.capped.prefix_utility`, ``permutations`` permutations, truncated like GZ19's code
    once a prefix is within ``truncation_tol * U(D)`` of ``U(D)``), retrain, and measure the test accuracy;
    random trimming as the baseline."""
    tr, va, te = np.split(rng.permutation(len(y))[: n_train + n_val + n_test], [n_train, n_train + n_val])
    X_train, X_val, X_test = standardise(X[tr], X[va], X[te])
    y_train, y_val, y_test = y[tr], y[va], y[te]
    model = LogisticRegression(l2=l2).fit(X_train, y_train, n_classes=2)
    infl = influence.utility_influence(model, X_train, y_train, X_val, y_val)
    run = tmc_shapley_capped(
        prefix_utility(X_train, y_train, X_val, y_val, l2=l2, n_classes=2),
        n_train,
        rng,
        time_budget_s=time_budget_s,
        max_permutations=permutations,
        truncation_tol=truncation_tol,
        truncation_reference="value",
    )
    budgets = list(range(int(max_fraction * n_train) + 1))
    orders = {"influence": infl, "tmc-shapley": run.values}
    rows = []
    for b in budgets:
        for method, scores in orders.items():
            keep = trim(scores, b, "negative").keep_mask
            m = LogisticRegression(l2=l2).fit(X_train[keep], y_train[keep], n_classes=2)
            rows.append(
                {
                    "method": method,
                    "seed": None,
                    "budget": b,
                    "removed": int((~keep).sum()),
                    "accuracy": m.score(X_test, y_test),
                }
            )
    for s in random_seeds:
        order = random_trim(n_train, max(budgets), np.random.default_rng(int(s))).removed
        for b in budgets:
            keep = np.ones(n_train, bool)
            keep[order[:b]] = False
            m = LogisticRegression(l2=l2).fit(X_train[keep], y_train[keep], n_classes=2)
            rows.append(
                {"method": "random", "seed": int(s), "budget": b, "removed": b, "accuracy": m.score(X_test, y_test)}
            )
    return ShapleyComparison(infl, run, pd.DataFrame(rows), gz19_error(run.marginals))


# ---------------------------------------------------------------------- deep trimming (App. H)
@dataclass
class DeepTrimming:
    """App. H on a text set: per-query EKFAC influence ``scores`` (n_queries, n_train), the union of the
    training samples harmful to at least one query, the trimming order, and the retraining results."""

    scores: np.ndarray
    union: np.ndarray
    order: np.ndarray
    curves: pd.DataFrame


def deep_trimming(
    X: np.ndarray,
    y: np.ndarray,
    n_classes: int,
    rng: np.random.Generator,
    *,
    fractions: Sequence[float],
    seeds: Sequence[int],
    n_queries: int = 50,
    split: Sequence[float] = (0.6, 0.2, 0.2),
    hidden: int = 64,
    epochs: int = 30,
    lr: float = 0.05,
    batch_size: int = 32,
    weight_decay: float = 1e-3,
    damping: float | None = None,
) -> DeepTrimming:
    """[CH] App. H with the book's MLP head on frozen sentence embeddings (SST-2 / BERT are not offline):
    train on the training split (seed ``seeds[0]``), compute the EKFAC influence of every training sample on
    the loss of each of ``n_queries`` query samples (drawn from the validation split), take the union of
    the samples with a negative influence on at least one query, order it by the summed influence over the
    queries (most harmful first), trim ``fraction`` of the training set for each of ``fractions``, retrain
    with every seed of ``seeds`` and measure the accuracy on the held-out test split and on the queries;
    random trimming with the same seeds is the baseline."""
    from .. import deep, ekfac

    y = np.asarray(y)
    n = len(y)
    perm = rng.permutation(n)
    n_tr, n_val = round(split[0] * n), round(split[1] * n)
    tr, va, te = perm[:n_tr], perm[n_tr : n_tr + n_val], perm[n_tr + n_val :]
    if n_queries > len(va):
        raise ValueError(f"n_queries={n_queries} exceeds the validation split ({len(va)} samples)")
    q = va[:n_queries]
    X = np.asarray(X, np.float32)
    kwargs = {"n_classes": n_classes, "d_in": X.shape[1], "hidden": hidden}
    train_kw = {
        "epochs": epochs,
        "lr": lr,
        "batch_size": batch_size,
        "weight_decay": weight_decay,
        "n_classes": n_classes,
    }

    def fit(keep: np.ndarray, seed: int):
        model = deep.build("mlp_head", np.random.default_rng([seed, 1]), **kwargs)
        deep.train(model, X[tr][keep], y[tr][keep], rng=np.random.default_rng([seed, 2]), **train_kw)
        return model

    def accuracy(model, idx) -> float:
        return float((deep.predict_logits(model, X[idx]).argmax(1).numpy() == y[idx]).mean())

    base = fit(np.ones(n_tr, bool), int(seeds[0]))
    S = ekfac.pairwise_scores(
        base, X[tr], y[tr], X[q], y[q], rng=np.random.default_rng([int(seeds[0]), 3]), damping=damping
    )
    union = np.flatnonzero((S < 0).any(0))
    total = S.sum(0)
    order = union[np.argsort(total[union], kind="stable")]
    rows = []
    for frac in fractions:
        b = round(frac * n_tr)
        for method in ("influence", "random"):
            for s in seeds:
                if method == "influence":
                    removed = order[: min(b, len(order))]
                else:
                    removed = random_trim(n_tr, b, np.random.default_rng([int(s), 4])).removed
                keep = np.ones(n_tr, bool)
                keep[removed] = False
                m = fit(keep, int(s))
                rows.append(
                    {
                        "method": method,
                        "seed": int(s),
                        "fraction": float(frac),
                        "removed": len(removed),
                        "test accuracy": accuracy(m, te),
                        "query accuracy": accuracy(m, q),
                    }
                )
    return DeepTrimming(S, union, order, pd.DataFrame(rows))


__all__ = [
    "DATASETS",
    "PAPER_FEATURES",
    "PAPER_ROWS",
    "PAPER_TABLE2",
    "QUANTITY",
    "RANDOM_SEEDS",
    "TARGETS",
    "DeepTrimming",
    "ModelSpec",
    "ShapleyComparison",
    "Split",
    "Study",
    "TreeFit",
    "attack",
    "deep_trimming",
    "distinct_partitions",
    "double_y_plot",
    "effect",
    "effects_table",
    "evaluate",
    "first_order_stop",
    "first_order_stopped",
    "fit_model",
    "influence_tree",
    "label_gaps",
    "prediction_agreement",
    "shapley_vs_influence",
    "split_dataset",
    "study_influence",
    "target_curves",
    "test_metrics",
    "trimming_budgets",
    "trimming_study",
    "validation_quantities",
]


def claims(
    *,
    lr_effects,
    mlp_effects,
    lr_dp_gaps,
    mlp_dp_gaps,
    splits,
    eop_effects,
    eop_gaps,
    tree_table,
    tree_depth,
    gain10,
    shapley_seeds,
    shapley_permutations,
    table2_file,
    text_fractions,
    summary_h,
    se_test,
    se_query,
    text_dataset,
) -> list[dict]:
    """The chapter's claims table ([CH] Fig. 2, 3, 8-10, Table 2, App. D and H), every verdict computed
    from the page's measurements."""

    def pick(table, **kw):
        mask = np.ones(len(table), bool)
        for k, v in kw.items():
            mask &= (table[k] == v).to_numpy()
        return table[mask].iloc[0]

    def improves_beyond_random(row, z_min=2.0):
        return bool(row["improves"] and row["z"] > z_min)

    claims = []
    dp_gaps = {"logistic": lr_dp_gaps, "mlp": mlp_dp_gaps}
    for kind, eff in (("logistic", lr_effects), ("mlp", mlp_effects)):
        fig_name = "Fig. 2" if kind == "logistic" else "App. D.1 (Fig. 8)"
        for t, label in (("dp", "fairness (DP)"), ("robustness", "robustness (adversarial accuracy)")):
            sub = eff[eff.target == t]
            ok = [improves_beyond_random(r) for _, r in sub.iterrows()]
            sign = 1 if t == "robustness" else -1  # the good direction of the metric
            random_flat = [
                sign * r["random change"] < max(2 * r["random sd"], 0.25 * sign * r["change"])
                for _, r in sub.iterrows()
            ]
            claims.append(
                {
                    "claim": f"{fig_name}, {kind}: trimming improves {label}, random trimming does not",
                    "paper": "significant improvement on all sets; random fails",
                    "measured": "; ".join(
                        f"{r.dataset}: {r.before:.3f} -> {r.after:.3f} (random {r['random change']:+.3f} "
                        f"± {r['random sd']:.3f}, z = {r.z:.0f})"
                        for _, r in sub.iterrows()
                    )
                    + (
                        ""
                        if t != "dp"
                        else "; at the first-order stop: "
                        + ", ".join(
                            f"{g['set']} {g['at stop']:.3f} (b = {g['stop']})" for _, g in dp_gaps[kind].iterrows()
                        )
                    ),
                    "verdict": "reproduced"
                    if all(ok) and all(random_flat)
                    else ("partly" if any(ok) else "not reproduced"),
                    "why": f"better than random by > 2 sd on {sum(ok)} of {len(ok)} sets at b = 5%; random 'fails' "
                    f"when its gain is < 2 sd or < 1/4 of influence's (so on {sum(random_flat)} of {len(ok)})",
                }
            )
    u = lr_effects[lr_effects.target == "utility"]
    claims.append(
        {
            "claim": "Fig. 2: trimming does not improve accuracy much on most sets",
            "paper": "little change except Bank",
            "measured": "; ".join(f"{r.dataset}: {100 * r.change:+.1f} pts" for _, r in u.iterrows()),
            "verdict": "reproduced" if (u.change.abs() < 0.02).sum() >= 2 else "not reproduced",
            "why": "changes of test accuracy at b = 5% under 2 points",
        }
    )
    ub = pick(lr_effects, dataset="bank", target="utility") if "bank" in splits else None
    if ub is not None:
        claims.append(
            {
                "claim": "Fig. 2: Bank, trimming gives a 10% accuracy increase",
                "paper": "+10%",
                "measured": f"{100 * ub.change:+.1f} pts ({ub.before:.3f} -> {ub.after:.3f})",
                "verdict": "reproduced" if ub.change >= 0.05 else "not reproduced",
                "why": "our Bank file and split differ from the authors'; the untrimmed model is already near 90%",
            }
        )
    mu = mlp_effects[mlp_effects.target == "utility"]
    claims.append(
        {
            "claim": "App. D.1: with the MLP, trimming improves utility on every set",
            "paper": "improves; random does not",
            "measured": "; ".join(f"{r.dataset}: {100 * r.change:+.1f} pts (z = {r.z:.1f})" for _, r in mu.iterrows()),
            "verdict": "reproduced"
            if all(improves_beyond_random(r) for _, r in mu.iterrows())
            else ("partly" if any(improves_beyond_random(r) for _, r in mu.iterrows()) else "not reproduced"),
            "why": "last-layer surrogate, whole network retrained; z = distance from random in random sds",
        }
    )
    ok_eop = [improves_beyond_random(r) for _, r in eop_effects.iterrows()]
    claims.append(
        {
            "claim": "App. D.2: EOP trimming improves fairness for both models on all sets",
            "paper": "significant improvement everywhere",
            "measured": "; ".join(
                f"{r.dataset}/{r.model}: {r.before:.3f} -> {r.after:.3f}" for _, r in eop_effects.iterrows()
            ),
            "verdict": "reproduced" if all(ok_eop) else ("partly" if any(ok_eop) else "not reproduced"),
            "why": f"better than random on {sum(ok_eop)} of {len(ok_eop)}; fixed budgets overshoot small gaps "
            "(the authors clip negative gaps to 0); at the first-order stop lower than before on "
            f"{int((eop_gaps['at stop'] < eop_gaps['test gap']).sum())} of {len(eop_gaps)}",
        }
    )
    trees_good = bool(tree_table["R2"].median() >= 0.5 and tree_table["sign agreement"].median() >= 0.75)
    claims.append(
        {
            "claim": "Fig. 3 / App. F: trees show which feature ranges help or hurt",
            "paper": "descriptive trees, no numbers",
            "measured": f"sign agreement {tree_table['sign agreement'].min():.2f}-"
            f"{tree_table['sign agreement'].max():.2f}, "
            f"R2 {tree_table['R2'].min():.2f}-{tree_table['R2'].max():.2f} (depth {tree_depth})",
            "verdict": "reproduced" if trees_good else "partly",
            "why": "readable rules; median R2 and sign agreement of the depth-3 trees "
            f"{tree_table['R2'].median():.2f} and {tree_table['sign agreement'].median():.2f}",
        }
    )
    claims.append(
        {
            "claim": "Fig. 10: influence trimming outperforms TMC-Shapley trimming (Bank, 100 samples)",
            "paper": "influence better",
            "measured": ", ".join(f"{m} {100 * v:+.2f} pts" for m, v in gain10.items()) + " (mean gain over budgets)",
            "verdict": "reproduced"
            if gain10["influence"] > gain10["tmc-shapley"] + 0.005
            else ("partly" if gain10["influence"] >= gain10["tmc-shapley"] - 0.005 else "not reproduced"),
            "why": f"within 0.5 pts counts as partly (as good, not better); {len(shapley_seeds)} subsamples, "
            f"{shapley_permutations} permutations, GZ19 not converged",
        }
    )
    if table2_file.exists():
        t2 = pd.read_csv(table2_file.with_suffix(".csv")).set_index("dataset")
        speedup = t2.tmc_100_h * 3600 / t2.influence_s  # lower bound: 100 permutations at the measured rate
        claims.append(
            {
                "claim": "Table 2: influence is orders of magnitude faster than TMC-Shapley",
                "paper": "; ".join(f"{n}: {' vs '.join(PAPER_TABLE2[n])}" for n in t2.index),
                "measured": "; ".join(
                    f"{n}: {r.influence_s:.2f} s vs >= {r.tmc_100_h:.1f} h" for n, r in t2.iterrows()
                ),
                "verdict": "reproduced" if (speedup >= 100).all() else "partly",
                "why": f"TMC-Shapley >= {speedup.min():,.0f}x slower (100 permutations at the measured rate); "
                "benchmark machine, estimates, not converged runs",
            }
        )
        if "bank" in t2.index:
            r = t2.loc["bank"]
            inside = r.tmc_100_h <= 11.2 <= r.tmc_n_h
            claims.append(
                {
                    "claim": "Table 2: TMC-Shapley takes 11.2 hours on Bank",
                    "paper": "11.2 h",
                    "measured": f"{r.tmc_s_per_permutation:.1f} s per permutation: {r.tmc_100_h:.2f} h for 100, "
                    f"{r.tmc_n_h:.0f} h for n = {r.n_train:,} permutations",
                    "verdict": "partly" if inside else "not reproduced",
                    "why": ("11.2 h lies between our two estimates" if inside else "outside our two estimates")
                    + "; no run to GZ19's convergence",
                }
            )
    f_max = max(text_fractions)

    def h_gain(method, col):
        """Mean change from no trimming to the largest fraction, and the seeds' sd at the largest fraction."""
        return (
            summary_h.loc[(method, f_max), (col, "mean")] - summary_h.loc[(method, 0.0), (col, "mean")],
            summary_h.loc[(method, f_max), (col, "std")],
        )

    (t_inf, t_sd), (t_rnd, _) = h_gain("influence", "test accuracy"), h_gain("random", "test accuracy")
    (q_inf, q_sd), (q_rnd, _) = h_gain("influence", "query accuracy"), h_gain("random", "query accuracy")
    test_up = t_inf > max(t_rnd, 0) + max(t_sd, se_test)
    query_up = q_inf > max(q_rnd, 0) + max(q_sd, se_query)
    claims.append(
        {
            "claim": "App. H: influence trimming raises a deep model's test accuracy",
            "paper": "BERT on SST-2: test accuracy improves",
            "measured": f"MLP head on MiniLM ({text_dataset}), {100 * f_max:.0f}% trimmed: held-out test "
            f"{t_inf:+.3f} (random {t_rnd:+.3f}), the 50 queries {q_inf:+.3f} (random {q_rnd:+.3f})",
            "verdict": "reproduced" if test_up else ("partly" if query_up else "not reproduced"),
            "why": "a gain counts when it exceeds random's by more than the seeds' sd and the binomial error; "
            "the queries are the samples the influence was computed for; SST-2/BERT not offline",
        }
    )
    claims.append(
        {
            "claim": "Jigsaw Toxicity (Fig. 2, 8, 9, App. F) and BERT/SST-2 (App. H)",
            "paper": "four sets, BERT",
            "measured": "not run",
            "verdict": "not reproduced",
            "why": "no offline source for Jigsaw, SST-2 or BERT weights",
        }
    )
    return claims


def first_order_stops(studies: dict, target: str) -> dict:
    """First-order stop of a gap target per set: where the summed influence closes the validation gap."""
    return {name: first_order_stop(st.influence[target], validation_gap(st, target)) for name, st in studies.items()}


def show_effects(table: pd.DataFrame, by: str = "target") -> None:
    """Before / after the largest budget, the change, random trimming's change (mean ± sd), z."""
    out = pd.DataFrame(
        {
            "set": table["dataset"],
            by: table[by],
            "before": table["before"].round(3),
            "after": table["after"].round(3),
            "change": table["change"].round(3),
            "random": [
                f"{m:+.3f} ± {sd:.3f}" for m, sd in zip(table["random change"], table["random sd"], strict=True)
            ],
            "z": table["z"].round(1),
        }
    )
    print(out.to_string(index=False))


def gap_table(studies: dict, kind: str, target: str, budget_fraction: float) -> pd.DataFrame:
    """The gap target at the largest budget and with Algorithm 2 stopped at the first-order stop."""
    rows = []
    for name, st in studies.items():
        e, s = effect(st.curves, target), first_order_stopped(st, target)
        rows.append(
            {
                "set": name,
                "model": kind,
                "val gap": validation_gap(st, target),
                "test gap": e["before"],
                f"at {budget_fraction:.0%}": e["after"],
                "stop": s["stop"],
                "at stop": s[TARGETS[target][0]],
            }
        )
    return pd.DataFrame(rows)


def agreement_table(studies: dict, targets: Sequence[str]) -> pd.DataFrame:
    """Pearson correlation and ratio of predicted and actual change per set and target
    (:func:`prediction_agreement`), rounded for a checked cell."""
    rows = [
        {"dataset": n, "target": t, **prediction_agreement(st.curves, t)} for n, st in studies.items() for t in targets
    ]
    return pd.DataFrame(rows).round(2)
