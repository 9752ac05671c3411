"""DiffusionTarget: the single, generic adapter every attack talks to (built from diffusers models by :mod:`.adapters`).

It wraps a noise predictor eps_theta(x, t, cond) and its schedule abar_t. For the attacks it

- checks their input on the image side (a non-empty float Tensor[N, C, H, W] of finite values
  in the model's pixel range and shape) and their conditioning against the model
  (:meth:`prepare`);
- maps images into the space the model denoises through an optional encoder hook (for a latent
  diffusion model: x0 -> scaling_factor * VAE latent mean), and checks the result's shape;
- batches, runs the model in fp32 without gradients, refuses non-finite predictions (naming
  the timestep), and counts model queries;
- exposes the deterministic DDIM map D(x, s -> u) of docs/papers.md eq. (2) (see
  :mod:`mialib.diffusion.ddim`) as one model query.
"""

from __future__ import annotations

import contextlib
import warnings
from dataclasses import dataclass
from typing import Callable, Iterator

import numpy as np
import torch

from .ddim import ddim_step

EpsFn = Callable[..., torch.Tensor]
Encoder = Callable[[torch.Tensor], torch.Tensor]


@dataclass
class QueryCount:
    """Model queries made inside a :meth:`DiffusionTarget.counting` block (one query = one
    image through the model once)."""

    total: int = 0
    n_samples: int = 0

    @property
    def per_sample(self) -> float:
        return self.total / self.n_samples if self.n_samples else float("nan")


@dataclass(frozen=True)
class CondSpec:
    """What conditioning a model takes: none; ``"class"`` labels in ``[0, num_embeds)``
    (a class-conditional UNet2DModel; index ``num_embeds - 1`` is the null label of
    classifier-free guidance when it was trained with one); or ``"embedding"`` tensors of
    shape (sequence, dim) per image (a UNet2DConditionModel's encoder hidden states)."""

    kind: str | None = None
    num_embeds: int | None = None
    dim: int | None = None
    embed: Callable | None = None   # prompts (list of str) -> embeddings, for text-conditional models

    def check(self, cond, n: int):
        """``cond`` as a tensor after checking it against this spec (ValueError otherwise); a
        list of prompts is embedded first when the spec has a text encoder."""
        if self.kind is None:
            if cond is not None:
                raise ValueError("this model is unconditional: cond= must be None (got "
                                 f"{type(cond).__name__})")
            return None
        if cond is None:
            what = "class labels" if self.kind == "class" else "encoder hidden states (prompt embeddings)"
            raise ValueError(f"this model is conditional: pass cond= with one entry per image ({what})")
        if self.kind == "embedding" and isinstance(cond, (list, tuple)) and cond and all(isinstance(c, str) for c in cond):
            if self.embed is None:
                raise ValueError("this target has no text encoder: pass prompt embeddings, not strings")
            if len(cond) != n:
                raise ValueError(f"{len(cond)} prompts for {n} images: give one prompt per image")
            cond = self.embed(list(cond))
        if isinstance(cond, str):
            raise ValueError("cond must hold one prompt per image (a list of strings), got a single string")
        if not isinstance(cond, torch.Tensor):
            cond = torch.as_tensor(np.asarray(cond))
        if cond.ndim == 0:
            raise ValueError(f"cond must have one entry per image ({n}), got a scalar")
        if len(cond) != n:
            raise ValueError(f"cond has {len(cond)} entries for {n} images")
        if self.kind == "class":
            if cond.ndim != 1 or cond.dtype in (torch.bool,) or cond.dtype.is_floating_point \
                    or cond.dtype.is_complex:
                raise ValueError(f"class labels must be a 1-D integer tensor, got dtype {cond.dtype} "
                                 f"and shape {tuple(cond.shape)}")
            lo, hi = int(cond.min()), int(cond.max())
            if lo < 0 or hi >= self.num_embeds:
                raise ValueError(f"class labels must lie in [0, {self.num_embeds - 1}], got "
                                 f"[{lo}, {hi}]")
            return cond.long()
        if cond.ndim != 3 or not cond.dtype.is_floating_point or cond.shape[-1] != self.dim:
            raise ValueError(f"encoder hidden states must be a float Tensor[N, sequence, {self.dim}], "
                             f"got dtype {cond.dtype} and shape {tuple(cond.shape)}")
        if not torch.isfinite(cond).all():
            raise ValueError("encoder hidden states contain NaN or infinite values")
        return cond.float()


