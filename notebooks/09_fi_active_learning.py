# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% tags=["parameters"]
seed = 0
methods = ["fi", "fi-forest", "iv", "bald", "entropy", "random"]
aggregation = "trimmed_mean"
moons_seeds = 3
moons_initial = 10
moons_pool = 200
moons_acquisition = 10
moons_rounds = 10
moons_test = 500
moons_noise = 0.25
moons_degree = 3
adult_seeds = 2
adult_initial = 100
adult_pool = 1000
adult_acquisition = 100
adult_rounds = 12
adult_val = 500
adult_test = 2000
bank_seeds = 2
forest_alpha = 0.2
forest_trees = 50
bald_samples = 100

# %%
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from lib._book import pages
import lib.datasets.tabular as tabular
import lib.reproducibility
from lib import fi_active as fa
from lib.experiments import ch09_fi_active_learning as ex
from lib.models import LogisticRegression

# one BLAS thread: the matrices here are small and thread spinning only slows them down
rng = lib.reproducibility.setup(seed, threads=1)
pages.setup_plots()
options = dict(aggregation=aggregation, forest_alpha=forest_alpha, forest_trees=forest_trees,
               bald_samples=bald_samples)
pages.parameters_table(globals(), "09_fi_active_learning")

# %% [markdown]
# # FI for active learning
#
# [FI] §4 turns its influence measure into an acquisition function. A pool sample `x_u` gets
# the current model's predicted label `y_hat_u` and is treated as a validation sample; its FI
# with respect to every labelled sample `z_j` is computed (chapter 4's measure, Eq. 2.1, with
# the loss of `(x_u, y_hat_u)` in place of the validation loss) and aggregated (Eq. 4.1):
#
# `FI_active(x_u) = g({FI(z_u, z_j)}_j)`, `FI(z_u, z_j) = a_uj G_j^+ a_uj^T`,
# `a_uj = -grad loss(x_u, y_hat_u)^T H^{-1} d_x d_theta loss(z_j)`,
#
# with `g` the mean of the values between the 10th and 90th percentiles (§6.2). Algorithm 4
# labels the pool samples with the largest `FI_active`, retrains, and repeats.
#
# How `lib/fi_active.py` implements it, and what the paper leaves open:
#
# * **One `K x P` matrix per labelled sample.** With `B_j = diag(sqrt p_j) V_j` (chapter 4),
#   `FI(z_u, z_j) = ||E_j g_u||^2`, `E_j = (B_j B_j^T)^+ B_j M_j^T H^{-1}`: the `E_j` are built
#   once per round, then every (pool, labelled) pair costs `K * P` operations. A test checks
#   the pairwise matrix column by column against `lib.fi.fi_util` with a one-sample validation
#   set, and against the explicit `d x d` pseudo-inverse of the metric tensor.
# * **For a binary model FI_active factorises** (exact, tested): `|p_u - y_hat_u| = min(p_u, 1-p_u)`,
#   so `FI_active(x_u) = min(p_u, 1-p_u)^2 * g_j((x~_u^T c_j)^2)` with a vector `c_j` per labelled
#   sample. FI_active is *uncertainty squared times a leverage term* that grows with `||x_u||`:
#   it is a relative of uncertainty sampling, not a different principle.
# * **Baselines.** Random; predictive entropy (uncertainty sampling); BALD (the paper cites
#   Kirsch et al.) as the mutual information between label and parameters under the Laplace
#   posterior `N(theta_hat, H^{-1})` of the logistic model, top-`N` (not the joint BatchBALD);
#   IV as in [CH] §5.5: an influence tree fitted on the labelled samples' utility influence on a
#   validation set (features only, since the pool has no labels), recomputed every round as the
#   paper does. `fi-forest` is Algorithm 8: FI_active on a random `forest_alpha` of the pool, a
#   random forest predicts the ranks of the rest.
# * **Rounds are capped at `pool // acquisition`** ({ref}`conventions §2 <conventions-repairs>`): the paper's Table 4 asks for
#   12 rounds of 500 from a pool of 5,000 on Adult. The cap is a warning and a recorded note.
# * Model: L2-regularised logistic regression trained to convergence (`l2="auto"`), refitted
#   from scratch after every round (the paper's tabular experiments train with SGD; no
#   optimiser settings are given for active learning).

# %% [markdown]
# ## 1. The paper's configurations and the round cap ([FI] Tables 4-5)

