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
# # Influence on a logistic regression
#
# **Does the influence of a training sample predict what removing it does to a model's utility,
# fairness and robustness, and does removing the most harmful samples improve the model?** On a
# convex model, where retraining is exact and cheap, this chapter checks the claims of Chhabra et
# al. (ICLR 2024, "[CH]"): influence on **utility** (validation loss, [CH] Eq. 1), **fairness**
# (demographic-parity gap, Eq. 2) and **adversarial robustness** (loss on a linearly attacked
# validation set, Eq. 3); the influence-estimation tree (Algorithm 1); trimming with a budget
# (Algorithm 2); and predicted vs. actual leave-one-out (App. B). It ends with the [FI]
# counterexample in which trimming removes only one class, and with how the L2 strength
# controls how well influence tracks leave-one-out retraining.
#
# Sign convention of the book ({ref}`conventions §1 <conventions-sign>`): $I_f(i)$ predicts
# $f(\text{without } i) - f(\text{with } i)$. All three quantities are "lower is better", so a
# **negative** influence marks a sample whose removal should help; Algorithm 2 removes the most
# negative ones.

# %% tags=["parameters", "remove-input"]
seed = 0
progress = False
n_train = 150
n_val = 100
l2 = "auto"
gamma = 1.3
budget = 10
tree_lambda = 10.0
tree_max_depth = 6
n_loo = 125
trim_seeds = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]
real_dataset = "breast_cancer"
l2_grid = [0.01, 0.1, 1.0, 10.0, 100.0]
n_loo_real = 40

# %% tags=["remove-input"]
import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns
from matplotlib.lines import Line2D

import lib.reproducibility
from lib import datasets, fairness, influence, preprocessing, trees
from lib._book import pages
from lib.datasets.toy import ch_toy
from lib.experiments import ch01_logistic_influence as ch
from lib.models import LogisticRegression
from lib.trimming import trim

rng = lib.reproducibility.setup(seed, threads=1)  # tiny models: one thread is faster than two
pages.setup_plots()
pages.parameters_table(globals(), "01_logistic_influence")

# %% [markdown]
# ## The toy set
#
# [CH] §4: "150 train and 100 validation samples using two isotropic 2D-Gaussian distributions";
# the (+) class holds mostly majority-group samples and the (-) class mostly minority ones. The
# paper gives no means, spreads or group rates, so we pick: (+) $\sim \mathcal N((1, 1), I)$,
# (-) $\sim \mathcal N((-1, -1), I)$, majority group with probability 0.8 in (+) and 0.3 in (-).
# The model is the book's L2 logistic regression (sum-form objective, exact Hessian,
# `l2="auto"`, whose value is printed below). The adversarial validation set uses the linear
# attack $x' = x - \gamma\,\frac{\theta^\top x + b}{\lVert\theta\rVert^2}\,\theta$ with the
# parameter `gamma` (the authors' public code uses 1.3), crafted once against this model and
# reused after every retraining.

# %%
d = ch_toy(rng, n_train=n_train, n_val=n_val)
model = LogisticRegression(l2=l2).fit(d.X_train, d.y_train)
fs, X_adv = ch.toy_quantities(model, d, gamma)
I = {name: influence.influence_on(model, d.X_train, d.y_train, f) for name, f in fs.items()}  # noqa: E741
before = fairness.metrics(model, d.X_val, d.y_val, d.g_val, X_adv)

# %% tags=["nbval-check-output", "hide-input"]
print("L2 strength (l2='auto'):", model.l2_)
print("validation metrics:")
for k, v in before.items():
    print(f"  {k}: {v:.3f}")
print("share of negative influence:", ", ".join(f"{k} {float((v < 0).mean()):.3f}" for k, v in I.items()))

