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
# # [CH] applications I: fairness under distribution shift, poisoning, adaptive evasion
#
# **The question this page answers:** does the influence-based trimming of Chhabra et al.
# ([CH], ICLR 2024, Algorithm 2) help when the data are not the clean, identically distributed
# training and test sets of its §4, namely when (i) the test distribution has shifted in a way that
# hurts fairness, (ii) an attacker has poisoned the training set to make the model unfair, and
# (iii) an attacker perturbs part of the test set to evade the model?
#
# **The paper's claims** (§5.1-5.3): trimming 3.33 % of the training set makes a vanilla logistic
# regression competitive with fairness interventions under distribution shift and, used before
# those interventions, raises their accuracy (Fig. 4); trimming at most 10 % of a poisoned
# training set removes the unfairness that the anchoring attacks of Mehrabi et al. (2021) create,
# below its pre-attack level, without costing accuracy (Table 1, e.g. German NRAA DP 0.268 -> 0.005);
# trimming 2.5 % of the training set after an adaptive evasion attack lifts the accuracy on the
# attacked test set "well beyond pre-attack values" (Fig. 5).
#
# **Our setting:** the book's L2 logistic regression as model and influence surrogate (exact
# Hessian, `lib.influence`), real data that is available offline. ACS Income (the paper's §5.1
# data) is not: the shifts are built from Adult as Roh et al. (2023) define fairness-specific
# shifts. Drug consumption (Table 1's third set) and Jigsaw Toxicity (one of §5.3's four sets) have
# no offline source and are left out. Every number below is computed on this page; the paper's
# are quoted beside them.

# %% tags=["parameters", "remove-input"]
seed = 0
progress = False
n_jobs = 1
shift_dataset = "adult"
shift_seeds = 2
shift_train = 3000
shift_val = 1000
shift_test = 2000
shift_strengths = [0.25, 0.5, 0.75]
shift_budget = 0.0333
reweigh_alpha = 0.5
poison_datasets = ["german", "compas"]
poison_seeds = 5
poison_eps = 0.1
poison_tau = 0.1
poison_candidates = 10
poison_budgets = [0.01, 0.025, 0.05, 0.1]
evasion_datasets = ["adult", "bank", "celeba"]
evasion_train = 3000
evasion_val = 1000
evasion_test = 2000
evasion_runs = 10
evasion_trim = 0.025
gamma = 1.3

# %% tags=["remove-input"]
import warnings

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

import lib.reproducibility
from lib import datasets
from lib._book import pages
from lib.experiments import ch06_ch_fairness_applications as ex
from lib.reproducibility import progress as bar

rng = lib.reproducibility.setup(seed, threads=1)  # small models: one thread is faster than two
pages.setup_plots()
warnings.filterwarnings("ignore", category=FutureWarning)  # fairlearn/pandas deprecation notices
SHIFT_NAMES = ["mild (stand-in for time)", "moderate (location)", "strong (time & location)"]
pages.parameters_table(globals(), "06_ch_fairness_applications")

# %% [markdown]
# ## 1. Fairness under distribution shift ([CH] §5.1, Fig. 4, App. C.2)
#
# **Setting.** [CH] trains on ACS Income (California 2014, 18,000 samples) and tests on 6,000
# samples of California 2018, Michigan 2014 and Michigan 2018; the validation set holds samples of
# the shifted test distribution. ACS Income is not available offline, so we build the shifts as
# Roh et al. (2023) characterise fairness-specific shifts: the joint distribution of the sensitive
# group $g$ (sex, 1 = female) and the label $y$ (income > 50K) changes while $P(x \mid g, y)$ stays
# that of the data. `lib.shift.correlation_shift` moves the training table $P[g, y]$ along
# $\begin{pmatrix} 1 & -1 \\ -1 & 1 \end{pmatrix}$, which keeps both marginals and widens the label
# gap $P(y{=}1 \mid g{=}1) - P(y{=}1 \mid g{=}0)$; the strengths (fractions of the largest
# feasible shift, `shift_strengths`) are our stand-ins for the three scenarios, of increasing
# strength. Validation and test sets are resampled to the shifted table from disjoint halves of the
# data not used for training. The tables (first seed):

