"""bert-base-cased for the full text profile of [PC] §5.1 (App. A.2: Emotion, AG_News).

The model and its tokenizer are read from the Hugging Face cache only (``local_files_only``):
the book's machines have no network. :func:`missing_files` says which files are absent and
:class:`MissingModelError` tells how to provide them, *before* any training starts
(:func:`require`). ``name`` may also be a local folder written by ``save_pretrained`` — the
tests use a tiny randomly initialised BERT saved that way, so that the full-profile code path
(from_pretrained, tokenizer, training, EKFAC through kronfluence) runs on the CPU.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
from torch import nn

DEFAULT = "bert-base-cased"
# (what, alternatives): one file of each group must be present
REQUIRED = (("model config", ("config.json",)),
            ("tokenizer", ("tokenizer.json", "vocab.txt")),
            ("weights", ("model.safetensors", "pytorch_model.bin")))


class MissingModelError(FileNotFoundError):
    """Pre-trained model files are not available offline; the message says how to provide them."""


def _quiet() -> None:
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    import transformers

    transformers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()


def hub_cache() -> Path:
    """The Hugging Face hub cache folder this process reads (``HF_HUB_CACHE``, else ``HF_HOME/hub``)."""
    from huggingface_hub import constants

    return Path(constants.HF_HUB_CACHE)


def missing_files(name: str = DEFAULT) -> list[str]:
    """The file groups of :data:`REQUIRED` that neither the local folder ``name`` nor the hub cache holds."""
    folder = Path(name)
    if folder.is_dir():
        def present(f: str) -> bool:
            return (folder / f).is_file()
    else:
        from huggingface_hub import try_to_load_from_cache

        def present(f: str) -> bool:
            return isinstance(try_to_load_from_cache(name, f), str)
    return [f"{what} ({' or '.join(files)})" for what, files in REQUIRED if not any(present(f) for f in files)]


def missing_message(name: str, missing: list[str]) -> str:
    where = f"the folder {name}" if Path(name).is_dir() else f"the Hugging Face cache {hub_cache()}"
    return (f"{name}: {', '.join(missing)} not found in {where}. The full text profile fine-tunes {name} "
            "offline. Provide its files in one of two ways: (1) on a machine with internet access run "
            f"`hf download {name} config.json tokenizer.json tokenizer_config.json vocab.txt model.safetensors` "
            "and copy the hub cache it fills (~/.cache/huggingface/hub) to this machine, then point HF_HOME "
            "(or HF_HUB_CACHE) at it; or (2) save the model and tokenizer with save_pretrained into a folder "
            "and pass that folder as the notebook parameter bert_model. Nothing has been computed yet.")


def require(name: str = DEFAULT) -> None:
    """Raise :class:`MissingModelError` (what is missing, how to provide it) unless ``name`` loads offline."""
    missing = missing_files(name)
    if missing:
        raise MissingModelError(missing_message(name, missing))


def load_tokenizer(name: str = DEFAULT):
    """The tokenizer of ``name`` from the local cache / folder (no network)."""
    require(name)
    _quiet()
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(name, local_files_only=True)


def tokenize(texts: list[str], tokenizer, max_length: int = 128) -> np.ndarray:
    """Token ids (n, L) int64 with [CLS]/[SEP], truncated to ``max_length`` and padded with the
    tokenizer's pad id to the longest text (``L <= max_length``)."""
    if max_length < 2:
        raise ValueError(f"max_length must be >= 2 ([CLS] and [SEP]), got {max_length}")
    if tokenizer.pad_token_id is None:
        raise ValueError("the tokenizer has no padding token")
    enc = tokenizer(list(texts), truncation=True, max_length=max_length, padding="longest")
    return np.asarray(enc["input_ids"], dtype=np.int64)


class BertClassifier(nn.Module):
    """BERT with a sequence-classification head on token ids ([PC] App. A.2, Emotion / AG_News).

    ``config=None`` loads the pre-trained ``name`` (default bert-base-cased) from the local cache
    or folder with a fresh ``n_classes`` head; a ``config`` dict (``transformers.BertConfig``
    arguments) builds a randomly initialised BERT instead (tests; no files needed). The
    attention mask is ``ids != pad_token_id`` of the model's config.
    """

    def __init__(self, n_classes: int, name: str = DEFAULT, config: dict | None = None):
        super().__init__()
        _quiet()
        from transformers import AutoModelForSequenceClassification, BertConfig, BertForSequenceClassification

        if config is not None:
            self.bert = BertForSequenceClassification(BertConfig(num_labels=n_classes, **config))
        else:
            require(name)
            try:
                self.bert = AutoModelForSequenceClassification.from_pretrained(
                    name, num_labels=n_classes, local_files_only=True)
            except OSError as err:
                raise MissingModelError(missing_message(name, [f"a loadable model ({err})"])) from err
        self.pad_token_id = int(self.bert.config.pad_token_id or 0)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.bert(input_ids=ids, attention_mask=(ids != self.pad_token_id).long()).logits
