"""The property-inference experiment: sharer models trained on exact proportions, the
receiver's readings and estimates, error against N, the Gaussian-mixture generator."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mialib.attacks.property import PropertyReader, ReaderRates
from mialib.data.colored import coloured_population
from mialib.experiments.property import (GaussianMixtureGenerator, PropertyParams, ReceiverReadings,
                                         error_by_sample_size, train_sharer_models)


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("MIALIB_CACHE", str(tmp_path / "cache"))


def test_sharers_train_on_exact_proportions_and_the_receiver_reads_them():
    pop = coloured_population(seed=1)
    params = PropertyParams(n_train=20, train_steps=3, n_queries=2, n_per_query=5, sample_steps=2)
    sharers = train_sharer_models(pop, [0.25, 0.75], params, seed=0, device="cpu", progress=False)
    assert [sh.training.attributes["colour"].sum() for sh in sharers.values()] == [5, 15]
    assert sharers[0.25].model.record["p"] == 0.25 and sharers[0.25].model.key != sharers[0.75].model.key
    with pytest.raises(ValueError, match="distinct"):
        train_sharer_models(pop, [0.5, 0.5], params, seed=0, device="cpu", progress=False)
    aux = pop.auxiliary()
    reader = PropertyReader.fit(aux.images, aux.attributes["colour"], seed=0)
    # read the sharer's real training images: the estimators see the true proportion through the reader
    r = ReceiverReadings.read(sharers[0.75].training.images, reader)
    est = r.estimates(params, reader.rates)
    assert set(est) == {"classifier (naive)", "classifier (corrected)", "zero-shot colour rule"}
    assert all(len(v) == 2 and v[0].n == 5 for v in est.values())
    assert abs(r.generator_proportion(pop) - 0.75) < 0.3


def test_error_by_sample_size_shrinks_with_n():
    rng = np.random.default_rng(0)
    labels = (rng.random(4000) < 0.3).astype(int)
    err = error_by_sample_size(labels, 0.3, [10, 100, 1000], n_repeats=100, seed=0)
    assert err[10] > err[100] > err[1000]
    corrected = error_by_sample_size(labels, 0.3, [100], ReaderRates.exact(1.0, 0.0), n_repeats=20)
    assert corrected[100] == pytest.approx(error_by_sample_size(labels, 0.3, [100], n_repeats=20)[100])
    with pytest.raises(ValueError, match="sample size"):
        error_by_sample_size(labels, 0.3, [5000])


def test_error_by_sample_size_is_the_mean_absolute_error_of_its_draws():
    from mialib.attacks.property import corrected_estimate
    labels = (np.random.default_rng(3).random(500) < 0.4).astype(int)
    rates = ReaderRates(0.9, 0.2, 40, 40)
    rng = np.random.default_rng(7)
    want = {}
    for n in (10, 50):  # the loop it replaced, written out
        errs = [abs(corrected_estimate(labels[rng.choice(500, n, replace=False)], rates, 0.1).value - 0.4)
                for _ in range(30)]
        want[n] = float(np.mean(errs))
    assert error_by_sample_size(labels, 0.4, (10, 50), rates, n_repeats=30, delta=0.1, seed=7) == want


def test_gaussian_mixture_generator_samples_images_in_range():
    x = torch.rand(30, 3, 4, 4, generator=torch.Generator().manual_seed(0)) * 2 - 1
    g = GaussianMixtureGenerator.fit(x, n_components=3, seed=0)
    s = g.sample(50, seed=1)
    assert s.shape == (50, 3, 4, 4) and s.min() >= -1 and s.max() <= 1
    assert torch.equal(s, g.sample(50, seed=1))
