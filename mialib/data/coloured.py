"""Coloured digits: the shipped digits inked in colour, with ink colour as a binary sensitive
property, for property inference and fairness poisoning (docs/papers.md section 4).

Each digit is drawn in an ink that mixes a red and a blue,

    ink(m) = (1 - m) * RED + m * BLUE,   m in [0, 1],

and the property s (0 = "red", 1 = "blue") sets the distribution of the mix m:

    m | s ~ Beta with mean 0.25 (s = 0) or 0.75 (s = 1) and standard deviation ``colour_noise``.

So the property is visible but not perfectly readable: an image's ink can sit on the wrong side
of m = 1/2 (with ``colour_noise = 0.2``, about one image in nine). Because RED and BLUE have the
same red + blue sum, m can be read back exactly from an image (:func:`read_mix`), and
:func:`colour_rule_rates` gives the exact TPR and FPR of the threshold rule m > 1/2 under this
noise (what an oracle that knows the noise uses).

Pixels: a digit's grey intensity v in [0, 1] times the ink colour, in [-1, 1] like every image here.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..core.checks import check_float, check_int
from .images import ImageSet
from .loaders import load_digits

RED = np.array([1.0, 0.2, 0.1])
BLUE = np.array([0.1, 0.3, 1.0])
MIX_MEANS = (0.25, 0.75)  # mean of m for s = 0 and s = 1


@dataclass(frozen=True)
class ColourNoise:
    """The Beta distributions of the mix m given the property (see the module docstring)."""

    sd: float = 0.2

    def __post_init__(self):
        check_float(self.sd, "colour_noise", low=0.0, high=0.4, low_open=True, high_open=True)

    def beta(self, s: int) -> tuple[float, float]:
        """(a, b) of Beta(a, b) with mean MIX_MEANS[s] and standard deviation ``sd``."""
        mu = MIX_MEANS[s]
        kappa = mu * (1 - mu) / self.sd ** 2 - 1
        if kappa <= 0:
            raise ValueError(f"colour_noise {self.sd} is too large for a Beta with mean {mu}")
        return mu * kappa, (1 - mu) * kappa

    def draw(self, s: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """One mix per entry of ``s`` (0/1)."""
        s = np.asarray(s)
        m = np.empty(len(s))
        for v in (0, 1):
            a, b = self.beta(v)
            m[s == v] = rng.beta(a, b, size=int(np.sum(s == v)))
        return m


def ink(m) -> np.ndarray:
    """The RGB ink colour of mix(es) ``m``: shape (..., 3)."""
    m = np.asarray(m, dtype=np.float64)[..., None]
    return (1 - m) * RED + m * BLUE


def colourise(grey: torch.Tensor, m) -> torch.Tensor:
    """Grey images (Tensor[N, 1, H, W] in [-1, 1]) inked with mixes ``m`` (N values):
    Tensor[N, 3, H, W] in [-1, 1]."""
    v = (grey.double() + 1) / 2                                     # intensity in [0, 1]
    colour = torch.from_numpy(ink(m)).view(-1, 3, 1, 1)             # [N, 3, 1, 1]
    return (v * colour * 2 - 1).float().clamp(-1, 1)


def grey_intensity(images: torch.Tensor) -> torch.Tensor:
    """The grey intensity v in [0, 1] of each pixel of RGB images made by :func:`colourise`:
    every ink has R + B = 1.1, so v = (R + B) / 1.1 with R, B mapped to [0, 1] (exact up to the
    clamp). Tensor[N, 3, H, W] in [-1, 1] -> Tensor[N, H, W] (float64)."""
    x = (images.detach().double().cpu() + 1) / 2
    return (x[:, 0] + x[:, 2]) / 1.1


def read_mix(images: torch.Tensor, ink_floor: float = 0.25) -> np.ndarray:
    """The ink mix m of each RGB image, exact for images made by :func:`colourise`: every pixel
    of such an image has B / (R + B) = (0.1 + 0.9 m) / 1.1. The pixels are weighted by how far
    their intensity (R + B) / 1.1 rises above ``ink_floor``, so the faint noise a generator leaves
    in the background does not dilute the ink (the weights do not change the exact value)."""
    x = (images.detach().double().cpu() + 1) / 2
    r, b = x[:, 0], x[:, 2]
    w = (grey_intensity(images) - ink_floor).clamp_min(0.0)
    w = torch.where(w.sum((1, 2), keepdim=True) > 0, w, torch.ones_like(w))  # no ink: use every pixel
    ratio = ((w * b).sum((1, 2)) / (w * (r + b)).sum((1, 2)).clamp_min(1e-12)).numpy()
    return (1.1 * ratio - 0.1) / 0.9


def ink_spread(images: torch.Tensor, threshold: float = 0.5) -> float:
    """How far the inks of RGB ``images`` scatter about their colour: the root mean square of each
    image's mix (:func:`read_mix`) about the mean mix of the images on its side of ``threshold``
    (pooled over both sides). Real digits inked with noise sd s scatter a little less than s
    (each side's Beta is cut at the threshold); a generator whose inks scatter less than its
    training images' puts fewer images on the wrong side, so :func:`colour_rule` reads a proportion
    further from 1/2 than on its training data."""
    mix = read_mix(images)
    sides = [mix[mix <= threshold], mix[mix > threshold]]
    dev = np.concatenate([side - side.mean() for side in sides if len(side)])
    return float(np.sqrt(np.mean(dev ** 2)))


def colour_rule(images: torch.Tensor, threshold: float = 0.5) -> np.ndarray:
    """The zero-shot property rule: 1 where the ink mix read from the image exceeds
    ``threshold`` (the midpoint between the two mean inks), else 0. Needs no auxiliary data."""
    return (read_mix(images) > threshold).astype(np.int64)


def colour_rule_rates(noise: ColourNoise, threshold: float = 0.5) -> tuple[float, float]:
    """Exact (TPR, FPR) of :func:`colour_rule` on real coloured digits: P(m > t | s = 1) and
    P(m > t | s = 0) under the Beta noise."""
    from scipy.stats import beta

    return float(beta.sf(threshold, *noise.beta(1))), float(beta.sf(threshold, *noise.beta(0)))


@dataclass
class ColouredPopulation:
    """The digits split into a sharer's pool and a receiver's auxiliary pool (disjoint), the
    colour noise, and a seed for every ink drawn."""

    grey: ImageSet
    sharer_pool: np.ndarray
    receiver_pool: np.ndarray
    noise: ColourNoise
    seed: int

    def draw(self, indices, s, stream: int) -> ImageSet:
        """The digits at ``indices`` inked with property ``s`` (0/1 each), mixes drawn from the
        seeded ``stream`` (each stream is reproducible and independent of the others)."""
        indices, s = np.asarray(indices, dtype=np.int64), np.asarray(s, dtype=np.int64)
        if len(indices) != len(s) or not set(np.unique(s)) <= {0, 1}:
            raise ValueError("one property value (0 or 1) per index is needed")
        rng = np.random.default_rng([self.seed, stream])
        m = self.noise.draw(s, rng)
        images = colourise(self.grey.images[torch.from_numpy(indices)], m)
        return ImageSet(name="coloured digits", images=images, labels=self.grey.labels[indices],
                        attributes={"colour": s, "mix": m, "digit_index": indices})

    def sample_with_proportion(self, n: int, p: float, stream: int) -> ImageSet:
        """A training set of ``n`` distinct digits of the sharer's pool of which exactly
        round(p n) carry property 1 (at random positions)."""
        n = check_int(n, "n", low=1, high=len(self.sharer_pool))
        p = check_float(p, "p", low=0.0, high=1.0)
        rng = np.random.default_rng([self.seed, stream, 1])
        idx = rng.choice(self.sharer_pool, n, replace=False)
        s = np.zeros(n, dtype=np.int64)
        s[rng.choice(n, int(round(p * n)), replace=False)] = 1
        return self.draw(idx, s, stream)

    def auxiliary(self, stream: int = 10_000, *, both_inks: bool = False) -> ImageSet:
        """The receiver's auxiliary data: every digit of its pool, property drawn at random
        (half and half); with ``both_inks`` every digit twice, once with each property (the
        receiver inks its own digits, so it can: twice the images from the same pool)."""
        n = len(self.receiver_pool)
        if both_inks:
            return self.draw(np.concatenate([self.receiver_pool, self.receiver_pool]), np.repeat([0, 1], n), stream)
        rng = np.random.default_rng([self.seed, stream, 2])
        s = rng.permutation(np.arange(n) % 2)
        return self.draw(self.receiver_pool, s, stream)


def coloured_population(image_size: int = 8, colour_noise: float = 0.2, receiver_fraction: float = 0.3,
                        seed: int = 0) -> ColouredPopulation:
    """The shipped digits at ``image_size``, split at random into the sharer's pool and the
    receiver's auxiliary pool (``receiver_fraction`` of the digits)."""
    check_float(receiver_fraction, "receiver_fraction", low=0.0, high=1.0, low_open=True, high_open=True)
    grey = load_digits(image_size)
    perm = np.random.default_rng([seed, 0]).permutation(len(grey))
    n_recv = int(round(receiver_fraction * len(grey)))
    return ColouredPopulation(grey, np.sort(perm[n_recv:]), np.sort(perm[:n_recv]), ColourNoise(colour_noise), seed)
