"""TMC-Shapley under a time budget, with the time of every permutation measured ([CH] App. E.1, Table 2).

[CH] Table 2 reports that TMC-Shapley (Ghorbani & Zou 2019, "GZ19") took 11.2 hours on Bank and did
not finish in 96 hours on the larger sets. A converged run is out of reach on a laptop, but its cost
is not: :func:`tmc_shapley_capped` runs the same permutation sampling as
:func:`lib.estimators.valuation.tmc_shapley_game` (same generator calls, so the same values for the
permutations it completes) until a wall-clock budget is spent, and records the seconds and utility
evaluations of each permutation. A permutation cut off by the budget is dropped from the values and
its elapsed time kept as a *lower bound* on the time of one permutation.

:func:`gz19_error` is GZ19's stopping statistic (their ``error``: the largest mean relative change of
the running estimate over the last 100 permutations; they stop below ``err = 0.1``, checked every 100
permutations). :func:`prefix_utility` is GZ19's utility: fit a logistic regression on the rows of the
coalition only and score it on a validation set; the empty coalition, and one that lacks a class (GZ19
do not train until every class is present), are worth the accuracy of predicting the validation set's
majority class (their ``init_score`` for accuracy).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..models import LogisticRegression
from .valuation import UtilityFn, _check_n, _check_rng

STOP_REASONS = ("max_permutations", "time_budget")


@dataclass
class CappedRun:
    """Result of :func:`tmc_shapley_capped`.

    ``values``: the TMC-Shapley estimate from the completed permutations (NaN if none completed);
    ``marginals``: ``(P, n)`` marginal contribution of every sample in every completed permutation;
    ``seconds`` / ``evaluations``: wall time and utility evaluations of each completed permutation;
    ``partial_seconds`` / ``partial_evaluations``: those of the permutation the budget cut off (0 if none);
    ``setup_seconds``: time for ``U(D)`` and ``U(empty)``; ``stopped``: ``"max_permutations"`` or ``"time_budget"``.
    """

    values: np.ndarray
    marginals: np.ndarray
    seconds: np.ndarray
    evaluations: np.ndarray
    partial_seconds: float
    partial_evaluations: int
    setup_seconds: float
    time_budget_s: float
    stopped: str

    @property
    def n_permutations(self) -> int:
        return len(self.seconds)

    @property
    def seconds_per_permutation(self) -> float:
        """Mean time of a completed permutation; without one, the elapsed time of the cut-off
        permutation (a lower bound: that permutation was not finished)."""
        return float(self.seconds.mean()) if len(self.seconds) else float(self.partial_seconds)

    @property
    def is_lower_bound(self) -> bool:
        """Whether :attr:`seconds_per_permutation` is only a lower bound (no permutation completed)."""
        return len(self.seconds) == 0

    def estimated_seconds(self, n_permutations: int) -> float:
        """Estimated time of a run of ``n_permutations`` permutations at the measured rate (a lower
        bound when :attr:`is_lower_bound`)."""
        return self.setup_seconds + int(n_permutations) * self.seconds_per_permutation

    @property
    def stderr(self) -> np.ndarray:
        """Monte-Carlo standard error of each value (NaN with fewer than two permutations)."""
        P = self.n_permutations
        if P < 2:
            return np.full(self.marginals.shape[1], np.nan)
        return self.marginals.std(0, ddof=1) / np.sqrt(P)


def tmc_shapley_capped(
    utility_fn: UtilityFn,
    n: int,
    rng: np.random.Generator,
    *,
    time_budget_s: float,
    max_permutations: int | None = None,
    truncation_tol: float = 0.01,
    truncation_reference: str = "range",
    clock: Callable[[], float] = time.perf_counter,
) -> CappedRun:
    """TMC-Shapley (GZ19, Algorithm 1; [S] §4.3.3) until ``time_budget_s`` seconds or ``max_permutations``.

    Permutation sampling exactly as :func:`lib.estimators.valuation.tmc_shapley_game` (one
    ``rng.permutation(n)`` per permutation), one prefix evaluated at a time; the clock is read before
    every evaluation and the run stops as soon as the budget is spent (the cut-off permutation is not
    used). A permutation is truncated once ``|U(D) - U(prefix)| < truncation_tol * r`` with
    ``r = |U(D) - U(empty)|`` (``truncation_reference="range"``, as ``tmc_shapley_game``: the same values)
    or ``r = |U(D)|`` (``"value"``: GZ19's code, ``tolerance * mean_score``; it also waits for 5
    consecutive such prefixes, which we do not). ``clock`` is injectable for tests.
    """
    n = _check_n(n)
    rng = _check_rng(rng, "tmc_shapley_capped")
    if not time_budget_s > 0:
        raise ValueError(f"time_budget_s must be > 0, got {time_budget_s!r}")
    if max_permutations is not None and not (isinstance(max_permutations, (int, np.integer)) and max_permutations >= 1):
        raise ValueError(f"max_permutations must be None or an integer >= 1, got {max_permutations!r}")
    if not truncation_tol >= 0:
        raise ValueError(f"truncation_tol must be >= 0 (0 = no truncation), got {truncation_tol!r}")
    start = clock()
    everything = np.arange(n)
    u_full = float(utility_fn(everything))
    u_empty = float(utility_fn(everything[:0]))
    setup = clock() - start
    if truncation_reference not in ("range", "value"):
        raise ValueError(f"truncation_reference must be 'range' or 'value', got {truncation_reference!r}")
    tol = truncation_tol * (abs(u_full - u_empty) if truncation_reference == "range" else abs(u_full))
    rows, seconds, evaluations = [], [], []
    partial_s, partial_e, stopped = 0.0, 0, "max_permutations"
    while max_permutations is None or len(rows) < max_permutations:
        t0 = clock()
        if t0 - start >= time_budget_s:
            stopped = "time_budget"
            break
        perm = rng.permutation(n)
        marginal = np.zeros(n)
        prev, evals, cut = u_empty, 0, False
        for s in range(n):
            if truncation_tol > 0 and abs(u_full - prev) < tol:
                break
            if s == n - 1:
                cur = u_full
            else:
                if clock() - start >= time_budget_s:
                    cut = True
                    break
                cur = float(utility_fn(perm[: s + 1]))
                evals += 1
            marginal[s] = cur - prev
            prev = cur
        if cut:
            partial_s, partial_e, stopped = clock() - t0, evals, "time_budget"
            break
        row = np.zeros(n)
        row[perm] = marginal
        rows.append(row)
        seconds.append(clock() - t0)
        evaluations.append(evals)
    marginals = np.array(rows).reshape(len(rows), n)
    values = marginals.mean(0) if rows else np.full(n, np.nan)
    return CappedRun(
        values=values,
        marginals=marginals,
        seconds=np.array(seconds, dtype=float),
        evaluations=np.array(evaluations, dtype=int),
        partial_seconds=float(partial_s),
        partial_evaluations=int(partial_e),
        setup_seconds=float(setup),
        time_budget_s=float(time_budget_s),
        stopped=stopped,
    )


def gz19_error(marginals: np.ndarray, window: int = 100) -> float:
    """GZ19's convergence statistic on ``(P, n)`` marginals: with ``v_t`` the running mean after ``t``
    permutations, ``max_{t in last window} mean_i |v_t,i - v_P,i| / (|v_P,i| + 1e-12)``; 1.0 with fewer
    than ``window`` permutations (their code stops when it falls below ``err``, 0.1 in their example)."""
    M = np.asarray(marginals, dtype=float)
    if M.ndim != 2:
        raise ValueError(f"marginals must be a (permutations, samples) matrix, got shape {M.shape}")
    if len(M) < window:
        return 1.0
    running = np.cumsum(M, 0) / np.arange(1, len(M) + 1)[:, None]
    last = running[-window:]
    return float(np.max(np.mean(np.abs(last - last[-1:]) / (np.abs(last[-1:]) + 1e-12), axis=1)))


def prefix_utility(
    X_train: np.ndarray,
    y_train: np.ndarray,
    X_val: np.ndarray,
    y_val: np.ndarray,
    *,
    l2: float | str = "auto",
    n_classes: int | None = None,
) -> UtilityFn:
    """GZ19's game: ``U(S)`` = validation accuracy of ``LogisticRegression(l2)`` fitted on the rows ``S``
    alone (cold start, like their ``clone``). The empty set and a subset that lacks a class are worth the
    accuracy of always predicting the validation set's majority class (GZ19's value of an untrained
    model; they do not train until every class is present)."""
    X_train, X_val = np.asarray(X_train, dtype=float), np.asarray(X_val, dtype=float)
    y_train, y_val = np.asarray(y_train).astype(int), np.asarray(y_val).astype(int)
    K = int(max(y_train.max(), y_val.max())) + 1 if n_classes is None else int(n_classes)
    prior = float(np.bincount(y_val, minlength=K).max() / len(y_val))

    def utility(subset: np.ndarray) -> float:
        idx = np.asarray(subset, dtype=np.int64)
        if idx.size == 0 or np.unique(y_train[idx]).size < K:
            return prior
        return LogisticRegression(l2=l2).fit(X_train[idx], y_train[idx], n_classes=K).score(X_val, y_val)

    return utility
