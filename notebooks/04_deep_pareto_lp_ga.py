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
# # PARETO-LP-GA on deep classifiers
#
# **The question this page answers.** Can one re-weighted epoch, with weights from PARETO-LP-GA
# (the category-wise influence LP of [PC] Algorithm 1 and a genetic search over its class
# thresholds), lift the classes we choose on a deep classifier *more than an ordinary epoch would*,
# without costing the other classes, on data the search never saw — and more than simply
# up-weighting the chosen classes?
#
# **The paper's claim** ([PC] §5.2, Table 1; App. B.2, Table 3). On CIFAR-10 with ResNet-9,
# *Direct Improvement* (DI) at epoch 10 raises the two weakest classes by **+16.02 %** and
# **+11.39 %** (relative change from epoch 10 to the re-weighted epoch 11), and *Course Correction*
# (CC) of the detrimental epoch 16 turns the drops of classes 5, 7 and 9 into gains of **+1.65 %**,
# **+1.31 %** and **+2.77 %** (relative to the standard epoch 16), "while non-target classes see
# minimal reductions". App. B.2 applies it to the final epoch ("final polish", up to +4.88 %).
#
# **Our setting.** The paper's protocol on two CPU cores: Fashion-MNIST (real, offline; 10 classes
# whose accuracies differ — shirt, pullover and coat trade places like CIFAR-10's cat, bird and
# dog) with a small CNN, and a real text set (`austen6`, six Jane Austen novels, MiniLM
# embeddings) with an MLP head; several training seeds; a reduced GA (its size is in the
# parameters table). Every step starts from the same checkpoint and trains the same one epoch, so
# the method is compared with the **standard unweighted epoch** (the comparison the paper omits) and
# with simpler re-weightings, all on a held-out **test** split; the spread over seeds and the noise
# of one epoch (the same epoch with other batch orders) are shown beside every number. The `full`
# profile runs CIFAR-10 and STL-10 with ResNet-9 and the values of [PC] Table 2 (not run for this
# page: it needs a GPU and hours).

# %% tags=["parameters", "remove-input"]
seed = 0
progress = False
threads = 1
n_jobs = 1
backend: str | None = None
device = "cpu"
dtype = "float64"
image_datasets = ["fashion_mnist"]
image_pool = 2
image_model = "small_cnn"
width = 8
n_train: int | None = 4000
n_val = 1500
n_test: int | None = 2000
epochs = {"fashion_mnist": 8}
lr = 0.05
batch_size = 64
momentum = 0.9
weight_decay = 0.0005
lr_schedule = "triangle"
di_epoch = 3
text_dataset: str | None = "austen6"
text_per_class: int | None = None
text_hidden = 64
text_epochs = 12
text_lr = 0.01
text_batch_size = 32
text_momentum = 0.9
text_weight_decay = 0.0005
text_di_epoch = 4
n_targets = 2
di_targets: list[int] | None = None
cc_threshold = 0.05
cc_first_epoch = 2
cc_max_targets = 3
polish = True
ga_lr: float | None = None
ga_weight_decay: float | None = None
ga_batch_size: int | None = None
ga_generations = 3
ga_elites = 2
ga_mutated = 2
ga_random = 2
ga_children = 2
mutation_rate = 0.25
mutation_strength = 0.25
lp_form = "eps"
w_max = 3.0
rho = 0.1
n_shuffles = 6
damping: float | None = 0.1
ekfac_batch_size = 512
seeds = [0, 1, 2]

# %% tags=["remove-input"]
import warnings

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from IPython.display import display

import lib.reproducibility
from lib import reweighting
from lib._book import pages
from lib.experiments import ch04_deep_pareto_lp_ga as ch

warnings.filterwarnings("ignore", message="IProgress not found")  # tqdm.auto, imported by kronfluence
rng = lib.reproducibility.setup(seed, threads=threads)
pages.setup_plots()
pd.set_option("display.width", 120)
problems = ch.problems(image_datasets=image_datasets, text_dataset=text_dataset)
if problems:
    raise RuntimeError("this run cannot start:\n- " + "\n- ".join(problems))
pages.parameters_table(globals(), "04_deep_pareto_lp_ga")

