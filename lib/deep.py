"""Deep classifiers of [PC] §5.1 / App. A.2 and one deterministic, sample-weighted training loop.

Models: :class:`SmallCNN` (quick profile, 28x28 or 8x8 grey images), :class:`MLPHead` (quick
text profile: frozen 384-d MiniLM embeddings), :class:`ResNet9` (full profile, CIFAR-10 /
STL-10, as in [PC] App. A.2) and ``bert`` (``lib.bert.BertClassifier``, full text profile,
bert-base-cased on token ids; its files come from the Hugging Face cache).

:func:`train` minimises ``sum_i w_i * loss_i / batch_size`` per mini-batch (the per-sample
weights ``w`` of PARETO-LP-GA, [PC] Algorithm 1 line 5) and records per-class accuracy after
every epoch on an evaluation set.

Devices: ``device="auto"`` is the GPU when torch sees one, else the CPU (:func:`resolve_device`).
Models are initialised on the CPU (same weights on every device) and moved; batches go to the
model's device; every result (logits, metrics) comes back on the CPU.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from .reproducibility import torch_generator


class SmallCNN(nn.Module):
    """Two conv(3x3)-ReLU-maxpool(2) blocks and a linear classifier: the quick-profile vision net."""

    def __init__(self, n_classes: int = 10, in_channels: int = 1, image_size: int = 28, width: int = 8):
        super().__init__()
        if image_size < 4:
            raise ValueError(f"image_size must be >= 4 (two 2x2 poolings), got {image_size}")
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, width, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(width, 2 * width, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(),
        )
        self.classifier = nn.Linear(2 * width * (image_size // 2 // 2) ** 2, n_classes)
        self.in_shape = (in_channels, image_size, image_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() == 2:  # flat pixels (n, C*H*W)
            x = x.view(len(x), *self.in_shape)
        return self.classifier(self.features(x))


class MLPHead(nn.Module):
    """One-hidden-layer MLP on frozen sentence embeddings (quick-profile text classifier)."""

    def __init__(self, n_classes: int, d_in: int = 384, hidden: int = 64):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(d_in, hidden), nn.ReLU(), nn.Linear(hidden, n_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def _conv_bn(c_in: int, c_out: int, pool: bool = False) -> nn.Sequential:
    layers: list[nn.Module] = [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU()]
    if pool:
        layers.append(nn.MaxPool2d(2))
    return nn.Sequential(*layers)


class _Residual(nn.Module):
    def __init__(self, c: int):
        super().__init__()
        self.block = nn.Sequential(_conv_bn(c, c), _conv_bn(c, c))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.block(x)


class ResNet9(nn.Module):
    """ResNet-9 (the DAWNBench CIFAR-10 net) used by [PC] App. A.2 for CIFAR-10 and STL-10."""

    def __init__(self, n_classes: int = 10, in_channels: int = 3, width: int = 64):
        super().__init__()
        w = width
        self.net = nn.Sequential(
            _conv_bn(in_channels, w), _conv_bn(w, 2 * w, pool=True), _Residual(2 * w),
            _conv_bn(2 * w, 4 * w, pool=True), _conv_bn(4 * w, 8 * w, pool=True), _Residual(8 * w),
            nn.AdaptiveMaxPool2d(1), nn.Flatten(), nn.Linear(8 * w, n_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def _bert(**kwargs) -> nn.Module:
    from .bert import BertClassifier

    return BertClassifier(**kwargs)


MODELS = {"small_cnn": SmallCNN, "mlp_head": MLPHead, "resnet9": ResNet9, "bert": _bert}
DEVICES = ("auto", "cpu", "cuda", "cuda:N")


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``"auto"`` -> ``cuda`` when torch sees a GPU, else ``cpu``; ``"cpu"``; ``"cuda"`` /
    ``"cuda:N"`` (an error when no such GPU is visible). Anything else is an error naming the choices."""
    if isinstance(device, torch.device):
        device = str(device)
    if not isinstance(device, str):
        raise ValueError(f"device must be a string, one of {', '.join(DEVICES)}; got {device!r}")
    name = device.strip().lower()
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cpu":
        return torch.device("cpu")
    head, _, index = name.partition(":")
    if head == "cuda" and (not index or index.isdigit()):
        n_gpu = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if n_gpu == 0:
            raise ValueError(f"device {device!r} asked for a GPU but torch sees none (torch {torch.__version__}, "
                             "built for the CPU or no GPU visible): use device='auto' or 'cpu'")
        if index and int(index) >= n_gpu:
            raise ValueError(f"device {device!r}: torch sees {n_gpu} GPU(s), cuda:0..cuda:{n_gpu - 1}")
        return torch.device(name)
    raise ValueError(f"unknown device {device!r}; choose one of {', '.join(DEVICES)} "
                     "('auto' = the GPU when one is available, else the CPU)")


