"""[CH] App. E.1, Table 2: influence vs TMC-Shapley execution time on Adult, Bank and CelebA.

At the paper's sizes (App. C.1 totals, 60/20/20 splits of random rows: Adult 45,222, Bank 30,488,
CelebA 104,163 rows), the book's L2 logistic regression fitted first (not timed, as in the authors'
``APPENDIX-F.py``). Then, per set:

* **influence**: the influence of every training sample on the three [CH] functions (utility, DP
  fairness, robustness on the linearly attacked validation set): quantity gradients, the Hessian and
  the solves (``lib.influence.influence_on`` with one shared Hessian); the median of 3 runs;
* **TMC-Shapley**: ``lib.estimators.capped.tmc_shapley_capped`` with GZ19's game
  (``prefix_utility``: validation accuracy of a logistic regression fitted on the coalition) and their
  truncation (a permutation stops once a prefix scores within 1% of ``U(D)``), stopped after
  ``TMC_BUDGET_S`` seconds; the time of every completed permutation is recorded (if none completes,
  the elapsed time of the cut-off one is a lower bound). A converged run is *estimated* as 100
  permutations (GZ19 check their stopping rule every 100 permutations: no converged run is shorter)
  and as ``n`` permutations (about as many permutations as samples).

Writes ``benchmarks/results/ch_table2.md`` (shown by chapter 5 and the benchmarks page) and
``ch_table2.csv`` (read by chapter 5's claims table). ``BENCH_TMC_BUDGET_S`` overrides the cap.
"""

from __future__ import annotations

import csv
import os
import platform
import time
from pathlib import Path

import numpy as np

ROWS = {"bank": 30_488, "adult": 45_222, "celeba": 104_163}
TMC_BUDGET_S = float(os.environ.get("BENCH_TMC_BUDGET_S", "300"))
SEED = 42
THREADS = 1
RESULTS = Path(__file__).parent / "results" / "ch_table2.md"
PAPER = {"bank": ("1.659 s", "11.2 h"), "adult": ("4.061 s", "> 96 h"), "celeba": ("2.301 s", "> 96 h")}


def machine_info() -> str:
    import torch

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return (
        f"{cpu}; {os.cpu_count()} logical CPUs; torch {torch.__version__} with {THREADS} thread; "
        f"Python {platform.python_version()}; load average at start {load}"
    )


def split(name: str):
    from lib import datasets
    from lib.preprocessing import standardise

    ds = datasets.load(name)
    n = ROWS[name]
    idx = np.random.default_rng(SEED).permutation(len(ds))[:n]
    n_tr, n_val = round(0.6 * n), round(0.2 * n)
    tr, va = idx[:n_tr], idx[n_tr : n_tr + n_val]
    X_train, X_val = standardise(ds.X[tr], ds.X[va])
    return X_train, ds.y[tr], X_val, ds.y[va], ds.groups[va]


def influence_seconds(model, X_train, y_train, X_val, y_val, g_val) -> float:
    from lib import fairness, influence

    t0 = time.perf_counter()
    X_adv = fairness.linear_attack(model, X_val, 1.3)
    fs = [
        fairness.utility_quantity(X_val, y_val),
        fairness.dp_quantity(X_val, g_val),
        fairness.robustness_quantity(X_adv, y_val),
    ]
    H = model.hessian(X_train, y_train)
    for f in fs:
        influence.influence_on(model, X_train, y_train, f, hessian=H)
    return time.perf_counter() - t0


def measure(name: str) -> dict:
    import torch

    from lib.estimators.capped import prefix_utility, tmc_shapley_capped
    from lib.models import LogisticRegression

    torch.set_num_threads(THREADS)
    X_train, y_train, X_val, y_val, g_val = split(name)
    model = LogisticRegression().fit(X_train, y_train)
    infl = float(np.median([influence_seconds(model, X_train, y_train, X_val, y_val, g_val) for _ in range(3)]))
    run = tmc_shapley_capped(
        prefix_utility(X_train, y_train, X_val, y_val, n_classes=2),
        len(y_train),
        np.random.default_rng(SEED),
        time_budget_s=TMC_BUDGET_S,
        truncation_tol=0.01,
        truncation_reference="value",
    )
    per = run.seconds_per_permutation
    evals = float(run.evaluations.mean()) if run.n_permutations else float(run.partial_evaluations)
    return {
        "dataset": name,
        "n_train": len(y_train),
        "features": X_train.shape[1],
        "influence_s": infl,
        "tmc_budget_s": TMC_BUDGET_S,
        "tmc_permutations": run.n_permutations,
        "tmc_s_per_permutation": per,
        "tmc_lower_bound": run.is_lower_bound,
        "tmc_evals_per_permutation": evals,
        "tmc_100_h": run.estimated_seconds(100) / 3600,
        "tmc_n_h": run.estimated_seconds(len(y_train)) / 3600,
    }


def render(rows: list[dict], info: str) -> str:
    """The results page: one column per set (narrow enough for the book's text column)."""

    def cell(r: dict, key: str, fmt: str) -> str:
        lb = ">= " if r["tmc_lower_bound"] and key != "tmc_permutations" else ""
        return lb + format(r[key], fmt)

    table = [
        ("training samples", lambda r: f"{r['n_train']:,}"),
        ("features", lambda r: str(r["features"])),
        ("influence, 3 functions (s)", lambda r: f"{r['influence_s']:.2f}"),
        ("paper: influence", lambda r: PAPER[r["dataset"]][0]),
        ("TMC permutations within the cap", lambda r: str(r["tmc_permutations"])),
        ("TMC seconds per permutation", lambda r: cell(r, "tmc_s_per_permutation", ".0f")),
        ("prefixes fitted per permutation", lambda r: cell(r, "tmc_evals_per_permutation", ".0f")),
        ("estimate: 100 permutations (h)", lambda r: cell(r, "tmc_100_h", ".1f")),
        ("estimate: n permutations (h)", lambda r: cell(r, "tmc_n_h", ",.0f")),
        ("paper: TMC-Shapley", lambda r: PAPER[r["dataset"]][1]),
    ]
    lines = ["| | " + " | ".join(r["dataset"] for r in rows) + " |", "|---|" + "---:|" * len(rows)]
    lines += [f"| {label} | " + " | ".join(fn(r) for r in rows) + " |" for label, fn in table]
    return "\n".join(
        [
            "# [CH] Table 2: influence vs TMC-Shapley",
            "",
            "Logistic regression at the paper's sizes (60% of the App. C.1 totals for training). Influence: the three "
            "[CH] functions for every training sample (median of 3 runs; the fit is not timed). TMC-Shapley: GZ19's "
            "game (validation accuracy of a logistic regression fitted on the coalition), truncated once a prefix "
            "scores within 1% of the full set's accuracy (GZ19's tolerance 0.01), stopped after "
            f"{rows[0]['tmc_budget_s']:.0f} s; `>=` marks a lower bound (no permutation finished within the cap). The "
            "estimates are the measured time per permutation times 100 (the fewest permutations after which GZ19 "
            "stop) and times n. Generated by `python -m benchmarks bench_ch_table2`.",
            "",
            f"Machine: {info}.",
            "",
            *lines,
            "",
        ]
    )


def main() -> None:
    info = machine_info()
    rows = []
    for name in ROWS:
        rows.append(measure(name))
        print(rows[-1], flush=True)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    with RESULTS.with_suffix(".csv").open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    text = render(rows, info)
    RESULTS.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
