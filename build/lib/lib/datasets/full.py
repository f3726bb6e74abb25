"""Full-profile datasets of [PC] §5: CIFAR-10, STL-10 (10-class images), Emotion (6-class
tweets), AG_News (4-class news), read from ``data/cache/full/<name>/`` in their standard
on-disk formats:

- CIFAR-10: the "python version" batches (``cifar-10-batches-py/data_batch_1..5``,
  ``test_batch``: pickled dicts, ``data`` (10000, 3072) uint8 row-major RGB planes, ``labels``).
- STL-10: the binary version (``stl10_binary/{train,test}_X.bin``: uint8, each image 3x96x96
  stored column-major; ``*_y.bin``: uint8 labels 1..10).
- Emotion (Saravia et al. 2018, dair-ai): the original text form, ``train.txt``/``val.txt``/
  ``test.txt`` with one ``text;label-name`` line per tweet.
- AG_News (Zhang et al. 2015): ``train.csv``/``test.csv``, rows ``"class","title","description"``
  with class 1..4.

Images come back flattened, float32 in [0, 1], with ``meta["image_shape"]`` (C, H, W); texts
come back embedded with the same offline MiniLM encoder as the quick text sets (``meta["texts"]``).
Missing files raise :class:`MissingDataError` naming ``python -m lib.datasets fetch --profile full``.
The parsers are tested on the tiny fixtures in ``data/fixtures/``.
"""

from __future__ import annotations

import csv
import pickle
import shutil
import tarfile
import urllib.request
from pathlib import Path

import numpy as np

from .registry import CACHE_DIR, Dataset, MissingDataError, register
from .checksums import file_digest, load_registry, verify_file

FULL_DIR = CACHE_DIR / "full"
CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
STL10_CLASSES = ("airplane", "bird", "car", "cat", "deer", "dog", "horse", "monkey", "ship", "truck")
EMOTION_CLASSES = ("sadness", "joy", "love", "anger", "fear", "surprise")  # dair-ai label order 0..5
AG_NEWS_CLASSES = ("World", "Sports", "Business", "Sci/Tech")  # csv classes 1..4
STL10_SHAPE = (3, 96, 96)


def fetch_hint(name: str) -> str:
    return (f"run `python -m lib.datasets fetch --profile full` on a machine with internet access, or copy the "
            f"files listed under full/{name} in data/registry.yaml into {FULL_DIR / name}/")


# --- parsers (pure: a path in, arrays out) -------------------------------------------------

