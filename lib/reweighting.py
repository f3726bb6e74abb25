"""PARETO-LP-GA on deep classifiers ([PC] §3.4 Algorithm 1, §5.2, App. B.2): a checkpointed training
run, category-wise influence at a checkpoint, one weighted epoch from it, and the baselines the paper
leaves out.

The workflow, for one training seed:

1. :func:`train_run` trains ``epochs`` epochs and keeps, after every epoch ``e``, a
   :class:`Checkpoint` (model and optimiser state) and the per-class accuracy on the validation and
   test splits. Epoch ``e + 1``'s batch order is fixed in advance (``Run.orders[e]``).
2. ``P`` = :func:`lib.ekfac.category_influence` of the epoch-``e`` model (:func:`checkpoint_influence`).
3. :class:`EpochFit` is Algorithm 1's ``TRAINONEEPOCH(theta^e, T, w)``: every call rebuilds the
   epoch-``e`` model from the checkpoint (which it never changes) and trains one epoch with the
   per-sample weights ``w``, the run's batch order of epoch ``e + 1`` and a fixed seed, so candidates
   differ only by their weights. By default (``EpochSettings.lr=None``) the epoch *continues the run*:
   same optimiser state, learning-rate schedule position and batch size, so ``fit(ones)`` is the run's
   own epoch ``e + 1`` bit for bit. With an explicit learning rate (Table 2's PARETO-LP-GA optimiser:
   lr 1e-4, weight decay 1e-4, batch 512) it is a fresh optimiser of the same kind at a constant rate.
4. :func:`reweight_step` runs :func:`lib.pareto.pareto_lp_ga` with that ``fit`` and the validation
   per-class accuracy as ``score`` and evaluates, from the same checkpoint and with the same one-epoch
   budget, the best weights and the baselines on the held-out test split:

   * ``standard``: the unweighted epoch (``fit(ones)``), the comparison the paper omits (its tables
     compare with the previous epoch, book/conventions.md §2);
   * ``upweight``: every target-class sample weighted up by the same amount, the total weight change
     ``sum_i |w_i - 1|`` equal to the GA's;
   * ``lp_eps0``: the LP's weights with ``eps = 0`` (no GA);
   * ``permuted``: the GA's weights randomly permuted over the samples (same weight histogram);
   * ``shuffles``: ``n_shuffles`` unweighted epochs with other batch orders: the noise of one epoch,
     and, picked on the validation split with the GA's fitness, a selection-only control with the
     GA's own budget (``best_shuffle``).

Target rules: :func:`lowest_classes` (Direct Improvement, final-epoch polish) and
:func:`detrimental_epoch` (Course Correction). Every random draw is derived from the seed and an index
(``np.random.default_rng([seed, ...])``), so parallel workers give the serial results.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import torch
from torch import nn

from . import deep
from .parallel import map_tasks
from .reproducibility import torch_threads

DTYPES = {"float32": torch.float32, "float64": torch.float64}
METHODS = ("standard", "pareto_lp_ga", "upweight", "lp_eps0", "permuted", "best_shuffle")


@dataclass(frozen=True)
class TrainingSpec:
    """How a run trains: model ``kind`` and its constructor arguments (:func:`lib.deep.build`), the
    optimiser settings of :func:`lib.deep.train`, ``dtype`` (``"float32"`` / ``"float64"``) and ``device``."""

    kind: str
    model_kwargs: dict
    epochs: int
    lr: float
    batch_size: int
    momentum: float = 0.9
    weight_decay: float = 0.0
    optimizer: str = "sgd"
    lr_schedule: str = "constant"
    dtype: str = "float32"
    device: str = "cpu"

    def __post_init__(self):
        if self.dtype not in DTYPES:
            raise ValueError(f"dtype must be one of {', '.join(DTYPES)}, got {self.dtype!r}")
        if self.epochs < 1:
            raise ValueError(f"epochs must be >= 1, got {self.epochs}")

    def build(self, rng: np.random.Generator | None = None) -> nn.Module:
        """A model of this spec (initial weights from ``rng``; any ``rng`` when a state is loaded next)."""
        model = deep.build(
            self.kind, rng if rng is not None else np.random.default_rng(0), device="cpu", **self.model_kwargs
        )
        return model.to(DTYPES[self.dtype]).to(deep.resolve_device(self.device))


@dataclass
class Checkpoint:
    """The state after ``epoch`` epochs: model ``state_dict`` and optimiser state (CPU tensors)."""

    epoch: int
    model_state: dict
    optimizer_state: dict | None


def _writable(a):
    """``a``, or a copy of it when it is a read-only array (a joblib memmap in a worker process),
    which torch would wrap with a warning."""
    return np.array(a) if isinstance(a, np.ndarray) and not a.flags.writeable else a


def _cpu_state(model: nn.Module) -> dict:
    return {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}


def load_model(spec: TrainingSpec, checkpoint: Checkpoint) -> nn.Module:
    """A new model of ``spec`` holding ``checkpoint``'s parameters (the checkpoint is not shared)."""
    model = spec.build()
    model.load_state_dict(checkpoint.model_state)
    return model