# %% [markdown]
# ## Influence regions from the tree (Algorithm 1, [CH] Fig. 1 A/D/G)
#
# For each function we regress the influence on $[x_i, y_i]$ with CART (depth at most
# `tree_max_depth`, at least 3 samples per leaf; the paper gives neither) and shrink it
# hierarchically with $\lambda$ = `tree_lambda`. Because the label is an input of the tree, a
# region depends on the label: the top row shows the tree's estimate for a (-) sample placed at
# each point, the bottom row for a (+) sample. Green: positive (the sample helps), red: negative.
# Markers: o majority group, x minority group; the black line is the original decision boundary.

# %%
tree_fits = {name: trees.fit_influence_tree(d.X_train, d.y_train, I[name], rng, lam=tree_lambda,
                                            max_depth=tree_max_depth) for name in fs}

# %% tags=["hide-input"]
lo, hi = d.X_train.min(0) - 0.5, d.X_train.max(0) + 0.5
w, b = model.coef_[0], model.intercept_[0]
xs = np.linspace(lo[0], hi[0], 50)
colours = dict(zip(["(+)", "(-)"], sns.color_palette("colorblind", 2), strict=True))
fig, axes = plt.subplots(2, 3, figsize=(12, 7.6), sharex=True, sharey=True)
for j, name in enumerate(fs):
    for label in (0, 1):
        ax = axes[label, j]
        xx, yy, zz = trees.grid_predictions(tree_fits[name], label, (lo[0], hi[0]), (lo[1], hi[1]), 150)
        ax.contourf(xx, yy, np.sign(zz), levels=[-1.5, 0, 1.5], colors=["#f4b6c2", "#b7e4c7"], alpha=0.8)
        for g, marker in ((1, "o"), (0, "x")):
            sel = d.g_train == g
            ax.scatter(*d.X_train[sel].T, marker=marker, s=22,
                       c=[colours["(+)" if y == 1 else "(-)"] for y in d.y_train[sel]])
        ax.plot(xs, -(w[0] * xs + b) / w[1], color="black")
        ax.set(xlim=(lo[0], hi[0]), ylim=(lo[1], hi[1]),
               title=f"{name}: regions for a {'(+)' if label else '(-)'} sample")
for ax in axes[-1]:
    ax.set_xlabel("$x_1$")
for ax in axes[:, 0]:
    ax.set_ylabel("$x_2$")
handles = [Line2D([], [], ls="", marker="o", color=colours["(+)"], label="(+) sample"),
           Line2D([], [], ls="", marker="o", color=colours["(-)"], label="(-) sample"),
           Line2D([], [], ls="", marker="o", color="grey", label="majority group"),
           Line2D([], [], ls="", marker="x", color="grey", label="minority group"),
           Line2D([], [], color="black", label="decision boundary"),
           plt.Rectangle((0, 0), 1, 1, color="#b7e4c7", label="tree: positive influence"),
           plt.Rectangle((0, 0), 1, 1, color="#f4b6c2", label="tree: negative influence")]
fig.legend(handles=handles, loc="lower center", ncol=4, bbox_to_anchor=(0.5, -0.07), frameon=False)
plt.show()

# %% tags=["nbval-check-output", "hide-input"]
Q = np.column_stack([d.X_train, d.y_train])
print("share of training samples whose influence sign the tree gets right:")
for name, t in tree_fits.items():
    print(f"  {name}: {float((np.sign(t.predict(Q)) == np.sign(I[name])).mean()):.3f}")

# %% [markdown]
# ## Trimming with a budget (Algorithm 2, [CH] Fig. 1 B/C, E/F, H/I)
#
# Remove at most $b$ = `budget` negative-influence samples per function, retrain from scratch,
# and evaluate on the validation set (the attacked set stays the one crafted against the
# original model). The paper reports, for its single draw, adversarial accuracy 0.01 -> 0.42
# and shows qualitative gains in accuracy and fairness. Note that the influence targets the
# *loss*, while the reported metric is accuracy: the two can move in different directions.

# %%
table = ch.trim_experiment(d, l2=l2, gamma=gamma, budget=budget)
(table.set_index(["function", "stage"])[["removed", "accuracy", "dp_gap", "eop_gap", "adv_accuracy", "val_loss",
                                         "adv_loss"]]
 .rename(columns={"accuracy": "acc.", "dp_gap": "DP gap", "eop_gap": "EOP gap", "adv_accuracy": "adv. acc.",
                  "val_loss": "val. loss", "adv_loss": "adv. loss"}).round(3))

