"""Fairness metrics equal fairlearn's on hand-made predictions; the dependence test's size."""

from __future__ import annotations

import numpy as np
import pytest
from fairlearn.metrics import demographic_parity_difference, equalized_odds_difference

from mialib.evaluation.fairness import (_fast_point, dependence_test, fairness_metrics, paired_difference,
                                       paired_differences)


def test_hand_made_case():
    #            group 0              group 1
    y_true = np.array([1, 1, 0, 0, 1, 1, 0, 0])
    y_pred = np.array([1, 0, 0, 0, 1, 1, 1, 0])
    s = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    r = fairness_metrics(y_true, y_pred, s, n_boot=0)
    # selection rates 1/4 and 3/4; TPR 1/2 vs 1, FPR 0 vs 1/2
    assert r["demographic_parity_difference"] == pytest.approx(0.5)
    assert r["equalized_odds_difference"] == pytest.approx(0.5)
    assert r["accuracy"] == pytest.approx(6 / 8)
    assert r["by_group"]["0"]["selection_rate"] == 0.25 and r["by_group"]["1"]["selection_rate"] == 0.75


def test_equal_to_fairlearn_on_random_predictions():
    rng = np.random.default_rng(0)
    for _ in range(20):
        y, p, s = (rng.integers(0, 2, 200) for _ in range(3))
        r = fairness_metrics(y, p, s, n_boot=0)
        assert r["demographic_parity_difference"] == demographic_parity_difference(y, p, sensitive_features=s)
        assert r["equalized_odds_difference"] == equalized_odds_difference(y, p, sensitive_features=s)
        fast = _fast_point(y, p, s)
        assert all(fast[k] == pytest.approx(r[k], abs=1e-12) for k in fast)


def test_bootstrap_and_paired_intervals():
    rng = np.random.default_rng(1)
    y, s = rng.integers(0, 2, 400), rng.integers(0, 2, 400)
    fair = np.where(rng.random(400) < 0.8, y, 1 - y)
    unfair = np.where(s == 1, 1, fair)
    r = fairness_metrics(y, unfair, s, n_boot=200, seed=0)
    lo, hi = r["ci"]["demographic_parity_difference"]
    assert lo <= r["demographic_parity_difference"] <= hi
    d = paired_difference(y, s, unfair, fair, "demographic_parity_difference", n_boot=300)
    assert d["ci"][0] > 0
    same = paired_difference(y, s, fair, fair, "accuracy", n_boot=50)
    assert same == {"difference": 0.0, "ci": [0.0, 0.0]}
    with pytest.raises(ValueError, match="metric"):
        paired_difference(y, s, fair, fair, "auc")
    # several metrics from one set of resamples: the same as one call per metric with that seed
    both = paired_differences(y, s, unfair, fair, ("accuracy", "demographic_parity_difference"), n_boot=300)
    assert both == {"accuracy": paired_difference(y, s, unfair, fair, "accuracy", n_boot=300),
                    "demographic_parity_difference": d}


def test_dependence_test_size_under_independence_and_power():
    rng = np.random.default_rng(2)
    p_values = [dependence_test(rng.integers(0, 2, 200), rng.integers(0, 2, 200), n_permutations=99, seed=i)["p_value"]
                for i in range(200)]
    assert np.mean(np.array(p_values) <= 0.05) <= 0.05 + 2 * np.sqrt(0.05 * 0.95 / 200)
    y = rng.integers(0, 2, 300)
    s = np.where(rng.random(300) < 0.7, y, 1 - y)
    assert dependence_test(s, y, n_permutations=200)["p_value"] < 0.01
    with pytest.raises(ValueError, match="both values"):
        dependence_test([0, 1], [1, 1])