# %% tags=["remove-input"]
strengths = dict(zip(SHIFT_NAMES, shift_strengths, strict=True))
adult = datasets.load(shift_dataset)
ex.shift_tables(
    ex.shift_split(adult, shift_train, shift_val, shift_test, strengths, np.random.default_rng([seed, 0]))
).round(3)

# %% [markdown]
# **Methods.** *Vanilla LR* is the book's logistic regression. The fairness interventions are the
# maintained fairlearn implementations of an in-processing and a post-processing method for
# demographic parity: `ExponentiatedGradient` (reductions, Agarwal et al. 2018) and
# `ThresholdOptimizer` (group thresholds, Hardt et al. 2016), both on scikit-learn's logistic
# regression with the same objective (`C = 1 / l2`); the paper's own baselines (Correlation Shift,
# FairBatch, RLL) are research code without a PyPI package. *Influence reweighing* is our linear-programming form
# of Li & Liu (2022) (`lib.reweighing`: the smallest total down-weighting whose first-order
# effect removes `reweigh_alpha` of the validation DP gap without raising the validation loss).
# *Trimming* removes up to $b = 3.33\,\%$ of the training set by Algorithm 2 on the influence on the
# validation DP gap, computed with the vanilla LR as the surrogate; as in App. C.2 the same points
# are removed before every method (reweighing recomputes its weights on the trimmed set). A random
# removal of the same number of points is the control. We report the test accuracy and the
# demographic-parity gap of the hard predictions, $|P(\hat y{=}1 \mid g{=}1) - P(\hat y{=}1 \mid g{=}0)|$.

# %%
shift = ex.shift_experiment(
    adult,
    range(seed, seed + shift_seeds),
    shift_train,
    shift_val,
    shift_test,
    strengths,
    shift_budget,
    reweigh_alpha=reweigh_alpha,
    n_jobs=n_jobs,
)
shift_mean = shift.groupby(["shift", "method", "variant"], sort=False)[["accuracy", "dp"]].agg(["mean", "std"])

# %% tags=["remove-input"]
METHOD_ORDER = ["vanilla LR", "influence reweighing", "ExponentiatedGradient", "ThresholdOptimizer"]
colours = dict(zip(METHOD_ORDER, sns.color_palette("colorblind", 4), strict=True))
fig, axes = plt.subplots(1, 3, figsize=(12, 4.2), sharey=True)
for ax, name in zip(axes, SHIFT_NAMES, strict=True):
    for method in METHOD_ORDER:
        pts = {}
        for variant, marker, fill in (("no trimming", "o", "none"), ("influence trimming", "o", colours[method])):
            m = shift_mean.loc[(name, method, variant)]
            pts[variant] = (m[("dp", "mean")], m[("accuracy", "mean")])
            ax.errorbar(
                *pts[variant],
                xerr=m[("dp", "std")],
                yerr=m[("accuracy", "std")],
                fmt=marker,
                ms=8,
                mfc=fill,
                mec=colours[method],
                ecolor=colours[method],
                elinewidth=0.8,
                capsize=2,
            )
        ax.annotate(
            "",
            xy=pts["influence trimming"],
            xytext=pts["no trimming"],
            arrowprops={"arrowstyle": "->", "color": colours[method], "lw": 1.2},
        )
    m = shift_mean.loc[(name, "vanilla LR", "random trimming")]
    ax.plot(m[("dp", "mean")], m[("accuracy", "mean")], "x", color="grey", ms=8)
    ax.set_title(name)
    ax.set_xlabel("test |DP| (lower is fairer)")
