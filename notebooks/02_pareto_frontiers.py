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
# # Synthetic Pareto frontiers
#
# This chapter reproduces the synthetic experiments of "What is the performance ceiling of my
# classifier?" ("[PC]", §4, Fig. 2, Appendix B.1 / Fig. 5) on an L2 logistic regression and
# tests the paper's central claim: the **category-wise influence vectors**
# `P[i, k]` (the predicted change of class `k`'s summed validation loss when training sample
# `i` is removed; positive = the sample helps class `k`) tell whether the classifier can
# still be improved for *every* class at once (a Pareto improvement), or sits at its
# performance ceiling.
#
# Three tests of the ceiling are shown side by side ({ref}`conventions §2 <conventions-repairs>`):
#
# * **the LP** `max t s.t. P^T delta >= t 1, -1 <= delta_i <= delta_max` (`delta` = change of
#   the training weights; `t* > 0`: some re-weighting improves every class to first order);
# * **the uncentred SVD** of `P`: by Stiemke's lemma there is no first-order Pareto
#   improvement iff the rows of `P` lie on a hyperplane *through the origin* with a positive
#   normal; a near-zero smallest singular value with a positive right singular vector shows it;
# * **the paper's PCA check** (§5): first principal component explains > 0.2 of the variance
#   = "not on a hyperplane, room for improvement". With `K = 2` classes that ratio is always
#   ≥ 0.5, so the check cannot say anything else here.
#
# Finally the chapter shows that **re-weighting** (the LP of [PC] Algorithm 1, made
# well-posed with a box, a trust region and per-class normalisation) can give a Pareto
# improvement where no single removal can, verified by actually retraining, and runs
# PARETO-LP-GA with DEAP.

# %% tags=["parameters"]
seed = 0
progress = False
l2 = 1.0
delta_max = 1.0
region_tol = 0.0
trim_max_rounds = 8
w_max = 3.0
rho = 0.02
ga_generations = 3
ga_target = 1
ga_metric = "neg_loss"
n_loo_check = 30
l2_grid = [0.001, 0.1, 1.0, 10.0]

# %%
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from lib._book import pages
import lib.reproducibility
from lib import ceiling, influence, pareto
from lib.experiments import ch02_pareto_frontiers as ch02
from lib.datasets.pc_synthetic import angular_radius, noisy_disks
from lib.models import LogisticRegression

rng = lib.reproducibility.setup(seed)
pages.setup_plots()
pages.parameters_table(globals(), "02_pareto_frontiers")

# %% [markdown]
# ## The two synthetic sets of [PC] §4
#
# The paper describes the data only in words (Appendix A.1.1) and ships no code, so the
# generators in `lib/datasets/pc_synthetic.py` are our reading of it:
#
# * **noisy disks** (Fig. 2A): 300 blue + 300 orange samples, each class uniform on a unit
#   disk, the disks 0.2 apart (linearly separable); 50 blue and 20 orange training labels are
#   flipped;
# * **angular radius** (Fig. 2D): 350 + 350, blue uniform on a unit disk, orange "circular
#   uniform" with a radius that depends on the angle, `R(phi) = 1 + 0.8 cos(2 phi)`, so two
#   lobes reach into the blue disk; not linearly separable, no flipped labels.
#
# Validation (for the influence vectors) and test sets are fresh draws of the same size from
# the same distributions *without* label noise. The logistic regression uses the book's
# sum-form objective with an L2 strength `l2` (a parameter).

