"""PARETO-LP-GA ([PC] §3.4, Algorithm 1), made well-posed as DESIGN.md §2 prescribes.

:func:`pareto_weights` solves Algorithm 1's line-4 LP with PuLP/CBC. As printed the LP is
unbounded (no bounds on ``w``); here

* ``0 <= w_i <= w_max`` (box), optionally ``sum_i w_i = n``;
* a trust region ``sum_i |w_i - 1| <= rho * n`` (split ``w_i = 1 + p_i - q_i``, ``p, q >= 0``) so that the
  first-order prediction ``Delta L_{V_k} ~ -sum_i (w_i - 1) P[i, k]`` stays valid;
* each class term divided by its validation size (``normalise``), i.e. mean instead of summed
  class losses;
* class constraints in the *eps form* ``sum_i (w_i - 1) P[i, k] >= -eps_k`` (``eps_k >= 0``:
  how much first-order loss class ``k`` may lose), or the paper's *alpha form*
  ``sum_i w_i P[i, k] >= alpha_k sum_i P[i, k]`` (which flips meaning when
  ``sum_i P[i, k] < 0``; kept to compare).

The objective maximises the first-order gain of the target classes,
``sum_{k in targets} sum_i (w_i - 1) P[i, k]`` (the constant ``-1`` does not change the
argmax). With box bounds the optimum is a vertex: almost every weight sits at a bound.

:func:`pareto_lp_ga` searches the thresholds ``eps`` (or ``alpha``) with DEAP, Table 2's
defaults, and a finite, tie-broken fitness computed by actually retraining.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from .influence import retrain
from .models import LogisticRegression


class InfeasibleLPError(ValueError):
    """The reweighting LP has no solution; the message says which constraint to loosen."""


def _class_terms(P: np.ndarray, class_sizes: np.ndarray | None, normalise: bool) -> np.ndarray:
    P = np.asarray(P, dtype=float)
    if P.ndim != 2:
        raise ValueError(f"P must be (n_train, K), got shape {P.shape}")
    if not normalise:
        return P
    if class_sizes is None:
        raise ValueError("normalise=True needs class_sizes (the validation class sizes, "
                         "np.bincount(y_val, minlength=K)); or pass normalise=False")
    s = np.asarray(class_sizes, dtype=float)
    if s.shape != (P.shape[1],) or (s <= 0).any():
        raise ValueError(f"class_sizes must be {P.shape[1]} positive counts, got {s}")
    return P / s


def _build(Pn, targets, w_max, rho, eps, alpha, sum_to_n, elastic):
    """LP in the variables ``w_i = 1 + p_i - q_i`` with ``0 <= p_i <= w_max - 1`` and
    ``0 <= q_i <= 1`` (so ``0 <= w_i <= w_max``); the trust region is ``sum (p_i + q_i) <= rho n``,
    which bounds ``sum |w_i - 1|`` without ``2n`` extra constraints (for ``w_max < 1``, ``p_i = 0``
    and ``q_i >= 1 - w_max``). Expressions are built from dicts (fast for large ``n``)."""
    import pulp

    n, K = Pn.shape
    prob = pulp.LpProblem("pareto", pulp.LpMinimize if elastic else pulp.LpMaximize)
    p = [pulp.LpVariable(f"p{i}", 0.0, max(float(w_max) - 1.0, 0.0)) for i in range(n)]
    q = [pulp.LpVariable(f"q{i}", max(1.0 - float(w_max), 0.0), 1.0) for i in range(n)]

    def dw(coef):  # sum_i coef_i (w_i - 1) as an affine expression
        return pulp.LpAffineExpression([*zip(p, coef), *zip(q, -coef)])

    slack = {}
    if rho is not None:
        prob += pulp.LpAffineExpression([(v, 1.0) for v in p + q]) <= float(rho) * n, "trust_region"
    if sum_to_n:
        prob += dw(np.ones(n)) == 0.0, "sum_w_equals_n"
    for k in range(K):
        col = Pn[:, k]
        lhs = dw(col)
        if elastic:
            slack[k] = pulp.LpVariable(f"s{k}", 0.0)
            lhs = lhs + slack[k]
        if eps is not None:
            prob += lhs >= -float(eps[k]), f"class_{k}"
        else:  # sum w P >= alpha sum P  <=>  sum (w - 1) P >= (alpha - 1) sum P
            prob += lhs >= (float(alpha[k]) - 1.0) * float(col.sum()), f"class_{k}"
    if elastic:
        prob += pulp.lpSum(slack.values())
    else:
        prob += dw(Pn[:, targets].sum(1))
    w_expr = (p, q)
    return prob, w_expr, slack


def pareto_weights(P: np.ndarray, targets: Sequence[int], w_max: float = 3.0, rho: float | None = 0.1,
                   eps: Sequence[float] | None = None, alpha: Sequence[float] | None = None,
                   normalise: bool = True, class_sizes: np.ndarray | None = None,
                   sum_to_n: bool = False) -> np.ndarray:
    """Training weights from Algorithm 1's LP (line 4), made well-posed (module docstring).

    Parameters
    ----------
    P:
        Influence vectors ``(n, K)`` (``lib.influence.influence_vectors``).
    targets:
        Indices of the target classes ``C_target`` whose first-order gain is maximised.
    w_max, rho:
        Box ``0 <= w_i <= w_max`` and trust region ``sum |w_i - 1| <= rho * n`` (``None``: off).
    eps, alpha:
        Exactly one: per-class tolerances of the eps form (``eps_k >= 0``) or the paper's
        alpha form. ``eps=None, alpha=None`` means ``eps = 0`` (no class may lose, to first order).
    normalise, class_sizes:
        Divide each class column by its validation size.
    sum_to_n:
        Add ``sum_i w_i = n``.

    Returns the weights ``w`` (``(n,)``). Raises :class:`InfeasibleLPError` naming the class
    constraints (or bounds) to loosen.
    """
    import pulp

    Pn = _class_terms(P, class_sizes, normalise)
    n, K = Pn.shape
    targets = [int(k) for k in targets]
    if not targets or any(k < 0 or k >= K for k in targets):
        raise ValueError(f"targets must be a non-empty list of class indices in 0..{K - 1}, got {targets}")
    if eps is not None and alpha is not None:
        raise ValueError("pass either eps (DESIGN.md's form) or alpha (the paper's form), not both")
    if eps is None and alpha is None:
        eps = np.zeros(K)
    if eps is not None:
        eps = np.asarray(eps, dtype=float)
        if eps.shape != (K,):
            raise ValueError(f"eps must have one value per class ({K}), got shape {eps.shape}")
    else:
        alpha = np.asarray(alpha, dtype=float)
        if alpha.shape != (K,):
            raise ValueError(f"alpha must have one value per class ({K}), got shape {alpha.shape}")
    if w_max < 0 or (rho is not None and rho < 0):
        raise ValueError(f"w_max and rho must be >= 0, got w_max={w_max}, rho={rho}")
    if sum_to_n and w_max < 1:
        raise InfeasibleLPError(f"sum w = n needs w_max >= 1 (got {w_max}): raise w_max or drop sum_to_n")

    prob, (p, q), _ = _build(Pn, targets, w_max, rho, eps, alpha, sum_to_n, elastic=False)
    prob.solve(pulp.PULP_CBC_CMD(msg=False))
    status = pulp.LpStatus[prob.status]
    if status == "Optimal":
        w = 1.0 + np.array([v.value() or 0.0 for v in p]) - np.array([v.value() or 0.0 for v in q])
        return np.clip(w, 0.0, w_max)
    if status == "Unbounded":  # cannot happen with a box, kept for safety
        raise RuntimeError("the reweighting LP is unbounded; this needs finite w_max")
    # Diagnose: minimise the total violation of the class constraints.
    prob2, _, slack = _build(Pn, targets, w_max, rho, eps, alpha, sum_to_n, elastic=True)
    prob2.solve(pulp.PULP_CBC_CMD(msg=False))
    if pulp.LpStatus[prob2.status] != "Optimal":
        raise InfeasibleLPError("the reweighting LP is infeasible even without class constraints: "
                                "loosen the box (w_max), the trust region (rho) or drop sum_to_n")
    bad = {k: float(s.value()) for k, s in slack.items() if (s.value() or 0.0) > 1e-9}
    form = "eps" if eps is not None else "alpha"
    hint = "raise eps_k" if eps is not None else "lower alpha_k (or use the eps form)"
    raise InfeasibleLPError(
        "the reweighting LP is infeasible: the class constraint(s) "
        + ", ".join(f"k={k} (short by {v:.3g})" for k, v in bad.items())
        + f" of the {form} form cannot be met within w_max={w_max}, rho={rho}; {hint}, "
        "or enlarge w_max / rho"
    )


# ------------------------------------------------------------------------------ GA
def per_class_metric(model: LogisticRegression, X: np.ndarray, y: np.ndarray, K: int,
                     metric: str = "accuracy") -> np.ndarray:
    """Per-class accuracy, or minus the mean per-class cross-entropy (``metric="neg_loss"``):
    higher is better for both."""
    y = np.asarray(y)
    if metric == "accuracy":
        pred = model.predict(X)
        return np.array([(pred[y == k] == k).mean() if (y == k).any() else np.nan for k in range(K)])
    if metric == "neg_loss":
        import torch

        with torch.no_grad():
            loss = model.loss(X, y).numpy()
        return np.array([-loss[y == k].mean() if (y == k).any() else np.nan for k in range(K)])
    raise ValueError(f"metric must be 'accuracy' or 'neg_loss', got {metric!r}")


def fitness(delta: np.ndarray, targets: Sequence[int], penalty: float = 1000.0) -> tuple[float, float]:
    """Algorithm 1 line 7 with a finite penalty (DESIGN.md §2): ``-penalty`` per target class
    whose change ``delta_k <= 0``; otherwise the mean target gain plus the mean of the
    non-target losses (``delta_k < 0``), as printed. Second value: the mean target gain (the
    tie-breaker). Returned as a tuple for DEAP's lexicographic comparison."""
    delta = np.asarray(delta, dtype=float)
    t = [int(k) for k in targets]
    others = [k for k in range(len(delta)) if k not in t]
    gain = float(delta[t].mean())
    fails = int((delta[t] <= 0).sum())
    if fails:
        return -penalty * fails, gain
    loss = float(np.minimum(delta[others], 0.0).mean()) if others else 0.0
    return gain + loss, gain


