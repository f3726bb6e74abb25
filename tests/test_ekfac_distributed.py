"""EKFAC (kronfluence) under torch.distributed: 2 CPU processes (gloo, loopback) started by
``python -m torch.distributed.run`` give the single-process category-wise ``P`` and raw scores."""

import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("kronfluence")

ROOT = Path(__file__).resolve().parents[1]
WORKER = Path(__file__).with_name("ekfac_distributed_worker.py")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_gloo_processes_match_one(tmp_path):
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nnodes",
        "1",
        "--nproc-per-node",
        "2",
        "--master-addr",
        "127.0.0.1",
        "--master-port",
        str(_free_port()),
        str(WORKER),
        str(tmp_path),
    ]
    proc = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    ranks = [np.load(tmp_path / f"rank{r}.npz") for r in (0, 1)]
    assert all(int(r["world"]) == 2 for r in ranks)

    sys.path.insert(0, str(WORKER.parent))
    try:
        import ekfac_distributed_worker as w
    finally:
        sys.path.pop(0)
    ref = w.compute(*w.problem())  # one process, the same arguments
    assert ref["P"].shape == (w.N_TRAIN, w.K) and ref["S"].shape == (w.N_VAL, w.N_TRAIN)
    for r in ranks:  # every rank gets the whole result, equal to one process's up to float32 rounding
        for key in ("P", "S"):
            scale = np.abs(ref[key]).max()
            np.testing.assert_allclose(r[key], ref[key], rtol=1e-4, atol=1e-5 * scale, err_msg=key)
    # the work was shared: each process ran its forward passes on about half of the rows
    assert all(0.3 * int(ref["rows"]) < int(r["rows"]) < 0.7 * int(ref["rows"]) for r in ranks), [
        int(r["rows"]) for r in ranks
    ] + [int(ref["rows"])]
    # the comparison can fail: a different Fisher draw (another rng) is far from rounding
    from lib import ekfac

    m, X, y, Xv, yv = w.problem()
    other = ekfac.category_influence(
        m, X, y, Xv, yv, w.K, rng=np.random.default_rng(2), damping=0.1, fisher_samples=2, batch_size=w.BATCH
    )
    assert not np.allclose(other, ref["P"], rtol=1e-4, atol=1e-5 * np.abs(ref["P"]).max())
