"""Time and peak memory of ``lib.influence.influence_vectors`` vs. a per-sample loop.

Synthetic multiclass data (``d = 50`` features, ``K = 10`` classes, so 510 parameters), training
sizes ``n = 1k, 10k, 100k``, 1,000 validation samples. Both methods compute the category-wise
influence matrix ``P (n, K)`` ([PC] Eq. 1) including the Hessian of the training objective:

* ``vectorised``: ``lib.influence.influence_vectors`` (two matrix products, no per-sample loop);
* ``loop``: Hessian + Cholesky once, then for each training sample its loss gradient by autograd,
  a Cholesky solve ``H^{-1} g_i`` and the product with the class-loss gradients.

The loop runs only at the sizes in ``LOOP_SIZES``; elsewhere it is reported as "not run" (no
extrapolation). The model parameters come from a fit on the first 1,000 samples: cost does not
depend on convergence. Each measurement runs in a fresh process (stopped after ``TIMEOUT_S``);
peak memory is the largest resident set size sampled every millisecond during the call minus the
one at its start (torch allocations are invisible to ``tracemalloc``). Writes
``benchmarks/results/influence_vectors.md``.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import platform
import threading
import time
from pathlib import Path

import numpy as np

SIZES = (1_000, 10_000, 100_000)
LOOP_SIZES = SIZES
TIMEOUT_S = 400  #: a measurement still running after this is stopped and reported as "not run"
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
        (g,) = torch.autograd.grad(model.loss(Xt[i : i + 1], yt[i : i + 1], theta).sum(), theta)
        out[i] = (G @ torch.cholesky_solve(g.reshape(-1, 1), L))[:, 0].numpy()
    return out


class _RssSampler(threading.Thread):
    """Largest resident set size of this process (bytes), sampled from /proc every millisecond."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.page = os.sysconf("SC_PAGE_SIZE")
        self.start_rss = self.peak = self.rss()
        self.running = True

    def rss(self) -> int:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * self.page

    def run(self) -> None:
        while self.running:
            self.peak = max(self.peak, self.rss())
            time.sleep(0.001)

    def stop(self) -> float:
        self.running = False
        self.join()
        self.peak = max(self.peak, self.rss())
        return (self.peak - self.start_rss) / 2**20


def _measure(method: str, n: int, queue) -> None:
    import torch

    torch.set_num_threads(THREADS)
    from lib.influence import influence_vectors
    from lib.models import LogisticRegression

    X, y, Xv, yv = _data(n)
    model = LogisticRegression(max_iter=20).fit(X[:1000], y[:1000], n_classes=K)
    fn = influence_vectors if method == "vectorised" else loop_influence_vectors
    fn(model, X[:50], y[:50], Xv, yv)  # warm-up
    sampler = _RssSampler()
    sampler.start()
    t0 = time.perf_counter()
    P = fn(model, X, y, Xv, yv)
    seconds = time.perf_counter() - t0
    peak_mib = sampler.stop()
    check = None
    if method == "loop":  # agreement with the vectorised result on the first 200 samples
        ref = influence_vectors(model, X[:200], y[:200], Xv, yv, hessian=model.hessian(X, y))
        check = float(np.abs(P[:200] - ref).max() / np.abs(ref).max())
    queue.put({"seconds": seconds, "peak_mib": peak_mib, "rel_diff": check})


def measure(method: str, n: int) -> dict | None:
    """One measurement in a fresh process; ``None`` if it did not finish within ``TIMEOUT_S``."""
    import queue as queue_mod

    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    p = ctx.Process(target=_measure, args=(method, n, q))
    p.start()
    try:
        out = q.get(timeout=TIMEOUT_S)
    except queue_mod.Empty:
        out = None
        p.terminate()
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
    return (
        f"{cpu}; {os.cpu_count()} logical CPUs; torch {torch.__version__} with {THREADS} threads; "
        f"Python {platform.python_version()}; load average at start {load}"
    )


def main() -> None:
    info = machine_info()
    rows = []
    for n in SIZES:
        vec = measure("vectorised", n)
        loop = measure("loop", n) if n in LOOP_SIZES else None
        if loop is None and n in LOOP_SIZES:
            print(f"loop at n={n} did not finish within {TIMEOUT_S} s: reported as not run", flush=True)
        rows.append((n, vec, loop))
        print(n, vec, loop, flush=True)

    def cell(r, key, fmt):
        return "not run" if r is None else format(r[key], fmt)

    lines = [
        "| n train | vectorised time (s) | loop time (s) | speed-up | vectorised peak (MiB) | loop peak (MiB) "
        "| loop vs vectorised (max rel. diff) |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for n, vec, loop in rows:
        if vec is None:
            lines.append(f"| {n:,} | not run (> {TIMEOUT_S} s) | not run | | | | |")
            continue
        speed = "not run" if loop is None else f"{loop['seconds'] / vec['seconds']:.0f}x"
        lines.append(
            f"| {n:,} | {vec['seconds']:.3f} | {cell(loop, 'seconds', '.2f')} | {speed} | "
            f"{vec['peak_mib']:.1f} | {cell(loop, 'peak_mib', '.1f')} | {cell(loop, 'rel_diff', '.1e')} |"
        )
    text = "\n".join(
        [
            "# `influence_vectors` vs. a per-sample loop",
            "",
            f"Synthetic data: d = {D} features, K = {K} classes ({(D + 1) * K} parameters), {N_VAL:,} validation "
            "samples; both methods include building the Hessian of the training objective. Peak = increase of "
            "the process's resident memory during the call, sampled every ms (fresh process per measurement). "
            f'"not run": '
            f"the loop was skipped at that size or stopped after {TIMEOUT_S} s (nothing is extrapolated). Generated by "
            "`python -m benchmarks bench_influence_vectors`.",
            "",
            f"Machine: {info}.",
            "",
            *lines,
            "",
        ]
    )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
