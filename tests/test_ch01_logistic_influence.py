import numpy as np
import pytest

from lib.experiments import ch01_logistic_influence as ch
from lib.datasets.toy import ch_toy


def test_agreement_closed_form(rng):
    x = rng.normal(size=50)
    a = ch.agreement(x, 2.0 * x + 1.0)
    assert a["spearman"] == pytest.approx(1.0) and a["pearson"] == pytest.approx(1.0)
    assert a["slope"] == pytest.approx(2.0)
    assert ch.agreement(x, -x)["spearman"] == pytest.approx(-1.0)


def test_fi_counterexample_sign_is_fixed_by_label():
    for seed in range(3):
        df = ch.one_dim_counterexample(np.random.default_rng(seed), n=80, n_val=80)
        assert (df.x > 0).all()
        signs = df.groupby("y")["influence"].apply(lambda v: set(np.sign(v)))
        assert all(len(s) == 1 for s in signs)  # one sign per class
        assert signs[0] != signs[1]


def test_trim_experiment_shape_and_budget(rng):
    t = ch.trim_experiment(ch_toy(rng, n_train=60, n_val=60), budget=5)
    assert list(t.function.unique()) == ["utility", "fairness", "robustness"]
    before = t[t.stage == "before"].drop(columns="function")
    assert (before.nunique() == 1).all()  # the same original model for every function
    assert (t[t.stage == "after"].removed <= 5).all()
    # the robustness trimming targets the adversarial loss: it must go down at first order
    rob = t[t.function == "robustness"].set_index("stage")
    assert rob.loc["after", "adv_loss"] < rob.loc["before", "adv_loss"]
