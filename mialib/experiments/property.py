"""Property inference against a shared diffusion model, end to end (notebook 05): the sharer
trains one model per property proportion p on coloured digits; the receiver samples from each,
reads the property of every sample and estimates p (:mod:`mialib.attacks.property`).

    params = PropertyParams.from_overrides(setup)
    pop = coloured_population(colour_noise=params.colour_noise, seed=seed)
    sharer = train_sharer_models(pop, p_grid, params, seed=seed)      # p -> SharerModel
    samples = sharer[0.3].model.sample(params.n_samples, ...)
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import torch

from ..attacks.property import (Estimate, PropertyReader, ReaderRates, corrected_estimate, hoeffding_epsilon,
                                naive_estimate, query_estimates)
from ..core.checks import check_float, check_int
from ..core.seeding import make_generator
from ..data.coloured import ColouredPopulation, colour_rule, colour_rule_rates, coloured_population, ink_spread
from ..data.images import ImageSet
from ..diffusion.mixture import GaussianMixtureGenerator
from ..diffusion.trained import TrainedModel, train_model, train_models
from ..evaluation.estimates import coverage, mean_absolute_error, mean_interval_width
from .sharing import SharerParams, train_base_model


@dataclass(frozen=True)
class PropertyParams(SharerParams):
    """Notebook 05's settings: the shared model's (:class:`.sharing.SharerParams`) and the
    receiver's; the defaults are the quick profile's (2-core CPU, minutes)."""

    n_queries: int = 10              # the receiver's queries per model (the paper's 10)
    n_per_query: int = 200           # samples per query (the paper's N = 200)
    delta: float = 0.05              # the intervals hold with probability >= 1 - delta
    held_out: float = 0.5            # share of the auxiliary digits that measures the reader's rates
    aux_both_inks: bool = True       # the receiver inks each auxiliary digit in both colours (twice the images)

    def validate(self) -> None:
        super().validate()
        check_float(self.held_out, "held_out", low=0.0, high=1.0, low_open=True, high_open=True)
        check_float(self.delta, "delta", low=0.0, high=1.0, low_open=True, high_open=True)
        for name in ("n_queries", "n_per_query"):
            check_int(getattr(self, name), name, low=1)
        if not isinstance(self.aux_both_inks, bool):
            raise ValueError(f"aux_both_inks must be True or False, got {self.aux_both_inks!r}")

    @property
    def n_samples(self) -> int:
        return self.n_queries * self.n_per_query


@dataclass
class SharerModel:
    """One sharer: the proportion it trained with, its training set and its model."""

    p: float
    training: ImageSet
    model: TrainedModel


def receiver_reader(pop: ColouredPopulation, params: PropertyParams, *, seed: int) -> PropertyReader:
    """The receiver's property reader: fitted on its auxiliary digits (each in both inks when
    ``params.aux_both_inks``), its TPR and FPR measured on ``params.held_out`` of the digits, which
    it never trained on in either ink."""
    aux = pop.auxiliary(both_inks=params.aux_both_inks)
    return PropertyReader.fit(aux.images, aux.attributes["colour"], held_out=params.held_out, seed=seed,
                              groups=aux.attributes["digit_index"])


def train_sharer_models(pop: ColouredPopulation, p_grid, params: PropertyParams, *, seed: int,
                        device: str = "auto", progress: bool = True) -> dict[float, SharerModel]:
    """One diffusion model per proportion in ``p_grid``, each on its own training set of
    ``params.n_train`` sharer digits with exactly that proportion of property 1, fine-tuned from
    the public base model (:func:`train_base_model`) when ``params.base_steps`` > 0, else from
    its initial weights (cached)."""
    grid = [check_float(p, "each p in p_grid", low=0.0, high=1.0) for p in p_grid]
    if len(set(grid)) != len(grid) or not grid:
        raise ValueError(f"p_grid must hold distinct proportions, got {list(p_grid)}")
    sets = {p: pop.sample_with_proportion(params.n_train, p, stream=i) for i, p in enumerate(grid)}
    start = {} if not params.base_steps else {
        "init": train_base_model(pop, params, seed=seed, device=device, progress=progress)}
    jobs = [{"images": ds.images, "model": params.model_config(), "train": params.train_config(seed),
             "provenance": {"experiment": "property inference", "p": p, "colour_noise": pop.noise.sd}, **start}
            for p, ds in sets.items()]
    models = train_models(jobs, device=device, progress=progress, desc="sharer models")
    return {p: SharerModel(p, sets[p], m) for (p, m) in zip(grid, models)}


def sample_sharers(sharers: dict, n: int, *, steps: int, seed: int, eta: float = 0.0) -> dict[float, torch.Tensor]:
    """``n`` samples of each sharer's model (p -> images), by DDIM with ``steps`` steps and noise
    level ``eta``; the sharer at position i of the grid draws its noise from seed + i."""
    return {p: sh.model.sample(n, steps=steps, eta=eta, generator=make_generator(seed + i))
            for i, (p, sh) in enumerate(sharers.items())}


def sample_mixtures(sharers: dict, n: int, *, n_components: int, seed: int) -> dict[float, torch.Tensor]:
    """``n`` samples of a Gaussian mixture (:class:`mialib.diffusion.mixture.GaussianMixtureGenerator`)
    fitted to each sharer's training images: another generator on the same data (p -> images)."""
    return {p: GaussianMixtureGenerator.fit(sh.training.images, n_components, seed=seed).sample(n, seed=seed)
            for p, sh in sharers.items()}


