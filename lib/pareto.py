"""PARETO-LP-GA ([PC] §3.4, Algorithm 1), made well-posed as book/conventions.md §2 prescribes.

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

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

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
        raise ValueError(
            "normalise=True needs class_sizes (the validation class sizes, "
            "np.bincount(y_val, minlength=K)); or pass normalise=False"
        )
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
        return pulp.LpAffineExpression([*zip(p, coef, strict=True), *zip(q, -coef, strict=True)])

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


def _solve_highs(
    Pn: np.ndarray, targets: list[int], w_max: float, rho: float | None, eps, alpha, sum_to_n: bool
) -> np.ndarray | None:
    """The LP of :func:`_build` solved with SciPy's HiGHS (the same variables ``w = 1 + p - q``);
    ``None`` when it is infeasible."""
    from scipy import sparse
    from scipy.optimize import linprog

    n = Pn.shape[0]
    # variables x = [p (n), q (n)]; sum_i c_i (w_i - 1) = c @ p - c @ q
    obj = Pn[:, targets].sum(1)
    c = -np.concatenate([obj, -obj])  # linprog minimises
    rows = [sparse.csr_matrix(np.hstack([-Pn.T, Pn.T]))]  # -(sum (w - 1) P_k) <= -rhs_k
    rhs = -(-np.asarray(eps, dtype=float) if eps is not None else (np.asarray(alpha, dtype=float) - 1.0) * Pn.sum(0))
    b = [rhs]
    if rho is not None:
        rows.append(sparse.csr_matrix(np.ones((1, 2 * n))))
        b.append(np.array([float(rho) * n]))
    A_eq = b_eq = None
    if sum_to_n:
        A_eq = sparse.csr_matrix(np.concatenate([np.ones(n), -np.ones(n)])[None])
        b_eq = np.zeros(1)
    lo = np.concatenate([np.zeros(n), np.full(n, max(1.0 - float(w_max), 0.0))])
    hi = np.concatenate([np.full(n, max(float(w_max) - 1.0, 0.0)), np.ones(n)])
    res = linprog(
        c,
        A_ub=sparse.vstack(rows).tocsr(),
        b_ub=np.concatenate(b),
        A_eq=A_eq,
        b_eq=b_eq,
        bounds=np.stack([lo, hi], 1),
        method="highs",
    )
    if res.status == 2:  # infeasible
        return None
    if res.status != 0:
        raise RuntimeError(f"HiGHS ended the reweighting LP with status {res.status}: {res.message}")
    return 1.0 + res.x[:n] - res.x[n:]


def pareto_weights(
    P: np.ndarray,
    targets: Sequence[int],
    w_max: float = 3.0,
    rho: float | None = 0.1,
    eps: Sequence[float] | None = None,
    alpha: Sequence[float] | None = None,
    normalise: bool = True,
    class_sizes: np.ndarray | None = None,
    sum_to_n: bool = False,
    solver: str = "cbc",
) -> np.ndarray:
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
    solver:
        ``"cbc"`` (PuLP's CBC) or ``"highs"`` (SciPy's HiGHS: the same LP, about four times faster at
        ``n = 10,000``; where the optimum is not unique the two may return different optimal vertices).

    Returns
    -------
    numpy.ndarray
        The weights ``w``, shape ``(n,)``.

    Raises
    ------
    InfeasibleLPError
        Naming the class constraints (or bounds) to loosen.
    """
    import pulp

    Pn = _class_terms(P, class_sizes, normalise)
    K = Pn.shape[1]
    targets = [int(k) for k in targets]
    if not targets or any(k < 0 or k >= K for k in targets):
        raise ValueError(f"targets must be a non-empty list of class indices in 0..{K - 1}, got {targets}")
    if eps is not None and alpha is not None:
        raise ValueError("pass either eps (book/conventions.md's form) or alpha (the paper's form), not both")
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

    if solver not in ("cbc", "highs"):
        raise ValueError(f"solver must be 'cbc' or 'highs', got {solver!r}")
    if solver == "highs":
        w = _solve_highs(Pn, targets, w_max, rho, eps, alpha, sum_to_n)
        if w is not None:
            return np.clip(w, 0.0, w_max)
    else:
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
        raise InfeasibleLPError(
            "the reweighting LP is infeasible even without class constraints: "
            "loosen the box (w_max), the trust region (rho) or drop sum_to_n"
        )
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
def per_class_metric(
    model: LogisticRegression, X: np.ndarray, y: np.ndarray, K: int, metric: str = "accuracy"
) -> np.ndarray:
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
    """Algorithm 1 line 7 with a finite penalty (book/conventions.md §2): ``-penalty`` per target class
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
    """Outcome of :func:`pareto_lp_ga`.

    ``thresholds``: the best individual (``eps`` or ``alpha`` per class); ``weights``: its LP weights;
    ``model``: ``fit(weights)``; ``val_change``: ``score(model) - base``; ``fitness``: its
    ``(penalised fitness, mean target gain)``; ``history``: the best fitness after each generation
    (and after the last offspring); ``evaluations``: every distinct candidate evaluated, in order,
    as dicts with ``generation``, ``thresholds``, ``fitness``, ``val_change`` (``None`` where the LP
    was infeasible); ``n_evaluations``: how many (= ``len(evaluations)``, each an LP and a ``fit``)."""

    thresholds: np.ndarray
    weights: np.ndarray
    model: Any
    val_change: np.ndarray | None
    fitness: tuple[float, float]
    history: list[tuple[float, float]] = field(default_factory=list)
    evaluations: list[dict] = field(default_factory=list)
    n_evaluations: int = 0


@dataclass
class _Candidate:
    """One GA evaluation, picklable for process workers: thresholds -> LP weights -> ``fit`` ->
    ``score``. Returns ``(weights, model, score)`` or ``(None, None, None)`` for an infeasible LP."""

    P: np.ndarray
    targets: list[int]
    form: str
    lp_kwargs: dict
    fit: Callable[[np.ndarray], Any]
    score: Callable[[Any], np.ndarray]

    def __call__(self, thresholds: np.ndarray):
        kw = {"eps": thresholds} if self.form == "eps" else {"alpha": thresholds}
        try:
            w = pareto_weights(self.P, self.targets, **kw, **self.lp_kwargs)
        except InfeasibleLPError:
            return None, None, None
        model = self.fit(w)
        return w, model, np.asarray(self.score(model), dtype=float)


def default_threshold_max(
    P: np.ndarray,
    form: str = "eps",
    rho: float | None = 0.1,
    class_sizes: np.ndarray | None = None,
    normalise: bool = True,
) -> float:
    """Upper end of the GA's threshold range: for the eps form the largest first-order class change
    the trust region allows (``max_ik |P[i, k]| / n_k * rho * n``; ``rho=None`` counts as 1); 1.5 for
    the alpha form."""
    if form == "alpha":
        return 1.5
    Pn = _class_terms(P, class_sizes, normalise)
    return float(np.abs(Pn).max() * (1.0 if rho is None else rho) * len(Pn))


def pareto_lp_ga(
    P: np.ndarray,
    fit: Callable[[np.ndarray], Any],
    score: Callable[[Any], np.ndarray],
    targets: Sequence[int],
    rng: np.random.Generator,
    base: np.ndarray,
    *,
    form: str = "eps",
    threshold_max: float | None = None,
    generations: int = 20,
    n_elites: int = 6,
    n_mutated: int = 6,
    n_random: int = 6,
    n_children: int = 6,
    mutation_rate: float = 0.25,
    mutation_strength: float = 0.25,
    penalty: float = 1000.0,
    n_jobs: int | None = 1,
    backend: str | None = None,
    progress: bool = False,
    **lp_kwargs,
) -> GAResult:
    """PARETO-LP-GA ([PC] §3.4, Algorithm 1) for any model, with Table 2's defaults.

    ``fit(weights) -> model`` trains a candidate with per-sample loss weights ``weights`` (``(n,)``):
    one weighted epoch from the epoch-``e`` checkpoint for a deep net (Alg. 1 line 5), a refit to
    convergence for a convex model. ``score(model) -> (K,)`` is its per-class metric on the
    validation split (higher is better), ``base`` the metric the change ``Delta_k`` is measured from
    (Alg. 1 line 6: the epoch-``e`` model for Direct Improvement, the standard epoch ``e + 1`` for
    Course Correction). Both must be deterministic (same weights, same model) and, for
    ``n_jobs != 1``, picklable (module-level functions, dataclasses, ``functools.partial``).

    Each individual is a vector of per-class thresholds (``eps_k`` in ``[0, threshold_max]``, or the
    paper's ``alpha_k``) -> :func:`pareto_weights` (``lp_kwargs``: ``w_max``, ``rho``, ``class_sizes``,
    ``normalise``, ``sum_to_n``, ``solver``) -> ``fit`` -> ``score`` -> :func:`fitness` of
    ``score - base`` (finite ``penalty``, tie-break by the mean target gain; an infeasible LP scores
    ``-penalty * (len(targets) + 1)``). Population ``n_elites + n_mutated + n_random + n_children``
    (Table 2: 6+6+6+6 = 24): the elites survive unchanged, mutated copies of elites (Gaussian, per-gene
    probability ``mutation_rate``, sigma ``mutation_strength * threshold_max``), fresh random
    individuals, blend-crossover children of two elites (crossover rate 1.0). ``generations``: GA
    iterations (Table 2: 20).

    The candidates of a generation are independent: they run through :func:`lib.parallel.map_tasks`
    (``n_jobs``, ``backend``); every random draw of the GA happens here, in the calling process, so the
    result does not depend on ``n_jobs``. Identical individuals are evaluated once. Only the best
    model is kept (memory). ``rng`` seeds everything.
    """
    from deap import base as deap_base
    from deap import tools

    from .parallel import map_tasks
    from .reproducibility import progress as progress_bar

    if form not in {"eps", "alpha"}:
        raise ValueError(f"form must be 'eps' or 'alpha', got {form!r}")
    P = np.asarray(P, dtype=float)
    K = P.shape[1]
    targets = [int(k) for k in targets]
    base = np.asarray(base, dtype=float)
    if base.shape != (K,):
        raise ValueError(
            f"base must hold the per-class metric of the reference model ({K} values), got shape {base.shape}"
        )
    if not targets or any(k < 0 or k >= K for k in targets):
        raise ValueError(f"targets must be a non-empty list of class indices in 0..{K - 1}, got {targets}")
    if generations < 1 or n_elites < 1 or min(n_mutated, n_random, n_children) < 0:
        raise ValueError("need generations >= 1, n_elites >= 1 and non-negative n_mutated, n_random, n_children")
    if n_children and n_elites < 2:
        raise ValueError("crossover children need n_elites >= 2 (or n_children=0)")
    _class_terms(P, lp_kwargs.get("class_sizes"), lp_kwargs.get("normalise", True))  # clear error early
    if threshold_max is None:
        threshold_max = default_threshold_max(
            P, form, lp_kwargs.get("rho", 0.1), lp_kwargs.get("class_sizes"), lp_kwargs.get("normalise", True)
        )
    evaluate = _Candidate(P, targets, form, dict(lp_kwargs), fit, score)

    class Fitness(deap_base.Fitness):
        weights = (1.0, 1.0)  # lexicographic: penalised fitness, then mean target gain

    class Individual(list):
        def __init__(self, values):
            super().__init__(np.clip(np.asarray(values, dtype=float), 0.0, threshold_max).tolist())
            self.fitness = Fitness()

    def key(ind) -> tuple:
        return tuple(np.round(np.asarray(ind, dtype=float), 12))

    cache: dict[tuple, tuple[float, float]] = {}
    evaluations: list[dict] = []
    best: dict[str, Any] = {"fitness": None}

    def evaluate_population(pop, generation):
        pending = list(dict.fromkeys(key(ind) for ind in pop if key(ind) not in cache))
        results = map_tasks(evaluate, [np.array(k) for k in pending], n_jobs=n_jobs, backend=backend)
        for k, (w, model, s) in zip(pending, results, strict=True):
            if w is None:
                fit_value, change = (-penalty * (len(targets) + 1), -np.inf), None
            else:
                change = s - base
                fit_value = fitness(change, targets, penalty)
            cache[k] = fit_value
            evaluations.append(
                {"generation": generation, "thresholds": np.array(k), "fitness": fit_value, "val_change": change}
            )
            if w is not None and (best["fitness"] is None or fit_value > best["fitness"]):
                best.update(fitness=fit_value, key=k, weights=w, model=model, change=change)
        for ind in pop:
            ind.fitness.values = cache[key(ind)]

    def random_ind():
        return Individual(rng.uniform(0.0, threshold_max, K))

    def mutate(ind):
        mask = rng.random(K) < mutation_rate
        if not mask.any():
            mask[rng.integers(K)] = True
        return Individual(np.asarray(ind) + mask * rng.normal(0.0, mutation_strength * threshold_max, K))

    def crossover(a, b):
        g = rng.uniform(-0.5, 1.5, K)  # blend (BLX-0.5), as tools.cxBlend
        return Individual(g * np.asarray(a) + (1 - g) * np.asarray(b))

    pop = [random_ind() for _ in range(n_elites + n_mutated + n_random + n_children)]
    history: list[tuple[float, float]] = []
    for generation in progress_bar(range(generations), progress, desc="PARETO-LP-GA"):
        evaluate_population(pop, generation)
        elites = tools.selBest(pop, n_elites)
        history.append(tuple(elites[0].fitness.values))
        mutated = [mutate(elites[int(rng.integers(n_elites))]) for _ in range(n_mutated)]
        children = []
        for _ in range(n_children):
            i, j = rng.choice(n_elites, 2, replace=False)
            children.append(crossover(elites[i], elites[j]))
        pop = list(elites) + mutated + [random_ind() for _ in range(n_random)] + children
    evaluate_population(pop, generations)  # the last offspring too
    history.append(tuple(tools.selBest(pop, 1)[0].fitness.values))
    n_eval = len(evaluations)
    if best["fitness"] is None:  # every LP infeasible: the unweighted model is the answer
        w = np.ones(len(P))
        model = fit(w)
        change = np.asarray(score(model), dtype=float) - base
        th = np.asarray(tools.selBest(pop, 1)[0], dtype=float)
        return GAResult(th, w, model, change, (-penalty * (len(targets) + 1), -np.inf), history, evaluations, n_eval)
    return GAResult(
        np.array(best["key"]),
        best["weights"],
        best["model"],
        best["change"],
        best["fitness"],
        history,
        evaluations,
        n_eval,
    )
