"""Chapter 3's [PC] §5.1 studies, one call per modality, with the notebook's parameter names.

:func:`image_study` (quick: MNIST-5k / Fashion-MNIST with a small CNN; full: CIFAR-10 /
STL-10 with ResNet-9) and :func:`text_study` (quick: MLP head on frozen MiniLM embeddings of
fortunes4 / austen6; full: bert-base-cased fine-tuned on the token ids of Emotion / AG_News,
[PC] App. A.2) load and split the data and run :func:`deep_study` (the §5.1 protocol of :mod:`lib.category_removal` on a deep net).
Keyword names equal the notebook's parameters, so the full-profile smoke test calls exactly what
the notebook calls. :func:`problems` lists what a run needs and lacks (full-profile data, BERT
files) before any training starts; the runner calls it through :func:`preflight`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import datasets, deep
from .. import category_removal
from ..category_removal import RemovalResult, run
from ..datasets import Dataset, MissingDataError
from ..preprocessing import split_indices

TEXT_MODELS = ("mlp_head", "bert")
PRECISIONS = ("float32", "float64")


def _load(name: str, root=None, **kwargs) -> Dataset:
    """``lib.datasets.load`` with ``root`` (a cache folder) passed to full-profile loaders only."""
    if root is not None and name in datasets.names("full"):
        kwargs["root"] = root
    return datasets.load(name, **kwargs)


def problems(*, image_dataset: str | None = None, text_datasets: list[str] | tuple[str, ...] = (),
             text_model: str = "mlp_head", bert_model: str = "bert-base-cased", root=None) -> list[str]:
    """Everything the chapter's run lacks, each with how to provide it (empty = ready): unknown
    dataset names, full-profile files missing from the cache, BERT files missing from the HF cache."""
    out = []
    if text_model not in TEXT_MODELS:
        out.append(f"text_model must be one of {', '.join(TEXT_MODELS)}, got {text_model!r}")
    names = ([image_dataset] if image_dataset else []) + list(text_datasets)
    for name in names:
        if name not in datasets.names():
            out.append(f"unknown dataset {name!r}; known datasets: {', '.join(datasets.names())}")
        elif name in datasets.names("full"):
            from ..datasets import full

            try:
                full.cached_files(name, root)
            except (MissingDataError, ValueError) as err:  # missing file / checksum mismatch
                out.append(str(err))
    if text_model == "bert" and text_datasets:
        from .. import bert

        missing = bert.missing_files(bert_model)
        if missing:
            out.append(bert.missing_message(bert_model, missing))
    return out


def require(**kwargs) -> None:
    """Raise :class:`lib.datasets.MissingDataError` listing every item of :func:`problems`."""
    found = problems(**kwargs)
    if found:
        raise MissingDataError("the run cannot start:\n- " + "\n- ".join(found))


def preflight(params: dict) -> list[str]:
    """:func:`problems` for a chapter's parameter dict (the runner's early check)."""
    return problems(image_dataset=params.get("image_dataset"), text_datasets=params.get("text_datasets", ()),
                    text_model=params.get("text_model", "mlp_head"),
                    bert_model=params.get("bert_model", "bert-base-cased"))


def image_study(*, image_dataset: str, image_pool: int, image_model: str, width: int, n_train: int, n_val: int,
                epochs: int, lr: float, batch_size: int, weight_decay: float, momentum: float, lr_schedule: str,
                damping: float | None, fraction: float, seeds: list[int], device: str, ekfac_batch_size: int,
                rng: np.random.Generator, progress: bool = False, root=None, precision: str = "float32"
                ) -> tuple[Dataset, Study]:
    """[PC] §5.1 on an image set: ``n_train`` training and ``n_val`` validation images drawn
    with ``rng`` from ``image_dataset`` (average-pooled by ``image_pool``), model ``image_model``
    (``small_cnn`` / ``resnet9``) of ``width``, SGD with ``momentum`` and ``lr_schedule``."""
    ds = _load(image_dataset, root)
    shape = tuple(ds.meta.get("image_shape", (1, 28, 28)))
    if image_pool > 1:
        from ..datasets.images import pool_images

        X = pool_images(ds.X, shape, image_pool)
        shape = (shape[0], shape[1] // image_pool, shape[2] // image_pool)
    else:
        X = ds.X.astype(np.float32)
    X = X.reshape(len(X), *shape)
    tr, va = split_indices(len(ds), [n_train, n_val], rng)
    study = deep_study(
        X[tr], ds.y[tr], X[va], ds.y[va], ds.n_classes, kind=image_model,
        model_kwargs=deep.image_model_kwargs(image_model, ds.n_classes, shape, width),
        train_kwargs=dict(epochs=epochs, lr=lr, batch_size=batch_size, weight_decay=weight_decay,
                          momentum=momentum, lr_schedule=lr_schedule, n_classes=ds.n_classes),
        damping=damping, fraction=fraction, seeds=seeds, device=device, ekfac_batch_size=ekfac_batch_size,
        progress=progress, precision=precision)
    return ds, study


def text_study(name: str, *, text_model: str, text_per_class: int | None, text_hidden: int, bert_model: str,
               text_max_length: int, text_epochs: int, text_lr: float, text_batch_size: int,
               text_weight_decay: float, text_optimizer: str, text_lr_schedule: str, damping: float | None,
               fraction: float, seeds: list[int], device: str, ekfac_batch_size: int, rng: np.random.Generator,
               progress: bool = False, root=None, precision: str = "float32"
               ) -> tuple[Dataset, Study]:
    """[PC] §5.1 on the text set ``name`` (at most ``text_per_class`` texts per class; ``None`` =
    the loader's default), split in halves (training / validation) with ``rng``.

    ``text_model="mlp_head"``: a one-hidden-layer MLP on the frozen MiniLM embeddings.
    ``"bert"``: ``bert_model`` (bert-base-cased, or a local ``save_pretrained`` folder) fine-tuned
    on token ids (``text_max_length`` tokens at most) — [PC] App. A.2; its files are checked
    before the data are loaded."""
    if text_model not in TEXT_MODELS:
        raise ValueError(f"text_model must be one of {', '.join(TEXT_MODELS)}, got {text_model!r}")
    kwargs = {} if text_per_class is None else {"per_class": text_per_class}
    if text_model == "bert":
        from .. import bert

        tokenizer = bert.load_tokenizer(bert_model)  # MissingModelError before any work
        ds = _load(name, root, embed=False, **kwargs)
        X = bert.tokenize(ds.meta["texts"], tokenizer, text_max_length)
        model_kwargs = {"n_classes": ds.n_classes, "name": bert_model}
    else:
        ds = _load(name, root, **kwargs)
        X = ds.X.astype(np.float32)
        model_kwargs = {"n_classes": ds.n_classes, "d_in": X.shape[1], "hidden": text_hidden}
    half = len(ds) // 2
    tr, va = split_indices(len(ds), [half, len(ds) - half], rng)
    study = deep_study(
        X[tr], ds.y[tr], X[va], ds.y[va], ds.n_classes, kind=text_model, model_kwargs=model_kwargs,
        train_kwargs=dict(epochs=text_epochs, lr=text_lr, batch_size=text_batch_size,
                          weight_decay=text_weight_decay, optimizer=text_optimizer, lr_schedule=text_lr_schedule,
                          n_classes=ds.n_classes),
        damping=damping, fraction=fraction, seeds=seeds, device=device, ekfac_batch_size=ekfac_batch_size,
        progress=progress, precision=precision)
    return ds, study


@dataclass
class Study:
    """Output of :func:`deep_study`: influence ``P`` (n_train, K) from the seed-0 model, the
    retraining result, and the seed-0 model itself (on the CPU) with its training and validation
    data, for further checks (e.g. exact influence on a small net)."""

    P: np.ndarray
    result: RemovalResult
    model: object = None
    data: tuple = ()


def deep_study(X_train, y_train, X_val, y_val, n_classes: int, *, kind: str, model_kwargs: dict,
               train_kwargs: dict, damping: float | None, fraction: float = 0.1,
               seeds: tuple[int, ...] | list[int] = (0, 1), fisher_samples: int = 1,
               device: str = "cpu", ekfac_batch_size: int = 512, progress: bool = False,
               precision: str = "float32") -> Study:
    """[PC] §5.1 on a deep classifier: train on the full training set (seed ``seeds[0]``), compute
    EKFAC category-wise influence on the validation classes, then run :func:`run`.

    Model ``kind`` and kwargs as in :func:`lib.deep.build`; ``train_kwargs`` go to
    :func:`lib.deep.train`. Seed ``s`` fixes the initial weights and the batch order, the same
    for the full and every reduced training set. ``device`` (``"auto"``, ``"cpu"``, ``"cuda"``,
    :func:`lib.deep.resolve_device`) runs training and EKFAC there; the data stay NumPy arrays
    and every result is on the CPU. On the CPU the study is deterministic. ``ekfac_batch_size``
    is kronfluence's batch for fitting the curvature and for the per-sample training gradients
    (memory grows with it: keep it small for bert-base). ``precision="float64"`` trains and scores
    the models in double precision (the quick CPU profile: last-bit differences between processors
    stay far below the printed digits); ``"float32"`` for the GPU runs.
    """
    from .. import ekfac

    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    dev = deep.resolve_device(device)  # an unknown device is an error before any work
    y_train, y_val = np.asarray(y_train), np.asarray(y_val)
    if precision == "float64" and np.issubdtype(np.asarray(X_train).dtype, np.floating):
        X_train, X_val = np.asarray(X_train, dtype=np.float64), np.asarray(X_val, dtype=np.float64)

    def fit(keep: np.ndarray, seed: int):
        model = deep.build(kind, np.random.default_rng([seed, 1]), device=dev, **model_kwargs)
        if precision == "float64":
            model = model.double()
        deep.train(model, X_train[keep], y_train[keep], rng=np.random.default_rng([seed, 2]), device=dev,
                   **train_kwargs)
        return model

    def evaluate(model):
        return deep.class_metrics(model, X_val, y_val, n_classes)

    base = fit(np.arange(len(y_train)), seeds[0])
    P = ekfac.category_influence(base, X_train, y_train, X_val, y_val, n_classes,
                                 rng=np.random.default_rng([seeds[0], 3]), damping=damping,
                                 fisher_samples=fisher_samples, batch_size=ekfac_batch_size, device=dev)
    result = run(P, y_train, fit, evaluate, fraction=fraction, seeds=seeds, progress=progress)
    return Study(P=P, result=result, model=base.cpu(), data=(X_train, y_train, X_val, y_val))


# ------------------------------------------------------------------------------ the page's tables
def schedule_table(schedules: dict[str, Study]) -> "pandas.DataFrame":  # noqa: F821
    """Per learning-rate schedule and removal kind: base accuracy, Spearman (accuracy and loss),
    the seeds' reliability and noise ceiling, the retraining noise and the mean effect size."""
    import pandas as pd

    rows = []
    for name, study in schedules.items():
        r = study.result
        for kind in ("beneficial", "detrimental"):
            rows.append({"lr_schedule": name, "removed": kind, "base accuracy": r.base_accuracy.mean(),
                         "Spearman (accuracy)": r.spearman(kind), "Spearman (loss)": r.spearman(kind, "loss"),
                         "seed reliability": r.seed_reliability(kind), "noise ceiling": r.noise_ceiling(kind),
                         "retraining noise sd": r.retraining_noise(kind), "mean |change|": r.effect_size(kind)})
    return pd.DataFrame(rows).set_index(["lr_schedule", "removed"]).T


def exact_check(study: Study, damping: float, fraction: float, max_params: int = 5000) -> "pandas.DataFrame | None":  # noqa: F821
    """EKFAC against the exact damped Gauss-Newton influence on the study's seed-0 model (only for
    at most ``max_params`` parameters; else ``None``): Spearman of each against the measured changes
    of the same removal sets, their agreement over the cells, the mean per-class Pearson correlation
    of the two ``P`` and EKFAC's magnitude relative to the exact one."""
    import pandas as pd
    from scipy.stats import spearmanr

    from .. import ekfac

    n_params = sum(p.numel() for p in study.model.parameters())
    if n_params > max_params:
        return None
    X_train, y_train, X_val, y_val = study.data
    K = study.P.shape[1]
    P_exact = ekfac.exact_category_influence(study.model, X_train, y_train, X_val, y_val, K, damping=damping)
    sets = category_removal.removal_sets(study.P, fraction)
    rows = []
    for kind in ("beneficial", "detrimental"):
        predicted = np.stack([P_exact[idx].sum(0) for idx in sets[kind]])
        rows.append({"removed": kind, "Spearman EKFAC vs actual": study.result.spearman(kind),
                     "Spearman exact vs actual": spearmanr(-predicted.ravel(),
                                                           study.result.acc_change[kind].ravel()).statistic,
                     "Spearman EKFAC vs exact (cells)": spearmanr(predicted.ravel(),
                                                                  study.result.influence[kind].ravel()).statistic})
    table = pd.DataFrame(rows).set_index("removed")
    table["mean Pearson EKFAC vs exact P[:, k]"] = np.mean(
        [np.corrcoef(study.P[:, k], P_exact[:, k])[0, 1] for k in range(K)])
    table["EKFAC / exact magnitude"] = np.abs(study.P).mean() / np.abs(P_exact).mean()
    return table.T


# ------------------------------------------------------------------------------ the page's claims
def _spearman_verdict(rho: float, low: float, high: float) -> str:
    if rho >= 0.8:
        return "reproduced"
    if high >= 0.8 or rho >= 0.5:
        return "partly"
    return "not reproduced"


def _share_verdict(share: float, all_needed: bool) -> str:
    if all_needed:
        return "reproduced" if share >= 1.0 else ("partly" if share >= 0.5 else "not reproduced")
    return "reproduced" if share > 0.5 else "not reproduced"


def claims(summaries: dict[str, dict[str, float]], n_seeds: int) -> list[dict]:
    """The claims table of [PC] §5.1 (Figs. 3, 4, 7-9) for each study's :meth:`RemovalResult.summary`,
    with a verdict computed from the measured numbers: a Spearman correlation of at least 0.8 is
    reproduced, one whose 90% bootstrap interval reaches 0.8 or that is at least 0.5 partly; "all
    classes" needs every class, "mostly" more than half."""
    rows = []
    for name, s in summaries.items():
        for kind in ("beneficial", "detrimental"):
            rho = s[f"spearman {kind} (accuracy)"]
            low, high = s[f"spearman {kind} (accuracy) 90% low"], s[f"spearman {kind} (accuracy) 90% high"]
            rows.append({"claim": f"{name}: Spearman(cumulative influence, accuracy change), {kind} removed",
                         "paper": "> 0.8", "measured": f"{rho:.2f} [90%: {low:.2f}, {high:.2f}]",
                         "verdict": _spearman_verdict(rho, low, high),
                         "why": f"all K x K cells, mean of {n_seeds} seeds; the seeds' noise ceiling is "
                                f"{s[f'noise ceiling {kind} (accuracy)']:.2f}; on the loss "
                                f"{s[f'spearman {kind} (loss)']:.2f}"})
        for kind, verb in (("beneficial", "lowers"), ("detrimental", "raises")):
            key = "target accuracy drops (beneficial removed)" if kind == "beneficial" else \
                "target accuracy rises (detrimental removed)"
            rows.append({"claim": f"{name}: removing {kind} samples {verb} the target class", "paper": "all classes",
                         "measured": f"{s[key]:.0%} of the classes", "verdict": _share_verdict(s[key], True),
                         "why": f"mean target change {s[f'mean target change, {kind} removed']:+.3f}"})
        own_b, own_d = s["share own label, beneficial"], 1 - s["share own label, detrimental"]
        rows.append({"claim": f"{name}: beneficial samples carry the target's label", "paper": "mostly (Fig. 9)",
                     "measured": f"{own_b:.0%} of the removed samples", "verdict": _share_verdict(own_b, False),
                     "why": "a 10% removal set can be larger than one class's training samples"})
        rows.append({"claim": f"{name}: detrimental samples come from other classes", "paper": "mostly (Fig. 9)",
                     "measured": f"{own_d:.0%} of the removed samples", "verdict": _share_verdict(own_d, False),
                     "why": "share of removed samples whose label is not the target"})
    return rows
