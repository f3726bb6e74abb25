"""Influence vectors of a training set stored on disk: time and memory against ``n``.

Synthetic softmax regression, ``d = 50``, ``K = 10`` (510 parameters), 1,000 validation samples in
memory; the model is fitted on the first 2,000 training samples (cost does not depend on convergence).
The training set is written to a temporary folder as ``.npy`` files opened as ``np.memmap``: features
**float32** (``n x 50``), labels int64; the result ``P`` (``n x 10``, float64) is written to a third memmap.
The folder is deleted afterwards.

* ``streaming``: ``lib.influence.influence_vectors_streaming`` over ``array_batches(X, y, chunk_size)``:
  two passes (Hessian, then scores), ``n = 1M`` and ``10M``;
* ``in memory``: ``lib.influence.influence_vectors`` on the same data loaded into memory as float64
  (``n = 1M``), for comparison.

Memory, sampled every millisecond in a fresh process per measurement: the growth of the process's
*anonymous* resident memory (``RssAnon``: what the computation allocates, i.e. memory beyond the data) and
of its whole resident set (``VmRSS``, which also counts the pages of the memory-mapped files while they
are mapped: page cache the kernel can drop). Agreement: at 1M the streaming ``P`` against the in-memory
one; at 10M its first 100,000 rows against ``influence_vectors`` on those rows with the streaming
Hessian. Writes ``benchmarks/results/streaming.md``.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import shutil
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from benchmarks.bench_influence_vectors import machine_info

SIZES = tuple(int(s) for s in os.environ.get("BENCH_STREAMING_SIZES", "1000000,10000000").split(","))
D, K, N_VAL = 50, 10, 1_000
CHUNK = 65_536
THREADS = 2
RESULTS = Path(__file__).parent / "results" / "streaming.md"


class _MemSampler(threading.Thread):
    """Peaks of RssAnon and VmRSS (bytes) of this process, from /proc/self/status every millisecond."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.start_anon, self.start_rss = self.read()
        self.peak_anon, self.peak_rss = self.start_anon, self.start_rss
        self.running = True

    @staticmethod
    def read() -> tuple[int, int]:
        vals = {}
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(("RssAnon:", "VmRSS:")):
                    k, v = line.split(":")
                    vals[k] = int(v.split()[0]) * 1024
        return vals["RssAnon"], vals["VmRSS"]

    def run(self) -> None:
        while self.running:
            a, r = self.read()
            self.peak_anon, self.peak_rss = max(self.peak_anon, a), max(self.peak_rss, r)
            time.sleep(0.001)

    def stop(self) -> tuple[float, float]:
        self.running = False
        self.join()
        return (self.peak_anon - self.start_anon) / 2**20, (self.peak_rss - self.start_rss) / 2**20


def _centres() -> np.ndarray:
    return np.random.default_rng(0).standard_normal((K, D))


def write_data(folder: Path, n: int) -> None:
    """``X.npy`` (float32) and ``y.npy`` (int64) of ``n`` samples, generated 1M rows at a time."""
    X = np.lib.format.open_memmap(folder / "X.npy", mode="w+", dtype=np.float32, shape=(n, D))
    y = np.lib.format.open_memmap(folder / "y.npy", mode="w+", dtype=np.int64, shape=(n,))
    c = _centres()
    for i, s in enumerate(range(0, n, 1_000_000)):
        e = min(n, s + 1_000_000)
        rng = np.random.default_rng([1, i])
        y[s:e] = rng.integers(0, K, e - s)
        X[s:e] = c[y[s:e]] + 2.0 * rng.standard_normal((e - s, D))
    X.flush()
    y.flush()
    del X, y


def _model_and_val(X, y):
    from lib.models import LogisticRegression

    rng = np.random.default_rng(2)
    yv = rng.integers(0, K, N_VAL)
    Xv = _centres()[yv] + 2.0 * rng.standard_normal((N_VAL, D))
    model = LogisticRegression(max_iter=20).fit(
        np.asarray(X[:2000], dtype=np.float64), np.asarray(y[:2000]), n_classes=K
    )
    return model, Xv, yv


