"""Category-wise influence ``P`` (n_train, K) on deep classifiers with EKFAC ([PC] §5.1).

[PC] eq. (category-wise influence vector): ``P[i, k] = grad L_{V_k}^T H^{-1} grad loss_i`` with
``L_{V_k}`` the *summed* loss of the validation samples of class ``k`` (DESIGN.md §1). Sign:
``P[i, k]`` predicts ``L_{V_k}(without i) - L_{V_k}(with i)`` — positive = sample ``i`` helps
class ``k``. ``H`` is approximated with EKFAC (George et al. 2018; Grosse et al. 2023) through
kronfluence: its scores are ``g_val^T (G + lambda I)^{-1} g_train`` with ``G`` the *mean*
Gauss-Newton (Fisher) matrix of the training loss and no ``1/n``. The sum-form objective's
Hessian is ``n (G + lambda I)``, so ``P = scores / n``; the damping ``lambda`` plays the part of
the L2 term (strength ``n * lambda`` in the sum form).

:func:`exact_category_influence` is the ground truth for small models: the explicit damped
Gauss-Newton (or full Hessian) via ``torch.func``.
"""

from __future__ import annotations

import logging
import tempfile
import warnings
from collections.abc import Callable

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F


def _class_sum_matrix(y_val: np.ndarray, n_classes: int) -> np.ndarray:
    """One-hot (n_val, K): ``scores.T @ M`` sums the per-validation-sample scores by class."""
    y_val = np.asarray(y_val)
    if y_val.min() < 0 or y_val.max() >= n_classes:
        raise ValueError(f"y_val must hold labels in 0..{n_classes - 1}, got range {y_val.min()}..{y_val.max()}")
    return np.eye(n_classes)[y_val]


def _check(X_train, y_train, X_val, y_val) -> None:
    if len(X_train) != len(y_train) or len(X_val) != len(y_val):
        raise ValueError(f"X/y lengths differ: train {len(X_train)}/{len(y_train)}, val {len(X_val)}/{len(y_val)}")
    if len(X_train) == 0 or len(X_val) == 0:
        raise ValueError("need at least one training and one validation sample")


def _classification_task(seed: int):
    from kronfluence.task import Task

    class ClassificationTask(Task):
        """Per-sample cross-entropy; labels sampled from the model (true Fisher = Gauss-Newton) when
        kronfluence fits the curvature; the measurement is the validation sample's loss."""

        def __init__(self) -> None:
            super().__init__()
            self.gen = torch.Generator().manual_seed(seed)

        def compute_train_loss(self, batch, model, sample: bool = False) -> torch.Tensor:
            inputs, labels = batch
            logits = model(inputs)
            if sample:
                with torch.no_grad():
                    labels = torch.multinomial(torch.softmax(logits.detach(), -1), 1, generator=self.gen).flatten()
            return F.cross_entropy(logits, labels, reduction="sum")

        def compute_measurement(self, batch, model) -> torch.Tensor:
            inputs, labels = batch
            return F.cross_entropy(model(inputs), labels, reduction="sum")

    return ClassificationTask()


def pairwise_scores(model: nn.Module, X_train, y_train, X_val, y_val, *, rng: np.random.Generator,
                    damping: float | None = None, strategy: str = "ekfac", batch_size: int = 512,
                    fisher_samples: int = 1) -> np.ndarray:
    """kronfluence's raw scores (n_val, n_train): ``g_val_j^T (G + damping I)^{-1} g_train_i``.

    ``damping=None`` uses kronfluence's heuristic (0.1 x the mean EKFAC eigenvalue). ``model``
    must consist of ``nn.Linear`` / ``nn.Conv2d`` modules (wrap a bare ``nn.Linear`` in
    ``nn.Sequential``); it is deep-copied, the caller's model is untouched. The curvature is
    fitted on the training set repeated ``fisher_samples`` times, each copy with its own labels
    sampled from the model: a Monte Carlo estimate of the Gauss-Newton matrix with less noise.
    """
    import copy

    warnings.filterwarnings("ignore", message="IProgress not found")  # tqdm.auto, imported by kronfluence
    from kronfluence.analyzer import Analyzer, prepare_model
    from kronfluence.arguments import FactorArguments, ScoreArguments
    from kronfluence.utils.dataset import DataLoaderKwargs

    _check(X_train, y_train, X_val, y_val)
    if fisher_samples < 1:
        raise ValueError(f"fisher_samples must be >= 1, got {fisher_samples}")
    if not any(isinstance(m, (nn.Linear, nn.Conv2d)) for m in model.modules()):
        raise ValueError("EKFAC needs at least one nn.Linear or nn.Conv2d module in the model")
    if isinstance(model, (nn.Linear, nn.Conv2d)):
        model = nn.Sequential(model)
    dtype = next(model.parameters()).dtype
    to = lambda a, dt: (a if isinstance(a, torch.Tensor) else torch.as_tensor(np.asarray(a))).to(dt)  # noqa: E731
    train = torch.utils.data.TensorDataset(to(X_train, dtype), to(y_train, torch.long))
    val = torch.utils.data.TensorDataset(to(X_val, dtype), to(y_val, torch.long))
    task = _classification_task(int(rng.integers(0, 2**63 - 1)))
    model = prepare_model(copy.deepcopy(model).eval(), task)
    for name in ("kronfluence", "accelerate"):
        logging.getLogger(name).setLevel(logging.WARNING)
    with tempfile.TemporaryDirectory() as out, warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=FutureWarning)  # kronfluence's torch.cuda.amp notices
        analyzer = Analyzer(analysis_name="category", model=model, task=task, cpu=True, output_dir=out,
                            disable_tqdm=True, log_level=logging.WARNING)
        analyzer.set_dataloader_kwargs(DataLoaderKwargs(num_workers=0))
        fit_set = torch.utils.data.ConcatDataset([train] * int(fisher_samples)) if fisher_samples > 1 else train
        analyzer.fit_all_factors(factors_name="f", dataset=fit_set, per_device_batch_size=batch_size,
                                 factor_args=FactorArguments(strategy=strategy), overwrite_output_dir=True)
        analyzer.compute_pairwise_scores(scores_name="s", factors_name="f", query_dataset=val, train_dataset=train,
                                         per_device_query_batch_size=batch_size,
                                         per_device_train_batch_size=batch_size,
                                         score_args=ScoreArguments(damping_factor=damping),
                                         overwrite_output_dir=True)
        scores = analyzer.load_pairwise_scores("s")["all_modules"]
    return scores.double().numpy()


