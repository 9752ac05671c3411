"""The parts of a tiny Stable Diffusion model, each built from a seed without touching the
global random state: a ``CLIPTextModel``, an ``AutoencoderKL`` and a latent
``UNet2DConditionModel`` reading the text encoder's hidden states, sized by
:class:`TextToImageConfig`."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..core.config import Config


@dataclass(frozen=True)
class TextToImageConfig(Config):
    """Sizes and training of the tiny pipeline; defaults sized for a 2-core CPU."""

    image_size: int = 8
    vae_channels: tuple = (16, 32)     # the VAE halves the image once per extra level: 8x8 -> 4x4 latents
    latent_channels: int = 4
    vae_steps: int = 800
    vae_lr: float = 0.002
    vae_kl_weight: float = 1e-4
    text_dim: int = 32
    text_layers: int = 2
    max_tokens: int = 8                # caption tokens, start and end included
    unet_channels: tuple = (32, 64)
    unet_steps: int = 1500
    batch_size: int = 64
    lr: float = 0.002
    ema_decay: float = 0.995
    caption_dropout: float = 0.1

    def validate(self) -> None:
        for name in ("vae_channels", "unet_channels"):
            widths = getattr(self, name)
            if not isinstance(widths, (list, tuple)) or not widths or not all(
                    isinstance(w, int) and not isinstance(w, bool) and w > 0 for w in widths):
                raise ValueError(f"TextToImageConfig.{name} must be a non-empty list of positive widths, got {widths!r}")
        if len(self.unet_channels) != 2:
            raise ValueError(f"TextToImageConfig.unet_channels must have two widths (one cross-attention level, one "
                             f"plain level), got {list(self.unet_channels)}")
        if self.image_size % 2 ** (len(self.vae_channels) - 1):
            raise ValueError(f"image_size {self.image_size} must be divisible by 2**(len(vae_channels) - 1) = "
                             f"{2 ** (len(self.vae_channels) - 1)}")


def _seeded(seed: int, build):
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return build()


def build_text_encoder(config: TextToImageConfig, vocab_size: int, seed: int = 0):
    """A randomly initialised ``CLIPTextModel`` (eval mode) over ``vocab_size`` tokens."""
    from transformers import CLIPTextConfig, CLIPTextModel

    return _seeded(seed, lambda: CLIPTextModel(CLIPTextConfig(
        vocab_size=vocab_size, hidden_size=config.text_dim, intermediate_size=2 * config.text_dim,
        num_hidden_layers=config.text_layers, num_attention_heads=2, max_position_embeddings=config.max_tokens,
        projection_dim=config.text_dim, bos_token_id=0, eos_token_id=1, pad_token_id=1)).eval())


def build_vae(config: TextToImageConfig, seed: int = 0):
    """An ``AutoencoderKL`` for RGB images of ``image_size``, one halving per extra level."""
    from diffusers import AutoencoderKL

    n = len(config.vae_channels)
    return _seeded(seed, lambda: AutoencoderKL(
        in_channels=3, out_channels=3, down_block_types=("DownEncoderBlock2D",) * n,
        up_block_types=("UpDecoderBlock2D",) * n, block_out_channels=tuple(config.vae_channels),
        layers_per_block=1, latent_channels=config.latent_channels,
        norm_num_groups=min(8, min(config.vae_channels)), sample_size=config.image_size))


def build_latent_unet(config: TextToImageConfig, seed: int = 0):
    """A ``UNet2DConditionModel`` on the VAE's latents, cross-attending to the text states."""
    from diffusers import UNet2DConditionModel

    size = config.image_size // 2 ** (len(config.vae_channels) - 1)
    return _seeded(seed, lambda: UNet2DConditionModel(
        sample_size=size, in_channels=config.latent_channels, out_channels=config.latent_channels,
        block_out_channels=tuple(config.unet_channels), layers_per_block=1,
        down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"), up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"),
        cross_attention_dim=config.text_dim, attention_head_dim=8, norm_num_groups=min(8, min(config.unet_channels))))
