"""The Fréchet distance against its closed forms on Gaussians, the estimate from samples, and the
feature network trained here."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mialib.data.loaders import load_dataset
from mialib.evaluation import frechet as fr


def test_closed_form_for_isotropic_gaussians():
    d, m = 6, np.full(6, 0.5)
    # ||m||^2 + d (s1 - s2)^2 for N(0, s1^2 I) and N(m, s2^2 I)
    assert fr.frechet_distance(np.zeros(d), np.eye(d), m, 4 * np.eye(d)) == pytest.approx(d * 0.25 + d * 1.0)
    assert fr.frechet_distance(m, 2 * np.eye(d), m, 2 * np.eye(d)) == pytest.approx(0.0, abs=1e-10)


def test_closed_form_for_commuting_covariances():
    rng = np.random.default_rng(0)
    q, _ = np.linalg.qr(rng.normal(size=(5, 5)))  # a common eigenbasis
    a, b = rng.uniform(0.2, 3, 5), rng.uniform(0.2, 3, 5)
    c1, c2 = q @ np.diag(a) @ q.T, q @ np.diag(b) @ q.T
    mu1, mu2 = rng.normal(size=5), rng.normal(size=5)
    want = ((mu1 - mu2) ** 2).sum() + ((np.sqrt(a) - np.sqrt(b)) ** 2).sum()
    assert fr.frechet_distance(mu1, c1, mu2, c2) == pytest.approx(want, rel=1e-8)
    assert fr.frechet_distance(mu1, c1, mu2, c2) == pytest.approx(fr.frechet_distance(mu2, c2, mu1, c1), rel=1e-8)


def test_estimate_from_samples_converges_to_the_closed_form():
    rng = np.random.default_rng(1)
    x = rng.normal(0, 1, (20000, 3))
    y = rng.normal(1, 2, (20000, 3))
    want = 3 * 1.0 + 3 * (1 - 2) ** 2
    assert fr.frechet_distance(*fr.gaussian_fit(x), *fr.gaussian_fit(y)) == pytest.approx(want, rel=0.03)


def test_bad_shapes_are_refused():
    with pytest.raises(ValueError, match="must match"):
        fr.frechet_distance(np.zeros(2), np.eye(2), np.zeros(3), np.eye(3))
    with pytest.raises(ValueError, match="N >= 2"):
        fr.gaussian_fit(np.zeros((1, 3)))
    with pytest.raises(ValueError, match="Tensor"):
        fr.FeatureNetwork(None, 0.0).features(np.zeros((2, 64)))


def test_feature_network_tells_digits_apart_and_ranks_noise_far():
    ds = load_dataset("digits", 8)
    x, y = ds.images, np.asarray(ds.labels)
    net = fr.train_feature_network(x[:1000], y[:1000], x[1000:], y[1000:], hidden=64, seed=0)
    assert net.accuracy > 0.85
    assert net.features(x[:5]).shape == (5, 64) and (net.features(x[:5]) >= 0).all()
    real = net.distance(x[1000:1300], x[1300:1600])
    noise = net.distance(torch.rand(300, 1, 8, 8) * 2 - 1, x[1300:1600])
    blurred = net.distance(torch.nn.functional.avg_pool2d(x[1000:1300], 3, 1, 1), x[1300:1600])
    assert real < blurred < noise