# %%
X1, y1, flipped1 = noisy_disks(rng)
X1v, y1v, _ = noisy_disks(rng, n_flip=(0, 0))
X1t, y1t, _ = noisy_disks(rng, n_flip=(0, 0))
X2, y2 = angular_radius(rng)
X2v, y2v = angular_radius(rng)
X2t, y2t = angular_radius(rng)
sets = {
    "noisy disks": dict(X=X1, y=y1, Xv=X1v, yv=y1v, Xt=X1t, yt=y1t, flipped=flipped1),
    "angular radius": dict(X=X2, y=y2, Xv=X2v, yv=y2v, Xt=X2t, yt=y2t, flipped=np.zeros(len(y2), bool)),
}
for s in sets.values():
    s["model"] = LogisticRegression(l2=l2).fit(s["X"], s["y"])
    s["P"] = influence.influence_vectors(s["model"], s["X"], s["y"], s["Xv"], s["yv"])
    s["sizes"] = np.bincount(s["yv"])
    s["regions"] = ceiling.region_labels(s["P"], region_tol)

# %%
# NBVAL_CHECK_OUTPUT
rows = []
for name, s in sets.items():
    acc_v = pareto.per_class_metric(s["model"], s["Xv"], s["yv"], 2)
    acc_t = pareto.per_class_metric(s["model"], s["Xt"], s["yt"], 2)
    counts = ceiling.region_counts(s["P"], region_tol)
    neg = s["regions"] == "jointly negative"
    rows.append({"set": name, "n_train": len(s["y"]), "val acc blue": round(acc_v[0], 3),
                 "val acc orange": round(acc_v[1], 3), "test acc blue": round(acc_t[0], 3),
                 "test acc orange": round(acc_t[1], 3), **counts,
                 "flipped among jointly negative": int((neg & s["flipped"]).sum()),
                 "max |sum_k P - I_util|": float(np.abs(s["P"].sum(1) - influence.utility_influence(
                     s["model"], s["X"], s["y"], s["Xv"], s["yv"])).max()) < 1e-8})
summary = pd.DataFrame(rows).set_index("set")
summary

# %% [markdown]
# ## Fig. 2 A–F: data, influence vectors, influence on the samples
#
# Left: the training data with their (possibly flipped) labels and the fitted decision
# boundary. Middle: the influence vectors `(P[i, blue], P[i, orange])`, coloured by region;
# crosses are flipped labels. Right: the samples coloured by their region, sized by
# `|P[i]|`. The paper colours the samples by the influence on their own class (red =
# negative); we colour by region, which shows the same jointly-negative samples.

# %%
palette = {"jointly negative": "tab:red", "jointly positive": "tab:green", "tradeoff": "tab:gray",
           "neutral": "black"}
fig, axes = plt.subplots(2, 3, figsize=(15, 9.5))
for row, (name, s) in zip(axes, sets.items()):
    X, y, P, m = s["X"], s["y"], s["P"], s["model"]
    label = np.where(s["flipped"], "flipped", "clean")
    sns.scatterplot(x=X[:, 0], y=X[:, 1], hue=np.array(["blue", "orange"])[y], style=label,
                    palette={"blue": "tab:blue", "orange": "tab:orange"}, s=18, ax=row[0])
    W = m.theta_.numpy()[:, 0]
    xs = np.linspace(X[:, 0].min(), X[:, 0].max(), 10)
    row[0].plot(xs, -(W[0] * xs + W[2]) / W[1], "k--", lw=1)
    row[0].set(ylim=(X[:, 1].min() - 0.2, X[:, 1].max() + 0.2), title=f"{name}: training data")
    sns.scatterplot(x=P[:, 0], y=P[:, 1], hue=s["regions"], style=label, palette=palette, s=18, ax=row[1])
    row[1].axhline(0, color="k", lw=0.7)
    row[1].axvline(0, color="k", lw=0.7)
    row[1].set(xlabel="P[:, blue] (influence on blue loss)", ylabel="P[:, orange]", title="influence vectors")
    sns.scatterplot(x=X[:, 0], y=X[:, 1], hue=s["regions"], size=np.linalg.norm(P, axis=1), sizes=(5, 120),
                    palette=palette, ax=row[2], legend=False)
    row[2].set(title="region of each training sample (size = |P[i]|)")