@dataclass
class Run:
    """A checkpointed training run (:func:`train_run`). ``checkpoints[e]`` and row ``e`` of
    ``val_accuracy`` / ``test_accuracy`` (per class) are the state after ``e`` epochs (``e = 0``: the
    initial model); ``orders[e]`` is the batch order of epoch ``e + 1``."""

    spec: TrainingSpec
    seed: int
    orders: list[np.ndarray]
    checkpoints: list[Checkpoint]
    val_accuracy: np.ndarray
    test_accuracy: np.ndarray
    steps_per_epoch: int
    loss: np.ndarray = field(default_factory=lambda: np.zeros(0))

    def model(self, epoch: int) -> nn.Module:
        """The model after ``epoch`` epochs."""
        if not 0 <= epoch < len(self.checkpoints):
            raise ValueError(f"epoch must be in 0..{len(self.checkpoints) - 1}, got {epoch}")
        return load_model(self.spec, self.checkpoints[epoch])


def batch_order(seed: int, epoch: int, n: int, variant: int = 0) -> np.ndarray:
    """The batch order of epoch ``epoch`` (1-based) of seed ``seed``'s run; ``variant > 0``: another
    order for the same epoch (the one-epoch noise)."""
    return np.random.default_rng([seed, 2, epoch, variant]).permutation(n)


