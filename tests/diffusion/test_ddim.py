"""The deterministic DDIM map (docs/papers.md eq. 2): hand computation and exact round trips."""

from __future__ import annotations

import pytest
import torch

from mialib.diffusion.ddim import ddim_step, predict_x0
from mialib.diffusion.target import DiffusionTarget


def test_ddim_step_matches_hand_computation():
    x, e = torch.tensor([0.5]), torch.tensor([0.2])
    a_s, a_u = 0.81, 0.64
    expected = 0.8 * (0.5 - 0.19 ** 0.5 * 0.2) / 0.9 + 0.6 * 0.2
    assert ddim_step(x, e, a_s, a_u).item() == pytest.approx(expected, rel=1e-6)
    assert predict_x0(x, e, a_s).item() == pytest.approx((0.5 - 0.19 ** 0.5 * 0.2) / 0.9, rel=1e-6)


def test_ddim_round_trip_is_exact_when_eps_is_constant(linear_abar):
    """With a noise prediction that does not depend on x, D(D(x, s->u), u->s) = x."""
    const = torch.randn(1, 1, 4, 4, generator=torch.Generator().manual_seed(1))
    target = DiffusionTarget(lambda x, t, cond=None: const.expand_as(x), linear_abar)
    x = torch.rand(3, 1, 4, 4) * 2 - 1
    up, _ = target.ddim(x, 30, 90)
    back, _ = target.ddim(up, 90, 30)
    torch.testing.assert_close(back, x, rtol=0, atol=1e-5)



@pytest.mark.parametrize("steps", [10, 50])
def test_ddim_step_matches_diffusers_ddim_scheduler(steps):
    """D(x, s -> u) of docs/papers.md eq. (2) is diffusers' DDIMScheduler.step at eta = 0 for
    an epsilon model (no sample clipping, the last step to abar_0 as set_alpha_to_one=False)."""
    from diffusers import DDIMScheduler

    from mialib.diffusion.models import build_scheduler
    base = build_scheduler()
    sched = DDIMScheduler.from_config(base.config, clip_sample=False, set_alpha_to_one=False,
                                      prediction_type="epsilon", steps_offset=1)
    sched.set_timesteps(steps)
    abar = base.alphas_cumprod
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(3, 4, 8, 8, generator=gen)
    for t in sched.timesteps.tolist():
        e = torch.randn(x.shape, generator=gen)
        prev = t - sched.config.num_train_timesteps // steps
        want = sched.step(e, t, x, eta=0.0).prev_sample
        got = ddim_step(x, e, float(abar[t]), float(abar[prev] if prev >= 0 else abar[0]))
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)
        x = want
