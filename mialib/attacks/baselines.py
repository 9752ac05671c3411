"""The baselines every paper compares against (docs/papers.md section 4).

- :class:`NaiveLoss` (Matsumoto et al. 2023): the training loss at one timestep,
  S = -||n - eps_theta(sqrt(abar_t) x0 + sqrt(1 - abar_t) n, t)||^2, n ~ N(0, I) (eq. 10); 1 query.
- :class:`PIA` (Kong et al., ICLR 2024, "proximal initialization"; PIA there, named
  ``pia_proximal`` here because PIA also abbreviates property inference): the model's own noise
  at t = 0, e0 = eps_theta(x0, 0), replaces the random noise,
  x_t = sqrt(abar_t) x0 + sqrt(1 - abar_t) e0,  S = -sum |e0 - eps_theta(x_t, t)|^p (eq. 11);
  2 queries. ``normalize=True`` is PIAN: e0 <- e0 * sqrt(2/pi) / mean|e0| (per image), which
  gives e0 the mean absolute value of a standard normal.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from ..core.checks import check_float
from .batching import check_generator, iter_batches
from .config import AttackConfig


@dataclass(frozen=True)
class NaiveLoss(AttackConfig):
    """The naive loss's one setting: its timestep t."""

    t: int = 100

    def check(self, target) -> None:
        target.check_timestep(self.t)

    def queries(self) -> int:
        return 1

    def scores(self, target, x0, *, cond=None, generator=None) -> torch.Tensor:
        return naive_loss(target, x0, self.t, generator=generator, cond=cond)


@dataclass(frozen=True)
class PIA(AttackConfig):
    """PIA's settings: timestep t (>= 1: step 0 gives e0), the norm's power p, and whether e0
    is normalised (PIAN)."""

    t: int = 200
    p: float = 4
    normalize: bool = False

    def validate(self) -> None:
        check_float(self.p, "p", low=0.0, low_open=True)

    def check(self, target) -> None:
        target.check_timestep(self.t, low=1)

    def queries(self) -> int:
        """t = 0 and t."""
        return 2

    def scores(self, target, x0, *, cond=None, generator=None) -> torch.Tensor:
        return pia_proximal(target, x0, self.t, self.p, self.normalize, cond=cond)


def naive_loss(target, x0, t: int = NaiveLoss.t, generator: torch.Generator | None = None,
               cond=None) -> torch.Tensor:
    """Naive-loss scores (Tensor[N], float64; higher = more likely a member). The noise is
    drawn for all images at once on the CPU from ``generator`` (global RNG when None)."""
    NaiveLoss(t=t).check(target)
    check_generator(generator)
    x0, cond = target.prepare(x0, cond)
    noise = torch.randn(x0.shape, generator=generator, dtype=torch.float32)
    a = target.abar(t)
    out = torch.empty(len(x0), dtype=torch.float64)
    for sl, x, c in iter_batches(target, x0, cond):
        n = noise[sl]
        e = target.eps(a ** 0.5 * x + (1.0 - a) ** 0.5 * n, t, c).cpu()
        out[sl] = -(n.double() - e.double()).pow(2).flatten(1).sum(1)
    return out


def pia_proximal(target, x0, t: int = PIA.t, p: float = PIA.p, normalize: bool = PIA.normalize,
                 cond=None) -> torch.Tensor:
    """PIA (``normalize=False``) or PIAN (``normalize=True``) scores (Tensor[N], float64;
    higher = more likely a member). Deterministic: no random draw."""
    PIA(t=t, p=p, normalize=normalize).check(target)
    x0, cond = target.prepare(x0, cond)
    a = target.abar(t)
    out = torch.empty(len(x0), dtype=torch.float64)
    for sl, x, c in iter_batches(target, x0, cond):
        x = x.to(target.device)
        e0 = target.eps(x, 0, c)
        if normalize:
            mean_abs = e0.abs().flatten(1).mean(1).clamp_min(1e-12).view(-1, 1, 1, 1)
            e0 = e0 * math.sqrt(2.0 / math.pi) / mean_abs
        e_t = target.eps(a ** 0.5 * x + (1.0 - a) ** 0.5 * e0, t, c)
        out[sl] = -(e0.double() - e_t.double()).abs().pow(p).flatten(1).sum(1).cpu()
    return out
