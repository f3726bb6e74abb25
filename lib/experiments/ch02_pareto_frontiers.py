"""Chapter 2's experiment driver: [PC] Appendix B.1 / Fig. 5, round-by-round trimming of the
jointly negative samples on the synthetic sets (``notebooks/02_pareto_frontiers.py``)."""

from __future__ import annotations

import numpy as np

from ..ceiling import ceiling_test, region_counts
from ..influence import influence_vectors
from ..models import LogisticRegression
from ..pareto import per_class_metric


# ------------------------------------------------------------------------------ App. B.1
def trim_jointly_negative(
    model: LogisticRegression,
    X: np.ndarray,
    y: np.ndarray,
    X_val: np.ndarray,
    y_val: np.ndarray,
    max_rounds: int = 10,
    tol: float = 0.0,
    delta_max: float = 1.0,
    extra_sets: dict | None = None,
) -> list[dict]:
    """[PC] Appendix B.1 / Fig. 5: repeatedly fit, compute influence vectors, remove every
    training sample that is jointly negative (``P[i, k] < -tol`` for every class), refit.

    Stops when no jointly negative sample is left or after ``max_rounds``. Each round's record
    holds the kept indices (into the original ``X``), the indices removed in that round, the
    fitted model, per-class validation accuracy (and on ``extra_sets = {name: (X, y)}``), the
    region counts and the :func:`lib.ceiling.ceiling_test` result (normalised by validation
    class sizes) *before* the removal.
    """
    K = int(max(np.max(y), np.max(y_val))) + 1
    sizes = np.bincount(np.asarray(y_val), minlength=K)
    keep = np.arange(len(y))
    rounds = []
    for r in range(max_rounds + 1):
        m = model.clone().fit(X[keep], y[keep], n_classes=K)
        P = influence_vectors(m, X[keep], y[keep], X_val, y_val)
        neg = (P < -tol).all(1)
        rec = {
            "round": r,
            "kept": keep,
            "removed": keep[neg],
            "model": m,
            "P": P,
            "val_acc": per_class_metric(m, X_val, y_val, K),
            "regions": region_counts(P, tol),
            "ceiling": ceiling_test(P, delta_max=delta_max, scale=sizes),
        }
        for name, (Xe, ye) in (extra_sets or {}).items():
            rec[f"{name}_acc"] = per_class_metric(m, Xe, ye, K)
        rounds.append(rec)
        if not neg.any() or r == max_rounds:
            break
        keep = keep[~neg]
    return rounds


# ------------------------------------------------------------------------------ cross-fitted ceiling
def crossfit_table(
    model: LogisticRegression,
    X: np.ndarray,
    y: np.ndarray,
    X_val: np.ndarray,
    y_val: np.ndarray,
    rng: np.random.Generator,
    n_splits: int,
    delta_max: float,
    confidence: float = 0.95,
    rho: float | None = None,
):
    """The cross-fitted ceiling test of one fitted model (:func:`lib.ceiling.crossfit_ceiling_test` on
    its per-validation-sample influence ``Q``): returns ``(result, Q)``."""
    from ..ceiling import crossfit_ceiling_test
    from ..influence import per_sample_influence

    Q = per_sample_influence(model, X, y, X_val, y_val)
    return crossfit_ceiling_test(
        Q, y_val, rng, n_splits=n_splits, delta_max=delta_max, rho=rho, confidence=confidence
    ), Q


