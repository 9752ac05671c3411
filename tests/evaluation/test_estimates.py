"""The metrics of a receiver's property estimates, on hand-made estimates."""

from __future__ import annotations

import pytest

from mialib.attacks.property import Estimate
from mialib.evaluation.estimates import coverage, mean_absolute_error, mean_interval_width

EST = {0.1: [Estimate(0.2, 0.0, 0.3, 10, 0.05)], 0.5: [Estimate(0.45, 0.4, 0.44, 10, 0.05), Estimate(0.5, 0.3, 0.7, 10, 0.05)]}


def test_mean_absolute_error_over_every_query():
    assert mean_absolute_error(EST, {0.1: 0.1, 0.5: 0.5}) == pytest.approx((0.1 + 0.05 + 0.0) / 3)
    assert mean_absolute_error(EST, {0.1: 0.2, 0.5: 0.45}) == pytest.approx(0.05 / 3)


def test_coverage_counts_intervals_holding_the_truth():
    assert coverage(EST, {0.1: 0.1, 0.5: 0.5}) == pytest.approx(2 / 3)  # 0.5 is outside [0.4, 0.44]
    assert coverage(EST, {0.1: 0.3, 0.5: 0.42}) == 1.0  # ends included
    assert coverage(EST, {0.1: 0.31, 0.5: 0.9}) == 0.0


def test_mean_interval_width():
    assert mean_interval_width(EST) == pytest.approx((0.3 + 0.04 + 0.4) / 3)
