"""How far samples copy the training images: positive and negative controls (samples that are the
members, samples that are the non-members), the binomial test against scipy, equal candidates on
both sides, and the count of distinct nearest members."""

from __future__ import annotations

import pytest
import torch
from scipy.stats import binomtest

from mialib.evaluation.memorisation import copying_summary


def _imgs(n, seed):
    return torch.rand(n, 1, 4, 4, generator=torch.Generator().manual_seed(seed)) * 2 - 1


def test_samples_that_are_the_members_are_caught_and_samples_of_non_members_flip():
    members, nonmembers = _imgs(20, 0), _imgs(20, 1)
    copies = members[[0, 0, 1, 1, 2, 3]] + 0.01
    got = copying_summary(copies, members, nonmembers)
    assert got["closer_to_training"] == 1.0 and got["n_samples"] == 6 and got["n_candidates"] == 20
    assert got["distinct_nearest_training"] == 4  # six near copies of four members
    assert got["p_value"] == pytest.approx(binomtest(6, 6, 0.5, alternative="greater").pvalue) == pytest.approx(1 / 64)
    flipped = copying_summary(nonmembers[:6] + 0.01, members, nonmembers)
    assert flipped["closer_to_training"] == 0.0 and flipped["p_value"] == pytest.approx(1.0)


def test_both_sides_offer_as_many_candidates():
    members, nonmembers = _imgs(40, 0), _imgs(10, 1)
    got = copying_summary(_imgs(8, 2), members, nonmembers, seed=3)
    assert got["n_candidates"] == 10 and got["distinct_nearest_training"] <= 8
    assert got == copying_summary(_imgs(8, 2), members, nonmembers, seed=3)  # seeded
    with pytest.raises(ValueError, match="non-empty"):
        copying_summary(_imgs(2, 2), members[:0], nonmembers)
