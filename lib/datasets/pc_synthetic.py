"""The two synthetic binary sets of [PC] §4 / Appendix A.1.1 (Fig. 2), as pure functions of an rng.

The paper gives only the outline ("circular uniform distribution", 300+300 with 50+20 flipped
labels; 350+350 with an angle-dependent radius for the orange class) and no code. Our
choices, stated on the chapter page:

* :func:`noisy_disks`: each class uniform on a disk of radius 1; blue (class 0) centred at
  ``(-1.1, 0)``, orange (class 1) at ``(1.1, 0)``: linearly separable with a margin of 0.2.
  Then ``n_flip = (50, 20)`` random points of each class get the other label.
* :func:`angular_radius`: blue uniform on the unit disk at ``(-0.9, 0)``; orange at
  ``(0.9, 0)``, uniform in angle with radius ``R(phi) sqrt(U)``, ``R(phi) = 1 + 0.8 cos(2 phi)``:
  two lobes reach into the blue disk. Not linearly separable; no label noise.
"""

from __future__ import annotations

import numpy as np

from .registry import Dataset, register


def _uniform_disk(n: int, rng: np.random.Generator, radius: float = 1.0) -> np.ndarray:
    phi = rng.uniform(0.0, 2 * np.pi, n)
    r = radius * np.sqrt(rng.uniform(0.0, 1.0, n))  # uniform in area
    return np.c_[r * np.cos(phi), r * np.sin(phi)]


def noisy_disks(rng: np.random.Generator, n_per_class: tuple[int, int] = (300, 300),
                n_flip: tuple[int, int] = (50, 20), gap: float = 0.2
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """[PC] Fig. 2A: two uniform disks, linearly separable, with flipped labels.

    Returns ``X (n, 2)``, the observed labels ``y`` (with flips) and a boolean ``flipped`` mask.
    """
    if any(f > m for f, m in zip(n_flip, n_per_class)):
        raise ValueError(f"cannot flip {n_flip} labels out of {n_per_class} samples per class")
    c = 1.0 + gap / 2
    X = np.vstack([_uniform_disk(n_per_class[0], rng) + [-c, 0.0], _uniform_disk(n_per_class[1], rng) + [c, 0.0]])
    y_true = np.repeat([0, 1], n_per_class)
    flipped = np.zeros(len(y_true), dtype=bool)
    for k in (0, 1):
        idx = np.flatnonzero(y_true == k)
        flipped[rng.choice(idx, n_flip[k], replace=False)] = True
    y = np.where(flipped, 1 - y_true, y_true)
    return X, y.astype(np.int64), flipped


def angular_radius(rng: np.random.Generator, n_per_class: tuple[int, int] = (350, 350), centre: float = 0.9,
                   amplitude: float = 0.8, lobes: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """[PC] Fig. 2D: blue uniform on the unit disk at ``(-centre, 0)``; orange "circular uniform"
    around ``(centre, 0)`` with an angle-dependent radius ``R(phi) = 1 + amplitude cos(lobes phi)``
    (``r = R(phi) sqrt(U)``): its lobes reach into the blue disk, so no line separates the
    classes. No label noise. Returns ``X (n, 2)`` and ``y``.
    """
    blue = _uniform_disk(n_per_class[0], rng) + [-centre, 0.0]
    phi = rng.uniform(0.0, 2 * np.pi, n_per_class[1])
    r = (1.0 + amplitude * np.cos(lobes * phi)) * np.sqrt(rng.uniform(0.0, 1.0, n_per_class[1]))
    orange = np.c_[r * np.cos(phi), r * np.sin(phi)] + [centre, 0.0]
    X = np.vstack([blue, orange])
    y = np.repeat([0, 1], n_per_class).astype(np.int64)
    return X, y


@register("pc_noisy_disks", description="[PC] Fig. 2A synthetic: two uniform disks, 300+300, 50+20 flipped labels")
def load_noisy_disks(seed: int = 0) -> Dataset:
    X, y, flipped = noisy_disks(np.random.default_rng(seed))
    return Dataset("pc_noisy_disks", X, y, ("blue", "orange"), meta={"flipped": flipped, "seed": seed})


@register("pc_angular_radius", description="[PC] Fig. 2D synthetic: disk vs angle-dependent ring, 350+350")
def load_angular_radius(seed: int = 0) -> Dataset:
    X, y = angular_radius(np.random.default_rng(seed))
    return Dataset("pc_angular_radius", X, y, ("blue", "orange"), meta={"seed": seed})
