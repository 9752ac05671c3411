"""The papers' reported numbers: typed once, reachable by key."""

from __future__ import annotations

import pytest

from mialib.attacks import ATTACKS
from mialib.attacks import aggregation as agg
from mialib.evaluation import reference


def test_reported_numbers_are_reachable():
    assert reference.reported("noise_aggregation/cifar10")["auc"] == 0.957
    assert reference.ablation("noise_aggregation/K_tpr@1%fpr")[5] == 0.297
    assert set(reference.ablation("noise_aggregation/metric_asr")) == set(agg.METRICS)
    for info in ATTACKS.values():
        if info.reference:
            reference.reported(info.reference)
    with pytest.raises(KeyError):
        reference.ablation("nope")


def test_the_claims_report_quotes_are_typed_here_with_a_source():
    from mialib.attacks.property import hoeffding_sample_size
    ex = reference.HOEFFDING_EXAMPLE
    assert hoeffding_sample_size(ex["eps"], ex["delta"]) == 738  # docs/papers.md, after eq. 13
    assert reference.PROPERTY_MAE_AIM == ex["eps"] and reference.FAIRNESS_MAX_ACCURACY_LOSS == 0.05
    assert reference.stable_diffusion_reference() == {"SecMI_stat AUC": 0.707, "noise aggregation ASR": 0.701}
    assert "arXiv:2402.18607" in reference.SOURCES["luo"]
