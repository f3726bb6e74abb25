"""Smoke test of chapter 3's *full-profile code path* on the CPU, so that the GPU run is not the
first time it executes: the full profile's own parameters from profiles.yaml (CIFAR-10 with
ResNet-9, SGD with the triangle schedule; Emotion and AG_News with BERT, AdamW; kronfluence's
damping heuristic) with only the sizes shrunk — ResNet-9 at width 4, a few dozen images, a tiny
BERT saved like a hub checkpoint — and the data read by the real loaders from a temporary cache
filled with the shipped fixtures. Also: the early, clear failure when data or BERT are missing.
"""

import hashlib
import inspect
import re
import shutil

import numpy as np
import pytest

pytest.importorskip("transformers")

from lib._book import runner  # noqa: E402
from lib.datasets import FIXTURES_DIR, full  # noqa: E402
from lib.experiments import ch03_deep_category_influence as category_studies  # noqa: E402

NB = "03_deep_category_influence"
# the only full-profile values the smoke test changes: sizes, the BERT folder, the device, and the
# image learning rate, scaled with the batch size (linear rule: 0.4 x 16 / 512) — at batch 16 the
# full profile's 0.4 saturates the tiny net and EKFAC's heuristic damping becomes 0 (caught: an error)
SIZES = dict(
    n_train=40,
    n_val=10,
    width=4,
    epochs=1,
    batch_size=16,
    lr=0.4 * 16 / 512,
    seeds=[0],
    text_epochs=1,
    text_batch_size=8,
    text_per_class=None,
    text_max_length=16,
    device="cpu",
)


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _digests(path):
    data = path.read_bytes()
    return {"sha256": hashlib.sha256(data).hexdigest(), "md5": hashlib.md5(data).hexdigest()}  # noqa: S324


def fill_cache(root):
    """Fixture files in the on-disk layout of the real sets, plus a registry pinning their digests.
    CIFAR-10: the 10-image fixture batch as all five training batches (50 images, 5 per class);
    Emotion / AG_News: the fixture lines repeated four times (every class in both halves)."""
    reg = {"full": {}}
    cifar = root / "cifar10" / "cifar-10-batches-py"
    cifar.mkdir(parents=True)
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch", "batches.meta"]
    for n in names:
        shutil.copy(FIXTURES_DIR / "cifar10" / "cifar-10-batches-py" / "data_batch_1", cifar / n)
    reg["full"]["cifar10"] = {"files": {f"cifar-10-batches-py/{n}": _digests(cifar / n) for n in names}}
    for name, files, src in (
        ("emotion", ("train.txt", "val.txt", "test.txt"), "train.txt"),
        ("ag_news", ("train.csv", "test.csv"), "train.csv"),
    ):
        (root / name).mkdir()
        text = (FIXTURES_DIR / name / src).read_text(encoding="utf-8") * 4
        for f in files:
            (root / name / f).write_text(text, encoding="utf-8")
        reg["full"][name] = {"files": {f: _digests(root / name / f) for f in files}}
    return reg


def save_tiny_bert(folder):
    """A tiny randomly initialised BERT and a word-level vocabulary of the fixture texts, saved with
    save_pretrained: what the full profile reads for bert-base-cased, at 1/10,000 of the size."""
    from transformers import BertTokenizer

    from lib import deep

    words = set()
    for f in (FIXTURES_DIR / "emotion" / "train.txt", FIXTURES_DIR / "ag_news" / "train.csv"):
        words |= set(re.findall(r"\w+|[^\w\s]", f.read_text(encoding="utf-8")))
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + sorted(words)
    tok = BertTokenizer(vocab={w: i for i, w in enumerate(vocab)}, do_lower_case=False)
    model = deep.build(
        "bert",
        np.random.default_rng(0),
        n_classes=2,
        config=dict(
            vocab_size=len(vocab),
            hidden_size=16,
            num_hidden_layers=1,
            num_attention_heads=2,
            intermediate_size=32,
            max_position_embeddings=32,
        ),
    )
    model.bert.bert.save_pretrained(folder)  # the encoder only, like bert-base-cased: no classification head
    tok.save_pretrained(folder)
    return str(folder)