axes[0].set_ylabel("test accuracy")
handles = [plt.Line2D([], [], marker="o", ls="", color=colours[m], label=m) for m in METHOD_ORDER]
handles += [
    plt.Line2D([], [], marker="o", ls="", mfc="none", mec="k", label="no trimming (hollow)"),
    plt.Line2D([], [], marker="o", ls="", color="k", label="after influence trimming (filled)"),
    plt.Line2D([], [], marker="x", ls="", color="grey", label="vanilla LR, random trimming"),
]
fig.legend(handles=handles, loc="lower center", ncol=4, bbox_to_anchor=(0.5, -0.12), frameon=False)
fig.suptitle(f"Fig. 4 on Adult with correlation shifts: mean ± sd over {shift_seeds} seeds")
plt.show()

# %% tags=["nbval-check-output"]
wide = shift.pivot_table(index=["shift", "method", "seed"], columns="variant", values=["accuracy", "dp"])
delta = (
    (wide.xs("influence trimming", axis=1, level=1) - wide.xs("no trimming", axis=1, level=1))
    .groupby(["shift", "method"], sort=False)
    .mean()
)
base = wide.xs("no trimming", axis=1, level=1).groupby(["shift", "method"], sort=False).mean()
table = pd.DataFrame(
    {
        "|DP| before": base.dp,
        "|DP| change": delta.dp,
        "accuracy before": base.accuracy,
        "accuracy change": delta.accuracy,
    }
).loc[SHIFT_NAMES]
pages.echo(table.round(2).to_string(line_width=pages.TEXT_WIDTH))
vanilla_after = (
    shift[(shift.method == "vanilla LR") & (shift.variant == "influence trimming")].groupby("shift").dp.mean()
)
interventions = (
    shift[shift.method.isin(["ExponentiatedGradient", "ThresholdOptimizer"]) & (shift.variant == "no trimming")]
    .groupby("shift")
    .dp.max()
)
pages.echo(
    f"points removed per shift: {sorted(shift[shift.variant == 'influence trimming'].removed.unique().tolist())} "
    f"of {shift_train}"
)

# %% [markdown]
# **Paper:** trimming "can greatly improve fairness under distribution shift even when utilized
# with the vanilla model, making it competitive with the fairness intervention baselines", and with
# the interventions (except vanilla) it "improves their accuracy significantly as well".
#
# **Measured:** trimming 3.33 % of the training set lowers the vanilla model's test |DP| under
# every shift, while removing the same number of random points does nothing (grey crosses), at a
# small cost in accuracy. It does not make the vanilla model competitive: the fairlearn
# interventions and influence reweighing reach gaps several times smaller. Applied before the
# interventions, trimming moves their gaps by a few hundredths (mostly down, once up) and
# *lowers* their accuracy slightly in every case; it never raises it.
#
# **Verdict:** the first half of the claim (trimming improves the vanilla model's fairness under
# shift) is reproduced on our stand-in shifts; "competitive with the baselines" and "improves their
# accuracy significantly" are not. The shifts are synthetic stand-ins (resampled Adult, not ACS
# Income), and the paper's baselines are not the ones we could run, so this is a test of the
# mechanism, not of Fig. 4's numbers (which the paper gives only as a plot).

# %% [markdown]
# ## 2. Trimming as a defence against fairness poisoning ([CH] §5.2, Table 1)
#
# **The attacks** (`lib.poisoning`, after Mehrabi et al. 2021): the attacker adds
# $\varepsilon n = 10\,\%$ poisoned points, each within $\tau$ (`poison_tau`, standardised units)
# of a *target* training point, in the target's group, with the opposite label: positive-label
# poison next to negatives of the advantaged group (the group with the higher positive rate),
# negative-label poison next to positives of the disadvantaged group, split in inverse class
# balance as in Mehrabi et al.'s code. **RAA** draws the targets at random; **NRAA** shortlists the
# `poison_candidates` most *popular* candidates (most neighbours within the 10 % quantile of their
# pairwise distances) and keeps the one whose poison maximises the bias of the refitted model on
# the attacker's data, which is [CH]'s description ("targets that result in the maximization of
# bias"). One target per kind, as in Mehrabi et al.'s code. Unit tests check the number of points,
# their labels, groups and distances, and that NRAA raises the bias more than RAA on a small case.
#
# **The data:** German credit (1,000 applicants, 61 one-hot features, label good credit) and COMPAS
# (ProPublica's two-year file, 6,172 defendants after ProPublica's filter, label no re-arrest
# within two years), both with sex as the sensitive attribute, read from a pinned PyPI wheel
# (`data/README.md`); 60 / 20 / 20 % train / validation / test splits, `poison_seeds` seeds (split,
# attack and random trimming all change with the seed). Drug consumption is not available offline.
#
# **The defence:** the influence of every (poisoned) training sample on the DP gap of the clean
# validation set, Algorithm 2 at budgets of 1 to 10 % of the poisoned training set, retrain. The
# defender does not know which points are poison; the budget is chosen per seed as the one with
# the smallest *validation* |DP| (the authors' code instead fixes a count per data set and attack,
# between 1 and 150 points, with no selection rule given). Random trimming is the control.

