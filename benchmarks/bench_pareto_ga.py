"""PARETO-LP-GA on the quick deep setting of chapter 4 (Fashion-MNIST 14x14, small CNN, float64,
4,000 training images, Direct Improvement at epoch 3): the cost of one GA evaluation (its LP, its
one-epoch fit, its validation score) and of the whole reduced GA, serially and with two worker
processes (``n_jobs=2``, joblib's loky backend). Writes ``benchmarks/results/pareto_ga.md``.

Timings are wall-clock on whatever machine runs it; the table states the cores and the load average
when it started (a shared machine makes them slower, not the ratio's direction). Serial and parallel
give the same GA result (checked here as in ``tests/test_pareto.py``).
"""

from __future__ import annotations

import os
import platform
import time
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results" / "pareto_ga.md"
GA = {"generations": 3, "n_elites": 2, "n_mutated": 2, "n_random": 2, "n_children": 2}


def _setting():
    from lib import reweighting as rw
    from lib.experiments import ch04_deep_pareto_lp_ga as ch

    d = ch.image_data(
        "fashion_mnist",
        image_pool=2,
        n_train=4000,
        n_val=1500,
        n_test=2000,
        dtype="float64",
        rng=np.random.default_rng([0, 10]),
    )
    spec = ch.image_spec(
        d,
        image_model="small_cnn",
        width=8,
        epochs=4,
        lr=0.05,
        batch_size=64,
        momentum=0.9,
        weight_decay=5e-4,
        lr_schedule="triangle",
        dtype="float64",
        device="cpu",
    )
    run = rw.train_run(spec, *d.arrays(), d.n_classes, seed=0)
    P = rw.checkpoint_influence(run, 3, d.X, d.y, d.X_val, d.y_val, d.n_classes, damping=0.1)
    fit = rw.EpochFit(spec, run.checkpoints[3], d.X, d.y, run.orders[3], seed=0)
    score = rw.ClassAccuracy(d.X_val, d.y_val, d.n_classes)
    targets = rw.lowest_classes(run.val_accuracy[3], 2)
    return d, run, P, fit, score, targets


def _median_time(fn, repeat: int = 5) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times)), out


def main() -> None:
    import torch

    from lib import pareto

    torch.set_num_threads(1)
    load = os.getloadavg()[0]
    d, run, P, fit, score, targets = _setting()
    sizes = np.bincount(d.y_val, minlength=d.n_classes)
    lp = {"class_sizes": sizes, "w_max": 3.0, "rho": 0.1}
    eps = np.full(d.n_classes, 0.5 * pareto.default_threshold_max(P, class_sizes=sizes))
    t_cbc, _ = _median_time(lambda: pareto.pareto_weights(P, targets, eps=eps, **lp), 3)
    t_lp, w = _median_time(lambda: pareto.pareto_weights(P, targets, eps=eps, solver="highs", **lp))
    t_fit, model = _median_time(lambda: fit(w))
    t_score, _ = _median_time(lambda: score(model))
    base = run.val_accuracy[3]
    rows, results = [], {}
    # processes (loky) pay their start-up (import torch in each worker) in the first call: run twice
    for label, n_jobs, backend in (
        ("serial", 1, None),
        ("2 processes (loky), first call", 2, "loky"),
        ("2 processes (loky), warm", 2, "loky"),
        ("2 threads", 2, "threading"),
    ):
        start = time.perf_counter()
        res = pareto.pareto_lp_ga(
            P,
            fit,
            score,
            targets,
            np.random.default_rng(0),
            base,
            n_jobs=n_jobs,
            backend=backend,
            solver="highs",
            **GA,
            **lp,
        )
        results[label] = (time.perf_counter() - start, res)
    ref = results["serial"][1]
    same = all(np.array_equal(ref.weights, r.weights) and ref.history == r.history for _, r in results.values())
    n_eval = ref.n_evaluations
    rows = [
        ("LP, CBC (PuLP)", t_cbc),
        ("LP, HiGHS (SciPy)", t_lp),
        ("one weighted epoch from the checkpoint", t_fit),
        ("validation score (per-class accuracy)", t_score),
        ("one GA evaluation (HiGHS LP + epoch + score)", t_lp + t_fit + t_score),
    ]
    setting = (
        f"Fashion-MNIST 14x14, small CNN (float64), {len(d.y)} training and {len(d.y_val)} validation "
        f"images, DI at epoch 3; GA population {GA['n_elites']}+{GA['n_mutated']}+{GA['n_random']}+"
        f"{GA['n_children']}, {GA['generations']} generations ({n_eval} distinct evaluations). Torch threads "
        f"= 1 per process. {os.cpu_count()} cores ({platform.processor() or platform.machine()}), load "
        f"average {load:.1f} when the run started."
    )
    t1 = results["serial"][0]
    speedup = (
        f"Speed-up over serial (one run each): {t1 / results['2 processes (loky), warm'][0]:.2f}x with two "
        f"warm processes, {t1 / results['2 threads'][0]:.2f}x with two threads; the same GA result in "
        f"every mode: {same}."
    )
    lines = [
        "**PARETO-LP-GA: cost of the GA on chapter 4's quick deep setting.**",
        "",
        setting,
        "",
        "| step | seconds (median) |",
        "|---|---|",
        *[f"| {name} | {t:.3g} |" for name, t in rows],
        "",
        "| whole GA | wall seconds | per evaluation |",
        "|---|---|---|",
        *[f"| {k} | {t:.3g} | {t / n_eval:.3g} |" for k, (t, _) in results.items()],
        "",
        speedup,
    ]
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