def _measure(method: str, folder: str, queue) -> None:
    import torch

    torch.set_num_threads(THREADS)
    from lib import influence as inf

    folder = Path(folder)
    X = np.load(folder / "X.npy", mmap_mode="r")
    y = np.load(folder / "y.npy", mmap_mode="r")
    n = len(y)
    model, Xv, yv = _model_and_val(X, y)
    inf.influence_vectors(model, np.asarray(X[:500], dtype=np.float64), y[:500], Xv, yv)  # warm-up
    if method == "in memory":
        X, y = np.asarray(X, dtype=np.float64), np.array(y)  # the data, in memory before the measurement
        sampler = _MemSampler()
        sampler.start()
        t0 = time.perf_counter()
        P = inf.influence_vectors(model, X, y, Xv, yv)
        seconds = time.perf_counter() - t0
        anon, rss = sampler.stop()
        np.save(folder / "P_mem.npy", P)
        queue.put({"seconds": seconds, "anon_mib": anon, "rss_mib": rss, "rel_diff": None})
        return
    out = np.lib.format.open_memmap(folder / "P.npy", mode="w+", dtype=np.float64, shape=(n, K))
    sampler = _MemSampler()
    sampler.start()
    t0 = time.perf_counter()
    H = inf.hessian_streaming(model, inf.array_batches(X, y, chunk_size=CHUNK))
    inf.influence_vectors_streaming(model, inf.array_batches(X, y, chunk_size=CHUNK), Xv, yv, out=out, hessian=H)
    out.flush()
    seconds = time.perf_counter() - t0
    anon, rss = sampler.stop()
    if (folder / "P_mem.npy").exists():
        ref = np.load(folder / "P_mem.npy")
        rel = float(np.abs(out - ref).max() / np.abs(ref).max())
    else:
        m = 100_000
        ref = inf.influence_vectors(model, np.asarray(X[:m], dtype=np.float64), y[:m], Xv, yv, hessian=H)
        rel = float(np.abs(out[:m] - ref).max() / np.abs(ref).max())
    queue.put({"seconds": seconds, "anon_mib": anon, "rss_mib": rss, "rel_diff": rel})


def measure(method: str, folder: Path) -> dict:
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    p = ctx.Process(target=_measure, args=(method, str(folder), q))
    p.start()
    out = q.get()
    p.join()
    return out


def main() -> None:
    info = machine_info()
    rows = []
    for n in SIZES:
        folder = Path(tempfile.mkdtemp(prefix="bench-streaming-"))
        try:
            write_data(folder, n)
            gib = sum(f.stat().st_size for f in folder.iterdir()) / 2**30
            if n == SIZES[0]:
                r = measure("in memory", folder)
                print("in memory", n, r, flush=True)
                rows.append(("in memory (float64)", n, gib, r))
            r = measure("streaming", folder)
            print("streaming", n, r, flush=True)
            rows.append((f"streaming ({CHUNK:,}-row chunks)", n, gib, r))
        finally:
            shutil.rmtree(folder, ignore_errors=True)
    lines = [
        "| method | n train | disk (GiB) | time (s) | anon. peak (MiB) | RSS peak (MiB) | rel. diff |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for method, n, gib, r in rows:
        diff = "reference" if r["rel_diff"] is None else f"{r['rel_diff']:.1e}"
        lines.append(
            f"| {method} | {n:,} | {gib:.2f} | {r['seconds']:.1f} | {r['anon_mib']:.0f} | {r['rss_mib']:.0f} | {diff} |"
        )
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    text = "\n".join(
        [
            "# Influence vectors of a training set on disk",
            "",
            f"Softmax regression, d = {D}, K = {K} (510 parameters), {N_VAL:,} validation samples. The training "
            "set is stored as memory-mapped `.npy` files in a temporary folder (deleted afterwards): features "
            "float32, labels int64; `P` (float64) is written to a third memory-mapped file. Streaming: "
            "`influence_vectors_streaming` (Hessian pass, then score pass). In memory: `influence_vectors` on a "
            "float64 copy loaded before the measurement. Anonymous peak: growth of the process's `RssAnon` "
            "during the call (what the computation allocates beyond the data); RSS peak: growth of "
            "`VmRSS`, which also counts mapped file pages (reclaimable page cache). "
            "Rel. diff (largest |difference| over the largest |P|): at 1M against "
            "the in-memory `P`; at 10M the first 100,000 rows against `influence_vectors` on them. Fresh "
            f"process per row, {THREADS} torch threads. Generated by `python -m benchmarks bench_streaming`.",
            "",
            f"Machine: {info}; load average at end {load}.",
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