# %%
# NBVAL_CHECK_OUTPUT
paper_rounds = ex.paper_rounds_table()
print(paper_rounds.to_string())

# %% [markdown]
# Adult and CIFAR-10 ask for more queries than their pools hold; MNIST's 14 x 30 uses its 420-sample
# pool exactly. A consequence the paper does not mention: **when the rounds use the whole pool,
# every method ends with the same labelled set**, hence the same model and the same final
# accuracy. Methods can only differ *along* the curve. Our Adult runs below keep the paper's
# ratios (pool = 10 acquisitions, 12 rounds asked for) and show exactly that.

# %% [markdown]
# ## 2. Two moons: which points each rule picks
#
# Not in the paper: a 2-D picture of the acquisition rules. `make_moons` (noise `moons_noise`)
# mapped to all monomials up to degree `moons_degree` and standardised, so that a logistic
# model can bend its boundary; FI perturbs these features, as the paper's last-layer FI
# perturbs a network's penultimate features. `moons_initial` labelled points, a pool of
# `moons_pool`, `moons_acquisition` queries per round.

# %%
split_m, raw_m = ex.moons_active_split(moons_initial, moons_pool, 100, moons_test, np.random.default_rng(seed),
                                       noise=moons_noise, degree=moons_degree)
scores_m = ex.first_round_scores(split_m, methods, seed, **options)
m0 = LogisticRegression().fit(split_m.X_init, split_m.y_init, n_classes=2)
shown = [m for m in ("fi", "entropy", "bald", "iv") if m in methods]
fig, axes = plt.subplots(1, len(shown), figsize=(4 * len(shown), 3.8), sharex=True, sharey=True)
for ax, m in zip(np.atleast_1d(axes), shown):
    picks = fa.select_top(scores_m[m].to_numpy(), moons_acquisition)
    sc = ax.scatter(raw_m["pool"][:, 0], raw_m["pool"][:, 1], c=scores_m[m], cmap="viridis", s=12)
    ax.scatter(raw_m["pool"][picks, 0], raw_m["pool"][picks, 1], s=90, facecolors="none", edgecolors="r",
               label=f"{moons_acquisition} picks")
    sns.scatterplot(x=raw_m["init"][:, 0], y=raw_m["init"][:, 1], hue=split_m.y_init, style=split_m.y_init,
                    markers=["X", "P"], s=90, palette=["k", "tab:orange"], ax=ax, legend=False)
    ax.set_title(f"{m}: round-1 scores")
np.atleast_1d(axes)[0].legend(loc="lower left", fontsize=8)
plt.show()

# %%
# NBVAL_CHECK_OUTPUT
rho_m = scores_m.drop(columns="confidence").corr("spearman")
print("Spearman correlation of the round-1 scores on the pool:")
print(rho_m.round(2).to_string())

# %%
moons_curves = pd.concat([fa.compare_methods(
    ex.moons_active_split(moons_initial, moons_pool, 100, moons_test, np.random.default_rng(s),
                          noise=moons_noise, degree=moons_degree)[0],
    methods, moons_rounds, moons_acquisition, s, **options)[0] for s in range(seed, seed + moons_seeds)])
ax = sns.lineplot(moons_curves, x="n_labeled", y="accuracy", hue="method", marker="o", errorbar="se")
ax.set_title(f"Two moons, degree-{moons_degree} logistic model, {moons_seeds} seeds")
plt.show()

# %%
# NBVAL_CHECK_OUTPUT
moons_summary = ex.summarise(moons_curves)
print(moons_summary.round(3).to_string())

# %% [markdown]
# The round-1 picture shows the factorisation at work. Entropy spreads its picks over the
# region where the current (10-point) model is least certain. FI multiplies that uncertainty by
# its leverage factor, so its picks move to the outskirts of the uncertain region; BALD goes
# further out still, where the Laplace posterior's spread is largest. IV's tree scores whole
# regions by how much their labelled neighbours helped the validation loss, which need not be
# near the boundary. The Spearman table gives the agreement between the rules on the whole pool.

# %% [markdown]
# ## 3. Adult ([FI] Fig. 3, Table 4)
#
# UCI Adult (chapter 4's loader, 103 one-hot columns). Per seed: an initial labelled set of
# `adult_initial`, a pool of `adult_pool` and a validation set of `adult_val` (for IV only) from
# `adult.data`, a test set of `adult_test` from `adult.test`, features standardised with the
# statistics of the initial set and the pool. The paper's Table 4 is 300 / 5,000 / 500 per round
# / 12 rounds (full profile); the quick profile keeps its ratios at a fifth of the size.

