"""Chapter 4's driver: PARETO-LP-GA on deep classifiers ([PC] §5.2 Table 1, App. B.2 Table 3).

:func:`image_data` / :func:`text_data` load and split a set (quick: Fashion-MNIST with the small CNN,
austen6 with the MLP head on MiniLM embeddings; full: CIFAR-10 / STL-10 with ResNet-9);
:func:`study` runs, for every training seed, one checkpointed run and the three settings —
Direct Improvement (DI), Course Correction (CC), final-epoch polish — through
:func:`lib.reweighting.reweight_step`, with the ceiling tests on every ``P``. The summaries turn the
seeds' results into the page's tables. Keyword names equal the notebook's parameters, so the
full-profile smoke test calls what the notebook calls.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .. import datasets, deep
from .. import reweighting as rw
from ..datasets import Dataset, MissingDataError
from ..preprocessing import split_indices, standardise
from ..reproducibility import progress as progress_bar

SETTINGS = ("DI", "CC", "polish")
#: [PC] Table 1 (CIFAR-10, ResNet-9): target classes and their "Change (%)" (relative change in %)
PAPER_TABLE1 = {"DI": {0: 16.02, 2: 11.39}, "CC": {5: 1.65, 7: 1.31, 9: 2.77}}
#: [PC] App. B.2 Table 3 (CIFAR-10, final epoch): targets and changes
PAPER_TABLE3 = {"DI": {2: 0.14, 3: 1.24, 4: 3.71, 5: 4.88}, "CC": {3: 0.42, 7: 0.48}}
METHOD_NAMES = {
    "standard": "standard epoch",
    "pareto_lp_ga": "PARETO-LP-GA",
    "upweight": "class up-weighting",
    "lp_eps0": "LP, eps = 0 (no GA)",
    "permuted": "permuted GA weights",
    "best_shuffle": "best of the shuffled epochs",
}
#: short row names of :func:`headline` (the page's text column is ~100 characters)
SHORT_NAMES = {
    "standard": "standard",
    "pareto_lp_ga": "PARETO-LP-GA",
    "upweight": "up-weighting",
    "lp_eps0": "LP eps=0",
    "permuted": "permuted",
    "best_shuffle": "best shuffle",
}


@dataclass
class Split:
    """Training, validation and test arrays of one data set (float64 or float32 features)."""

    name: str
    classes: tuple[str, ...]
    X: np.ndarray
    y: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    image_shape: tuple[int, ...] | None = None

    @property
    def n_classes(self) -> int:
        return len(self.classes)

    def arrays(self) -> tuple:
        return self.X, self.y, self.X_val, self.y_val, self.X_test, self.y_test


def _load(name: str, root=None, **kwargs) -> Dataset:
    if root is not None and name in datasets.names("full"):
        kwargs["root"] = root
    return datasets.load(name, **kwargs)


def problems(*, image_datasets=(), text_dataset: str | None = None, root=None) -> list[str]:
    """What the run lacks (unknown names, full-profile files missing from the cache), each with its fix."""
    out = []
    for name in [*image_datasets, *([text_dataset] if text_dataset else [])]:
        if name not in datasets.names():
            out.append(f"unknown dataset {name!r}; known datasets: {', '.join(datasets.names())}")
        elif name in datasets.names("full"):
            from ..datasets import full

            try:
                full.cached_files(name, root)
            except (MissingDataError, ValueError) as err:
                out.append(str(err))
    return out


def preflight(params: dict) -> list[str]:
    """:func:`problems` for the chapter's parameter dict (the runner's early check)."""
    return problems(image_datasets=params.get("image_datasets", ()), text_dataset=params.get("text_dataset"))


def image_data(
    name: str,
    *,
    image_pool: int,
    n_train: int | None,
    n_val: int,
    n_test: int | None,
    dtype: str,
    rng: np.random.Generator,
    root=None,
) -> Split:
    """``n_train`` training and ``n_val`` validation images drawn with ``rng`` from the training split
    of ``name`` (``n_train=None``: all that the validation part leaves), ``n_test`` from its test split
    (``None``: all), average-pooled by ``image_pool``, as (n, C, H, W) arrays of ``dtype``."""
    train, test = _load(name, root, split="train"), _load(name, root, split="test")
    shape = tuple(train.meta.get("image_shape", (1, 28, 28)))

    def prep(X):
        if image_pool > 1:
            from ..datasets.images import pool_images

            X = pool_images(X, shape, image_pool)
        C, H, W = shape
        return X.reshape(len(X), C, H // image_pool, W // image_pool).astype(dtype)

    n_train = len(train) - n_val if n_train is None else n_train
    tr, va = split_indices(len(train), [n_train, n_val], rng)
    te = split_indices(len(test), [len(test) if n_test is None else n_test], rng)[0]
    C, H, W = shape
    return Split(
        name,
        train.classes,
        prep(train.X[tr]),
        train.y[tr],
        prep(train.X[va]),
        train.y[va],
        prep(test.X[te]),
        test.y[te],
        (C, H // image_pool, W // image_pool),
    )


def text_data(name: str, *, text_per_class: int | None, dtype: str, rng: np.random.Generator, root=None) -> Split:
    """The text set ``name`` (MiniLM embeddings; at most ``text_per_class`` per class, ``None`` = the
    loader's default) split at random into halves for training and quarters for validation and test,
    each embedding dimension standardised with the training mean and sd (the unit-norm embeddings'
    entries are ~0.04: without it the MLP head collapses onto one class per epoch)."""
    ds = _load(name, root, **({} if text_per_class is None else {"per_class": text_per_class}))
    n = len(ds)
    n_train, n_val = n // 2, n // 4
    tr, va, te = split_indices(n, [n_train, n_val, n - n_train - n_val], rng)
    X, X_val, X_test = (a.astype(dtype) for a in standardise(ds.X[tr], ds.X[va], ds.X[te]))
    return Split(name, ds.classes, X, ds.y[tr], X_val, ds.y[va], X_test, ds.y[te])


@dataclass
class SeedResult:
    """One training seed: the run's per-class accuracy per epoch (val, test), and per setting the
    step result, the epoch, the targets and the ceiling tests of ``P`` (``None`` where a setting did
    not apply, e.g. no detrimental epoch)."""

    seed: int
    val_accuracy: np.ndarray
    test_accuracy: np.ndarray
    steps: dict[str, rw.StepResult | None] = field(default_factory=dict)
    ceilings: dict[str, dict | None] = field(default_factory=dict)


@dataclass
class Study:
    """All seeds of one data set."""

    data: Split
    spec: rw.TrainingSpec
    seeds: list[SeedResult]
    settings: rw.EpochSettings


def study(
    data: Split,
    spec: rw.TrainingSpec,
    *,
    seeds: list[int],
    di_epoch: int,
    di_targets: list[int] | None,
    n_targets: int,
    cc_threshold: float,
    cc_first_epoch: int,
    cc_max_targets: int,
    polish: bool,
    settings: rw.EpochSettings,
    ga_kwargs: dict,
    lp_kwargs: dict,
    n_shuffles: int,
    damping: float | None,
    ekfac_batch_size: int,
    n_jobs: int,
    backend: str | None = None,
    threads: int | None = 1,
    progress: bool = False,
) -> Study:
    """Every seed: :func:`lib.reweighting.train_run`, then

    * DI at ``di_epoch``: targets ``di_targets`` or the ``n_targets`` lowest validation accuracies;
      fitness against the previous epoch (Algorithm 1 as printed);
    * CC at the first detrimental epoch from ``cc_first_epoch`` on (:func:`lib.reweighting.detrimental_epoch`,
      validation drop > ``cc_threshold``; at most ``cc_max_targets`` targets); fitness against the run's
      own next epoch ([PC] §3.4);
    * polish (``polish``): DI at the second-to-last checkpoint, so that the reweighted epoch replaces the
      run's final one ([PC] App. B.2);

    each with ``P`` by EKFAC at that checkpoint and the ceiling tests on it."""
    out = []
    K = data.n_classes
    arrays = data.arrays()
    sizes = np.bincount(data.y_val, minlength=K)
    for seed in progress_bar(seeds, progress, desc=f"{data.name} seeds"):
        run = rw.train_run(spec, *arrays, K, seed, threads=threads)
        chosen: dict[str, tuple[int, list[int], str] | None] = {}
        chosen["DI"] = (
            di_epoch,
            list(di_targets) if di_targets else rw.lowest_classes(run.val_accuracy[di_epoch], n_targets),
            "previous",
        )
        cc = rw.detrimental_epoch(run.val_accuracy, cc_threshold, first=cc_first_epoch, max_targets=cc_max_targets)
        chosen["CC"] = None if cc is None else (cc[0], cc[1], "run")
        last = spec.epochs - 1
        chosen["polish"] = (last, rw.lowest_classes(run.val_accuracy[last], n_targets), "previous") if polish else None
        res = SeedResult(seed, run.val_accuracy, run.test_accuracy)
        P_cache: dict[int, np.ndarray] = {}
        for i, (name, choice) in enumerate(chosen.items()):
            if choice is None:
                res.steps[name] = res.ceilings[name] = None
                continue
            e, targets, reference = choice
            if e not in P_cache:
                P_cache[e] = rw.checkpoint_influence(
                    run,
                    e,
                    data.X,
                    data.y,
                    data.X_val,
                    data.y_val,
                    K,
                    damping=damping,
                    batch_size=ekfac_batch_size,
                    threads=threads,
                )
            P = P_cache[e]
            res.ceilings[name] = rw.ceiling_summary(P, sizes)
            res.steps[name] = rw.reweight_step(
                run,
                e,
                targets,
                P,
                *arrays,
                K,
                rng=np.random.default_rng([seed, 7, i]),
                reference=reference,
                settings=settings,
                n_shuffles=n_shuffles,
                n_jobs=n_jobs,
                backend=backend,
                threads=threads,
                ga_kwargs=ga_kwargs,
                lp_kwargs=lp_kwargs,
            )
        out.append(res)
    return Study(data, spec, out, settings)


# ------------------------------------------------------------------------------ summaries
def _steps(st: Study, setting: str) -> list[tuple[int, rw.StepResult]]:
    return [(r.seed, r.steps[setting]) for r in st.seeds if r.steps.get(setting) is not None]


def relative_change(new: np.ndarray, old: np.ndarray) -> np.ndarray:
    """[PC] Table 1's "Change (%)": ``100 (new - old) / old``."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return 100.0 * (np.asarray(new) - np.asarray(old)) / np.asarray(old)


def paper_layout(st: Study, setting: str, split: str = "test") -> pd.DataFrame:
    """Table 1's layout per class: accuracy at epoch ``e``, the standard epoch ``e + 1`` and the
    PARETO-LP-GA epoch ``e + 1`` (mean ± sd over seeds, in %), the paper's change (relative %, against
    the previous epoch for DI / polish and against the standard epoch for CC) and the change against
    the standard epoch in accuracy points; ``target`` counts the seeds in which the class was a target."""
    steps = _steps(st, setting)
    if not steps:
        return pd.DataFrame()
    ref = "run" if setting == "CC" else "previous"

    def stat(values):
        v = np.array(values)
        sd = v.std(0, ddof=1) if len(v) > 1 else np.zeros(v.shape[1])
        return [f"{m:.1f} ± {s:.1f}" for m, s in zip(v.mean(0), sd, strict=True)]

    prev = [100 * s.accuracy["previous"][split] for _, s in steps]
    run = [100 * s.accuracy["run"][split] for _, s in steps]
    std = [100 * s.accuracy["standard"][split] for _, s in steps]
    ga = [100 * s.accuracy["pareto_lp_ga"][split] for _, s in steps]
    paper_change = [relative_change(s.accuracy["pareto_lp_ga"][split], s.accuracy[ref][split]) for _, s in steps]
    vs_std = [100 * s.change("pareto_lp_ga", split) for _, s in steps]
    K = st.data.n_classes
    counts = np.zeros(K, dtype=int)
    for _, s in steps:
        counts[s.targets] += 1
    table = pd.DataFrame(
        {
            "class": [f"{k} {st.data.classes[k]}"[:14] for k in range(K)],
            "target": [f"{c}/{len(steps)}" if c else "" for c in counts],
            "epoch e": stat(prev),
            "std e+1": stat(std),
            f"{setting} e+1": stat(ga),
            f"change % (vs {'run e+1' if ref == 'run' else 'epoch e'})": stat(paper_change),
            "vs std (points)": stat(vs_std),
        }
    )
    if not np.allclose(run, std, equal_nan=True):  # the GA epoch has its own optimiser (Table 2): show the run's too
        table.insert(3, "run e+1", stat(run))
    return table.set_index("class")


def per_seed_summary(st: Study, setting: str, split: str = "test") -> pd.DataFrame:
    """Per seed and method: the mean change of the target classes (accuracy points) against the
    standard epoch, against class up-weighting and against the previous epoch, the worst non-target
    change against the standard epoch, the paper's relative change (in %, of the target classes' mean
    accuracy: per class it explodes for a class near 0 %), and the one-epoch noise (sd of the target
    classes' accuracy over the shuffled epochs, mean over targets)."""
    rows = []
    for seed, s in _steps(st, setting):
        t = s.targets
        others = [k for k in range(st.data.n_classes) if k not in t]
        noise = 100 * float(s.shuffles_test.std(0, ddof=1)[t].mean()) if len(s.shuffles_test) > 1 else np.nan
        for m in rw.METHODS:
            if m not in s.accuracy:
                continue
            rows.append(
                {
                    "seed": seed,
                    "method": m,
                    "epoch": s.epoch,
                    "targets": tuple(t),
                    "target vs standard": 100 * float(s.change(m, split)[t].mean()),
                    "target vs up-weighting": 100 * float(s.change(m, split, "upweight")[t].mean()),
                    "target vs epoch e": 100 * float(s.change(m, split, "previous")[t].mean()),
                    "worst non-target vs standard": 100 * float(s.change(m, split)[others].min()),
                    "target relative % (paper's)": float(
                        relative_change(
                            s.accuracy[m][split][t].mean(),
                            s.accuracy["run" if setting == "CC" else "previous"][split][t].mean(),
                        )
                    ),
                    "one-epoch noise sd": noise,
                }
            )
    return pd.DataFrame(rows)


HEADLINE_COLUMNS = {
    "target vs standard": "targets vs std",
    "target vs up-weighting": "vs up-wt",
    "target vs epoch e": "vs epoch e",
    "worst non-target vs standard": "worst other",
    "target relative % (paper's)": "rel. % (paper)",
}


def headline(st: Study, setting: str, split: str = "test") -> pd.DataFrame:
    """Mean ± sd over seeds of :func:`per_seed_summary`, one row per method (accuracy points; short
    names: ``targets vs std`` = the target classes' mean change against the standard epoch, ``vs up-wt``
    against class up-weighting, ``vs epoch e`` against the previous epoch, ``worst other`` the worst
    non-target change against the standard epoch, ``rel. % (paper)`` the paper's relative change)."""
    df = per_seed_summary(st, setting, split)
    if df.empty:
        return df
    g = df.groupby("method", sort=False)[list(HEADLINE_COLUMNS)]
    mean, sd = g.mean(), g.std(ddof=1)
    out = pd.DataFrame(index=mean.index)
    for c, short in HEADLINE_COLUMNS.items():
        out[short] = [f"{m:+.1f} ± {s:.1f}" for m, s in zip(mean[c], sd[c].fillna(0.0), strict=True)]
    out.index = [SHORT_NAMES[m] for m in out.index]
    return out


def verdict(st: Study, setting: str, against: str = "standard", split: str = "test") -> dict:
    """Whether PARETO-LP-GA beats ``against`` (``"standard"`` or ``"upweight"``) on the target classes
    of ``split``: ``gain`` = seed mean of the mean target change (points), ``se`` = its standard error
    (sd over seeds / sqrt(seeds)), ``noise`` = the one-epoch noise sd (mean over seeds); ``call`` is
    ``"better"`` / ``"worse"`` when ``|gain| > 2 se`` and ``|gain| > noise / sqrt(seeds)``, else
    ``"within noise"``."""
    df = per_seed_summary(st, setting, split)
    if df.empty:
        return {"gain": np.nan, "se": np.nan, "noise": np.nan, "n": 0, "call": "not run"}
    col = {"standard": "target vs standard", "upweight": "target vs up-weighting"}[against]
    d = df[df.method == "pareto_lp_ga"][col].to_numpy()
    n = len(d)
    se = float(d.std(ddof=1) / np.sqrt(n)) if n > 1 else np.inf
    noise = float(df[df.method == "pareto_lp_ga"]["one-epoch noise sd"].mean())
    gain = float(d.mean())
    beyond = abs(gain) > 2 * se and abs(gain) > noise / np.sqrt(n)
    return {
        "gain": gain,
        "se": se,
        "noise": noise,
        "n": n,
        "call": ("better" if gain > 0 else "worse") if beyond else "within noise",
    }


def bar_data(st: Study, setting: str, split: str = "test") -> pd.DataFrame:
    """Long table for the bar plot: per seed, method and class, the change against the standard epoch
    (points) and whether the class was a target."""
    rows = []
    for seed, s in _steps(st, setting):
        for m in rw.METHODS[1:]:
            if m not in s.accuracy:
                continue
            for k, v in enumerate(100 * s.change(m, split)):
                rows.append(
                    {"seed": seed, "method": METHOD_NAMES[m], "class": k, "change": v, "target": k in s.targets}
                )
    return pd.DataFrame(rows)


def noise_band(st: Study, setting: str, split: str = "test") -> np.ndarray:
    """Per class, the one-epoch noise sd (points; shuffled epochs, mean over seeds)."""
    sds = [100 * s.shuffles_test.std(0, ddof=1) for _, s in _steps(st, setting) if len(s.shuffles_test) > 1]
    return np.mean(sds, axis=0) if sds else np.zeros(st.data.n_classes)


def ceiling_table(st: Study) -> pd.DataFrame:
    """The ceiling tests of every setting's ``P`` (mean over seeds; the share of seeds for booleans)."""
    rows = []
    for r in st.seeds:
        for name, c in r.ceilings.items():
            if c is not None:
                rows.append({"setting": name, "epoch": r.steps[name].epoch, **c})
    if not rows:
        return pd.DataFrame()
    df = pd.DataFrame(rows)
    agg = df.groupby("setting", sort=False).agg(
        epochs=("epoch", lambda e: ",".join(str(int(v)) for v in e)),
        t_star=("t", "mean"),
        t_rel=("t_relative", "mean"),
        below=("below_ceiling", "mean"),
        flatness=("flatness", "mean"),
        normal_pos=("positive_normal", "mean"),
        pca_min=("pca_ratio", "min"),
        pca_mean=("pca_ratio", "mean"),
    )
    return agg


def ga_summary(st: Study) -> pd.DataFrame:
    """Per setting: the seeds run, the GA evaluations per seed, the share of candidates that failed a
    target class on the validation split (the fitness penalty), and in how many seeds the returned
    candidate raised every target class on the validation split."""
    rows = []
    for r in st.seeds:
        for name, s in r.steps.items():
            if s is None:
                continue
            fits = [e["fitness"][0] for e in s.ga.evaluations]
            rows.append(
                {
                    "setting": name,
                    "evaluations": len(fits),
                    "penalised": float(np.mean([f <= -1000.0 for f in fits])),
                    "all targets up (val)": bool(s.ga.fitness[0] > -1000.0),
                }
            )
    if not rows:
        return pd.DataFrame()
    df = pd.DataFrame(rows)
    return df.groupby("setting", sort=False).agg(
        seeds=("evaluations", "size"),
        evals_per_seed=("evaluations", "mean"),
        penalised=("penalised", "mean"),
        seeds_all_targets_up=("all targets up (val)", "sum"),
    )


def ga_history(st: Study) -> pd.DataFrame:
    """Best fitness per generation, per seed and setting (long table)."""
    rows = []
    for r in st.seeds:
        for name, s in r.steps.items():
            if s is None:
                continue
            for g, h in enumerate(s.ga.history):
                rows.append(
                    {
                        "seed": r.seed,
                        "setting": name,
                        "generation": g,
                        "fitness": h[0],
                        "target gain": h[1],
                        "every target up": h[0] > -1000.0,
                    }
                )
    return pd.DataFrame(rows)


def weight_stats(st: Study) -> pd.DataFrame:
    """How the GA's best weights look: the share of samples at 0, at 1 and at ``w_max``, the total change
    ``sum |w - 1| / n``, and the share of up-weighted samples that belong to a target class."""
    rows = []
    for r in st.seeds:
        for name, s in r.steps.items():
            if s is None:
                continue
            w = s.weights
            w_max = w.max()
            up = w > 1 + 1e-9
            in_targets = float(np.isin(st.data.y[up], s.targets).mean()) if up.any() else np.nan
            rows.append(
                {
                    "setting": name,
                    "seed": r.seed,
                    "at 0": float(np.isclose(w, 0).mean()),
                    "at 1": float(np.isclose(w, 1).mean()),
                    "at w_max": float((np.isclose(w, w_max) & up).mean()),
                    "sum|w-1|/n": s.weight_change / len(w),
                    "up-weighted in targets": in_targets,
                }
            )
    return pd.DataFrame(rows)


def image_spec(
    data: Split,
    *,
    image_model: str,
    width: int,
    epochs: int,
    lr: float,
    batch_size: int,
    momentum: float,
    weight_decay: float,
    lr_schedule: str,
    dtype: str,
    device: str,
) -> rw.TrainingSpec:
    """The training recipe of an image set."""
    return rw.TrainingSpec(
        image_model,
        deep.image_model_kwargs(image_model, data.n_classes, data.image_shape, width),
        epochs=epochs,
        lr=lr,
        batch_size=batch_size,
        momentum=momentum,
        weight_decay=weight_decay,
        lr_schedule=lr_schedule,
        dtype=dtype,
        device=device,
    )


def text_spec(
    data: Split,
    *,
    text_hidden: int,
    text_epochs: int,
    text_lr: float,
    text_batch_size: int,
    text_momentum: float,
    text_weight_decay: float,
    dtype: str,
    device: str,
) -> rw.TrainingSpec:
    """The MLP head's recipe on a text set's embeddings."""
    return rw.TrainingSpec(
        "mlp_head",
        {"n_classes": data.n_classes, "d_in": data.X.shape[1], "hidden": text_hidden},
        epochs=text_epochs,
        lr=text_lr,
        batch_size=text_batch_size,
        momentum=text_momentum,
        weight_decay=text_weight_decay,
        dtype=dtype,
        device=device,
    )


def step_line(study, setting: str) -> str:
    """One line with a setting's epoch and each seed's target classes: the discrete choices of a
    study that do not move with the last-bit noise of SGD (the accuracies do)."""
    steps = [r.steps[setting] for r in study.seeds if r.steps.get(setting) is not None]
    if not steps:
        return f"{study.data.name}, {setting}: not run (no epoch qualified)"
    epochs = sorted({s.epoch for s in steps})
    return f"{study.data.name}, {setting}: epoch {epochs}, targets per seed {[s.targets for s in steps]}"


def exact_rows(table, names):
    """The rows of a ``(data, setting)``-indexed table whose data set is in ``names`` (the studies whose
    training is identical on every processor), for a checked cell."""
    return table[table.index.get_level_values("data").isin(list(names))]


def _paper_numbers(setting: str) -> str:
    return ", ".join(f"class {k}: {v:+.2f} %" for k, v in PAPER_TABLE1[setting].items())


def claims(studies: dict[str, Study], *, cc_threshold: float, cc_first_epoch: int) -> list[dict]:
    """The chapter's claims table ([PC] Tables 1, 3, 4 and the PCA check), every verdict computed from the
    studies: the paper's comparison, the standard epoch and class up-weighting as baselines."""
    rows = []
    for name, st in studies.items():
        for setting in ("DI", "CC", "polish"):
            df = per_seed_summary(st, setting)
            if df.empty:
                rows.append(
                    {
                        "claim": f"{name}: {setting} applies",
                        "paper": "a detrimental epoch exists (CC)",
                        "measured": "no epoch qualified",
                        "verdict": "not reproduced",
                        "why": f"no validation drop > {cc_threshold} from epoch {cc_first_epoch} on",
                    }
                )
                continue
            ga = df[df.method == "pareto_lp_ga"]
            vs_std, vs_up = verdict(st, setting, "standard"), verdict(st, setting, "upweight")
            rel = ga["target relative % (paper's)"].mean()
            against = "the standard epoch" if setting == "CC" else "epoch e"
            paper = {
                "DI": _paper_numbers("DI") + " vs epoch 10",
                "CC": _paper_numbers("CC") + " vs standard epoch 16",
                "polish": "up to +4.88 % vs epoch 18 (Table 3)",
            }[setting]
            rows.append(
                {
                    "claim": f"{name}, {setting}: target classes improve (the paper's comparison)",
                    "paper": paper,
                    "measured": f"{rel:+.1f} % relative vs {against} "
                    f"(targets' mean accuracy, mean over {len(ga)} seeds)",
                    "verdict": "reproduced" if rel > 0 else "not reproduced",
                    "why": "test split; the paper's comparison"
                    + (", which credits an ordinary epoch of training to the method" if setting != "CC" else ""),
                }
            )
            worse_std = vs_std["call"]
            rows.append(
                {
                    "claim": f"{name}, {setting}: PARETO-LP-GA beats the standard epoch on the targets",
                    "paper": "implied (not measured)",
                    "measured": f"{vs_std['gain']:+.1f} ± {vs_std['se']:.1f} points (noise sd {vs_std['noise']:.1f})",
                    "verdict": "reproduced" if worse_std == "better" else "not reproduced",
                    "why": {
                        "better": "beyond the noise",
                        "within noise": "within the noise of one epoch",
                        "worse": "worse than the standard epoch beyond the noise",
                    }[worse_std],
                }
            )
            rows.append(
                {
                    "claim": f"{name}, {setting}: PARETO-LP-GA beats class up-weighting on the targets",
                    "paper": "not compared",
                    "measured": f"{vs_up['gain']:+.1f} ± {vs_up['se']:.1f} points",
                    "verdict": "reproduced" if vs_up["call"] == "better" else "not reproduced",
                    "why": {
                        "better": "beyond the noise",
                        "within noise": "within the noise",
                        "worse": "up-weighting is better beyond the noise",
                    }[vs_up["call"]],
                }
            )
            worst = ga["worst non-target vs standard"].mean()
            rows.append(
                {
                    "claim": f"{name}, {setting}: non-target classes lose little",
                    "paper": "≥ -2.90 % (Table 1)",
                    "measured": f"worst non-target {worst:+.1f} points vs standard (mean over seeds)",
                    "verdict": "reproduced" if worst > -3.0 else "the paper's claim does not hold",
                    "why": "a trade between confusable classes, not a Pareto improvement"
                    if worst <= -3.0
                    else "within 3 points",
                }
            )
        c = ceiling_table(st)
        rows.append(
            {
                "claim": f"{name}: PCA ratio of the first component > 0.2 at every chosen epoch",
                "paper": "> 0.2 in all cases",
                "measured": f"min {c['pca_min'].min():.3f}",
                "verdict": "reproduced" if c["pca_min"].min() > 0.2 else "not reproduced",
                "why": f"≥ 1/K = {1 / st.data.n_classes:.2f} for any P; the ceiling LP gives t* > 0 "
                f"in {c['below'].mean():.0%} of the cases",
            }
        )
    rows.append(
        {
            "claim": "ImageNet subset, 11 superclasses (App. B.3, Table 4)",
            "paper": "+13.7 (class 10, DI)",
            "measured": "not run",
            "verdict": "not reproduced",
            "why": "no offline source of the subset",
        }
    )
    return rows