# %%
poison = {
    name: ex.poisoning_experiment(
        datasets.load(name),
        range(seed, seed + poison_seeds),
        eps=poison_eps,
        tau=poison_tau,
        budgets=poison_budgets,
        n_candidates=poison_candidates,
        n_jobs=n_jobs,
    )
    for name in bar(poison_datasets, progress)
}

# %% tags=["nbval-check-output"]
ours = pd.concat(
    {name: ex.table1(r)[["|DP|", "|DP| sd", "accuracy", "accuracy sd", "budget"]] for name, r in poison.items()}, axis=1
)
pages.echo(
    f"Ours (mean, sd over {poison_seeds} seeds; |DP| of hard test predictions; trimming budget chosen on validation):"
)
pages.echo(ours.round(3).to_string(line_width=pages.TEXT_WIDTH))
pages.echo("\n[CH] Table 1 (signed DP, one run):")
pages.echo(ex.PAPER_TABLE1.to_string(line_width=pages.TEXT_WIDTH))

# %% tags=["remove-input"]
fig, axes = plt.subplots(len(poison), 2, figsize=(11, 3.6 * len(poison)), squeeze=False)
for row, (name, r) in zip(axes, poison.items(), strict=True):
    for ax, metric, label in ((row[0], "dp", "test |DP|"), (row[1], "accuracy", "test accuracy")):
        clean = r[r.attack == "none"][metric].mean()
        ax.axhline(clean, color="k", ls="--", lw=1, label="no attack")
        for attack, colour in (("RAA", "tab:blue"), ("NRAA", "tab:red")):
            a = r[r.attack == attack]
            for defence, ls in (("influence", "-"), ("random", ":")):
                d = pd.concat([a[a.defence == "none"], a[a.defence == defence]])
                s = d.groupby("budget")[metric].agg(["mean", "std"])
                ax.errorbar(
                    100 * s.index,
                    s["mean"],
                    yerr=s["std"],
                    ls=ls,
                    color=colour,
                    marker="o",
                    ms=4,
                    capsize=2,
                    label=f"{attack}, {defence} trimming",
                )
        ax.set_xlabel("trimming budget (% of the poisoned training set)", fontsize=9)
        ax.set_ylabel(label)
        ax.set_title(f"{name}: {label}")
axes[0, 1].legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), frameon=False)
fig.suptitle(f"Trimming the poisoned training set: mean ± sd over {poison_seeds} seeds")
plt.show()

# %% tags=["nbval-check-output"]
found = pd.concat(
    {
        name: r[r.defence == "influence"].groupby(["attack", "budget"])[["removed", "poison_removed"]].mean()
        for name, r in poison.items()
    }
)
found["poison share of removed"] = found.poison_removed / found.removed.where(found.removed > 0)
pages.echo("How many of the trimmed points are poison (mean over seeds):")
pages.echo(found.round(2).to_string(line_width=pages.TEXT_WIDTH))

