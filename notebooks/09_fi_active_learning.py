# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # FI for active learning
#
# **Does labelling the pool samples with the largest FI, [FI]'s influence measure, make a
# classifier learn faster than uncertainty sampling, BALD, influence trees or random
# selection?** [FI] §4 turns its influence measure into an acquisition function. A pool sample
# $x_u$ gets the current model's predicted label $\hat y_u$ and is treated as a validation sample;
# its FI with respect to every labelled sample $z_j$ is computed (chapter 8's measure, Eq. 2.1,
# with the loss of $(x_u, \hat y_u)$ in place of the validation loss) and aggregated (Eq. 4.1):
#
# $$\mathrm{FI}_\text{active}(x_u) = g\big(\{\mathrm{FI}(z_u, z_j)\}_j\big), \qquad
# \mathrm{FI}(z_u, z_j) = a_{uj}\, G_j^{+}\, a_{uj}^\top,$$
#
# $$a_{uj} = -\nabla_\theta \ell(x_u, \hat y_u)^\top H^{-1}\, \partial_x \partial_\theta \ell(z_j),$$
#
# with $g$ the mean of the values between the 10th and 90th percentiles (§6.2). Algorithm 4
# labels the pool samples with the largest $\mathrm{FI}_\text{active}$, retrains, and repeats.
#
# How `lib/fi_active.py` implements it, and what the paper leaves open:
#
# * **One $K \times P$ matrix per labelled sample.** With $B_j = \operatorname{diag}(\sqrt{p_j})\, V_j$
#   (chapter 8), $\mathrm{FI}(z_u, z_j) = \lVert E_j g_u \rVert^2$,
#   $E_j = (B_j B_j^\top)^{+} B_j M_j^\top H^{-1}$: the $E_j$ are built once per round, then every
#   (pool, labelled) pair costs $K P$ operations. A test checks the pairwise matrix column by
#   column against `lib.fi.fi_util` with a one-sample validation set, and against the explicit
#   $d \times d$ pseudo-inverse of the metric tensor.
# * **For a binary model FI_active factorises** (exact, tested):
#   $\lvert p_u - \hat y_u \rvert = \min(p_u, 1-p_u)$, so
#   $\mathrm{FI}_\text{active}(x_u) = \min(p_u, 1-p_u)^2\; g_j\big((\tilde x_u^\top c_j)^2\big)$ with a
#   vector $c_j$ per labelled sample. FI_active is *uncertainty squared times a leverage term* that
#   grows with $\lVert x_u \rVert$: it is a relative of uncertainty sampling, not a different
#   principle.
# * **Baselines.** Random; predictive entropy (uncertainty sampling); BALD (the paper cites
#   Kirsch et al.) as the mutual information between label and parameters under the Laplace
#   posterior $\mathcal N(\hat\theta, H^{-1})$ of the logistic model, top-$N$ (not the joint
#   BatchBALD); IV as in [CH] §5.5: an influence tree fitted on the labelled samples' utility
#   influence on a validation set (features only, since the pool has no labels), recomputed every
#   round as the paper does. `fi-forest` is Algorithm 8: FI_active on a random `forest_alpha` of the
#   pool, a random forest predicts the ranks of the rest.
# * **Rounds are capped at `pool // acquisition`** ({ref}`conventions §2 <conventions-repairs>`):
#   the paper's Table 4 asks for 12 rounds of 500 from a pool of 5,000 on Adult. The cap is a
#   warning and a recorded note.
# * Model: L2-regularised logistic regression trained to convergence (`l2="auto"`), refitted
#   from scratch after every round (the paper's tabular experiments train with SGD; no
#   optimiser settings are given for active learning).
# * Ties: duplicated pool rows (Adult, Bank) get equal scores in exact arithmetic; every
#   selection ranks the scores after `lib.reproducibility.tie_safe`, so such ties are broken by
#   index on every machine, not by floating-point noise.

# %% tags=["parameters", "remove-input"]
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

# %% tags=["remove-input"]
import textwrap

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

import lib.datasets.tabular as tabular
import lib.reproducibility
from lib import fi_active as fa
from lib._book import pages
from lib.experiments import ch09_fi_active_learning as ex

# one BLAS thread: the matrices here are small and thread spinning only slows them down
rng = lib.reproducibility.setup(seed, threads=1)
pages.setup_plots()
options = dict(aggregation=aggregation, forest_alpha=forest_alpha, forest_trees=forest_trees, bald_samples=bald_samples)
pages.parameters_table(globals(), "09_fi_active_learning")

