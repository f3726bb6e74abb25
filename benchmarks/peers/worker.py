"""One peer library's influence matrix on the exported softmax regression (run in that peer's own
virtual environment by ``benchmarks/bench_peers.py``; imports only numpy, torch and the peer).

Usage: ``python worker.py METHOD DATA_DIR OUT_DIR``. ``DATA_DIR`` holds ``X.npy, y.npy`` (training set),
``Xv.npy, yv.npy`` (validation set), ``W.npy`` (K x d), ``b.npy`` (K), ``l2.npy`` (the sum-form L2
strength). The model is ``nn.Linear(d, K)`` in float64 with those parameters, its loss the cross-entropy.
Every peer damps *every* parameter (the intercept included) with one constant, so each is given the
damping that makes its Hessian ``sum_i hess_i + l2 * I``: ``l2`` for the libraries whose Hessian is of the
summed loss (captum, dattri), ``l2 / n`` for pyDVL (mean loss). The output ``P.npy`` (n x K) is rescaled to
the book's convention ``P[i, k] = grad L_{V_k}^T H_sum^{-1} grad loss_i`` (the factors are written next to
each method). ``result.json``: seconds of the peer's work (from the model to ``P``, data already in
memory) and the peak resident memory beyond what the process held before it (MiB).
"""

from __future__ import annotations

import json
import resource
import sys
import time
from importlib.metadata import version
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F
from torch.utils.data import DataLoader, TensorDataset

BATCH = 4096


def _rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096


def _model(W: np.ndarray, b: np.ndarray) -> nn.Module:
    m = nn.Linear(W.shape[1], W.shape[0]).double()
    with torch.no_grad():
        m.weight.copy_(torch.as_tensor(W))
        m.bias.copy_(torch.as_tensor(b))
    return m


def captum_naive(m, X, y, Xv, yv, K, l2, work):
    """captum ``NaiveInfluenceFunction``: explicit Hessian of the summed loss + ``hessian_reg * I``,
    all eigenvectors kept (``projection_dim`` = number of parameters), so ``R R^T = H^{-1}``; scores are
    ``+g_test^T H^{-1} g_train`` (factor 1). Class sums through ``aggregate=True``."""
    from captum.influence import NaiveInfluenceFunction

    ckpt = work / "model.pt"
    torch.save(m.state_dict(), ckpt)
    train = TensorDataset(X, y)
    n_params = sum(p.numel() for p in m.parameters())
    inf = NaiveInfluenceFunction(
        m,
        train,
        str(ckpt),
        loss_fn=nn.CrossEntropyLoss(reduction="sum"),
        batch_size=BATCH,
        sample_wise_grads_per_batch=True,
        projection_dim=n_params,
        hessian_reg=l2,
        hessian_inverse_tol=1e-12,
    )
    train_emb = inf.compute_intermediate_quantities(DataLoader(train, batch_size=BATCH))
    class_emb = torch.cat(
        [inf.compute_intermediate_quantities((Xv[yv == k], yv[yv == k]), aggregate=True, test=True) for k in range(K)]
    )
    return (train_emb @ class_emb.T).numpy()


def _pydvl(cls, m, X, y, Xv, yv, K, l2, **kw):
    """pyDVL: Hessian of the *mean* loss + ``regularization * I`` (so ``l2 / n``); its influences are
    ``n`` times the sum-form ones: ``P = influences / n``. The ``K`` right-hand sides are the class sums of
    the validation gradients (pyDVL's gradient provider), solved by the fitted operator (``op.apply``),
    then ``influences_from_factors`` over the training set in batches."""
    from pydvl.influence.torch.base import TorchBatch

    n = len(y)
    inf = cls(m, F.cross_entropy, regularization=l2 / n, **kw).fit(DataLoader(TensorDataset(X, y), batch_size=BATCH))
    (block,) = inf.block_mapper.composable_block_dict.values()  # BlockMode.FULL: one block
    G = torch.stack([block.gp.flat_grads(TorchBatch(Xv[yv == k], yv[yv == k])).sum(0) for k in range(K)])
    class_factors = block.op.apply(G)  # (K, n_params): H^{-1} grad L_{V_k}
    out = [inf.influences_from_factors(class_factors, X[s : s + BATCH], y[s : s + BATCH]) for s in range(0, n, BATCH)]
    return (torch.cat(out, dim=1).T / n).numpy()


