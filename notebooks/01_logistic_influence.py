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
# This chapter reproduces the toy experiments of Chhabra et al. (ICLR 2024, "[CH]"): influence
# of each training sample on **utility** (validation loss, [CH] Eq. 1), **fairness**
# (demographic-parity gap, Eq. 2) and **adversarial robustness** (loss on a linearly attacked
# validation set, Eq. 3); the influence-estimation tree (Algorithm 1); trimming with a budget
# (Algorithm 2); and predicted vs. actual leave-one-out (App. B). It ends with the [FI]
# counterexample in which trimming removes only one class, and with how the L2 strength
# controls how well influence tracks leave-one-out retraining.
#
# Sign convention of the book: `I_f(i)` predicts `f(without i) - f(with i)`. All three
# quantities are "lower is better", so a **negative** influence marks a sample whose removal
# should help; Algorithm 2 removes the most negative ones.

# %% tags=["parameters"]
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

# %%
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from lib._book import pages
import lib.reproducibility
from lib import datasets, fairness, influence, preprocessing, trees
from lib.datasets.toy import ch_toy
from lib.models import LogisticRegression
from lib.experiments import ch01_logistic_influence as ch
from lib.trimming import trim

rng = lib.reproducibility.setup(seed, threads=1)  # tiny models: one thread is faster than two
pages.setup_plots()
pages.parameters_table(globals(), "01_logistic_influence")

# %% [markdown]
# ## The toy set
#
# [CH] §4: "150 train and 100 validation samples using two isotropic 2D-Gaussian distributions";
# the (+) class holds mostly majority-group samples and the (-) class mostly minority ones. The
# paper gives no means, spreads or group rates, so we pick: (+) ~ N((1, 1), I), (-) ~ N((-1, -1), I),
# majority group with probability 0.8 in (+) and 0.3 in (-). The model is the book's L2 logistic
# regression (sum-form objective, exact Hessian, `l2="auto"` = 10 here). The adversarial validation
# set uses the linear attack `x' = x - gamma (theta^T x + b)/||theta||^2 theta` with `gamma = 1.3`
# (the authors' public code), crafted once against this model and reused after every retraining.

# %%
d = ch_toy(rng, n_train=n_train, n_val=n_val)
model = LogisticRegression(l2=l2).fit(d.X_train, d.y_train)
fs, X_adv = ch.toy_quantities(model, d, gamma)
I = {name: influence.influence_on(model, d.X_train, d.y_train, f) for name, f in fs.items()}
before = fairness.metrics(model, d.X_val, d.y_val, d.g_val, X_adv)

# %%
# NBVAL_CHECK_OUTPUT
print({k: round(v, 3) for k, v in before.items()})
print("share of negative influence:", {k: round(float((v < 0).mean()), 3) for k, v in I.items()})

# %% [markdown]
# ## Influence regions from the tree (Algorithm 1, [CH] Fig. 1 A/D/G)
#
# For each function we regress the influence on `[x_i, y_i]` with CART (depth <= 6, >= 3 samples
# per leaf; the paper gives neither) and shrink it hierarchically with `lambda = 10`. Because the
# label is an input of the tree, a region depends on the label: the top row shows the tree's
# estimate for a (-) sample placed at each point, the bottom row for a (+) sample. Green:
# positive (the sample helps), red: negative. Markers: o majority group, x minority group; the
# black line is the original decision boundary.

# %%
lo, hi = d.X_train.min(0) - 0.5, d.X_train.max(0) + 0.5
fig, axes = plt.subplots(2, 3, figsize=(13, 8), sharex=True, sharey=True)
w, b = model.coef_[0], model.intercept_[0]
xs = np.linspace(lo[0], hi[0], 50)
tree_fits = {}
for j, name in enumerate(fs):
    tree_fits[name] = trees.fit_influence_tree(d.X_train, d.y_train, I[name], rng, lam=tree_lambda,
                                               max_depth=tree_max_depth)
    for label in (0, 1):
        ax = axes[label, j]
        xx, yy, zz = trees.grid_predictions(tree_fits[name], label, (lo[0], hi[0]), (lo[1], hi[1]), 150)
        ax.contourf(xx, yy, np.sign(zz), levels=[-1.5, 0, 1.5], colors=["#f4b6c2", "#b7e4c7"], alpha=0.8)
        for g, marker in ((1, "o"), (0, "x")):
            sel = d.g_train == g
            sns.scatterplot(x=d.X_train[sel, 0], y=d.X_train[sel, 1], hue=np.where(d.y_train[sel] == 1, "(+)", "(-)"),
                            hue_order=["(+)", "(-)"], marker=marker, ax=ax, legend=(j == 0 and label == 0 and g == 1), s=30)
        ax.plot(xs, -(w[0] * xs + b) / w[1], color="black")
        ax.set(xlim=(lo[0], hi[0]), ylim=(lo[1], hi[1]), title=f"{name}: regions for label {'(+)' if label else '(-)'}")
plt.show()

