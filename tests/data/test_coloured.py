"""Coloured digits: ink colours, the colour noise, exact proportions, disjoint pools."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import stats

from mialib.data.coloured import (BLUE, RED, ColourNoise, colour_rule, colour_rule_rates, colourise,
                                 coloured_population, ink, ink_spread, read_mix)


@pytest.fixture(scope="module")
def pop():
    return coloured_population(seed=0)


def test_ink_and_reading_it_back():
    np.testing.assert_allclose(ink([0.0, 1.0]), np.stack([RED, BLUE]))
    grey = torch.rand(5, 1, 8, 8, generator=torch.Generator().manual_seed(0)) * 2 - 1
    m = np.array([0.0, 0.2, 0.5, 0.9, 1.0])
    rgb = colourise(grey, m)
    assert rgb.shape == (5, 3, 8, 8) and rgb.min() >= -1 and rgb.max() <= 1
    np.testing.assert_allclose(read_mix(rgb), m, atol=1e-5)
    # a white pixel inked red is (1, 0.2, 0.1) mapped to [-1, 1]
    white = torch.ones(1, 1, 1, 1)
    torch.testing.assert_close(colourise(white, [0.0]).flatten(), torch.tensor(RED * 2 - 1, dtype=torch.float32))


def test_colour_noise_has_the_documented_mean_and_sd():
    noise = ColourNoise(0.2)
    rng = np.random.default_rng(0)
    for s, mu in ((0, 0.25), (1, 0.75)):
        m = noise.draw(np.full(200_000, s), rng)
        assert m.mean() == pytest.approx(mu, abs=0.003) and m.std() == pytest.approx(0.2, abs=0.003)
        assert m.min() >= 0 and m.max() <= 1
    tpr, fpr = colour_rule_rates(noise)
    assert tpr == pytest.approx(1 - stats.beta.cdf(0.5, *noise.beta(1))) and fpr == pytest.approx(1 - tpr)
    assert 0.8 < tpr < 0.95  # visible, but not perfectly readable
    with pytest.raises(ValueError, match="colour_noise"):
        ColourNoise(0.5)


def test_sampler_draws_exact_proportions_of_distinct_sharer_digits(pop):
    for p in (0.0, 0.1, 0.33, 0.5, 0.9, 1.0):
        ds = pop.sample_with_proportion(200, p, stream=3)
        s = ds.attributes["colour"]
        assert s.sum() == round(p * 200) and len(s) == 200
        assert len(np.unique(ds.attributes["digit_index"])) == 200
        assert set(ds.attributes["digit_index"]) <= set(pop.sharer_pool)
    a, b = pop.sample_with_proportion(100, 0.3, stream=4), pop.sample_with_proportion(100, 0.3, stream=4)
    assert torch.equal(a.images, b.images)
    assert not torch.equal(a.images, pop.sample_with_proportion(100, 0.3, stream=5).images)
    with pytest.raises(ValueError, match="p must"):
        pop.sample_with_proportion(10, 1.2, stream=0)
    with pytest.raises(ValueError, match="n must"):
        pop.sample_with_proportion(len(pop.sharer_pool) + 1, 0.5, stream=0)


def test_the_receiver_pool_is_disjoint_and_balanced(pop):
    assert not set(pop.sharer_pool) & set(pop.receiver_pool)
    assert len(pop.sharer_pool) + len(pop.receiver_pool) == 1797
    aux = pop.auxiliary()
    assert abs(aux.attributes["colour"].mean() - 0.5) < 0.01
    # the zero-shot rule reads the property with the documented error rates
    pred = colour_rule(aux.images)
    truth = aux.attributes["colour"]
    tpr, fpr = colour_rule_rates(pop.noise)
    assert pred[truth == 1].mean() == pytest.approx(tpr, abs=0.06)
    assert pred[truth == 0].mean() == pytest.approx(fpr, abs=0.06)


def test_the_auxiliary_data_in_both_inks_holds_every_digit_once_per_ink(pop):
    from mialib.data.coloured import grey_intensity, read_mix
    both = pop.auxiliary(both_inks=True)
    n = len(pop.receiver_pool)
    assert len(both) == 2 * n and both.attributes["colour"].tolist() == [0] * n + [1] * n
    assert both.attributes["digit_index"].tolist() == pop.receiver_pool.tolist() * 2
    # the same grey digit under two inks: the grey intensity agrees, the read ink differs on average
    torch.testing.assert_close(grey_intensity(both.images[:n]), grey_intensity(both.images[n:]), atol=2e-3, rtol=0)
    assert read_mix(both.images[n:]).mean() > read_mix(both.images[:n]).mean() + 0.3


def test_ink_spread_is_the_rms_of_the_mixes_about_their_sides_mean():
    grey = torch.rand(4, 1, 8, 8, generator=torch.Generator().manual_seed(1)) * 2 - 1
    # sides: {0.2, 0.3} about 0.25 and {0.7, 0.8} about 0.75: every deviation is 0.05
    assert ink_spread(colourise(grey, [0.2, 0.3, 0.7, 0.8])) == pytest.approx(0.05, abs=1e-5)
    # one side only: about its own mean (0.1, 0.2, 0.3 -> deviations -0.1, 0, 0.1)
    assert ink_spread(colourise(grey[:3], [0.1, 0.2, 0.3])) == pytest.approx(np.sqrt(2 / 3) * 0.1, abs=1e-5)
    assert ink_spread(colourise(grey, [0.25, 0.25, 0.75, 0.75])) == pytest.approx(0.0, abs=1e-5)


def test_real_inks_spread_less_than_their_noise_and_more_with_more_noise(pop):
    # each side's Beta is cut at 1/2, so the spread is below the noise sd, and it grows with it
    quiet = coloured_population(colour_noise=0.1, seed=0).auxiliary(both_inks=True).images
    noisy = pop.auxiliary(both_inks=True).images
    assert ink_spread(quiet) < ink_spread(noisy) < pop.noise.sd
