"""Poisoning attacks against fairness: the anchoring attacks of Mehrabi et al. (AAAI 2021), as
[CH] §5.2 uses them (Table 1).

An anchoring attack adds ``round(eps * n)`` poisoned points to the training set. Each is placed
*near a target* training point (within distance ``tau``), in the target's sensitive group, with the
*opposite* label:

* targets for positive-label poison are negatives of the **advantaged** group (the group with the
  higher positive rate in the training labels); poison there pulls the boundary towards predicting
  that group positive;
* targets for negative-label poison are positives of the **disadvantaged** group; poison there
  pushes that group's predictions to negative.

Both widen the demographic-parity gap. The split between the two kinds follows the inverse class
balance of Mehrabi et al.'s implementation (``round(P(y=0) * N)`` positive-label points). Targets:

* **RAA** (random anchoring): drawn uniformly among the candidate targets;
* **NRAA** (non-random anchoring): targets that maximise the bias after the attack ([CH] §5.2's
  description). Mehrabi et al. pick *popular* candidates, those with the most other candidates
  within a distance, so that the poison moves the predictions of as many points as possible; here
  the ``n_candidates`` most popular candidates of each kind form a shortlist, and the one whose
  poison gives the largest bias of the refitted victim model is kept (``n_candidates=1``: the
  popularity rule alone). Their code uses one target per kind and copies of the poison point.

``n_targets`` targets per kind share the poison round-robin (Mehrabi et al.'s code: 1). Each poison
point is its target plus a perturbation drawn uniformly from the L2 ball of radius ``tau`` (their
code projects the copies onto a feasible set instead; a ball keeps "near the target" explicit).
The sensitive attribute may also be a feature: it is copied from the target with the rest of ``x``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .models import LogisticRegression

METHODS = ("RAA", "NRAA")


@dataclass(frozen=True)
class AnchoringPoison:
    """The poisoned points of an anchoring attack and the clean-set index of each one's target."""

    X: np.ndarray
    y: np.ndarray
    groups: np.ndarray
    targets: np.ndarray
    method: str
    advantaged: int

    def __len__(self) -> int:
        return len(self.y)

    def combine(
        self, X: np.ndarray, y: np.ndarray, groups: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """The poisoned training set: clean rows first, then the poison; the last array marks poison."""
        is_poison = np.r_[np.zeros(len(y), bool), np.ones(len(self), bool)]
        return (
            np.vstack([X, self.X]),
            np.r_[y, self.y].astype(np.int64),
            np.r_[groups, self.groups].astype(np.int64),
            is_poison,
        )


def advantaged_group(y: np.ndarray, groups: np.ndarray) -> int:
    """The group (0 or 1) with the higher rate of positive labels (ties: group 0)."""
    y, g = np.asarray(y), np.asarray(groups)
    if not (np.isin(y, (0, 1)).all() and np.isin(g, (0, 1)).all()) or y.shape != g.shape:
        raise ValueError("y and groups must be 0/1 arrays of the same length")
    if not (g == 0).any() or not (g == 1).any():
        raise ValueError("both sensitive groups must occur in the training set")
    return int(y[g == 1].mean() > y[g == 0].mean())


def pairwise_distances(X: np.ndarray, chunk: int = 2048) -> np.ndarray:
    """Euclidean distances between all rows of ``X``, shape ``(n, n)``."""
    X = np.asarray(X, dtype=float)
    sq = (X**2).sum(1)
    out = np.empty((len(X), len(X)))
    for s in range(0, len(X), chunk):
        d2 = sq[s : s + chunk, None] + sq[None, :] - 2.0 * X[s : s + chunk] @ X.T
        out[s : s + chunk] = np.sqrt(np.clip(d2, 0.0, None))
    return out


def default_radius(X: np.ndarray, quantile: float = 0.1) -> float:
    """The ``quantile`` of the pairwise distances among the rows of ``X`` (NRAA's neighbourhood)."""
    D = pairwise_distances(X)
    iu = np.triu_indices(len(X), 1)
    return float(np.quantile(D[iu], quantile)) if len(iu[0]) else 0.0


def popularity(X: np.ndarray, radius: float) -> np.ndarray:
    """For every row, the number of *other* rows within Euclidean distance ``radius``."""
    if radius < 0:
        raise ValueError(f"radius must be >= 0, got {radius}")
    D = pairwise_distances(X)
    return (D <= radius).sum(1) - 1


def _ball(rng: np.random.Generator, m: int, d: int, tau: float) -> np.ndarray:
    """``m`` points uniform in the d-dimensional L2 ball of radius ``tau``."""
    u = rng.standard_normal((m, d))
    u /= np.linalg.norm(u, axis=1, keepdims=True).clip(1e-300)
    r = tau * rng.random(m) ** (1.0 / d)
    return u * r[:, None]


def bias(predictions: np.ndarray, groups: np.ndarray, advantaged: int) -> float:
    """Signed demographic-parity gap of hard predictions, advantaged minus disadvantaged group:
    ``P(yhat=1 | g=adv) - P(yhat=1 | g=dis)`` (what an anchoring attack tries to raise)."""
    p, g = np.asarray(predictions), np.asarray(groups)
    return float(p[g == advantaged].mean() - p[g != advantaged].mean())


def logistic_predictor(X: np.ndarray, y: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    """Default victim model of :func:`anchoring_attack`: the book's L2 logistic regression."""
    model = LogisticRegression().fit(X, y, n_classes=2)
    return model.predict


def anchoring_attack(
    X: np.ndarray,
    y: np.ndarray,
    groups: np.ndarray,
    rng: np.random.Generator,
    method: str = "RAA",
    eps: float = 0.1,
    tau: float = 0.1,
    n_targets: int = 1,
    radius: float | None = None,
    n_candidates: int | None = 10,
    fit: Callable[[np.ndarray, np.ndarray], Callable] | None = None,
    X_eval: np.ndarray | None = None,
    groups_eval: np.ndarray | None = None,
) -> AnchoringPoison:
    """Mehrabi et al.'s anchoring attack (module docstring); [CH] §5.2 uses ``eps = 0.1``.

    Parameters
    ----------
    method:
        ``"RAA"`` (random targets) or ``"NRAA"`` (targets chosen to maximise the bias after the attack).
    eps:
        Poisoning budget as a fraction of the clean training set: ``round(eps * n)`` points.
    tau:
        Every poison point lies within this Euclidean distance of its target (book's choice; the
        papers state no value): keep it small against the spread of the (standardised) features.
    n_targets:
        Distinct targets per kind of poison.
    radius:
        NRAA's neighbourhood for popularity; default :func:`default_radius` of each candidate set.
    n_candidates:
        NRAA's shortlist per kind: the ``n_candidates`` most popular candidates (``None``: all).
        Each is tried as the target of its kind (the other kind at its best so far, starting from the
        most popular), the victim is refitted with ``fit`` and the candidates giving the largest
        :func:`bias` on ``(X_eval, groups_eval)`` (default: the clean training set) are kept. With
        ``n_candidates=1`` NRAA is Mehrabi et al.'s popularity rule alone.
    fit:
        ``fit(X, y) -> predict``, the attacker's model of the victim (default :func:`logistic_predictor`).
    """
    if method not in METHODS:
        raise ValueError(f"unknown anchoring attack {method!r}; use one of {METHODS}")
    X = np.asarray(X, dtype=float)
    y, g = np.asarray(y).astype(np.int64), np.asarray(groups).astype(np.int64)
    if X.ndim != 2 or y.shape != (len(X),) or g.shape != (len(X),):
        raise ValueError(f"need X (n, d) with y and groups of length n, got {X.shape}, {y.shape}, {g.shape}")
    if not 0 < eps <= 1:
        raise ValueError(f"eps is the poisoning budget as a fraction of the training set, in (0, 1]; got {eps}")
    if tau < 0:
        raise ValueError(f"tau must be >= 0, got {tau}")
    if n_targets < 1:
        raise ValueError(f"n_targets must be >= 1, got {n_targets}")
    if n_candidates is not None and n_candidates < n_targets:
        raise ValueError(f"n_candidates ({n_candidates}) must be >= n_targets ({n_targets}) or None")
    adv = advantaged_group(y, g)
    n_poison = round(eps * len(y))
    n_pos = round(float(np.mean(y == 0)) * n_poison)  # inverse class balance (Mehrabi et al.)
    kinds = [
        (1, n_pos, np.flatnonzero((g == adv) & (y == 0))),  # near advantaged negatives
        (0, n_poison - n_pos, np.flatnonzero((g != adv) & (y == 1))),
    ]  # near disadvantaged positives
    kinds = [(label, count, cand) for label, count, cand in kinds if count > 0]
    for label, _, candidates in kinds:
        if len(candidates) < n_targets:
            raise ValueError(
                f"only {len(candidates)} candidate targets for label-{label} poison, "
                f"n_targets={n_targets}: use fewer targets"
            )
    # the perturbations are drawn once: NRAA compares candidate targets with the same offsets
    offsets = [_ball(rng, count, X.shape[1], tau) for _, count, _ in kinds]

    def build(chosen: list[np.ndarray]) -> AnchoringPoison:
        parts = []
        for (label, count, _), targets_k, off in zip(kinds, chosen, offsets, strict=True):
            t = targets_k[np.arange(count) % len(targets_k)]
            parts.append((X[t] + off, np.full(count, label, np.int64), g[t], t))
        if not parts:
            return AnchoringPoison(
                np.empty((0, X.shape[1])),
                np.empty(0, np.int64),
                np.empty(0, np.int64),
                np.empty(0, np.int64),
                method,
                adv,
            )
        return AnchoringPoison(*(np.concatenate([p[i] for p in parts]) for i in range(4)), method, adv)

    if method == "RAA":
        return build([rng.choice(cand, size=n_targets, replace=False) for _, _, cand in kinds])
    shortlists = []
    for _, _, cand in kinds:
        r = default_radius(X[cand]) if radius is None else float(radius)
        order = np.argsort(-popularity(X[cand], r), kind="stable")
        shortlists.append(cand[order[: len(cand) if n_candidates is None else n_candidates]])
    chosen = [s[:n_targets] for s in shortlists]
    if all(len(s) == n_targets for s in shortlists):
        return build(chosen)  # nothing to choose: the popularity rule alone
    fit = logistic_predictor if fit is None else fit
    X_ev = X if X_eval is None else np.asarray(X_eval, dtype=float)
    g_ev = g if groups_eval is None else np.asarray(groups_eval)
    for k, shortlist in enumerate(shortlists):
        scores = []
        for c in shortlist:
            trial = chosen.copy()
            trial[k] = np.array([c])
            Xp, yp, _, _ = build(trial).combine(X, y, g)
            scores.append(bias(fit(Xp, yp)(X_ev), g_ev, adv))
        best = np.argsort(-np.round(np.array(scores), 12), kind="stable")[:n_targets]
        chosen[k] = shortlist[best]
    return build(chosen)