# %% [markdown]
# ## One step of PARETO-LP-GA, as implemented
#
# For a training run (one seed) we keep a checkpoint and the per-class validation and test accuracy
# after every epoch. At a chosen epoch $e$:
#
# 1. **Influence.** $P_{ik}$ is the influence of training sample $i$ on the summed validation loss
#    of class $k$ by EKFAC at the epoch-$e$ checkpoint (chapter 3; positive = the sample helps
#    class $k$), in the run's precision.
# 2. **LP** (Algorithm 1 line 4, made well-posed as {ref}`conventions §2 <conventions-repairs>`
#    prescribes: as printed it is unbounded, and its $\alpha$ form flips meaning when
#    $\sum_i P_{ik} < 0$). With
#    $\bar P_{ik} = P_{ik} / n^{val}_k$,
#    $$\begin{aligned}
#    \max_w \;& \sum_{k \in C_{target}} \sum_i (w_i - 1) \bar P_{ik} \\
#    \text{s.t.} \;& \sum_i (w_i - 1) \bar P_{ik} \ge -\varepsilon_k \;\; \forall k, \\
#    & 0 \le w_i \le w_{max}, \quad \sum_i |w_i - 1| \le \rho\, n .
#    \end{aligned}$$
# 3. **Fit** (line 5, $\text{TRAINONEEPOCH}(\theta^e, T, w)$): the epoch-$e$ model is rebuilt from
#    the checkpoint and trained for one epoch with per-sample loss weights $w$, the run's own batch
#    order of epoch $e+1$ and a fixed seed — every candidate differs from the others only by its
#    weights. With `ga_lr = None` the epoch continues the run (its optimiser state and learning-rate
#    schedule), so the unweighted candidate *is* the run's epoch $e+1$; the full profile uses
#    Table 2's PARETO-LP-GA optimiser instead (learning rate $10^{-4}$, weight decay $10^{-4}$,
#    batch 512).
# 4. **Fitness** (lines 6–7) on the validation split: $\Delta_k$ = the change of class $k$'s accuracy
#    from the reference model (DI: the epoch-$e$ model; CC: the run's own epoch $e+1$, as the paper
#    says); a large finite penalty per target class with $\Delta_k \le 0$ (the paper's $-\infty \cdot 0$
#    is undefined), otherwise the mean target gain plus the mean non-target loss; ties broken by the
#    mean target gain.
# 5. **GA** over $\varepsilon$: elites, mutated elites, fresh random individuals and blend-crossover
#    children (Table 2's layout 6+6+6+6 in the full profile, `ga_elites` + `ga_mutated` + `ga_random`
#    + `ga_children` here), `ga_generations` iterations. The candidates of a generation are
#    independent and can be trained in parallel (`n_jobs` workers, joblib's `backend`: `"loky"`
#    processes or `"threading"`), with the same results as one after the other; the
#    [Benchmarks](benchmarks.md) page measures whether that pays on a given machine (on the shared
#    two-core machine that executed this page it did not, so the quick profile uses one worker).
#
# The best weights are then scored on the **test** split, next to these one-epoch alternatives from
# the same checkpoint: the **standard** unweighted epoch; **class up-weighting** (every target-class
# sample gets the same extra weight, the total change $\sum_i |w_i - 1|$ equal to the GA's); the
# **LP with $\varepsilon = 0$** (no GA); the GA's weights **randomly permuted** over the samples (same
# weight histogram); and `n_shuffles` standard epochs with **other batch orders** — the noise of one
# epoch and, picked on the validation split by the GA's own fitness, a **selection-only control**
# (the best of several ordinary epochs).
#
# **Choices the paper leaves open**, stated here and exposed as parameters: the images are
# average-pooled to 14x14, the CNN and the MLP head train in float64 (so that the checked numbers are
# the same on every CPU; EKFAC runs in float64 too), with chapter 3's recipe for the images (SGD with
# momentum, a triangular learning-rate schedule) and standardised embeddings for the text; in the
# quick profile the re-weighted epoch continues the run's own optimiser (Table 2's separate GA
# optimiser, learning rate $10^{-4}$ against the training's 0.05, would take steps 500 times smaller
# than the run's own); the LP's box $w_{max}$ and trust region $\rho$ ({ref}`conventions §2 <conventions-repairs>`), the
# $\varepsilon$ form of the class constraints, EKFAC's damping, the number of DI targets, the CC
# threshold and the validation split's size are ours.
#
# The three settings: **DI** at `di_epoch` (targets: the `n_targets` classes of lowest validation
# accuracy, or `di_targets`); **CC** at the first epoch $e \ge$ `cc_first_epoch` whose standard next
# epoch lowers some classes' validation accuracy by more than `cc_threshold` (targets: those classes,
# at most `cc_max_targets`); **polish** ([PC] App. B.2): DI at the last checkpoint before the final
# epoch, so that the re-weighted epoch replaces the run's last one.

