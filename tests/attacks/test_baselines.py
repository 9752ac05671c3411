"""The naive loss and PIA/PIAN (docs/papers.md section 3): hand computations and bad input."""

from __future__ import annotations

import math

import pytest
import torch

from helpers import gen as _gen
from mialib.attacks import DiffusionTarget, naive_loss, noise_aggregation, pia_proximal


def test_naive_loss_hand_computed(linear_abar):
    target = DiffusionTarget(lambda x, t, cond=None: 0.5 * x, linear_abar)
    x0 = torch.rand(3, 1, 2, 2, generator=_gen(2)) * 2 - 1
    got = naive_loss(target, x0, t=150, generator=_gen(9))
    a = linear_abar[150].double()
    n = torch.randn(x0.shape, generator=_gen(9)).double()
    xt = a.sqrt() * x0.double() + (1 - a).sqrt() * n
    torch.testing.assert_close(got, -((n - 0.5 * xt) ** 2).flatten(1).sum(1), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("normalize", [False, True])
def test_pia_hand_computed(linear_abar, normalize):
    def eps_fn(x, t, cond=None):
        return torch.sin(3 * x) + t.view(-1, 1, 1, 1).float() / 1000
    target = DiffusionTarget(eps_fn, linear_abar)
    x0 = torch.rand(4, 1, 3, 3, generator=_gen(4)) * 2 - 1
    with target.counting(len(x0)) as q:
        got = pia_proximal(target, x0, t=200, p=4, normalize=normalize)
    assert q.per_sample == 2
    x = x0.double()
    e0 = torch.sin(3 * x)
    if normalize:
        e0 = e0 * math.sqrt(2 / math.pi) / e0.abs().flatten(1).mean(1).view(-1, 1, 1, 1)
    a = linear_abar[200].double()
    et = torch.sin(3 * (a.sqrt() * x + (1 - a).sqrt() * e0)) + 0.2
    torch.testing.assert_close(got, -((e0 - et).abs() ** 4).flatten(1).sum(1), rtol=1e-4, atol=1e-6)


def test_pia_bad_parameters(linear_abar):
    target = DiffusionTarget(lambda x, t, cond=None: torch.zeros_like(x), linear_abar)
    with pytest.raises(ValueError, match="p must"):
        pia_proximal(target, torch.zeros(1, 1, 2, 2), p=0)
    with pytest.raises(ValueError, match="t must"):
        pia_proximal(target, torch.zeros(1, 1, 2, 2), t=0)
    with pytest.raises(ValueError, match="t must"):
        naive_loss(target, torch.zeros(1, 1, 2, 2), t=-1)


@pytest.mark.parametrize("fn", [noise_aggregation, naive_loss, pia_proximal])
@pytest.mark.parametrize("bad, match", [
    (torch.zeros(4, 4), "4 dimensions"), (torch.zeros(0, 1, 4, 4), "empty"),
    (torch.full((1, 1, 4, 4), 2.0), r"\[-1, 1\]"), (torch.full((1, 1, 4, 4), float("nan")), "NaN"),
])
def test_bad_images_raise_for_every_attack(linear_abar, fn, bad, match):
    target = DiffusionTarget(lambda x, t, cond=None: torch.zeros_like(x), linear_abar)
    with pytest.raises(ValueError, match=match):
        fn(target, bad)

