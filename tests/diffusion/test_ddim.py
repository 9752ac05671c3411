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


@pytest.mark.parametrize("eta", [0.5, 1.0])
def test_stochastic_ddim_step_matches_diffusers_ddim_scheduler_with_the_same_noise(eta):
    """Song et al. eq. 12 with sigma of eq. 16: diffusers' DDIMScheduler.step at ``eta`` given the
    same ``variance_noise``."""
    from diffusers import DDIMScheduler

    from mialib.diffusion.ddim import ddim_sample_step
    from mialib.diffusion.models import build_scheduler
    base = build_scheduler()
    sched = DDIMScheduler.from_config(base.config, clip_sample=False, set_alpha_to_one=False,
                                      prediction_type="epsilon", steps_offset=1)
    sched.set_timesteps(10)
    abar = base.alphas_cumprod
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(3, 3, 8, 8, generator=gen)
    for t in sched.timesteps.tolist()[:-1]:
        e, z = torch.randn(x.shape, generator=gen), torch.randn(x.shape, generator=gen)
        prev = t - 100
        want = sched.step(e, t, x, eta=eta, variance_noise=z).prev_sample
        got = ddim_sample_step(x, e, float(abar[t]), float(abar[prev]), eta, z)
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)
        x = want


def test_stochastic_ddim_step_at_eta_1_on_consecutive_steps_is_ddpm_ancestral_sampling():
    """At eta = 1 and u = s - 1 the step is Ho et al.'s (2020) ancestral step: the posterior mean
    (eq. 7, through x0^) plus sqrt(beta~_s) z with beta~_s = (1 - abar_{s-1}) / (1 - abar_s) beta_s."""
    from mialib.diffusion.ddim import ddim_sample_step
    from mialib.diffusion.models import build_scheduler
    sched = build_scheduler()
    abar = sched.alphas_cumprod.double()   # beta_s from abar (the stored betas are float32 roundings)
    gen = torch.Generator().manual_seed(2)
    for s in (1, 10, 500, 999):
        x, e, z = (torch.randn(4, 1, 4, 4, generator=gen, dtype=torch.float64) for _ in range(3))
        a_s, a_u = abar[s], abar[s - 1]
        b = 1 - a_s / a_u
        x0 = (x - (1 - a_s).sqrt() * e) / a_s.sqrt()
        mean = a_u.sqrt() * b / (1 - a_s) * x0 + (1 - b).sqrt() * (1 - a_u) / (1 - a_s) * x
        want = mean + ((1 - a_u) / (1 - a_s) * b).sqrt() * z
        torch.testing.assert_close(ddim_sample_step(x, e, float(a_s), float(a_u), 1.0, z), want, rtol=1e-9, atol=1e-9)


def test_stochastic_ddim_step_at_eta_0_is_the_deterministic_step_and_needs_no_noise():
    from mialib.diffusion.ddim import ddim_sample_step
    x, e = torch.randn(2, 1, 4, 4), torch.randn(2, 1, 4, 4)
    assert torch.equal(ddim_sample_step(x, e, 0.3, 0.7, 0.0, None), ddim_step(x, e, 0.3, 0.7))