@dataclass
class GAResult:
    """Best thresholds and weights, the history of the best fitness per generation, and the
    per-class metric changes of the best weights on the validation and test splits."""

    thresholds: np.ndarray
    weights: np.ndarray
    fitness: tuple[float, float]
    history: list[tuple[float, float]] = field(default_factory=list)
    val_change: np.ndarray | None = None
    test_change: np.ndarray | None = None
    n_evaluations: int = 0


def pareto_lp_ga(model: LogisticRegression, X_train: np.ndarray, y_train: np.ndarray, P: np.ndarray,
                 X_val: np.ndarray, y_val: np.ndarray, X_test: np.ndarray, y_test: np.ndarray,
                 targets: Sequence[int], rng: np.random.Generator, form: str = "eps",
                 threshold_max: float | None = None, generations: int = 20, n_elites: int = 6,
                 n_mutated: int = 6, n_random: int = 6, n_children: int = 6, mutation_rate: float = 0.25,
                 mutation_strength: float = 0.25, penalty: float = 1000.0, metric: str = "accuracy",
                 **lp_kwargs) -> GAResult:
    """PARETO-LP-GA ([PC] Algorithm 1) with DEAP and Table 2's defaults.

    Population ``n_elites + n_mutated + n_random + n_children`` (6+6+6+6 = 24): the elites
    survive unchanged, mutated copies of elites (Gaussian, per-gene probability
    ``mutation_rate``, sigma ``mutation_strength * threshold_max``), fresh random
    individuals, and blend-crossover children of two elites (crossover rate 1.0). Each
    individual is a vector of per-class thresholds (``eps_k in [0, threshold_max]`` or
    ``alpha_k in [0, threshold_max]``) -> :func:`pareto_weights` -> weights -> the model is
    *retrained to convergence* with them (for a convex model; the paper trains one epoch) on
    the training set -> per-class metric change on the validation split -> :func:`fitness`.
    The best individual's change is also reported on the held-out test split. ``rng`` seeds
    everything. ``lp_kwargs`` go to :func:`pareto_weights` (``w_max``, ``rho``, ``class_sizes``...).
    """
    from deap import base, tools

    if form not in {"eps", "alpha"}:
        raise ValueError(f"form must be 'eps' or 'alpha', got {form!r}")
    K = P.shape[1]
    if lp_kwargs.get("normalise", True) and lp_kwargs.get("class_sizes") is None:
        lp_kwargs["class_sizes"] = np.bincount(np.asarray(y_val), minlength=K)
    if threshold_max is None:
        if form == "eps":  # the largest first-order class change the trust region allows
            Pn = _class_terms(P, lp_kwargs.get("class_sizes"), lp_kwargs.get("normalise", True))
            threshold_max = float(np.abs(Pn).max(0).max() * lp_kwargs.get("rho", 0.1) * len(P))
        else:
            threshold_max = 1.5
    base_val = per_class_metric(model, X_val, y_val, K, metric)
    base_test = per_class_metric(model, X_test, y_test, K, metric)

    class Fitness(base.Fitness):
        weights = (1.0, 1.0)  # lexicographic: penalised fitness, then mean target gain

    class Individual(list):
        def __init__(self, values):
            super().__init__(values)
            self.fitness = Fitness()

    cache: dict[tuple, tuple] = {}

    def solve(ind):
        th = np.clip(np.asarray(ind, dtype=float), 0.0, threshold_max)
        kw = {"eps": th} if form == "eps" else {"alpha": th}
        try:
            w = pareto_weights(P, targets, **kw, **lp_kwargs)
        except InfeasibleLPError:
            return None, None
        m = retrain(model, X_train, y_train, w)
        return w, m

    def evaluate(ind):
        key = tuple(np.round(ind, 12))
        if key not in cache:
            w, m = solve(ind)
            if w is None:
                cache[key] = ((-penalty * (len(targets) + 1), -np.inf), None)
            else:
                d = per_class_metric(m, X_val, y_val, K, metric) - base_val
                cache[key] = (fitness(d, targets, penalty), (w, m, d))
        return cache[key]

    def random_ind():
        return Individual(rng.uniform(0.0, threshold_max, K).tolist())

    def mutate(ind):
        child = Individual(list(ind))
        mask = rng.random(K) < mutation_rate
        if not mask.any():
            mask[rng.integers(K)] = True
        vals = np.asarray(child) + mask * rng.normal(0.0, mutation_strength * threshold_max, K)
        return Individual(np.clip(vals, 0.0, threshold_max).tolist())

    def crossover(a, b):
        g = rng.uniform(-0.5, 1.5, K)  # blend (BLX-0.5), as tools.cxBlend
        vals = g * np.asarray(a) + (1 - g) * np.asarray(b)
        return Individual(np.clip(vals, 0.0, threshold_max).tolist())

    pop = [random_ind() for _ in range(n_elites + n_mutated + n_random + n_children)]
    n_eval = 0
    history: list[tuple[float, float]] = []
    for _ in range(generations):
        for ind in pop:
            if not ind.fitness.valid:
                ind.fitness.values = evaluate(ind)[0]
                n_eval += 1
        elites = tools.selBest(pop, n_elites)
        history.append(tuple(elites[0].fitness.values))
        mutated = [mutate(elites[int(rng.integers(n_elites))]) for _ in range(n_mutated)]
        children = []
        for _ in range(n_children):
            i, j = rng.choice(n_elites, 2, replace=False)
            children.append(crossover(elites[i], elites[j]))
        pop = list(elites) + mutated + [random_ind() for _ in range(n_random)] + children
    for ind in pop:  # evaluate the last offspring too
        if not ind.fitness.valid:
            ind.fitness.values = evaluate(ind)[0]
            n_eval += 1
    best = tools.selBest(pop, 1)[0]
    history.append(tuple(best.fitness.values))
    fit, info = evaluate(best)
    th = np.clip(np.asarray(best, dtype=float), 0.0, threshold_max)
    if info is None:
        return GAResult(th, np.ones(len(P)), fit, history, None, None, n_eval)
    w, m, d = info
    test_change = per_class_metric(m, X_test, y_test, K, metric) - base_test
    return GAResult(th, w, fit, history, d, test_change, n_eval)


