"""Property inference against a shared diffusion model, end to end (notebook 05): the sharer
trains one model per property proportion p on coloured digits; the receiver samples from each,
reads the property of every sample and estimates p (:mod:`mialib.attacks.property`).

    params = PropertyParams.from_overrides(setup)
    pop = coloured_population(colour_noise=params.colour_noise, seed=seed)
    sharer = train_sharer_models(pop, p_grid, params, seed=seed)      # p -> SharerModel
    samples = sharer[0.3].model.sample(params.n_samples, ...)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..attacks.property import (Estimate, PropertyReader, ReaderRates, corrected_estimate, naive_estimate,
                                query_estimates)
from ..core.checks import check_float, check_int
from ..core.config import Config
from ..data.colored import ColouredPopulation, colour_rule, colour_rule_rates
from ..data.images import ImageSet
from ..diffusion.models import ModelConfig
from ..diffusion.trained import TrainedModel, train_models
from ..diffusion.training import TrainConfig
from ..evaluation.estimates import mean_absolute_error


@dataclass(frozen=True)
class PropertyParams(Config):
    """Notebook 05's settings; the defaults are the quick profile's (2-core CPU, minutes)."""

    colour_noise: float = 0.2        # sd of the ink mix around its mean (mialib.data.colored)
    n_train: int = 256               # images in each sharer's training set
    block_out_channels: tuple = (32,)  # the sharer's UNet widths (one level: 8x8 images need no more)
    train_steps: int = 800           # the sharer's training steps per model
    batch_size: int = 64
    lr: float = 0.004
    ema_decay: float = 0.99
    sample_steps: int = 10           # DDIM steps per generated image
    n_queries: int = 10              # the receiver's queries per model (the paper's 10)
    n_per_query: int = 200           # samples per query (the paper's N = 200)
    delta: float = 0.05              # the intervals hold with probability >= 1 - delta
    held_out: float = 0.5            # share of the auxiliary data that measures the reader's rates

    def validate(self) -> None:
        check_float(self.held_out, "held_out", low=0.0, high=1.0, low_open=True, high_open=True)
        check_float(self.delta, "delta", low=0.0, high=1.0, low_open=True, high_open=True)
        for name in ("n_train", "train_steps", "batch_size", "sample_steps", "n_queries", "n_per_query"):
            check_int(getattr(self, name), name, low=1)

    @property
    def n_samples(self) -> int:
        return self.n_queries * self.n_per_query

    def model_config(self) -> ModelConfig:
        return ModelConfig(image_size=8, channels=3, block_out_channels=self.block_out_channels,
                           norm_num_groups=min(8, min(self.block_out_channels)))

    def train_config(self, seed: int) -> TrainConfig:
        return TrainConfig(steps=self.train_steps, batch_size=self.batch_size, lr=self.lr,
                           ema_decay=self.ema_decay, seed=seed)


@dataclass
class SharerModel:
    """One sharer: the proportion it trained with, its training set and its model."""

    p: float
    training: ImageSet
    model: TrainedModel


def train_sharer_models(pop: ColouredPopulation, p_grid, params: PropertyParams, *, seed: int,
                        device: str = "auto", progress: bool = True) -> dict[float, SharerModel]:
    """One diffusion model per proportion in ``p_grid``, each on its own training set of
    ``params.n_train`` sharer digits with exactly that proportion of property 1 (cached)."""
    grid = [check_float(p, "each p in p_grid", low=0.0, high=1.0) for p in p_grid]
    if len(set(grid)) != len(grid) or not grid:
        raise ValueError(f"p_grid must hold distinct proportions, got {list(p_grid)}")
    sets = {p: pop.sample_with_proportion(params.n_train, p, stream=i) for i, p in enumerate(grid)}
    jobs = [{"images": ds.images, "model": params.model_config(), "train": params.train_config(seed),
             "provenance": {"experiment": "property inference", "p": p, "colour_noise": pop.noise.sd}}
            for p, ds in sets.items()]
    models = train_models(jobs, device=device, progress=progress, desc="sharer models")
    return {p: SharerModel(p, sets[p], m) for (p, m) in zip(grid, models)}


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

    def generator_proportion(self, pop: ColouredPopulation) -> float:
        """The generator's own proportion of property 1, as an oracle that knows the colour noise
        reads it: the colour rule on every sample, corrected with the rule's exact rates."""
        return corrected_estimate(self.rule_labels, ReaderRates.exact(*colour_rule_rates(pop.noise))).value


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


@dataclass
class GaussianMixtureGenerator:
    """A non-diffusion generator fitted to the same training images, as the paper compares
    diffusion models with GANs and VAEs: a Gaussian mixture over the pixels (scikit-learn,
    full covariances regularised by ``reg_covar``), whose samples are clipped to [-1, 1]."""

    mixture: object
    shape: tuple

    @classmethod
    def fit(cls, images: torch.Tensor, n_components: int = 10, reg_covar: float = 1e-2,
            seed: int = 0) -> "GaussianMixtureGenerator":
        from sklearn.mixture import GaussianMixture

        check_int(n_components, "n_components", low=1, high=len(images))
        x = images.detach().cpu().double().flatten(1).numpy()
        gm = GaussianMixture(n_components=n_components, covariance_type="full", reg_covar=reg_covar,
                             random_state=seed, max_iter=200).fit(x)
        return cls(gm, tuple(images.shape[1:]))

    def sample(self, n: int, seed: int = 0) -> torch.Tensor:
        self.mixture.random_state = seed
        x, _ = self.mixture.sample(check_int(n, "n", low=1))
        x = x[np.random.default_rng(seed).permutation(len(x))]  # sklearn returns them grouped by component
        return torch.from_numpy(x).float().view(-1, *self.shape).clamp(-1, 1)