@dataclass
class ReceiverReadings:
    """What the receiver reads from one generator's samples: the auxiliary reader's labels and
    the zero-shot colour rule's labels, one per sample."""

    reader_labels: np.ndarray
    rule_labels: np.ndarray

    @classmethod
    def read(cls, samples: torch.Tensor, reader: PropertyReader) -> "ReceiverReadings":
        return cls(reader.predict(samples), colour_rule(samples))

    def estimates(self, params: PropertyParams, reader_rates: ReaderRates) -> dict[str, list[Estimate]]:
        """Per estimator, the receiver's ``n_queries`` estimates: the reader's naive p^, the
        reader corrected with its measured rates (eq. 15), and the zero-shot rule's naive p^."""
        q = dict(n_queries=params.n_queries, n_per_query=params.n_per_query, delta=params.delta)
        return {"classifier (naive)": query_estimates(self.reader_labels, **q),
                "classifier (corrected)": query_estimates(self.reader_labels, rates=reader_rates, **q),
                "zero-shot colour rule": query_estimates(self.rule_labels, **q)}

    def interval_targets(self, pop: ColouredPopulation) -> dict[str, float]:
        """What each estimator's interval bounds, for this generator (the names of :meth:`estimates`).
        Hoeffding's bound on a naive estimate is about E f, the share of this generator's samples the
        labeller calls 1 (read here on all of them, every query's samples pooled); the corrected one
        is about the generator's own proportion (:meth:`generator_proportion`), given the reader's
        rates hold on generated images. Neither is about the training proportion p unless the
        generator reproduces it."""
        return {"classifier (naive)": float(self.reader_labels.mean()),
                "classifier (corrected)": self.generator_proportion(pop),
                "zero-shot colour rule": float(self.rule_labels.mean())}

    def generator_proportion(self, pop: ColouredPopulation) -> float:
        """The generator's own proportion of property 1, as an oracle that knows the colour noise
        reads it: the colour rule on every sample, corrected with the rule's exact rates."""
        return corrected_estimate(self.rule_labels, ReaderRates.exact(*colour_rule_rates(pop.noise))).value


def _by_estimator(readings: dict, per_reading, prefix: str, only) -> dict:
    """Estimator name (prefixed) -> p -> ``per_reading(reading)[name]`` over ``readings`` (p ->
    :class:`ReceiverReadings`), every estimator or those named in ``only`` (unknown names refused)."""
    out: dict = {}
    for p, r in readings.items():
        values = per_reading(r)
        for name, v in values.items():
            if only is None or name in only:
                out.setdefault(prefix + name, {})[p] = v
    if only is not None and len(out) != len(set(only)):
        raise ValueError(f"unknown estimator(s) in {list(only)}; known: {list(values)}")
    return out


def estimates_by_estimator(readings: dict, params: PropertyParams, reader_rates: ReaderRates, *,
                           prefix: str = "", only=None) -> dict[str, dict[float, list[Estimate]]]:
    """Estimator name -> p -> the receiver's estimates (:meth:`ReceiverReadings.estimates`) from
    ``readings`` (p -> :class:`ReceiverReadings` of one generator per p), every estimator or those
    named in ``only``, each name prefixed with ``prefix`` (e.g. "Gaussian mixture, ")."""
    return _by_estimator(readings, lambda r: r.estimates(params, reader_rates), prefix, only)


def interval_targets(readings: dict, pop: ColouredPopulation, *, prefix: str = "", only=None) -> dict:
    """Estimator name -> p -> what its intervals bound (:meth:`ReceiverReadings.interval_targets`),
    named as :func:`estimates_by_estimator` names them."""
    return _by_estimator(readings, lambda r: r.interval_targets(pop), prefix, only)


def generator_bias(own_proportions: dict) -> dict[str, float]:
    """Generator -> mean |own proportion - p| over the grid (``own_proportions``: generator -> p ->
    the proportion of property 1 in its samples, :meth:`ReceiverReadings.generator_proportion`):
    the error that comes from the generator itself, whatever the receiver does."""
    return {name: float(np.mean([abs(v - p) for p, v in by_p.items()])) for name, by_p in own_proportions.items()}


def ink_comparison(samples: dict, sharers: dict) -> dict[float, dict[str, float]]:
    """Where a sharer's bias comes from (notebook 05): for each p, the spread of the inks about
    their colour (:func:`mialib.data.coloured.ink_spread`) and the share the colour rule calls
    property 1, in the sharer's samples (``samples``: p -> images) and in its training images
    (``sharers``: p -> :class:`SharerModel`)."""
    return {p: {"ink spread, samples": ink_spread(x), "ink spread, training": ink_spread(sharers[p].training.images),
                "rule share, samples": float(colour_rule(x).mean()),
                "rule share, training": float(colour_rule(sharers[p].training.images).mean())}
            for p, x in samples.items()}


