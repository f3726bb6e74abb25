"""The book's ``influence_vectors`` against peer libraries on one fitted softmax regression.

Each peer is installed in its own virtual environment under ``benchmarks/.peers/`` (git-ignored; another
folder with ``PEERS_DIR``), from the pins in ``benchmarks/peers/<peer>.txt`` — none of them is a
dependency of the project: pyDVL 0.10.0 (needs numpy < 2), captum 0.9.0, dattri 0.3.0, each with the
local CPU build of ``torch==2.13.0``. For ``n = 1k, 10k, 100k`` the script fits
``lib.models.LogisticRegression`` (float64, d = 50, K = 10, 510 parameters; default ``l2``) on
synthetic data, exports the parameters and the data to ``.npy`` files, and runs every method in a
fresh process of its own environment (``benchmarks/peers/worker.py``), stopped past ``MEM_LIMIT_GIB``
of resident memory or ``TIMEOUT_S`` seconds. The book's own row runs ``influence_vectors`` in a fresh
process of the project's environment.

Agreement of the per-class influence matrix ``P`` (n x K):

* against **the project's formula on the peer's Hessian**: every peer damps all parameters with one
  constant, the intercept included, while the book penalises only the weights (and fills the softmax's
  flat intercept direction, which no gradient reaches). With the damping set to the book's ``l2``, a
  peer's Hessian is ``sum_i hess_i + l2 * I``; ``grad L_{V_k}^T (that)^{-1} grad loss_i`` computed with
  ``lib`` is what the peer should return (an exact peer agrees to rounding);
* against **the book's** ``influence_vectors`` (its own Hessian): Pearson correlation over all entries
  and the largest difference relative to the largest ``|P|``; this difference is the intercept damping.

Time: the peer's work from the model to ``P`` (data in memory, imports done); peak: resident memory
beyond what the process held before (``ru_maxrss``). Writes ``benchmarks/results/peers.md``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.bench_influence_vectors import machine_info

SIZES = tuple(int(s) for s in os.environ.get("BENCH_PEERS_SIZES", "1000,10000,100000").split(","))
D, K, N_VAL = 50, 10, 1_000
THREADS = 2
MEM_LIMIT_GIB = 8.0  #: a run whose resident memory passes this is stopped (the machine has 24 GiB, shared)
TIMEOUT_S = 600
#: method -> (environment, label in the table)
METHODS = {
    "captum_naive": ("captum", "captum NaiveInfluenceFunction"),
    "pydvl_direct": ("pydvl", "pyDVL DirectInfluence"),
    "pydvl_cg": ("pydvl", "pyDVL CgInfluence"),
    "dattri_explicit": ("dattri", "dattri IFAttributorExplicit"),
}
#: the methods to run (all by default; ``BENCH_PEERS_METHODS=captum_naive,pydvl_direct`` for a subset)
WANTED = os.environ.get("BENCH_PEERS_METHODS", ",".join(METHODS)).split(",")
HERE = Path(__file__).parent
PEERS_DIR = Path(os.environ.get("PEERS_DIR", HERE / ".peers"))
RESULTS = HERE / "results" / "peers.md"


def ensure_venv(name: str) -> Path:
    """``PEERS_DIR/name`` with the pins of ``benchmarks/peers/name.txt`` installed (once; a stamp file
    holding the pins' text tells whether it is current)."""
    venv = PEERS_DIR / name
    pins = (HERE / "peers" / f"{name}.txt").read_text()
    stamp = venv / ".pins"
    if stamp.exists() and stamp.read_text() == pins:
        return venv / "bin" / "python"
    print(f"installing {name} into {venv}", flush=True)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # nothing of the project's leaks in
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True, env=env)
    py = venv / "bin" / "python"
    subprocess.run([str(py), "-m", "pip", "install", "-q", "--upgrade", "pip"], check=True, env=env)
    subprocess.run(
        [str(py), "-m", "pip", "install", "-q", "-r", str(HERE / "peers" / f"{name}.txt")], check=True, env=env
    )
    stamp.write_text(pins)
    return py