def model_device(model: nn.Module) -> torch.device:
    """The device of ``model``'s first parameter (CPU for a model without parameters)."""
    return next((p.device for p in model.parameters()), torch.device("cpu"))


def build(kind: str, rng: np.random.Generator, device: str | torch.device = "cpu", **kwargs) -> nn.Module:
    """A freshly initialised model of ``kind`` (``small_cnn``, ``mlp_head``, ``resnet9``, ``bert``)
    on ``device`` (see :func:`resolve_device`); the initial weights are drawn on the CPU from a
    torch seed taken from ``rng`` (global RNG untouched), so they do not depend on the device."""
    if kind not in MODELS:
        raise ValueError(f"unknown model {kind!r}; choose one of {', '.join(MODELS)}")
    dev = resolve_device(device)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(rng.integers(0, 2**63 - 1)))
        model = MODELS[kind](**kwargs)
    return model.to(dev)


@dataclass
class TrainResult:
    """Per-epoch history: ``class_accuracy[e, k]`` on the eval set after epoch ``e + 1``, ``loss[e]``
    the mean weighted training loss of epoch ``e + 1``."""

    class_accuracy: np.ndarray
    accuracy: np.ndarray
    loss: np.ndarray = field(default_factory=lambda: np.zeros(0))


def _as_tensor(a, dtype=None) -> torch.Tensor:
    t = a if isinstance(a, torch.Tensor) else torch.as_tensor(np.asarray(a))
    return t.to(dtype) if dtype is not None else t


def as_inputs(X) -> torch.Tensor:
    """Model inputs as a CPU tensor: integer arrays (token ids) as int64, everything else float32."""
    t = _as_tensor(X)
    return t.long() if not (t.is_floating_point() or t.is_complex()) else t.float()


@torch.no_grad()
def predict_logits(model: nn.Module, X, batch_size: int = 1024) -> torch.Tensor:
    """Logits of ``model`` on ``X`` in evaluation mode, batched on the model's device; returned on the CPU."""
    X = as_inputs(X)
    was_training = model.training
    model.eval()
    dev = model_device(model)
    out = (torch.cat([model(X[i:i + batch_size].to(dev)).float().cpu() for i in range(0, len(X), batch_size)])
           if len(X) else torch.zeros(0))
    model.train(was_training)
    return out


def per_class_accuracy(model: nn.Module, X, y, n_classes: int) -> np.ndarray:
    """Accuracy on the samples of each class ``k`` (NaN where the class is absent) — [PC]'s per-category metric."""
    y = np.asarray(y)
    pred = predict_logits(model, X).argmax(1).numpy()
    correct = np.bincount(y, weights=(pred == y).astype(float), minlength=n_classes)
    count = np.bincount(y, minlength=n_classes).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        return correct / count


OPTIMIZERS = ("sgd", "adamw")
LR_SCHEDULES = ("constant", "triangle")


def lr_factor(step: int, total: int, schedule: str, peak_fraction: float = 0.2) -> float:
    """Learning-rate multiplier at optimiser step ``step`` of ``total``. ``constant``: 1.
    ``triangle``: linear from 0 up to 1 at ``peak_fraction`` of the steps (at least one step),
    then linearly down to 0 at the end — the schedule of kronfluence's ResNet-9 / CIFAR-10 example
    (which peaks at epoch ``epochs // 5``), whose batch size, learning rate and epochs [PC] App. A.3
    Table 2 lists."""
    if schedule == "constant":
        return 1.0
    if schedule != "triangle":
        raise ValueError(f"unknown lr_schedule {schedule!r}; choose one of {', '.join(LR_SCHEDULES)}")
    peak = max(1, int(round(peak_fraction * total)))
    return float(np.interp(step, [0, peak, max(total, peak + 1)], [0.0, 1.0, 0.0]))