def _kwargs(fn, params):
    """The parameters of ``fn`` taken from the notebook's parameter dict (names are shared)."""
    sig = inspect.signature(fn).parameters
    given = {k: params[k] for k in sig if k in params}
    missing = [
        k
        for k, p in sig.items()
        if p.default is inspect.Parameter.empty and k not in params and p.kind == p.KEYWORD_ONLY and k != "rng"
    ]
    assert not missing, f"{fn.__name__} needs parameters the notebook does not define: {missing}"
    return given


@pytest.mark.smoke
def test_full_profile_code_path_runs_end_to_end_on_cpu(tmp_path, monkeypatch):
    params = runner.profile_parameters(NB, "full")
    assert params["image_dataset"] == "cifar10" and params["image_model"] == "resnet9"
    assert params["text_model"] == "bert" and set(params["text_datasets"]) == {"emotion", "ag_news"}
    params.update(SIZES, bert_model=save_tiny_bert(tmp_path / "tiny-bert"))
    root = tmp_path / "full"
    monkeypatch.setattr(full, "load_registry", lambda: reg)
    reg = {"full": {name: {"files": {"missing.bin": {}}} for name in ("cifar10", "emotion", "ag_news")}}
    missing = category_studies.problems(**_kwargs(category_studies.problems, params), root=root)
    assert len(missing) == 3 and all("python -m lib.datasets fetch --profile full" in m for m in missing)

    reg = fill_cache(root)
    assert category_studies.problems(**_kwargs(category_studies.problems, params), root=root) == []

    ds, study = category_studies.image_study(
        **_kwargs(category_studies.image_study, params), rng=np.random.default_rng(0), root=root
    )
    assert ds.name == "cifar10" and ds.meta["image_shape"] == (3, 32, 32)
    assert study.P.shape == (40, 10) and np.isfinite(study.P).all() and np.abs(study.P).max() > 0
    r = study.result
    assert r.influence["beneficial"].shape == (10, 10) and r.acc_change["detrimental"].shape == (10, 10)
    assert r.counts["beneficial"].sum() == 10 * 4  # 10% of 40 removed per target class
    assert type(study.model.net[0][0]).__name__ == "Conv2d" and study.model.net[0][0].out_channels == 4

    text_kwargs = _kwargs(category_studies.text_study, params)
    for name in params["text_datasets"]:
        ds, study = category_studies.text_study(name, **text_kwargs, rng=np.random.default_rng(1), root=root)
        K = ds.n_classes
        assert K == {"emotion": 6, "ag_news": 4}[name]
        assert type(study.model).__name__ == "BertClassifier"
        X_train = study.data[0]
        assert X_train.dtype == np.int64 and X_train.shape[1] <= SIZES["text_max_length"]
        assert study.P.shape == (len(ds) // 2, K) and np.isfinite(study.P).all() and np.abs(study.P).max() > 0
        assert study.result.acc_change["beneficial"].shape == (K, K)


def test_the_full_profile_fails_early_naming_the_fetch_command(tmp_path, monkeypatch, capsys):
    """``make run NB=03_deep_category_influence PROFILE=full`` without the data: the runner stops
    before the kernel starts and names the command that fetches the data and how to get BERT."""
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "empty-hub"))
    params = runner.profile_parameters(NB, "full")
    if not category_studies.preflight(params):
        pytest.skip("the full-profile data and bert-base-cased are present on this machine")
    out = tmp_path / "never.ipynb"
    assert runner.main([NB, "--profile", "full", "--output", str(out)]) == 2
    err = capsys.readouterr().err
    assert "python -m lib.datasets fetch --profile full" in err and "hf download bert-base-cased" in err
    assert not out.exists()
    assert runner.main([NB, "--profile", "full", "-p", "text_model=gpt", "--output", str(out)]) == 2
    assert "text_model must be one of" in capsys.readouterr().err and not out.exists()
