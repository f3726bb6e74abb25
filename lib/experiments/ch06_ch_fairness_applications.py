"""Chapter 6's drivers ([CH] §5.1-5.3): fairness under distribution shift (Fig. 4), trimming as a
defence against fairness poisoning (Table 1), and trimming against an adaptive evasion attacker
(Fig. 5). The algorithms are in :mod:`lib.shift`, :mod:`lib.poisoning`, :mod:`lib.fairness`,
:mod:`lib.influence` and :mod:`lib.trimming`; this module splits the data, runs the seeds and returns
tidy tables for ``notebooks/06_ch_fairness_applications.py``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..datasets import Dataset
from ..fairness import dp_quantity, linear_attack, prediction_dp_gap, robustness_quantity
from ..influence import influence_on, utility_influence
from ..models import LogisticRegression
from ..parallel import map_tasks, task_rng
from ..poisoning import advantaged_group, anchoring_attack, bias
from ..preprocessing import split_indices, standardise
from ..reweighing import influence_reweighing
from ..shift import correlation_shift, joint_table, label_gap, resample_to_table
from ..trimming import random_trim, trim

#: [CH] Table 1 as printed (signed DP of hard predictions; Drug consumption has no offline source)
PAPER_TABLE1 = pd.DataFrame(
    {
        "German DP": [0.117, -0.029, 0.000, 0.268, 0.005],
        "German ACC": [0.670, 0.655, 0.650, 0.665, 0.650],
        "Compas DP": [-0.281, -0.060, -0.082, 0.168, 0.048],
        "Compas ACC": [0.652, 0.630, 0.643, 0.652, 0.654],
        "Drug DP": [0.371, 0.225, 0.090, 0.501, 0.142],
        "Drug ACC": [0.668, 0.657, 0.616, 0.665, 0.657],
    },
    index=["Before", "RAA", "RAA + Ours", "NRAA", "NRAA + Ours"],
)


def _fit(X: np.ndarray, y: np.ndarray, l2: float | str, weights: np.ndarray | None = None) -> LogisticRegression:
    return LogisticRegression(l2=l2).fit(X, y, sample_weight=weights, n_classes=2)


def _metrics(pred: np.ndarray, y: np.ndarray, g: np.ndarray) -> dict[str, float]:
    dp = prediction_dp_gap(pred, g)
    return {"accuracy": float((pred == y).mean()), "dp_signed": dp, "dp": abs(dp)}


# ---------------------------------------------------------------------- §5.1 distribution shift
@dataclass
class ShiftSplit:
    """One unshifted training set and, per shift, a validation and a test set resampled to the shifted
    ``(g, y)`` table (disjoint halves of the remaining data), standardised with training statistics."""

    X_train: np.ndarray
    y_train: np.ndarray
    g_train: np.ndarray
    shifts: dict[str, dict[str, np.ndarray]]
    tables: dict[str, np.ndarray]


def shift_split(
    ds: Dataset, n_train: int, n_val: int, n_test: int, strengths: dict[str, float], rng: np.random.Generator
) -> ShiftSplit:
    """Training set drawn uniformly; for every named shift (``name -> strength`` of
    :func:`lib.shift.correlation_shift` on the training table) a validation set from one half of
    the rest and a test set from the other half, both resampled to the shifted table."""
    if ds.groups is None:
        raise ValueError(f"dataset {ds.name} has no sensitive groups")
    tr, rest = split_indices(len(ds.y), [n_train, len(ds.y) - n_train], rng)
    half_v, half_t = rest[: len(rest) // 2], rest[len(rest) // 2 :]
    base = joint_table(ds.y[tr], ds.groups[tr])
    tables = {"training": base}
    shifts = {}
    for name, s in strengths.items():
        target = correlation_shift(base, s)
        tables[name] = target
        parts = {}
        for part, n, pool in (("val", n_val, half_v), ("test", n_test, half_t)):
            avail = np.zeros(len(ds.y), bool)
            avail[pool] = True
            parts[part] = resample_to_table(ds.y, ds.groups, target, n, rng, available=avail)
        shifts[name] = parts
    Xs = standardise(ds.X[tr], *(ds.X[p[k]] for p in shifts.values() for k in ("val", "test")))
    out = {}
    for j, (name, p) in enumerate(shifts.items()):
        out[name] = {
            "X_val": Xs[1 + 2 * j],
            "y_val": ds.y[p["val"]],
            "g_val": ds.groups[p["val"]],
            "X_test": Xs[2 + 2 * j],
            "y_test": ds.y[p["test"]],
            "g_test": ds.groups[p["test"]],
        }
    return ShiftSplit(Xs[0], ds.y[tr], ds.groups[tr], out, tables)


def shift_tables(split: ShiftSplit) -> pd.DataFrame:
    """The ``(g, y)`` tables and label gaps of the training set and of every shift."""
    rows = [
        {
            "distribution": k,
            "P(g=0,y=0)": t[0, 0],
            "P(g=0,y=1)": t[0, 1],
            "P(g=1,y=0)": t[1, 0],
            "P(g=1,y=1)": t[1, 1],
            "label gap P(y=1|g=1)-P(y=1|g=0)": label_gap(t),
        }
        for k, t in split.tables.items()
    ]
    return pd.DataFrame(rows).set_index("distribution")


def _fairlearn_models(X: np.ndarray, y: np.ndarray, g: np.ndarray, C: float, rs: int) -> dict[str, object]:
    """fairlearn's ExponentiatedGradient (in-processing) and ThresholdOptimizer (post-processing),
    both for demographic parity, on a scikit-learn logistic regression with the book's objective."""
    from fairlearn.postprocessing import ThresholdOptimizer
    from fairlearn.reductions import DemographicParity, ExponentiatedGradient
    from sklearn.linear_model import LogisticRegression as SkLogistic

    base = SkLogistic(C=C, max_iter=5000, tol=1e-8)
    eg = ExponentiatedGradient(base, DemographicParity()).fit(X, y, sensitive_features=g)
    to = ThresholdOptimizer(
        estimator=SkLogistic(C=C, max_iter=5000, tol=1e-8),
        constraints="demographic_parity",
        predict_method="predict_proba",
    ).fit(X, y, sensitive_features=g)
    return {
        "ExponentiatedGradient": lambda Xq, gq: eg.predict(Xq, random_state=rs),
        "ThresholdOptimizer": lambda Xq, gq: to.predict(Xq, sensitive_features=gq, random_state=rs),
    }


