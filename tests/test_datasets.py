"""Data loaders: parsers on shipped fixtures, checksums, missing-data errors, Debian fetch
logic, the quick text sets (Debian files are present: `make test` runs `make data` first)."""

from __future__ import annotations

import hashlib
import importlib.util
import subprocess
from pathlib import Path

import numpy as np
import pytest

import lib.datasets as ds
from lib.datasets import FIXTURES_DIR, MissingDataError, debian, full, text
from lib.datasets.checksums import ChecksumError, verify_file

_spec = importlib.util.spec_from_file_location("make_fixtures", FIXTURES_DIR / "make_fixtures.py")
make_fixtures = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(make_fixtures)


# --- parsers on fixtures -------------------------------------------------------------------

def test_fortune_parsing_splits_on_percent_lines_and_strips_overstrike():
    recs = text.parse_fortunes((FIXTURES_DIR / "fortunes" / "sample").read_text())
    assert recs == ["A first fortune on two lines. -- Someone", "A bold fortune with overstrike.",
                    "Percent signs inside a line, 100% fine."]


def test_cifar_batch_fixture_parses_to_images_and_labels():
    X, y = full.read_cifar_batch(FIXTURES_DIR / "cifar10" / "cifar-10-batches-py" / "data_batch_1")
    assert X.shape == (10, 3, 32, 32) and X.dtype == np.uint8
    np.testing.assert_array_equal(y, np.arange(9, -1, -1))
    np.testing.assert_array_equal(X, make_fixtures.cifar_images(10))  # channel planes, row-major


def test_stl10_binary_fixture_is_transposed_from_column_major():
    X, y = full.read_stl10(FIXTURES_DIR / "stl10" / "stl10_binary", "train")
    assert X.shape == (3, 3, 96, 96)
    np.testing.assert_array_equal(y, [0, 4, 9])  # file labels 1..10 -> 0..9
    np.testing.assert_array_equal(X, make_fixtures.stl_images(3))  # would fail without the transpose
    assert not np.array_equal(X, X.transpose(0, 1, 3, 2))


def test_emotion_lines_parse_with_semicolons_inside_text(tmp_path):
    texts, y = full.read_emotion(FIXTURES_DIR / "emotion" / "train.txt")
    assert len(texts) == 8
    np.testing.assert_array_equal(y, [0, 3, 2, 3, 0, 5, 1, 4])
    assert texts[4] == "i have been feeling a little burdened lately; wasnt sure why that was"
    bad = tmp_path / "bad.txt"
    bad.write_text("i feel fine;contentment\n")
    with pytest.raises(ValueError, match="bad.txt:1"):
        full.read_emotion(bad)


def test_ag_news_csv_parses_quotes_commas_and_escaped_newlines(tmp_path):
    texts, y = full.read_ag_news(FIXTURES_DIR / "ag_news" / "train.csv")
    np.testing.assert_array_equal(y, [2, 3, 1, 0])
    assert texts[0].endswith("Wall Street's dwindling band of ultra-cynics, are seeing green again.")
    assert texts[1] == "New Chip Design. A new processor, built on a smaller process, was shown on Monday."
    assert '"to close the gap"' in texts[3]
    bad = tmp_path / "bad.csv"
    bad.write_text('"5","t","d"\n')
    with pytest.raises(ValueError, match="class\\(1-4\\)"):
        full.read_ag_news(bad)


# --- checksums and missing data ------------------------------------------------------------

def test_verify_file_accepts_match_and_rejects_wrong_digest_or_size(tmp_path):
    f = tmp_path / "x.bin"
    f.write_bytes(b"hello")
    sha = hashlib.sha256(b"hello").hexdigest()
    md5 = hashlib.md5(b"hello").hexdigest()  # noqa: S324
    assert verify_file(f, {"sha256": sha, "md5": md5, "bytes": 5}) == {"sha256": sha, "md5": md5}
    with pytest.raises(ChecksumError, match="sha256 .* does not match .* data/registry.yaml"):
        verify_file(f, {"sha256": "0" * 64}, fix="run `make data`")
    with pytest.raises(ChecksumError, match="size 5 bytes.*pins 6 bytes"):
        verify_file(f, {"bytes": 6})
    with pytest.raises(MissingDataError, match="run `make data`"):
        verify_file(tmp_path / "absent", {"sha256": sha}, fix="run `make data`")


@pytest.mark.parametrize("name", ["cifar10", "stl10", "emotion", "ag_news"])
def test_missing_full_data_names_the_fetch_command(name, tmp_path):
    with pytest.raises(MissingDataError, match="python -m lib.datasets fetch --profile full"):
        ds.load(name, root=tmp_path)


def test_corrupt_full_file_is_a_checksum_error(tmp_path):
    folder = tmp_path / "ag_news"
    folder.mkdir()
    for rel in ("train.csv", "test.csv"):
        (folder / rel).write_bytes((FIXTURES_DIR / "ag_news" / "train.csv").read_bytes())
    with pytest.raises(ChecksumError, match="train.csv: sha256"):
        ds.load("ag_news", root=tmp_path, embed=False)


