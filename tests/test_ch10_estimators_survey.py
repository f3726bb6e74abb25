"""Chapter 10's drivers: the noisy task and the claims table's verdicts."""

import numpy as np
import pandas as pd

from lib._book import pages
from lib.experiments import ch10_estimators_survey as ch


def test_make_task_flips_the_reported_labels_of_a_standardised_split():
    task, flipped = ch.make_task("digits", np.random.default_rng(0), n_train=60, n_val=40, flip_fraction=0.1,
                                 digits_classes=[3, 8])
    assert task.n_train == 60 and len(task.y_val) == 40 and task.n_classes == 2
    assert len(flipped) == 6 and set(np.unique(task.y_train)) == {0, 1}
    np.testing.assert_allclose(task.X_train.mean(0), 0, atol=1e-8)


def _inputs(good: bool):
    ests = ["influence_exact", "tracin", "tracin_cp", "gas", "representer_point", "tmc_shapley"]
    rows = []
    for d in ("a", "b"):
        for e in ests:
            rows.append({"dataset": d, "estimator": e, "spearman_loo": 0.9 if e == "tracin_cp" and good else 0.5,
                         "detection_auc": 0.95 if e == "gas" and good else 0.9,
                         "seconds": {"representer_point": 1e-4, "tmc_shapley": 1.0}.get(e, 0.05)})
    summary = pd.DataFrame(rows)
    v = 0.99 if good else 0.5
    corr = {k: {"a": v, "b": v} for k in ("if_loo", "arnoldi_if", "hydra_tracin", "tracincp_tracin")}
    mlp_names = ["influence_exact", "tracin", "tracin_cp", "hydra_fast", "downsampling", "loo (one seed)"]
    mlp = pd.DataFrame({"pearson_expected_loo": [0.7, 0.5, 0.6 if good else 0.4, 0.8 if good else 0.5,
                                                 0.9 if good else 0.3, 0.35],
                        "pearson_loo_one_seed": [0.4 if good else 0.9, 0, 0, 0, 0, 1],
                        "pearson_loo_warm": [0.8, 0, 0, 0, 0, 0.6]}, index=mlp_names)
    noise = {"seed_to_seed_loo_pearson": 0.3 if good else 0.99, "pearson_loo_same_seed_expected_loo": 0.3}
    sweep = pd.DataFrame({"pearson_if_loo_same_seed": [0.4, 0.9], "min_hessian_eigenvalue": [0.1, 0.5]},
                         index=pd.Index([1.0, 10.0], name="l2"))
    return summary, corr, mlp, noise, sweep


def test_claims_verdicts_follow_the_numbers():
    kw = dict(mlp_dataset="a", mlp_l2=1.0, mlp_seeds=4, seed=0, arnoldi_top_k=20, arnoldi_iter=40,
              tmc_permutations=4, downsampling_models=50)
    good = {r.claim: r.verdict for r in ch.claims(*_inputs(True), **kw)}
    bad = {r.claim: r.verdict for r in ch.claims(*_inputs(False), **kw)}
    assert set(good.values()) == {"reproduced"}, good
    assert bad["Influence functions estimate LOO (convex, stationary model; Table 1)"] == "not reproduced"
    assert bad["TracInCP vs TracIn (§5.2.1)"] == "not reproduced"
    assert bad["Renormalisation helps rankings (GAS, §5.3)"] == "not reproduced"
    assert bad["Downsampling is a consistent estimator of the expected LOO (§4.2)"] == "not reproduced"
    assert [v for k, v in bad.items() if k.startswith("LOO is noisy")] == ["not reproduced"]
    assert len(pages.claims_table(ch.claims(*_inputs(False), **kw))) == len(bad)
    assert ch.per({"x": 0.12345, "y": 2.0}) == "x: 0.123, y: 2.000"