def read_cifar_batch(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """One CIFAR-10 python batch -> images (n, 3, 32, 32) uint8 and labels (n,) int64."""
    with open(path, "rb") as fh:
        batch = pickle.load(fh, encoding="bytes")  # noqa: S301 - checksummed file of the official format
    data = np.asarray(batch[b"data"], dtype=np.uint8)
    labels = np.asarray(batch[b"labels"], dtype=np.int64)
    if data.ndim != 2 or data.shape[1] != 3 * 32 * 32 or len(labels) != len(data):
        raise ValueError(f"{path}: expected data (n, 3072) and n labels, got {data.shape} and {len(labels)}")
    return data.reshape(-1, 3, 32, 32), labels


def read_stl10(folder: str | Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    """STL-10 binary split (``train``/``test``) -> images (n, 3, 96, 96) uint8 (row-major,
    converted from the file's column-major layout) and labels (n,) int64 in 0..9."""
    folder = Path(folder)
    raw = np.fromfile(folder / f"{split}_X.bin", dtype=np.uint8)
    size = int(np.prod(STL10_SHAPE))
    if raw.size % size:
        raise ValueError(f"{folder / f'{split}_X.bin'}: {raw.size} bytes is not a multiple of {size} (3x96x96)")
    X = raw.reshape(-1, 3, 96, 96).transpose(0, 1, 3, 2)
    y = np.fromfile(folder / f"{split}_y.bin", dtype=np.uint8).astype(np.int64) - 1
    if len(y) != len(X) or (len(y) and (y.min() < 0 or y.max() > 9)):
        raise ValueError(f"{folder}: {len(X)} images but {len(y)} labels (or labels outside 1..10)")
    return np.ascontiguousarray(X), y


def read_emotion(path: str | Path) -> tuple[list[str], np.ndarray]:
    """Emotion ``text;label`` lines -> texts and labels (index into EMOTION_CLASSES)."""
    index = {c: k for k, c in enumerate(EMOTION_CLASSES)}
    texts, labels = [], []
    for n, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        text, sep, label = line.rpartition(";")
        if not sep or label.strip() not in index:
            raise ValueError(f"{path}:{n}: expected 'text;label' with label in {EMOTION_CLASSES}, got {line[:80]!r}")
        texts.append(text)
        labels.append(index[label.strip()])
    return texts, np.asarray(labels, dtype=np.int64)


def read_ag_news(path: str | Path) -> tuple[list[str], np.ndarray]:
    """AG_News csv rows ``class,title,description`` -> "title. description" and labels 0..3.
    The csv encodes line breaks inside a field as a literal backslash-n: turned into spaces."""
    texts, labels = [], []
    with open(path, encoding="utf-8", newline="") as fh:
        for n, row in enumerate(csv.reader(fh), 1):
            if len(row) != 3 or not row[0].strip().isdigit() or not 1 <= int(row[0]) <= 4:
                raise ValueError(f"{path}:{n}: expected 3 fields class(1-4),title,description, got {row[:3]!r}")
            title, desc = (" ".join(s.replace("\\n", " ").replace("\\", " ").split()) for s in row[1:])
            texts.append(f"{title}. {desc}")
            labels.append(int(row[0]) - 1)
    return texts, np.asarray(labels, dtype=np.int64)


# --- cache: locate, verify, fetch ----------------------------------------------------------

def cached_files(name: str, root: Path | None = None) -> Path:
    """Folder of dataset ``name`` after checking every file pinned in the registry is there and
    matches its pinned size/digests (MissingDataError naming the fetch command otherwise)."""
    folder = (root or FULL_DIR) / name
    files = load_registry()["full"][name]["files"]
    missing = [rel for rel in files if not (folder / rel).is_file()]
    if missing:
        raise MissingDataError(f"{name}: {', '.join(missing)} not found in {folder}. {fetch_hint(name)}")
    for rel, expected in files.items():
        verify_file(folder / rel, expected, fix=fetch_hint(name))
    return folder


def _download(url: str, dest: Path) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    req = urllib.request.Request(url, headers={"User-Agent": "performance-ceiling-book"})
    with urllib.request.urlopen(req, timeout=60) as resp, open(part, "wb") as out:  # noqa: S310 - pinned URLs
        shutil.copyfileobj(resp, out, length=1 << 20)
    part.replace(dest)


def fetch_full(name: str, root: Path | None = None) -> Path:
    """Download dataset ``name`` (pinned URLs of data/registry.yaml) into ``root/name``, verify
    its checksums and extract archives; a no-op when the files are already there and verified.
    Needs internet access: the book's development machines and CI have none."""
    folder = (root or FULL_DIR) / name
    entry = load_registry()["full"][name]
    try:
        return cached_files(name, root)
    except MissingDataError:
        pass
    archive = entry.get("archive")
    if archive:
        path = folder / archive["file"]
        if not path.exists():
            print(f"{name}: downloading {archive['file']} ({int(archive['bytes']) / 1e6:.0f} MB)")
            _download(archive["url"], path)
        verify_file(path, archive, fix=f"delete {path} and fetch again")
        with tarfile.open(path) as tar:
            tar.extractall(folder, filter="data")
    for rel, spec in entry["files"].items():
        if "url" in spec and not (folder / rel).exists():
            print(f"{name}: downloading {rel}")
            _download(spec["url"], folder / rel)
        if spec.get("url") and spec.get("sha256") is None:
            print(f"{name}: {rel} has no published checksum; sha256 seen: {file_digest(folder / rel)} "
                  "(pin it in data/registry.yaml)")
    return cached_files(name, root)


def _fetcher(name: str):
    def fetch() -> None:
        fetch_full(name)

    fetch.__name__ = f"fetch_{name}"
    fetch.__doc__ = f"Download and verify the full-profile dataset {name} (needs internet access)."
    return fetch


def _split(split: str, allowed: tuple[str, ...]) -> None:
    if split not in allowed:
        raise ValueError(f"split must be one of {allowed}, got {split!r}")


def _images(name: str, X: np.ndarray, y: np.ndarray, classes: tuple[str, ...], meta: dict) -> Dataset:
    return Dataset(name=name, X=X.reshape(len(X), -1).astype(np.float32) / 255.0, y=y, classes=classes,
                   meta={"image_shape": tuple(X.shape[1:]), **meta})


def _texts(name: str, texts: list[str], y: np.ndarray, classes: tuple[str, ...], per_class: int | None,
           seed: int, embed: bool, meta: dict) -> Dataset:
    from .text import cap_per_class, embed_texts

    idx = cap_per_class(y, per_class, np.random.default_rng(seed))
    texts = [texts[i] for i in idx]
    X = embed_texts(texts).astype(np.float64) if embed else np.zeros((len(texts), 0))
    return Dataset(name=name, X=X, y=y[idx], classes=classes,
                   meta={"texts": texts, "encoder": "all-MiniLM-L6-v2", "per_class": per_class, **meta})


# --- registered loaders --------------------------------------------------------------------

@register("cifar10", profile="full", fetch=_fetcher("cifar10"),
          description="CIFAR-10: 60,000 32x32 colour images, 10 classes (python batches)")
def load_cifar10(split: str = "train", root: Path | None = None) -> Dataset:
    """CIFAR-10 ``train`` (50,000: data_batch_1..5) or ``test`` (10,000)."""
    _split(split, ("train", "test"))
    folder = cached_files("cifar10", root) / "cifar-10-batches-py"
    names = [f"data_batch_{i}" for i in range(1, 6)] if split == "train" else ["test_batch"]
    parts = [read_cifar_batch(folder / n) for n in names]
    return _images("cifar10", np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]),
                   CIFAR10_CLASSES, {"split": split, "source": str(folder)})