def crossfit_retraining_check(
    model: LogisticRegression,
    X: np.ndarray,
    y: np.ndarray,
    X_val: np.ndarray,
    y_val: np.ndarray,
    X_test: np.ndarray,
    y_test: np.ndarray,
    result,
    Q_val: np.ndarray,
    n_checks: int,
) -> list[dict]:
    """Ground truth for the cross-fitted prediction: for the first ``n_checks`` split directions of
    ``result``, retrain with the weights ``1 + delta`` the LP found on half A and compare, per class,
    the predicted first-order change of the mean per-sample loss (``-Q^T delta``, averaged over the
    class) with the actual change after retraining, on the held-out half B and on the test set."""
    from ..influence import per_sample_influence, retrain

    Q_test = per_sample_influence(model, X, y, X_test, y_test)
    K = int(max(y_val.max(), y_test.max())) + 1
    base_val = model.loss(X_val, y_val).detach().numpy()
    base_test = model.loss(X_test, y_test).detach().numpy()
    rows = []
    for s in range(min(int(n_checks), len(result.deltas))):
        delta, half_a = result.deltas[s], result.halves[s]
        m = retrain(model, X, y, 1.0 + delta)
        actual_val = m.loss(X_val, y_val).detach().numpy() - base_val
        actual_test = m.loss(X_test, y_test).detach().numpy() - base_test
        for where, mask, Qe, act, ye in (
            ("held-out half", ~half_a, Q_val, actual_val, y_val),
            ("test set", np.ones(len(y_test), bool), Q_test, actual_test, y_test),
        ):
            pred = -(Qe.T @ delta)
            for k in range(K):
                sel = mask & (ye == k)
                rows.append(
                    {
                        "split": s,
                        "where": where,
                        "class": k,
                        "predicted": float(pred[sel].mean()),
                        "actual": float(act[sel].mean()),
                    }
                )
    return rows