# %% tags=["hide-input"]
fig, axes = plt.subplots(1, 3, figsize=(12, 4), sharex=True, sharey=True)
for ax, name in zip(axes, fs, strict=True):
    r = trim(I[name], budget)
    for cls, label in ((1, "(+)"), (0, "(-)")):
        sel = d.y_train == cls
        ax.scatter(*d.X_train[sel].T, s=16, color=colours[label], label=f"{label} sample")
    ax.scatter(*d.X_train[r.removed].T, s=120, facecolors="none", edgecolors="red", linewidths=1.5,
               label="trimmed")
    ax.plot(xs, -(w[0] * xs + b) / w[1], color="black", label="decision boundary")
    ax.set(xlim=(lo[0], hi[0]), ylim=(lo[1], hi[1]), title=f"{name}: trimmed samples", xlabel="$x_1$")
axes[0].set_ylabel("$x_2$")
fig.legend(*axes[0].get_legend_handles_labels(), loc="lower center", ncol=4, bbox_to_anchor=(0.5, -0.08),
           frameon=False)
plt.show()

# %% [markdown]
# One draw says little (the paper shows one). We repeat the experiment over the seeds
# `trim_seeds`, each a fresh toy set, and report each function's target metric before and after.

# %%
runs, seed_summary = ch.trim_over_seeds(trim_seeds, n_train, n_val, l2, gamma, budget, progress)

# %% tags=["nbval-check-output", "hide-input"]
print(seed_summary.round(3).to_string())

# %% [markdown]
# **Paper:** trimming raises the adversarial accuracy of its draw from 0.01 to 0.42, and
# improves accuracy and fairness (qualitatively, Fig. 1). **Measured:** over the seeds, fairness
# trimming lowers the DP gap and robustness trimming raises the adversarial accuracy in most
# seeds, by less than in the paper; utility trimming leaves the accuracy about where it was.
# **Verdict:** see the claims table at the end of the page.
#
# ## Predicted vs. actual leave-one-out ([CH] App. B, Fig. 7)
#
# [CH] removes 125 of the 150 training samples one at a time, retrains, and reports Spearman
# 0.99 for all three functions. We do the same for `n_loo` samples (retraining to a gradient norm
# below $10^{-8}$ with Newton's method) and add Pearson and the slope of actual on predicted
# (1 = calibrated).

# %%
loo_idx = np.sort(rng.choice(n_train, size=n_loo, replace=False))
loo_long, loo_summary = ch.loo_agreement(model, d.X_train, d.y_train, fs, loo_idx)

# %% tags=["hide-input"]
g = sns.relplot(data=loo_long, x="predicted", y="actual", col="function", facet_kws={"sharex": False, "sharey": False},
                height=3.4)
for ax in g.axes.flat:
    lim = [min(ax.get_xlim()[0], ax.get_ylim()[0]), max(ax.get_xlim()[1], ax.get_ylim()[1])]
    ax.plot(lim, lim, color="grey", ls="--")
g.set_axis_labels("predicted change (influence)", "actual change (retraining)")
plt.show()

# %% tags=["nbval-check-output", "hide-input"]
print(loo_summary.round(3).to_string())

# %% [markdown]
# **Paper:** Spearman 0.99 for all three functions. **Measured:** the table above; the dashed
# line is $y = x$. **Verdict:** see the claims table.
#
# ## The [FI] counterexample: trimming removes only one class
#
# [FI] (§1) points out that for a one-dimensional logistic regression $p = \sigma(\beta x)$ with
# every $x_i > 0$, the influence is $I(i) = c\,(p_i - y_i)\,x_i$ with one scalar
# $c = \nabla L_V^\top H^{-1}$ shared by all samples, so its sign depends on the label only: all
# samples of one class are "harmful", all of the other "helpful", whatever their position.
# Trimming then removes only one class, including its perfectly typical samples, while the
# mislabelled outliers of the other class are kept. We draw positive $x$ (log-normal per class,
# 5% flipped labels) and fit without an intercept.

