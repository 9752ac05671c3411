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
