"""One rule for every verdict: an interval (or a number) against a threshold, "beats / loses to /
is not distinguishable from" on the paired bootstrap, aims and overlaps by the same rule; a
bound exactly at the threshold straddles it, 1e-12 beyond it decides."""

from __future__ import annotations

import numpy as np
import pytest

from mialib.evaluation.compare import (ABOVE, BEATS, BELOW, CLOSE, FAILS, HOLDS, HOST_TOLERANCE, LOSES, STRADDLES, TIE,
                                      TOO_CLOSE, compare, describe, interval_vs, judge,
                                      meets_aim, overlap, value_vs, verdict)
from mialib.evaluation.metrics import paired_auc_difference


T, E = 0.6, 1e-12


@pytest.mark.parametrize("lo, hi, want", [
    (0.7, 0.8, ABOVE), (T + E, 0.8, ABOVE), (T, 0.8, STRADDLES), (T - E, 0.8, STRADDLES),
    (0.4, 0.5, BELOW), (0.4, T - E, BELOW), (0.4, T, STRADDLES), (0.4, T + E, STRADDLES),
    (0.5, 0.7, STRADDLES), (T, T, STRADDLES), (float("nan"), 0.8, STRADDLES)])
def test_interval_vs_threshold_a_bound_at_the_threshold_straddles(lo, hi, want):
    assert interval_vs(lo, hi, T) == want


def test_interval_vs_refuses_a_reversed_interval():
    with pytest.raises(ValueError, match="lower end above"):
        interval_vs(0.7, 0.6, 0.5)


@pytest.mark.parametrize("value, want", [(T + E, ABOVE), (T, STRADDLES), (T - E, BELOW), (float("nan"), STRADDLES)])
def test_value_vs_is_the_one_point_interval(value, want):
    assert value_vs(value, T) == want == interval_vs(value, value, T)


@pytest.mark.parametrize("value, at_most, want", [
    (0.05 - E, True, True), (0.05, True, True), (0.05 + E, True, False), (float("nan"), True, False),
    (0.05 + E, False, True), (0.05, False, True), (0.05 - E, False, False), (float("nan"), False, False)])
def test_meets_aim_a_value_at_its_aim_meets_it(value, at_most, want):
    assert meets_aim(value, 0.05, at_most=at_most) is want


@pytest.mark.parametrize("a, b, want", [
    ((0.1, 0.3), (0.2, 0.4), True), ((0.1, 0.4), (0.2, 0.3), True), ((0.1, 0.2), (0.2, 0.3), True),
    ((0.1, 0.2 - E), (0.2, 0.3), False), ((0.2 + E, 0.3), (0.1, 0.2), False), ((0.1, 0.2), (0.3, 0.4), False)])
def test_overlap_touching_ends_overlap(a, b, want):
    assert overlap(a, b) is want and overlap(b, a) is want


H = HOST_TOLERANCE


@pytest.mark.parametrize("ci, want", [([0.05, 0.2], BEATS), ([-0.2, -0.05], LOSES), ([-0.1, 0.1], TIE),
                                      ([0.01, 0.2], CLOSE), ([-0.2, -0.01], CLOSE), ([0.0, 0.1], CLOSE),
                                      ([H + E, 0.1], BEATS), ([H - E, 0.1], CLOSE), ([H, 0.1], CLOSE),
                                      ([-0.1, -H - E], LOSES), ([-0.1, -H + E], CLOSE),
                                      ([-0.1, H + E], TIE), ([-0.1, H], CLOSE), ([-H - E, 0.1], TIE)])
def test_verdict_reads_only_the_interval_with_the_hosts_tolerance(ci, want):
    assert HOST_TOLERANCE == 0.03
    assert verdict({"difference": 0.05, "ci": ci}) == want


@pytest.mark.parametrize("ci, want", [([E, 0.1], BEATS), ([-0.1, -E], LOSES), ([0.0, 0.1], CLOSE), ([-E, 0.1], TIE)])
def test_verdict_without_tolerance_is_the_plain_interval_rule_save_a_touching_bound(ci, want):
    assert verdict({"difference": 0.05, "ci": ci}, tolerance=0.0) == want


def test_describe_says_why_a_verdict_is_too_close_to_call():
    text = describe({"difference": 0.05, "ci": [0.014, 0.088]}, "NA", "naive")
    assert text == ("NA is too close to call against naive (AUC difference +0.050, 95% CI [+0.014, +0.088]; "
                    "a bound within 0.03 of 0, which another machine can cross)")


def test_compare_is_the_paired_bootstrap_and_describe_states_it():
    rng = np.random.default_rng(0)
    m, n = rng.normal(1.0, 1, 300), rng.normal(0.0, 1, 300)
    strong, weak = (m, n), (m + rng.normal(0, 3, 300), n + rng.normal(0, 3, 300))
    d = compare(strong, weak, n_boot=200, seed=1)
    assert d == paired_auc_difference(strong, weak, n_boot=200, seed=1)
    assert verdict(d) == BEATS and verdict(compare(weak, strong, n_boot=200, seed=1)) == LOSES
    assert verdict(compare(strong, strong, n_boot=50)) == CLOSE  # a difference of exactly 0, interval [0, 0]
    text = describe(d, "A", "B")
    assert text.startswith("A beats B (AUC difference +") and "95% CI [+" in text


@pytest.mark.parametrize("lo, hi, above, want", [
    (T + H + 1e-12, 0.9, True, HOLDS),   # the near bound beyond the threshold by more than the tolerance
    (T + H - 0.001, 0.9, True, TOO_CLOSE),         # within the tolerance: too close
    (T + 1e-12, 0.9, True, TOO_CLOSE),       # the bound at the threshold +- 1e-12
    (T - 1e-12, 0.9, True, TOO_CLOSE),
    (T, 0.9, True, TOO_CLOSE),
    (T - H - 1e-12, 0.9, True, FAILS),    # short of it by more than the tolerance
    (-0.5, T - H - 1e-12, False, HOLDS),  # a "below" claim is decided by the upper bound
    (-0.5, T + 1e-12, False, TOO_CLOSE),
    (-0.5, T + H + 1e-12, False, FAILS),
    (float("nan"), 0.9, True, TOO_CLOSE),
])
def test_judge_has_three_outcomes_and_a_band_of_doubt_around_the_line(lo, hi, above, want):
    assert HOST_TOLERANCE == 0.03
    assert judge(lo, hi, T, above=above) == want


def test_judge_without_tolerance_decides_1e12_from_the_line_and_never_on_one_seed():
    assert judge(T + 1e-12, 1.0, T, tolerance=0.0) == HOLDS and judge(T - 1e-12, 1.0, T, tolerance=0.0) == FAILS
    assert judge(T, 1.0, T, tolerance=0.0) == TOO_CLOSE
    assert judge(0.9, 1.0, T, repetitions=2) == HOLDS
    assert judge(0.9, 1.0, T, repetitions=1) == TOO_CLOSE and judge(-0.9, -0.8, T, repetitions=1) == TOO_CLOSE
    with pytest.raises(ValueError, match="lower end above"):
        judge(0.5, 0.4, T)
    with pytest.raises(ValueError, match="tolerance"):
        judge(0.4, 0.5, T, tolerance=-0.01)