# %%
tabular.fetch_adult()
adult = tabular.load_adult()
adult_curves, adult_runs, adult_scores = [], [], None
for s in range(seed, seed + adult_seeds):
    split_a = ex.tabular_active_split(adult.X, adult.y, adult.meta["is_test"], adult_initial, adult_pool,
                                      adult_val, adult_test, np.random.default_rng(s))
    curves, runs = fa.compare_methods(split_a, methods, adult_rounds, adult_acquisition, s, **options)
    adult_curves.append(curves)
    adult_runs.append(runs)
    if adult_scores is None:
        adult_scores = ex.first_round_scores(split_a, methods, s, **options)
adult_curves = pd.concat(adult_curves, ignore_index=True)
ax = sns.lineplot(adult_curves, x="n_labeled", y="accuracy", hue="method", marker="o", errorbar="se")
ax.set_title(f"Adult, logistic regression, {adult_seeds} seeds")
plt.show()

# %%
# NBVAL_CHECK_OUTPUT
adult_note = adult_runs[0][methods[0]].note
print("note:", adult_note or "rounds not capped")
adult_summary = ex.summarise(adult_curves)
print(adult_summary.round(4).to_string())
adult_conf = ex.pick_confidence(adult_scores, adult_acquisition)
print(adult_conf.round(3).to_string())
print("Spearman(FI_active, entropy) on the round-1 pool:",
      round(adult_scores[["fi", "entropy"]].corr("spearman").iloc[0, 1], 2))

# %%
# scoring time per run (seconds, summed over rounds; machine-dependent, not checked)
adult_seconds = adult_curves.groupby(["method", "seed"]).seconds.sum().groupby("method").mean()
adult_seconds.round(2)

# %% [markdown]
# ## 4. Bank marketing
#
# Not in the paper's active-learning section; the second offline tabular set (chapter 4's
# loader, 50 columns), same protocol and sizes as Adult, the test set drawn from a held-out 30%.

# %%
tabular.fetch_bank()
bank = tabular.load_bank()
bank_is_test = np.random.default_rng(seed).random(len(bank)) < 0.3
bank_curves = pd.concat([fa.compare_methods(
    ex.tabular_active_split(bank.X, bank.y, bank_is_test, adult_initial, adult_pool, adult_val, adult_test,
                            np.random.default_rng(s)),
    methods, adult_rounds, adult_acquisition, s, **options)[0] for s in range(seed, seed + bank_seeds)])
ax = sns.lineplot(bank_curves, x="n_labeled", y="accuracy", hue="method", marker="o", errorbar="se")
ax.set_title(f"Bank, logistic regression, {bank_seeds} seed(s)")
plt.show()

# %%
# NBVAL_CHECK_OUTPUT
bank_summary = ex.summarise(bank_curves)
print(bank_summary.round(4).to_string())

# %% [markdown]
# ## Paper vs. this book
#
# The paper's active-learning results are figures without numbers (Fig. 3, 4, 10) plus the
# configuration tables; the claims below are its statements in §6.2, measured on our runs.
# "mean over rounds" is the mean test accuracy after rounds `1..R` (area under the learning
# curve); with the whole pool used, the final round cannot separate methods.

# %%
def rank_of(summary: pd.DataFrame, method: str, col: str = "mean over rounds") -> str:
    order = summary[col].sort_values(ascending=False)
    return f"{list(order.index).index(method) + 1} of {len(order)}" if method in order.index else "n/a"


def pts(x: float) -> str:
    return f"{100 * x:+.2f} pts"