# %%
cx = ch.one_dim_counterexample(np.random.default_rng(seed))
cx_removed = trim(cx["influence"].to_numpy(), 20).removed

# %% tags=["hide-input"]
fig, ax = plt.subplots(figsize=(8, 3))
sign = np.where(cx["influence"] < 0, "negative", "positive")
sns.stripplot(data=cx.assign(label=cx.y.map({0: "y = 0", 1: "y = 1"}), influence_sign=sign), x="x", y="label",
              hue="influence_sign", palette={"negative": "red", "positive": "green"}, size=4, ax=ax)
ax.set(xlabel="$x$ (one feature, all positive)", ylabel="label", title="1-D, no intercept: sign of the influence")
ax.legend(title="influence", loc="upper left", bbox_to_anchor=(1.01, 1))
plt.show()

# %% tags=["nbval-check-output", "hide-input"]
sign_by_class = cx.groupby("y")["influence"].agg(lambda v: f"{int((v < 0).sum())}/{len(v)} negative")
print(sign_by_class.to_string())
print("labels of the 20 trimmed samples:", np.bincount(cx.y.to_numpy()[cx_removed], minlength=2).tolist())
print("flipped (outlier) samples among them:", int(cx.flipped.to_numpy()[cx_removed].sum()),
      "of", int(cx.flipped.sum()))

# %% [markdown]
# ## How the L2 strength controls agreement with leave-one-out (real data)
#
# The first-order estimate tracks retraining only while no single sample moves the model far.
# On scikit-learn's breast-cancer set (569 samples, 30 standardised features, 60/40
# train/validation split) we vary the L2 strength of the sum-form objective and compare the
# predicted change of the summed validation loss with actual LOO for `n_loo_real` training
# samples. This is why the book's `LogisticRegression` defaults to `l2="auto"`
# $= \max(10, n_\text{params}/2)$.

# %%
ds = datasets.load(real_dataset)
n_tr = int(0.6 * len(ds))
(Xr, yr), (Xrv, yrv) = preprocessing.standardised_split(ds.X, ds.y, [n_tr, len(ds) - n_tr], rng)
real_idx = np.sort(rng.choice(n_tr, size=n_loo_real, replace=False))
sweep = ch.l2_sweep(Xr, yr, Xrv, yrv, l2_grid, real_idx)

# %% tags=["hide-input"]
fig, ax = plt.subplots(1, 2, figsize=(11, 3.6))
sns.lineplot(data=sweep.melt(id_vars="l2", value_vars=["spearman", "pearson", "slope"]), x="l2", y="value",
             hue="variable", marker="o", ax=ax[0])
ax[0].axhline(1.0, color="grey", ls=":", lw=0.8)
ax[0].set(ylabel="agreement with LOO", title="influence vs. retraining")
ax[0].legend(title="", loc="upper right")
sns.lineplot(data=sweep, x="l2", y="val_accuracy", marker="o", ax=ax[1])
ax[1].set(ylabel="validation accuracy", title="model quality")
for a in ax:
    a.set(xscale="log", xlabel="L2 strength (sum form)")
plt.show()

# %% tags=["nbval-check-output", "hide-input"]
print(f"{real_dataset}: {len(ds)} samples, {ds.X.shape[1]} features; {n_tr} for training")
print(sweep.round(3).to_string(index=False))

# %% [markdown]
# **Measured:** with the weakest penalty the slope of actual on predicted LOO is far above 1
# (influence underestimates what removing a sample does), and it approaches 1 as the penalty
# grows, at some cost in validation accuracy (table above). This is the book's own check, not a
# claim of the papers.
#
# ## Claims

# %% tags=["remove-input"]
pages.claims_table(ch.claims(table, seed_summary, loo_summary, cx, cx_removed, sweep, seed=seed, n_loo=n_loo,
                             n_train=n_train, dataset=real_dataset))
