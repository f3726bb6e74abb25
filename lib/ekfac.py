"""Category-wise influence ``P`` (n_train, K) on deep classifiers with EKFAC ([PC] §5.1).

[PC] eq. (category-wise influence vector): ``P[i, k] = grad L_{V_k}^T H^{-1} grad loss_i`` with
``L_{V_k}`` the *summed* loss of the validation samples of class ``k`` (book/conventions.md §1). Sign:
``P[i, k]`` predicts ``L_{V_k}(without i) - L_{V_k}(with i)`` — positive = sample ``i`` helps
class ``k``. ``H`` is approximated with EKFAC (George et al. 2018; Grosse et al. 2023) through
kronfluence: its scores are ``g_val^T (G + lambda I)^{-1} g_train`` with ``G`` the *mean*
Gauss-Newton (Fisher) matrix of the training loss and no ``1/n``. The sum-form objective's
Hessian is ``n (G + lambda I)``, so ``P = scores / n``; the damping ``lambda`` plays the part of
the L2 term (strength ``n * lambda`` in the sum form).

:func:`exact_category_influence` is the ground truth for small models: the explicit damped
Gauss-Newton (or full Hessian) via ``torch.func``.

kronfluence tracks ``nn.Linear`` and ``nn.Conv2d`` modules only: on BERT the influence is over
every linear layer (attention, feed-forward, pooler, classifier) and leaves out the embeddings
and LayerNorms (``exact_category_influence(..., params="tracked")`` is the matching ground
truth). Token-id inputs (int64) are masked at padding positions when the curvature is fitted.
Device: the model's device unless ``device`` says otherwise; scores come back on the CPU.
"""

from __future__ import annotations

import gc
import logging
import tempfile
import warnings
from contextlib import contextmanager

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


def _classification_task(seed: int, pad_token_id: int | None = None):
    from kronfluence.task import Task

    class ClassificationTask(Task):
        """Per-sample cross-entropy; labels sampled from the model (true Fisher = Gauss-Newton) when
        kronfluence fits the curvature (drawn on the CPU: the same labels on every device); the
        measurement is the validation sample's loss. With ``pad_token_id`` the inputs are token
        ids and padding positions are masked out of the per-token curvature statistics."""

        def __init__(self) -> None:
            super().__init__()
            self.gen = torch.Generator().manual_seed(seed)

        def compute_train_loss(self, batch, model, sample: bool = False) -> torch.Tensor:
            inputs, labels = batch
            logits = model(inputs).float()
            if sample:
                with torch.no_grad():
                    probs = torch.softmax(logits.detach(), -1).cpu()
                    labels = torch.multinomial(probs, 1, generator=self.gen).flatten().to(logits.device)
            return F.cross_entropy(logits, labels, reduction="sum")

        def compute_measurement(self, batch, model) -> torch.Tensor:
            inputs, labels = batch
            return F.cross_entropy(model(inputs).float(), labels, reduction="sum")

        def get_attention_mask(self, batch):
            if pad_token_id is None:
                return None
            return (batch[0] != pad_token_id).long()

    return ClassificationTask()


def _inputs(a, dtype: torch.dtype) -> torch.Tensor:
    """Features in the model's dtype; integer arrays (token ids) stay int64."""
    t = a if isinstance(a, torch.Tensor) else torch.as_tensor(np.asarray(a))
    return t.long() if not t.is_floating_point() else t.to(dtype)


def _analysis_device(model: nn.Module, device) -> torch.device:
    from .deep import model_device, resolve_device

    return model_device(model) if device is None else resolve_device(device)


@contextmanager
def _unfreeze_on_exit():
    try:
        yield
    finally:
        gc.unfreeze()


