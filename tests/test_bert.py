"""The BERT path of the full text profile, on a tiny randomly initialised BERT (no download):
tokenizer, from_pretrained from a local folder, deterministic fine-tuning, EKFAC through
kronfluence against the exact damped Gauss-Newton influence, and the missing-files error."""

import numpy as np
import pytest
import torch

pytest.importorskip("transformers")

from lib import bert, deep, ekfac  # noqa: E402

SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
TEXTS = [
    "i feel happy today",
    "what a joyful day",
    "i feel sad and alone",
    "a gloomy grey morning",
    "the team won the final",
    "a great game tonight",
]
LABELS = [0, 0, 1, 1, 2, 2]


def tiny_tokenizer(texts):
    from transformers import BertTokenizer

    words = sorted({w for t in texts for w in t.split()})
    return BertTokenizer(vocab={w: i for i, w in enumerate(SPECIALS + words)}, do_lower_case=False)


def tiny_config(tokenizer, hidden=16):
    return dict(
        vocab_size=len(tokenizer.get_vocab()),
        hidden_size=hidden,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=2 * hidden,
        max_position_embeddings=16,
    )


def save_tiny_bert(folder, texts, n_classes=3, seed=0):
    """A tiny BERT (random weights) and its tokenizer saved like a hub checkpoint."""
    tok = tiny_tokenizer(texts)
    model = deep.build("bert", np.random.default_rng(seed), n_classes=n_classes, config=tiny_config(tok))
    model.bert.bert.save_pretrained(folder)  # the encoder only, like bert-base-cased: no classification head
    tok.save_pretrained(folder)
    return folder


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture
def toy():
    tok = tiny_tokenizer(TEXTS)
    X = bert.tokenize(TEXTS * 5, tok, max_length=12)
    return tok, X, np.array(LABELS * 5)


def test_tokenize_pads_with_zero_and_keeps_cls_sep(toy):
    tok, X, _ = toy
    assert X.dtype == np.int64 and X.shape == (30, 7)  # longest text: 5 words + [CLS] + [SEP]
    assert (X[:, 0] == tok.cls_token_id).all() and tok.pad_token_id == 0
    assert X[0].tolist()[-1] == 0 and tok.sep_token_id in X[0].tolist()  # 4 words: padded once
    assert (X != tok.unk_token_id).all()
    with pytest.raises(ValueError, match="max_length"):
        bert.tokenize(TEXTS, tok, max_length=1)


def test_tiny_bert_fine_tunes_deterministically_and_learns(toy):
    tok, X, y = toy
    params = []
    for _ in range(2):  # dropout and batch order come from the rng: identical runs
        m = deep.build("bert", np.random.default_rng(0), n_classes=3, config=tiny_config(tok))
        r = deep.train(
            m,
            X,
            y,
            rng=np.random.default_rng(1),
            epochs=10,
            lr=1e-2,
            batch_size=8,
            optimizer="adamw",
            weight_decay=0.01,
            device="cpu",
            X_eval=X,
            y_eval=y,
            n_classes=3,
        )
        params.append(torch.cat([p.detach().ravel() for p in m.parameters()]))
    assert torch.equal(params[0], params[1])
    assert r.accuracy[-1] == 1.0 and r.accuracy[0] < 0.5
    logits = deep.predict_logits(m, X)
    assert logits.shape == (30, 3) and logits.device.type == "cpu"


def test_ekfac_on_tiny_bert_matches_exact_gauss_newton_over_the_linear_layers(toy):
    """kronfluence covers BERT's nn.Linear modules (attention, feed-forward, pooler, classifier);
    the ground truth is the explicit damped Gauss-Newton influence over the same parameters."""
    tok, X, y = toy
    m = deep.build("bert", np.random.default_rng(0), n_classes=3, config=tiny_config(tok))
    deep.train(m, X, y, rng=np.random.default_rng(1), epochs=10, lr=1e-2, batch_size=8, optimizer="adamw")
    tracked = ekfac.tracked_parameters(m)
    assert any("attention" in t for t in tracked) and any("classifier" in t for t in tracked)
    assert not any("embeddings" in t or "LayerNorm" in t for t in tracked)
    P = ekfac.category_influence(
        m, X, y, X, y, 3, rng=np.random.default_rng(2), damping=0.1, fisher_samples=10, device="cpu"
    )
    P_exact = ekfac.exact_category_influence(m, X, y, X, y, 3, damping=0.1, params="tracked")
    assert P.shape == (30, 3) and np.isfinite(P).all()
    r = [np.corrcoef(P[:, k], P_exact[:, k])[0, 1] for k in range(3)]
    assert min(r) >= 0.85, r
    # every parameter instead: the embeddings add curvature EKFAC never sees -> a different answer
    assert not np.allclose(P_exact, ekfac.exact_category_influence(m, X, y, X, y, 3, damping=0.1), rtol=0.05)


def test_a_saved_folder_loads_through_the_full_profile_path(tmp_path, toy):
    folder = save_tiny_bert(tmp_path / "tiny-bert", TEXTS)
    assert bert.missing_files(str(folder)) == []
    tok = bert.load_tokenizer(str(folder))
    np.testing.assert_array_equal(bert.tokenize(TEXTS, tok, 12), bert.tokenize(TEXTS, toy[0], 12))
    a = deep.build("bert", np.random.default_rng(5), n_classes=3, name=str(folder))
    b = deep.build("bert", np.random.default_rng(0), n_classes=3, config=tiny_config(toy[0]))
    enc_a = {k: v for k, v in a.bert.state_dict().items() if not k.startswith("classifier")}
    enc_b = {k: v for k, v in b.bert.state_dict().items() if not k.startswith("classifier")}
    assert all(torch.equal(enc_a[k], enc_b[k]) for k in enc_b)  # the saved encoder, not a fresh one


def test_missing_bert_files_say_what_is_missing_and_how_to_provide_them(tmp_path, monkeypatch):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "empty-hub"))
    missing = bert.missing_files("bert-base-cased")
    assert missing == [
        "model config (config.json)",
        "tokenizer (tokenizer.json or vocab.txt)",
        "weights (model.safetensors or pytorch_model.bin)",
    ]
    with pytest.raises(bert.MissingModelError) as err:
        deep.build("bert", np.random.default_rng(0), n_classes=6)
    msg = str(err.value)
    for needle in (
        "bert-base-cased",
        "config.json",
        "empty-hub",
        "hf download bert-base-cased",
        "HF_HOME",
        "bert_model",
        "Nothing has been computed",
    ):
        assert needle in msg, needle
    (tmp_path / "half").mkdir()
    (tmp_path / "half" / "config.json").write_text("{}")
    assert bert.missing_files(str(tmp_path / "half")) == [
        "tokenizer (tokenizer.json or vocab.txt)",
        "weights (model.safetensors or pytorch_model.bin)",
    ]
    with pytest.raises(bert.MissingModelError, match="the folder"):
        bert.load_tokenizer(str(tmp_path / "half"))