def test_debian_file_missing_names_make_data(tmp_path, monkeypatch):
    monkeypatch.setattr(debian, "DEBIAN_DIR", tmp_path)
    with pytest.raises(MissingDataError, match="make data"):
        debian.debian_file("fortunes", "usr/share/games/fortunes/sports")


def _fake_registry(content: bytes) -> dict:
    return {"debian": {"fakepkg": {"version": "1.0", "licence": "MIT",
                                   "files": {"usr/share/fake/data.txt": {
                                       "sha256": hashlib.sha256(content).hexdigest(), "bytes": len(content)}}}}}


def _fake_apt(calls: list, payload: bytes, have_lists: bool):
    """Stands in for apt-get/dpkg-deb: `download` fails until `update` ran (if no lists)."""
    state = {"lists": have_lists}

    def run(cmd, cwd=None):
        calls.append(cmd[:2])
        if cmd[:2] == ["apt-get", "update"]:
            state["lists"] = True
            return subprocess.CompletedProcess(cmd, 0, "", "")
        if cmd[:2] == ["apt-get", "download"]:
            if not state["lists"]:
                return subprocess.CompletedProcess(cmd, 100, "", "E: Unable to locate package fakepkg")
            (Path(cwd) / "fakepkg_1.0_all.deb").write_bytes(b"deb")
            return subprocess.CompletedProcess(cmd, 0, "", "")
        if cmd[:3] == ["dpkg-deb", "-f", cmd[2]]:
            return subprocess.CompletedProcess(cmd, 0, "1.0\n", "")
        if cmd[:2] == ["dpkg-deb", "-x"]:
            out = Path(cmd[3]) / "usr/share/fake/data.txt"
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_bytes(payload)
            return subprocess.CompletedProcess(cmd, 0, "", "")
        raise AssertionError(f"unexpected command {cmd}")

    return run


@pytest.mark.parametrize("have_lists", [True, False])
def test_fetch_package_updates_lists_only_when_needed_and_is_idempotent(tmp_path, monkeypatch, have_lists):
    monkeypatch.setattr(debian, "load_registry", lambda: _fake_registry(b"real data"))
    calls: list = []
    run = _fake_apt(calls, b"real data", have_lists)
    debian.fetch_package("fakepkg", root=tmp_path, run=run)
    assert (tmp_path / "usr/share/fake/data.txt").read_bytes() == b"real data"
    assert (["apt-get", "update"] in calls) == (not have_lists)
    n = len(calls)
    debian.fetch_package("fakepkg", root=tmp_path, run=run)  # already there: no command at all
    assert len(calls) == n


def test_fetch_package_rejects_a_changed_package(tmp_path, monkeypatch):
    monkeypatch.setattr(debian, "load_registry", lambda: _fake_registry(b"real data"))
    with pytest.raises(ChecksumError, match="version '1.0' was extracted"):
        debian.fetch_package("fakepkg", root=tmp_path, run=_fake_apt([], b"tampered", True))


# --- registry --------------------------------------------------------------------------------

def test_every_pinned_full_dataset_is_registered_and_quick_text_sets_fetch():
    from lib.datasets.checksums import load_registry

    assert set(load_registry()["full"]) == set(ds.names("full"))
    for name in ("fortunes4", "austen6"):
        assert ds.entry(name).profile == "quick" and ds.entry(name).fetch is debian.fetch_quick_packages


# --- the real quick text sets (Debian files fetched by `make data`) --------------------------

def test_real_fortune_files_parse_to_known_counts():
    texts, y = text.fortune_texts()
    # records = lines holding only '%' (+1 for the last record without a trailing '%'): 703/147/630/625
    np.testing.assert_array_equal(np.bincount(y), [703, 147, 630, 625])
    assert all("%" != t.strip() and t for t in texts)


def test_austen_novels_read_from_r_data():
    novels = text.austen_novels()
    assert set(novels) == set(text.AUSTEN_NOVELS)
    assert novels["sensesensibility"][0] == "SENSE AND SENSIBILITY"
    assert novels["prideprejudice"][0] == "PRIDE AND PREJUDICE"
    words = {k: sum(len(str(line).split()) for line in v) for k, v in novels.items()}
    assert 150_000 < words["emma"] < 170_000 and words["northangerabbey"] < words["persuasion"]


def test_passages_and_per_class_cap():
    assert text.passages(["a b c", "d e", "f g"], 3) == ["a b c", "d e f"]
    y = np.repeat([0, 1, 2], [10, 3, 7])
    idx = text.cap_per_class(y, 5, np.random.default_rng(0))
    np.testing.assert_array_equal(np.bincount(y[idx]), [5, 3, 5])
    np.testing.assert_array_equal(idx, text.cap_per_class(y, 5, np.random.default_rng(0)))
    assert len(text.cap_per_class(y, None, np.random.default_rng(0))) == 20


