"""The DDIM update (Song et al. 2021, eq. 12), in the form of docs/papers.md (eq. 2): from step s
to step u with the model's noise prediction e = eps_theta(x_s, s) and x0^ = (x - sqrt(1 - abar_s) e) / sqrt(abar_s),

    D(x, s -> u) = sqrt(abar_u) * x0^ + sqrt(1 - abar_u) * e                        (sigma = 0),

deterministic: it adds noise when s < u (inversion) and removes it when s > u. Shared by the
attacks (through DiffusionTarget) and the sampler; coefficients are computed in float64.

:func:`ddim_sample_step` is the same update with fresh noise z ~ N(0, I) (Song et al. eq. 12 and 16),

    x_u = sqrt(abar_u) * x0^ + sqrt(1 - abar_u - sigma^2) * e + sigma * z,
    sigma = eta * sqrt((1 - abar_u) / (1 - abar_s)) * sqrt(1 - abar_s / abar_u),

which is D at eta = 0 and DDPM's ancestral step (Ho et al. 2020, posterior variance beta~) at eta = 1.
"""

from __future__ import annotations

import torch


def ddim_step(x: torch.Tensor, e: torch.Tensor, abar_s: float, abar_u: float) -> torch.Tensor:
    """D(x, s -> u) given e = eps_theta(x, s) and the two abar values (Python floats)."""
    a_s, a_u = float(abar_s), float(abar_u)
    x0_pred = (x - (1.0 - a_s) ** 0.5 * e) / a_s ** 0.5
    return a_u ** 0.5 * x0_pred + (1.0 - a_u) ** 0.5 * e


def ddim_sample_step(x: torch.Tensor, e: torch.Tensor, abar_s: float, abar_u: float, eta: float,
                     z: torch.Tensor | None) -> torch.Tensor:
    """One denoising step s -> u (s > u) with noise level ``eta`` (module docstring); ``z`` is the
    fresh standard-normal noise, unused (and may be None) when ``eta`` = 0."""
    a_s, a_u = float(abar_s), float(abar_u)
    if not eta:
        return ddim_step(x, e, a_s, a_u)
    sigma = eta * ((1.0 - a_u) / (1.0 - a_s) * (1.0 - a_s / a_u)) ** 0.5
    return a_u ** 0.5 * predict_x0(x, e, a_s) + max(1.0 - a_u - sigma ** 2, 0.0) ** 0.5 * e + sigma * z


def predict_x0(x: torch.Tensor, e: torch.Tensor, abar_s: float) -> torch.Tensor:
    """The clean image implied by x at step s and its noise prediction (Ho et al. eq. 15)."""
    a_s = float(abar_s)
    return (x - (1.0 - a_s) ** 0.5 * e) / a_s ** 0.5