# %%
# NBVAL_CHECK_OUTPUT
Q = np.column_stack([d.X_train, d.y_train])
tree_sign_agreement = {name: round(float((np.sign(t.predict(Q)) == np.sign(I[name])).mean()), 3)
                       for name, t in tree_fits.items()}
print("tree sign agrees with the sample's influence sign:", tree_sign_agreement)

# %% [markdown]
# ## Trimming with a budget (Algorithm 2, [CH] Fig. 1 B/C, E/F, H/I)
#
# Remove at most `b = 10` negative-influence samples per function, retrain from scratch, and
# evaluate on the validation set (the attacked set stays the one crafted against the original
# model). The paper reports, for its single draw, adversarial accuracy 0.01 -> 0.42 and shows
# qualitative gains in accuracy and fairness. Note that the influence targets the *loss*, while
# the reported metric is accuracy: the two can move in different directions.

# %%
table = ch.trim_experiment(d, l2=l2, gamma=gamma, budget=budget)
cols = ["accuracy", "dp_gap", "eop_gap", "adv_accuracy", "val_loss", "adv_loss"]
table.set_index(["function", "stage"])[["removed"] + cols].round(3)

# %%
fig, axes = plt.subplots(1, 3, figsize=(13, 4), sharex=True, sharey=True)
for ax, name in zip(axes, fs):
    r = trim(I[name], budget)
    sns.scatterplot(x=d.X_train[:, 0], y=d.X_train[:, 1], hue=np.where(d.y_train == 1, "(+)", "(-)"),
                    hue_order=["(+)", "(-)"], ax=ax, s=20, legend=name == "utility")
    ax.scatter(*d.X_train[r.removed].T, s=120, facecolors="none", edgecolors="red", linewidths=1.5)
    ax.plot(xs, -(w[0] * xs + b) / w[1], color="black")
    ax.set(xlim=(lo[0], hi[0]), ylim=(lo[1], hi[1]), title=f"{name}: trimmed (red circles)")
plt.show()

# %% [markdown]
# One draw says little (the paper shows one). We repeat the experiment over several seeds,
# each a fresh toy set, and report each function's target metric before and after.

# %%
runs = []
for s in lib.reproducibility.progress(trim_seeds, progress):
    t = ch.trim_experiment(ch_toy(np.random.default_rng(s), n_train=n_train, n_val=n_val), l2=l2, gamma=gamma,
                           budget=budget)
    runs.append(t.assign(seed=s))
runs = pd.concat(runs, ignore_index=True)
rows = []
for name, (metric, larger_better) in ch.TARGET_METRIC.items():
    sub = runs[runs.function == name].pivot(index="seed", columns="stage", values=metric)
    gain = (sub["after"] - sub["before"]) * (1 if larger_better else -1)
    rows.append({"function": name, "metric": metric, "before (mean)": sub["before"].mean(),
                 "after (mean)": sub["after"].mean(), "improved in": f"{int((gain > 0).sum())}/{len(gain)}",
                 "worse in": f"{int((gain < 0).sum())}/{len(gain)}"})
seed_summary = pd.DataFrame(rows).set_index("function")

# %%
# NBVAL_CHECK_OUTPUT
print(seed_summary.round(3).to_string())

# %% [markdown]
# ## Predicted vs. actual leave-one-out ([CH] App. B, Fig. 7)
#
# [CH] removes 125 of the 150 training samples one at a time, retrains, and reports Spearman
# 0.99 for all three functions. We do the same (retraining to a gradient norm below 1e-8 with
# Newton's method) and add Pearson and the slope of actual on predicted (1 = calibrated).

# %%
loo_idx = np.sort(rng.choice(n_train, size=n_loo, replace=False))
loo_long, loo_summary = ch.loo_agreement(model, d.X_train, d.y_train, fs, loo_idx)
g = sns.relplot(data=loo_long, x="predicted", y="actual", col="function", facet_kws={"sharex": False, "sharey": False},
                height=3.5)
for ax in g.axes.flat:
    lim = [min(ax.get_xlim()[0], ax.get_ylim()[0]), max(ax.get_xlim()[1], ax.get_ylim()[1])]
    ax.plot(lim, lim, color="grey", ls="--")
plt.show()

# %%
# NBVAL_CHECK_OUTPUT
print(loo_summary.round(3).to_string())

# %% [markdown]
# ## The [FI] counterexample: trimming removes only one class
#
# [FI] (§1) points out that for a one-dimensional logistic regression `p = sigmoid(beta x)` with
# every `x_i > 0`, the influence is `I(i) = c (p_i - y_i) x_i` with one scalar
# `c = grad L_V^T H^{-1}` shared by all samples, so its sign depends on the label only: all
# samples of one class are "harmful", all of the other "helpful", whatever their position.
# Trimming then removes only one class, including its perfectly typical samples, while the
# mislabelled outliers of the other class are kept. We draw positive `x` (log-normal per class,
# 5% flipped labels) and fit without an intercept.

