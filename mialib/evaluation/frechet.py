"""Sample quality as a Fréchet distance, offline: the FID recipe (Heusel et al., NeurIPS 2017,
eq. 6) in the feature space of a small classifier trained here instead of downloaded Inception
weights.

    FD = ||mu_1 - mu_2||² + Tr( Σ_1 + Σ_2 - 2 (Σ_1 Σ_2)^{1/2} )

is the Fréchet (2-Wasserstein) distance between the Gaussians N(mu_1, Σ_1) and N(mu_2, Σ_2)
fitted to the features of generated and of held-out real images (Dowson & Landau 1982). The
features are the hidden layer of a one-hidden-layer network (scikit-learn's MLPClassifier, ReLU)
trained to tell the classes apart, on real images that are not the held-out reference. Numbers
are comparable only within one feature network, one reference set and one sample size (the
estimate is biased upward at small n): :func:`real_floor` gives the distance real images of the
same size reach, the floor a perfect generator would sit at.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import torch
from scipy import linalg


def frechet_distance(mu1, cov1, mu2, cov2) -> float:
    """The Fréchet distance between N(mu1, cov1) and N(mu2, cov2) (module docstring). A singular
    product gets 1e-6 on the diagonals first (as the reference FID code does)."""
    mu1, mu2 = np.atleast_1d(np.asarray(mu1, float)), np.atleast_1d(np.asarray(mu2, float))
    cov1, cov2 = np.atleast_2d(np.asarray(cov1, float)), np.atleast_2d(np.asarray(cov2, float))
    if mu1.shape != mu2.shape or cov1.shape != cov2.shape or cov1.shape != (len(mu1), len(mu1)):
        raise ValueError(f"means and covariances must match: {mu1.shape}, {mu2.shape}, {cov1.shape}, {cov2.shape}")
    with warnings.catch_warnings():  # singular products (dead features) are handled below
        warnings.simplefilter("ignore", linalg.LinAlgWarning)
        root = linalg.sqrtm(cov1 @ cov2)
        if not np.isfinite(root).all():
            off = np.eye(len(mu1)) * 1e-6
            root = linalg.sqrtm((cov1 + off) @ (cov2 + off))
    root = np.real(root)
    diff = mu1 - mu2
    return float(max(diff @ diff + np.trace(cov1) + np.trace(cov2) - 2 * np.trace(root), 0.0))


def gaussian_fit(features) -> tuple[np.ndarray, np.ndarray]:
    """Mean and covariance (n - 1 normalised) of ``features`` [N, D], N >= 2."""
    f = np.asarray(features, float)
    if f.ndim != 2 or len(f) < 2 or not np.isfinite(f).all():
        raise ValueError(f"features must be a finite [N >= 2, D] array, got shape {f.shape}")
    return f.mean(0), np.cov(f, rowvar=False).reshape(f.shape[1], f.shape[1])


def _flat(images) -> np.ndarray:
    if not isinstance(images, torch.Tensor) or images.ndim != 4 or not len(images):
        raise ValueError("images must be a non-empty Tensor[N, C, H, W] in [-1, 1], got "
                         f"{type(images).__name__} {tuple(getattr(images, 'shape', ()))}")
    return images.detach().float().cpu().flatten(1).numpy()


@dataclass
class FeatureNetwork:
    """A trained one-hidden-layer classifier; its hidden ReLU activations are the features."""

    classifier: object
    accuracy: float      # on the held-out images it was checked on

    def features(self, images: torch.Tensor) -> np.ndarray:
        """[N, hidden] features of ``images`` (Tensor[N, C, H, W] in [-1, 1])."""
        x = _flat(images)
        w, b = self.classifier.coefs_[0], self.classifier.intercepts_[0]
        if x.shape[1] != w.shape[0]:
            raise ValueError(f"images of {x.shape[1]} values each, the feature network takes {w.shape[0]}")
        return np.maximum(x @ w + b, 0.0)

    def distance(self, images: torch.Tensor, reference: torch.Tensor) -> float:
        """The Fréchet distance between the features of ``images`` and of ``reference``."""
        return frechet_distance(*gaussian_fit(self.features(images)), *gaussian_fit(self.features(reference)))


def train_feature_network(images: torch.Tensor, labels, check_images: torch.Tensor, check_labels, *,
                          hidden: int = 128, seed: int = 0) -> FeatureNetwork:
    """The feature network, trained on ``images`` / ``labels`` (never on the reference images the
    distances are measured against) and its accuracy on ``check_images`` (e.g. that reference)."""
    from sklearn.neural_network import MLPClassifier

    x, y = _flat(images), np.asarray(labels)
    if len(y) != len(x) or len(np.unique(y)) < 2:
        raise ValueError(f"the feature network needs one label per image and two classes or more, got {len(y)} "
                         f"labels for {len(x)} images")
    clf = MLPClassifier(hidden_layer_sizes=(hidden,), max_iter=400, random_state=seed, early_stopping=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning at max_iter: the features are what we need
        clf.fit(x, y)
    acc = float((clf.predict(_flat(check_images)) == np.asarray(check_labels)).mean())
    return FeatureNetwork(clf, acc)


def real_floor(network: FeatureNetwork, reference: torch.Tensor, other_real: torch.Tensor) -> float:
    """The distance real images reach: ``other_real`` (as many as the samples a model is measured
    with, never the reference) against ``reference``."""
    return network.distance(other_real, reference)
