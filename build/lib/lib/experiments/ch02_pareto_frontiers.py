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