def train_run(
    spec: TrainingSpec, X, y, X_val, y_val, X_test, y_test, n_classes: int, seed: int, threads: int | None = 1
) -> Run:
    """Train ``spec.epochs`` epochs from the seed-``seed`` initialisation, keeping a checkpoint and the
    per-class validation and test accuracy after every epoch ([PC] §5.2: the developer watches
    per-class accuracy during training). Batch orders from :func:`batch_order`; the result equals one
    uninterrupted :func:`lib.deep.train` call with those orders."""
    y = np.asarray(y)
    n = len(y)
    spe = -(-n // spec.batch_size)
    total = spec.epochs * spe
    with torch_threads(threads):
        model = spec.build(np.random.default_rng([seed, 1]))
        checkpoints = [Checkpoint(0, _cpu_state(model), None)]
        val = [deep.per_class_accuracy(model, X_val, y_val, n_classes)]
        test = [deep.per_class_accuracy(model, X_test, y_test, n_classes)]
        orders, losses, state = [], [], None
        for e in range(spec.epochs):
            orders.append(batch_order(seed, e + 1, n))
            r = deep.train(
                model,
                X,
                y,
                rng=np.random.default_rng([seed, 3, e + 1]),
                epochs=1,
                lr=spec.lr,
                batch_size=spec.batch_size,
                momentum=spec.momentum,
                weight_decay=spec.weight_decay,
                optimizer=spec.optimizer,
                lr_schedule=spec.lr_schedule,
                n_classes=n_classes,
                batch_orders=[orders[-1]],
                optimizer_state=state,
                schedule_steps=(e * spe, total),
                keep_optimizer_state=True,
            )
            state = r.optimizer_state
            losses.append(float(r.loss[0]))
            checkpoints.append(Checkpoint(e + 1, _cpu_state(model), state))
            val.append(deep.per_class_accuracy(model, X_val, y_val, n_classes))
            test.append(deep.per_class_accuracy(model, X_test, y_test, n_classes))
    return Run(spec, seed, orders, checkpoints, np.array(val), np.array(test), spe, np.array(losses))


@dataclass(frozen=True)
class EpochSettings:
    """Optimiser of the reweighted epoch. ``lr=None``: continue the run (its optimiser state,
    schedule position, batch size, weight decay). Otherwise a fresh optimiser of the run's kind with
    momentum ``spec.momentum`` and the constant rate ``lr``, weight decay ``weight_decay`` and batch
    ``batch_size`` (``None``: the run's) — [PC] Table 2's PARETO-LP-GA row is ``lr=1e-4,
    weight_decay=1e-4, batch_size=512``."""

    lr: float | None = None
    weight_decay: float | None = None
    batch_size: int | None = None

    @property
    def continues_run(self) -> bool:
        return self.lr is None


@dataclass
class EpochFit:
    """Algorithm 1 line 5, ``TRAINONEEPOCH(theta^e, T, w)``: ``fit(w)`` rebuilds the epoch-``e`` model
    from ``checkpoint`` and trains one epoch on ``(X, y)`` with per-sample weights ``w`` and batch order
    ``order`` (:class:`EpochSettings` says which optimiser). Deterministic and picklable; the model stays
    on ``spec.device`` (the CPU in the quick profile; on a GPU the GA's scoring runs there too).
    ``threads`` fixes torch's thread count (the same in every worker)."""

    spec: TrainingSpec
    checkpoint: Checkpoint
    X: Any
    y: np.ndarray
    order: np.ndarray
    settings: EpochSettings = EpochSettings()
    seed: int = 0
    threads: int | None = 1

    def __call__(self, weights: np.ndarray | None = None, order: np.ndarray | None = None) -> nn.Module:
        s, spec = self.settings, self.spec
        n = len(self.y)
        with torch_threads(self.threads):
            model = load_model(spec, self.checkpoint)
            if s.continues_run:
                spe = -(-n // spec.batch_size)
                kw = {
                    "lr": spec.lr,
                    "batch_size": spec.batch_size,
                    "weight_decay": spec.weight_decay,
                    "lr_schedule": spec.lr_schedule,
                    "optimizer_state": self.checkpoint.optimizer_state,
                    "schedule_steps": (self.checkpoint.epoch * spe, spec.epochs * spe),
                }
            else:
                kw = {
                    "lr": s.lr,
                    "batch_size": s.batch_size or spec.batch_size,
                    "lr_schedule": "constant",
                    "weight_decay": spec.weight_decay if s.weight_decay is None else s.weight_decay,
                }
            deep.train(
                model,
                _writable(self.X),
                _writable(self.y),
                sample_weight=weights,
                epochs=1,
                rng=np.random.default_rng([self.seed, 3, self.checkpoint.epoch + 1]),
                momentum=spec.momentum,
                optimizer=spec.optimizer,
                batch_orders=[self.order if order is None else order],
                **kw,
            )
        return model


@dataclass
class ClassAccuracy:
    """``score(model)``: per-class accuracy on ``(X, y)`` ([PC]'s per-category metric), picklable."""

    X: Any
    y: np.ndarray
    n_classes: int
    threads: int | None = 1

    def __call__(self, model: nn.Module) -> np.ndarray:
        with torch_threads(self.threads):
            return deep.per_class_accuracy(model, _writable(self.X), _writable(self.y), self.n_classes)


def checkpoint_influence(
    run: Run,
    epoch: int,
    X,
    y,
    X_val,
    y_val,
    n_classes: int,
    *,
    damping: float | None,
    batch_size: int = 512,
    threads: int | None = 1,
    max_query_floats: float = 5e7,
) -> np.ndarray:
    """Category-wise influence ``P`` (n_train, K) of the epoch-``epoch`` model by EKFAC, in the run's
    precision (float64 factors and scores for a float64 run), the Monte Carlo labels of the curvature
    seeded by the run's seed and the epoch.

    Two equal routes (a unit test of :mod:`lib.ekfac`): when ``n_val x parameters <= max_query_floats``
    the per-validation-sample scores in one query batch, summed by class (one pass over the training
    set); otherwise :func:`lib.ekfac.category_influence` (one pass per class, memory of one query)."""
    from .ekfac import category_influence, pairwise_scores

    model = run.model(epoch)
    dtype = DTYPES[run.spec.dtype]
    rng = np.random.default_rng([run.seed, 6, epoch])
    n_params = sum(p.numel() for p in model.parameters())
    y_val = np.asarray(y_val)
    with torch_threads(threads):
        if len(y_val) * n_params <= max_query_floats:
            S = pairwise_scores(
                model, X, y, X_val, y_val, rng=rng, damping=damping, batch_size=max(batch_size, len(y_val)), dtype=dtype
            )
            return S.T @ np.eye(n_classes)[y_val] / len(np.asarray(y))
        return category_influence(
            model, X, y, X_val, y_val, n_classes, rng=rng, damping=damping, batch_size=batch_size, dtype=dtype
        )


# ------------------------------------------------------------------------------ target rules
def lowest_classes(accuracy: np.ndarray, n: int) -> list[int]:
    """The ``n`` classes of lowest accuracy (Direct Improvement: "target categories are selected by
    the developer based on current per-class accuracy", [PC] §3.4), ascending by accuracy; ties by index."""
    acc = np.asarray(accuracy, dtype=float)
    if not 1 <= n <= len(acc):
        raise ValueError(f"n must be in 1..{len(acc)}, got {n}")
    return [int(k) for k in np.argsort(np.round(acc, 10), kind="stable")[:n]]


def detrimental_epoch(
    accuracy: np.ndarray, threshold: float, first: int = 1, last: int | None = None, max_targets: int | None = None
) -> tuple[int, list[int]] | None:
    """Course Correction's trigger ([PC] §3.4: "a detrimental epoch means one after which the accuracy
    of some classes decreases significantly"): the first ``e`` in ``first..last`` (``last`` default:
    the second-to-last epoch) whose next epoch lowers some classes' accuracy by more than ``threshold``
    (``accuracy[e + 1, k] - accuracy[e, k] < -threshold``). Returns ``(e, targets)`` — the classes that
    dropped, largest drop first, at most ``max_targets`` — or ``None`` when no epoch qualifies.
    ``accuracy`` is ``Run.val_accuracy`` (row ``e`` = after ``e`` epochs)."""
    acc = np.asarray(accuracy, dtype=float)
    last = acc.shape[0] - 2 if last is None else last
    for e in range(max(first, 0), min(last, acc.shape[0] - 2) + 1):
        drop = np.round(acc[e + 1] - acc[e], 10)
        hit = np.flatnonzero(drop < -threshold)
        if len(hit):
            hit = hit[np.argsort(drop[hit], kind="stable")]
            return e, [int(k) for k in hit[:max_targets]]
    return None


# ------------------------------------------------------------------------------ one step
def upweight_classes(y: np.ndarray, targets: Sequence[int], total_change: float, w_max: float) -> np.ndarray:
    """Class up-weighting baseline: every sample of a target class gets ``1 + total_change / n_targets``
    (capped at ``w_max``), the others 1, so that ``sum_i |w_i - 1|`` equals ``total_change`` (less where
    the cap binds)."""
    y = np.asarray(y)
    mask = np.isin(y, list(targets))
    w = np.ones(len(y))
    if mask.any():
        w[mask] = min(1.0 + float(total_change) / mask.sum(), float(w_max))
    return w


@dataclass
class _EvalTask:
    """One unweighted or weighted epoch from the checkpoint, scored on validation and test."""

    fit: EpochFit
    val: ClassAccuracy
    test: ClassAccuracy

    def __call__(self, task: tuple[np.ndarray | None, np.ndarray | None]) -> tuple[np.ndarray, np.ndarray]:
        weights, order = task
        model = self.fit(weights, order)
        return self.val(model), self.test(model)


@dataclass
class StepResult:
    """One PARETO-LP-GA step from epoch ``epoch`` (:func:`reweight_step`).

    ``accuracy[method]["val" | "test"]``: per-class accuracy after the step for every method of
    :data:`METHODS`, plus ``"previous"`` (the epoch-``epoch`` model) and ``"run"`` (the run's own epoch
    ``epoch + 1``; equal to ``standard`` when the epoch continues the run). ``shuffles_val`` /
    ``shuffles_test`` (n_shuffles, K): unweighted epochs with other batch orders. ``reference``:
    ``"previous"`` or ``"run"``, what the GA's fitness measured the change from. ``weights``: the GA's
    best weights; ``ga``: its result without the model."""

    epoch: int
    targets: list[int]
    reference: str
    accuracy: dict[str, dict[str, np.ndarray]]
    shuffles_val: np.ndarray
    shuffles_test: np.ndarray
    weights: np.ndarray
    ga: Any
    weight_change: float

    def change(self, method: str, split: str = "test", against: str = "standard") -> np.ndarray:
        """Per-class accuracy change of ``method`` against ``against`` (any key of ``accuracy``)."""
        return self.accuracy[method][split] - self.accuracy[against][split]


def reweight_step(
    run: Run,
    epoch: int,
    targets: Sequence[int],
    P: np.ndarray,
    X,
    y,
    X_val,
    y_val,
    X_test,
    y_test,
    n_classes: int,
    *,
    rng: np.random.Generator,
    reference: str = "previous",
    settings: EpochSettings = EpochSettings(),
    n_shuffles: int = 0,
    n_jobs: int | None = 1,
    backend: str | None = None,
    threads: int | None = 1,
    ga_kwargs: dict | None = None,
    lp_kwargs: dict | None = None,
) -> StepResult:
    """PARETO-LP-GA at epoch ``epoch`` of ``run`` with its baselines (module docstring).

    ``reference="previous"``: the fitness measures each class's change from the epoch-``epoch`` model
    (Direct Improvement, [PC] §3.4); ``"run"``: from the run's own epoch ``epoch + 1`` (Course
    Correction: "calculated between the original epoch e+1 and the newly weighted epoch e+1").
    ``ga_kwargs`` go to :func:`lib.pareto.pareto_lp_ga` (population, generations, ...), ``lp_kwargs`` to
    the LP (``w_max``, ``rho``, ``solver``; ``class_sizes`` defaults to the validation class sizes).
    ``rng`` drives the GA and the permutation baseline. Everything is fitted from the same checkpoint
    with the same one-epoch budget and, except the shuffles, the same batch order. ``n_jobs`` and
    ``backend`` go to :func:`lib.parallel.map_tasks`: the GA's candidates and the baselines run in
    parallel with the serial results (``"threading"`` shares the data and needs no worker start-up; it
    is safe here because the models draw no random numbers while training — no dropout).
    """
    from .pareto import fitness, pareto_lp_ga, pareto_weights

    if reference not in ("previous", "run"):
        raise ValueError(f"reference must be 'previous' or 'run', got {reference!r}")
    if not 0 <= epoch < run.spec.epochs:
        raise ValueError(f"epoch must be in 0..{run.spec.epochs - 1} (a next epoch must exist), got {epoch}")
    y, y_val = np.asarray(y), np.asarray(y_val)
    targets = [int(k) for k in targets]
    # a class without validation samples has a zero column in P: size 1 leaves it at zero
    lp = {"class_sizes": np.maximum(np.bincount(y_val, minlength=n_classes), 1), **(lp_kwargs or {})}
    fit = EpochFit(run.spec, run.checkpoints[epoch], X, y, run.orders[epoch], settings, seed=run.seed, threads=threads)
    val = ClassAccuracy(X_val, y_val, n_classes, threads)
    test = ClassAccuracy(X_test, y_test, n_classes, threads)
    task = _EvalTask(fit, val, test)
    acc: dict[str, dict[str, np.ndarray]] = {
        "previous": {"val": run.val_accuracy[epoch], "test": run.test_accuracy[epoch]},
        "run": {"val": run.val_accuracy[epoch + 1], "test": run.test_accuracy[epoch + 1]},
    }
    base = acc["previous"]["val"] if reference == "previous" else acc["run"]["val"]
    ga = pareto_lp_ga(P, fit, val, targets, rng, base, n_jobs=n_jobs, backend=backend, **(ga_kwargs or {}), **lp)
    w = ga.weights
    acc["pareto_lp_ga"] = {"val": val(ga.model), "test": test(ga.model)}
    change = float(np.abs(w - 1.0).sum())
    w_max = lp.get("w_max", 3.0)
    lp0 = pareto_weights(P, targets, eps=np.zeros(n_classes), **lp)
    baselines = {
        "standard": None,
        "upweight": upweight_classes(y, targets, change, w_max),
        "lp_eps0": lp0,
        "permuted": rng.permutation(w),
    }
    n = len(y)
    tasks = [(wb, None) for wb in baselines.values()]
    tasks += [(None, batch_order(run.seed, epoch + 1, n, variant=j + 1)) for j in range(n_shuffles)]
    out = map_tasks(task, tasks, n_jobs=n_jobs, backend=backend)
    for name, (v, t) in zip(baselines, out[: len(baselines)], strict=True):
        acc[name] = {"val": v, "test": t}
    sh_val = np.array([v for v, _ in out[len(baselines) :]]).reshape(n_shuffles, n_classes)
    sh_test = np.array([t for _, t in out[len(baselines) :]]).reshape(n_shuffles, n_classes)
    if n_shuffles:  # the selection-only control: the best unweighted epoch by the GA's own fitness
        scores = [fitness(sv - base, targets) for sv in sh_val]
        best = max(range(n_shuffles), key=lambda j: scores[j])  # first of equals
        acc["best_shuffle"] = {"val": sh_val[best], "test": sh_test[best]}
    ga_light = replace(ga, model=None)
    return StepResult(epoch, targets, reference, acc, sh_val, sh_test, w, ga_light, change)


def ceiling_summary(P: np.ndarray, class_sizes: np.ndarray, delta_max: float = 1.0) -> dict[str, float | bool]:
    """The ceiling tests of :mod:`lib.ceiling` on a deep ``P`` (book/conventions.md §2): LP ``t*`` and ``t*``
    relative, uncentred-SVD flatness and whether its normal is positive, and the paper's PCA ratio
    ([PC] §5.2: "> 0.2 in all cases")."""
    from .ceiling import ceiling_test, pca_check, svd_view

    sizes = np.maximum(np.asarray(class_sizes, dtype=float), 1.0)  # an absent class has a zero column
    r = ceiling_test(P, delta_max=delta_max, scale=sizes, solver="highs")
    v = svd_view(P / sizes)
    ratio, room = pca_check(P)
    return {
        "t": r.t,
        "t_relative": r.t_relative,
        "below_ceiling": r.below_ceiling,
        "flatness": v.flatness,
        "positive_normal": v.positive_normal,
        "pca_ratio": float(ratio),
        "pca_says_room": bool(room),
    }