class DiffusionTarget:
    """A noise-prediction diffusion model under attack.

    ``eps_fn(x, t, cond=None) -> eps`` with x: Tensor[B, C, H, W] and t: LongTensor[B];
    ``alphas_cumprod``: abar_t for t = 0..T-1. ``image_shape`` (C, H, W), when given, is
    checked on every input image; ``encoder`` maps a batch of images to what ``eps_fn``
    denoises (of shape ``sample_shape`` when given); ``cond`` says what conditioning the model
    takes (:class:`CondSpec`; None: unconditional); ``pixel_range`` is the range input images
    must lie in; ``batch_size`` bounds how many images go through at once.
    """

    def __init__(self, eps_fn: EpsFn, alphas_cumprod, *, image_shape: tuple[int, ...] | None = None,
                 batch_size: int = 256, device: str | torch.device | None = None,
                 cond: CondSpec | None = None, encoder: Encoder | None = None,
                 sample_shape: tuple[int, ...] | None = None,
                 pixel_range: tuple[float, float] = (-1.0, 1.0)):
        abar = torch.as_tensor(np.asarray(alphas_cumprod), dtype=torch.float64)
        if abar.ndim != 1 or len(abar) < 2 or not torch.all((abar > 0) & (abar < 1)):
            raise ValueError("alphas_cumprod must be a 1-D sequence of values in (0, 1)")
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be an integer >= 1, got {batch_size!r}")
        self.eps_fn = eps_fn
        self.alphas_cumprod = abar
        self.image_shape = tuple(image_shape) if image_shape is not None else None
        self.sample_shape = tuple(sample_shape) if sample_shape is not None else \
            (self.image_shape if encoder is None else None)
        self.batch_size = batch_size
        self.device = torch.device(device) if device is not None else torch.device("cpu")
        self.cond = cond or CondSpec()
        self.encoder = encoder
        self.pixel_range = (float(pixel_range[0]), float(pixel_range[1]))
        self.n_queries = 0
        self._counters: list[QueryCount] = []
        self._warned_unit_range = False

    @classmethod
    def from_unet(cls, unet: torch.nn.Module, scheduler, *, batch_size: int = 256,
                  device: str | torch.device | None = None, encoder: Encoder | None = None,
                  image_shape: tuple[int, ...] | None = None) -> "DiffusionTarget":
        """A diffusers UNet with its scheduler's abar_t as a target: :func:`.adapters.unet_target`."""
        from .adapters import unet_target

        return unet_target(unet, scheduler, batch_size=batch_size, device=device, encoder=encoder,
                           image_shape=image_shape)

    @property
    def num_timesteps(self) -> int:
        return len(self.alphas_cumprod)

    @property
    def conditional(self) -> bool:
        return self.cond.kind is not None

    # ----------------------------------------------------------------- input checks
    def check_images(self, x0, name: str = "x0") -> torch.Tensor:
        """Return ``x0`` as a float32 CPU tensor after checking it is a non-empty real
        Tensor[N, C, H, W] of finite values in the pixel range, of the model's image shape.
        Images that never go below 0 in a [-1, 1] model get a one-time warning: they are
        probably in [0, 1]."""
        if isinstance(x0, np.ndarray):
            x0 = torch.from_numpy(x0)
        if not isinstance(x0, torch.Tensor):
            raise ValueError(f"{name} must be a torch.Tensor[N, C, H, W], got {type(x0).__name__}")
        if x0.dtype == torch.bool or x0.dtype.is_complex:
            raise ValueError(f"{name} must hold real numbers, got dtype {x0.dtype}")
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
        p_lo, p_hi = self.pixel_range
        if lo < p_lo - 1e-4 or hi > p_hi + 1e-4:
            raise ValueError(f"{name} must be scaled to [{p_lo:g}, {p_hi:g}], got values in "
                             f"[{lo:.3g}, {hi:.3g}] (images in [0, 1] or [0, 255] need x * 2 - 1 "
                             "or x / 127.5 - 1)")
        if p_lo < 0 <= lo < hi and x0.numel() > 16 and not self._warned_unit_range:
            self._warned_unit_range = True
            warnings.warn(f"{name} never goes below 0: images in [0, 1] should be mapped to "
                          "[-1, 1] (x * 2 - 1) before attacking", UserWarning, stacklevel=3)
        return x0

    def prepare(self, x0, cond=None, name: str = "x0") -> tuple[torch.Tensor, torch.Tensor | None]:
        """Check ``x0`` and ``cond`` and map the images into the space the model denoises
        (the encoder's output, or the images themselves): (samples on the CPU, cond)."""
        x0 = self.check_images(x0, name)
        cond = self.cond.check(cond, len(x0))
        if self.encoder is not None:
            with torch.no_grad():
                x0 = torch.cat([self.encoder(x0[sl].to(self.device)).float().cpu()
                                for sl in self.batches(len(x0))])
        if self.sample_shape is not None and tuple(x0.shape[1:]) != self.sample_shape:
            raise ValueError(f"the encoder maps {name} to shape {tuple(x0.shape[1:])}, the model "
                             f"denoises {self.sample_shape}")
        return x0, cond

    def check_timestep(self, t, name: str = "t", low: int = 0) -> int:
        """An integer timestep in [low, T-1] (bools, floats and strings are refused)."""
        from ..core.checks import check_int

        return check_int(t, name, low=low, high=self.num_timesteps - 1)

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
        out = self.eps_fn(x, t, cond=cond)
        self.n_queries += len(x)
        for q in self._counters:
            q.total += len(x)
        if out.shape != x.shape:
            raise ValueError(f"eps_fn returned shape {tuple(out.shape)} for input {tuple(x.shape)}")
        if not torch.isfinite(out).all():
            raise ValueError(f"the model predicted NaN or infinite noise at timestep "
                             f"{t.unique().tolist()[:4]}: check its weights and inputs")
        return out.float()

    def abar(self, t: int) -> float:
        """abar_t as a Python float (fp64)."""
        return float(self.alphas_cumprod[t])

    def ddim(self, x: torch.Tensor, s: int, u: int, cond=None) -> tuple[torch.Tensor, torch.Tensor]:
        """The deterministic DDIM map D(x, s -> u) and the noise e = eps_theta(x, s) it used
        (one query). Adds noise when s < u (inversion), removes it when s > u."""
        e = self.eps(x, s, cond)
        return ddim_step(x.to(e.device, torch.float32), e, self.abar(s), self.abar(u)), e
