"""Smoke test of chapter 4's *full-profile code path* on the CPU, so that the GPU run is not the first
time it executes: the full profile's own parameters from profiles.yaml (CIFAR-10 and STL-10 with
ResNet-9, SGD with the triangle schedule, DI at a fixed epoch, Table 2's PARETO-LP-GA epoch at lr
1e-4 with a fresh optimiser, kronfluence's damping heuristic, float32) with only the sizes shrunk —
ResNet-9 at width 4, a few dozen images, a 2-generation GA — and the data read by the real loaders
from a temporary cache filled with the shipped fixtures. Also: the early, clear failure when the
data are missing.
"""

import hashlib
import inspect
import shutil

import numpy as np
import pytest

from lib import reweighting as rw
from lib._book import runner
from lib.datasets import FIXTURES_DIR, full
from lib.experiments import ch04_deep_pareto_lp_ga as ch

NB = "04_deep_pareto_lp_ga"
# the only full-profile values the smoke test changes: sizes, the device, the population, and the base
# learning rate scaled with the batch size (0.4 x 8 / 512, as chapter 3's smoke test does)
SIZES = {
    "n_train": 30,
    "n_val": 20,
    "n_test": None,
    "width": 4,
    "epochs": {"cifar10": 3, "stl10": 3},
    "batch_size": 8,
    "lr": 0.4 * 8 / 512,
    "ga_batch_size": 8,
    "di_epoch": 1,
    "cc_first_epoch": 1,
    "seeds": [0],
    "device": "cpu",
    "ga_generations": 1,
    "ga_elites": 2,
    "ga_mutated": 1,
    "ga_random": 1,
    "ga_children": 1,
    "n_shuffles": 2,
    "threads": 1,
    "ekfac_batch_size": 16,
}

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _digests(path):
    data = path.read_bytes()
    return {"sha256": hashlib.sha256(data).hexdigest(), "md5": hashlib.md5(data).hexdigest()}


def fill_cache(root):
    """Fixture files in the on-disk layout of the real sets, plus a registry pinning their digests.
    CIFAR-10: the 10-image fixture batch as all five training batches and the test batch;
    STL-10: the 3-image fixture repeated 20 times (60 images) as the training and the test split."""
    reg = {"full": {}}
    cifar = root / "cifar10" / "cifar-10-batches-py"
    cifar.mkdir(parents=True)
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch", "batches.meta"]
    for n in names:
        shutil.copy(FIXTURES_DIR / "cifar10" / "cifar-10-batches-py" / "data_batch_1", cifar / n)
    reg["full"]["cifar10"] = {"files": {f"cifar-10-batches-py/{n}": _digests(cifar / n) for n in names}}
    stl = root / "stl10" / "stl10_binary"
    stl.mkdir(parents=True)
    X = (FIXTURES_DIR / "stl10" / "stl10_binary" / "train_X.bin").read_bytes() * 20
    y = bytes((1 + (i % 10)) for i in range(60))  # labels 1..10, every class present
    for split in ("train", "test"):
        (stl / f"{split}_X.bin").write_bytes(X)
        (stl / f"{split}_y.bin").write_bytes(y)
    (stl / "class_names.txt").write_text("\n".join(full.STL10_CLASSES))
    reg["full"]["stl10"] = {
        "files": {
            f"stl10_binary/{f}": _digests(stl / f)
            for f in ("train_X.bin", "train_y.bin", "test_X.bin", "test_y.bin", "class_names.txt")
        }
    }
    return reg


def _kwargs(fn, params):
    """The parameters of ``fn`` taken from the notebook's parameter dict (names are shared)."""
    sig = inspect.signature(fn).parameters
    return {k: params[k] for k in sig if k in params}


@pytest.mark.smoke
def test_full_profile_code_path_runs_end_to_end_on_cpu(tmp_path, monkeypatch):
    params = runner.profile_parameters(NB, "full")
    assert params["image_datasets"] == ["cifar10", "stl10"] and params["image_model"] == "resnet9"
    assert params["ga_lr"] == 1e-4 and params["ga_weight_decay"] == 1e-4 and params["ga_batch_size"] == 512
    assert (
        params["ga_generations"],
        params["ga_elites"],
        params["ga_mutated"],
        params["ga_random"],
        params["ga_children"],
    ) == (20, 6, 6, 6, 6)
    assert params["epochs"] == {"cifar10": 25, "stl10": 30} and params["di_epoch"] == 10
    params.update(SIZES)
    root = tmp_path / "full"
    reg = {"full": {name: {"files": {"missing.bin": {}}} for name in ("cifar10", "stl10")}}
    monkeypatch.setattr(full, "load_registry", lambda: reg)
    missing = ch.problems(image_datasets=params["image_datasets"], root=root)
    assert len(missing) == 2 and all("python -m lib.datasets fetch --profile full" in m for m in missing)
    reg = fill_cache(root)
    assert ch.problems(image_datasets=params["image_datasets"], root=root) == []

    settings = rw.EpochSettings(
        lr=params["ga_lr"], weight_decay=params["ga_weight_decay"], batch_size=params["ga_batch_size"]
    )
    ga_kwargs = {
        "form": params["lp_form"],
        "generations": params["ga_generations"],
        "n_elites": params["ga_elites"],
        "n_mutated": params["ga_mutated"],
        "n_random": params["ga_random"],
        "n_children": params["ga_children"],
    }
    for name, shape in (("cifar10", (3, 32, 32)), ("stl10", (3, 96, 96))):
        data = ch.image_data(name, **_kwargs(ch.image_data, params), rng=np.random.default_rng(0), root=root)
        assert data.X.shape == (30, *shape) and data.X.dtype == np.float32 and data.n_classes == 10
        spec = ch.image_spec(data, **_kwargs(ch.image_spec, params) | {"epochs": params["epochs"][name]})
        st = ch.study(
            data,
            spec,
            **_kwargs(ch.study, params),
            settings=settings,
            ga_kwargs=ga_kwargs,
            lp_kwargs={"w_max": params["w_max"], "rho": params["rho"], "solver": "highs"},
        )
        r = st.seeds[0]
        assert r.val_accuracy.shape == (4, 10)
        di = r.steps["DI"]
        assert di.epoch == 1 and len(di.targets) == params["n_targets"]
        assert set(di.accuracy) >= set(rw.METHODS) and di.shuffles_test.shape == (2, 10)
        # Table 2's gentle epoch is not the run's own epoch: both are reported
        np.testing.assert_array_equal(di.accuracy["run"]["val"], r.val_accuracy[di.epoch + 1])
        assert not st.settings.continues_run and st.settings.lr == 1e-4
        assert r.steps["polish"].epoch == 2
        assert not ch.paper_layout(st, "DI").empty and not ch.ceiling_table(st).empty
        assert type(spec.build().net[0][0]).__name__ == "Conv2d" and spec.build().net[0][0].out_channels == 4


def test_the_full_profile_fails_early_naming_the_fetch_command(tmp_path, capsys):
    """``make run NB=04_deep_pareto_lp_ga PROFILE=full`` without the data: the runner stops before the
    kernel starts and names the command that fetches them."""
    params = runner.profile_parameters(NB, "full")
    if not ch.preflight(params):
        pytest.skip("the full-profile data are present on this machine")
    out = tmp_path / "never.ipynb"
    assert runner.main([NB, "--profile", "full", "--output", str(out)]) == 2
    assert "python -m lib.datasets fetch --profile full" in capsys.readouterr().err
    assert not out.exists()