def category_influence(model: nn.Module, X_train, y_train, X_val, y_val, n_classes: int, *,
                       rng: np.random.Generator, damping: float | None = None, strategy: str = "ekfac",
                       batch_size: int = 512, fisher_samples: int = 1) -> np.ndarray:
    """Category-wise influence vectors ``P`` (n_train, K) with EKFAC ([PC] §3, §5.1).

    ``P[i, k]`` predicts ``L_{V_k}(without i) - L_{V_k}(with i)`` for the summed class-``k``
    validation loss (positive = helps). ``P.sum(1)`` is the influence on the total validation loss.
    """
    scores = pairwise_scores(model, X_train, y_train, X_val, y_val, rng=rng, damping=damping,
                             strategy=strategy, batch_size=batch_size, fisher_samples=fisher_samples)
    return scores.T @ _class_sum_matrix(y_val, n_classes) / len(y_train)


def exact_category_influence(model: nn.Module, X_train, y_train, X_val, y_val, n_classes: int, *,
                             damping: float, curvature: str = "ggn") -> np.ndarray:
    """Ground truth for small models: ``P = G_V (H + damping I)^{-1} G_T^T / n`` with the explicit
    mean Gauss-Newton matrix (``curvature="ggn"``, what EKFAC approximates) or the full Hessian
    of the mean training loss (``"hessian"``), built with ``torch.func`` in float64."""
    from torch.func import functional_call, grad, hessian, jacrev, vmap

    _check(X_train, y_train, X_val, y_val)
    if curvature not in ("ggn", "hessian"):
        raise ValueError(f"curvature must be 'ggn' or 'hessian', got {curvature!r}")
    names = [k for k, _ in model.named_parameters()]
    shapes = [p.shape for _, p in model.named_parameters()]
    sizes = [p.numel() for _, p in model.named_parameters()]
    theta = torch.cat([p.detach().reshape(-1) for _, p in model.named_parameters()]).double()
    if theta.numel() > 5000:
        raise ValueError(f"exact influence builds a {theta.numel()}^2 matrix: use a model with <= 5000 parameters")
    m64 = _to_double(model)
    Xt, Xv = (torch.as_tensor(np.asarray(a), dtype=torch.float64) for a in (X_train, X_val))
    yt, yv = (torch.as_tensor(np.asarray(a), dtype=torch.long) for a in (y_train, y_val))

    def logits(th: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        params = {n: t.view(s) for n, t, s in zip(names, th.split(sizes), shapes)}
        return functional_call(m64, params, (x.unsqueeze(0),)).squeeze(0)

    def loss(th, x, y):
        return F.cross_entropy(logits(th, x).unsqueeze(0), y.unsqueeze(0))

    g_train = vmap(grad(loss), in_dims=(None, 0, 0))(theta, Xt, yt)  # (n, p)
    g_val = vmap(grad(loss), in_dims=(None, 0, 0))(theta, Xv, yv)
    if curvature == "ggn":
        J = vmap(jacrev(logits), in_dims=(None, 0))(theta, Xt)  # (n, K, p)
        p = torch.softmax(vmap(logits, in_dims=(None, 0))(theta, Xt), -1)
        A = torch.diag_embed(p) - p.unsqueeze(2) * p.unsqueeze(1)
        H = torch.einsum("nkp,nkl,nlq->pq", J, A, J) / len(Xt)
    else:
        H = hessian(lambda th: vmap(loss, in_dims=(None, 0, 0))(th, Xt, yt).mean())(theta)
    H = H + damping * torch.eye(len(theta), dtype=H.dtype)
    G_class = torch.as_tensor(_class_sum_matrix(yv.numpy(), n_classes)).T @ g_val  # (K, p)
    return (g_train @ torch.linalg.solve(H, G_class.T)).numpy() / len(Xt)


def _to_double(model: nn.Module) -> nn.Module:
    import copy

    return copy.deepcopy(model).double().eval()


def removal_effect(train_fn: Callable[[np.ndarray], nn.Module], remove: np.ndarray, n_train: int) -> nn.Module:
    """Retrain without the samples ``remove`` (indices): ``train_fn(keep_indices)`` -> model."""
    keep = np.setdiff1d(np.arange(n_train), np.asarray(remove))
    return train_fn(keep)
