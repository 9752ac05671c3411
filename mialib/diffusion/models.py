"""Factories for the target diffusion models: a diffusers UNet2DModel and the DDPM noise
schedule of Ho et al. (2020) that every paper here uses (T = 1000, linear betas 1e-4..0.02).

Nothing here is specific to membership inference: class-conditional models (for the
fairness and property-inference notebooks) only set ``num_classes``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import torch

from ..core.checks import check_field_types


@dataclass(frozen=True)
class ModelConfig:
    """Size of the denoiser. ``attention`` says, per resolution level, whether that level
    uses self-attention blocks (diffusers' AttnDownBlock2D / AttnUpBlock2D); ``mid_attention``
    whether the middle block between the down and up paths has one (diffusers' default: yes)."""

    image_size: int = 8                   # height = width of the images
    channels: int = 1                     # image channels (1 grey, 3 RGB)
    block_out_channels: tuple[int, ...] = (32, 64)  # feature width per resolution level
    layers_per_block: int = 1             # ResNet blocks per level
    attention: tuple[bool, ...] = field(default=())  # per level; () = no attention anywhere
    norm_num_groups: int = 8              # GroupNorm groups (must divide every width)
    num_classes: int | None = None        # class-conditional when set; label num_classes = "no label"
    mid_attention: bool = True            # self-attention in the middle block (UNet2DModel's add_attention)

    def __post_init__(self):
        check_field_types(self)
        if not isinstance(self.block_out_channels, (list, tuple)) or not all(
                isinstance(c, int) and not isinstance(c, bool) and c > 0 for c in self.block_out_channels):
            raise ValueError("ModelConfig.block_out_channels must be a list of positive integers, got "
                             f"{self.block_out_channels!r}")
        if not isinstance(self.attention, (list, tuple)):
            raise ValueError(f"ModelConfig.attention must be a list of booleans, got {self.attention!r}")
        if self.image_size < 1 or self.channels < 1:
            raise ValueError(f"image_size and channels must be positive, got {self.image_size}, {self.channels}")
        bands = tuple(int(c) for c in self.block_out_channels)
        object.__setattr__(self, "block_out_channels", bands)
        attn = tuple(bool(a) for a in self.attention) or (False,) * len(bands)
        object.__setattr__(self, "attention", attn)
        if not bands or len(attn) != len(bands):
            raise ValueError(f"attention must have one entry per level ({len(bands)}), got {attn}")
        if any(c % self.norm_num_groups for c in bands):
            raise ValueError(f"every width in {bands} must be divisible by norm_num_groups="
                             f"{self.norm_num_groups}")
        if self.image_size % 2 ** (len(bands) - 1):
            raise ValueError(f"image_size {self.image_size} must be divisible by "
                             f"2**(levels-1) = {2 ** (len(bands) - 1)}")

    def to_dict(self) -> dict:
        return asdict(self)


def build_unet(cfg: ModelConfig) -> UNet2DModel:
    """A diffusers UNet2DModel predicting the noise eps (DDPM parameterization)."""
    from diffusers import UNet2DModel  # ~1.5 s to import: paid only by code that builds a model

    down = tuple("AttnDownBlock2D" if a else "DownBlock2D" for a in cfg.attention)
    up = tuple("AttnUpBlock2D" if a else "UpBlock2D" for a in reversed(cfg.attention))
    return UNet2DModel(
        sample_size=cfg.image_size,
        in_channels=cfg.channels,
        out_channels=cfg.channels,
        block_out_channels=cfg.block_out_channels,
        layers_per_block=cfg.layers_per_block,
        down_block_types=down,
        up_block_types=up,
        norm_num_groups=cfg.norm_num_groups,
        attention_head_dim=8,
        add_attention=cfg.mid_attention,
        # one extra embedding, index num_classes, is the null label of classifier-free guidance
        num_class_embeds=None if cfg.num_classes is None else cfg.num_classes + 1,
    )


def build_scheduler(num_train_timesteps: int = 1000, beta_start: float = 1e-4,
                    beta_end: float = 0.02) -> DDPMScheduler:
    """The linear-beta DDPM schedule: beta_t linear from ``beta_start`` to ``beta_end``,
    abar_t = prod_{s<=t} (1 - beta_s) (Ho et al. 2020, eq. 4)."""
    from diffusers import DDPMScheduler

    return DDPMScheduler(num_train_timesteps=num_train_timesteps, beta_schedule="linear",
                         beta_start=beta_start, beta_end=beta_end, prediction_type="epsilon",
                         clip_sample=True)


def count_parameters(model: torch.nn.Module) -> int:
    """Number of parameters (trainable or frozen, e.g. an EMA copy)."""
    return sum(p.numel() for p in model.parameters())


def resolve_device(device: str = "auto") -> torch.device:
    """"auto" -> CUDA if available, else Apple MPS, else CPU; otherwise ``torch.device(device)``."""
    if device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError("device='cuda' was asked for but no CUDA GPU is visible; use 'auto' or 'cpu'")
    return dev