for ax, letter in zip(axes.ravel(), "ABCDEF"):
    ax.text(0.01, 0.98, letter, transform=ax.transAxes, fontweight="bold", va="top")
plt.show()

# %% [markdown]
# **Paper (§4):** on the noisy set the mislabelled samples are jointly negative (removing
# them helps both classes) and most clean samples help one class and hurt the other; on the
# clean, non-separable set the influence vectors "form a roughly straight line" (every
# sample trades one class against the other).
#
# **Measured:** the table above counts the regions. On the noisy disks every jointly negative
# sample is a flipped label, but only part of the 70 flipped labels is jointly negative in
# the first round: the flipped samples deepest inside the other class dominate the fit and
# mask the others (the paper's Fig. 5 likewise removes them over several rounds). The noisy
# set also has many *jointly positive* samples (clean points that help both classes); with
# an L2 penalty, up-weighting data that agree with the fit weakens the regulariser and makes
# the model more confident on both classes, so these points are a genuine (first-order)
# room for improvement, which the paper's picture (Fig. 2B) does not dwell on. On the
# angular set no sample is jointly negative and the influence vectors lie close to a line
# through the origin (next section).

# %% [markdown]
# ## The ceiling test on both sets

# %%
# NBVAL_CHECK_OUTPUT
ceil_rows = []
for name, s in sets.items():
    r = ceiling.ceiling_test(s["P"], delta_max=delta_max, scale=s["sizes"])
    v = ceiling.svd_view(s["P"] / s["sizes"])
    ratio, says_room = ceiling.pca_check(s["P"])
    s["ceiling"], s["svd"], s["pca"] = r, v, ratio
    ceil_rows.append({"set": name, "LP t*": round(r.t, 4), "LP t* relative": round(r.t_relative, 3),
                      "below ceiling (LP)": r.below_ceiling,
                      "uncentred SVD s_min/s_max": round(v.flatness, 3),
                      "normal": np.round(v.normal, 3).tolist(), "normal > 0": v.positive_normal,
                      "PCA ratio PC1": round(ratio, 3), "paper's check: room": says_room})
pd.DataFrame(ceil_rows).set_index("set")

# %% [markdown]
# `LP t*` is the worst-class first-order gain of the mean validation loss (class terms divided
# by validation class size) reachable with weight changes in `[-1, delta_max]`;
# `t* relative` divides it by the mean `sum_i |P[i, k]| / n_k`, the gain one would get if
# every sample's contribution to a class could be aligned. Both sets are strictly **below**
# the first-order ceiling by the LP (any real `P` is, unless its rows lie *exactly* on a
# hyperplane with a positive normal), but by very different margins: the angular set's rows
# lie almost on a line through the origin with an almost equal-weight positive normal
# (`s_min/s_max` small), so only a small simultaneous gain is left; the noisy set has a large
# margin. The paper's PCA check says "room for improvement" on both — with two classes it
# always does (PC1 ratio ≥ 0.5).

# %% [markdown]
# ### Where is the ceiling, then? In-sample vs. held-out, and the L2 penalty
#
# At the optimum of the *training* objective, `sum_i grad loss_i = -l2 theta`. If the
# influence vectors are measured on the training set itself (`V = T`), the class gradients
# add up to that (small) vector, so every row of `P` is almost orthogonal to `(1, 1)`:
# the rows lie on a line through the origin with a positive normal, exactly Stiemke's
# ceiling condition. On a held-out validation set they do not: the gap between training and
# validation loss is the room a re-weighting can exploit. The L2 penalty adds room too
# (up-weighting data weakens it). The table sweeps `l2` on the angular set.