# %% [markdown]
# ## 1. The paper's configurations and the round cap ([FI] Tables 4-5)

# %% tags=["nbval-check-output", "hide-input"]
paper_rounds = ex.paper_rounds_table()
print(paper_rounds.T.to_string())

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
split_m, raw_m = ex.moons_active_split(
    moons_initial, moons_pool, 100, moons_test, np.random.default_rng(seed), noise=moons_noise, degree=moons_degree
)
scores_m = ex.first_round_scores(split_m, methods, seed, **options)

# %% tags=["hide-input"]
shown = [m for m in ("fi", "entropy", "bald", "iv") if m in methods]
ncols = min(2, len(shown))
nrows = -(-len(shown) // ncols)
fig, axes = plt.subplots(nrows, ncols, figsize=(5.4 * ncols, 4.0 * nrows), sharex=True, sharey=True, squeeze=False)
for ax, m in zip(axes.flat, shown, strict=False):  # a 2 x 2 grid may hold fewer panels
    picks = fa.select_top(scores_m[m].to_numpy(), moons_acquisition)
    sc = ax.scatter(raw_m["pool"][:, 0], raw_m["pool"][:, 1], c=scores_m[m], cmap="viridis", s=12)
    fig.colorbar(sc, ax=ax, label=f"{m} score")
    ax.scatter(
        raw_m["pool"][picks, 0],
        raw_m["pool"][picks, 1],
        s=90,
        facecolors="none",
        edgecolors="r",
        label=f"the {moons_acquisition} picks",
    )
    for cls, marker, colour in ((0, "X", "k"), (1, "P", "tab:orange")):
        sel = split_m.y_init == cls
        ax.scatter(
            raw_m["init"][sel, 0],
            raw_m["init"][sel, 1],
            marker=marker,
            s=90,
            color=colour,
            label=f"labelled, class {cls}",
        )
    ax.set_title(f"{m}: round-1 scores of the pool")
for ax in axes[-1]:
    ax.set_xlabel("$x_1$")
for ax in axes[:, 0]:
    ax.set_ylabel("$x_2$")
for ax in list(axes.flat)[len(shown) :]:
    ax.set_visible(False)
fig.legend(
    *axes.flat[0].get_legend_handles_labels(), loc="lower center", ncol=3, bbox_to_anchor=(0.5, -0.05), frameon=False
)
plt.show()

# %% tags=["nbval-check-output", "hide-input"]
rho_m = scores_m.drop(columns="confidence").corr("spearman")
print("Spearman correlation of the round-1 scores on the pool:")
print(rho_m.round(2).to_string())

# %%
moons_curves = pd.concat(
    [
        fa.compare_methods(
            ex.moons_active_split(
                moons_initial,
                moons_pool,
                100,
                moons_test,
                np.random.default_rng(s),
                noise=moons_noise,
                degree=moons_degree,
            )[0],
            methods,
            moons_rounds,
            moons_acquisition,
            s,
            **options,
        )[0]
        for s in range(seed, seed + moons_seeds)
    ]
)


def learning_curves(curves: pd.DataFrame, title: str) -> None:
    fig, ax = plt.subplots(figsize=(7.5, 4))
    sns.lineplot(curves, x="n_labeled", y="accuracy", hue="method", marker="o", errorbar="se", ax=ax)
    ax.set(title=title, xlabel="labelled samples", ylabel="test accuracy")
    ax.legend(title="acquisition", loc="upper left", bbox_to_anchor=(1.01, 1))
    plt.show()


# %% tags=["hide-input"]
learning_curves(moons_curves, f"Two moons, degree-{moons_degree} logistic model, {moons_seeds} seeds")

# %% tags=["nbval-check-output", "hide-input"]
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
# UCI Adult (chapter 8's loader; the number of one-hot columns is printed below). Per seed: an initial labelled set of
# `adult_initial`, a pool of `adult_pool` and a validation set of `adult_val` (for IV only) from
# `adult.data`, a test set of `adult_test` from `adult.test`, features standardised with the
# statistics of the initial set and the pool. The paper's Table 4 is 300 / 5,000 / 500 per round
# / 12 rounds (full profile); the quick profile keeps its ratios at a smaller size.

# %%
tabular.fetch_adult()
adult = tabular.load_adult()
adult_curves, adult_runs, adult_scores = [], [], None
for s in range(seed, seed + adult_seeds):
    split_a = ex.tabular_active_split(
        adult.X,
        adult.y,
        adult.meta["is_test"],
        adult_initial,
        adult_pool,
        adult_val,
        adult_test,
        np.random.default_rng(s),
    )
    curves, runs = fa.compare_methods(split_a, methods, adult_rounds, adult_acquisition, s, **options)
    adult_curves.append(curves)
    adult_runs.append(runs)
    if adult_scores is None:
        adult_scores = ex.first_round_scores(split_a, methods, s, **options)
adult_curves = pd.concat(adult_curves, ignore_index=True)

# %% tags=["hide-input"]
learning_curves(adult_curves, f"Adult, logistic regression, {adult_seeds} seeds")

# %% tags=["nbval-check-output", "hide-input"]
adult_note = adult_runs[0][methods[0]].note
print(f"Adult: {len(adult)} rows, {adult.X.shape[1]} one-hot columns")
print(textwrap.fill("note: " + (adult_note or "rounds not capped"), 76))
adult_summary = ex.summarise(adult_curves)
print(adult_summary.round(4).to_string())
adult_conf = ex.pick_confidence(adult_scores, adult_acquisition)
print(adult_conf.round(3).to_string())
print(
    "Spearman(FI_active, entropy) on the round-1 pool:",
    round(adult_scores[["fi", "entropy"]].corr("spearman").iloc[0, 1], 2),
)

# %% [markdown]
# Scoring time per Adult run (seconds, summed over rounds; machine-dependent, not checked):

# %% tags=["hide-input"]
adult_seconds = adult_curves.groupby(["method", "seed"]).seconds.sum().groupby("method").mean()
adult_seconds.round(2)

# %% [markdown]
# ## 4. Bank marketing
#
# Not in the paper's active-learning section; the second offline tabular set (chapter 8's
# loader), same protocol and sizes as Adult, the test set drawn from a held-out 30%.

# %%
tabular.fetch_bank()
bank = tabular.load_bank()
bank_is_test = np.random.default_rng(seed).random(len(bank)) < 0.3
bank_curves = pd.concat(
    [
        fa.compare_methods(
            ex.tabular_active_split(
                bank.X, bank.y, bank_is_test, adult_initial, adult_pool, adult_val, adult_test, np.random.default_rng(s)
            ),
            methods,
            adult_rounds,
            adult_acquisition,
            s,
            **options,
        )[0]
        for s in range(seed, seed + bank_seeds)
    ]
)

# %% tags=["hide-input"]
learning_curves(bank_curves, f"Bank, logistic regression, {bank_seeds} seed(s)")

# %% tags=["nbval-check-output", "hide-input"]
bank_summary = ex.summarise(bank_curves)
print(bank_summary.round(4).to_string())

# %% [markdown]
# ## Paper vs. this book
#
# The paper's active-learning results are figures without numbers (Fig. 3, 4, 10) plus the
# configuration tables; the claims below are its statements in §6.2, measured on our runs.
# "mean over rounds" is the mean test accuracy after rounds $1..R$ (area under the learning
# curve); with the whole pool used, the final round cannot separate methods.

# %% tags=["remove-input"]
pages.claims_table(
    ex.claims(
        paper_rounds,
        {"Adult": adult_summary, "two moons": moons_summary, "Bank": bank_summary},
        adult_conf,
        adult_seconds,
        forest_alpha=forest_alpha,
    )
)

# %% [markdown]
# **Where and why we differ.** The paper reports FI_active as the best method on Adult, with
# the curves separating late. As printed, Table 4 cannot produce a late separation: its rounds
# exhaust the pool (we cap them), after which all methods share one training set. Along the
# curve, our measured ranking is in the claims table; on these low-dimensional, nearly linear
# problems, uncertainty-type rules (entropy, BALD, FI) behave alike, which the binary
# factorisation explains: FI_active is the squared uncertainty $\min(p, 1-p)^2$ times a leverage
# term, so it tracks entropy closely (Spearman printed in §3) and differs mainly by favouring
# outlying points. The paper's setting differs in ways we cannot recover: its model is trained
# with SGD rather than to convergence, its IV variant and BALD posterior are not specified, and
# its curves come from three runs without error bars.
