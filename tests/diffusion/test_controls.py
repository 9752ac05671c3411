"""The memorising denoisers used as positive and negative controls: their closed forms."""

from __future__ import annotations

import pytest
import torch

from helpers import gen as _gen
from mialib.diffusion.controls import memorising_eps_fn


def test_bandwidth_memoriser_closed_forms(linear_abar):
    """One point p with bandwidth r is the Gaussian N(p, r^2 I): eps = sqrt(1-a) (x - sqrt(a) p) / v.
    Bandwidth 0 is the exact memoriser."""
    p = torch.full((1, 1, 2, 2), 0.3)
    x = torch.randn(3, 1, 2, 2, generator=_gen(0))
    t = torch.full((3,), 120)
    a, r = linear_abar[120].float(), 0.2
    want = (1 - a).sqrt() * (x - a.sqrt() * p) / (a * r ** 2 + 1 - a)
    torch.testing.assert_close(memorising_eps_fn(p, linear_abar, bandwidth=r)(x, t), want, rtol=1e-5, atol=1e-6)
    pts = torch.rand(5, 1, 2, 2, generator=_gen(1))
    torch.testing.assert_close(memorising_eps_fn(pts, linear_abar, bandwidth=0.0)(x, t),
                               memorising_eps_fn(pts, linear_abar)(x, t))
    with pytest.raises(ValueError, match="bandwidth"):
        memorising_eps_fn(pts, linear_abar, bandwidth=-1)

