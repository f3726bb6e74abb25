"""lib.parallel: one executor, results identical whatever the backend and the worker count."""

import numpy as np
import pytest

from lib.parallel import map_tasks, task_rng


def _draw(i: int) -> float:
    return float(task_rng(7, i).normal())


def test_serial_equals_processes_and_threads():
    serial = map_tasks(_draw, range(6))
    assert map_tasks(_draw, range(6), n_jobs=2) == serial
    assert map_tasks(_draw, range(6), n_jobs=2, backend="threading") == serial
    assert serial == [float(np.random.default_rng([7, i]).normal()) for i in range(6)]


def test_task_rng_depends_on_index_not_on_order():
    assert task_rng([1, 2], 3).integers(1 << 30) == np.random.default_rng([1, 2, 3]).integers(1 << 30)
    assert task_rng(1, 0).normal() != task_rng(1, 1).normal()


def test_bad_n_jobs_is_a_clear_error():
    for bad in (0, 1.5, True, "2"):
        with pytest.raises(ValueError, match="n_jobs"):
            map_tasks(_draw, range(2), n_jobs=bad)


def _fail(i):
    raise KeyError(f"task {i}")


def test_exceptions_propagate():
    with pytest.raises(KeyError, match="task 0"):
        map_tasks(_fail, range(2))
