# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # [CH] applications II: online learning with noisy labels, influence-based active learning
#
# **The question this page answers:** does the influence of training samples, computed with a
# logistic-regression surrogate, help models that are *not* that surrogate, in two settings where
# the training set is not fixed: (i) an online learner that sees a stream of batches whose labels
# are partly wrong, and trims each batch before its update; (ii) an active learner (a linear SVM)
# that chooses which unlabelled samples to have labelled, using an influence tree trained without
# labels?
#
# **The paper's claims** ([CH] §5.4-5.5, App. C.3-C.4, G): trimming 10 % of every batch by
# influence gives "much better performance for all the given datasets (except Bank) and learning
# models" (Fig. 6 A-D); influence-based sampling "outperforms other baselines in most rounds, and
# ends up with the best performance after the final round" on Diabetic Retinopathy (Fig. 6 E), and
# is "superlative to the other active baselines for all datasets except Adult" (Fig. 23).
#
# **Our setting:** the book's L2 logistic regression as the influence surrogate (exact Hessian,
# `lib.influence`); scikit-learn's `SGDClassifier` with logistic and hinge loss as the online
# learners; a linear SVM with Platt-scaled probabilities as the active learner. Diabetic Retinopathy
# Debrecen and Jigsaw Toxicity have no offline source: scikit-learn's breast-cancer set (569 real
# diagnoses from cell-nucleus features) stands in for the former in Fig. 6 E, and the online and
# App. G experiments run on Adult, Bank and CelebA only.

# %% tags=["parameters", "remove-input"]
seed = 0
progress = False
n_jobs = 1
online_datasets = ["adult", "bank", "celeba"]
online_seeds = 3
online_batches = 10
online_batch_size = 500
online_val = 1000
online_test = 2000
flip_fraction = 0.3333
online_budget = 0.1
online_rule = "lowest"
active_dataset = "breast_cancer"
active_seeds = 5
active_init = 40
active_pool = 160
active_val = 185
active_test = 184
active_rounds = 10
active_queries = 10
active_methods = ["tree", "tree-refit", "isal", "fi", "entropy", "margin", "uncertainty", "random"]
appg_datasets = ["adult", "bank", "celeba"]
appg_seeds = 3
appg_init = 300
appg_pool = 2000
appg_val = 500
appg_test = 2000
appg_methods = ["tree", "tree-refit", "isal", "fi", "uncertainty", "random"]
tree_lam = 10.0
tree_depth = 6

# %% tags=["remove-input"]
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

import lib.reproducibility
from lib import datasets
from lib._book import pages
from lib.experiments import ch07_ch_learning_applications as ex
from lib.reproducibility import progress as bar

rng = lib.reproducibility.setup(seed, threads=1)  # small models: one thread is faster than two
pages.setup_plots()
tree_options = {"tree_lam": tree_lam, "tree_depth": tree_depth}
pages.parameters_table(globals(), "07_ch_learning_applications")

# %% [markdown]
# ## 1. Online learning on a noisy stream ([CH] §5.4, Fig. 6 A-D, App. C.3)
#
# **Setting (`lib.online`).** The training data arrive in `online_batches` consecutive batches of
# `online_batch_size` samples (the authors split the whole training set into ten batches; we
# subsample for time). In every batch one third of the labels is flipped (the paper's text; the
# authors' code flips 35 %). Before the learners update on a batch, a *fresh* logistic-regression
# surrogate is fitted on that batch alone, the utility influence ([CH] Eq. 1) of every batch sample
# on the clean validation loss is computed, and the $b$ = 10 % of the batch with the lowest influence
# are removed: exactly $b$, as the authors' code does (Algorithm 2 would stop at the last negative
# influence; with a third of the labels wrong the two coincide here). The learners are
# `SGDClassifier` with logistic loss (online logistic regression) and hinge loss (online linear
# SVM), one `partial_fit` per batch, scikit-learn's defaults. Next to "no trimming" and "influence
# trimming" (the paper's two curves) we add the baselines a reviewer would ask for: removing $b$
# *random* samples, and the same stream with *clean* labels (the ceiling). A unit test checks that
# the loop removes exactly $b$ samples from every batch.

# %%
online = pd.concat(
    [
        ex.online_experiment(
            datasets.load(name),
            range(seed, seed + online_seeds),
            online_batches,
            online_batch_size,
            online_val,
            online_test,
            flip_fraction,
            online_budget,
            online_rule,
            n_jobs=n_jobs,
        )
        for name in bar(online_datasets, progress)
    ],
    ignore_index=True,
)

