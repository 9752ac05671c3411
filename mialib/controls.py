"""Synthetic targets with known answers, for positive and negative controls of the attacks.

``memorizing_eps_fn(points, abar)`` is the *exact* optimal denoiser of the empirical
distribution of ``points`` (a model that has memorised them perfectly):

    E[x0 | x_t] = sum_i w_i p_i,  w = softmax_i( -||x_t - sqrt(abar_t) p_i||^2 / (2 (1 - abar_t)) ),
    eps(x_t, t) = (x_t - sqrt(abar_t) E[x0 | x_t]) / sqrt(1 - abar_t)          (Tweedie / Ho et al. eq. 15).

Attacked with the points themselves as members, every membership attack should reach AUC ~1;
with the points as NON-members (the model memorised the other side), AUC ~0.
"""

from __future__ import annotations

import numpy as np
import torch


def memorizing_eps_fn(points: torch.Tensor, alphas_cumprod):
    """An ``eps_fn(x, t, cond=None)`` that has memorised ``points`` (Tensor[M, C, H, W])."""
    ref = points.detach().to(torch.float64).flatten(1)             # [M, D]
    abar = torch.as_tensor(np.asarray(alphas_cumprod), dtype=torch.float64)

    def eps_fn(x: torch.Tensor, t: torch.Tensor, cond=None) -> torch.Tensor:
        xf = x.detach().to(torch.float64).flatten(1)                # [B, D]
        a = abar[t.cpu()].unsqueeze(1)                              # [B, 1]
        # ||x - sqrt(a) p_i||^2 for every (b, i), expanded so one matrix product does it
        d2 = (xf.pow(2).sum(1, keepdim=True) - 2 * a.sqrt() * xf @ ref.T
              + a * ref.pow(2).sum(1).unsqueeze(0))
        w = torch.softmax(-d2 / (2 * (1 - a)), dim=1)               # [B, M]
        x0_hat = w @ ref
        eps = (xf - a.sqrt() * x0_hat) / (1 - a).sqrt()
        return eps.reshape(x.shape).to(x.dtype)

    return eps_fn