# %%
# NBVAL_CHECK_OUTPUT
sweep = []
for lam in l2_grid:
    m_l = LogisticRegression(l2=lam).fit(X2, y2)
    for where, (Xe, ye) in {"held-out validation": (X2v, y2v), "training set (V = T)": (X2, y2)}.items():
        P_l = influence.influence_vectors(m_l, X2, y2, Xe, ye)
        sweep.append({"l2": lam, "V": where,
                      "LP t* relative": round(ceiling.ceiling_test(P_l, delta_max=delta_max,
                                                                   scale=np.bincount(ye)).t_relative, 4),
                      "SVD s_min/s_max": round(ceiling.svd_view(P_l / np.bincount(ye)).flatness, 4),
                      **ceiling.region_counts(P_l, region_tol)})
sweep_df = pd.DataFrame(sweep).set_index(["l2", "V"])
sweep_df

# %% [markdown]
# Measured by the V = T rows: with a small penalty the in-sample `t*` and `s_min/s_max`
# shrink towards 0 (the model *is* at its in-sample first-order ceiling), while on held-out
# data a margin remains at every `l2`. The paper's ceiling criterion is therefore a statement
# about the data used for `P`: with a validation set, "below the ceiling" is the normal state
# of any finite sample.

# %% [markdown]
# ## Appendix B.1 / Fig. 5: trimming the jointly negative samples, round after round
#
# Each round: fit, compute `P`, run the ceiling test, remove every jointly negative sample,
# refit. It stops when no jointly negative sample is left (the paper: "after three
# iterations, all noise has been removed and the model is at the performance ceiling").

# %%
s = sets["noisy disks"]
rounds = ch02.trim_jointly_negative(s["model"], s["X"], s["y"], s["Xv"], s["yv"], max_rounds=trim_max_rounds,
                                      tol=region_tol, delta_max=delta_max,
                                      extra_sets={"test": (s["Xt"], s["yt"])})
trim_df = pd.DataFrame([{
    "round": r["round"], "n_train": len(r["kept"]), "removed": len(r["removed"]),
    "removed flipped": int(s["flipped"][r["removed"]].sum()),
    "flipped left": int(s["flipped"][r["kept"]].sum()),
    "val acc blue": round(r["val_acc"][0], 3), "val acc orange": round(r["val_acc"][1], 3),
    "test acc blue": round(r["test_acc"][0], 3), "test acc orange": round(r["test_acc"][1], 3),
    "LP t* relative": round(r["ceiling"].t_relative, 3), "below ceiling (LP)": r["ceiling"].below_ceiling,
    "jointly positive": r["regions"]["jointly_positive"],
} for r in rounds]).set_index("round")

# %%
# NBVAL_CHECK_OUTPUT
trim_df

# %%
fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
long = trim_df.reset_index().melt("round", ["test acc blue", "test acc orange", "val acc blue", "val acc orange"],
                                  var_name="split / class", value_name="accuracy")
sns.lineplot(long, x="round", y="accuracy", hue="split / class", marker="o", ax=axes[0])
axes[0].set(title="per-class accuracy while trimming")
sns.lineplot(trim_df.reset_index(), x="round", y="LP t* relative", marker="o", ax=axes[1])
axes[1].set(title="ceiling LP: relative t* before each round's removal")
for ax in axes[:2]:
    ax.xaxis.set_major_locator(plt.MaxNLocator(integer=True))
last = rounds[-1]
Xk, yk = s["X"][last["kept"]], s["y"][last["kept"]]
sns.scatterplot(x=Xk[:, 0], y=Xk[:, 1], hue=np.array(["blue", "orange"])[yk],
                style=np.where(s["flipped"][last["kept"]], "flipped", "clean"),
                palette={"blue": "tab:blue", "orange": "tab:orange"}, s=16, ax=axes[2])
axes[2].legend(loc="upper center", bbox_to_anchor=(0.5, -0.08), ncol=4, fontsize="small")
axes[2].set(title=f"training set after {len(rounds) - 1} rounds")
plt.show()

