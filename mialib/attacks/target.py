"""DiffusionTarget: the single adapter every attack talks to.

It wraps a noise predictor eps_theta(x, t, cond) and its schedule abar_t, checks attack
inputs, batches them, runs the model in fp32 without gradients, counts model queries, and
exposes the deterministic DDIM map D(x, s -> u) of PAPERS.md (see :mod:`mialib.ddim`) as
one model query.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Callable, Iterator

import numpy as np
import torch

from ..ddim import ddim_step

EpsFn = Callable[..., torch.Tensor]


@dataclass
class QueryCount:
    """Model queries made inside a :meth:`DiffusionTarget.counting` block (one query = one
    image through the model once)."""

    total: int = 0
    n_samples: int = 0

    @property
    def per_sample(self) -> float:
        return self.total / self.n_samples if self.n_samples else float("nan")


class DiffusionTarget:
    """A noise-prediction diffusion model under attack.

    ``eps_fn(x, t, cond=None) -> eps`` with x: Tensor[B, C, H, W] and t: LongTensor[B];
    ``alphas_cumprod``: abar_t for t = 0..T-1. ``image_shape`` (C, H, W), when given, is
    checked on every input; ``batch_size`` bounds how many images go through at once.
    """

    def __init__(self, eps_fn: EpsFn, alphas_cumprod, *, image_shape: tuple[int, ...] | None = None,
                 batch_size: int = 256, device: str | torch.device | None = None,
                 conditional: bool = False):
        abar = torch.as_tensor(np.asarray(alphas_cumprod), dtype=torch.float64)
        if abar.ndim != 1 or len(abar) < 2 or not torch.all((abar > 0) & (abar < 1)):
            raise ValueError("alphas_cumprod must be a 1-D sequence of values in (0, 1)")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.eps_fn = eps_fn
        self.alphas_cumprod = abar
        self.image_shape = tuple(image_shape) if image_shape is not None else None
        self.batch_size = int(batch_size)
        self.device = torch.device(device) if device is not None else torch.device("cpu")
        self.conditional = conditional
        self.n_queries = 0
        self._counters: list[QueryCount] = []

    @classmethod
    def from_unet(cls, unet: torch.nn.Module, scheduler, *, batch_size: int = 256,
                  device: str | torch.device | None = None) -> "DiffusionTarget":
        """Wrap a diffusers UNet2DModel (cond = class labels, if it has a class embedding) or
        UNet2DConditionModel (cond = encoder hidden states) with its scheduler's abar_t.
        The UNet must predict epsilon and hold fp32 weights (SecMI's errors vanish in fp16)."""
        cfg = getattr(unet, "config", None)
        if cfg is None:
            raise ValueError("from_unet expects a diffusers UNet2DModel or UNet2DConditionModel")
        pred = getattr(scheduler.config, "prediction_type", "epsilon")
        if pred != "epsilon":
            raise ValueError(f"the attacks need an epsilon-predicting model; the scheduler says "
                             f"prediction_type={pred!r}")
        dtype = next(unet.parameters()).dtype
        if dtype != torch.float32:
            raise ValueError(f"the UNet holds {dtype} weights; attacks run in fp32 "
                             "(call unet.float() first)")
        device = device if device is not None else next(unet.parameters()).device
        unet = unet.to(device).eval()
        text_conditional = "cross_attention_dim" in cfg  # UNet2DConditionModel
        if text_conditional:
            def eps_fn(x, t, cond=None):
                if cond is None:
                    raise ValueError("this UNet2DConditionModel needs cond= (encoder hidden states)")
                return unet(x, t, encoder_hidden_states=cond).sample
        else:
            def eps_fn(x, t, cond=None):
                return unet(x, t, class_labels=cond).sample
        shape = (cfg.in_channels, cfg.sample_size, cfg.sample_size) \
            if isinstance(cfg.sample_size, int) else (cfg.in_channels, *cfg.sample_size)
        conditional = text_conditional or getattr(cfg, "num_class_embeds", None) is not None
        return cls(eps_fn, scheduler.alphas_cumprod, image_shape=shape, batch_size=batch_size,
                   device=device, conditional=conditional)

    @property
    def num_timesteps(self) -> int:
        return len(self.alphas_cumprod)

    # ----------------------------------------------------------------- input checks
    def check_images(self, x0, name: str = "x0") -> torch.Tensor:
        """Return ``x0`` as a float32 CPU tensor after checking it is a non-empty
        Tensor[N, C, H, W] of finite values in [-1, 1] with the model's image shape."""
        if isinstance(x0, np.ndarray):
            x0 = torch.from_numpy(x0)
        if not isinstance(x0, torch.Tensor):
            raise ValueError(f"{name} must be a torch.Tensor[N, C, H, W], got {type(x0).__name__}")
        if x0.ndim != 4:
            raise ValueError(f"{name} must have 4 dimensions [N, C, H, W], got shape {tuple(x0.shape)}")
        if len(x0) == 0:
            raise ValueError(f"{name} is empty: attacks need at least one image")
        if self.image_shape is not None and tuple(x0.shape[1:]) != self.image_shape:
            raise ValueError(f"{name} has images of shape {tuple(x0.shape[1:])}, the model expects "
                             f"{self.image_shape}")
        x0 = x0.detach().to("cpu", torch.float32)
        if not torch.isfinite(x0).all():
            raise ValueError(f"{name} contains NaN or infinite values")
        lo, hi = x0.min().item(), x0.max().item()
        if lo < -1.0 - 1e-4 or hi > 1.0 + 1e-4:
            raise ValueError(f"{name} must be scaled to [-1, 1], got values in [{lo:.3g}, {hi:.3g}]"
                             " (images in [0, 1] or [0, 255] need x * 2 - 1 or x / 127.5 - 1)")
        return x0

    def check_cond(self, cond, n: int):
        """Check ``cond`` has one entry per image (or is None for unconditional models)."""
        if cond is None:
            return None
        if not isinstance(cond, torch.Tensor):
            cond = torch.as_tensor(np.asarray(cond))
        if len(cond) != n:
            raise ValueError(f"cond has {len(cond)} entries for {n} images")
        return cond

    def check_timestep(self, t: int, name: str = "t", low: int = 0) -> int:
        """An integer timestep in [low, T-1]."""
        if int(t) != t or not low <= t < self.num_timesteps:
            raise ValueError(f"{name} must be an integer in [{low}, {self.num_timesteps - 1}], got {t}")
        return int(t)

    def batches(self, n: int) -> Iterator[slice]:
        """Slices of ``range(n)`` of at most ``batch_size``."""
        for start in range(0, n, self.batch_size):
            yield slice(start, min(n, start + self.batch_size))

    # ----------------------------------------------------------------- model access
    @contextlib.contextmanager
    def counting(self, n_samples: int = 0):
        """Count the queries made inside the block: ``with target.counting(len(x0)) as q:``."""
        q = QueryCount(n_samples=n_samples)
        self._counters.append(q)
        try:
            yield q
        finally:
            self._counters.remove(q)

    @torch.no_grad()
    def eps(self, x: torch.Tensor, t, cond=None) -> torch.Tensor:
        """eps_theta(x, t): one query per image. ``t`` is an int or a LongTensor[B]."""
        x = x.to(self.device, torch.float32)
        if not isinstance(t, torch.Tensor):
            t = torch.full((len(x),), int(t), dtype=torch.long)
        t = t.to(self.device, torch.long)
        if cond is not None:
            cond = cond.to(self.device)
        out = self.eps_fn(x, t, cond=cond) if (cond is not None or self.conditional) \
            else self.eps_fn(x, t)
        self.n_queries += len(x)
        for q in self._counters:
            q.total += len(x)
        if out.shape != x.shape:
            raise ValueError(f"eps_fn returned shape {tuple(out.shape)} for input {tuple(x.shape)}")
        return out.float()

    def abar(self, t: int) -> float:
        """abar_t as a Python float (fp64)."""
        return float(self.alphas_cumprod[t])

    def ddim(self, x: torch.Tensor, s: int, u: int, cond=None) -> tuple[torch.Tensor, torch.Tensor]:
        """The deterministic DDIM map D(x, s -> u) and the noise e = eps_theta(x, s) it used
        (one query). Adds noise when s < u (inversion), removes it when s > u."""
        e = self.eps(x, s, cond)
        return ddim_step(x.to(e.device, torch.float32), e, self.abar(s), self.abar(u)), e