# %% tags=["hide-input"]
lp_kwargs = {"w_max": w_max, "rho": rho, "solver": "highs"}
ga_kwargs = {
    "form": lp_form,
    "generations": ga_generations,
    "n_elites": ga_elites,
    "n_mutated": ga_mutated,
    "n_random": ga_random,
    "n_children": ga_children,
    "mutation_rate": mutation_rate,
    "mutation_strength": mutation_strength,
}
step_settings = reweighting.EpochSettings(lr=ga_lr, weight_decay=ga_weight_decay, batch_size=ga_batch_size)
common = {
    "seeds": seeds,
    "di_targets": di_targets,
    "n_targets": n_targets,
    "cc_threshold": cc_threshold,
    "cc_first_epoch": cc_first_epoch,
    "cc_max_targets": cc_max_targets,
    "polish": polish,
    "settings": step_settings,
    "ga_kwargs": ga_kwargs,
    "lp_kwargs": lp_kwargs,
    "n_shuffles": n_shuffles,
    "damping": damping,
    "ekfac_batch_size": ekfac_batch_size,
    "n_jobs": n_jobs,
    "backend": backend,
    "threads": threads,
    "progress": progress,
}
studies = {}
for i, name in enumerate(image_datasets):
    data = ch.image_data(
        name,
        image_pool=image_pool,
        n_train=n_train,
        n_val=n_val,
        n_test=n_test,
        dtype=dtype,
        rng=np.random.default_rng([seed, 10 + i]),
    )
    spec = ch.image_spec(
        data,
        image_model=image_model,
        width=width,
        epochs=epochs[name],
        lr=lr,
        batch_size=batch_size,
        momentum=momentum,
        weight_decay=weight_decay,
        lr_schedule=lr_schedule,
        dtype=dtype,
        device=device,
    )
    studies[name] = ch.study(data, spec, di_epoch=di_epoch, **common)
if text_dataset is not None:
    data = ch.text_data(text_dataset, text_per_class=text_per_class, dtype=dtype, rng=np.random.default_rng([seed, 20]))
    spec = ch.text_spec(
        data,
        text_hidden=text_hidden,
        text_epochs=text_epochs,
        text_lr=text_lr,
        text_batch_size=text_batch_size,
        text_momentum=text_momentum,
        text_weight_decay=text_weight_decay,
        dtype=dtype,
        device=device,
    )
    studies[text_dataset] = ch.study(data, spec, di_epoch=text_di_epoch, **common)
names = list(studies)
text_names = [text_dataset] if text_dataset in studies else []  # the MLP head on fixed embeddings


# %% tags=["remove-input"]
def short(classes):
    return [f"{k} {c[:10]}" for k, c in enumerate(classes)]


def plot_curves():
    _, axes = plt.subplots(1, len(names), figsize=(6 * len(names), 4.2), squeeze=False)
    for ax, name in zip(axes[0], names, strict=True):
        st = studies[name]
        r = st.seeds[0]
        acc = 100 * r.val_accuracy
        for k, label in enumerate(short(st.data.classes)):
            ax.plot(range(acc.shape[0]), acc[:, k], marker=".", label=label)
        for setting, style in (("DI", "--"), ("CC", ":"), ("polish", "-.")):
            s = r.steps.get(setting)
            if s is not None:
                ax.axvline(s.epoch, color="k", ls=style, lw=1)
                ax.text(s.epoch, 2, f" {setting} e={s.epoch}", rotation=90, va="bottom", fontsize=8)
        ax.set(
            xlabel="epoch", ylabel="validation accuracy per class (%)", ylim=(0, 100), title=f"{name}: seed {r.seed}"
        )
        ax.legend(fontsize=7, ncol=2, loc="upper center", bbox_to_anchor=(0.5, -0.2))
    plt.show()


