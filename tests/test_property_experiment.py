"""The property-inference experiment: sharer models trained on exact proportions, the
receiver's readings and estimates, error against N, the Gaussian-mixture generator."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mialib.attacks.property import PropertyReader, ReaderRates
from mialib.data.coloured import coloured_population
from mialib.diffusion.mixture import GaussianMixtureGenerator
from mialib.experiments.property import (PropertyParams, ReceiverReadings, error_by_sample_size, error_curves,
                                         estimates_by_estimator, generator_bias, interval_targets, train_sharer_models)


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("MIALIB_CACHE", str(tmp_path / "cache"))


def test_sharers_train_on_exact_proportions_and_the_receiver_reads_them():
    pop = coloured_population(seed=1)
    params = PropertyParams(n_train=20, train_steps=3, base_steps=0, n_queries=2, n_per_query=5, sample_steps=2)
    sharers = train_sharer_models(pop, [0.25, 0.75], params, seed=0, device="cpu", progress=False)
    assert [sh.training.attributes["colour"].sum() for sh in sharers.values()] == [5, 15]
    assert sharers[0.25].model.record["p"] == 0.25 and sharers[0.25].model.key != sharers[0.75].model.key
    assert "fine_tuned_from" not in sharers[0.25].model.record
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


def test_the_receivers_reader_measures_its_rates_on_digits_it_never_trained_on():
    from mialib.experiments.property import receiver_reader
    pop = coloured_population(seed=1)
    reader = receiver_reader(pop, PropertyParams(), seed=2)
    n = len(pop.receiver_pool)
    assert reader.rates.n_pos == reader.rates.n_neg == round(0.5 * n)  # both inks of half the digits
    single = receiver_reader(pop, PropertyParams(aux_both_inks=False), seed=2)
    assert single.rates.n_pos + single.rates.n_neg == round(0.5 * n)
    with pytest.raises(ValueError, match="aux_both_inks must be True or False"):
        PropertyParams(aux_both_inks=1)


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


def _readings(p_values, n=40, seed=0):
    rng = np.random.default_rng(seed)
    return {p: ReceiverReadings((rng.random(n) < p).astype(np.int64), (rng.random(n) < p).astype(np.int64))
            for p in p_values}


def test_estimates_by_estimator_regroups_each_generators_estimates():
    params = PropertyParams(n_queries=2, n_per_query=20)
    rates = ReaderRates.exact(0.9, 0.1)
    readings = _readings([0.2, 0.8])
    by = estimates_by_estimator(readings, params, rates)
    assert list(by) == ["classifier (naive)", "classifier (corrected)", "zero-shot colour rule"]
    assert list(by["classifier (naive)"]) == [0.2, 0.8]
    # the same estimates as each reading gives on its own
    assert by["classifier (corrected)"][0.8] == readings[0.8].estimates(params, rates)["classifier (corrected)"]
    other = estimates_by_estimator(readings, params, rates, prefix="GMM, ", only=("classifier (corrected)",))
    assert list(other) == ["GMM, classifier (corrected)"] and other["GMM, classifier (corrected)"] == by["classifier (corrected)"]
    with pytest.raises(ValueError, match="unknown estimator"):
        estimates_by_estimator(readings, params, rates, only=("oracle",))


def test_interval_targets_are_what_each_interval_bounds():
    pop = coloured_population(seed=0)
    readings = _readings([0.2, 0.8])
    targets = interval_targets(readings, pop)
    assert list(targets) == ["classifier (naive)", "classifier (corrected)", "zero-shot colour rule"]
    r = readings[0.8]
    assert targets["classifier (naive)"][0.8] == r.reader_labels.mean()      # E f of the reader's labels
    assert targets["zero-shot colour rule"][0.8] == r.rule_labels.mean()
    assert targets["classifier (corrected)"][0.8] == r.generator_proportion(pop)  # the generator's own proportion
    other = interval_targets(readings, pop, prefix="GMM, ", only=("classifier (corrected)",))
    assert other == {"GMM, classifier (corrected)": targets["classifier (corrected)"]}


def test_generator_bias_is_the_mean_absolute_gap_to_p():
    assert generator_bias({"a": {0.1: 0.2, 0.9: 0.6}, "b": {0.5: 0.5}}) == {"a": pytest.approx(0.2), "b": 0.0}


def test_error_curves_keep_the_sizes_the_labels_can_supply():
    labels = (np.random.default_rng(1).random(300) < 0.4).astype(int)
    rates = ReaderRates.exact(0.8, 0.2)
    errors, bounds = error_curves(labels, 0.4, [10, 100, 1000], rates, delta=0.05, seed=0)
    assert list(errors["classifier (naive)"]) == [10, 100] and list(bounds) == ["Hoeffding eps(N, 0.05)", "eps / (TPR - FPR)"]
    assert errors["classifier (naive)"] == error_by_sample_size(labels, 0.4, [10, 100], seed=0)
    assert errors["classifier (corrected)"] == error_by_sample_size(labels, 0.4, [10, 100], rates, seed=0)
    assert bounds["eps / (TPR - FPR)"][10] == pytest.approx(bounds["Hoeffding eps(N, 0.05)"][10] / 0.6)
    with pytest.raises(ValueError, match="no sample size"):
        error_curves(labels, 0.4, [1000], rates, delta=0.05)


def test_sharer_and_mixture_samples_are_seeded_per_sharer():
    from mialib.core.seeding import make_generator
    from mialib.experiments.property import sample_mixtures, sample_sharers
    pop = coloured_population(seed=1)
    params = PropertyParams(n_train=20, train_steps=2, base_steps=0, sample_steps=2)
    sharers = train_sharer_models(pop, [0.25, 0.75], params, seed=0, device="cpu", progress=False)
    got = sample_sharers(sharers, 3, steps=2, seed=5)
    assert torch.equal(got[0.75], sharers[0.75].model.sample(3, steps=2, generator=make_generator(6)))
    mixed = sample_mixtures(sharers, 4, n_components=2, seed=0)
    ref = GaussianMixtureGenerator.fit(sharers[0.25].training.images, 2, seed=0).sample(4, seed=0)
    assert list(mixed) == [0.25, 0.75] and torch.equal(mixed[0.25], ref)


def _tiny():
    return PropertyParams(n_train=24, train_steps=3, base_steps=0, n_queries=2, n_per_query=10, sample_steps=2)


def test_a_repetition_scores_every_estimator_from_its_own_seed():
    from mialib.evaluation.estimates import coverage
    from mialib.experiments.property import repetition
    a = repetition([0.2, 0.8], _tiny(), seed=0, device="cpu", progress=False)
    assert set(a) == {"classifier (naive)", "classifier (corrected)", "zero-shot colour rule"}
    for m in a.values():
        assert set(m) == {"mae", "coverage", "coverage_of_target", "width"}
        assert 0 <= m["coverage"] <= 1 and 0 <= m["width"] <= 1 and 0 <= m["mae"] <= 1
    assert a == repetition([0.2, 0.8], _tiny(), seed=0, device="cpu", progress=False)   # deterministic
    assert a != repetition([0.2, 0.8], _tiny(), seed=1, device="cpu", progress=False)   # a fresh repetition
    # estimate_metrics is the estimates module's metrics, by hand on two estimates
    from mialib.attacks.property import Estimate
    from mialib.experiments.property import estimate_metrics
    es = {"x": {0.5: [Estimate(0.4, 0.3, 0.6, 200, 0.05), Estimate(0.55, 0.45, 0.75, 200, 0.05)]}}
    m = estimate_metrics(es, {"x": {0.5: 0.7}}, {0.5: 0.5})["x"]   # both cover 0.5, only the second 0.7
    assert m == {"mae": pytest.approx(0.075), "coverage": 1.0, "coverage_of_target": 0.5, "width": pytest.approx(0.3)}
    assert coverage(es["x"], {0.5: 0.5}) == m["coverage"]


def test_repetitions_table_takes_known_seeds_from_the_caller(monkeypatch):
    import mialib.experiments.property as prop
    calls = []
    monkeypatch.setattr(prop, "repetition", lambda p_grid, params, seed, **kw: calls.append(seed) or
                        {"e": {"mae": 0.1 * seed, "coverage": 1.0, "coverage_of_target": 1.0, "width": 0.4}})
    known = {0: {"e": {"mae": 0.5, "coverage": 0.9, "coverage_of_target": 0.95, "width": 0.3}}}
    t = prop.repetitions_table([0.1, 0.5, 0.9], _tiny(), [0, 1, 2], known=known)
    assert calls == [1, 2] and list(t.seed) == [0, 1, 2] and list(t.mae) == [0.5, 0.1, 0.2]
    assert set(t.n_intervals) == {3 * 2}
    for bad in ([], [1, 1]):
        with pytest.raises(ValueError, match="distinct"):
            prop.repetitions_table([0.5], _tiny(), bad)


def test_ink_comparison_reads_samples_and_training_images_alike():
    from mialib.data.coloured import colour_rule, colourise, ink_spread
    from mialib.data.images import ImageSet
    from mialib.experiments.property import SharerModel, ink_comparison
    grey = torch.rand(6, 1, 8, 8, generator=torch.Generator().manual_seed(0)) * 2 - 1
    training = colourise(grey, [0.1, 0.2, 0.45, 0.55, 0.8, 0.9])   # two of six on the wrong side, say
    samples = colourise(grey, [0.2, 0.2, 0.2, 0.8, 0.8, 0.8])      # the same colours, no scatter
    sharers = {0.5: SharerModel(0.5, ImageSet(name="t", images=training, labels=np.zeros(6, dtype=np.int64)), None)}
    got = ink_comparison({0.5: samples}, sharers)[0.5]
    assert got["ink spread, samples"] == pytest.approx(0.0, abs=1e-5)
    assert got["ink spread, training"] == pytest.approx(ink_spread(training)) and got["ink spread, training"] > 0.1
    assert got["rule share, samples"] == got["rule share, training"] == float(colour_rule(training).mean()) == 0.5


def test_sharers_fine_tune_one_public_base_model_that_carries_no_proportion():
    from mialib.experiments.property import train_base_model
    pop = coloured_population(seed=1)
    params = PropertyParams(n_train=20, train_steps=2, base_steps=3)
    base = train_base_model(pop, params, seed=0, device="cpu", progress=False)
    public = pop.auxiliary(both_inks=True)
    assert base.record["steps"] == 3 and base.record["n_training_images"] == len(public.images)
    assert public.attributes["colour"].mean() == 0.5 and base.record["role"] == "public base model"
    sharers = train_sharer_models(pop, [0.25, 0.75], params, seed=0, device="cpu", progress=False)
    assert {sh.model.record["fine_tuned_from"] for sh in sharers.values()} == {base.key}
    assert all(sh.model.record["steps"] == 2 for sh in sharers.values())
    scratch = train_sharer_models(pop, [0.25], PropertyParams(n_train=20, train_steps=2, base_steps=0), seed=0,
                                  device="cpu", progress=False)
    assert scratch[0.25].model.key != sharers[0.25].model.key
    with pytest.raises(ValueError, match="base_steps"):
        PropertyParams(base_steps=-1)
    with pytest.raises(ValueError, match="base_steps"):
        train_base_model(pop, PropertyParams(base_steps=0), seed=0)