def pydvl_direct(m, X, y, Xv, yv, K, l2, work):
    from pydvl.influence.torch import DirectInfluence

    return _pydvl(DirectInfluence, m, X, y, Xv, yv, K, l2)


def pydvl_cg(m, X, y, Xv, yv, K, l2, work):
    from pydvl.influence.torch import CgInfluence

    return _pydvl(CgInfluence, m, X, y, Xv, yv, K, l2, rtol=1e-8, atol=1e-10, solve_simultaneously=True)


def dattri_explicit(m, X, y, Xv, yv, K, l2, work):
    """dattri ``IFAttributorExplicit``: explicit Hessian of ``loss_func`` (summed loss) + ``regularization
    * I`` per batch of the cached loader, solves summed over batches, so the cached loader is one batch
    (the whole training set) for the exact inverse; scores ``+g_train^T H^{-1} g_test`` (factor 1), an
    ``n x n_val`` matrix (float32, dattri's output buffer) summed by class."""
    from dattri.algorithm.influence_function import IFAttributorExplicit
    from dattri.task import AttributionTask

    def loss_func(params, data):
        xb, yb = data
        return F.cross_entropy(torch.func.functional_call(m, params, (xb,)), yb, reduction="sum")

    task = AttributionTask(loss_func=loss_func, model=m, checkpoints=m.state_dict())
    attr = IFAttributorExplicit(task, regularization=l2)
    train = TensorDataset(X, y)
    attr.cache(DataLoader(train, batch_size=len(y)))
    scores = attr.attribute(DataLoader(train, batch_size=BATCH), DataLoader(TensorDataset(Xv, yv), batch_size=BATCH))
    onehot = F.one_hot(yv, K).to(scores.dtype)
    return (scores.detach() @ onehot).double().numpy()


METHODS = {
    "captum_naive": ("captum", captum_naive),
    "pydvl_direct": ("pyDVL", pydvl_direct),
    "pydvl_cg": ("pyDVL", pydvl_cg),
    "dattri_explicit": ("dattri", dattri_explicit),
}


def main(method: str, data: str, out: str) -> None:
    torch.set_num_threads(2)
    import warnings

    warnings.filterwarnings("ignore")
    package, fn = METHODS[method]
    data, out = Path(data), Path(out)
    out.mkdir(parents=True, exist_ok=True)
    X, Xv = (torch.as_tensor(np.load(data / f)) for f in ("X.npy", "Xv.npy"))
    y, yv = (torch.as_tensor(np.load(data / f)).long() for f in ("y.npy", "yv.npy"))
    W, b, l2 = np.load(data / "W.npy"), np.load(data / "b.npy"), float(np.load(data / "l2.npy"))
    m = _model(W, b)
    __import__({"captum": "captum", "pyDVL": "pydvl", "dattri": "dattri"}[package])  # imports before the clock
    if method.startswith("pydvl"):
        import pydvl.influence.torch  # noqa: F401
    before = _rss_bytes()
    t0 = time.perf_counter()
    P = fn(m, X, y, Xv, yv, W.shape[0], l2, out)
    seconds = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    np.save(out / "P.npy", P)
    (out / "result.json").write_text(
        json.dumps(
            {"seconds": seconds, "peak_mib": (peak - before) / 2**20, "package": package, "version": version(package)}
        )
    )


if __name__ == "__main__":
    main(*sys.argv[1:4])
