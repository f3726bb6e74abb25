"""EKFAC category-wise influence (kronfluence) vs. exact Gauss-Newton influence: time and peak
memory per 1,000 training samples on the quick-profile models. Writes ``benchmarks/results/ekfac.md``.

Peak memory is the resident-set growth of this process during the call, sampled every 5 ms
(torch allocations are invisible to tracemalloc). Timings are wall-clock on whatever machine runs
it; the table states the thread count.
"""

from __future__ import annotations

import functools
import os
import threading
import time
from pathlib import Path

import numpy as np
import torch

RESULTS = Path(__file__).resolve().parent / "results" / "ekfac.md"


def _rss() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def measure(fn):
    """(result, seconds, peak RSS growth in MiB) of ``fn()``."""
    base, peak, stop = _rss(), [0], threading.Event()

    def watch():
        while not stop.is_set():
            peak[0] = max(peak[0], _rss() - base)
            time.sleep(0.005)

    t = threading.Thread(target=watch, daemon=True)
    t.start()
    start = time.perf_counter()
    out = fn()
    seconds = time.perf_counter() - start
    stop.set()
    t.join()
    return out, seconds, max(peak[0], _rss() - base) / 2**20


def _cases(rng: np.random.Generator):
    import lib.datasets.images as images
    from lib import deep

    mnist = images.load_mnist5k()
    X14 = images.pool_images(mnist.X, (1, 28, 28), 2).reshape(-1, 1, 14, 14)
    idx = rng.permutation(len(mnist))
    emb = rng.normal(size=(1200, 384)).astype(np.float32)  # embedding-shaped inputs (timing only)
    y_emb = rng.integers(0, 4, 1200)
    yield (
        "small_cnn, MNIST 14x14",
        deep.build("small_cnn", rng, image_size=14, width=8),
        X14[idx[:1000]],
        mnist.y[idx[:1000]],
        X14[idx[1000:1200]],
        mnist.y[idx[1000:1200]],
        10,
    )
    yield (
        "mlp_head 384-64-4",
        deep.build("mlp_head", rng, n_classes=4, hidden=64),
        emb[:1000],
        y_emb[:1000],
        emb[1000:],
        y_emb[1000:],
        4,
    )
    yield (
        "mlp_head 384-8-4 (exact feasible)",
        deep.build("mlp_head", rng, n_classes=4, hidden=8),
        emb[:1000],
        y_emb[:1000],
        emb[1000:],
        y_emb[1000:],
        4,
    )


def _markdown(df) -> str:
    cell = lambda v: f"{v:.3g}" if isinstance(v, float) else str(v)  # noqa: E731
    lines = ["| " + " | ".join(df.columns) + " |", "|" + "---|" * len(df.columns)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in df.itertuples(index=False)]
    return "\n".join(lines)


def main() -> Path:
    from lib import deep, ekfac

    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    rows = []
    for name, model, X, y, Xv, yv, K in _cases(rng):
        deep.train(model, X, y, rng=np.random.default_rng(1), epochs=2, lr=0.05, batch_size=64, n_classes=K)
        n_par = sum(p.numel() for p in model.parameters())
        P, sec, mib = measure(
            functools.partial(
                ekfac.category_influence, model, X, y, Xv, yv, K, rng=np.random.default_rng(2), damping=0.1
            )
        )
        row = {
            "model": name,
            "params": n_par,
            "train": len(y),
            "val": len(yv),
            "EKFAC s/1k": sec * 1000 / len(y),
            "EKFAC MiB": mib,
            "exact s/1k": float("nan"),
            "exact MiB": float("nan"),
            "r vs exact": float("nan"),
        }
        if n_par <= 5000:
            Pe, sec_e, mib_e = measure(
                functools.partial(ekfac.exact_category_influence, model, X, y, Xv, yv, K, damping=0.1)
            )
            row.update(
                {
                    "exact s/1k": sec_e * 1000 / len(y),
                    "exact MiB": mib_e,
                    "r vs exact": float(np.mean([np.corrcoef(P[:, k], Pe[:, k])[0, 1] for k in range(K)])),
                }
            )
        rows.append(row)
    import pandas as pd

    df = pd.DataFrame(rows)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        "# EKFAC category-wise influence: cost per 1,000 training samples\n\n"
        "kronfluence EKFAC (factor fitting + pairwise scores, damping 0.1) against the explicit "
        "Gauss-Newton influence (`lib.ekfac.exact_category_influence`, only for <= 5,000 parameters). "
        f"CPU, torch threads = {torch.get_num_threads()}; s/1k = seconds per 1,000 training samples; "
        "MiB = peak resident-set growth during the call. "
        "Exact influence scales with parameters^3 (solve) and n * K * parameters (Jacobians); "
        "EKFAC with the per-layer Kronecker factors.\n\n" + _markdown(df) + "\n"
    )
    return RESULTS


if __name__ == "__main__":
    print(main().read_text())
