"""A generator that is not a diffusion model, for comparison beside them: a Gaussian mixture over the
pixels (scikit-learn), fitted to the same training images. Property inference compares the
receiver's estimates from diffusion models with those from other generators (the paper compares
GANs and VAEs); this one has the same ``sample(n, seed)`` call as the diffusion samplers' users need.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..core.checks import check_int


@dataclass
class GaussianMixtureGenerator:
    """A non-diffusion generator fitted to the same training images, as the paper compares
    diffusion models with GANs and VAEs: a Gaussian mixture over the pixels (scikit-learn,
    full covariances regularised by ``reg_covar``), whose samples are clipped to [-1, 1]."""

    mixture: object
    shape: tuple

    @classmethod
    def fit(cls, images: torch.Tensor, n_components: int = 10, reg_covar: float = 1e-2,
            seed: int = 0) -> "GaussianMixtureGenerator":
        from sklearn.mixture import GaussianMixture

        check_int(n_components, "n_components", low=1, high=len(images))
        x = images.detach().cpu().double().flatten(1).numpy()
        gm = GaussianMixture(n_components=n_components, covariance_type="full", reg_covar=reg_covar,
                             random_state=seed, max_iter=200).fit(x)
        return cls(gm, tuple(images.shape[1:]))

    def sample(self, n: int, seed: int = 0) -> torch.Tensor:
        self.mixture.random_state = seed
        x, _ = self.mixture.sample(check_int(n, "n", low=1))
        x = x[np.random.default_rng(seed).permutation(len(x))]  # sklearn returns them grouped by component
        return torch.from_numpy(x).float().view(-1, *self.shape).clamp(-1, 1)
