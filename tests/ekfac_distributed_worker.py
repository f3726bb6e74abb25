"""Worker of ``tests/test_ekfac_distributed.py``: run by ``python -m torch.distributed.run
--nproc-per-node N`` (CPU processes, gloo on loopback); every rank computes EKFAC's category-wise
``P`` and raw pairwise scores on the same tiny problem and saves what it got to ``OUT/rank{r}.npz``.
Also importable: :func:`problem` and :func:`compute` are what the single-process reference runs."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

N_TRAIN, N_VAL, D, K = 301, 61, 6, 3  # odd sizes: the shards and the last batches are uneven
BATCH = 32


def problem():
    """The tiny data set and the small trained MLP (deterministic, float32)."""
    r = np.random.default_rng(0)
    W = r.normal(size=(D, K))
    X = r.normal(size=(N_TRAIN, D)).astype(np.float32)
    Xv = r.normal(size=(N_VAL, D)).astype(np.float32)
    y = (X @ W + r.gumbel(size=(N_TRAIN, K))).argmax(1)
    yv = (Xv @ W + r.gumbel(size=(N_VAL, K))).argmax(1)
    torch.manual_seed(0)
    m = nn.Sequential(nn.Linear(D, 8), nn.Tanh(), nn.Linear(8, K))
    opt = torch.optim.Adam(m.parameters(), 0.02)
    Xt, yt = torch.as_tensor(X), torch.as_tensor(y)
    for _ in range(150):
        opt.zero_grad()
        F.cross_entropy(m(Xt), yt).backward()
        opt.step()
    return m, X, y, Xv, yv


def compute(m, X, y, Xv, yv) -> dict[str, np.ndarray]:
    """P and raw scores; ``rows``: how many input rows this process's forward passes saw (a hook
    on the first layer; the deep copies the library makes keep it), i.e. its share of the work."""
    from lib import ekfac

    rows = [0]

    def count(module, inputs, output):
        rows[0] += int(inputs[0].shape[0])

    handle = m[0].register_forward_hook(count)

    P = ekfac.category_influence(
        m, X, y, Xv, yv, K, rng=np.random.default_rng(1), damping=0.1, fisher_samples=2, batch_size=BATCH
    )
    S = ekfac.pairwise_scores(
        m, X, y, Xv, yv, rng=np.random.default_rng(1), damping=0.1, fisher_samples=2, batch_size=BATCH
    )
    handle.remove()
    return {"P": P, "S": S, "rows": np.array(rows[0])}


def main(out: str) -> None:
    import torch.distributed as dist

    torch.set_num_threads(1)
    dist.init_process_group("gloo")
    try:
        result = compute(*problem())
        np.savez(Path(out) / f"rank{dist.get_rank()}.npz", world=dist.get_world_size(), **result)
    finally:
        dist.destroy_process_group()


if __name__ == "__main__":
    main(sys.argv[1])