# %%
cx = ch.one_dim_counterexample(np.random.default_rng(seed))
cx_removed = trim(cx["influence"].to_numpy(), 20).removed
sns.stripplot(data=cx.assign(label=cx.y.map({0: "y=0", 1: "y=1"})), x="x", y="label", hue=np.sign(cx["influence"]),
              palette={-1.0: "red", 1.0: "green"}, size=4)
plt.title("1-D, no intercept: influence sign (red negative, green positive) by label")
plt.show()

# %%
# NBVAL_CHECK_OUTPUT
sign_by_class = cx.groupby("y")["influence"].agg(lambda v: f"{int((v < 0).sum())}/{len(v)} negative")
print(sign_by_class.to_string())
print("labels of the 20 trimmed samples:", np.bincount(cx.y.to_numpy()[cx_removed], minlength=2).tolist())
print("flipped (outlier) samples among them:", int(cx.flipped.to_numpy()[cx_removed].sum()),
      "of", int(cx.flipped.sum()))

# %% [markdown]
# ## How the L2 strength controls agreement with leave-one-out (real data)
#
# The first-order estimate tracks retraining only while no single sample moves the model far.
# On scikit-learn's breast-cancer set (569 samples, 30 standardised features, 60/40 train/validation
# split) we vary the L2 strength of the sum-form objective and compare the predicted change of the
# summed validation loss with actual LOO for `n_loo_real` training samples. This is why the book's
# `LogisticRegression` defaults to `l2="auto"` = max(10, n_params / 2).

# %%
ds = datasets.load(real_dataset)
n_tr = int(0.6 * len(ds))
(Xr, yr), (Xrv, yrv) = preprocessing.standardised_split(ds.X, ds.y, [n_tr, len(ds) - n_tr], rng)
real_idx = np.sort(rng.choice(n_tr, size=n_loo_real, replace=False))
sweep = ch.l2_sweep(Xr, yr, Xrv, yrv, l2_grid, real_idx)
fig, ax = plt.subplots(1, 2, figsize=(10, 3.5))
sns.lineplot(data=sweep.melt(id_vars="l2", value_vars=["spearman", "pearson", "slope"]), x="l2", y="value",
             hue="variable", marker="o", ax=ax[0])
sns.lineplot(data=sweep, x="l2", y="val_accuracy", marker="o", ax=ax[1])
for a in ax:
    a.set_xscale("log")
plt.show()

# %%
# NBVAL_CHECK_OUTPUT
print(sweep.round(3).to_string(index=False))

# %% [markdown]
# ## Claims

# %%
rob = seed_summary.loc["robustness"]
paper_draw = table.set_index(["function", "stage"])
pages.claims_table([
    {"claim": "robustness trimming (b=10) raises adversarial accuracy", "paper": "0.01 -> 0.42 (one draw)",
     "measured": f"{paper_draw.loc[('robustness', 'before'), 'adv_accuracy']:.3f} -> "
                 f"{paper_draw.loc[('robustness', 'after'), 'adv_accuracy']:.3f} (seed {seed}); mean over "
                 f"{len(trim_seeds)} seeds {rob['before (mean)']:.3f} -> {rob['after (mean)']:.3f}, improved in {rob['improved in']}",
     "note": "our draw overlaps more (clean accuracy ~0.9, so adversarial accuracy starts at 1 - accuracy)"},
    {"claim": "fairness trimming lowers the DP gap", "paper": "qualitative (Fig. 1 F)",
     "measured": f"{seed_summary.loc['fairness', 'before (mean)']:.3f} -> {seed_summary.loc['fairness', 'after (mean)']:.3f}"
                 f" mean, improved in {seed_summary.loc['fairness', 'improved in']}", "note": ""},
    {"claim": "utility trimming raises accuracy", "paper": "qualitative (Fig. 1 C)",
     "measured": f"{seed_summary.loc['utility', 'before (mean)']:.3f} -> {seed_summary.loc['utility', 'after (mean)']:.3f}"
                 f" mean, improved in {seed_summary.loc['utility', 'improved in']}, worse in {seed_summary.loc['utility', 'worse in']}",
     "note": "influence targets the validation loss, not accuracy"},
    *[{"claim": f"predicted vs LOO Spearman, {name}", "paper": "0.99",
       "measured": f"{r.spearman:.3f} (Pearson {r.pearson:.3f}, slope {r.slope:.3f})", "note": f"{n_loo} of {n_train} samples"}
      for name, r in loo_summary.iterrows()],
    {"claim": "[FI]: 1-D influence trimming removes one class only", "paper": "analytic",
     "measured": f"trimmed labels {np.bincount(cx.y.to_numpy()[cx_removed], minlength=2).tolist()}", "note": "no intercept, x > 0"},
    {"claim": "weak L2 breaks agreement with LOO", "paper": "(book)",
     "measured": f"slope {sweep.slope.iloc[0]:.3f} at l2={sweep.l2.iloc[0]:g}, {sweep.slope.iloc[-1]:.3f} at l2={sweep.l2.iloc[-1]:g}",
     "note": real_dataset},
])