def error_curves(labels, p_true: float, sizes, rates: ReaderRates, *, delta: float, seed: int = 0):
    """The error-against-N figure's data (notebook 05): (errors, bounds). ``errors``: "classifier
    (naive)" and "classifier (corrected)" -> N -> mean |estimate - p_true| (:func:`error_by_sample_size`)
    for the N of ``sizes`` that ``labels`` can supply; ``bounds``: Hoeffding's eps(N, delta)
    (eq. 12) and the corrected estimator's eps / (TPR - FPR) (eq. 15) at the same N."""
    sizes = [check_int(n, "each sample size", low=1) for n in sizes]
    sizes = [n for n in sizes if n <= len(labels)]
    if not sizes:
        raise ValueError(f"no sample size in the list is at most the {len(labels)} labels available")
    errors = {"classifier (naive)": error_by_sample_size(labels, p_true, sizes, delta=delta, seed=seed),
              "classifier (corrected)": error_by_sample_size(labels, p_true, sizes, rates, delta=delta, seed=seed)}
    eps = {n: hoeffding_epsilon(n, delta) for n in sizes}
    bounds = {f"Hoeffding eps(N, {delta})": eps,
              "eps / (TPR - FPR)": {n: e / (rates.tpr - rates.fpr) for n, e in eps.items()}}
    return errors, bounds


def error_by_sample_size(labels, p_true: float, sizes, rates: ReaderRates | None = None, *,
                         n_repeats: int = 50, delta: float = 0.05, seed: int = 0) -> dict[int, float]:
    """Mean |estimate - p_true| of estimates from ``N`` labels drawn without replacement from
    ``labels`` (naive, or corrected with ``rates``), for each N in ``sizes``."""
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    out = {}
    for n in sizes:
        n = check_int(n, "each sample size", low=1, high=len(labels))
        chunks = [labels[rng.choice(len(labels), n, replace=False)] for _ in range(n_repeats)]
        estimates = [naive_estimate(c, delta) if rates is None else corrected_estimate(c, rates, delta) for c in chunks]
        out[n] = mean_absolute_error({p_true: estimates}, {p_true: p_true})
    return out


def estimate_metrics(estimates: dict, targets: dict, truth: dict) -> dict[str, dict[str, float]]:
    """Per estimator (``estimates``: name -> p -> estimates, as :func:`estimates_by_estimator`
    gives; ``targets``: name -> p -> what its intervals bound, :func:`interval_targets`): mean
    |error| against ``truth`` (p -> true proportion), coverage of the truth and of the target, and
    the mean interval width (:mod:`mialib.evaluation.estimates`)."""
    return {name: {"mae": mean_absolute_error(es, truth), "coverage": coverage(es, truth),
                   "coverage_of_target": coverage(es, targets[name]), "width": mean_interval_width(es)}
            for name, es in estimates.items()}


def repetition(p_grid, params: PropertyParams, seed: int, *, device: str = "auto",
               progress: bool = True) -> dict[str, dict[str, float]]:
    """One independent repetition of notebook 05's experiment on the diffusion sharers: the
    population's split and inks, the receiver's reader (its own auxiliary draw and held-out half),
    every sharer's training set and training, and the samples all come from ``seed``. Returns
    :func:`estimate_metrics` of the receiver's three estimators."""
    pop = coloured_population(colour_noise=params.colour_noise, seed=seed)
    reader = receiver_reader(pop, params, seed=seed)
    sharers = train_sharer_models(pop, p_grid, params, seed=seed, device=device, progress=progress)
    samples = sample_sharers(sharers, params.n_samples, steps=params.sample_steps, eta=params.sample_eta, seed=seed)
    readings = {p: ReceiverReadings.read(x, reader) for p, x in samples.items()}
    return estimate_metrics(estimates_by_estimator(readings, params, reader.rates), interval_targets(readings, pop),
                            {p: p for p in p_grid})


def repetitions_table(p_grid, params: PropertyParams, seeds, *, known: dict | None = None, device: str = "auto",
                      progress: bool = True):
    """:func:`repetition` for each of ``seeds`` (the seeds in ``known``, seed -> its
    :func:`estimate_metrics`, are taken from there and not run again): a DataFrame with one row per
    seed and estimator (seed, estimator, mae, coverage, coverage_of_target, width, n_intervals)."""
    import pandas as pd

    seeds = [check_int(s, "each seed", low=0) for s in seeds]
    if len(set(seeds)) != len(seeds) or not seeds:
        raise ValueError(f"seeds must be distinct, and at least one, got {seeds}")
    known = known or {}
    n_intervals = len(p_grid) * params.n_queries
    rows = []
    for seed in seeds:
        metrics = known[seed] if seed in known else repetition(p_grid, params, seed, device=device, progress=progress)
        rows += [{"seed": seed, "estimator": name, **m, "n_intervals": n_intervals} for name, m in metrics.items()]
    return pd.DataFrame(rows)