def plot_classes(name):
    st = studies[name]
    present = [s for s in ch.SETTINGS if not ch.bar_data(st, s).empty]
    _, axes = plt.subplots(len(present), 1, figsize=(9, 3.8 * len(present)), squeeze=False)
    labels = short(st.data.classes)
    for ax, setting in zip(axes[:, 0], present, strict=True):
        df = ch.bar_data(st, setting)
        sns.barplot(df, x="class", y="change", hue="method", errorbar="sd", ax=ax, err_kws={"linewidth": 1})
        band = ch.noise_band(st, setting)
        for k, b in enumerate(band):
            ax.fill_between([k - 0.45, k + 0.45], -b, b, color="grey", alpha=0.25, lw=0)
        counts = df[df.target].groupby("class")["seed"].nunique()
        ax.set_xticks(
            range(len(labels)),
            [lab + (f"\n(target {counts[k]}x)" if k in counts.index else "") for k, lab in enumerate(labels)],
            fontsize=8,
        )
        ax.axhline(0, color="k", lw=0.7)
        ax.set(
            ylabel="vs standard (points)",
            xlabel="",
        )
        ax.set_title(
            f"{name}, {setting}: change against the standard epoch\n(mean ± sd over seeds; grey: ± one-epoch noise sd)",
            fontsize=10,
        )
        ax.legend(fontsize=8, ncol=3, loc="upper center", bbox_to_anchor=(0.5, -0.24))
    plt.show()


def plot_headline(name):
    st = studies[name]
    rows = []
    for setting in ch.SETTINGS:
        df = ch.per_seed_summary(st, setting)
        if df.empty:
            continue
        df = df[df.method != "standard"]
        for _, r in df.iterrows():
            rows.append(
                {
                    "setting": setting,
                    "method": ch.METHOD_NAMES[r["method"]],
                    "what": "target classes (mean)",
                    "change": r["target vs standard"],
                }
            )
            rows.append(
                {
                    "setting": setting,
                    "method": ch.METHOD_NAMES[r["method"]],
                    "what": "worst non-target",
                    "change": r["worst non-target vs standard"],
                }
            )
    df = pd.DataFrame(rows)
    g = sns.catplot(
        df,
        x="setting",
        y="change",
        hue="method",
        col="what",
        kind="bar",
        errorbar="sd",
        height=3.8,
        aspect=1.3,
        err_kws={"linewidth": 1},
    )
    for ax, what in zip(g.axes.flat, ("target classes (mean)", "worst non-target"), strict=True):
        ax.axhline(0, color="k", lw=0.7)
        ax.set(ylabel="test change vs standard (points)", title=f"{name}: {what}")
    plt.show()


def shown(name, setting):
    """The headline table of one data set and setting, with its verdicts."""
    st = studies[name]
    table = ch.headline(st, setting)
    if table.empty:
        pages.echo(f"{name}, {setting}: not run (no epoch qualified)")
        return
    steps = [r.steps[setting] for r in st.seeds if r.steps.get(setting) is not None]
    pages.echo(ch.step_line(st, setting))
    pages.echo(f"test split, accuracy points, mean ± sd over {len(steps)} seeds")
    pages.echo(table.to_string(line_width=pages.TEXT_WIDTH))
    paper = {
        "DI": ("Table 1", ch.PAPER_TABLE1["DI"], "epoch 10"),
        "CC": ("Table 1", ch.PAPER_TABLE1["CC"], "standard epoch 16"),
        "polish": ("Table 3", ch.PAPER_TABLE3["DI"], "epoch 18"),
    }[setting]
    ours = ch.per_seed_summary(st, setting)
    ours = ours[ours.method == "pareto_lp_ga"]["target relative % (paper's)"].mean()
    pages.echo(
        f"paper ({paper[0]}, CIFAR-10): "
        + ", ".join(f"class {k} {v:+.2f} %" for k, v in paper[1].items())
        + f" vs {paper[2]}"
    )
    pages.echo(f"ours (PARETO-LP-GA, same comparison): {ours:+.1f} % (relative change of the targets' mean accuracy)")
    for against in ("standard", "upweight"):
        v = ch.verdict(st, setting, against)
        pages.echo(
            f"PARETO-LP-GA vs {ch.METHOD_NAMES[against]}: {v['gain']:+.1f} points "
            f"(s.e. {v['se']:.1f}, one-epoch noise sd {v['noise']:.1f}) -> {v['call']}"
        )


