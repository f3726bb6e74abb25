"""scikit-learn's bundled datasets (shipped inside the package; no network)."""

from __future__ import annotations

import numpy as np

from .registry import Dataset, register


def _from_sklearn(name: str, bunch) -> Dataset:
    names = getattr(bunch, "target_names", None)
    classes = tuple(str(c) for c in (names if names is not None else np.unique(bunch.target)))
    return Dataset(name=name, X=np.asarray(bunch.data, dtype=float), y=np.asarray(bunch.target, dtype=np.int64),
                   classes=classes, meta={"source": f"sklearn.datasets.load_{name}"})


@register("digits", description="8x8 handwritten digits, 1,797 images, 10 classes (scikit-learn)")
def load_digits() -> Dataset:
    from sklearn.datasets import load_digits as _load

    return _from_sklearn("digits", _load())


@register("breast_cancer", description="Wisconsin breast cancer, 569 samples, 30 features, 2 classes (scikit-learn)")
def load_breast_cancer() -> Dataset:
    from sklearn.datasets import load_breast_cancer as _load

    return _from_sklearn("breast_cancer", _load())


@register("wine", description="wine recognition, 178 samples, 13 features, 3 classes (scikit-learn)")
def load_wine() -> Dataset:
    from sklearn.datasets import load_wine as _load

    return _from_sklearn("wine", _load())