# %% tags=["remove-input"]
VARIANT_STYLE = {
    "none": ("no trimming", "tab:red", "-"),
    "influence": ("influence trimming", "tab:blue", "-"),
    "random": ("random trimming", "tab:grey", ":"),
    "clean": ("clean labels", "k", "--"),
}
learners = list(dict.fromkeys(online.learner))
fig, axes = plt.subplots(
    len(learners), len(online_datasets), figsize=(12, 3.6 * len(learners)), sharex=True, squeeze=False
)
for r, learner in enumerate(learners):
    for c, name in enumerate(online_datasets):
        ax = axes[r, c]
        d = online[(online.dataset == name) & (online.learner == learner)]
        for v, (label, colour, ls) in VARIANT_STYLE.items():
            s = d[d.variant == v].groupby("batch").accuracy.agg(["mean", "std"])
            ax.plot(s.index, s["mean"], ls=ls, color=colour, label=label)
            ax.fill_between(s.index, s["mean"] - s["std"], s["mean"] + s["std"], color=colour, alpha=0.15)
        ax.set_title(f"{name}: online {learner}")
        ax.set_xlabel("batch")
        ax.set_ylabel("test accuracy")
axes[0, -1].legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), frameon=False)
fig.suptitle(f"Fig. 6 A-D: mean ± sd over {online_seeds} seeds, a third of each batch's labels flipped")
plt.show()

# %% tags=["nbval-check-output"]
summary = ex.online_summary(online)
pages.echo(
    f"Test accuracy after the last batch (mean, sd over {online_seeds} seeds) and the share of flipped "
    "labels among the trimmed samples:"
)
pages.echo(summary.round(2).T.to_string(line_width=pages.TEXT_WIDTH))
wins = ex.online_wins(online)
pages.echo("\nIn how many (seed, batch) steps influence trimming beats no trimming / random trimming:")
pages.echo(wins.to_string(line_width=pages.TEXT_WIDTH))

# %% [markdown]
# **Paper:** "trimming combined with our influence estimation model can lead to much better
# performance for all the given datasets (except Bank) and learning models."
#
# **Measured:** with a third of the labels wrong, the untrimmed SGD learners are poor and unstable
# (wide bands); trimming 10 % of each batch by influence lifts both learners on all three data sets,
# in almost every batch, and removing 10 % at random does not. The samples the surrogate trims are
# nearly all flipped ones (a random tenth holds about a third of them). Trimming a tenth of each batch
# cannot remove a third of wrong labels, so the clean-label ceiling stays well above. Bank is not an
# exception here.
#
# **Verdict:** reproduced, on three of the paper's four data sets (Jigsaw Toxicity is not available
# offline), including Bank, where the paper saw no gain.

# %% [markdown]
# ## 2. Influence-based active learning ([CH] §5.5, Fig. 6 E, App. C.4)
#
# **Setting (`lib.influence_active`).** A small labelled set, an unlabelled pool, a validation set
# (the influence target) and a test set, drawn at random (App. C.4); 10 rounds of 10 queries, after
# each round the learner is refitted on all labelled samples and scored on the test set. The
# learner is a linear SVM whose probabilities come from Platt scaling on out-of-fold decision values
# (`PlattSVM`: the authors' `SVC(kernel="linear", probability=True)` is deprecated in
# scikit-learn 1.9, and its internal folds were unseeded). Split sizes follow the authors' Diabetic
# Retinopathy files (40 labelled, 160 in the pool); the rest of the 569 breast-cancer samples form
# the validation and test sets. `active_seeds` runs, each with a new random split.
#
# **Methods.**
# * **tree** ([CH]): the utility influence of the labelled samples (logistic surrogate) is fitted by
#   Algorithm 1's tree *without the label column* (`label_free_tree`: CART + hierarchical
#   shrinkage, `tree_depth`, `tree_lam`), which predicts the influence of every pool sample; the
#   10 highest are labelled. As in the authors' code the tree is fitted once, on the initial set.
#   A unit test checks that this tree equals Algorithm 1's tree with the label column held constant,
#   and that a fully grown, unshrunk one returns the labelled samples' influence exactly.
# * **tree-refit**: the same tree refitted in every round; this is the IV acquisition of the FI
#   active-learning chapter (a unit test checks that it equals `lib.fi_active.iv_scores`; here the
#   influence targets are first put on a fine fixed-point grid so that ties between features that
#   cut the labelled set identically are broken the same way on every machine).
# * **ISAL** (Liu et al. 2021, as we read it): the influence of *adding* a pool sample,
#   with the SVM's predicted label as pseudo-label, on the validation loss (logistic surrogate on the
#   labelled set; a unit test checks it against actual refits).
# * **FI** ([FI] §4, `lib.fi_active.fi_active`, reused) on the same surrogate.
# * **entropy, margin, uncertainty** (least confidence), on the SVM's probabilities, and **random**.