def test_embeddings_are_semantic_normalised_and_cached():
    sents = ["A cat sits on the mat.", "A kitten is lying on a rug.", "Stock markets fell sharply today."]
    E = text.embed_texts(sents, cache=False)
    assert E.shape == (3, 384)
    np.testing.assert_allclose(np.linalg.norm(E, axis=1), 1.0, atol=1e-5)
    assert E[0] @ E[1] > E[0] @ E[2] + 0.3
    np.testing.assert_allclose(text.embed_texts(sents), E, atol=1e-5)  # writes the cache
    np.testing.assert_array_equal(text.embed_texts(sents), text.embed_texts(sents))  # reads it


def test_quick_text_sets_are_balanced_and_capped():
    d = ds.load("fortunes4", per_class=5, seed=1)
    assert d.X.shape == (20, 384) and d.classes == text.FORTUNE_TOPICS
    np.testing.assert_array_equal(np.bincount(d.y), [5, 5, 5, 5])
    assert len(d.meta["texts"]) == 20
    a = ds.load("austen6", per_class=3, passage_words=20, embed=False)
    np.testing.assert_array_equal(np.bincount(a.y), [3] * 6)
    assert all(len(t.split()) == 20 for t in a.meta["texts"])


# --- the full-profile fetch, end to end, on a local archive (file:// URL, no network) -------

def test_fetch_full_downloads_verifies_extracts_and_loads(tmp_path, monkeypatch):
    import tarfile

    batch = (FIXTURES_DIR / "cifar10" / "cifar-10-batches-py" / "data_batch_1").read_bytes()
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch", "batches.meta"]
    archive = tmp_path / "src" / "cifar-10-python.tar.gz"
    archive.parent.mkdir()
    with tarfile.open(archive, "w:gz") as tar:
        for n in names:
            path = tmp_path / "src" / n
            path.write_bytes(batch)
            tar.add(path, arcname=f"cifar-10-batches-py/{n}")
    digest = hashlib.sha256(archive.read_bytes()).hexdigest()
    md5 = hashlib.md5(batch).hexdigest()  # noqa: S324
    reg = {"full": {"cifar10": {"archive": {"url": archive.as_uri(), "file": archive.name,
                                            "bytes": archive.stat().st_size, "sha256": digest},
                                "files": {f"cifar-10-batches-py/{n}": {"md5": md5} for n in names}}}}
    monkeypatch.setattr(full, "load_registry", lambda: reg)
    cache = tmp_path / "cache"
    with pytest.raises(MissingDataError):
        full.load_cifar10(root=cache)
    full.fetch_full("cifar10", root=cache)
    d = full.load_cifar10(root=cache)
    assert d.X.shape == (50, 3072) and d.meta["image_shape"] == (3, 32, 32)
    assert np.allclose(d.X[:10].reshape(10, 3, 32, 32) * 255, make_fixtures.cifar_images(10))
    assert full.load_cifar10("test", root=cache).y.tolist() == list(range(9, -1, -1))
    reg["full"]["cifar10"]["archive"]["sha256"] = "0" * 64  # a tampered download is refused
    with pytest.raises(ChecksumError, match="sha256"):
        full.fetch_full("cifar10", root=tmp_path / "cache2")


def test_stl10_and_ag_news_loaders_read_a_prefilled_cache(tmp_path, monkeypatch):
    import shutil

    stl = tmp_path / "stl10" / "stl10_binary"
    shutil.copytree(FIXTURES_DIR / "stl10" / "stl10_binary", stl)
    ag = tmp_path / "ag_news"
    ag.mkdir()
    for rel in ("train.csv", "test.csv"):
        shutil.copy(FIXTURES_DIR / "ag_news" / "train.csv", ag / rel)
    ag_sha = hashlib.sha256((ag / "train.csv").read_bytes()).hexdigest()
    reg = {"full": {"stl10": {"files": {"stl10_binary/train_X.bin": {"bytes": 3 * 27648},
                                        "stl10_binary/train_y.bin": {"bytes": 3}}},
                    "ag_news": {"files": {"train.csv": {"sha256": ag_sha}, "test.csv": {"sha256": ag_sha}}}}}
    monkeypatch.setattr(full, "load_registry", lambda: reg)
    d = ds.load("stl10", root=tmp_path)
    assert d.X.shape == (3, 3 * 96 * 96) and d.meta["image_shape"] == (3, 96, 96)
    np.testing.assert_allclose(d.X.reshape(3, 3, 96, 96) * 255, make_fixtures.stl_images(3), atol=1e-4)
    a = ds.load("ag_news", root=tmp_path, per_class=1, embed=False)
    np.testing.assert_array_equal(np.sort(a.y), [0, 1, 2, 3])
    assert a.classes == ("World", "Sports", "Business", "Sci/Tech") and a.X.shape == (4, 0)
