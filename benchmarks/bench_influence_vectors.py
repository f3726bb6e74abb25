"""Time and peak memory of ``lib.influence.influence_vectors`` vs. a per-sample loop.

Synthetic multiclass data (``d = 50`` features, ``K = 10`` classes, so 510 parameters), training
sizes ``n = 1k, 10k, 100k``, 1,000 validation samples. Both methods compute the category-wise
influence matrix ``P (n, K)`` ([PC] Eq. 1) including the Hessian of the training objective:

* ``vectorised``: ``lib.influence.influence_vectors`` (two matrix products, no per-sample loop);
* ``loop``: Hessian + Cholesky once, then for each training sample its loss gradient by autograd,
  a Cholesky solve ``H^{-1} g_i`` and the product with the class-loss gradients.

The loop runs only at the sizes in ``LOOP_SIZES``; elsewhere it is reported as "not run" (no
extrapolation). The model parameters come from a fit on the first 1,000 samples: cost does not
depend on convergence. Each measurement runs in a fresh process; peak memory is the increase of
that process's peak resident set size (``ru_maxrss``) during the call (torch allocations are
invisible to ``tracemalloc``). Writes ``benchmarks/results/influence_vectors.md``.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import platform
import resource
import time
from pathlib import Path

import numpy as np

SIZES = (1_000, 10_000, 100_000)
LOOP_SIZES = (1_000, 10_000)
D, K, N_VAL = 50, 10, 1_000
THREADS = 2
RESULTS = Path(__file__).parent / "results" / "influence_vectors.md"


def _data(n: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((K, D))
    y = rng.integers(0, K, n + N_VAL)
    X = centres[y] + 2.0 * rng.standard_normal((n + N_VAL, D))
    return X[:n], y[:n], X[n:], y[n:]


def loop_influence_vectors(model, X, y, X_val, y_val) -> np.ndarray:
    """The straightforward baseline: one autograd gradient and one ``H^{-1}`` solve per sample."""
    import torch

    from lib.influence import class_loss_gradients

    H = model.hessian(X, y)
    L = torch.linalg.cholesky(H)
    G = class_loss_gradients(model, X_val, y_val)  # (K, P)
    Xt, yt = torch.as_tensor(X), torch.as_tensor(y)
    out = np.empty((len(y), G.shape[0]))
    for i in range(len(y)):
        theta = model.theta_.detach().clone().requires_grad_(True)
        (g,) = torch.autograd.grad(model.loss(Xt[i:i + 1], yt[i:i + 1], theta).sum(), theta)
        out[i] = (G @ torch.cholesky_solve(g.reshape(-1, 1), L))[:, 0].numpy()
    return out


def _measure(method: str, n: int, queue) -> None:
    import torch

    torch.set_num_threads(THREADS)
    from lib.influence import influence_vectors
    from lib.models import LogisticRegression

    X, y, Xv, yv = _data(n)
    model = LogisticRegression(max_iter=20).fit(X[:1000], y[:1000], n_classes=K)
    fn = influence_vectors if method == "vectorised" else loop_influence_vectors
    fn(model, X[:50], y[:50], Xv, yv)  # warm-up
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.perf_counter()
    P = fn(model, X, y, Xv, yv)
    seconds = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base  # KiB on Linux
    check = None
    if method == "loop":  # agreement with the vectorised result on the first 200 samples
        ref = influence_vectors(model, X[:200], y[:200], Xv, yv, hessian=model.hessian(X, y))
        check = float(np.abs(P[:200] - ref).max() / np.abs(ref).max())
    queue.put({"seconds": seconds, "peak_mib": max(peak, 0) / 1024, "rel_diff": check})


def measure(method: str, n: int) -> dict:
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    p = ctx.Process(target=_measure, args=(method, n, q))
    p.start()
    out = q.get()
    p.join()
    return out


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
    return (f"{cpu}; {os.cpu_count()} logical CPUs; torch {torch.__version__} with {THREADS} threads; "
            f"Python {platform.python_version()}; load average at start {load}")


def main() -> None:
    info = machine_info()
    rows = []
    for n in SIZES:
        vec = measure("vectorised", n)
        loop = measure("loop", n) if n in LOOP_SIZES else None
        rows.append((n, vec, loop))
        print(n, vec, loop, flush=True)

    def cell(r, key, fmt):
        return "not run" if r is None else format(r[key], fmt)

    lines = [
        "| n train | vectorised time (s) | loop time (s) | speed-up | vectorised peak (MiB) | loop peak (MiB) | loop vs vectorised (max rel. diff) |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for n, vec, loop in rows:
        speed = "not run" if loop is None else f"{loop['seconds'] / vec['seconds']:.0f}x"
        lines.append(f"| {n:,} | {vec['seconds']:.3f} | {cell(loop, 'seconds', '.2f')} | {speed} | "
                     f"{vec['peak_mib']:.1f} | {cell(loop, 'peak_mib', '.1f')} | {cell(loop, 'rel_diff', '.1e')} |")
    text = "\n".join([
        "# `influence_vectors` vs. a per-sample loop",
        "",
        f"Synthetic data: d = {D} features, K = {K} classes ({(D + 1) * K} parameters), {N_VAL:,} validation "
        "samples; both methods include building the Hessian of the training objective. Peak = increase of "
        "the process's peak resident memory during the call (fresh process per measurement). \"not run\": "
        "the loop was skipped at that size (nothing is extrapolated). Generated by "
        "`python -m benchmarks bench_influence_vectors`.",
        "",
        f"Machine: {info}.",
        "",
        *lines,
        "",
    ])
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