def _data(n: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((K, D))
    y = rng.integers(0, K, n + N_VAL)
    X = centres[y] + 2.0 * rng.standard_normal((n + N_VAL, D))
    return X[:n], y[:n], X[n:], y[n:]


def export(n: int, folder: Path):
    """Fit the model on ``n`` samples and write what every process loads; returns (model, arrays)."""
    from lib.models import LogisticRegression

    X, y, Xv, yv = _data(n)
    model = LogisticRegression().fit(X, y, n_classes=K)
    folder.mkdir(parents=True, exist_ok=True)
    for name, a in (
        ("X", X),
        ("y", y),
        ("Xv", Xv),
        ("yv", yv),
        ("W", model.coef_),
        ("b", model.intercept_),
        ("l2", np.array(model.l2_)),
    ):
        np.save(folder / f"{name}.npy", np.array(a, order="C"))
    return model, (X, y, Xv, yv)


def _ours_worker(data: str, out: str) -> None:
    """The book's row, in a fresh process like the peers'."""
    import resource

    import torch

    torch.set_num_threads(THREADS)
    from lib.influence import influence_vectors
    from lib.models import LogisticRegression

    d = Path(data)
    X, y, Xv, yv = (np.load(d / f"{f}.npy") for f in ("X", "y", "Xv", "yv"))
    model = LogisticRegression().fit(X[:200], y[:200], n_classes=K)  # the shapes; parameters set below
    W, b = np.load(d / "W.npy"), np.load(d / "b.npy")
    model.theta_ = torch.as_tensor(np.vstack([W.T, b[None, :]]))
    model.l2_ = float(np.load(d / "l2.npy"))
    influence_vectors(model, X[:100], y[:100], Xv, yv)  # warm-up
    with open("/proc/self/statm") as f:
        before = int(f.read().split()[1]) * 4096
    t0 = time.perf_counter()
    P = influence_vectors(model, X, y, Xv, yv)
    seconds = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    np.save(Path(out) / "P.npy", P)
    (Path(out) / "result.json").write_text(
        json.dumps({"seconds": seconds, "peak_mib": (peak - before) / 2**20, "package": "lib", "version": ""})
    )


def _vm_rss(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def run(cmd: list[str], out: Path, env: dict | None = None) -> dict:
    """Run one measurement process; stop it past the memory or time limit."""
    out.mkdir(parents=True, exist_ok=True)
    log = open(out / "log.txt", "w")
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)
    peak, stopped = 0, None
    while proc.poll() is None:
        rss = _vm_rss(proc.pid)
        peak = max(peak, rss)
        if rss > MEM_LIMIT_GIB * 2**30:
            stopped = f"stopped at {MEM_LIMIT_GIB:.0f} GiB"
        elif time.perf_counter() - t0 > TIMEOUT_S:
            stopped = f"stopped after {TIMEOUT_S} s"
        if stopped:
            proc.kill()
            proc.wait()
            break
        time.sleep(0.02)
    log.close()
    if stopped:
        return {"stopped": f"{stopped} ({time.perf_counter() - t0:.0f} s)"}
    if proc.returncode != 0:
        tail = (out / "log.txt").read_text()[-2000:]
        return {"stopped": f"failed (exit {proc.returncode})", "log": tail}
    res = json.loads((out / "result.json").read_text())
    res["P"] = np.load(out / "P.npy")
    return res


def _formula_on_peer_hessian(model, X, y, Xv, yv) -> np.ndarray:
    """``grad L_{V_k}^T (sum_i hess_i + l2 I)^{-1} grad loss_i`` with ``lib``: the book's formula on the
    Hessian every peer uses (all parameters damped, the intercept included, no null-direction term)."""
    import torch

    from lib.influence import class_loss_gradients, influence

    H = model.data_hessian(X, y) + model.l2_ * torch.eye(model.n_params, dtype=torch.float64)
    return influence(model, X, y, class_loss_gradients(model, Xv, yv), hessian=H)


def _rel(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a - b).max() / np.abs(b).max())


