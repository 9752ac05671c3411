"""Property inference: the closed forms, the estimators on synthetic labels with known rates,
and the coverage of their intervals."""

from __future__ import annotations

import math

import numpy as np
import pytest

import mialib.attacks.property as mp
from mialib.attacks.property import (ReaderRates, corrected_estimate, corrected_proportion, hoeffding_epsilon,
                                     hoeffding_sample_size, naive_estimate, query_estimates)
from mialib.evaluation.estimates import coverage


def test_closed_forms():
    assert hoeffding_epsilon(200, 0.05) == pytest.approx(math.sqrt(math.log(40) / 400))
    assert hoeffding_sample_size(0.05, 0.05) == 738  # docs/papers.md eq. 13
    for eps, delta in [(0.05, 0.05), (0.1, 0.01), (0.02, 0.1)]:
        n = hoeffding_sample_size(eps, delta)
        assert hoeffding_epsilon(n, delta) <= eps < hoeffding_epsilon(n - 1, delta)
    assert mp.expected_positive_rate(0.3, 0.9, 0.2) == pytest.approx(0.3 * 0.9 + 0.7 * 0.2)
    assert corrected_proportion(0.3 * 0.9 + 0.7 * 0.2, 0.9, 0.2) == pytest.approx(0.3)
    assert corrected_proportion(0.1, 0.9, 0.2) == 0.0 and corrected_proportion(0.95, 0.9, 0.2) == 1.0  # clipped
    with pytest.raises(ValueError, match="TPR > FPR"):
        corrected_proportion(0.5, 0.4, 0.4)
    with pytest.raises(ValueError, match="delta"):
        hoeffding_epsilon(10, 1.0)
    with pytest.raises(ValueError, match="n must"):
        hoeffding_epsilon(0, 0.05)


def _labels(p, tpr, fpr, n, rng):
    s = rng.random(n) < p
    return np.where(s, rng.random(n) < tpr, rng.random(n) < fpr).astype(int)


def test_corrected_is_unbiased_and_naive_is_pulled_toward_half():
    """Synthetic labels from a reader with known TPR 0.85 / FPR 0.15."""
    rng = np.random.default_rng(0)
    rates = ReaderRates.exact(0.85, 0.15)
    for p in (0.1, 0.3, 0.7, 0.9):
        naive = np.mean([naive_estimate(_labels(p, 0.85, 0.15, 400, rng)).value for _ in range(300)])
        corr = np.mean([corrected_estimate(_labels(p, 0.85, 0.15, 4000, rng), rates).value for _ in range(300)])
        assert corr == pytest.approx(p, abs=0.01)
        assert naive == pytest.approx(mp.expected_positive_rate(p, 0.85, 0.15), abs=0.01)
        assert abs(naive - 0.5) < abs(p - 0.5)  # toward 0.5


def test_intervals_hold_their_coverage_on_synthetic_draws():
    rng = np.random.default_rng(1)
    measured = ReaderRates.measure(_labels(1.0, 0.8, 0.2, 150, rng).tolist() + _labels(0.0, 0.8, 0.2, 150, rng).tolist(),
                                   [1] * 150 + [0] * 150)
    est = {p: [corrected_estimate(_labels(p, 0.8, 0.2, 200, rng), measured, 0.1) for _ in range(200)]
           for p in (0.1, 0.5, 0.9)}
    assert coverage(est, {p: p for p in est}) >= 0.9
    naive = {p: [naive_estimate(_labels(p, 1.0, 0.0, 200, rng), 0.1) for _ in range(200)] for p in (0.1, 0.5)}
    assert coverage(naive, {p: p for p in naive}) >= 0.9  # a perfect reader: Hoeffding around p itself
    # the naive interval does not cover p when the reader errs: it covers E f instead
    biased = {0.1: [naive_estimate(_labels(0.1, 0.8, 0.2, 2000, rng), 0.1) for _ in range(50)]}
    assert coverage(biased, {0.1: 0.1}) == 0.0
    assert coverage(biased, {0.1: mp.expected_positive_rate(0.1, 0.8, 0.2)}) == 1.0


def test_interval_arithmetic_of_the_correction():
    from scipy.stats import beta
    e = corrected_estimate([1] * 60 + [0] * 140, ReaderRates.exact(0.9, 0.1), delta=0.05)
    q_lo, q_hi = beta.ppf(0.025, 60, 141), beta.ppf(0.975, 61, 140)  # the exact interval of E f, by hand
    assert e.value == pytest.approx((0.3 - 0.1) / 0.8)
    assert e.low == pytest.approx((q_lo - 0.1) / 0.8) and e.high == pytest.approx((q_hi - 0.1) / 0.8)
    eps = hoeffding_epsilon(200, 0.05)  # Hoeffding's band of the same level is wider
    assert e.high - e.low < 2 * eps / 0.8
    # uncertain rates only widen the interval; rates that might be no better than chance give [0, 1]
    wide = corrected_estimate([1] * 60 + [0] * 140, ReaderRates(0.9, 0.1, 50, 50), delta=0.05)
    assert wide.low < e.low and wide.high > e.high
    useless = corrected_estimate([1] * 60 + [0] * 140, ReaderRates(0.6, 0.4, 10, 10), delta=0.05)
    assert (useless.low, useless.high) == (0.0, 1.0)


