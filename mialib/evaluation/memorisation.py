"""How close generated images are to the training set: the simplest sign of memorisation.

Each sample is compared with its nearest training image and with its nearest image in an equal
number of non-members (L2 in pixel space). A model that memorises reproduces its training
images, so its samples sit closer to a training image than to any non-member; a model that
generalises shows no such preference (about half the samples on each side).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch


def nearest_neighbours(queries: torch.Tensor, references: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """For each query image, the index of and L2 distance to its nearest reference image."""
    d = torch.cdist(queries.flatten(1).double(), references.flatten(1).double())
    dist, idx = d.min(dim=1)
    return idx, dist


@dataclass
class NearestImages:
    """Per sample: its nearest training image and distance, and its nearest non-member (of
    ``reference_nonmembers``, as many as there are training images) and distance."""

    training_idx: torch.Tensor
    training_dist: torch.Tensor
    reference_nonmembers: torch.Tensor
    nonmember_idx: torch.Tensor
    nonmember_dist: torch.Tensor

    @property
    def frac_closer_to_training(self) -> float:
        return float((self.training_dist < self.nonmember_dist).float().mean())


def nearest_images(samples: torch.Tensor, training: torch.Tensor, nonmember_pool: torch.Tensor,
                   seed: int = 0) -> NearestImages:
    """Compare ``samples`` with the training images and with a seeded random subset of
    ``nonmember_pool`` of the same size (so both sides offer as many candidates)."""
    rng = np.random.default_rng(seed)
    pick = rng.choice(len(nonmember_pool), min(len(nonmember_pool), len(training)), replace=False)
    ref = nonmember_pool[torch.from_numpy(pick)]
    i_tr, d_tr = nearest_neighbours(samples, training)
    i_non, d_non = nearest_neighbours(samples, ref)
    return NearestImages(i_tr, d_tr, ref, i_non, d_non)


def copying_summary(samples: torch.Tensor, training: torch.Tensor, nonmembers: torch.Tensor, seed: int = 0) -> dict:
    """How much ``samples`` copy their model's ``training`` images, for a text (sample precision
    sees neither copying nor diversity): the share of samples closer to a training image than to
    any of as many ``nonmembers`` (the larger side is cut to a seeded random subset of the
    smaller's size, so both offer as many candidates; about 1/2 for a model that does not copy),
    a one-sided binomial test of that share against 1/2, and how many distinct training images
    are the samples' nearest (few, for samples that are near copies of a handful of images)."""
    from scipy.stats import binomtest

    rng = np.random.default_rng([seed, 1])
    n = min(len(training), len(nonmembers))
    if n == 0 or len(samples) == 0:
        raise ValueError("samples, training images and non-members must all be non-empty")
    training = training[torch.from_numpy(np.sort(rng.choice(len(training), n, replace=False)))]
    near = nearest_images(samples, training, nonmembers, seed=seed)
    closer = int((near.training_dist < near.nonmember_dist).sum())
    return {"closer_to_training": closer / len(samples), "n_samples": len(samples), "n_candidates": n,
            "p_value": float(binomtest(closer, len(samples), 0.5, alternative="greater").pvalue),
            "distinct_nearest_training": int(near.training_idx.unique().numel())}