final_spread = adult_summary["final"].max() - adult_summary["final"].min()
rows = [
    {"claim": "Table 4: Adult runs 12 rounds of 500 from a pool of 5,000",
     "paper": "12 rounds",
     "measured": f"{paper_rounds.loc['Adult', 'queries needed']} queries needed; "
                 f"{paper_rounds.loc['Adult', 'rounds that fit']} rounds fit",
     "note": "capped at pool // acquisition (conventions §2); CIFAR-10 likewise "
             f"({paper_rounds.loc['CIFAR10', 'rounds that fit']} of 9)"},
    {"claim": "Fig. 3: methods diverge in the late rounds on Adult",
     "paper": "FI distinctly above the others at the end",
     "measured": f"final accuracies span {100 * final_spread:.2f} pts across methods",
     "note": "with the pool exhausted every method ends with the same labelled set and model"},
]
if "fi" in methods:
    for name, summ in (("Adult", adult_summary), ("two moons", moons_summary), ("Bank", bank_summary)):
        best = summ["mean over rounds"].idxmax()
        gap = summ.loc[best, "mean over rounds"] - summ.loc["fi", "mean over rounds"]
        sd = summ["sd over seeds"].max()
        within = f" (gap {100 * gap:.2f} pts; largest seed sd {100 * sd:.2f} pts)" if np.isfinite(sd) else \
            f" (gap {100 * gap:.2f} pts; one seed, no spread)"
        rows.append({
            "claim": f"Fig. 3: FI outperforms the other methods ({name})",
            "paper": "FI best" if name == "Adult" else "(not in the paper)",
            "measured": f"FI ranks {rank_of(summ, 'fi')} by mean accuracy over rounds; "
                        f"FI {100 * summ.loc['fi', 'mean over rounds']:.2f}% vs best {best} "
                        f"{100 * summ.loc[best, 'mean over rounds']:.2f}%",
            "note": "reproduced" if best == "fi" else f"not reproduced: {best} is best" + within})
if {"bald", "random"} <= set(methods):
    gap = adult_summary.loc["bald", "mean over rounds"] - adult_summary.loc["random", "mean over rounds"]
    rows.append({"claim": "BALD is comparable to random selection on tabular data (Adult)",
                 "paper": "BALD ~ random", "measured": f"BALD - random: {pts(gap)} (mean over rounds)",
                 "note": "reproduced (within 0.5 pts)" if abs(gap) < 0.005 else "not reproduced"})
if {"iv", "random"} <= set(methods):
    gap1 = adult_summary.loc["iv", "first round"] - adult_summary.loc["random", "first round"]
    rows.append({"claim": "IV initially underperforms random selection (Adult)",
                 "paper": "IV < random in early rounds", "measured": f"IV - random after round 1: {pts(gap1)}",
                 "note": "reproduced" if gap1 < 0 else "not reproduced: our IV (exact influence, [CH] tree) starts ahead"})
if "fi" in methods:
    rows.append({"claim": "Fig. 5: FI_active picks samples the current model finds hard",
                 "paper": "picks have flat predicted distributions",
                 "measured": f"mean confidence of FI's round-1 picks {adult_conf['fi']:.3f} vs pool "
                             f"{adult_conf['whole pool']:.3f} (entropy's picks {adult_conf.get('entropy', np.nan):.3f})",
                 "note": "reproduced: follows from the binary factorisation (uncertainty^2 x leverage)"
                         if adult_conf["fi"] < adult_conf["whole pool"] else "not reproduced"})
if {"fi", "fi-forest"} <= set(methods):
    d = adult_summary.loc["fi-forest", "mean over rounds"] - adult_summary.loc["fi", "mean over rounds"]
    rows.append({"claim": "Table 8: the subsampling approximation keeps accuracy",
                 "paper": "MNIST 93.8 vs 94.0%, CelebA 80.9 vs 78.1% (approx. vs exact)",
                 "measured": f"Adult, approx. - exact: {pts(d)} (mean over rounds)",
                 "note": f"forest on a {forest_alpha:.0%} subsample of the pool"})
if {"fi", "iv", "bald"} <= set(methods):
    rows.append({"claim": "Table 9: FI costs somewhat more time than IV and BALD",
                 "paper": "MNIST: FI 19 s, IV 13 s, BALD 9 s",
                 "measured": ", ".join(f"{m} {adult_seconds[m]:.1f} s" for m in ("fi", "iv", "bald")),
                 "note": "scoring time per Adult run on this machine (not checked; varies)"})
pages.claims_table(rows)

# %% [markdown]
# **Where and why we differ.** The paper reports FI_active as the best method on Adult, with
# the curves separating late. As printed, Table 4 cannot produce a late separation: its rounds
# exhaust the pool (we cap them), after which all methods share one training set. Along the
# curve, our measured ranking is in the claims table; on these low-dimensional, nearly linear
# problems, uncertainty-type rules (entropy, BALD, FI) behave alike, which the binary
# factorisation explains: FI_active is the squared uncertainty `min(p, 1-p)^2` times a leverage
# term, so it tracks entropy closely (Spearman printed in §3) and differs mainly by favouring
# outlying points. The paper's setting differs in ways we cannot recover: its model is trained
# with SGD rather than to convergence, its IV variant and BALD posterior are not specified, and
# its curves come from three runs without error bars.