def test_queries_and_reader_rates():
    labels = np.array([1, 0] * 50)
    qs = query_estimates(labels, 5, 20)
    assert len(qs) == 5 and all(q.n == 20 and q.value == 0.5 for q in qs)
    with pytest.raises(ValueError, match="need 120 labels"):
        query_estimates(labels, 6, 20)
    with pytest.raises(ValueError, match="0s and 1s"):
        naive_estimate([0, 2])
    with pytest.raises(ValueError, match="both properties"):
        ReaderRates.measure([1, 1], [1, 1])


def test_property_reader_learns_the_colour(digits_split):
    from mialib.data.coloured import coloured_population
    pop = coloured_population(seed=0)
    aux = pop.auxiliary()
    reader = mp.PropertyReader.fit(aux.images, aux.attributes["colour"], held_out=0.3, seed=0)
    assert reader.rates.tpr > reader.rates.fpr + 0.4
    assert reader.rates.n_pos + reader.rates.n_neg == round(0.3 * len(aux))
    test = pop.sample_with_proportion(200, 0.5, stream=9)
    assert (reader.predict(test.images) == test.attributes["colour"]).mean() > 0.7


def test_a_grouped_hold_out_keeps_every_digit_on_one_side():
    from mialib.data.coloured import coloured_population
    aux = coloured_population(seed=0).auxiliary(both_inks=True)
    digits = aux.attributes["digit_index"]
    reader = mp.PropertyReader.fit(aux.images, aux.attributes["colour"], held_out=0.5, seed=3, groups=digits)
    n_digits = len(np.unique(digits))
    # half of the digits held out, each in both inks: as many held-out positives as negatives
    assert reader.rates.n_pos == reader.rates.n_neg == round(0.5 * n_digits)
    assert reader.rates.tpr > reader.rates.fpr + 0.4
    with pytest.raises(ValueError, match="one id per image"):
        mp.PropertyReader.fit(aux.images, aux.attributes["colour"], groups=digits[:-1])


def test_clopper_pearson_closed_forms_and_exact_coverage():
    from scipy.stats import binom

    from mialib.attacks.property import clopper_pearson
    assert clopper_pearson(0, 10, 0.05) == (0.0, pytest.approx(1 - 0.025 ** (1 / 10)))
    assert clopper_pearson(10, 10, 0.05) == (pytest.approx(0.025 ** (1 / 10)), 1.0)
    # exact coverage: the probability, over every count k ~ Bin(n, p), that the interval holds p
    for p, n in [(0.9, 130), (0.15, 135), (0.5, 40)]:
        cover = sum(binom.pmf(k, n, p) for k in range(n + 1) if clopper_pearson(k, n, 0.05)[0] <= p <= clopper_pearson(k, n, 0.05)[1])
        assert cover >= 0.95
    lo, hi = clopper_pearson(117, 130, 0.0125)  # a TPR of 0.9 at the corrected estimator's delta / 4
    assert hi - lo < 2 * hoeffding_epsilon(130, 0.0125)  # narrower than Hoeffding's band of the same level
    with pytest.raises(ValueError, match="k must"):
        clopper_pearson(11, 10)


def test_corrected_intervals_over_independent_repetitions_of_reader_and_queries():
    """Fresh held-out rates and a fresh query in every repetition (what a second receiver would do):
    the corrected interval holds at least 1 - delta of the time."""
    rng = np.random.default_rng(7)
    hits, widths = [], []
    for _ in range(300):
        measured = ReaderRates.measure(_labels(1.0, 0.85, 0.15, 135, rng).tolist() + _labels(0.0, 0.85, 0.15, 135, rng).tolist(),
                                       [1] * 135 + [0] * 135)
        e = corrected_estimate(_labels(0.3, 0.85, 0.15, 200, rng), measured, 0.05)
        hits.append(e.covers(0.3))
        widths.append(e.high - e.low)
    assert np.mean(hits) >= 0.95
    # exact bounds on the labels and the rates: about 0.46 wide (Hoeffding's on the labels instead: 0.52;
    # on the rates too: 0.69 at p^ = 0.45 here)
    assert 0.42 < np.mean(widths) < 0.49