def _reweighed(
    model: LogisticRegression,
    X: np.ndarray,
    y: np.ndarray,
    X_val: np.ndarray,
    y_val: np.ndarray,
    g_val: np.ndarray,
    alpha: float,
) -> LogisticRegression:
    """Influence-based reweighing (:func:`lib.reweighing.influence_reweighing`, after Li & Liu 2022)
    of ``model``'s training set for the DP gap on the validation set, and the refitted model."""
    dp = dp_quantity(X_val, g_val)
    f0 = float(dp(model, model.theta_))
    r = influence_reweighing(influence_on(model, X, y, dp), utility_influence(model, X, y, X_val, y_val), f0, alpha)
    return _fit(X, y, model.l2_, r.weights)


def _shift_seed(task: tuple) -> list[dict]:
    ds, seed, i, n_train, n_val, n_test, strengths, budget, l2, alpha = task
    rng = task_rng(seed, i)
    split = shift_split(ds, n_train, n_val, n_test, strengths, rng)
    Xtr, ytr, gtr = split.X_train, split.y_train, split.g_train
    vanilla = _fit(Xtr, ytr, l2)
    C = 1.0 / vanilla.l2_  # scikit-learn's C * sum(loss) + ||w||^2 / 2 is the book's objective / C
    rs = int(rng.integers(0, 2**31 - 1))
    fair_before = _fairlearn_models(Xtr, ytr, gtr, C, rs)
    rows = []
    for name, p in split.shifts.items():
        scores = influence_on(vanilla, Xtr, ytr, dp_quantity(p["X_val"], p["g_val"]))
        t = trim(scores, budget, "negative")
        keep = t.keep_mask
        trimmed = _fit(Xtr[keep], ytr[keep], vanilla.l2_)
        rw_before = _reweighed(vanilla, Xtr, ytr, p["X_val"], p["y_val"], p["g_val"], alpha)
        rw_after = _reweighed(trimmed, Xtr[keep], ytr[keep], p["X_val"], p["y_val"], p["g_val"], alpha)
        rk = random_trim(len(ytr), len(t.removed), rng).keep_mask
        rand = _fit(Xtr[rk], ytr[rk], vanilla.l2_)

        def lr(m):
            return lambda Xq, gq: m.predict(Xq)

        cases = [("vanilla LR", "no trimming", lr(vanilla)), ("influence reweighing", "no trimming", lr(rw_before))]
        cases += [(m, "no trimming", f) for m, f in fair_before.items()]
        cases += [
            ("vanilla LR", "influence trimming", lr(trimmed)),
            ("influence reweighing", "influence trimming", lr(rw_after)),
        ]
        cases += [
            (m, "influence trimming", f) for m, f in _fairlearn_models(Xtr[keep], ytr[keep], gtr[keep], C, rs).items()
        ]
        cases += [("vanilla LR", "random trimming", lr(rand))]
        for method, variant, predict in cases:
            pred = np.asarray(predict(p["X_test"], p["g_test"])).astype(int)
            rows.append(
                {
                    "seed": seed,
                    "shift": name,
                    "method": method,
                    "variant": variant,
                    "removed": 0 if variant == "no trimming" else len(t.removed),
                    **_metrics(pred, p["y_test"], p["g_test"]),
                }
            )
    return rows