# %%
bc = datasets.load(active_dataset)
curves, queried = ex.active_experiment(
    bc,
    range(seed, seed + active_seeds),
    active_init,
    active_pool,
    active_val,
    active_test,
    active_methods,
    active_rounds,
    active_queries,
    n_jobs=n_jobs,
    **tree_options,
)

# %% tags=["nbval-check-output"]
agree = ex.uncertainty_baselines_agree(queried)
pages.echo(
    f"entropy, margin and uncertainty sampling labelled the same samples in the same order in every run: {agree}"
)
bc_summary = ex.active_summary(curves)
pages.echo(bc_summary.round(3).to_string(line_width=pages.TEXT_WIDTH))

# %% tags=["remove-input"]
LABELS = {
    "tree": "influence tree ([CH])",
    "tree-refit": "tree, refitted (= FI chapter's IV)",
    "isal": "ISAL",
    "fi": "FI-active ([FI])",
    "entropy": "entropy",
    "margin": "margin",
    "uncertainty": "uncertainty",
    "random": "random",
}
if agree:
    LABELS["uncertainty"] = "entropy = margin = uncertainty"


def plot_curves(ax, c, title):
    shown = [m for m in dict.fromkeys(c.method) if not (agree and m in ("entropy", "margin"))]
    for m, colour in zip(shown, sns.color_palette("colorblind", len(shown)), strict=True):
        s = c[c.method == m].groupby("round").accuracy.agg(["mean", "std"])
        ax.plot(s.index, s["mean"], marker="o", ms=3, color=colour, lw=2.5 if m == "tree" else 1.2, label=LABELS[m])
        ax.fill_between(s.index, s["mean"] - s["std"], s["mean"] + s["std"], color=colour, alpha=0.1)
    ax.set_xlabel("round (10 queries each)")
    ax.set_ylabel("test accuracy")
    ax.set_title(title)


fig, ax = plt.subplots(figsize=(7.5, 4.2))
plot_curves(ax, curves, f"Fig. 6 E on {active_dataset}: mean ± sd over {active_seeds} runs")
ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), frameon=False)
plt.show()

# %% [markdown]
# **Paper:** on Diabetic Retinopathy "our influence sampling outperforms other baselines in most
# rounds, and ends up with the best performance after the final round". Fig. 6 E draws entropy,
# margin and uncertainty sampling as three different curves.
#
# **Measured:** on breast cancer all methods start from a model that is already accurate and end
# within about a point of each other; the spread over runs is as large as the gaps between methods
# (table and bands). The influence tree ends tied for the best final accuracy with FI-active and the
# uncertainty baselines, but it is the best method in only a few rounds. Entropy, margin and
# uncertainty sampling label exactly the same samples: for a binary task each is a decreasing
# function of $|p - \tfrac12|$, so they are one strategy (a unit test checks the orderings); the
# differences between their curves in the paper can only come from the randomness of the SVM's
# unseeded Platt scaling.
#
# **Verdict:** partly reproduced on our stand-in set (tied best at the end, not best in most
# rounds; the claims table gives the numbers); the three uncertainty baselines are one method,
# contrary to the figure.

# %% [markdown]
# ## 3. The same comparison on Adult, Bank and CelebA ([CH] App. G, Fig. 23)
#
# 300 labelled samples as in the authors' files, a pool of `appg_pool` (the authors use the rest of
# the training set), `appg_val` validation and `appg_test` test samples, `appg_seeds` runs. Because
# entropy, margin and uncertainty sampling coincide for binary tasks (above), only uncertainty
# sampling is run here.

# %%
appg = {}
for name in bar(appg_datasets, progress):
    appg[name], _ = ex.active_experiment(
        datasets.load(name),
        range(seed, seed + appg_seeds),
        appg_init,
        appg_pool,
        appg_val,
        appg_test,
        appg_methods,
        active_rounds,
        active_queries,
        n_jobs=n_jobs,
        **tree_options,
    )
appg_curves = pd.concat(appg.values(), ignore_index=True)

# %% tags=["remove-input"]
fig, axes = plt.subplots(1, len(appg_datasets), figsize=(12, 4), squeeze=False)
for ax, name in zip(axes[0], appg_datasets, strict=True):
    plot_curves(ax, appg[name], name)
axes[0, -1].legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), frameon=False, fontsize=9)
fig.suptitle(f"Fig. 23: mean ± sd over {appg_seeds} runs")
plt.show()