def train(model: nn.Module, X, y, *, rng: np.random.Generator, sample_weight=None, epochs: int = 5,
          lr: float = 0.05, batch_size: int = 64, weight_decay: float = 0.0, momentum: float = 0.9,
          optimizer: str = "sgd", lr_schedule: str = "constant", device: str | torch.device | None = None,
          X_eval=None, y_eval=None, n_classes: int | None = None) -> TrainResult:
    """Train ``model`` in place on the weighted cross-entropy ``sum_{i in batch} w_i * CE_i / batch_size``
    ([PC] Alg. 1, ``TRAINONEEPOCH(theta, T, w)``) with ``optimizer`` ``"sgd"`` (momentum, weight
    decay) or ``"adamw"`` (decoupled weight decay; the BERT fine-tuning recipe) and a per-step
    ``lr_schedule`` (:func:`lr_factor`).

    Shuffling uses a torch generator drawn from ``rng``, and dropout (BERT) a torch seed drawn
    after it: same ``rng`` state, same model. Records per-class accuracy on ``(X_eval, y_eval)``
    after every epoch (empty without eval set). ``device`` (``None`` = where the model is; else see
    :func:`resolve_device`) receives the model and, on a GPU, the whole training set once; on the
    CPU the data are used in place. Inputs: float features/images, or int64 token ids.
    """
    X = as_inputs(X)
    y = _as_tensor(y, torch.long)
    n = len(y)
    if len(X) != n:
        raise ValueError(f"X has {len(X)} rows but y has {n} labels")
    w = torch.ones(n) if sample_weight is None else _as_tensor(sample_weight, torch.float32)
    if w.shape != (n,) or bool((w < 0).any()) or not bool(torch.isfinite(w).all()):
        raise ValueError(f"sample_weight must be {n} finite non-negative numbers, got shape {tuple(w.shape)}")
    if epochs < 1 or batch_size < 1:
        raise ValueError(f"epochs and batch_size must be >= 1, got {epochs}, {batch_size}")
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {optimizer!r}; choose one of {', '.join(OPTIMIZERS)}")
    lr_factor(0, 1, lr_schedule)  # validates the schedule name before any work
    dev = model_device(model) if device is None else resolve_device(device)
    model.to(dev)
    if dev.type != "cpu":
        X, y, w = X.to(dev), y.to(dev), w.to(dev)
    K = n_classes if n_classes is not None else int(y.max()) + 1
    gen = torch_generator(rng)
    dropout_seed = int(rng.integers(0, 2**63 - 1))
    if optimizer == "sgd":
        opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum, weight_decay=weight_decay)
    else:
        opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    steps_per_epoch = -(-n // batch_size)
    total_steps = epochs * steps_per_epoch
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda t: lr_factor(t, total_steps, lr_schedule))
    accs, losses = [], []
    with torch.random.fork_rng(devices=[dev.index or 0] if dev.type == "cuda" else []):
        torch.manual_seed(dropout_seed)
        for _ in range(epochs):
            model.train()
            order = torch.randperm(n, generator=gen).to(dev)
            total = torch.zeros((), device=dev)
            for start in range(0, n, batch_size):
                idx = order[start:start + batch_size]
                logits = model(X[idx])
                loss = (w[idx] * F.cross_entropy(logits.float(), y[idx], reduction="none")).sum() / len(idx)
                opt.zero_grad()
                loss.backward()
                opt.step()
                sched.step()
                total += loss.detach() * len(idx)
            losses.append(float(total) / n)
            if X_eval is not None:
                accs.append(per_class_accuracy(model, X_eval, y_eval, K))
    model.eval()
    acc = np.array(accs) if accs else np.zeros((0, K))
    overall = np.zeros(0)
    if X_eval is not None:
        counts = np.bincount(np.asarray(y_eval), minlength=K)
        overall = np.nansum(acc * counts, axis=1) / counts.sum()
    return TrainResult(class_accuracy=acc, accuracy=overall, loss=np.array(losses))


@torch.no_grad()
def class_metrics(model: nn.Module, X, y, n_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-class accuracy (K,) and per-class *summed* cross-entropy ``L_{V_k}`` (K,) on ``(X, y)``:
    the quantities category-wise influence predicts ([PC] §3)."""
    y = np.asarray(y)
    logits = predict_logits(model, X)
    loss = F.cross_entropy(logits, torch.as_tensor(y), reduction="none").numpy()
    correct = (logits.argmax(1).numpy() == y).astype(float)
    count = np.bincount(y, minlength=n_classes).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        acc = np.bincount(y, weights=correct, minlength=n_classes) / count
    return acc, np.bincount(y, weights=loss, minlength=n_classes)


def image_model_kwargs(kind: str, n_classes: int, image_shape: tuple[int, int, int], width: int) -> dict:
    """Constructor arguments of an image model ``kind`` for images of ``image_shape`` (C, H, W)."""
    C, H, W = image_shape
    if kind == "small_cnn":
        return {"n_classes": n_classes, "in_channels": C, "image_size": H, "width": width}
    if kind == "resnet9":
        return {"n_classes": n_classes, "in_channels": C, "width": width}
    raise ValueError(f"{kind!r} is not an image model; choose 'small_cnn' or 'resnet9'")