def shift_experiment(
    ds: Dataset,
    seeds: Sequence[int],
    n_train: int,
    n_val: int,
    n_test: int,
    strengths: dict[str, float],
    budget_fraction: float = 1 / 30,
    l2: float | str = "auto",
    reweigh_alpha: float = 0.5,
    n_jobs: int = 1,
) -> pd.DataFrame:
    """[CH] §5.1 / Fig. 4: per seed and shift, test accuracy and |DP| (hard predictions) of vanilla
    LR, influence-based reweighing (``reweigh_alpha``), ExponentiatedGradient and ThresholdOptimizer,
    each without and with influence trimming
    (``b = budget_fraction * n_train`` by [CH] Algorithm 2 on the DP influence on the shifted
    validation set, logistic regression as the surrogate, App. C.2), and vanilla LR after random
    trimming of the same number of samples."""
    budget = round(budget_fraction * n_train)
    tasks = [(ds, int(s), i, n_train, n_val, n_test, strengths, budget, l2, reweigh_alpha) for i, s in enumerate(seeds)]
    return pd.DataFrame([r for rows in map_tasks(_shift_seed, tasks, n_jobs=n_jobs) for r in rows])


# ---------------------------------------------------------------------- §5.2 poisoning defence
def _poison_seed(task: tuple) -> list[dict]:
    ds, seed, i, fractions, eps, tau, budgets, l2, n_candidates = task
    rng = task_rng(seed, i)
    n = len(ds.y)
    sizes = [round(f * n) for f in fractions]
    tr, va, te = split_indices(n, sizes, rng)
    Xtr, Xva, Xte = standardise(ds.X[tr], ds.X[va], ds.X[te])
    ytr, yte = ds.y[tr], ds.y[te]
    gtr, gva, gte = ds.groups[tr], ds.groups[va], ds.groups[te]
    clean = _fit(Xtr, ytr, l2)
    adv = advantaged_group(ytr, gtr)
    rows = [
        {
            "seed": seed,
            "attack": "none",
            "defence": "none",
            "budget": 0.0,
            "removed": 0,
            "poison_removed": 0,
            **_metrics(clean.predict(Xte), yte, gte),
            "bias": bias(clean.predict(Xte), gte, adv),
            "val_dp": abs(prediction_dp_gap(clean.predict(Xva), gva)),
        }
    ]
    for attack in ("RAA", "NRAA"):
        P = anchoring_attack(
            Xtr,
            ytr,
            gtr,
            rng,
            attack,
            eps=eps,
            tau=tau,
            n_candidates=n_candidates,
            fit=lambda X, y: _fit(X, y, l2).predict,
        )
        Xp, yp, _, is_poison = P.combine(Xtr, ytr, gtr)
        model = _fit(Xp, yp, l2)
        scores = influence_on(model, Xp, yp, dp_quantity(Xva, gva))

        def row(defence, b, kept, removed, m, attack=attack, is_poison=is_poison):
            pred = m.predict(Xte)
            return {
                "seed": seed,
                "attack": attack,
                "defence": defence,
                "budget": b,
                "removed": len(removed),
                "poison_removed": int(is_poison[removed].sum()),
                **_metrics(pred, yte, gte),
                "bias": bias(pred, gte, adv),
                "val_dp": abs(prediction_dp_gap(m.predict(Xva), gva)),
            }

        rows.append(row("none", 0.0, np.arange(len(yp)), np.empty(0, int), model))
        for b in budgets:
            k = round(b * len(yp))
            t = trim(scores, k, "negative")
            rows.append(row("influence", b, t.kept, t.removed, _fit(Xp[t.keep_mask], yp[t.keep_mask], model.l2_)))
            r = random_trim(len(yp), k, rng)
            rows.append(row("random", b, r.kept, r.removed, _fit(Xp[r.keep_mask], yp[r.keep_mask], model.l2_)))
    return rows


