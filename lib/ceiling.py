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
                 rtol: float = 1e-7, time_limit: float | None = None, rho: float | None = None) -> CeilingResult:
    """First-order performance-ceiling test (book/conventions.md §2, replacing [PC] §5's PCA check).

    Solves with PuLP/CBC::

        max t   s.t.  sum_i P[i, k] delta_i / scale_k >= t   for every class k,
                      -1 <= delta_i <= delta_max,

    where ``delta_i = w_i - 1`` is the change of sample ``i``'s training weight (``-1`` removes
    it). ``t* = 0`` (``delta = 0``) is always feasible; ``t* > 0`` means a re-weighting
    improves every class to first order, i.e. the model is *below* its performance ceiling.
    ``scale`` (e.g. the validation class sizes) normalises each class's summed loss.
    ``below_ceiling`` uses the tolerance ``rtol * mean_k sum_i |P[i, k]| / scale_k``. ``rho`` adds
    the trust region ``sum_i |delta_i| <= rho * n`` (``delta_i = p_i - q_i`` with ``p, q >= 0``), which
    keeps the step small enough for the first-order prediction to hold when it is retrained.
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
    if rho is not None and not rho > 0:
        raise ValueError(f"rho (the trust region sum |delta_i| <= rho * n) must be > 0 or None, got {rho}")
    prob = pulp.LpProblem("ceiling", pulp.LpMaximize)
    t = pulp.LpVariable("t")
    prob += t
    if rho is None:
        d = [pulp.LpVariable(f"d{i}", lowBound=-1.0, upBound=float(delta_max)) for i in range(n)]

        def gain(col):
            return pulp.LpAffineExpression(list(zip(d, col.tolist())))
    else:
        up = [pulp.LpVariable(f"p{i}", lowBound=0.0, upBound=float(delta_max)) for i in range(n)]
        down = [pulp.LpVariable(f"q{i}", lowBound=0.0, upBound=1.0) for i in range(n)]
        prob += pulp.LpAffineExpression([(v, 1.0) for v in up + down]) <= float(rho) * n, "trust_region"

        def gain(col):
            return pulp.LpAffineExpression([*zip(up, col.tolist()), *zip(down, (-col).tolist())])
    for k in range(K):
        prob += gain(Ps[:, k]) - t >= 0, f"class_{k}"
    prob.solve(pulp.PULP_CBC_CMD(msg=False, timeLimit=time_limit))
    status = pulp.LpStatus[prob.status]
    if status != "Optimal":
        raise RuntimeError(f"the ceiling LP ended with status {status!r}; this should not happen "
                           "(delta = 0 is feasible and the box is bounded): check P for huge values")
    if rho is None:
        delta = np.array([v.value() or 0.0 for v in d])
    else:
        delta = np.array([(a.value() or 0.0) - (b.value() or 0.0) for a, b in zip(up, down)])
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


# ------------------------------------------------------------------------------ cross-fitting
@dataclass(frozen=True)
class CrossfitResult:
    """Outcome of :func:`crossfit_ceiling_test`, one row per split *direction* (A -> B and B -> A).

    ``gains[s, k]``: held-out first-order gain of class ``k`` — the mean decrease of a held-out
    validation sample's loss, in nats — when the weights change by the ``delta`` the LP found on the
    other half; ``worst``: ``gains.min(1)``; ``worst_lower``: a one-sided lower confidence bound of
    the worst-class gain (the smallest per-class t-bound); ``p_values``: per split, the
    intersection-union p-value of "every class gains" (the largest per-class one-sided t-test
    p-value); ``p_value``: the splits aggregated as ``min(1, 2 * median)`` (Meinshausen, Meier &
    Bühlmann 2009: valid whatever the dependence between splits); ``fraction_all_gain``: the share of
    splits in which every class's held-out gain is positive; ``in_sample``: the LP on the whole
    validation set (today's test: the optimistic number); ``deltas`` and ``halves`` (boolean masks
    over the validation set, the half the LP was solved on) for retraining checks."""

    gains: np.ndarray
    worst: np.ndarray
    worst_lower: np.ndarray
    p_values: np.ndarray
    p_value: float
    fraction_all_gain: float
    confidence: float
    in_sample: CeilingResult
    deltas: np.ndarray
    halves: np.ndarray

    @property
    def below_ceiling(self) -> bool:
        """Every class gains on held-out validation data, at the stated confidence."""
        return bool(self.p_value < 1.0 - self.confidence)

    @property
    def verdict(self) -> str:
        return "below_ceiling" if self.below_ceiling else "no evidence of room below the ceiling"

    def summary(self) -> dict[str, float | str | bool]:
        """The numbers a page prints: in-sample ``t*`` (optimistic), the held-out worst-class gain
        (median and 5-95 % range over splits), the median lower bound, the share of splits in which
        every class gains, the aggregated p-value and the verdict."""
        lo, hi = np.quantile(self.worst, [0.05, 0.95])
        return {"in-sample t* relative (optimistic)": self.in_sample.t_relative,
                "held-out worst-class gain, median": float(np.median(self.worst)),
                "held-out worst-class gain, 5%": float(lo), "held-out worst-class gain, 95%": float(hi),
                f"worst-class gain lower bound ({self.confidence:.0%}), median": float(np.median(self.worst_lower)),
                "share of splits where every class gains": self.fraction_all_gain,
                "p-value (every class gains)": self.p_value, "verdict": self.verdict}


def stratified_halves(y: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A random boolean mask that puts half of each class's samples (rounded down) in half A."""
    y = np.asarray(y)
    mask = np.zeros(len(y), dtype=bool)
    for k in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == k))
        mask[idx[: len(idx) // 2]] = True
    return mask


def _held_out_gains(Q_B: np.ndarray, y_B: np.ndarray, K: int, delta: np.ndarray, confidence: float):
    """Per class: mean held-out gain, its one-sided lower bound, and the one-sided p-value of
    ``mean gain > 0`` (Student t over the held-out samples of the class)."""
    from scipy import stats

    u = Q_B.T @ delta  # (n_B,): first-order loss decrease of each held-out sample
    mean, lower, p = np.zeros(K), np.zeros(K), np.ones(K)
    for k in range(K):
        uk = u[y_B == k]
        m, sd, n = float(uk.mean()), float(uk.std(ddof=1)), len(uk)
        mean[k] = m
        if sd > 0:
            se = sd / np.sqrt(n)
            lower[k] = m - stats.t.ppf(confidence, n - 1) * se
            p[k] = float(stats.t.sf(m / se, n - 1))
        else:  # delta = 0 (nothing found on the other half) or a degenerate class
            lower[k] = m
            p[k] = 0.0 if m > 0 else 1.0
    return mean, lower, p


def crossfit_ceiling_test(Q: np.ndarray, y_val: np.ndarray, rng: np.random.Generator, n_splits: int = 20,
                          delta_max: float = 1.0, rho: float | None = None, confidence: float = 0.95
                          ) -> CrossfitResult:
    """A ceiling test that generalises: cross-fitted, with a confidence statement.

    The in-sample LP (:func:`ceiling_test` on ``P = Q @ onehot(y_val)``) finds a reweighting that
    improves every class *to first order on the validation set it was computed from*; a finite
    validation set's noise alone lets the rows of ``P`` leave any hyperplane, so the in-sample test
    almost always says "below the ceiling". Here, for each of ``n_splits`` random stratified splits
    of the validation set into halves A and B, the LP is solved on ``P_A`` (class terms divided by
    the class sizes in A) and its ``delta`` is scored on B, whose samples it never saw; then the
    roles swap. The model is declared below its ceiling only when *every* class gains on held-out
    data at the stated ``confidence`` (:class:`CrossfitResult`). ``Q`` is the per-validation-sample
    influence (``n_train x n_val``, :func:`lib.influence.per_sample_influence`); ``rho`` is the LP's
    trust region (:func:`ceiling_test`).
    """
    Q = np.asarray(Q, dtype=float)
    y_val = np.asarray(y_val)
    if Q.ndim != 2 or Q.shape[1] != len(y_val):
        raise ValueError(f"Q must be (n_train, n_val) with n_val = len(y_val) = {len(y_val)}, got shape {Q.shape}")
    if not np.isfinite(Q).all():
        raise ValueError("Q contains NaN or infinite values")
    if not (isinstance(n_splits, (int, np.integer)) and n_splits >= 1):
        raise ValueError(f"n_splits must be an integer >= 1, got {n_splits!r}")
    if not 0.5 <= confidence < 1:
        raise ValueError(f"confidence must lie in [0.5, 1), got {confidence}")
    K = int(y_val.max()) + 1
    counts = np.bincount(y_val, minlength=K)
    if (counts < 4).any():
        raise ValueError(f"every class needs >= 4 validation samples (2 per half); counts {counts.tolist()}")
    onehot = np.eye(K)[y_val]
    in_sample = ceiling_test(Q @ onehot, delta_max=delta_max, scale=counts.astype(float), rho=rho)
    gains, lowers, pvals, deltas, halves = [], [], [], [], []
    for _ in range(int(n_splits)):
        a = stratified_halves(y_val, rng)
        for fit_on, score_on in ((a, ~a), (~a, a)):
            P_fit = Q[:, fit_on] @ onehot[fit_on]
            res = ceiling_test(P_fit, delta_max=delta_max, scale=np.bincount(y_val[fit_on], minlength=K).astype(float),
                               rho=rho)
            m, lo, p = _held_out_gains(Q[:, score_on], y_val[score_on], K, res.delta, confidence)
            gains.append(m)
            lowers.append(lo.min())
            pvals.append(p.max())
            deltas.append(res.delta)
            halves.append(fit_on)
    gains = np.array(gains)
    pvals = np.array(pvals)
    return CrossfitResult(gains=gains, worst=gains.min(1), worst_lower=np.array(lowers), p_values=pvals,
                          p_value=float(min(1.0, 2.0 * np.median(pvals))),
                          fraction_all_gain=float((gains > 0).all(1).mean()), confidence=float(confidence),
                          in_sample=in_sample, deltas=np.array(deltas), halves=np.array(halves))
