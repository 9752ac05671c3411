"""Drawing images from a trained model with deterministic DDIM sampling (Song et al. 2021):
start from x_{T-1} ~ N(0, I) and apply D(x, t_i -> t_{i+1}) along an evenly spaced grid of
``steps`` timesteps down to t = 0, then predict the clean image. Optional class labels and
classifier-free guidance (Ho & Salimans 2022): e = (1 + w) eps(x, y) - w eps(x, null).
"""

from __future__ import annotations

import numpy as np
import torch

from .ddim import ddim_step, predict_x0
from ..core.progress import progress_bar


@torch.no_grad()
def sample_ddim(unet: torch.nn.Module, alphas_cumprod, n: int, *, steps: int = 50,
                generator: torch.Generator | None = None, class_labels=None,
                guidance_scale: float = 0.0, null_label: int | None = None,
                batch_size: int = 256, progress: bool = True) -> torch.Tensor:
    """``n`` images (Tensor[n, C, H, W] in [-1, 1], CPU) from ``unet``; the initial noise is
    drawn on the CPU from ``generator`` so samples do not depend on the device."""
    if n < 1 or steps < 1:
        raise ValueError(f"n and steps must be >= 1, got {n}, {steps}")
    abar = torch.as_tensor(np.asarray(alphas_cumprod), dtype=torch.float64)
    T = len(abar)
    grid = np.linspace(T - 1, 0, steps + 1).round().astype(int)
    grid = list(dict.fromkeys(grid.tolist()))  # unique, descending
    cfg = unet.config
    shape = (cfg.in_channels, cfg.sample_size, cfg.sample_size)
    dev = next(unet.parameters()).device
    if class_labels is not None:
        class_labels = torch.as_tensor(np.asarray(class_labels), dtype=torch.long)
        if len(class_labels) != n:
            raise ValueError(f"{len(class_labels)} class labels for {n} images")
    if guidance_scale and null_label is None:
        raise ValueError("classifier-free guidance needs null_label")
    out = []
    bar = progress_bar(total=int(np.ceil(n / batch_size)) * (len(grid) - 1), desc="sampling",
                       enabled=progress)
    for start in range(0, n, batch_size):
        b = min(batch_size, n - start)
        x = torch.randn((b, *shape), generator=generator).to(dev)
        y = None if class_labels is None else class_labels[start:start + b].to(dev)
        for s, u in zip(grid[:-1], grid[1:]):
            e = _eps(unet, x, s, y, guidance_scale, null_label)
            x = ddim_step(x, e, abar[s], abar[u])
            bar.update(1)
        e = _eps(unet, x, grid[-1], y, guidance_scale, null_label)
        out.append(predict_x0(x, e, abar[grid[-1]]).clamp(-1, 1).cpu())
    bar.close()
    return torch.cat(out)


def _eps(unet, x, t: int, y, w: float, null_label):
    tt = torch.full((len(x),), t, dtype=torch.long, device=x.device)
    e = unet(x, tt, class_labels=y).sample
    if y is not None and w:
        e_null = unet(x, tt, class_labels=torch.full_like(y, null_label)).sample
        e = (1.0 + w) * e - w * e_null
    return e