# %% [markdown]
# ## The training runs
#
# Per-class validation accuracy after every epoch of the first seed, with the epochs the three
# settings start from. The confusable classes trade places from epoch to epoch: the room that
# DI and CC work in, and the noise they must beat.

# %%
plot_curves()

# %% [markdown]
# ## Direct Improvement
#
# Table 1's layout for each data set: per class the test accuracy at epoch $e$, after the standard
# epoch $e+1$ and after the PARETO-LP-GA epoch $e+1$ (mean ± sd over seeds, in %), the paper's change
# (relative, against epoch $e$) and the change against the standard epoch in accuracy points.
# `target` counts the seeds in which the class was a target (the targets are each seed's weakest
# classes at epoch $e$).

# %%
for name in names:
    pages.echo(f"--- {name}")
    display(ch.paper_layout(studies[name], "DI"))

# %% [markdown]
# The headline per method, on the test split in accuracy points (mean ± sd over seeds): the mean
# change of the target classes against the standard epoch (`targets vs std`), against class
# up-weighting (`vs up-wt`) and against epoch $e$ (`vs epoch e`, the paper's comparison), the worst
# non-target change against the standard epoch (`worst other`), and the paper's relative change of
# the targets' mean accuracy in % (`rel. % (paper)`). The verdict lines give the noise of one epoch
# (the sd of the target classes' test accuracy over `n_shuffles` standard epochs with other batch
# orders) and call PARETO-LP-GA better or worse only when the seed mean exceeds twice its standard
# error *and* the one-epoch noise divided by $\sqrt{\text{seeds}}$.

# %%
for name in names:
    shown(name, "DI")
    pages.echo()

# %% [markdown]
# The image CNN's numbers move with the last bit of its SGD training: on another processor's
# instruction set (AVX2 against the portable kernels) the same seeds give tables that differ by a
# few tenths of a point to a few points, enough to move a verdict that sits near its threshold (the
# three seeds are too few to outvote that noise). What survives, and what the regression test
# checks, is each seed's epoch and target classes, and every number of the MLP head on fixed
# embeddings, whose training is the same on every processor:

# %% tags=["nbval-check-output"]
for name in names:
    shown(name, "DI") if name in text_names else pages.echo(ch.step_line(studies[name], "DI"))

# %%
plot_classes(names[0])

# %% [markdown]
# **Paper:** DI lifts the targets by +16.02 % and +11.39 % relative to epoch 10 with "minimal"
# losses elsewhere (at most −2.90 %).
#
# **Measured:** in the paper's comparison (against epoch $e$, the `target vs epoch e` column) the
# targets rise — and so they do after the *standard* epoch, by a similar amount: at this point of
# training an ordinary epoch lifts the weak classes by itself. Against the standard epoch, the
# comparison that isolates the method, PARETO-LP-GA's target change is within the noise of one epoch
# (the verdict lines), class up-weighting with the same weight budget does at least as well, and the
# worst non-target class loses several points. On Fashion-MNIST the one-epoch noise at mid-training
# is large: a different batch order moves the confusable classes by more than any re-weighting does.
# The GA section below shows that no candidate of the GA raised both targets on the validation split
# in any seed there; the returned weights are the tie-break among failures.
#
# **Verdict:** the paper's DI gain appears only in the paper's own comparison, which credits an
# ordinary epoch of training to the method; against the standard epoch and against class
# up-weighting it is not reproduced.

# %% [markdown]
# ## Course Correction
#
# The detrimental epoch is found automatically on the validation split; its targets are the classes
# that dropped. The paper's change compares the re-weighted epoch with the standard one (column
# `change %`); `epoch e` is the accuracy before the detrimental epoch.

# %%
for name in names:
    pages.echo(f"--- {name}")
    display(ch.paper_layout(studies[name], "CC"))

# %%
for name in names:
    shown(name, "CC")
    pages.echo()

# %% tags=["nbval-check-output"]
for name in names:
    shown(name, "CC") if name in text_names else pages.echo(ch.step_line(studies[name], "CC"))