@register("stl10", profile="full", fetch=_fetcher("stl10"),
          description="STL-10: 13,000 labelled 96x96 colour images, 10 classes (binary)")
def load_stl10(split: str = "train", root: Path | None = None) -> Dataset:
    """STL-10 labelled ``train`` (5,000) or ``test`` (8,000); the unlabelled set is not read."""
    _split(split, ("train", "test"))
    folder = cached_files("stl10", root) / "stl10_binary"
    X, y = read_stl10(folder, split)
    return _images("stl10", X, y, STL10_CLASSES, {"split": split, "source": str(folder)})


@register("emotion", profile="full", fetch=_fetcher("emotion"),
          description="Emotion (dair-ai): 20,000 English tweets, 6 emotions, MiniLM 384-d")
def load_emotion(split: str = "train", per_class: int | None = None, seed: int = 0, embed: bool = True,
                 root: Path | None = None) -> Dataset:
    """Emotion ``train`` (16,000), ``validation`` (2,000) or ``test`` (2,000) tweets."""
    _split(split, ("train", "validation", "test"))
    folder = cached_files("emotion", root)
    texts, y = read_emotion(folder / {"train": "train.txt", "validation": "val.txt", "test": "test.txt"}[split])
    return _texts("emotion", texts, y, EMOTION_CLASSES, per_class, seed, embed, {"split": split})


@register("ag_news", profile="full", fetch=_fetcher("ag_news"),
          description="AG_News: 127,600 news articles, 4 topics, MiniLM 384-d")
def load_ag_news(split: str = "train", per_class: int | None = None, seed: int = 0, embed: bool = True,
                 root: Path | None = None) -> Dataset:
    """AG_News ``train`` (120,000) or ``test`` (7,600) articles (title + description)."""
    _split(split, ("train", "test"))
    folder = cached_files("ag_news", root)
    texts, y = read_ag_news(folder / f"{split}.csv")
    return _texts("ag_news", texts, y, AG_NEWS_CLASSES, per_class, seed, embed, {"split": split})
