"""The pinned numerical environment the book's pages are executed in.

CPU results of float code depend on the processor: torch dispatches its kernels by instruction
set, MKL and OpenBLAS pick code paths per CPU, NumPy dispatches its SIMD loops, oneDNN picks an
ISA, and the thread count changes summation orders. Training by SGD amplifies a last-bit
difference into a visible one within a few epochs. The book therefore executes every page
(``lib._book.runner``) and re-executes it under nbval (``tests/conftest.py``) with the
variables of :func:`pinned_environment`, which make any x86-64 machine with AVX2 (every Intel CPU
since 2013, every AMD CPU since 2015) compute like the same AVX2 machine.

``BOOK_CPU_CAPABILITY`` chooses the level: ``avx2`` (the default, what the committed pages were
executed with), ``default`` (torch's and NumPy's portable baseline code paths, MKL's compatible
branch: a stand-in for "another machine", used by the two-capability check of ``make test``), or
``native`` (no pinning: whatever the processor offers; checked outputs may then differ in the
last printed digit).
"""

from __future__ import annotations

import os

CAPABILITIES = ("avx2", "default", "native")
#: threads of every BLAS / OpenMP pool: the summation order must not depend on the machine's cores
THREADS = "2"
_NUMPY_ABOVE_AVX2 = ("X86_V4", "AVX512_ICL", "AVX512_SPR")


def _numpy_features_above(level: str) -> list[str]:
    """NumPy's dispatched features beyond ``level`` that this machine has (only those may be
    disabled)."""
    try:
        from numpy._core._multiarray_umath import __cpu_dispatch__, __cpu_features__
    except ImportError:  # pragma: no cover - other NumPy layouts
        return []
    above = _NUMPY_ABOVE_AVX2 if level == "avx2" else ("X86_V3",) + _NUMPY_ABOVE_AVX2
    return [f for f in above if f in __cpu_dispatch__ and __cpu_features__.get(f, False)]


def pinned_environment(capability: str | None = None) -> dict[str, str]:
    """Environment variables that pin the numerics (see the module docstring).

    ``capability`` defaults to ``$BOOK_CPU_CAPABILITY`` or ``"avx2"``. Set them before torch and
    NumPy are imported (the runner and nbval set them for the kernels they start).
    """
    capability = (capability or os.environ.get("BOOK_CPU_CAPABILITY") or "avx2").lower()
    if capability not in CAPABILITIES:
        raise ValueError(f"BOOK_CPU_CAPABILITY must be one of {', '.join(CAPABILITIES)}, got {capability!r}")
    env = {"PYTHONHASHSEED": "0", "OMP_NUM_THREADS": THREADS, "MKL_NUM_THREADS": THREADS,
           "OPENBLAS_NUM_THREADS": THREADS, "BOOK_CPU_CAPABILITY": capability}
    if capability == "native":
        return env
    disable = _numpy_features_above(capability)
    if capability == "avx2":
        env.update({"ATEN_CPU_CAPABILITY": "avx2", "MKL_CBWR": "AVX2", "ONEDNN_MAX_CPU_ISA": "AVX2",
                    "OPENBLAS_CORETYPE": "Haswell"})
    else:
        env.update({"ATEN_CPU_CAPABILITY": "default", "MKL_CBWR": "COMPATIBLE", "ONEDNN_MAX_CPU_ISA": "SSE41",
                    "OPENBLAS_CORETYPE": "Prescott"})
    if disable:
        env["NPY_DISABLE_CPU_FEATURES"] = " ".join(disable)
    return env


def apply(capability: str | None = None) -> dict[str, str]:
    """Write :func:`pinned_environment` into ``os.environ`` (for the subprocesses started next)."""
    env = pinned_environment(capability)
    os.environ.update(env)
    return env