# %% [markdown]
# **Paper:** CC turns the drops of classes 5, 7 and 9 into gains of +1.65 %, +1.31 % and +2.77 %
# against the standard epoch 16, with losses of at most 1.29 % elsewhere.
#
# **Measured:** here the fitness is measured against the standard epoch itself, so the GA keeps a
# candidate that beats it on the validation split — and on the test split the target classes do end
# above the standard epoch on Fashion-MNIST, by more than the noise, and above class up-weighting.
# Two things qualify it. The price: the worst non-target class loses far more than the paper's
# 1.29 %, so the "correction" is a different trade between the confusable classes, not a Pareto
# improvement. And selection alone does much the same: the best of the `n_shuffles` ordinary epochs,
# picked on the validation split by the same fitness (a quarter of the GA's budget, no influence at
# all), reaches a similar target gain at a similar or larger price on Fashion-MNIST. On the text set
# a detrimental epoch exists in fewer seeds, the effects are a few points, and there the GA does
# better than the shuffled epochs.
#
# **Verdict:** CC's target gain against the standard epoch is reproduced in direction (larger than
# the paper's, on a far noisier epoch), but not its "minimal reductions" elsewhere; on Fashion-MNIST
# most of it is what choosing among several one-epoch candidates on the validation split gives.

# %% [markdown]
# ## Final-epoch polish ([PC] App. B.2)

# %%
for name in names:
    pages.echo(f"--- {name}")
    display(ch.paper_layout(studies[name], "polish"))

# %%
for name in names:
    shown(name, "polish")
    pages.echo()

# %% tags=["nbval-check-output"]
for name in names:
    shown(name, "polish") if name in text_names else pages.echo(ch.step_line(studies[name], "polish"))

# %% [markdown]
# **Paper (Table 3):** re-weighting the final epoch lifts the weak classes by up to +4.88 %.
#
# **Measured:** at the end of the annealed schedule one epoch moves the model little, so the
# one-epoch noise is smallest here and the comparison is sharpest: the shuffled epochs and the
# permuted weights do nothing, while PARETO-LP-GA's weights lift the target classes beyond the
# noise, more than class up-weighting. This is the one setting where the influence-guided weights
# clearly steer the model. On Fashion-MNIST the LP with $\varepsilon = 0$ (no non-target class may
# lose, to first order) does not: the GA's gain comes from the thresholds that let non-target classes
# lose, and they do — the classes that compete with the targets (T-shirt and pullover against shirt
# and coat) lose about as much as the targets gain. On the text set the gains and losses are a few
# points.
#
# **Verdict:** the final-epoch gain of the targets is reproduced, as a trade between classes rather
# than the paper's near-free improvement.

# %% [markdown]
# ## All settings at a glance

# %%
for name in names:
    plot_headline(name)

# %% [markdown]
# ## The ceiling test on the deep $P$
#
# At every chosen epoch: the first-order ceiling LP of chapter 2 ({ref}`conventions §2 <conventions-repairs>`;
# $\max t$ s.t. $\bar P^T \delta \ge t \mathbf{1}$, $-1 \le \delta_i \le 1$; $t^* > 0$: some re-weighting
# improves every class to first order), its scale-free $t^*$ relative, the uncentred SVD's
# $s_{min}/s_{max}$ (0 = the influence vectors lie on a hyperplane through the origin) with the share
# of seeds whose normal is positive, and the paper's check (explained-variance ratio of the first
# principal component, "> 0.2 in all cases", which with $K$ classes is at least $1/K$ anyway).
# Columns: the epochs of the seeds, `t_star` and `t_rel` ($t^*$ relative), `below` (share of seeds
# with $t^* > 0$), `flatness` ($s_{min}/s_{max}$), `normal_pos` (share with a positive normal),
# `pca_min` and `pca_mean` (the paper's ratio); means over seeds.

# %%
ceilings = pd.concat({name: ch.ceiling_table(studies[name]) for name in names}, names=["data", "setting"])
pages.echo(ceilings.round(3).to_string(line_width=pages.TEXT_WIDTH))

# %% tags=["nbval-check-output"]
pages.echo(ch.exact_rows(ceilings, text_names).round(3).to_string(line_width=pages.TEXT_WIDTH))

# %% [markdown]
# **Measured:** every deep $P$ is below the first-order ceiling ($t^* > 0$) and the paper's PCA ratio
# exceeds 0.2 everywhere, as it reports; the ratio adds nothing to the LP (it is at least $1/K$ for any
# $P$), and neither test tells how much of the first-order room one epoch of SGD realises: on
# Fashion-MNIST the mid-training $P$ has room by the LP, yet DI could not raise its two targets
# together.

