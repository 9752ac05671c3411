"""The deterministic DDIM update (Song et al. 2021, eq. 12 with sigma_t = 0), in the form of
docs/papers.md (eq. 2): from step s to step u with the model's noise prediction e = eps_theta(x_s, s),

    D(x, s -> u) = sqrt(abar_u) * (x - sqrt(1 - abar_s) * e) / sqrt(abar_s) + sqrt(1 - abar_u) * e.

It adds noise when s < u (inversion) and removes it when s > u. Shared by the attacks
(through DiffusionTarget) and the sampler; coefficients are computed in float64.
"""

from __future__ import annotations

import torch


def ddim_step(x: torch.Tensor, e: torch.Tensor, abar_s: float, abar_u: float) -> torch.Tensor:
    """D(x, s -> u) given e = eps_theta(x, s) and the two abar values (Python floats)."""
    a_s, a_u = float(abar_s), float(abar_u)
    x0_pred = (x - (1.0 - a_s) ** 0.5 * e) / a_s ** 0.5
    return a_u ** 0.5 * x0_pred + (1.0 - a_u) ** 0.5 * e


def predict_x0(x: torch.Tensor, e: torch.Tensor, abar_s: float) -> torch.Tensor:
    """The clean image implied by x at step s and its noise prediction (Ho et al. eq. 15)."""
    a_s = float(abar_s)
    return (x - (1.0 - a_s) ** 0.5 * e) / a_s ** 0.5