# %% [markdown]
# **Measured:** the table gives, per round, how many samples were removed, how many of them
# were flipped labels, and the per-class accuracy on validation and test. Every removed
# sample is a flipped label and the accuracy rises until it saturates, as in the paper's
# Fig. 5. Unlike the paper ("all noise has been removed"), trimming stops with flipped labels
# left in the training set: none of them is jointly negative any more (each helps one class
# and hurts the other), and with a clean linear margin they no longer cost test accuracy. The
# ceiling LP still reports a large `t*` at the end: single jointly-negative removals are
# exhausted, but re-weighting (including up-weighting the jointly positive samples, see
# above) is not. "No jointly negative sample" is therefore not the ceiling; the LP / SVD test
# is the right stopping rule, and on these data it never says "stop".

# %% [markdown]
# ## Re-weighting where no single removal helps every class
#
# After the last trimming round no training sample is jointly negative, so (to first order)
# no single removal improves both classes. The LP of [PC] Algorithm 1, in the well-posed form
# of `lib.pareto.pareto_weights` (box `0 <= w_i <= w_max`, trust region
# `sum |w_i - 1| <= rho n`, class terms divided by validation class size, eps form with
# `eps = 0`: no class may lose to first order), maximises the gain of both classes. We then
# **retrain** with the weights and compare the predicted (`-sum_i (w_i - 1) P[i, k]`) and
# the actual change of each class's summed validation loss.

# %%
m_last, keep = last["model"], last["kept"]
Xk, yk, P_last = s["X"][keep], s["y"][keep], last["P"]
w = pareto.pareto_weights(P_last, targets=[0, 1], w_max=w_max, rho=rho, class_sizes=s["sizes"])
m_w = influence.retrain(m_last, Xk, yk, w)
fs = influence.class_loss_quantities(s["Xv"], s["yv"], 2)
pred = influence.reweighting_prediction(P_last, w)
actual = influence.evaluate(m_w, fs) - influence.evaluate(m_last, fs)
fs_t = influence.class_loss_quantities(s["Xt"], s["yt"], 2)
actual_test = influence.evaluate(m_w, fs_t) - influence.evaluate(m_last, fs_t)
jointly_negative_left = int((P_last < -region_tol).all(1).sum())
best_single = float((-P_last / s["sizes"]).min(1).max())  # best worst-class first-order gain of one removal

# %%
# NBVAL_CHECK_OUTPUT
print("jointly negative samples left:", jointly_negative_left)
print("best single removal, worst-class predicted mean-loss gain:", round(best_single, 5))
print("weights: at 0:", int(np.isclose(w, 0).sum()), "| at 1:", int(np.isclose(w, 1).sum()),
      "| at w_max:", int(np.isclose(w, w_max).sum()), "| other:",
      int((~(np.isclose(w, 0) | np.isclose(w, 1) | np.isclose(w, w_max))).sum()))
reweight_df = pd.DataFrame({"predicted Δ val loss": pred, "actual Δ val loss": actual,
                            "actual Δ test loss": actual_test}, index=["blue", "orange"]).round(3)
reweight_df

# %% [markdown]
# A negative change is an improvement (the summed loss of that class falls). With box bounds
# the LP optimum is a vertex: almost all weights sit at a bound (0, 1 where the trust region
# binds, or `w_max`). The best single removal cannot raise the worst class (its worst-class
# gain is ≤ 0), while the re-weighting lowers the loss of both classes, as predicted; the
# first-order prediction and the retrained change agree in sign and roughly in size (the
# trust region `rho` keeps the step small enough). The next cell checks the "no single
# removal" part against ground truth: leave-one-out retraining of the best candidates.

# %%
# Ground truth for "no single removal helps every class": retrain without each of the
# `n_loo_check` samples whose predicted worst-class gain is largest (the best candidates).
cand = np.argsort(-(-P_last / s["sizes"]).min(1))[:n_loo_check]
loo = influence.loo_effect(m_last, Xk, yk, cand, fs)

# %%
# NBVAL_CHECK_OUTPUT
print("best candidates checked by leave-one-out retraining:", len(cand))
print("of them, removals that actually lower both class losses:", int((loo < 0).all(1).sum()))
print("best actual worst-class change of one removal (summed val loss):", round(float(loo.max(1).min()), 4))

