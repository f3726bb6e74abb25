"""Chapter 7's drivers ([CH] §5.4-5.5, App. C.3-C.4, G): online learning on a noisy stream with
per-batch influence trimming (Fig. 6 A-D) and influence-based active learning with a linear SVM
(Fig. 6 E, Fig. 23). The algorithms are in :mod:`lib.online` and :mod:`lib.influence_active`; this
module splits the data, runs the seeds and summarises for ``notebooks/07_ch_learning_applications.py``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from ..datasets import Dataset
from ..fi_active import ActiveSplit
from ..influence_active import compare_methods, exact_grid
from ..online import run_online
from ..parallel import map_tasks, task_rng
from ..preprocessing import split_indices

#: the three uncertainty baselines of [CH] §5.5; for a binary task they order the pool identically
UNCERTAINTY = ("entropy", "margin", "uncertainty")


def exact_standardise(X_ref: np.ndarray, *others: np.ndarray) -> tuple[np.ndarray, ...]:
    """:func:`lib.preprocessing.standardise` with correctly rounded column sums (``math.fsum``), so
    that the standardised features are the same bits on every machine and code path. The SVM
    (libsvm's SMO, stopping at a tolerance) and online SGD follow paths that a last-bit change of
    their inputs can alter; their inputs must not depend on NumPy's SIMD summation order."""
    X_ref = np.asarray(X_ref, dtype=float)
    n = X_ref.shape[0]
    mu = np.array([math.fsum(col) / n for col in X_ref.T])
    sd = np.sqrt(np.array([math.fsum((col - m) ** 2) / n for col, m in zip(X_ref.T, mu, strict=True)]))
    sd = np.where(sd > 1e-12, sd, 1.0)
    return tuple((np.asarray(X, dtype=float) - mu) / sd for X in (X_ref, *others))


# ---------------------------------------------------------------------- §5.4 online learning
def _online_seed(task: tuple) -> pd.DataFrame:
    ds, seed, i, n_batches, batch_size, n_val, n_test, flip, budget, rule, l2 = task
    rng = task_rng(seed, i)
    st, va, te = split_indices(len(ds.y), [n_batches * batch_size, n_val, n_test], rng)
    Xs, Xv, Xt = exact_standardise(ds.X[st], ds.X[va], ds.X[te])
    run = run_online(
        Xs,
        ds.y[st],
        Xv,
        ds.y[va],
        Xt,
        ds.y[te],
        rng,
        n_batches=n_batches,
        flip_fraction=flip,
        budget_fraction=budget,
        rule=rule,
        l2=l2,
    )
    return run.history.assign(dataset=ds.name, seed=seed)


def online_experiment(
    ds: Dataset,
    seeds: Sequence[int],
    n_batches: int = 10,
    batch_size: int = 500,
    n_val: int = 1000,
    n_test: int = 2000,
    flip_fraction: float = 1 / 3,
    budget_fraction: float = 0.1,
    rule: str = "lowest",
    l2: float | str = "auto",
    n_jobs: int = 1,
) -> pd.DataFrame:
    """[CH] §5.4: per seed a random stream of ``n_batches * batch_size`` samples, a clean validation
    set (the influence target) and a test set, standardised with the stream's statistics
    (:func:`exact_standardise`); the
    stacked histories of :func:`lib.online.run_online` with ``dataset`` and ``seed`` columns."""
    tasks = [
        (ds, int(s), i, n_batches, batch_size, n_val, n_test, flip_fraction, budget_fraction, rule, l2)
        for i, s in enumerate(seeds)
    ]
    return pd.concat(map_tasks(_online_seed, tasks, n_jobs=n_jobs), ignore_index=True)


def online_summary(history: pd.DataFrame) -> pd.DataFrame:
    """Final-batch test accuracy (mean, sd over seeds) per dataset, learner and variant, and the
    fraction of the influence-trimmed samples whose label had been flipped."""
    last = history[history.batch == history.batch.max()]
    acc = last.groupby(["dataset", "learner", "variant"]).accuracy.agg(["mean", "std"]).unstack("variant")
    acc.columns = [f"{v} {s}" for s, v in acc.columns]
    trimmed = history[history.variant.isin(["influence", "random"])]
    hit = trimmed.groupby(["dataset", "learner", "variant"])[["flipped_trimmed", "n_trimmed"]].sum()
    hit = (hit.flipped_trimmed / hit.n_trimmed).unstack("variant")
    acc["flipped share of influence trims"] = hit["influence"]
    acc["flipped share of random trims"] = hit["random"]
    return acc


def online_wins(history: pd.DataFrame) -> pd.DataFrame:
    """Per dataset and learner, in how many (seed, batch) steps influence trimming beats no trimming
    and beats random trimming on test accuracy."""
    wide = history.pivot_table(index=["dataset", "learner", "seed", "batch"], columns="variant", values="accuracy")
    g = wide.groupby(["dataset", "learner"])
    return pd.DataFrame(
        {
            "steps": g.size(),
            "influence > none": g.apply(lambda d: int((d.influence > d.none).sum())),
            "influence > random": g.apply(lambda d: int((d.influence > d.random).sum())),
        }
    )


# ---------------------------------------------------------------------- §5.5 active learning
def active_split(
    ds: Dataset, n_init: int, n_pool: int, n_val: int, n_test: int, rng: np.random.Generator
) -> ActiveSplit:
    """Random partition into initial labelled set, pool, validation and test set ([CH] App. C.4);
    features standardised with the statistics of the initial set and the pool (the unlabelled
    features are available to the learner), machine-independently (:func:`exact_standardise`), and
    put on a grid on which every dot product is exact (:func:`lib.influence_active.exact_grid`), so
    that the SVM's solver takes the same path on every machine."""
    i0, ip, iv, it = split_indices(len(ds.y), [n_init, n_pool, n_val, n_test], rng)
    _, X0, Xp, Xv, Xt = exact_standardise(np.concatenate([ds.X[i0], ds.X[ip]]), ds.X[i0], ds.X[ip], ds.X[iv], ds.X[it])
    X0, Xp, Xv, Xt = exact_grid(X0, Xp, Xv, Xt)
    return ActiveSplit(X0, ds.y[i0], Xp, ds.y[ip], Xv, ds.y[iv], Xt, ds.y[it], ds.n_classes)


def _active_seed(task: tuple) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    ds, seed, i, sizes, methods, rounds, acquisition, options = task
    split = active_split(ds, *sizes, task_rng(seed, i))
    curves, runs = compare_methods(split, methods, rounds, acquisition, seed, **options)
    return curves.assign(dataset=ds.name), {m: np.concatenate(r.queried) for m, r in runs.items()}


def active_experiment(
    ds: Dataset,
    seeds: Sequence[int],
    n_init: int,
    n_pool: int,
    n_val: int,
    n_test: int,
    methods: Sequence[str],
    rounds: int = 10,
    acquisition: int = 10,
    n_jobs: int = 1,
    **options,
) -> tuple[pd.DataFrame, list[dict[str, np.ndarray]]]:
    """[CH] §5.5 / App. G: per seed a fresh random split and every method of
    :func:`lib.influence_active.compare_methods`; returns the stacked learning curves and, per seed,
    the pool indices each method labelled (in order)."""
    tasks = [
        (ds, int(s), i, (n_init, n_pool, n_val, n_test), tuple(methods), rounds, acquisition, options)
        for i, s in enumerate(seeds)
    ]
    out = map_tasks(_active_seed, tasks, n_jobs=n_jobs)
    return pd.concat([c for c, _ in out], ignore_index=True), [q for _, q in out]


def uncertainty_baselines_agree(queried: list[dict[str, np.ndarray]]) -> bool:
    """Whether entropy, margin and uncertainty sampling labelled the same samples in the same order
    in every seed (they must, for a binary task, up to ties)."""
    present = [m for m in UNCERTAINTY if all(m in q for q in queried)]
    return all(np.array_equal(q[present[0]], q[m]) for q in queried for m in present[1:])


def active_summary(curves: pd.DataFrame) -> pd.DataFrame:
    """Per dataset and method: test accuracy at round 0 and after the last round (mean, sd over seeds),
    the mean over rounds 1..R (area under the learning curve), and in how many rounds the method's
    mean accuracy is the best of all methods (ties count for each)."""
    last = curves["round"].max()
    g = curves.groupby(["dataset", "method"])
    out = pd.DataFrame(
        {
            "round 0": g.apply(lambda d: d[d["round"] == 0].accuracy.mean()),
            "final mean": g.apply(lambda d: d[d["round"] == last].accuracy.mean()),
            "final sd": g.apply(lambda d: d[d["round"] == last].accuracy.std()),
            "mean over rounds": g.apply(lambda d: d[d["round"] > 0].accuracy.mean()),
        }
    )
    means = curves[curves["round"] > 0].groupby(["dataset", "round", "method"]).accuracy.mean().round(10)
    best = means.groupby(["dataset", "round"]).transform("max")
    out["best rounds"] = (means == best).groupby(["dataset", "method"]).sum()
    return out