def synthetic_draw(name: str, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """One draw of a [PC] §4 set (training set with its label noise, clean validation and test
    sets of the same size), as arrays ``X_train, y_train, X_val, y_val, X_test, y_test, flipped``."""
    from ..datasets.pc_synthetic import angular_radius, noisy_disks

    if name == "noisy disks":
        X, y, flipped = noisy_disks(rng)
        X_val, y_val, _ = noisy_disks(rng, n_flip=(0, 0))
        X_test, y_test, _ = noisy_disks(rng, n_flip=(0, 0))
    elif name == "angular radius":
        X, y = angular_radius(rng)
        flipped = np.zeros(len(y), bool)
        X_val, y_val = angular_radius(rng)
        X_test, y_test = angular_radius(rng)
    else:
        raise ValueError(f"unknown synthetic set {name!r}; choose 'noisy disks' or 'angular radius'")
    return {
        "X_train": X,
        "y_train": y,
        "X_val": X_val,
        "y_val": y_val,
        "X_test": X_test,
        "y_test": y_test,
        "flipped": flipped,
    }


def crossfit_over_draws(
    names: list[str],
    l2_values: list[float],
    n_draws: int,
    seed: int,
    n_splits: int,
    delta_max: float,
    confidence: float,
) -> pandas.DataFrame:  # noqa: F821
    """The in-sample and the cross-fitted ceiling test on ``n_draws`` fresh draws of each synthetic
    set, for each L2 strength: one row per (set, l2, draw) with the in-sample relative ``t*``, its
    verdict, the held-out worst-class gain (median over splits), the p-value and the cross-fitted
    verdict. Draw ``d`` of set ``j`` uses ``default_rng([seed, 50, j, d])``; the splits of each test
    ``default_rng([seed, 60, j, d])`` (the same for every l2)."""
    import pandas as pd

    rows = []
    for j, name in enumerate(names):
        for d in range(int(n_draws)):
            data = synthetic_draw(name, np.random.default_rng([seed, 50, j, d]))
            for lam in l2_values:
                m = LogisticRegression(l2=lam).fit(data["X_train"], data["y_train"])
                res, _ = crossfit_table(
                    m,
                    data["X_train"],
                    data["y_train"],
                    data["X_val"],
                    data["y_val"],
                    np.random.default_rng([seed, 60, j, d]),
                    n_splits,
                    delta_max,
                    confidence,
                )
                rows.append(
                    {
                        "set": name,
                        "l2": lam,
                        "draw": d,
                        "in-sample t* relative": res.in_sample.t_relative,
                        "in-sample: below ceiling": res.in_sample.below_ceiling,
                        "held-out worst-class gain": float(np.median(res.worst)),
                        "p-value": res.p_value,
                        "cross-fitted: below ceiling": res.below_ceiling,
                    }
                )
    return pd.DataFrame(rows)


def real_split(name: str, sizes: list[int], rng: np.random.Generator) -> dict[str, np.ndarray]:
    """A real set of :func:`lib.datasets.load`, standardised and split at random into training,
    validation and test parts of ``sizes``."""
    from ..datasets import load
    from ..preprocessing import standardised_split

    ds = load(name)
    (X, y), (X_val, y_val), (X_test, y_test) = standardised_split(ds.X, ds.y, sizes, rng)
    return {"X_train": X, "y_train": y, "X_val": X_val, "y_val": y_val, "X_test": X_test, "y_test": y_test}


# ------------------------------------------------------------------------------ the page's tables
def rounded(df: pandas.DataFrame, digits: int = 3) -> pandas.DataFrame:  # noqa: F821
    """Floats rounded to ``digits`` (other cells unchanged): what a checked cell prints."""
    return df.map(lambda v: round(v, digits) if isinstance(v, float) else v)


def robust_crossfit(df: pandas.DataFrame) -> pandas.DataFrame:  # noqa: F821
    """What of a cross-fitted ceiling table (:func:`crossfit_table` summaries, one column per model)
    survives a last-bit change of the fit: on a weakly regularised model the LP's optimal vertex, and
    with it each split's held-out gain, moves with rounding (an instruction set, a BLAS), so a checked
    cell prints only the test accuracy to two decimals, the sign of the median held-out worst-class
    gain and the verdict."""
    import pandas as pd

    return pd.DataFrame(
        {
            c: {
                "test accuracy": round(float(df.loc["test accuracy", c]), 2),
                "median held-out worst-class gain > 0": bool(df.loc["held-out worst-class gain, median", c] > 0),
                "verdict": df.loc["verdict", c],
            }
            for c in df.columns
        }
    )


def summary_table(sets: dict, region_tol: float) -> pandas.DataFrame:  # noqa: F821
    """Per set (columns): sizes, per-class accuracy, region counts, flipped labels among the jointly
    negative samples, and the check that the rows of ``P`` add up to the utility influence."""
    import pandas as pd

    from ..ceiling import region_counts
    from ..influence import utility_influence

    cols = {}
    for name, s in sets.items():
        acc_v = per_class_metric(s["model"], s["X_val"], s["y_val"], 2)
        acc_t = per_class_metric(s["model"], s["X_test"], s["y_test"], 2)
        neg = s["regions"] == "jointly negative"
        util = utility_influence(s["model"], s["X_train"], s["y_train"], s["X_val"], s["y_val"])
        cols[name] = {
            "n_train": len(s["y_train"]),
            "val acc blue": round(acc_v[0], 3),
            "val acc orange": round(acc_v[1], 3),
            "test acc blue": round(acc_t[0], 3),
            "test acc orange": round(acc_t[1], 3),
            **region_counts(s["P"], region_tol),
            "flipped among jointly negative": int((neg & s["flipped"]).sum()),
            "flipped labels": int(s["flipped"].sum()),
            "rows of P add up to I_util (1e-8)": bool(np.abs(s["P"].sum(1) - util).max() < 1e-8),
        }
    return pd.DataFrame(cols)


def ceiling_table(sets: dict, delta_max: float) -> pandas.DataFrame:  # noqa: F821
    """The three ceiling tests per set (columns); stores ``ceiling``, ``svd`` and ``pca`` in each set."""
    import pandas as pd

    from ..ceiling import pca_check, svd_view

    cols = {}
    for name, s in sets.items():
        r = ceiling_test(s["P"], delta_max=delta_max, scale=s["sizes"])
        v = svd_view(s["P"] / s["sizes"])
        ratio, says_room = pca_check(s["P"])
        s["ceiling"], s["svd"], s["pca"] = r, v, ratio
        cols[name] = {
            "LP t*": round(r.t, 4),
            "LP t* relative": round(r.t_relative, 3),
            "below ceiling (LP)": r.below_ceiling,
            "uncentred SVD s_min/s_max": round(v.flatness, 3),
            "SVD normal": str(np.round(v.normal, 3).tolist()),
            "normal > 0": v.positive_normal,
            "PCA ratio of PC1": round(ratio, 3),
            "paper's check: room": says_room,
        }
    return pd.DataFrame(cols)


def l2_sweep(
    X: np.ndarray,
    y: np.ndarray,
    X_val: np.ndarray,
    y_val: np.ndarray,
    l2_grid: list[float],
    delta_max: float,
    region_tol: float,
) -> pandas.DataFrame:  # noqa: F821
    """The in-sample ceiling LP and SVD with ``P`` measured on the held-out validation set and on the
    training set itself (``V = T``), for each L2 strength; region counts with short names."""
    import pandas as pd

    from ..ceiling import svd_view

    short = {
        "jointly_positive": "jointly +",
        "jointly_negative": "jointly -",
        "tradeoff": "trade-off",
        "neutral": "neutral",
    }
    rows = []
    for lam in l2_grid:
        m = LogisticRegression(l2=lam).fit(X, y)
        for where, (Xe, ye) in {"held-out": (X_val, y_val), "V = T": (X, y)}.items():
            P = influence_vectors(m, X, y, Xe, ye)
            rows.append(
                {
                    "l2": lam,
                    "V": where,
                    "LP t* relative": round(ceiling_test(P, delta_max=delta_max, scale=np.bincount(ye)).t_relative, 4),
                    "SVD s_min/s_max": round(svd_view(P / np.bincount(ye)).flatness, 4),
                    **{short[k]: v for k, v in region_counts(P, region_tol).items()},
                }
            )
    return pd.DataFrame(rows).set_index(["l2", "V"])


def crossfit_summary(results: dict) -> pandas.DataFrame:  # noqa: F821
    """:meth:`lib.ceiling.CrossfitResult.summary` of each result, one column per set, rounded."""
    import pandas as pd

    return rounded(pd.DataFrame({name: res.summary() for name, res in results.items()}))


def draws_summary(draws: pandas.DataFrame) -> pandas.DataFrame:  # noqa: F821
    """Per (set, l2): the share of draws in which the in-sample LP and the cross-fitted test report
    room below the ceiling, and the median held-out worst-class gain over the draws."""
    g = draws.groupby(["set", "l2"])
    out = g.agg(
        **{
            "draws": ("draw", "size"),
            "in-sample: below": ("in-sample: below ceiling", "mean"),
            "cross-fitted: below": ("cross-fitted: below ceiling", "mean"),
            "held-out worst gain (median)": ("held-out worst-class gain", "median"),
        }
    )
    return rounded(out)


def check_summary(checks: pandas.DataFrame) -> pandas.DataFrame:  # noqa: F821
    """Per set and evaluation split: Pearson correlation and least-squares slope of the actual
    against the predicted per-class change, and the share of cells where the signs agree."""
    import pandas as pd

    rows = {}
    for (name, where), g in checks.groupby(["set", "where"], sort=False):
        p, a = g["predicted"].to_numpy(), g["actual"].to_numpy()
        rows[(name, where)] = {
            "cells": len(g),
            "Pearson": float(np.corrcoef(p, a)[0, 1]),
            "slope": float(np.polyfit(p, a, 1)[0]),
            "same sign": float(np.mean(np.sign(p) == np.sign(a))),
        }
    return rounded(pd.DataFrame(rows).T, 2)


def trimming_table(rounds: list[dict], flipped: np.ndarray) -> pandas.DataFrame:  # noqa: F821
    """One column per trimming round: removals, flipped labels removed and left, per-class accuracy,
    the ceiling LP before the round's removal and the number of jointly positive samples."""
    import pandas as pd

    df = pd.DataFrame(
        [
            {
                "round": r["round"],
                "n_train": len(r["kept"]),
                "removed": len(r["removed"]),
                "removed flipped": int(flipped[r["removed"]].sum()),
                "flipped left": int(flipped[r["kept"]].sum()),
                "val acc blue": round(r["val_acc"][0], 3),
                "val acc orange": round(r["val_acc"][1], 3),
                "test acc blue": round(r["test_acc"][0], 3),
                "test acc orange": round(r["test_acc"][1], 3),
                "LP t* relative": round(r["ceiling"].t_relative, 3),
                "below ceiling (LP)": r["ceiling"].below_ceiling,
                "jointly positive": r["regions"]["jointly_positive"],
            }
            for r in rounds
        ]
    ).set_index("round")
    return df.T


def alpha_table(sets: dict, w_max: float, rho: float) -> pandas.DataFrame:  # noqa: F821
    """What the paper's alpha form of the class constraints means on each set: ``S_k``, whether
    ``alpha = 0.9`` lets class ``k`` lose or demands a gain, and the LP's predicted change."""
    import pandas as pd

    from ..influence import reweighting_prediction
    from ..pareto import pareto_weights

    rows = []
    for name, st in sets.items():
        S = st["P"].sum(0) / st["sizes"]
        w_a = pareto_weights(st["P"], targets=[0, 1], alpha=[0.9, 0.9], w_max=w_max, rho=rho, class_sizes=st["sizes"])
        change = reweighting_prediction(st["P"] / st["sizes"], w_a)
        for k, cname in enumerate(["blue", "orange"]):
            rows.append(
                {
                    "set": name,
                    "class": cname,
                    "S_k (mean loss)": round(S[k], 4),
                    "alpha=0.9 means": "may lose" if S[k] > 0 else "must gain",
                    "predicted change": round(change[k], 4),
                }
            )
    return pd.DataFrame(rows).set_index(["set", "class"])


# ------------------------------------------------------------------------------ the page's claims
def claims(
    *,
    sets: dict,
    summary,
    trim_df,
    rounds,
    sweep_df,
    l2_grid,
    crossfit: dict,
    draws_summary,
    check_summary,
    real_df,
    pred,
    actual,
    jointly_negative_left: int,
    loo,
    ga,
    ga_test_change,
    ga_target: int,
    ga_generations: int,
    ga_metric: str,
) -> list[dict]:
    """The chapter's claims table, every verdict computed from the page's numbers."""
    noisy, angular = sets["noisy disks"], sets["angular radius"]
    neg = noisy["regions"] == "jointly negative"
    n_neg, n_neg_flipped = int(neg.sum()), int((neg & noisy["flipped"]).sum())
    t = trim_df.T
    cf_n, cf_a = crossfit["noisy disks"], crossfit["angular radius"]
    weakest = min(draws_summary.index.get_level_values("l2"))
    angular_weak = float(draws_summary.loc[("angular radius", weakest), "cross-fitted: below"])
    in_sample_all = bool(draws_summary["in-sample: below"].min() == 1.0)
    cross_any_no = bool(draws_summary["cross-fitted: below"].min() < 1.0)
    real_verdicts = {col: real_df.loc["verdict", col] for col in real_df.columns}
    other = 1 - ga_target
    rows = [
        {
            "claim": "mislabelled samples are jointly negative (noisy set, Fig. 2B)",
            "paper": "yes (qualitative)",
            "measured": f"{n_neg_flipped} of {n_neg} jointly negative samples are flipped labels",
            "verdict": "reproduced" if n_neg and n_neg_flipped == n_neg else "partly",
            "why": f"{n_neg_flipped} of {int(noisy['flipped'].sum())} flipped labels are jointly negative in round 1; "
            "the rest surface in later rounds or never",
        },
        {
            "claim": "clean non-separable set: the influence vectors lie on a line (Fig. 2E)",
            "paper": "roughly straight line",
            "measured": f"uncentred s_min/s_max = {angular['svd'].flatness:.3f}, normal "
            f"{np.round(angular['svd'].normal, 2).tolist()}",
            "verdict": "reproduced" if angular["svd"].flatness < 0.2 and angular["svd"].positive_normal else "partly",
            "why": "a line through the origin with a positive normal is the first-order ceiling (Stiemke)",
        },
        {
            "claim": "the noisy set is below its ceiling",
            "paper": "yes",
            "measured": f"in-sample t* relative {noisy['ceiling'].t_relative:.3f}; cross-fitted p = {cf_n.p_value:.3g}",
            "verdict": "reproduced" if cf_n.below_ceiling else "not reproduced",
            "why": "the cross-fitted test confirms it on held-out validation data",
        },
        {
            "claim": "the clean set is at its ceiling (no joint improvement possible)",
            "paper": "yes",
            "measured": f"cross-fitted p = {cf_a.p_value:.3g} at l2 = {angular['model'].l2_:g}; with l2 = {weakest:g} "
            f"{angular_weak:.0%} of the draws below",
            "verdict": (
                "reproduced"
                if not cf_a.below_ceiling
                else ("partly" if angular_weak < 1.0 else "the paper's claim does not hold")
            ),
            "why": "an L2 penalty leaves genuine joint room (up-weighting data weakens it); the set is at its "
            "ceiling on held-out data only when the penalty is weak",
        },
        {
            "claim": "the in-sample ceiling criterion tells whether a classifier can still be improved",
            "paper": "t* > 0 / PCA ratio > 0.2",
            "measured": "in-sample LP reports room on "
            f"{'every' if in_sample_all else 'not every'} draw and set; cross-fitted: "
            + ", ".join(f"{k}: {v}" for k, v in real_verdicts.items())
            + " (digits)",
            "verdict": "the paper's claim does not hold" if in_sample_all and cross_any_no else "partly",
            "why": "a finite validation set's noise alone moves P off any hyperplane; only a held-out test of "
            "the LP's reweighting separates real room from noise",
        },
        {
            "claim": "PCA check: a first-component ratio above 0.2 means room for improvement (§5)",
            "paper": "> 0.2",
            "measured": f"{noisy['pca']:.3f} (noisy), {angular['pca']:.3f} (clean)",
            "verdict": "the paper's claim does not hold",
            "why": "with K classes the ratio is always at least 1/K (0.5 here), and PCA centres away the origin",
        },
        {
            "claim": "trimming removes all noise in 3 rounds and reaches the ceiling (App. B.1)",
            "paper": "3 rounds",
            "measured": f"{len(rounds) - 1} rounds, {int(t['flipped left'].iloc[-1])} flipped left; test acc "
            f"{t['test acc blue'].iloc[0]:.3f}/{t['test acc orange'].iloc[0]:.3f} -> "
            f"{t['test acc blue'].iloc[-1]:.3f}/{t['test acc orange'].iloc[-1]:.3f}",
            "verdict": ("reproduced" if int(t["flipped left"].iloc[-1]) == 0 and len(rounds) - 1 <= 3 else "partly"),
            "why": f"every removed sample is a flipped label; LP t* relative after trimming "
            f"{rounds[-1]['ceiling'].t_relative:.3f}: re-weighting can still help",
        },
        {
            "claim": "re-weighting gives a Pareto improvement where single removals cannot (§3.3)",
            "paper": "yes (Fig. 1)",
            "measured": f"predicted {np.round(pred, 3).tolist()}, actual {np.round(actual, 3).tolist()} "
            "(val loss change)",
            "verdict": (
                "reproduced"
                if (np.asarray(actual) < 0).all()
                and jointly_negative_left == 0
                and int((np.asarray(loo) < 0).all(1).sum()) == 0
                else "partly"
            ),
            "why": f"{jointly_negative_left} jointly negative left; {int((np.asarray(loo) < 0).all(1).sum())} of the "
            f"{len(loo)} best single removals lower both losses when retrained",
        },
        {
            "claim": "PARETO-LP-GA improves the target class (Alg. 1)",
            "paper": "yes",
            "measured": f"target {ga_target}: val {ga.val_change[ga_target]:+.4f}, "
            f"test {ga_test_change[ga_target]:+.4f} "
            f"({ga_metric}); other class test {ga_test_change[other]:+.4f}",
            "verdict": (
                "reproduced"
                if ga_test_change[ga_target] > 0 and ga_test_change[other] >= 0
                else ("partly" if ga_test_change[ga_target] > 0 else "not reproduced")
            ),
            "why": f"{ga_generations} generations (paper 20); a convex model refit instead of one epoch",
        },
    ]
    return rows
