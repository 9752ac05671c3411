"""The sharers' model and training settings are written once (mialib.experiments.sharing) and give
exactly the configs, hence the cache keys, each experiment trained with before."""

import pytest

from mialib.diffusion.models import ModelConfig
from mialib.diffusion.training import TrainConfig
from mialib.experiments.fairness import FairnessParams
from mialib.experiments.property import PropertyParams


def test_property_sharers_are_unconditional_models():
    p = PropertyParams(block_out_channels=(16,), train_steps=7, lr=0.01, ema_decay=0.9)
    assert p.model_config() == ModelConfig(image_size=8, channels=3, block_out_channels=(16,), norm_num_groups=8,
                                           mid_attention=False)
    assert PropertyParams(mid_attention=True).model_config().mid_attention
    assert p.train_config(3) == TrainConfig(steps=7, batch_size=64, lr=0.01, ema_decay=0.9, snr_gamma=5.0, seed=3)
    assert PropertyParams(snr_gamma=0.0).train_config(3).snr_gamma == 0.0 and p.sample_eta == 1.0
    assert p.train_config(3).label_dropout == 0.0


def test_fairness_sharers_are_class_conditional_with_label_dropout():
    f = FairnessParams(label_dropout=0.2, train_steps=5)
    assert f.model_config() == ModelConfig(image_size=8, channels=3, block_out_channels=(32,), norm_num_groups=8,
                                           num_classes=2, mid_attention=False)
    assert f.train_config(1) == TrainConfig(steps=5, batch_size=64, lr=0.004, ema_decay=0.99, label_dropout=0.2,
                                            snr_gamma=5.0, seed=1)
    assert FairnessParams().n_train == 400 and PropertyParams().n_train == 256


@pytest.mark.parametrize("cls", [PropertyParams, FairnessParams])
@pytest.mark.parametrize("field", ["n_train", "train_steps", "batch_size", "sample_steps"])
def test_shared_fields_are_checked_in_both(cls, field):
    with pytest.raises(ValueError, match=field):
        cls(**{field: 0})


@pytest.mark.parametrize("cls", [PropertyParams, FairnessParams])
@pytest.mark.parametrize("field, bad", [("sample_eta", 1.5), ("sample_eta", -0.1), ("snr_gamma", -1.0)])
def test_sampling_noise_and_loss_weighting_are_checked_in_both(cls, field, bad):
    with pytest.raises(ValueError, match=field):
        cls(**{field: bad})


def test_digit_quality_sets_samples_against_the_sharers_pool_and_the_receivers_digits():
    import torch

    from mialib.data.coloured import coloured_population
    from mialib.experiments.sharing import digit_quality, quality_by_generator, quality_table

    pop = coloured_population(seed=0)
    quality = digit_quality(pop)
    assert len(quality.real) == len(pop.sharer_pool) and quality.n_held_out == len(pop.receiver_pool)
    assert 0.8 < quality.real_precision < 1.0 and quality.bar_precision == pytest.approx(0.8 * quality.real_precision)
    real = pop.draw(pop.receiver_pool[:100], [0, 1] * 50, stream=5).images
    static = torch.rand(100, 3, 8, 8, generator=torch.Generator().manual_seed(0)) * 2 - 1
    checks = quality_by_generator({0.1: real, 0.9: static}, quality)
    assert checks[0.1]["passes"] and not checks[0.9]["passes"]
    table = quality_table({"diffusion": checks}, quality)
    assert list(table.columns) == ["p = 0.1", "p = 0.9", "real digits", "bar"]
    assert table.loc["diffusion", "p = 0.9"] == checks[0.9]["precision"]
