"""Parsing of the package-shipped tabular data on a tiny fixture (no download)."""

import numpy as np
import pytest

import lib.datasets as datasets
import lib.datasets.tabular as tabular


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
    with pytest.raises(datasets.MissingDataError, match="fetch_adult"):
        tabular.load_adult()


def test_parse_bank_fixture():
    d = tabular.parse_bank(datasets.FIXTURES_DIR / "bank_tiny.csv")
    assert len(d) == 8 and set(np.unique(d.y)) <= {0, 1}
    names = d.meta["feature_names"]
    assert "age" in names and "job_management" in names and "y" not in names
    assert (d.groups == d.X[:, names.index("marital_married")]).all()
