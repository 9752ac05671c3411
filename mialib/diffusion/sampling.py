"""Drawing images from a trained model with DDIM sampling (Song et al. 2021): start from
x_{T-1} ~ N(0, I) (drawn on the CPU from the caller's generator) and apply D(x, t_i -> t_{i+1})
(docs/papers.md eq. 2) along an evenly spaced grid of ``steps`` timesteps down to t = 0, then
predict the clean sample. Deterministic by default (eta = 0); ``eta`` = 1 adds fresh noise at each
step as DDPM's ancestral sampler does (:func:`.ddim.ddim_sample_step`), which on the small,
briefly trained sharers of notebooks 05 and 06 is what keeps samples from diverging into colour
static (docs/cost.md). The one sampler of every model kind: pixel UNets,
class-conditional ones, and latent, text-conditioned ones (:func:`sample_pipeline` decodes their
latents with the VAE). Optional classifier-free guidance (Ho & Salimans 2022):

    e = (1 + w) eps(x, c) - w eps(x, null),

where ``w`` = ``guidance_scale``; diffusers' pipelines write the same mix as
e_null + g (e_c - e_null), i.e. g = 1 + w.
"""

from __future__ import annotations

import numpy as np
import torch

from ..core.checks import check_float
from ..core.progress import progress_bar
from .ddim import ddim_sample_step, predict_x0
from .encoders import decode_latents, embed


def timestep_grid(num_timesteps: int, steps: int) -> list[int]:
    """The descending, evenly spaced timesteps T-1, ..., 0 (``steps`` transitions, fewer when
    rounding merges two) the sampler visits."""
    grid = np.linspace(num_timesteps - 1, 0, steps + 1).round().astype(int)
    return list(dict.fromkeys(grid.tolist()))  # unique, descending


@torch.no_grad()
def sample_ddim(unet: torch.nn.Module, alphas_cumprod, n: int, *, steps: int = 50,
                generator: torch.Generator | None = None, class_labels=None,
                guidance_scale: float = 0.0, null_label: int | None = None,
                batch_size: int = 256, progress: bool = True, cond: torch.Tensor | None = None,
                null_cond: torch.Tensor | None = None, clip: bool = True, eta: float = 0.0) -> torch.Tensor:
    """``n`` samples (Tensor[n, C, H, W], CPU; clamped to [-1, 1] with ``clip``) from ``unet``,
    by DDIM with noise level ``eta`` (:func:`.ddim.ddim_sample_step`: 0 deterministic, 1 DDPM's
    ancestral sampling on the same grid of steps).
    A class-conditional UNet2DModel takes ``class_labels`` (and ``null_label`` for guidance);
    a UNet2DConditionModel takes ``cond`` (Tensor[n, sequence, dim] of encoder hidden states,
    and ``null_cond`` [sequence, dim] for guidance). The initial noise (and, with ``eta`` > 0, each
    step's fresh noise) is drawn on the CPU from ``generator`` so samples do not depend on the device."""
    if n < 1 or steps < 1:
        raise ValueError(f"n and steps must be >= 1, got {n}, {steps}")
    eta = check_float(eta, "eta", low=0.0, high=1.0)
    abar = torch.as_tensor(np.asarray(alphas_cumprod), dtype=torch.float64)
    grid = timestep_grid(len(abar), steps)
    cfg = unet.config
    shape = (cfg.in_channels, cfg.sample_size, cfg.sample_size)
    dev = next(unet.parameters()).device
    kw = "encoder_hidden_states" if hasattr(cfg, "cross_attention_dim") else "class_labels"
    if class_labels is not None:
        cond = torch.as_tensor(np.asarray(class_labels), dtype=torch.long)
        if len(cond) != n:
            raise ValueError(f"{len(cond)} class labels for {n} images")
        if guidance_scale and null_label is None:
            raise ValueError("classifier-free guidance needs null_label")
        null_cond = None if null_label is None else torch.tensor(null_label, dtype=torch.long)
    elif cond is not None:
        if len(cond) != n:
            raise ValueError(f"{len(cond)} conditions for {n} samples")
        if guidance_scale and null_cond is None:
            raise ValueError("classifier-free guidance needs null_cond")
    elif guidance_scale and null_label is None:
        raise ValueError("classifier-free guidance needs null_label")
    out = []
    bar = progress_bar(total=int(np.ceil(n / batch_size)) * (len(grid) - 1), desc="sampling",
                       enabled=progress)
    for start in range(0, n, batch_size):
        b = min(batch_size, n - start)
        x = torch.randn((b, *shape), generator=generator).to(dev)
        c = None if cond is None else cond[start:start + b].to(dev)
        c_null = None if c is None or not guidance_scale else null_cond.to(dev, c.dtype).expand_as(c)
        for s, u in zip(grid[:-1], grid[1:]):
            e = _eps(unet, x, s, kw, c, guidance_scale, c_null)
            z = torch.randn(x.shape, generator=generator).to(dev) if eta else None
            x = ddim_sample_step(x, e, abar[s], abar[u], eta, z)
            bar.update(1)
        e = _eps(unet, x, grid[-1], kw, c, guidance_scale, c_null)
        x0 = predict_x0(x, e, abar[grid[-1]])
        out.append((x0.clamp(-1, 1) if clip else x0).cpu())
    bar.close()
    return torch.cat(out)


def _eps(unet, x, t: int, kw: str, c, w: float, c_null):
    tt = torch.full((len(x),), t, dtype=torch.long, device=x.device)
    e = unet(x, tt, **{kw: c}).sample
    if c is not None and w:
        e_null = unet(x, tt, **{kw: c_null}).sample
        e = (1.0 + w) * e - w * e_null
    return e


def sample_pipeline(pipe, prompts, *, steps: int = 50, guidance_scale: float = 0.0,
                    generator: torch.Generator | None = None, batch_size: int = 64) -> torch.Tensor:
    """Images (Tensor[N, 3, H, W] in [-1, 1], CPU) of ``prompts`` from a Stable Diffusion
    pipeline's parts, by :func:`sample_ddim` on its latents under the text encoder's embeddings
    (guided by ``guidance_scale`` = w against the empty prompt), decoded by its VAE."""
    prompts = list(prompts)
    cond = embed(prompts, pipe.tokenizer, pipe.text_encoder).cpu()
    null = embed([""], pipe.tokenizer, pipe.text_encoder)[0].cpu() if guidance_scale else None
    latents = sample_ddim(pipe.unet, pipe.scheduler.alphas_cumprod, len(prompts), steps=steps, generator=generator,
                          cond=cond, null_cond=null, guidance_scale=guidance_scale, batch_size=batch_size,
                          progress=False, clip=False)
    return decode_latents(pipe.vae, latents)