def poisoning_experiment(
    ds: Dataset,
    seeds: Sequence[int],
    fractions: Sequence[float] = (0.6, 0.2, 0.2),
    eps: float = 0.1,
    tau: float = 0.1,
    budgets: Sequence[float] = (0.01, 0.025, 0.05, 0.1),
    l2: float | str = "auto",
    n_candidates: int | None = 10,
    n_jobs: int = 1,
) -> pd.DataFrame:
    """[CH] §5.2 / Table 1: per seed, a train/validation/test split; RAA and NRAA with budget ``eps``;
    the poisoned model; influence trimming (Algorithm 2, DP influence on the clean validation set)
    and random trimming at every ``budgets`` fraction of the poisoned training set. Rows carry test
    accuracy, signed and absolute DP, the attack's ``bias`` (advantaged minus disadvantaged),
    the validation |DP| (what a defender can see) and how many removed samples were poison."""
    tasks = [(ds, int(s), i, tuple(fractions), eps, tau, tuple(budgets), l2, n_candidates) for i, s in enumerate(seeds)]
    return pd.DataFrame([r for rows in map_tasks(_poison_seed, tasks, n_jobs=n_jobs) for r in rows])


def table1(results: pd.DataFrame, budget: float | str = "validation") -> pd.DataFrame:
    """Table 1's layout (Before / RAA / RAA + trimming / NRAA / NRAA + trimming): mean and sd over
    seeds of the signed and absolute DP and of the accuracy. ``budget`` is a trimming fraction or
    ``"validation"``: per seed and attack, the budget with the smallest validation |DP| (a defender's
    choice; ties go to the smaller budget)."""
    r = results
    parts = {"Before": r[r.attack == "none"]}
    for attack in ("RAA", "NRAA"):
        parts[attack] = r[(r.attack == attack) & (r.defence == "none")]
        inf = r[(r.attack == attack) & (r.defence == "influence")]
        if budget == "validation":
            inf = inf.sort_values(["seed", "val_dp", "budget"]).groupby("seed").head(1)
        else:
            inf = inf[np.isclose(inf.budget, float(budget))]
        parts[f"{attack} + trimming"] = inf
    rows = []
    for name, df in parts.items():
        rows.append(
            {
                "row": name,
                "DP (signed)": df.dp_signed.mean(),
                "|DP|": df.dp.mean(),
                "|DP| sd": df.dp.std(),
                "accuracy": df.accuracy.mean(),
                "accuracy sd": df.accuracy.std(),
                "budget": df.budget.mean(),
                "seeds": len(df),
            }
        )
    return pd.DataFrame(rows).set_index("row")