# %% [markdown]
# **Paper:** "Our trimming approach is useful for combating fairness-reducing poisoning attacks, as
# it improves fairness (and utility for Compas) performance compared to the metric values obtained
# before and after the attacks", "without sacrificing utility". Table 1: German NRAA 0.268 -> 0.005,
# COMPAS NRAA 0.168 -> 0.048 (signed DP); note that in the paper's own table RAA *lowers* the gap
# on German and COMPAS (0.117 -> -0.029, -0.281 -> -0.060), so there the "attack" made the model
# fairer.
#
# **Measured:** both attacks raise the test |DP| above its clean level on both data sets, NRAA more
# than RAA. Influence trimming brings |DP| back below its pre-attack value with the budget a
# defender picks on validation data, while random trimming leaves it where the attack put it. The
# cost is a drop in test accuracy of a few points on both sets, growing with the budget (figure).
# The trimmed points are never the poison itself on German and only partly on COMPAS: as the paper
# says, trimming does not find the attack, it removes whichever training points carry the gap.
#
# **Verdict:** reproduced for fairness (below both the pre- and post-attack gap, on both sets);
# "without sacrificing utility" only partly (see the claims table for the accuracy change).

# %% [markdown]
# ## 3. Trimming against an adaptive evasion attacker ([CH] §5.3, Fig. 5)
#
# **Setting (the authors' code):** one split and one logistic regression per data set; in each of
# `evasion_runs` runs the attacker picks a random number (5-25 %) of test points and moves them
# across the decision boundary with the linear attack $x' = x - \gamma \frac{\theta^\top x + b}
# {\lVert\theta\rVert^2}\theta$, $\gamma = 1.3$, crafted against the deployed model (a unit test
# checks that $\gamma > 1$ flips every prediction of the crafting model). The defender trims 2.5 %
# of the training set and retrains; the attacked test points stay as crafted. The defender's
# influence target differs between the paper's text and its code, so we run four defences:
#
# * **authors' code:** utility influence on the *attacked test set itself* (the code assigns the
#   attacked test set to the validation set), removing exactly $b$ points: it tunes on the test set;
# * **held-out validation, same attack:** utility influence on a validation set that the same
#   attacker has attacked in the same random way (an honest version of the above), Algorithm 2;
# * **robustness influence (Eq. 3):** the loss on the validation set with *every* point attacked,
#   Algorithm 2 (the defender expects the attack but does not know which points it hits);
# * **random:** $b$ random points.
#
# Adult, Bank and CelebA as in §4 (subsampled: `evasion_train` / `evasion_val` / `evasion_test`);
# Jigsaw Toxicity is not available offline.

# %%
evasion = pd.concat(
    [
        ex.evasion_experiment(
            datasets.load(name),
            seed,
            evasion_train,
            evasion_val,
            evasion_test,
            evasion_runs,
            evasion_trim,
            gamma,
            n_jobs=n_jobs,
        )
        for name in bar(evasion_datasets, progress)
    ],
    ignore_index=True,
)
DEFENCE_NAMES = list(ex.DEFENCES)

# %% tags=["remove-input"]
long = evasion.melt(
    id_vars=["dataset", "run"],
    value_vars=["post-attack"] + [f"{d}: attacked" for d in DEFENCE_NAMES],
    var_name="model",
    value_name="accuracy on the attacked test set",
)
long["model"] = long.model.str.replace(": attacked", "", regex=False)
fig, axes = plt.subplots(1, len(evasion_datasets), figsize=(12, 4.4), sharey=False, squeeze=False)
for ax, name in zip(axes[0], evasion_datasets, strict=True):
    d = long[long.dataset == name]
    sns.boxplot(data=d, x="model", y="accuracy on the attacked test set", ax=ax, color="lightgrey", fliersize=0)
    sns.stripplot(data=d, x="model", y="accuracy on the attacked test set", ax=ax, size=3, color="k")
    ax.axhline(evasion[evasion.dataset == name]["pre-attack"].iloc[0], color="tab:green", ls="--", label="pre-attack")
    ax.set_title(name)
    ax.set_xlabel("")
    ax.set_xticks(range(len(DEFENCE_NAMES) + 1))
    ax.set_xticklabels(["post-attack", "authors' code", "held-out val.", "Eq. 3", "random"], rotation=30, ha="right")
axes[0, 0].legend(loc="lower right")
fig.suptitle(f"Fig. 5: accuracy after the attack and after trimming 2.5 % ({evasion_runs} runs)")
plt.show()

