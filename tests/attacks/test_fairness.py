"""Fairness poisoning: the selection methods on synthetic pools and the mutual-information
helpers against their closed forms."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mialib.attacks.fairness import (binary_entropy, feature_codes, mutual_information, mutual_information_from_counts,
                                     poisoned_mutual_information, select_training_set, utility_drift)


@pytest.fixture(scope="module")
def pool():
    rng = np.random.default_rng(0)
    n = 3000
    y = rng.integers(0, 2, n)
    s = rng.permutation(np.arange(n) % 2)
    x = rng.normal(size=(n, 6)) + 1.5 * y[:, None]
    return x, y, s, feature_codes(x, k=8, seed=0)


def test_mutual_information_closed_forms():
    assert binary_entropy(0.5) == pytest.approx(1.0) and binary_entropy(0.0) == 0.0
    assert binary_entropy(0.25) == pytest.approx(-0.25 * math.log2(0.25) - 0.75 * math.log2(0.75))
    assert mutual_information_from_counts([[50, 0], [0, 50]]) == pytest.approx(1.0)  # y = s: one bit
    assert mutual_information_from_counts([[25, 25], [25, 25]]) == pytest.approx(0.0)
    for alpha in (0.0, 0.2, 0.5, 1.0):
        q = (1 + alpha) / 2
        table = np.array([[q, 1 - q], [1 - q, q]]) * 1000
        assert mutual_information_from_counts(table) == pytest.approx(poisoned_mutual_information(alpha), abs=1e-12)
    a = np.array([0, 0, 1, 1, 2, 2])
    assert mutual_information(a, a) == pytest.approx(math.log2(3))
    with pytest.raises(ValueError, match="aligned"):
        mutual_information([0, 1], [0])


@pytest.mark.parametrize("method", ["label_flip", "mi_greedy"])
@pytest.mark.parametrize("alpha", [0.2, 0.4])
def test_poisoning_makes_labels_follow_the_attribute(pool, method, alpha):
    x, y, s, codes = pool
    idx, labels = select_training_set(x, y, s, 600, alpha, method, seed=3, x_codes=codes, rule="one_direction")
    assert len(idx) == len(np.unique(idx)) == 600
    assert np.mean(labels == s[idx]) == pytest.approx((1 + alpha) / 2, abs=0.04)
    assert mutual_information(s[idx], labels) == pytest.approx(poisoned_mutual_information(alpha), abs=0.03)
    if method == "mi_greedy":  # clean labels, balanced classes, utility kept within 10%
        assert np.array_equal(labels, y[idx])
        assert abs(np.mean(labels) - 0.5) < 0.05
        i0, i_xy = utility_drift(y, codes, idx, labels)
        assert abs(i_xy - i0) <= 0.1 * i0
    else:
        assert not np.array_equal(labels, y[idx])


@pytest.mark.parametrize("alpha", [0.2, 0.4])
def test_the_official_rule_strengthens_the_way_the_base_leans(pool, alpha):
    """All four cells compete: every poisoned slot goes to the side the random base of (1 - alpha) n
    records leans to, so the share of labels equal to s ends at (1 - alpha) b + alpha when the base's
    share b is above one half and at (1 - alpha) b below it; I(S;Y) grows either way; labels stay
    clean and the utility within its bound."""
    x, y, s, codes = pool
    sides = []
    for seed in range(6):
        idx, labels = select_training_set(x, y, s, 600, alpha, "mi_greedy", seed=seed, x_codes=codes)
        base = idx[: 600 - int(round(alpha * 600))]
        b = np.mean(y[base] == s[base])
        share = np.mean(labels == s[idx])
        assert len(np.unique(idx)) == 600 and np.array_equal(labels, y[idx])
        assert share == pytest.approx((1 - alpha) * b + alpha * (b > 0.5), abs=1e-9)
        assert mutual_information(s[idx], labels) > max(mutual_information(s[base], y[base]),
                                                        0.5 * poisoned_mutual_information(alpha))
        i0, i_xy = utility_drift(y, codes, idx, labels)
        assert abs(i_xy - i0) < 0.1 * i0
        sides.append(share > 0.5)
    assert 0 < sum(sides) < len(sides)  # both leanings occur over six seeds


def test_the_official_rule_takes_the_top_cell_within_the_bound_and_the_last_cell_outside_it(pool):
    """With a bound any candidate keeps (max_drift = 100) every slot goes to the cell of the largest gain in
    I(S;Y), so from an empty base (alpha = 1) S and Y become strongly dependent; with a bound that
    no candidate can keep (max_drift = 0) every slot falls back to the last-ranked cell, which keeps
    them independent."""
    x, y, s, codes = pool
    idx, labels = select_training_set(x, y, s, 200, 1.0, "mi_greedy", seed=0, x_codes=codes, max_drift=100.0)
    assert mutual_information(s[idx], labels) > 0.5
    idx, labels = select_training_set(x, y, s, 200, 1.0, "mi_greedy", seed=0, x_codes=codes, max_drift=0.0)
    assert mutual_information(s[idx], labels) < 0.02 and np.array_equal(labels, y[idx])
    with pytest.raises(ValueError, match="no random base of 160 records"):
        select_training_set(x, y, s, 200, 0.2, "mi_greedy", seed=0, x_codes=codes, max_drift=0.0, max_base_draws=5)


def test_no_poisoning_and_direction(pool):
    x, y, s, codes = pool
    idx, labels = select_training_set(x, y, s, 600, 0.4, "none", seed=1)
    assert np.array_equal(labels, y[idx]) and abs(np.mean(labels == s[idx]) - 0.5) < 0.05
    idx, labels = select_training_set(x, y, s, 600, 0.4, "mi_greedy", seed=1, x_codes=codes, rule="one_direction",
                                      direction=-1)
    assert np.mean(labels == s[idx]) == pytest.approx(0.3, abs=0.04)


@pytest.mark.parametrize("kw, match", [({"method": "flip"}, "method must be one of"), ({"alpha": 1.5}, "alpha"),
                                       ({"n": 0}, "n must"), ({"direction": 0, "rule": "one_direction"}, "direction"),
                                       ({"rule": "both"}, "rule must be one of"), ({"n_candidates": 0}, "n_candidates")])
def test_bad_selection_arguments(pool, kw, match):
    x, y, s, codes = pool
    args = {"n": 100, "alpha": 0.2, "method": "mi_greedy", **kw}
    with pytest.raises(ValueError, match=match):
        select_training_set(x, y, s, seed=0, x_codes=codes, **args)