@contextmanager
def _fitted_analyzer(model: nn.Module, X_train, y_train, *, rng: np.random.Generator, strategy: str,
                     batch_size: int, fisher_samples: int, device):
    """kronfluence Analyzer with EKFAC factors ``"f"`` fitted on the training set; yields
    ``(analyzer, train dataset, input converter)``. Output files live in a temporary folder."""
    import copy

    warnings.filterwarnings("ignore", message="IProgress not found")  # tqdm.auto, imported by kronfluence
    from kronfluence.analyzer import Analyzer, prepare_model
    from kronfluence.arguments import FactorArguments
    from kronfluence.utils.dataset import DataLoaderKwargs
    from kronfluence.utils.state import State

    if fisher_samples < 1:
        raise ValueError(f"fisher_samples must be >= 1, got {fisher_samples}")
    if not any(isinstance(m, (nn.Linear, nn.Conv2d)) for m in model.modules()):
        raise ValueError("EKFAC needs at least one nn.Linear or nn.Conv2d module in the model")
    dev = _analysis_device(model, device)
    if isinstance(model, (nn.Linear, nn.Conv2d)):
        model = nn.Sequential(model)
    dtype = next(model.parameters()).dtype

    def dataset(X, y) -> torch.utils.data.TensorDataset:
        return torch.utils.data.TensorDataset(_inputs(X, dtype), _inputs(y, dtype).long())

    train = dataset(X_train, y_train)
    X_train = train.tensors[0]
    pad = int(getattr(model, "pad_token_id", 0)) if not X_train.is_floating_point() and X_train.dim() == 2 else None
    task = _classification_task(int(rng.integers(0, 2**63 - 1)), pad_token_id=pad)
    model = prepare_model(copy.deepcopy(model).eval(), task)
    for name in ("kronfluence", "accelerate"):
        logging.getLogger(name).setLevel(logging.WARNING)
    if dev.type == "cuda" and dev.index is not None:
        torch.cuda.set_device(dev)  # kronfluence analyses on the current GPU
    State._reset_state()  # a process-wide singleton: its first caller's cpu flag would stick otherwise
    # kronfluence calls gc.collect() around every step; with a large heap (torch, transformers)
    # that dominated the run time (0.6 s a call). Freezing the objects that exist now keeps the
    # collections to what kronfluence itself allocates.
    gc.freeze()
    with _unfreeze_on_exit(), tempfile.TemporaryDirectory() as out, warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=FutureWarning)  # kronfluence's torch.cuda.amp notices
        analyzer = Analyzer(analysis_name="category", model=model, task=task, cpu=dev.type == "cpu",
                            output_dir=out, disable_tqdm=True, log_level=logging.WARNING)
        if analyzer.state.device.type != dev.type:
            raise RuntimeError(f"kronfluence chose {analyzer.state.device}, asked for {dev}")
        analyzer.set_dataloader_kwargs(DataLoaderKwargs(num_workers=0))
        fit_set = torch.utils.data.ConcatDataset([train] * int(fisher_samples)) if fisher_samples > 1 else train
        analyzer.fit_all_factors(factors_name="f", dataset=fit_set, per_device_batch_size=batch_size,
                                 factor_args=FactorArguments(strategy=strategy), overwrite_output_dir=True)
        yield analyzer, train, dataset


def pairwise_scores(model: nn.Module, X_train, y_train, X_val, y_val, *, rng: np.random.Generator,
                    damping: float | None = None, strategy: str = "ekfac", batch_size: int = 512,
                    fisher_samples: int = 1, device: str | torch.device | None = None) -> np.ndarray:
    """kronfluence's raw scores (n_val, n_train): ``g_val_j^T (G + damping I)^{-1} g_train_i``.

    ``damping=None`` uses kronfluence's heuristic (0.1 x the mean EKFAC eigenvalue). ``model``
    must contain ``nn.Linear`` / ``nn.Conv2d`` modules (wrap a bare ``nn.Linear`` in
    ``nn.Sequential``); it is deep-copied, the caller's model is untouched. The curvature is
    fitted on the training set repeated ``fisher_samples`` times, each copy with its own labels
    sampled from the model: a Monte Carlo estimate of the Gauss-Newton matrix with less noise.
    ``device``: ``None`` = the model's device, else as :func:`lib.deep.resolve_device`
    (kronfluence uses the current GPU); the scores come back on the CPU.
    """
    from kronfluence.arguments import ScoreArguments

    _check(X_train, y_train, X_val, y_val)
    with _fitted_analyzer(model, X_train, y_train, rng=rng, strategy=strategy, batch_size=batch_size,
                          fisher_samples=fisher_samples, device=device) as (analyzer, train, dataset):
        analyzer.compute_pairwise_scores(scores_name="s", factors_name="f", query_dataset=dataset(X_val, y_val),
                                         train_dataset=train, per_device_query_batch_size=batch_size,
                                         per_device_train_batch_size=batch_size,
                                         score_args=ScoreArguments(damping_factor=damping),
                                         overwrite_output_dir=True)
        scores = analyzer.load_pairwise_scores("s")["all_modules"]
    return scores.detach().cpu().double().numpy()