# %% tags=["nbval-check-output"]
cols = (
    ["pre-attack", "post-attack"] + [f"{d}: attacked" for d in DEFENCE_NAMES] + [f"{d}: clean" for d in DEFENCE_NAMES]
)
summary = evasion.groupby("dataset", sort=False)[cols].mean().T
summary.index = summary.index.str.replace("(test set as validation)", "", regex=False)
pages.echo(
    f"Mean test accuracy over {evasion_runs} runs (attacked fraction {evasion['attacked fraction'].mean():.2f} "
    "on average):"
)
pages.echo(summary.round(3).to_string(line_width=pages.TEXT_WIDTH))
beyond = {
    name: int((g[[f"{d}: attacked" for d in DEFENCE_NAMES[:3]]].max(axis=1) > g["pre-attack"]).sum())
    for name, g in evasion.groupby("dataset", sort=False)
}
pages.echo(f"runs in which any influence defence beats the pre-attack accuracy: {beyond}")

# %% [markdown]
# **Paper:** "trimming the training set after the attack can be a viable defense. With just 2.5 %
# of the training data trimmed, we find that we can increase performance well beyond pre-attack
# values."
#
# **Measured:** every influence defence recovers part of the accuracy the attack takes away, with
# the authors' test-set-as-validation variant usually the best of them (it sees the test points
# it is scored on); random trimming recovers nothing. No defence reaches the pre-attack accuracy
# in any run on any of the three data sets, let alone goes beyond it. On the clean test set the
# trimmed models lose almost nothing.
#
# **Verdict:** "viable defence" is partly reproduced (a partial recovery, larger than random);
# "well beyond pre-attack values" is not reproduced.

# %% [markdown]
# ## Claims

