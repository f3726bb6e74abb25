"""Online learning on a stream of noisy batches with per-batch influence trimming ([CH] §5.4, App. C.3).

The training data arrive in ``n_batches`` consecutive batches; in each, a fraction of the labels is
flipped (one third in [CH]; 35 % in the authors' code). Before an online learner takes its
``partial_fit`` step on the batch, the batch is trimmed: a *fresh* logistic-regression surrogate is
fitted on the batch alone (App. C.3), the utility influence of every batch sample on the (clean)
validation loss is computed ([CH] Eq. 1, :func:`lib.influence.utility_influence`), and the ``b``
samples with the lowest influence are removed (``b = 10 %`` of the batch). The authors' code removes
exactly ``b`` samples whatever their sign (``rule="lowest"``, the default here); [CH] Algorithm 2 would
stop at the last negative influence (``rule="negative"``, :func:`lib.trimming.trim`).

The learners are scikit-learn's ``SGDClassifier`` (logistic loss: online logistic regression; hinge
loss: an online linear SVM), one ``partial_fit`` call per batch as in the authors' code. Variants,
each with its own learner (same ``random_state``) so that only the data differ:

* ``"none"`` — the noisy batch as it comes;
* ``"influence"`` — the batch minus the ``b`` lowest-influence samples;
* ``"random"`` — the batch minus ``b`` random samples (the baseline a reviewer asks for);
* ``"clean"`` — the batch with its true labels (the reference the trimming tries to approach).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .estimators.benchmark import flip_labels
from .influence import utility_influence
from .models import LogisticRegression
from .trimming import Trim, random_trim, trim

VARIANTS = ("none", "influence", "random", "clean")


def sgd_learners() -> dict[str, Callable[[int], object]]:
    """The two online learners of [CH] Fig. 6 A-D: ``name -> factory(random_state)``."""
    from sklearn.linear_model import SGDClassifier

    return {
        "logistic regression": lambda rs: SGDClassifier(loss="log_loss", random_state=rs),
        "linear SVM": lambda rs: SGDClassifier(loss="hinge", random_state=rs),
    }


def batch_bounds(n: int, n_batches: int) -> np.ndarray:
    """Start/end offsets of ``n_batches`` consecutive batches over ``n`` samples (the authors'
    ``np.linspace(0, n, n_batches + 1)``), shape ``(n_batches + 1,)``."""
    if n_batches < 1 or n < n_batches:
        raise ValueError(f"need 1 <= n_batches <= n, got n_batches={n_batches}, n={n}")
    return np.linspace(0, n, num=n_batches + 1).astype(int)


def trim_batch(
    X: np.ndarray,
    y: np.ndarray,
    X_val: np.ndarray,
    y_val: np.ndarray,
    budget: int,
    rule: str = "lowest",
    l2: float | str = "auto",
) -> tuple[Trim, np.ndarray]:
    """Fit a fresh logistic-regression surrogate on one batch, score every batch sample by its
    utility influence on the validation loss (book sign: negative = harmful) and trim ``budget``
    samples by ``rule`` (App. C.3). Returns the trim and the influence scores."""
    surrogate = LogisticRegression(l2=l2).fit(X, y, n_classes=2)
    scores = utility_influence(surrogate, X, y, X_val, y_val)
    return trim(scores, budget, rule), scores


@dataclass
class OnlineRun:
    """Test accuracy after every batch for every learner and variant (``history``), and per batch
    the influence trim, the indices (within the batch) of the flipped labels and the budget."""

    history: pd.DataFrame
    trims: list[Trim] = field(default_factory=list)
    flipped: list[np.ndarray] = field(default_factory=list)
    budgets: list[int] = field(default_factory=list)


def run_online(
    X_stream: np.ndarray,
    y_stream: np.ndarray,
    X_val: np.ndarray,
    y_val: np.ndarray,
    X_test: np.ndarray,
    y_test: np.ndarray,
    rng: np.random.Generator,
    n_batches: int = 10,
    flip_fraction: float = 1 / 3,
    budget_fraction: float = 0.1,
    learners: Mapping[str, Callable[[int], object]] | None = None,
    variants: Sequence[str] = VARIANTS,
    rule: str = "lowest",
    l2: float | str = "auto",
) -> OnlineRun:
    """[CH] §5.4: stream ``(X_stream, y_stream)`` in ``n_batches`` batches, flip ``flip_fraction`` of
    each batch's labels, trim ``int(budget_fraction * batch size)`` samples per batch by influence
    (or at random), ``partial_fit`` every learner, record test accuracy after each batch.

    ``learners`` maps a name to ``factory(random_state)`` (default :func:`sgd_learners`); each
    learner's variants share one ``random_state`` drawn from ``rng``. ``history`` columns:
    ``batch`` (1..n_batches), ``learner``, ``variant``, ``accuracy``, ``n_fitted`` (samples in the
    step), ``n_trimmed``, ``flipped_trimmed`` (how many of the trimmed samples had a flipped label).
    """
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown:
        raise ValueError(f"unknown variant(s) {unknown}; use some of {VARIANTS}")
    if not 0 <= budget_fraction < 1:
        raise ValueError(f"budget_fraction must lie in [0, 1), got {budget_fraction}")
    X_stream, y_stream = np.asarray(X_stream, dtype=float), np.asarray(y_stream).astype(np.int64)
    learners = sgd_learners() if learners is None else dict(learners)
    states = {name: int(rng.integers(0, 2**31 - 1)) for name in learners}
    models = {(name, v): factory(states[name]) for name, factory in learners.items() for v in variants}
    bounds = batch_bounds(len(y_stream), n_batches)
    run = OnlineRun(pd.DataFrame())
    rows = []
    for b in range(n_batches):
        Xb, yb = X_stream[bounds[b] : bounds[b + 1]], y_stream[bounds[b] : bounds[b + 1]]
        noisy, flipped = flip_labels(yb, flip_fraction, 2, rng)
        budget = int(budget_fraction * len(yb))
        infl, _ = trim_batch(Xb, noisy, X_val, y_val, budget, rule, l2)
        rand = random_trim(len(yb), budget, rng)
        is_flipped = np.zeros(len(yb), bool)
        is_flipped[flipped] = True
        data = {
            "none": (np.arange(len(yb)), noisy, np.empty(0, np.int64)),
            "influence": (infl.kept, noisy, infl.removed),
            "random": (rand.kept, noisy, rand.removed),
            "clean": (np.arange(len(yb)), yb, np.empty(0, np.int64)),
        }
        for (name, v), model in models.items():
            keep, labels, removed = data[v]
            model.partial_fit(Xb[keep], labels[keep], classes=np.array([0, 1]))
            rows.append(
                {
                    "batch": b + 1,
                    "learner": name,
                    "variant": v,
                    "accuracy": float(model.score(X_test, y_test)),
                    "n_fitted": len(keep),
                    "n_trimmed": len(removed),
                    "flipped_trimmed": int(is_flipped[removed].sum()),
                }
            )
        run.trims.append(infl)
        run.flipped.append(flipped)
        run.budgets.append(budget)
    run.history = pd.DataFrame(rows)
    return run