# %% [markdown]
# ## What the GA's weights look like
#
# Share of the training samples at weight 0, 1 and $w_{max}$, the total change
# $\sum_i |w_i - 1| / n$ (the trust region's bound is $\rho$), and the share of up-weighted samples
# that belong to a target class.

# %%
weights = pd.concat(
    {
        name: ch.weight_stats(studies[name]).groupby("setting", sort=False).mean(numeric_only=True).drop(columns="seed")
        for name in names
    },
    names=["data", "setting"],
)
pages.echo(weights.round(3).to_string(line_width=pages.TEXT_WIDTH))

# %% tags=["nbval-check-output"]
pages.echo(ch.exact_rows(weights, text_names).round(3).to_string(line_width=pages.TEXT_WIDTH))

# %% [markdown]
# The LP optimum is a vertex ({ref}`conventions §2 <conventions-repairs>`): almost every weight sits
# at 0, 1 or $w_{max}$, and the trust region binds. The up-weighted samples are nearly all of the
# target classes: on these models PARETO-LP-GA is, in effect, an up-weighting of a selected subset of
# the target classes — which is why plain class up-weighting, given the same weight budget, lands
# close to it.
#
# How the GA fared: per setting, the GA evaluations per seed (`evals_per_seed`), the share of
# candidates that failed a target class on the validation split and so got the penalty
# (`penalised`), and in how many seeds the returned candidate raised every target on the validation
# split (`seeds_all_targets_up`).

# %%
ga_table = pd.concat({name: ch.ga_summary(studies[name]) for name in names}, names=["data", "setting"])
pages.echo(ga_table.round(3).to_string(line_width=pages.TEXT_WIDTH))

# %% tags=["nbval-check-output"]
pages.echo(ch.exact_rows(ga_table, text_names).round(3).to_string(line_width=pages.TEXT_WIDTH))

# %%
hist = pd.concat({name: ch.ga_history(studies[name]) for name in names}, names=["data"]).reset_index(level=0)
hist["run"] = hist["setting"] + ", seed " + hist["seed"].astype(str)
g = sns.relplot(
    hist,
    x="generation",
    y="target gain",
    hue="setting",
    style="every target up",
    units="run",
    estimator=None,
    col="data",
    kind="line",
    marker="o",
    height=3.5,
    aspect=1.3,
    style_order=[True, False],
)
g.set_axis_labels("generation", "best candidate's mean target gain (val)")
g.set(xticks=range(ga_generations + 1))
plt.show()

# %% [markdown]
# The best candidate's fitness never decreases (elitism; the plot shows its tie-break value, the mean
# target gain on the validation split, dashed where the best candidate still failed a target). With
# the reduced GA of the quick profile it hardly moves after the first generation: most of the work is
# done by the initial random population, so here the GA is close to a random search over the
# thresholds. Its gain on the validation split is partly selection — among a few dozen one-epoch
# candidates the best on a few hundred validation images per class is optimistic — which is why the
# test split is the one that counts.

# %% [markdown]
# ## What is not reproduced here
#
# * **The paper's models and data** (CIFAR-10 and STL-10 with ResNet-9, Table 2's values: 25 epochs,
#   DI at epoch 10, population 24, 20 GA iterations, the GA epoch at learning rate $10^{-4}$) run in
#   the `full` profile (`make run NB=04_deep_pareto_lp_ga PROFILE=full`, a GPU and the data in
#   `data/cache/full/`); its code path is exercised at tiny sizes on the CPU by
#   `tests/test_ch04_full_profile_smoke.py`, but it has not been run for this page.
# * **The ImageNet subset of App. B.3** (11 superclasses of Tsipras et al. 2020) has no offline
#   source and no loader here: Table 4 is not reproduced.
# * **Time**: the cost of one GA evaluation and of the whole GA, serial and with two workers, is
#   measured on the [Benchmarks](benchmarks.md) page.

# %% [markdown]
# ## Paper vs. measured


# %% tags=["remove-input"]
pages.claims_table(ch.claims(studies, cc_threshold=cc_threshold, cc_first_epoch=cc_first_epoch))
