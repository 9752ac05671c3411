"""What the two sharing experiments (property inference, notebook 05; fairness poisoning, notebook 06)
have in common: a sharer trains a small diffusion model on coloured 8x8 digits and hands it over.

:class:`SharerParams` holds the settings of that model and its training, written once; the
experiments' parameter classes extend it with their own fields. In the quick profile every
sharer of both notebooks fine-tunes one public base model (:func:`train_base_model`): 05's
unconditional sharers and 06's class-conditional ones start from the same cached weights.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import ClassVar

from ..core.checks import check_float, check_int
from ..data.coloured import ColouredPopulation
from ..evaluation.sample_quality import SampleQuality
from ..core.config import Config
from ..diffusion.models import ModelConfig
from ..diffusion.trained import TrainedModel, train_model
from ..diffusion.training import TrainConfig


@dataclass(frozen=True)
class SharerParams(Config):
    """The shared model: its UNet widths, training and sampling; defaults sized for a 2-core CPU."""

    colour_noise: float = 0.2          # sd of the ink mix around its mean (mialib.data.coloured)
    n_train: int = 256                 # images in the sharer's training set
    block_out_channels: tuple = (32,)  # the sharer's UNet widths (one level: 8x8 images need no more)
    mid_attention: bool = False        # self-attention in the UNet's middle block (off: same quality, ~25% faster; docs/cost.md)
    train_steps: int = 800             # the sharer's training steps per model
    base_steps: int = 4800             # steps of the public base model every sharer fine-tunes (0: each trains from scratch)
    batch_size: int = 64               # images per training step
    lr: float = 0.004                  # AdamW learning rate
    ema_decay: float = 0.99            # EMA of the weights (the shared model)
    snr_gamma: float = 5.0             # Min-SNR-5 loss weighting (mialib.diffusion.objectives; 0: uniform)
    sample_steps: int = 10             # DDIM steps per generated image
    sample_eta: float = 1.0            # DDIM noise level: 1 = DDPM's ancestral sampling (0: deterministic)

    NUM_CLASSES: ClassVar[int | None] = None        # class-conditional sharers set the number of classes
    LABEL_DROPOUT_FIELD: ClassVar[str | None] = None  # ... and the field holding their label dropout

    def validate(self) -> None:
        for name in ("n_train", "train_steps", "batch_size", "sample_steps"):
            check_int(getattr(self, name), name, low=1)
        check_int(self.base_steps, "base_steps", low=0)
        check_float(self.sample_eta, "sample_eta", low=0.0, high=1.0)
        check_float(self.snr_gamma, "snr_gamma", low=0.0)

    def model_config(self) -> ModelConfig:
        """The sharer's UNet on 8x8 RGB digits (class-conditional when ``NUM_CLASSES`` is set)."""
        return ModelConfig(image_size=8, channels=3, block_out_channels=self.block_out_channels,
                           norm_num_groups=min(8, min(self.block_out_channels)), num_classes=self.NUM_CLASSES,
                           mid_attention=self.mid_attention)

    def train_config(self, seed: int) -> TrainConfig:
        """The sharer's training with ``seed`` (label dropout for class-conditional sharers)."""
        extra = {"label_dropout": getattr(self, self.LABEL_DROPOUT_FIELD)} if self.LABEL_DROPOUT_FIELD else {}
        return TrainConfig(steps=self.train_steps, batch_size=self.batch_size, lr=self.lr,
                           ema_decay=self.ema_decay, snr_gamma=self.snr_gamma, seed=seed, **extra)


def train_base_model(pop: ColouredPopulation, params: SharerParams, *, seed: int, device: str = "auto",
                     progress: bool = True) -> TrainedModel:
    """The public base model the sharers fine-tune: the sharers' UNet, unconditional, trained for
    ``params.base_steps`` on the receiver's pool of digits, every digit twice, once in each colour
    (so the base carries no proportion, and no dependence between ink and digit, of its own), with
    the sharers' other training settings and no label dropout (cached). It depends only on the
    population and the fields of :class:`SharerParams` (not on ``n_train`` or ``train_steps``), so
    notebooks 05 and 06 share one entry; a class-conditional sharer starts from it with its class
    embedding at zero (:func:`mialib.diffusion.trained.load_base_weights`).

    Measured on 05's sharers: 800 steps from scratch reach about 0.53 of real digits' precision,
    800 steps from a 4,800-step base about 0.86, 3,200 from scratch about 0.82 (the bar is 0.8;
    ``benchmarks/sharer_quality.py``, docs/cost.md); on 06's, 800 steps from the same base about
    0.84, 400 steps about 0.80-0.82 (docs/cost.md)."""
    check_int(params.base_steps, "base_steps", low=1)
    public = pop.auxiliary(both_inks=True)
    train = replace(params.train_config(seed), steps=params.base_steps, label_dropout=0.0)
    return train_model(public.images, replace(params.model_config(), num_classes=None), train,
                       device=device, progress=progress,
                       provenance={"experiment": "sharing", "role": "public base model", "colour_noise": pop.noise.sd})


def digit_quality(pop: ColouredPopulation) -> SampleQuality:
    """The sample-quality check of a shared model (:mod:`mialib.evaluation.sample_quality`): the
    real manifold of the sharer's pool of digits, its reference precision on the receiver's pool
    (real digits the sharer never had)."""
    return SampleQuality.fit(pop.grey.images[pop.sharer_pool], pop.grey.images[pop.receiver_pool])


def quality_by_generator(samples: dict, quality: SampleQuality) -> dict:
    """Each generator's (key -> images) :meth:`SampleQuality.check`."""
    return {key: quality.check(images) for key, images in samples.items()}


def quality_table(checks: dict, quality: SampleQuality):
    """The precision of each generator's samples (``checks``: generator -> key -> check, as
    :func:`quality_by_generator` gives) beside the real digits' and the bar: a DataFrame, one row
    per generator."""
    import pandas as pd

    table = pd.DataFrame({g: {f"p = {key}": c["precision"] for key, c in by_key.items()} for g, by_key in checks.items()}).T
    return table.assign(**{"real digits": quality.real_precision, "bar": quality.bar_precision})
