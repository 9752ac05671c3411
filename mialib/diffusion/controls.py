"""Synthetic targets with known answers, for positive and negative controls of the attacks.

``memorising_eps_fn(points, abar)`` is the *exact* optimal denoiser of the empirical
distribution of ``points`` (a model that has memorised them perfectly):

    E[x0 | x_t] = sum_i w_i p_i,  w = softmax_i( -||x_t - sqrt(abar_t) p_i||^2 / (2 (1 - abar_t)) ),
    eps(x_t, t) = (x_t - sqrt(abar_t) E[x0 | x_t]) / sqrt(1 - abar_t)          (Tweedie / Ho et al. eq. 15).

Attacked with the points themselves as members, every membership attack should reach AUC ~1;
with the points as NON-members (the model memorised the other side), AUC ~0.

That model is degenerate in one way that matters to noise aggregation: wherever its
posterior has collapsed onto one point p (small noise, and on 8x8 digits most non-members lie
within a collapsing distance of some member), eps is affine in x_t with slope 1/sqrt(1-abar_t)
and the DDIM trajectory is a straight line: the predicted noise is the same at every step
for members and such non-members alike. ``bandwidth=r > 0`` gives each point a little
Gaussian of its own, i.e. the exact optimal denoiser of the kernel density estimate
(1/M) sum_i N(x0; p_i, r^2 I):

    v_t = abar_t r^2 + 1 - abar_t,  w = softmax_i( -||x_t - sqrt(abar_t) p_i||^2 / (2 v_t) ),
    E[x0 | x_t] = sum_i w_i ( p_i + sqrt(abar_t) r^2 / v_t (x_t - sqrt(abar_t) p_i) ),

a memoriser that is exact on its points and smooth between them; there eps is proportional
to the residual x_t - sqrt(abar_t) p_i with a factor that changes with t, so noises along a
trajectory spread in proportion to how far the input lies from the memorised point.
"""

from __future__ import annotations

import numpy as np
import torch


def memorising_eps_fn(points: torch.Tensor, alphas_cumprod, bandwidth: float = 0.0):
    """An ``eps_fn(x, t, cond=None)`` that has memorised ``points`` (Tensor[M, C, H, W]);
    ``bandwidth`` > 0 makes it the optimal denoiser of their Gaussian kernel density estimate."""
    if not bandwidth >= 0:
        raise ValueError(f"bandwidth must be >= 0, got {bandwidth}")
    ref = points.detach().to(torch.float64).flatten(1)             # [M, D]
    abar = torch.as_tensor(np.asarray(alphas_cumprod), dtype=torch.float64)
    r2 = float(bandwidth) ** 2

    def eps_fn(x: torch.Tensor, t: torch.Tensor, cond=None) -> torch.Tensor:
        xf = x.detach().to(torch.float64).flatten(1)                # [B, D]
        a = abar[t.cpu()].unsqueeze(1)                              # [B, 1]
        v = a * r2 + 1 - a
        # ||x - sqrt(a) p_i||^2 for every (b, i), expanded so one matrix product does it
        d2 = (xf.pow(2).sum(1, keepdim=True) - 2 * a.sqrt() * xf @ ref.T
              + a * ref.pow(2).sum(1).unsqueeze(0))
        w = torch.softmax(-d2 / (2 * v), dim=1)                     # [B, M]
        mean_p = w @ ref                                            # sum_i w_i p_i
        x0_hat = mean_p + a.sqrt() * r2 / v * (xf - a.sqrt() * mean_p)
        eps = (xf - a.sqrt() * x0_hat) / (1 - a).sqrt()
        return eps.reshape(x.shape).to(x.dtype)

    return eps_fn
