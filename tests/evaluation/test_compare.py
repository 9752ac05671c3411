"""One rule for "beats / loses to / is not distinguishable from", on the paired bootstrap."""

from __future__ import annotations

import numpy as np
import pytest

from mialib.evaluation.compare import BEATS, LOSES, TIE, compare, describe, verdict
from mialib.metrics import paired_auc_difference


@pytest.mark.parametrize("ci, want", [([0.01, 0.2], BEATS), ([-0.2, -0.01], LOSES), ([-0.1, 0.1], TIE),
                                      ([0.0, 0.1], TIE), ([-0.1, 0.0], TIE)])
def test_verdict_reads_only_the_interval(ci, want):
    assert verdict({"difference": 0.05, "ci": ci}) == want


def test_compare_is_the_paired_bootstrap_and_describe_states_it():
    rng = np.random.default_rng(0)
    m, n = rng.normal(1.0, 1, 300), rng.normal(0.0, 1, 300)
    strong, weak = (m, n), (m + rng.normal(0, 3, 300), n + rng.normal(0, 3, 300))
    d = compare(strong, weak, n_boot=200, seed=1)
    assert d == paired_auc_difference(strong, weak, n_boot=200, seed=1)
    assert verdict(d) == BEATS and verdict(compare(weak, strong, n_boot=200, seed=1)) == LOSES
    assert verdict(compare(strong, strong, n_boot=50)) == TIE
    text = describe(d, "A", "B")
    assert text.startswith("A beats B (AUC difference +") and "95% CI [+" in text