# %% tags=["nbval-check-output"]
appg_summary = ex.active_summary(appg_curves)
pages.echo(appg_summary.round(3).to_string(line_width=pages.TEXT_WIDTH))

# %% [markdown]
# **Paper:** influence-based sampling is "superlative to the other active baselines for all
# datasets except Adult. For Adult, influence-based sampling still outperforms uncertainty sampling
# and random sampling, but is slightly less performant than entropy and margin sampling."
#
# **Measured:** on all three data sets the methods end within about a point of each other, mostly
# inside the run-to-run spread. The influence tree is the best method on Bank (at the end and in half
# of the rounds), in the middle of the field on Adult, and among the worst on CelebA, where FI-active
# leads in every round; on Adult uncertainty sampling leads in most rounds. The paper's Adult
# statement cannot hold as written: entropy, margin and uncertainty sampling are the same strategy
# for a binary task, so a method cannot beat one of them and lose to the other two except by noise.
#
# **Verdict:** partly reproduced (Bank only).

# %% [markdown]
# ## Claims

# %% tags=["remove-input"]
last = online[online.batch == online.batch.max()].groupby(["dataset", "learner", "variant"]).accuracy.mean().unstack()
online_better = bool((last["influence"] > last["none"]).all())
bank_gain = (last.loc["bank", "influence"] - last.loc["bank", "none"]).min() if "bank" in last.index else np.nan


def tree_standing(summary, name):
    """The tree's final rank (1 + methods strictly better), its number of ties, best rounds, methods."""
    s = summary.loc[name]["final mean"].round(10)
    t = s.loc["tree"]
    return int((s > t).sum()) + 1, int((s == t).sum()) - 1, int(summary.loc[(name, "tree"), "best rounds"]), len(s)


def standing_text(rank, ties, best, n):
    tied = f" (tied with {ties})" if ties else ""
    return f"final rank {rank}{tied} of {n}, best in {best} of {active_rounds} rounds"


bc_rank, bc_ties, bc_best, bc_n = tree_standing(bc_summary, active_dataset)
g_stand = {name: tree_standing(appg_summary, name) for name in appg_datasets}
rows = [
    {
        "claim": "§5.4: influence trimming of each noisy batch gives much better online accuracy, all sets but Bank, "
        "both learners",
        "paper": "Fig. 6 A-D (plot only)",
        "measured": "; ".join(
            f"{d}/{lrn}: {r['none']:.2f} -> {r['influence']:.2f} (random {r['random']:.2f}, clean {r['clean']:.2f})"
            for (d, lrn), r in last.iterrows()
        ),
        "verdict": "reproduced" if online_better else "partly",
        "why": f"after the last batch, {online_seeds} seeds; Bank gains too (by {bank_gain:+.2f} at least); "
        "Jigsaw Toxicity not available",
    },
    {
        "claim": "§5.5: influence sampling is best in most rounds and best after the final round "
        "(Diabetic Retinopathy)",
        "paper": "Fig. 6 E (plot only)",
        "measured": f"{active_dataset}: {standing_text(bc_rank, bc_ties, bc_best, bc_n)}",
        "verdict": "reproduced"
        if (bc_best > active_rounds / 2 and bc_rank == 1)
        else ("partly" if (bc_best > active_rounds / 2 or bc_rank == 1) else "not reproduced"),
        "why": "breast cancer stands in for Diabetic Retinopathy; the methods differ by less than the "
        "run-to-run spread",
    },
    {
        "claim": "App. G: influence sampling is superlative on every data set except Adult",
        "paper": "Fig. 23 (plot only)",
        "measured": "; ".join(f"{n}: {standing_text(*st)}" for n, st in g_stand.items()),
        "verdict": "reproduced"
        if all(st[0] == 1 for n, st in g_stand.items() if n != "adult")
        else ("partly" if any(st[0] == 1 for st in g_stand.values()) else "not reproduced"),
        "why": f"pool of {appg_pool}, {appg_seeds} runs; Jigsaw Toxicity not available",
    },
    {
        "claim": "Fig. 6 E / App. G: entropy, margin and uncertainty sampling are different baselines "
        "(Adult: influence beats uncertainty but loses to entropy and margin)",
        "paper": "three different curves",
        "measured": f"identical queries in every run: {agree}",
        "verdict": "the paper's claim does not hold" if agree else "reproduced",
        "why": "for a binary task all three are decreasing functions of |p - 1/2|; only unseeded Platt scaling "
        "can separate their curves",
    },
]
pages.claims_table(rows)