# %% tags=["remove-input"]
v_base = shift_mean.xs("vanilla LR", level="method")
v_drop = {
    s: (v_base.loc[(s, "no trimming"), ("dp", "mean")], v_base.loc[(s, "influence trimming"), ("dp", "mean")])
    for s in SHIFT_NAMES
}
v_rand = {s: v_base.loc[(s, "random trimming"), ("dp", "mean")] for s in SHIFT_NAMES}
lowers = all(a > b for a, b in v_drop.values()) and all(v_rand[s] > v_drop[s][1] for s in SHIFT_NAMES)
competitive = all(vanilla_after[s] <= interventions[s] for s in SHIFT_NAMES)
acc_gain = delta.accuracy.drop(index="vanilla LR", level="method")
t1 = {name: ex.table1(r) for name, r in poison.items()}
below_both = {
    n: t["|DP|"]["NRAA + trimming"] < min(t["|DP|"]["Before"], t["|DP|"]["NRAA"])
    and t["|DP|"]["RAA + trimming"] < min(t["|DP|"]["Before"], t["|DP|"]["RAA"])
    for n, t in t1.items()
}
acc_cost = {
    n: min(t.accuracy["RAA + trimming"] - t.accuracy["RAA"], t.accuracy["NRAA + trimming"] - t.accuracy["NRAA"])
    for n, t in t1.items()
}
nraa_more = {n: t["|DP|"]["NRAA"] > t["|DP|"]["RAA"] > t["|DP|"]["Before"] for n, t in t1.items()}
rec = {
    name: (
        g["post-attack"].mean(),
        g[[f"{d}: attacked" for d in DEFENCE_NAMES[:3]]].mean().max(),
        g["pre-attack"].mean(),
        g["random: attacked"].mean(),
    )
    for name, g in evasion.groupby("dataset", sort=False)
}
rows = [
    {
        "claim": "§5.1: trimming 3.33 % greatly improves the vanilla model's fairness under distribution shift",
        "paper": "Fig. 4 A-C (plot only)",
        "measured": "; ".join(
            f"{s.split(' (')[0]} |DP| {a:.2f} -> {b:.2f} (random {v_rand[s]:.2f})" for s, (a, b) in v_drop.items()
        ),
        "verdict": "reproduced" if lowers else "not reproduced",
        "why": "Adult with synthetic correlation shifts (Roh et al.) stands in for ACS Income",
    },
    {
        "claim": "§5.1: ... making it competitive with the fairness intervention baselines",
        "paper": "Fig. 4",
        "measured": "; ".join(
            f"{s.split(' (')[0]}: trimmed vanilla {vanilla_after[s]:.2f} vs interventions <= {interventions[s]:.2f}"
            for s in SHIFT_NAMES
        ),
        "verdict": "reproduced" if competitive else "not reproduced",
        "why": "fairlearn's EG / ThresholdOptimizer and our influence reweighing reach far smaller gaps",
    },
    {
        "claim": "§5.1: trimming before the interventions improves their accuracy significantly",
        "paper": "Fig. 4 B-D",
        "measured": f"accuracy change {acc_gain.min():+.3f} to {acc_gain.max():+.3f} over methods and shifts",
        "verdict": "reproduced" if acc_gain.min() > 0.01 else ("partly" if acc_gain.max() > 0.01 else "not reproduced"),
        "why": "the same 3.33 % removed before each method, as App. C.2",
    },
    {
        "claim": "§5.2: NRAA raises the bias more than RAA",
        "paper": "German 0.268 vs -0.029; Compas 0.168 vs -0.060 (signed DP)",
        "measured": "; ".join(
            f"{n}: |DP| {t['|DP|']['Before']:.3f} -> RAA {t['|DP|']['RAA']:.3f}, NRAA {t['|DP|']['NRAA']:.3f}"
            for n, t in t1.items()
        ),
        "verdict": "reproduced" if all(nraa_more.values()) else "partly",
        "why": "our RAA raises the gap too; in the paper's table RAA lowers it",
    },
    {
        "claim": "§5.2: trimming improves fairness compared to both before and after the attack",
        "paper": "German NRAA 0.268 -> 0.005, RAA -0.029 -> 0.000; Compas NRAA 0.168 -> 0.048",
        "measured": "; ".join(
            f"{n}: RAA {t['|DP|']['RAA']:.3f} -> {t['|DP|']['RAA + trimming']:.3f}, NRAA "
            f"{t['|DP|']['NRAA']:.3f} -> {t['|DP|']['NRAA + trimming']:.3f}"
            for n, t in t1.items()
        ),
        "verdict": "reproduced"
        if all(below_both.values())
        else ("partly" if any(below_both.values()) else "not reproduced"),
        "why": f"budget per seed by validation |DP|, {poison_seeds} seeds; Drug consumption not available",
    },
    {
        "claim": "§5.2: ... without sacrificing utility",
        "paper": "German 0.665 -> 0.650 (NRAA); Compas 0.652 -> 0.654",
        "measured": "; ".join(f"{n}: worst accuracy change {c:+.3f}" for n, c in acc_cost.items()),
        "verdict": "reproduced" if min(acc_cost.values()) > -0.01 else "partly",
        "why": "the paper's own German row also loses 1.5 points",
    },
    {
        "claim": "§5.3: trimming 2.5 % after an adaptive attack raises accuracy well beyond pre-attack values",
        "paper": "Fig. 5 (plot only)",
        "measured": "; ".join(
            f"{n}: attacked {a:.3f}, best defence {b:.3f}, pre-attack {c:.3f}" for n, (a, b, c, _) in rec.items()
        ),
        "verdict": "reproduced" if all(b > c for _, b, c, _ in rec.values()) else "not reproduced",
        "why": "a partial recovery only; Jigsaw Toxicity not available",
    },
    {
        "claim": "§5.3: trimming is a viable defence",
        "paper": "Fig. 5",
        "measured": "; ".join(f"{n}: {b - a:+.3f} (random {r - a:+.3f})" for n, (a, b, _, r) in rec.items()),
        "verdict": "partly" if all(b > r for _, b, _, r in rec.values()) else "not reproduced",
        "why": "recovers part of the loss, more than random trimming; the best variant tunes on the test set",
    },
]
pages.claims_table(rows)