def category_influence(model: nn.Module, X_train, y_train, X_val, y_val, n_classes: int, *,
                       rng: np.random.Generator, damping: float | None = None, strategy: str = "ekfac",
                       batch_size: int = 512, fisher_samples: int = 1,
                       device: str | torch.device | None = None) -> np.ndarray:
    """Category-wise influence vectors ``P`` (n_train, K) with EKFAC ([PC] §3, §5.1).

    ``P[i, k]`` predicts ``L_{V_k}(without i) - L_{V_k}(with i)`` for the summed class-``k``
    validation loss (positive = helps). ``P.sum(1)`` is the influence on the total validation loss.
    Computed class by class with kronfluence's summed query gradient (``aggregate_query_gradients``:
    ``grad L_{V_k}`` is the sum of the class's per-sample gradients), so the cost is ``K`` passes
    over the training set instead of one per query batch — what makes bert-base affordable.
    Equal to ``pairwise_scores(...).T @ onehot(y_val) / n`` (a unit test). A class without
    validation samples gets a zero column. ``device`` as in :func:`pairwise_scores`; ``P`` is a
    CPU NumPy array.
    """
    from kronfluence.arguments import ScoreArguments

    _check(X_train, y_train, X_val, y_val)
    y_val = np.asarray(y_val.cpu() if isinstance(y_val, torch.Tensor) else y_val)
    _class_sum_matrix(y_val, n_classes)  # label range check
    P = np.zeros((len(y_train), n_classes))
    with _fitted_analyzer(model, X_train, y_train, rng=rng, strategy=strategy, batch_size=batch_size,
                          fisher_samples=fisher_samples, device=device) as (analyzer, train, dataset):
        for k in range(n_classes):
            idx = np.flatnonzero(y_val == k)
            if len(idx) == 0:
                continue
            Xk = X_val[torch.as_tensor(idx)] if isinstance(X_val, torch.Tensor) else np.asarray(X_val)[idx]
            analyzer.compute_pairwise_scores(scores_name=f"class{k}", factors_name="f",
                                             query_dataset=dataset(Xk, y_val[idx]), train_dataset=train,
                                             per_device_query_batch_size=batch_size,
                                             per_device_train_batch_size=batch_size,
                                             score_args=ScoreArguments(damping_factor=damping,
                                                                       aggregate_query_gradients=True),
                                             overwrite_output_dir=True)
            P[:, k] = analyzer.load_pairwise_scores(f"class{k}")["all_modules"].detach().cpu().double().numpy().ravel()
    bad = int((~np.isfinite(P)).sum())
    if bad:
        raise FloatingPointError(
            f"EKFAC influence has {bad} NaN/inf entries: the fitted curvature is degenerate. With damping=None, "
            "kronfluence's heuristic (0.1 x the mean eigenvalue) is 0 when the model's predictions are saturated "
            "(training diverged, e.g. a learning rate too large for the batch size: check the training loss); "
            "fix the training or pass a positive damping.")
    return P / len(y_train)


def tracked_parameters(model: nn.Module) -> list[str]:
    """Names of the parameters of the ``nn.Linear`` / ``nn.Conv2d`` modules: what kronfluence's EKFAC covers."""
    return [f"{mod_name}.{p_name}" if mod_name else p_name
            for mod_name, mod in model.named_modules() if isinstance(mod, (nn.Linear, nn.Conv2d))
            for p_name, _ in mod.named_parameters(recurse=False)]


