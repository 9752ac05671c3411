"""The UNet factory and its config: shapes, validation, the class-conditional null label."""

from __future__ import annotations

import pytest
import torch

from helpers import TINY as CFG
from helpers import tiny_unet as _unet
from mialib.diffusion.models import ModelConfig, count_parameters


@pytest.mark.parametrize("cfg", [
    CFG,
    ModelConfig(image_size=8, channels=3, block_out_channels=(8, 16), norm_num_groups=4),
    ModelConfig(image_size=8, channels=1, block_out_channels=(8, 16), norm_num_groups=4,
                attention=(False, True)),
    ModelConfig(image_size=16, channels=1, block_out_channels=(8, 8, 16), norm_num_groups=8),
])
def test_build_unet_output_shape(cfg):
    model = _unet(0, cfg)
    x = torch.randn(3, cfg.channels, cfg.image_size, cfg.image_size)
    with torch.no_grad():
        out = model(x, torch.tensor([0, 500, 999])).sample
    assert out.shape == x.shape
    assert torch.isfinite(out).all()
    assert count_parameters(model) == sum(p.numel() for p in model.parameters()) > 0
    assert list(model.config.block_out_channels) == list(cfg.block_out_channels)


def test_model_config_normalises_and_validates():
    cfg = ModelConfig(block_out_channels=[16, 32])
    assert cfg.block_out_channels == (16, 32) and cfg.attention == (False, False)
    assert cfg.to_dict()["block_out_channels"] == (16, 32)
    with pytest.raises(ValueError, match="norm_num_groups"):
        ModelConfig(block_out_channels=(8, 12), norm_num_groups=8)
    with pytest.raises(ValueError, match="norm_num_groups"):
        ModelConfig(block_out_channels=(32, 64), norm_num_groups=3)
    with pytest.raises(ValueError, match="attention"):
        ModelConfig(block_out_channels=(8, 16), attention=(True,))
    with pytest.raises(ValueError, match="attention"):
        ModelConfig(block_out_channels=(8, 16), attention=(True, False, True))
    with pytest.raises(ValueError, match="divisible by"):
        ModelConfig(image_size=6, block_out_channels=(8, 16, 32))
    with pytest.raises(ValueError, match="divisible by"):
        ModelConfig(image_size=12, block_out_channels=(8, 16, 32, 64))
    with pytest.raises(ValueError):
        ModelConfig(block_out_channels=())
    ModelConfig(image_size=12, block_out_channels=(8, 16, 32))  # 12 % 4 == 0


def test_mid_attention_is_on_by_default_and_can_be_left_out():
    with_attn = _unet(0, ModelConfig(image_size=8, channels=3, block_out_channels=(8,), norm_num_groups=4))
    without = _unet(0, ModelConfig(image_size=8, channels=3, block_out_channels=(8,), norm_num_groups=4,
                                   mid_attention=False))
    assert [a is not None for a in with_attn.mid_block.attentions] == [True]
    assert [a is not None for a in without.mid_block.attentions] == [False]
    assert count_parameters(without) < count_parameters(with_attn)
    x = torch.randn(2, 3, 8, 8)
    with torch.no_grad():
        assert without(x, torch.tensor([1, 900])).sample.shape == x.shape
    with pytest.raises(ValueError, match="mid_attention"):
        ModelConfig(mid_attention="no")


def test_class_conditional_unet_has_null_label():
    cfg = ModelConfig(image_size=8, channels=1, block_out_channels=(8, 16), norm_num_groups=4,
                      num_classes=3)
    model = _unet(0, cfg)
    assert model.class_embedding.num_embeddings == 4
    assert _unet(0, CFG).class_embedding is None
    x = torch.randn(2, 1, 8, 8)
    t = torch.tensor([10, 10])
    with torch.no_grad():
        a = model(x, t, class_labels=torch.tensor([0, 3])).sample
        b = model(x, t, class_labels=torch.tensor([1, 1])).sample
    assert a.shape == x.shape
    assert not torch.equal(a, b)  # the label changes the prediction
    with pytest.raises(IndexError):
        model(x, t, class_labels=torch.tensor([4, 0]))



@pytest.mark.parametrize("kw, match", [
    ({"image_size": "8"}, "ModelConfig.image_size must be an integer"),
    ({"image_size": 8.0}, "ModelConfig.image_size must be an integer"),
    ({"block_out_channels": 16}, "block_out_channels must be a list"),
    ({"block_out_channels": ["16"]}, "block_out_channels must be a list"),
    ({"layers_per_block": True}, "layers_per_block must be an integer"),
    ({"attention": "yes"}, "attention must be a list"),
    ({"image_size": 0}, "positive"),
])
def test_model_config_names_the_bad_field(kw, match):
    with pytest.raises(ValueError, match=match):
        ModelConfig(**kw)