# %% [markdown]
# ### The paper's alpha form of the class constraints
#
# Algorithm 1 writes the class constraint as `sum_i w_i P[i, k] >= alpha_k sum_i P[i, k]`.
# At `w = 1` the left side is `S_k = sum_i P[i, k]`, so with `S_k > 0` an `alpha_k < 1`
# *allows* class `k` to lose, but with `S_k < 0` the same `alpha_k < 1` *demands* a gain:
# the meaning flips with the sign of `S_k`. The eps form `sum_i (w_i - 1) P[i, k] >= -eps_k`
# (`eps_k >= 0` = allowed first-order loss) has one meaning. Below, the same `alpha = 0.9`
# for both classes, and the predicted first-order change of each class's mean validation
# loss (positive = worse).

# %%
# NBVAL_CHECK_OUTPUT
alpha_rows = []
for name, st in sets.items():
    S = st["P"].sum(0) / st["sizes"]
    w_a = pareto.pareto_weights(st["P"], targets=[0, 1], alpha=[0.9, 0.9], w_max=w_max, rho=rho,
                                class_sizes=st["sizes"])
    change = influence.reweighting_prediction(st["P"] / st["sizes"], w_a)
    for k, cname in enumerate(["blue", "orange"]):
        alpha_rows.append({"set": name, "class": cname, "S_k (mean-loss units)": round(S[k], 4),
                           "alpha=0.9 means": "may lose" if S[k] > 0 else "must gain",
                           "predicted Δ mean loss": round(change[k], 4)})
pd.DataFrame(alpha_rows).set_index(["set", "class"])

# %% [markdown]
# ## PARETO-LP-GA (Algorithm 1) with DEAP
#
# On the angular set we target one class (`ga_target`) and let the GA search the per-class
# thresholds `eps_k` with Table 2's population layout (6 elites + 6 mutated elites + 6
# random + 6 crossover children, mutation rate and strength 0.25). Each candidate's weights
# come from the LP; the model is retrained with them to convergence (a convex model: one
# "epoch" of the paper is a full refit here), and the fitness is computed on the validation
# split — a large finite penalty per target class that does not improve, otherwise the mean
# target gain plus the mean loss of the non-target classes, ties broken by the mean target
# gain. The best weights are reported on the held-out test split. The quick profile runs
# `ga_generations` generations (the paper: 20); `ga_metric = "neg_loss"` uses minus the mean
# class loss (accuracy changes of a 2-D linear model are coarse steps).

# %%
s2 = sets["angular radius"]
ga = pareto.pareto_lp_ga(s2["model"], s2["X"], s2["y"], s2["P"], s2["Xv"], s2["yv"], s2["Xt"], s2["yt"],
                         targets=[ga_target], rng=rng, generations=ga_generations, metric=ga_metric,
                         w_max=w_max, rho=rho)
base_acc_t = pareto.per_class_metric(s2["model"], s2["Xt"], s2["yt"], 2)
acc_ga_t = pareto.per_class_metric(influence.retrain(s2["model"], s2["X"], s2["y"], ga.weights), s2["Xt"], s2["yt"], 2)

# %%
# NBVAL_CHECK_OUTPUT
print("best fitness per generation:", [round(h[0], 4) for h in ga.history])
print("evaluations (LP + retraining):", ga.n_evaluations)
print("best eps:", np.round(ga.thresholds, 4))
print("validation change (", ga_metric, "):", np.round(ga.val_change, 4))
print("test change (", ga_metric, "):", np.round(ga.test_change, 4))
print("test accuracy before / after:", np.round(base_acc_t, 3), np.round(acc_ga_t, 3))

# %% [markdown]
# The best fitness never decreases (the elites are kept). Whether the target-class gain on
# the validation split carries over to the test split is shown in the last lines: on this
# clean set close to its ceiling the gains are small, and a gain for the target class costs
# the other class.