# ---------------------------------------------------------------------- §5.3 adaptive evasion
def partial_attack(
    model: LogisticRegression,
    X: np.ndarray,
    rng: np.random.Generator,
    low: float = 0.05,
    high: float = 0.25,
    gamma: float = 1.3,
) -> tuple[np.ndarray, np.ndarray]:
    """The adaptive attacker of [CH] §5.3 (authors' code): a random number of points, between
    ``low`` and ``high`` of the set (``rng.integers``, high exclusive), chosen at random and moved
    by :func:`lib.fairness.linear_attack` against ``model``. Returns the attacked set and the mask."""
    n = len(X)
    k = int(rng.integers(int(low * n), int(high * n)))
    idx = rng.choice(n, size=k, replace=False)
    X_adv = np.array(X, dtype=float, copy=True)
    X_adv[idx] = linear_attack(model, X[idx], gamma)
    mask = np.zeros(n, bool)
    mask[idx] = True
    return X_adv, mask


#: the defences of §5.3: which validation set the influence is computed on, and the trimming rule
DEFENCES = {
    "authors' code (test set as validation)": "utility influence on the attacked test set itself, b lowest",
    "held-out validation, same attack": "utility influence on a validation set attacked like the test set, Alg. 2",
    "robustness influence (Eq. 3)": "loss on the fully attacked validation set, Alg. 2",
    "random": "b random training samples",
}


def evasion_experiment(
    ds: Dataset,
    seed: int,
    n_train: int,
    n_val: int,
    n_test: int,
    runs: int,
    trim_fraction: float = 0.025,
    gamma: float = 1.3,
    low: float = 0.05,
    high: float = 0.25,
    l2: float | str = "auto",
    n_jobs: int = 1,
) -> pd.DataFrame:
    """[CH] §5.3 / Fig. 5: one split and one model; in each run the attacker perturbs a random
    5-25 % of the test set (crafted against the model, :func:`partial_attack`); every defence of
    :data:`DEFENCES` trims ``b = trim_fraction * n_train`` training samples and retrains. Rows: the
    attacked fraction, pre-attack and post-attack accuracy, and per defence the accuracy on the
    attacked test set and on the clean one."""
    rng = np.random.default_rng(seed)
    tr, va, te = split_indices(len(ds.y), [n_train, n_val, n_test], rng)
    Xtr, Xva, Xte = standardise(ds.X[tr], ds.X[va], ds.X[te])
    ytr, yva, yte = ds.y[tr], ds.y[va], ds.y[te]
    model = _fit(Xtr, ytr, l2)
    b = int(trim_fraction * n_train)
    robust = trim(
        influence_on(model, Xtr, ytr, robustness_quantity(linear_attack(model, Xva, gamma), yva)), b, "negative"
    )
    tasks = [
        (ds.name, model, Xtr, ytr, Xva, yva, Xte, yte, b, robust.keep_mask, gamma, low, high, seed, r)
        for r in range(runs)
    ]
    return pd.DataFrame(map_tasks(_evasion_run, tasks, n_jobs=n_jobs))


def _evasion_run(task: tuple) -> dict:
    name, model, Xtr, ytr, Xva, yva, Xte, yte, b, robust_keep, gamma, low, high, seed, r = task
    rng = task_rng(seed, r)
    X_adv, mask = partial_attack(model, Xte, rng, low, high, gamma)
    V_adv, _ = partial_attack(model, Xva, rng, low, high, gamma)
    keeps = {
        "authors' code (test set as validation)": trim(
            utility_influence(model, Xtr, ytr, X_adv, yte), b, "lowest"
        ).keep_mask,
        "held-out validation, same attack": trim(
            utility_influence(model, Xtr, ytr, V_adv, yva), b, "negative"
        ).keep_mask,
        "robustness influence (Eq. 3)": robust_keep,
        "random": random_trim(len(ytr), b, rng).keep_mask,
    }
    row = {
        "dataset": name,
        "run": r,
        "attacked fraction": float(mask.mean()),
        "pre-attack": model.score(Xte, yte),
        "post-attack": model.score(X_adv, yte),
    }
    for defence, keep in keeps.items():
        m = _fit(Xtr[keep], ytr[keep], model.l2_)
        row[f"{defence}: attacked"] = m.score(X_adv, yte)
        row[f"{defence}: clean"] = m.score(Xte, yte)
        row[f"{defence}: removed"] = int((~keep).sum())
    return row