def main() -> None:
    import torch

    torch.set_num_threads(THREADS)
    info = machine_info()
    pythons = {}
    for env in sorted({e for e, _ in METHODS.values()}):
        pythons[env] = ensure_venv(env)
    worker = HERE / "peers" / "worker.py"
    root = HERE.parent
    rows = []
    versions = {}
    tmp = Path(tempfile.mkdtemp(prefix="bench-peers-"))
    try:
        for n in SIZES:
            model, (X, y, Xv, yv) = export(n, tmp / f"n{n}" / "data")
            data = tmp / f"n{n}" / "data"
            P_ref = _formula_on_peer_hessian(model, X, y, Xv, yv)
            env = dict(os.environ, PYTHONPATH=str(root))
            ours = run(
                [
                    sys.executable,
                    "-c",
                    "import sys; from benchmarks.bench_peers import _ours_worker; "
                    "_ours_worker(sys.argv[1], sys.argv[2])",
                    str(data),
                    str(tmp / f"n{n}" / "ours"),
                ],
                tmp / f"n{n}" / "ours",
                env=env,
            )
            if "P" not in ours:
                raise RuntimeError(f"influence_vectors failed at n={n}: {ours}")
            P_ours = ours["P"]
            rows.append(("this book: influence_vectors", n, ours, _rel(P_ours, P_ref), 1.0, 0.0))
            print(n, "ours", {k: v for k, v in ours.items() if k != "P"}, flush=True)
            for method, (venv, label) in METHODS.items():
                if method not in WANTED:
                    continue
                r = run(
                    [str(pythons[venv]), str(worker), method, str(data), str(tmp / f"n{n}" / method)],
                    tmp / f"n{n}" / method,
                    env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
                )
                if "P" in r:
                    P = r["P"]
                    versions[label] = f"{r['package']} {r['version']}"
                    agree = (_rel(P, P_ref), float(np.corrcoef(P.ravel(), P_ours.ravel())[0, 1]), _rel(P, P_ours))
                else:
                    agree = (None, None, None)
                rows.append((label, n, r, *agree))
                print(n, method, {k: v for k, v in r.items() if k != "P"}, agree, flush=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    write(rows, info, versions)


def write(rows, info: str, versions: dict[str, str]) -> None:
    def f(x, fmt):
        return "" if x is None else format(x, fmt)

    lines = [
        "| method | n | s | MiB | own-H err | r, our P | our-P err |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for label, n, r, rel_ref, pearson, rel_ours in rows:
        if "stopped" in r:
            lines.append(f"| {label} | {n:,} | {r['stopped']} | | | | |")
            continue
        lines.append(
            f"| {label} | {n:,} | {r['seconds']:.2f} | {r['peak_mib']:.0f} | {f(rel_ref, '.1e')} | "
            f"{f(pearson, '.6f')} | {f(rel_ours, '.1e')} |"
        )
    speed = []
    for n in sorted({row[1] for row in rows}):
        ours = next(r for label, m, r, *_ in rows if m == n and label.startswith("lib"))
        done = [
            (r["seconds"], label)
            for label, m, r, *_ in rows
            if m == n and not label.startswith("lib") and "seconds" in r
        ]
        if done and "seconds" in ours:
            t, label = min(done)
            speed.append(f"n = {n:,}: {t / ours['seconds']:.1f}x faster than the fastest peer ({label})")
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    text = "\n".join(
        [
            "# Influence matrix: the book against pyDVL, captum and dattri",
            "",
            f"One fitted softmax regression (float64, d = {D}, K = {K}, 510 parameters, default `l2`), exported "
            f"to `.npy` and loaded by every library in its own virtual environment; {N_VAL:,} validation samples; "
            "`P` is the per-class influence matrix (n x K). *own-H err*: largest difference from "
            "the book's formula evaluated on the peer's Hessian (every parameter damped with `l2`, the intercept "
            "included), relative to the largest |P|; *r, our P* and *our-P err*: Pearson correlation with, and "
            "largest relative difference from, `influence_vectors` (intercept unpenalised): the intercept "
            "damping. *n*: training samples; *s*: seconds from the model to `P`, data in memory, imports done; "
            "*MiB*: peak resident memory beyond "
            f"what the process held before. Fresh process per run, {THREADS} torch threads; a run past "
            f"{MEM_LIMIT_GIB:.0f} GiB or {TIMEOUT_S} s is stopped. Versions: "
            + "; ".join(sorted(set(versions.values())))
            + ". Generated by `python -m benchmarks bench_peers`.",
            "",
            f"Machine: {info}; load average at end {load}.",
            "",
            *lines,
            "",
            "Speed-up of `influence_vectors` over the fastest peer that finished: " + "; ".join(speed) + ".",
            "",
        ]
    )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
