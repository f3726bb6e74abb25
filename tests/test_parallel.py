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


# ---------------------------------------------------------------- the library's retraining loops
import logging  # noqa: E402

import joblib  # noqa: E402

from lib import category_removal, influence  # noqa: E402
from lib.datasets import load  # noqa: E402
from lib.estimators import Task  # noqa: E402
from lib.estimators import valuation as val  # noqa: E402
from lib.models import LogisticRegression  # noqa: E402
from lib.preprocessing import standardised_split  # noqa: E402


@pytest.fixture(scope="module")
def small():
    ds = load("wine")
    (Xt, yt), (Xv, yv) = standardised_split(ds.X[:, :5], ds.y, [60, 60], np.random.default_rng(0))
    return Xt, yt, Xv, yv


def _removal_study(small, **kw):
    Xt, yt, Xv, yv = small
    model = LogisticRegression().fit(Xt, yt)
    P = influence.influence_vectors(model, Xt, yt, Xv, yv)

    def fit(keep, seed):
        return LogisticRegression().fit(Xt[keep], yt[keep], n_classes=3)

    def evaluate(m):
        loss = m.loss(Xv, yv).detach().numpy()
        return np.array([(m.predict(Xv)[yv == k] == k).mean() for k in range(3)]), np.bincount(yv, loss, 3)

    return category_removal.run(P, yt, fit, evaluate, fraction=0.1, seeds=[0, 1], **kw)


def _shapley(small, **kw):
    Xt, yt, Xv, yv = small
    task = Task(Xt[:20], yt[:20], Xv, yv, n_classes=3)
    return val.tmc_shapley(task, np.random.default_rng(5), n_permutations=6, missing_class="prior", **kw)


def test_removal_study_and_shapley_are_the_same_on_local_processes(small):
    serial = _removal_study(small)
    procs = _removal_study(small, n_jobs=2)
    for kd in ("beneficial", "detrimental"):
        np.testing.assert_array_equal(serial.acc_change_seeds[kd], procs.acc_change_seeds[kd])
        np.testing.assert_allclose(serial.loss_change_seeds[kd], procs.loss_change_seeds[kd], rtol=0, atol=1e-12)
    np.testing.assert_allclose(_shapley(small), _shapley(small, n_jobs=2), rtol=0, atol=1e-12)
    Xt, yt, Xv, yv = small
    m = LogisticRegression().fit(Xt, yt)
    fs = influence.class_loss_quantities(Xv, yv, 3)
    np.testing.assert_allclose(influence.loo_effect(m, Xt, yt, range(8), fs),
                               influence.loo_effect(m, Xt, yt, range(8), fs, n_jobs=2), rtol=0, atol=1e-12)


def test_removal_study_and_shapley_are_the_same_on_a_dask_cluster(small):
    """A loopback Dask cluster (two worker processes), started and stopped here; the library's loops
    run on it through joblib's dask backend with no other change."""
    distributed = pytest.importorskip("distributed")
    serial_study, serial_shapley = _removal_study(small), _shapley(small)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=None, silence_logs=logging.ERROR) as cluster, \
            distributed.Client(cluster) as client:
        assert len(client.scheduler_info()["workers"]) == 2
        with joblib.parallel_config(backend="dask"):
            study = _removal_study(small, n_jobs=None)
            shapley = _shapley(small, n_jobs=None)
    for kd in ("beneficial", "detrimental"):
        np.testing.assert_array_equal(serial_study.acc_change_seeds[kd], study.acc_change_seeds[kd])
        np.testing.assert_allclose(serial_study.loss_change_seeds[kd], study.loss_change_seeds[kd], rtol=0, atol=1e-12)
    np.testing.assert_allclose(serial_shapley, shapley, rtol=0, atol=1e-12)
