"""Is a classifier at its performance ceiling? First-order tests on category-wise influence.

Input everywhere is the influence-vector matrix ``P`` (``n x K``) of [PC] §3 / Eq. (1) in the
book's sign (``lib.influence.influence_vectors``): ``P[i, k]`` predicts the change of class
``k``'s summed validation loss when training sample ``i`` is removed; positive = ``i`` helps.

Changing the training weights from 1 to ``1 + delta_i`` changes class ``k``'s loss by
``-sum_i delta_i P[i, k]`` to first order (``lib.influence.reweighting_prediction``), so the
per-class *improvement* is ``(P^T delta)_k``. A Pareto improvement exists (to first order)
iff some ``delta`` makes every ``(P^T delta)_k > 0``. By Stiemke's / Gordan's theorem of the
alternative, none exists iff the rows of ``P`` lie on a hyperplane through the origin with a
(semi-)positive normal ``y`` (``P y = 0``, ``y >= 0, y != 0``); book/conventions.md §2 replaces the
paper's PCA check (§5, "first principal component explains > 0.2") with

* :func:`ceiling_test`: the LP ``max t s.t. P^T delta >= t 1, -1 <= delta_i <= delta_max``
  (``t* > 0``: below the ceiling);
* :func:`svd_view`: the *uncentred* SVD of ``P`` (a hyperplane through the origin shows as a
  near-zero smallest singular value; its right singular vector is the normal);
* :func:`pca_check`: the paper's test, kept for comparison.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def _check_P(P: np.ndarray) -> np.ndarray:
    P = np.asarray(P, dtype=float)
    if P.ndim != 2 or P.shape[0] < 1 or P.shape[1] < 2:
        raise ValueError(
            f"P must be an (n_train, K) influence-vector matrix with K >= 2 classes, got shape {P.shape}; "
            "compute it with lib.influence.influence_vectors"
        )
    if not np.isfinite(P).all():
        raise ValueError("P contains NaN or infinite values; check the model's Hessian and the inputs")
    return P


def region_counts(P: np.ndarray, tol: float = 0.0) -> dict[str, int]:
    """Count training samples per region of influence space ([PC] §3.3, Fig. 1).

    ``jointly_positive``: every ``P[i, k] > tol`` (helps every class); ``jointly_negative``:
    every ``P[i, k] < -tol`` (hurts every class: removing it is a first-order Pareto
    improvement); ``tradeoff``: signs differ beyond the band; ``neutral``: the rest (at least
    one coordinate inside the band ``|P[i, k]| <= tol`` and not a trade-off).
    """
    P = _check_P(P)
    pos, neg = P > tol, P < -tol
    jp, jn = pos.all(1), neg.all(1)
    to = pos.any(1) & neg.any(1)
    return {"jointly_positive": int(jp.sum()), "jointly_negative": int(jn.sum()),
            "tradeoff": int(to.sum()), "neutral": int((~(jp | jn | to)).sum())}


def region_labels(P: np.ndarray, tol: float = 0.0) -> np.ndarray:
    """Per-sample region name (same rule as :func:`region_counts`), shape ``(n,)``."""
    P = _check_P(P)
    pos, neg = P > tol, P < -tol
    out = np.full(P.shape[0], "neutral", dtype=object)
    out[pos.any(1) & neg.any(1)] = "tradeoff"
    out[pos.all(1)] = "jointly positive"
    out[neg.all(1)] = "jointly negative"
    return out


@dataclass(frozen=True)
class CeilingResult:
    """Outcome of :func:`ceiling_test`.

    ``t``: optimal worst-class first-order improvement ``min_k (P^T delta)_k``; ``delta``:
    the weight change achieving it; ``gains``: ``P^T delta`` per class; ``t_relative``: ``t``
    divided by the mean over classes of ``sum_i |P[i, k]|`` (scale-free); ``below_ceiling``:
    ``t > tol``.
    """

    t: float
    delta: np.ndarray
    gains: np.ndarray
    t_relative: float
    below_ceiling: bool
    status: str


def ceiling_test(P: np.ndarray, delta_max: float = 1.0, scale: np.ndarray | None = None,
                 rtol: float = 1e-7, time_limit: float | None = None) -> CeilingResult:
    """First-order performance-ceiling test (book/conventions.md §2, replacing [PC] §5's PCA check).

    Solves with PuLP/CBC::

        max t   s.t.  sum_i P[i, k] delta_i / scale_k >= t   for every class k,
                      -1 <= delta_i <= delta_max,

    where ``delta_i = w_i - 1`` is the change of sample ``i``'s training weight (``-1`` removes
    it). ``t* = 0`` (``delta = 0``) is always feasible; ``t* > 0`` means a re-weighting
    improves every class to first order, i.e. the model is *below* its performance ceiling.
    ``scale`` (e.g. the validation class sizes) normalises each class's summed loss.
    ``below_ceiling`` uses the tolerance ``rtol * mean_k sum_i |P[i, k]| / scale_k``.
    """
    import pulp

    P = _check_P(P)
    if delta_max < 0:
        raise ValueError(f"delta_max must be >= 0 (the largest weight increase), got {delta_max}")
    n, K = P.shape
    s = np.ones(K) if scale is None else np.asarray(scale, dtype=float)
    if s.shape != (K,) or (s <= 0).any():
        raise ValueError(f"scale must be {K} positive numbers (one per class), got {s}")
    Ps = P / s
    prob = pulp.LpProblem("ceiling", pulp.LpMaximize)
    d = [pulp.LpVariable(f"d{i}", lowBound=-1.0, upBound=float(delta_max)) for i in range(n)]
    t = pulp.LpVariable("t")
    prob += t
    for k in range(K):
        prob += pulp.LpAffineExpression(list(zip(d, Ps[:, k].tolist()))) - t >= 0, f"class_{k}"
    prob.solve(pulp.PULP_CBC_CMD(msg=False, timeLimit=time_limit))
    status = pulp.LpStatus[prob.status]
    if status != "Optimal":
        raise RuntimeError(f"the ceiling LP ended with status {status!r}; this should not happen "
                           "(delta = 0 is feasible and the box is bounded): check P for huge values")
    delta = np.array([v.value() or 0.0 for v in d])
    gains = Ps.T @ delta
    t_star = float(gains.min())  # recompute from delta (solver's t may carry rounding)
    ref = float(np.abs(Ps).sum(0).mean())
    ref = ref if ref > 0 else 1.0
    return CeilingResult(t=t_star, delta=delta, gains=gains, t_relative=t_star / ref,
                         below_ceiling=bool(t_star > rtol * ref), status=status)


@dataclass(frozen=True)
class SVDView:
    """Uncentred SVD of ``P``: ``singular_values`` (descending), ``normal`` (right singular
    vector of the smallest one, sign chosen so that its sum is >= 0), ``flatness`` =
    ``s_min / s_max`` (0: the rows lie exactly on a hyperplane through the origin), and
    ``positive_normal``: every entry of ``normal`` > 0 (Stiemke: then no Pareto improvement
    exists to first order if ``flatness`` is ~0)."""

    singular_values: np.ndarray
    normal: np.ndarray
    flatness: float
    positive_normal: bool
    at_ceiling: bool


def svd_view(P: np.ndarray, flat_tol: float = 1e-6) -> SVDView:
    """Uncentred SVD view of the ceiling condition (Stiemke's lemma, book/conventions.md §2).

    The rows of ``P`` lie on a hyperplane through the origin iff ``P`` has a zero singular
    value; its right singular vector ``y`` is the hyperplane's normal (``P y = 0``). If ``y``
    is strictly positive, no ``delta`` can make every ``(P^T delta)_k`` positive (since
    ``y^T P^T delta = 0``): the model is at its first-order ceiling. ``at_ceiling`` =
    ``flatness <= flat_tol and positive_normal``. Unlike PCA, nothing is centred: a
    hyperplane through the *origin* is what matters.
    """
    P = _check_P(P)
    _, s, Vt = np.linalg.svd(P, full_matrices=True)
    K = P.shape[1]
    sv = np.zeros(K)
    sv[: len(s)] = s
    y = Vt[-1]
    y = y if y.sum() >= 0 else -y
    flat = float(sv[-1] / sv[0]) if sv[0] > 0 else 0.0
    pos = bool((y > 0).all())
    return SVDView(singular_values=sv, normal=y, flatness=flat, positive_normal=pos,
                   at_ceiling=bool(flat <= flat_tol and pos))


def pca_check(P: np.ndarray, threshold: float = 0.2) -> tuple[float, bool]:
    """The paper's check ([PC] §5): explained-variance ratio of the first principal component
    of the (centred) influence vectors, and whether it exceeds ``threshold`` (the paper reads
    "> 0.2" as "not on a hyperplane: room for Pareto improvement").

    Kept for comparison only: with ``K`` classes the first ratio is always >= ``1/K`` (so for
    ``K <= 5`` the test always says "room for improvement"), and centring removes the origin,
    which is what the ceiling condition is about.
    """
    from sklearn.decomposition import PCA

    P = _check_P(P)
    ratio = float(PCA(n_components=1).fit(P).explained_variance_ratio_[0])
    return ratio, bool(ratio > threshold)