def exact_category_influence(model: nn.Module, X_train, y_train, X_val, y_val, n_classes: int, *,
                             damping: float, curvature: str = "ggn", params: str = "all") -> np.ndarray:
    """Ground truth for small models: ``P = G_V (H + damping I)^{-1} G_T^T / n`` with the explicit
    mean Gauss-Newton matrix (``curvature="ggn"``, what EKFAC approximates) or the full Hessian
    of the mean training loss (``"hessian"``), built with ``torch.func`` in float64 on the CPU.
    ``params="tracked"`` restricts the parameters to those EKFAC covers (:func:`tracked_parameters`;
    the others, e.g. BERT's embeddings, are held fixed); ``"all"`` uses every parameter."""
    from torch.func import functional_call, grad, hessian, jacrev, vmap

    _check(X_train, y_train, X_val, y_val)
    if curvature not in ("ggn", "hessian"):
        raise ValueError(f"curvature must be 'ggn' or 'hessian', got {curvature!r}")
    if params not in ("all", "tracked"):
        raise ValueError(f"params must be 'all' or 'tracked', got {params!r}")
    m64 = _to_double(model).requires_grad_(False)  # parameters left out of theta are constants
    keep = set(tracked_parameters(m64)) if params == "tracked" else None
    named = [(k, p) for k, p in m64.named_parameters() if keep is None or k in keep]
    names = [k for k, _ in named]
    shapes = [p.shape for _, p in named]
    sizes = [p.numel() for _, p in named]
    theta = torch.cat([p.detach().reshape(-1) for _, p in named])
    if theta.numel() > 5000:
        raise ValueError(f"exact influence builds a {theta.numel()}^2 matrix: use a model with <= 5000 parameters")
    X_train, X_val = (_inputs(a, torch.float64) for a in (X_train, X_val))
    y_train, y_val = (torch.as_tensor(np.asarray(a), dtype=torch.long) for a in (y_train, y_val))

    def logits(th: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        params = {n: t.view(s) for n, t, s in zip(names, th.split(sizes), shapes)}
        return functional_call(m64, params, (x.unsqueeze(0),)).squeeze(0)

    def loss(th, x, y):
        return F.cross_entropy(logits(th, x).unsqueeze(0), y.unsqueeze(0))

    def per_sample(fn, th, *arrays):
        """``fn(th, *rows)`` for every row: vmapped, or one by one for models whose forward
        has data-dependent control flow (Hugging Face attention masks), which vmap refuses."""
        try:
            return vmap(fn, in_dims=(None,) + (0,) * len(arrays))(th, *arrays)
        except RuntimeError as err:
            if "vmap" not in str(err):
                raise
            return torch.stack([fn(th, *row) for row in zip(*arrays)])

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="There is a performance drop")  # functorch, CPU attention
        g_train = per_sample(grad(loss), theta, X_train, y_train)  # (n, p)
        g_val = per_sample(grad(loss), theta, X_val, y_val)
        if curvature == "ggn":
            J = per_sample(jacrev(logits), theta, X_train)  # (n, K, p)
            p = torch.softmax(per_sample(logits, theta, X_train), -1)
            A = torch.diag_embed(p) - p.unsqueeze(2) * p.unsqueeze(1)
            H = torch.einsum("nkp,nkl,nlq->pq", J, A, J) / len(X_train)
        else:
            H = hessian(lambda th: per_sample(loss, th, X_train, y_train).mean())(theta)
    H = H + damping * torch.eye(len(theta), dtype=H.dtype)
    G_class = torch.as_tensor(_class_sum_matrix(y_val.numpy(), n_classes)).T @ g_val  # (K, p)
    return (g_train @ torch.linalg.solve(H, G_class.T)).detach().numpy() / len(X_train)


def _to_double(model: nn.Module) -> nn.Module:
    import copy

    return copy.deepcopy(model).cpu().double().eval()
