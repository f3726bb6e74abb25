"""One executor for independent retrainings (leave-one-out and group-removal ground truth, removal
studies over classes and seeds, the GA's candidates, Shapley subsets, trimming curves over seeds).

:func:`map_tasks` runs ``fn(task)`` for every task through joblib, so the same code runs serially
(``n_jobs=1``, the default: no process is started), on local processes (``n_jobs=2``, ``-1``), or on
a Dask cluster (``with joblib.parallel_config(backend="dask"): ...`` around the call, or
``backend="dask"``) with no other change. Results come back in task order. Randomness must not
depend on which worker runs a task: derive each task's generator from its index with
:func:`task_rng` (``np.random.default_rng([seed, index])``), never share one generator between
tasks; then the results are identical whatever the backend and the number of workers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

import numpy as np

T = TypeVar("T")
R = TypeVar("R")


def task_rng(seed: int | Sequence[int], index: int) -> np.random.Generator:
    """The generator of task ``index``: ``np.random.default_rng([*seed, index])``, independent of
    the worker that runs it and of the order tasks run in."""
    base = [int(seed)] if np.isscalar(seed) else [int(s) for s in seed]
    return np.random.default_rng([*base, int(index)])


def _check_n_jobs(n_jobs: Any) -> int | None:
    if n_jobs is None:
        return None
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, (int, np.integer)) or n_jobs == 0:
        raise ValueError(f"n_jobs must be a non-zero integer (1 = serial, -1 = all cores) or None, got {n_jobs!r}")
    return int(n_jobs)


def map_tasks(fn: Callable[[T], R], tasks: Iterable[T], *, n_jobs: int | None = 1, backend: str | None = None,
              batch_size: int | str = "auto", prefer: str | None = None, progress: bool = False,
              desc: str | None = None) -> list[R]:
    """``[fn(t) for t in tasks]`` through joblib, in task order.

    ``n_jobs=1`` (and no ``backend``) runs in this process without joblib's machinery; ``n_jobs=None``
    defers to an enclosing ``joblib.parallel_config`` (e.g. a Dask cluster); ``backend`` forces one
    (``"loky"``, ``"threading"``, ``"dask"``, ...). ``fn`` and the tasks must be picklable for process
    and Dask backends (functions and closures are sent with cloudpickle; arrays, dataclasses).
    Exceptions in a task propagate. ``progress`` shows a bar (:func:`lib.reproducibility.progress`).
    """
    from .reproducibility import progress as _progress

    n_jobs = _check_n_jobs(n_jobs)
    tasks = list(tasks)
    if n_jobs == 1 and backend is None:
        return [fn(t) for t in _progress(tasks, progress, desc=desc, total=len(tasks))]
    from joblib import Parallel, delayed

    run = Parallel(n_jobs=n_jobs, backend=backend, batch_size=batch_size, prefer=prefer, return_as="generator")
    return list(_progress(run(delayed(fn)(t) for t in tasks), progress, desc=desc, total=len(tasks)))
