"""The baselines every paper compares against (PAPERS.md, "Baselines used by all three").

- :func:`naive_loss` (Matsumoto et al. 2023): the training loss at one timestep,
  S = -||n - eps_theta(sqrt(abar_t) x0 + sqrt(1 - abar_t) n, t)||^2, n ~ N(0, I); 1 query.
- :func:`pia_proximal` (Kong et al., ICLR 2024, "proximal initialization"; PIA there, renamed
  here because PIA also abbreviates property inference): the model's own noise at t = 0,
  e0 = eps_theta(x0, 0), replaces the random noise,
  x_t = sqrt(abar_t) x0 + sqrt(1 - abar_t) e0,  S = -sum |e0 - eps_theta(x_t, t)|^p;
  2 queries. ``normalize=True`` is PIAN: e0 <- e0 * sqrt(2/pi) / mean|e0| (per image), which
  gives e0 the mean absolute value of a standard normal.
"""

from __future__ import annotations

import math

import torch

from .target import DiffusionTarget


def check_naive_loss_params(target: DiffusionTarget, t: int = 100) -> int:
    """``t`` as an int after checking it against ``target``'s schedule (ValueError)."""
    return target.check_timestep(t)


def check_pia_params(target: DiffusionTarget, t: int = 200, p: float = 4) -> int:
    """``t`` (>= 1: step 0 gives e0) as an int after checking ``t`` and ``p`` (ValueError)."""
    if not p > 0:
        raise ValueError(f"p must be positive, got {p}")
    return target.check_timestep(t, low=1)


def naive_loss(target: DiffusionTarget, x0, t: int = 100, generator: torch.Generator | None = None,
               cond=None) -> torch.Tensor:
    """Naive-loss scores (Tensor[N], float64; higher = more likely a member). The noise is
    drawn for all images at once on the CPU from ``generator`` (global RNG when None)."""
    x0 = target.check_images(x0)
    cond = target.check_cond(cond, len(x0))
    t = check_naive_loss_params(target, t)
    noise = torch.randn(x0.shape, generator=generator, dtype=torch.float32)
    a = target.abar(t)
    out = torch.empty(len(x0), dtype=torch.float64)
    for sl in target.batches(len(x0)):
        c = None if cond is None else cond[sl]
        n = noise[sl]
        e = target.eps(a ** 0.5 * x0[sl] + (1.0 - a) ** 0.5 * n, t, c).cpu()
        out[sl] = -(n.double() - e.double()).pow(2).flatten(1).sum(1)
    return out


def pia_proximal(target: DiffusionTarget, x0, t: int = 200, p: float = 4, normalize: bool = False,
                 cond=None) -> torch.Tensor:
    """PIA (``normalize=False``) or PIAN (``normalize=True``) scores (Tensor[N], float64;
    higher = more likely a member). Deterministic: no random draw."""
    x0 = target.check_images(x0)
    cond = target.check_cond(cond, len(x0))
    t = check_pia_params(target, t, p)
    a = target.abar(t)
    out = torch.empty(len(x0), dtype=torch.float64)
    for sl in target.batches(len(x0)):
        c = None if cond is None else cond[sl]
        x = x0[sl].to(target.device)
        e0 = target.eps(x, 0, c)
        if normalize:
            mean_abs = e0.abs().flatten(1).mean(1).clamp_min(1e-12).view(-1, 1, 1, 1)
            e0 = e0 * math.sqrt(2.0 / math.pi) / mean_abs
        e_t = target.eps(a ** 0.5 * x + (1.0 - a) ** 0.5 * e0, t, c)
        out[sl] = -(e0.double() - e_t.double()).abs().pow(p).flatten(1).sum(1).cpu()
    return out


def naive_loss_queries() -> int:
    """Model queries per image of :func:`naive_loss`."""
    return 1


def pia_queries() -> int:
    """Model queries per image of :func:`pia_proximal` (t = 0 and t)."""
    return 2
