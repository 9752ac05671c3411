"""Sample quality: precision against the real manifold (Kynkäänniemi et al. 2019) on a hand-computed
case, against scikit-learn's nearest neighbours, and with controls: real digits pass, static fails,
and the ink does not matter."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mialib.data.coloured import colourise
from mialib.data.loaders import load_digits
from mialib.evaluation.sample_quality import QUALITY_BAR, SampleQuality, intensity_features


def test_precision_by_hand_on_three_points():
    # real points 0, 1, 3 on a line, k = 1: radii 1, 1, 2; 4.5 is inside 3's ball, 5.5 and -1.5 are not
    q = SampleQuality(real=np.array([[0.0], [1.0], [3.0]]), radii=np.array([1.0, 1.0, 2.0]), real_precision=1.0,
                      n_held_out=0, k=1)
    assert q.precision_of_features(np.array([[4.5], [5.5], [-1.5], [0.5]])) == pytest.approx(0.5)


@pytest.fixture(scope="module")
def digits():
    d = load_digits(8)
    return d.images[:1200], d.images[1200:]


def test_radii_are_the_kth_neighbour_distances_of_scikit_learn(digits):
    from sklearn.neighbors import NearestNeighbors

    real, held = digits
    q = SampleQuality.fit(real[:300], held[:50], k=3)
    x = intensity_features(real[:300])
    dist = NearestNeighbors(n_neighbors=4).fit(x).kneighbors(x)[0][:, 3]
    np.testing.assert_allclose(q.radii, dist, atol=1e-9)
    assert q.precision(real[:300]) == 1.0  # every real image lies in its own ball


def test_real_digits_pass_and_static_fails(digits):
    real, held = digits
    q = SampleQuality.fit(real, held)
    assert 0.7 < q.real_precision < 1.0 and q.n_held_out == len(held)
    good = q.check(held[:200])
    assert good["passes"] and good["ratio_to_real"] > QUALITY_BAR
    static = torch.rand(200, 1, 8, 8, generator=torch.Generator().manual_seed(0)) * 2 - 1
    bad = q.check(static)
    assert not bad["passes"] and bad["precision"] < 0.05
    half = q.check(torch.cat([held[:100], static[:100]]))  # half static: about half the real precision
    assert half["ratio_to_real"] == pytest.approx(0.5, abs=0.1) and not half["passes"]


def test_the_ink_does_not_change_the_verdict(digits):
    real, held = digits
    q = SampleQuality.fit(real, held)
    inked = colourise(held[:200], np.random.default_rng(0).uniform(0, 1, 200))
    np.testing.assert_allclose(intensity_features(inked), intensity_features(held[:200]), atol=1e-6)
    assert q.precision(inked) == pytest.approx(q.precision(held[:200]), abs=0.01)  # float32 ink: a point on a ball's edge


def test_the_check_says_when_a_model_lies_within_sampling_error_of_the_bar(digits):
    from scipy.stats import beta

    real, held = digits
    q = SampleQuality.fit(real, held)
    static = torch.rand(200, 1, 8, 8, generator=torch.Generator().manual_seed(0)) * 2 - 1
    good, bad = q.check(held[:200]), q.check(static)
    for c in (good, bad):  # the exact binomial interval of the precision, by hand with the beta quantiles
        k, n = round(c["precision"] * c["n_samples"]), c["n_samples"]
        lo = beta.ppf(0.025, k, n - k + 1) if k else 0.0
        hi = beta.ppf(0.975, k + 1, n - k) if k < n else 1.0
        assert c["precision_ci"] == pytest.approx([lo, hi])
    assert not good["near_bar"] and not bad["near_bar"]
    # a mix right at the bar: real digits and static in the share that puts its precision on the bar's
    n_real = round(200 * QUALITY_BAR)
    near = q.check(torch.cat([held[:n_real], static[:200 - n_real]]))
    assert near["near_bar"] and near["precision_ci"][0] <= QUALITY_BAR * q.real_precision <= near["precision_ci"][1]


@pytest.mark.parametrize("images, match", [(np.zeros((2, 1, 8, 8)), "Tensor"), (torch.zeros(2, 2, 8, 8), "1 or 3"),
                                           (torch.zeros(0, 1, 8, 8), "non-empty"), (torch.zeros(2, 1, 4, 4), "pixels")])
def test_bad_images_are_refused_with_a_message(digits, images, match):
    q = SampleQuality.fit(digits[0][:50], digits[1][:10])
    with pytest.raises(ValueError, match=match):
        q.precision(images)
