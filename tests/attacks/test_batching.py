"""The shared per-image loop: batches of images with their conditioning, the generator check."""

from __future__ import annotations

import pytest
import torch

from mialib.attacks import DiffusionTarget, naive_loss, noise_aggregation_noises
from mialib.attacks.batching import check_generator, iter_batches


def test_batches_cover_the_images_in_order_with_their_conditioning(linear_abar):
    target = DiffusionTarget(lambda x, t, cond=None: x, linear_abar, batch_size=3)
    x0, cond = torch.arange(7.0).view(7, 1, 1, 1), torch.arange(7) * 10
    got = list(iter_batches(target, x0, cond))
    assert [sl for sl, _, _ in got] == [slice(0, 3), slice(3, 6), slice(6, 7)]
    for sl, x, c in got:
        assert torch.equal(x, x0[sl]) and torch.equal(c, cond[sl])
    assert all(c is None for _, _, c in iter_batches(target, x0))


@pytest.mark.parametrize("attack", [naive_loss, noise_aggregation_noises])
def test_noise_drawing_attacks_refuse_a_seed_for_a_generator(linear_abar, attack):
    calls = []
    target = DiffusionTarget(lambda x, t, cond=None: calls.append(1) or x, linear_abar)
    check_generator(None), check_generator(torch.Generator())
    with pytest.raises(ValueError, match="generator must be a torch.Generator or None, got int"):
        attack(target, torch.zeros(2, 1, 2, 2), generator=0)
    assert not calls