# %% [markdown]
# ## Paper vs. measured

# %%
s1 = sets["noisy disks"]
neg1 = s1["regions"] == "jointly negative"
pages.claims_table([
    {"claim": "mislabelled samples are jointly negative (noisy set, Fig. 2B)", "paper": "yes (qualitative)",
     "measured": f"{int((neg1 & s1['flipped']).sum())} of {int(neg1.sum())} jointly negative are flipped; "
                 f"{int((neg1 & s1['flipped']).sum())} of {int(s1['flipped'].sum())} flipped found in round 1",
     "note": f"{int(trim_df['removed flipped'].iloc[1:].sum())} more in later trimming rounds; "
             f"{int(trim_df['flipped left'].iloc[-1])} flipped never become jointly negative"},
    {"claim": "clean non-separable set: influence vectors on a line (Fig. 2E)", "paper": "roughly straight line",
     "measured": f"uncentred s_min/s_max = {s2['svd'].flatness:.3f}, normal {np.round(s2['svd'].normal, 2).tolist()}",
     "note": "a line through the origin with a positive normal = first-order ceiling (Stiemke)"},
    {"claim": "at the ceiling in-sample (our addition)", "paper": "-",
     "measured": f"V = T, l2 = {l2_grid[0]}: LP t* relative = "
                 f"{sweep_df.loc[(l2_grid[0], 'training set (V = T)'), 'LP t* relative']:.4f}",
     "note": "held-out V leaves a margin at every l2 (sweep table)"},
    {"claim": "noisy set is below the ceiling", "paper": "yes",
     "measured": f"LP t* relative = {s1['ceiling'].t_relative:.3f}", "note": "LP (conventions §2)"},
    {"claim": "clean set at the ceiling", "paper": "no joint improvement possible",
     "measured": f"LP t* relative = {s2['ceiling'].t_relative:.3f}",
     "note": "smaller than the noisy set's but > 0: below the first-order ceiling on held-out data"},
    {"claim": "PCA check: PC1 ratio > 0.2 means room for improvement (§5)", "paper": "> 0.2",
     "measured": f"{s1['pca']:.3f} (noisy), {s2['pca']:.3f} (clean)",
     "note": "always ≥ 1/K = 0.5 here: the check cannot tell the two sets apart"},
    {"claim": "trimming removes all noise in 3 rounds and reaches the ceiling (App. B.1)", "paper": "3 rounds",
     "measured": f"{len(rounds) - 1} rounds, {int(trim_df['flipped left'].iloc[-1])} flipped left, "
                 f"test acc {trim_df['test acc blue'].iloc[0]:.3f}/{trim_df['test acc orange'].iloc[0]:.3f} -> "
                 f"{trim_df['test acc blue'].iloc[-1]:.3f}/{trim_df['test acc orange'].iloc[-1]:.3f}",
     "note": f"LP t* relative after trimming {rounds[-1]['ceiling'].t_relative:.3f}: re-weighting can still help"},
    {"claim": "re-weighting gives a Pareto improvement where single removals cannot (§3.3)", "paper": "yes (Fig. 1)",
     "measured": f"predicted {np.round(pred, 3).tolist()}, actual {np.round(actual, 3).tolist()} (val loss change)",
     "note": f"{jointly_negative_left} jointly negative left; {int((loo < 0).all(1).sum())} of the {len(cand)} "
             "best single removals lower both losses when actually retrained"},
    {"claim": "PARETO-LP-GA improves the target class (Alg. 1)", "paper": "yes (CIFAR-10 etc.)",
     "measured": f"target {ga_target}: val {ga.val_change[ga_target]:+.4f}, test {ga.test_change[ga_target]:+.4f} "
                 f"({ga_metric}); other class test {ga.test_change[1 - ga_target]:+.4f}",
     "note": f"{ga_generations} generations (paper 20), convex model refit instead of one epoch"},
])
