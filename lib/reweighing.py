"""Influence-based data reweighing for fairness (after Li & Liu, ICML 2022), a baseline of [CH] §5.1.

Li & Liu down-weight training samples so that a fairness gap ``f`` falls while the validation loss
does not rise, using the first-order influence of each sample's weight. With the book's sign
(``I_f(i)`` predicts ``f(without i) - f(with i)``, so removing a fraction ``delta_i`` of sample ``i``
changes ``f`` by about ``delta_i * I_f(i)``), the weights ``w_i = 1 - delta_i`` solve the linear
program::

    min  sum_i delta_i
    s.t. sum_i delta_i * I_fair(i) <= -alpha * f   (gap falls by alpha)
         sum_i delta_i * I_util(i) <= 0            (no utility cost)
         0 <= delta_i <= 1.

Li & Liu minimise a quadratic norm of the weight change; the L1 objective here keeps it a linear
program (scipy's HiGHS, deterministic) and favours few, large down-weights, closer to trimming.
When the target is out of reach the largest feasible reduction is used instead (``alpha`` is
lowered, and the result says so).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Reweighing:
    """The weights ``w = 1 - delta``, the predicted changes of the fairness gap and of the validation
    loss, and the reduction fraction ``alpha`` actually imposed."""

    weights: np.ndarray
    predicted_fairness_change: float
    predicted_utility_change: float
    alpha: float


def _solve(I_fair: np.ndarray, I_util: np.ndarray, target: float):
    from scipy.optimize import linprog

    n = len(I_fair)
    return linprog(
        np.ones(n),
        A_ub=np.vstack([I_fair, I_util]),
        b_ub=np.array([target, 0.0]),
        bounds=[(0.0, 1.0)] * n,
        method="highs",
    )


def influence_reweighing(I_fair: np.ndarray, I_util: np.ndarray, f_value: float, alpha: float = 0.5) -> Reweighing:
    """Solve the module's linear program for the training weights (book sign for both influences).

    ``f_value`` is the current fairness gap (>= 0, lower is better) and ``alpha`` in ``(0, 1]`` the
    fraction of it to remove to first order. If the program is infeasible, the largest achievable
    reduction (``max -sum delta_i I_fair(i)`` under the other constraints) is imposed instead.
    """
    I_fair, I_util = np.asarray(I_fair, dtype=float), np.asarray(I_util, dtype=float)
    if I_fair.ndim != 1 or I_fair.shape != I_util.shape:
        raise ValueError(f"need two 1-D influence arrays of equal length, got {I_fair.shape} and {I_util.shape}")
    if not 0 < alpha <= 1:
        raise ValueError(f"alpha is the fraction of the gap to remove, in (0, 1]; got {alpha}")
    if f_value < 0:
        raise ValueError(f"f_value is a gap (>= 0), got {f_value}")
    res = _solve(I_fair, I_util, -alpha * f_value)
    used = alpha
    if res.status != 0:  # out of reach: the largest first-order reduction without utility cost
        from scipy.optimize import linprog

        best = linprog(
            I_fair, A_ub=I_util[None], b_ub=np.array([0.0]), bounds=[(0.0, 1.0)] * len(I_fair), method="highs"
        )
        reach = -float(best.fun) if best.status == 0 else 0.0
        used = min(alpha, 0.999 * reach / f_value) if f_value > 0 else 0.0
        res = _solve(I_fair, I_util, -used * f_value) if used > 0 else None
    delta = np.zeros(len(I_fair)) if res is None else np.clip(res.x, 0.0, 1.0)
    return Reweighing(
        weights=1.0 - delta,
        predicted_fairness_change=float(delta @ I_fair),
        predicted_utility_change=float(delta @ I_util),
        alpha=float(used),
    )
