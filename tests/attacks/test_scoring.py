"""Scoring a split: the documented seed offsets, calibration, held-out subsets."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch

from helpers import gen
from mialib.attacks import (SEED_OFFSETS, DiffusionTarget, NoiseAggregation, SecMI, noise_aggregation,
                            part_generator, score_part, score_split)


@pytest.fixture
def split(digits_split):
    m, n = digits_split
    return SimpleNamespace(members=m[:20], nonmembers=n[:20], cal_members=m[20:30], cal_nonmembers=n[20:30])


@pytest.fixture
def target(linear_abar):
    return DiffusionTarget(lambda x, t, cond=None: torch.tanh(2 * x) * (1 + t.view(-1, 1, 1, 1) / 100), linear_abar)


def test_each_part_draws_from_its_documented_offset(split, target):
    assert SEED_OFFSETS == {"members": 0, "nonmembers": 1, "cal_members": 2, "cal_nonmembers": 3}
    cfg = NoiseAggregation(t=40, m=10, K=3)
    got = score_split(cfg, target, split, seed=7)
    for part, offset in SEED_OFFSETS.items():
        want = noise_aggregation(target, getattr(split, part), t=40, m=10, K=3, generator=gen(7 + offset))
        torch.testing.assert_close(getattr(got, part), want, rtol=0, atol=0)
    torch.testing.assert_close(score_part(cfg, target, split.nonmembers, seed=7, part="nonmembers"), got.nonmembers)
    assert torch.equal(part_generator(7, "cal_members").get_state(), gen(9).get_state())
    with pytest.raises(ValueError, match="unknown part"):
        part_generator(0, "calibration")


def test_split_scores_hold_their_parts_and_subsets(split, target):
    s = score_split(SecMI(t_sec=20, k=10), target, split, seed=0)
    assert s.evaluation == (s.members, s.nonmembers) and s.calibration == (s.cal_members, s.cal_nonmembers)
    assert score_split(SecMI(t_sec=20, k=10), target, split, seed=0, calibration=False).calibration is None
    sub = s.subset([0, 2], [1])
    assert torch.equal(sub.members, s.members[[0, 2]]) and torch.equal(sub.nonmembers, s.nonmembers[[1]])


def test_settings_are_checked_before_any_part_is_scored(split, linear_abar):
    calls = []
    target = DiffusionTarget(lambda x, t, cond=None: calls.append(1) or torch.zeros_like(x), linear_abar)
    with pytest.raises(ValueError, match="below step 0"):
        score_split(NoiseAggregation(t=30, m=10, K=5), target, split, seed=0)
    assert not calls
