"""Chapter 2's experiment driver: [PC] Appendix B.1 / Fig. 5, round-by-round trimming of the
jointly negative samples on the synthetic sets (``notebooks/02_pareto_frontiers.py``)."""

from __future__ import annotations

import numpy as np

from ..ceiling import ceiling_test, region_counts
from ..influence import influence_vectors
from ..models import LogisticRegression
from ..pareto import per_class_metric


# ------------------------------------------------------------------------------ App. B.1
def trim_jointly_negative(model: LogisticRegression, X: np.ndarray, y: np.ndarray, X_val: np.ndarray,
                          y_val: np.ndarray, max_rounds: int = 10, tol: float = 0.0,
                          delta_max: float = 1.0, extra_sets: dict | None = None) -> list[dict]:
    """[PC] Appendix B.1 / Fig. 5: repeatedly fit, compute influence vectors, remove every
    training sample that is jointly negative (``P[i, k] < -tol`` for every class), refit.

    Stops when no jointly negative sample is left or after ``max_rounds``. Each round's record
    holds the kept indices (into the original ``X``), the indices removed in that round, the
    fitted model, per-class validation accuracy (and on ``extra_sets = {name: (X, y)}``), the
    region counts and the :func:`lib.ceiling.ceiling_test` result (normalised by validation
    class sizes) *before* the removal.
    """
    K = int(max(np.max(y), np.max(y_val))) + 1
    sizes = np.bincount(np.asarray(y_val), minlength=K)
    keep = np.arange(len(y))
    rounds = []
    for r in range(max_rounds + 1):
        m = model.clone().fit(X[keep], y[keep], n_classes=K)
        P = influence_vectors(m, X[keep], y[keep], X_val, y_val)
        neg = (P < -tol).all(1)
        rec = {"round": r, "kept": keep, "removed": keep[neg], "model": m, "P": P,
               "val_acc": per_class_metric(m, X_val, y_val, K), "regions": region_counts(P, tol),
               "ceiling": ceiling_test(P, delta_max=delta_max, scale=sizes)}
        for name, (Xe, ye) in (extra_sets or {}).items():
            rec[f"{name}_acc"] = per_class_metric(m, Xe, ye, K)
        rounds.append(rec)
        if not neg.any() or r == max_rounds:
            break
        keep = keep[~neg]
    return rounds


# ------------------------------------------------------------------------------ cross-fitted ceiling
def crossfit_table(model: LogisticRegression, X: np.ndarray, y: np.ndarray, X_val: np.ndarray, y_val: np.ndarray,
                   rng: np.random.Generator, n_splits: int, delta_max: float, confidence: float = 0.95,
                   rho: float | None = None):
    """The cross-fitted ceiling test of one fitted model (:func:`lib.ceiling.crossfit_ceiling_test` on
    its per-validation-sample influence ``Q``): returns ``(result, Q)``."""
    from ..ceiling import crossfit_ceiling_test
    from ..influence import per_sample_influence

    Q = per_sample_influence(model, X, y, X_val, y_val)
    return crossfit_ceiling_test(Q, y_val, rng, n_splits=n_splits, delta_max=delta_max, rho=rho,
                                 confidence=confidence), Q


def crossfit_retraining_check(model: LogisticRegression, X: np.ndarray, y: np.ndarray, X_val: np.ndarray,
                              y_val: np.ndarray, X_test: np.ndarray, y_test: np.ndarray, result, Q_val: np.ndarray,
                              n_checks: int) -> list[dict]:
    """Ground truth for the cross-fitted prediction: for the first ``n_checks`` split directions of
    ``result``, retrain with the weights ``1 + delta`` the LP found on half A and compare, per class,
    the predicted first-order change of the mean per-sample loss (``-Q^T delta``, averaged over the
    class) with the actual change after retraining, on the held-out half B and on the test set."""
    from ..influence import per_sample_influence, retrain

    Q_test = per_sample_influence(model, X, y, X_test, y_test)
    K = int(max(y_val.max(), y_test.max())) + 1
    base_val = model.loss(X_val, y_val).detach().numpy()
    base_test = model.loss(X_test, y_test).detach().numpy()
    rows = []
    for s in range(min(int(n_checks), len(result.deltas))):
        delta, half_a = result.deltas[s], result.halves[s]
        m = retrain(model, X, y, 1.0 + delta)
        actual_val = m.loss(X_val, y_val).detach().numpy() - base_val
        actual_test = m.loss(X_test, y_test).detach().numpy() - base_test
        for where, mask, Qe, act, ye in (("held-out half", ~half_a, Q_val, actual_val, y_val),
                                         ("test set", np.ones(len(y_test), bool), Q_test, actual_test, y_test)):
            pred = -(Qe.T @ delta)
            for k in range(K):
                sel = mask & (ye == k)
                rows.append({"split": s, "where": where, "class": k, "predicted": float(pred[sel].mean()),
                             "actual": float(act[sel].mean())})
    return rows
