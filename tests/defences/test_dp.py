"""DP-SGD: per-sample clipping checked against per-image gradients computed one image at a time,
the accountant against opacus' own accounting and the exact Gaussian mechanism, the bad inputs,
and DP training through the one training loop (seeded, resumable, hooks removed)."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest
import torch
from scipy.optimize import brentq
from scipy.stats import norm

from mialib.defences import dp
from mialib.diffusion.models import ModelConfig, build_scheduler, build_unet
from mialib.diffusion.training import TrainConfig, train_diffusion


class Tiny(torch.nn.Module):
    """Conv, GroupNorm and Linear: the layer types of the diffusers UNet."""

    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(1, 4, 3, padding=1)
        self.norm = torch.nn.GroupNorm(2, 4)
        self.lin = torch.nn.Linear(4 * 4 * 4, 3)

    def forward(self, x):
        return self.lin(torch.relu(self.norm(self.conv(x))).flatten(1))


def _per_image_grads(model, x, y):
    """Gradients of each image's own loss, one backward pass per image (the reference)."""
    out = []
    for i in range(len(x)):
        model.zero_grad()
        torch.nn.functional.mse_loss(model(x[i:i + 1]), y[i:i + 1]).backward()
        out.append([p.grad.detach().clone() for p in model.parameters()])
    return out


def test_per_sample_gradients_are_clipped_to_c_and_summed():
    torch.manual_seed(0)
    model, x, y = Tiny(), torch.randn(6, 1, 4, 4) * 3, torch.randn(6, 3) * 5
    ref = _per_image_grads(model, x, y)
    priv = dp.PerSampleGradients(model)
    model.zero_grad()
    torch.nn.functional.mse_loss(priv(x), y).backward()  # a MEAN over the batch, as training's loss
    got = priv.per_sample()
    for i in range(len(x)):  # opacus' per-sample gradients are the per-image gradients
        for g, r in zip(got, ref[i]):
            torch.testing.assert_close(g[i], r, rtol=1e-4, atol=1e-5)
    clip = 0.5
    norms_ref = torch.stack([torch.sqrt(sum((r ** 2).sum() for r in gi)) for gi in ref])
    assert (norms_ref > clip).all()  # every image's gradient is clipped
    norms = priv.private_gradient(clip, 0.0, 6.0, torch.Generator().manual_seed(0), len(x))
    torch.testing.assert_close(norms, norms_ref, rtol=1e-4, atol=1e-5)
    for k, p in enumerate(model.parameters()):  # sum of g_i * min(1, C/||g_i||), over the expected batch
        want = sum(ref[i][k] * min(1.0, clip / float(norms_ref[i])) for i in range(len(x))) / 6.0
        torch.testing.assert_close(p.grad, want, rtol=1e-4, atol=1e-6)
    # each clipped gradient has norm C, so the summed one is at most n * C
    total = torch.sqrt(sum((p.grad ** 2).sum() for p in model.parameters()))
    assert float(total) <= clip * len(x) / 6.0 + 1e-6
    priv.close()
    assert all(getattr(p, "grad_sample", None) is None for p in model.parameters())


def test_noise_is_gaussian_with_std_sigma_c_over_batch():
    torch.manual_seed(0)
    model = torch.nn.Linear(200, 50)
    priv = dp.PerSampleGradients(model)
    priv.private_gradient(2.0, 1.5, 4.0, torch.Generator().manual_seed(1), 0)  # empty batch: noise only
    g = model.weight.grad
    assert abs(float(g.std()) - 1.5 * 2.0 / 4.0) < 0.02 and abs(float(g.mean())) < 0.01


def test_accountant_matches_opacus_step_by_step_accounting():
    from opacus.accountants import RDPAccountant

    for sigma, q, steps in [(1.0, 0.25, 500), (4.0, 0.1, 200), (0.8, 1 / 16, 1000)]:
        acc = RDPAccountant()
        for _ in range(steps):  # what opacus' optimizer hook records during training
            acc.step(noise_multiplier=sigma, sample_rate=q)
        assert dp.epsilon(sigma, q, steps, 1e-4) == pytest.approx(acc.get_epsilon(delta=1e-4), rel=1e-9)


def _exact_gaussian_epsilon(mu: float, delta: float) -> float:
    """The exact ε of a Gaussian mechanism of sensitivity / noise ratio mu (Balle & Wang 2018, Thm. 8)."""
    f = lambda e: norm.cdf(-e / mu + mu / 2) - math.exp(e) * norm.cdf(-e / mu - mu / 2) - delta  # noqa: E731
    return brentq(f, 0.0, 100.0)


@pytest.mark.parametrize("sigma,steps", [(2.0, 1), (5.0, 10), (20.0, 100)])
def test_full_batch_accountant_bounds_the_exact_gaussian_mechanism(sigma, steps):
    # q = 1: T compositions of the Gaussian mechanism are one Gaussian mechanism with mu = sqrt(T) / sigma;
    # RDP's conversion is an upper bound on its exact ε, and not a loose one
    exact = _exact_gaussian_epsilon(math.sqrt(steps) / sigma, 1e-5)
    got = dp.epsilon(sigma, 1.0, steps, 1e-5)
    assert exact <= got <= 1.35 * exact


def test_noise_for_epsilon_reaches_the_target_and_inverts_epsilon():
    from opacus.accountants.utils import get_noise_multiplier

    q, steps, delta = 64 / 256, 1000, 1e-4
    for eps in (10.0, 1.0):
        sigma = dp.noise_for_epsilon(eps, delta, q, steps)
        assert eps * 0.99 <= dp.epsilon(sigma, q, steps, delta) <= eps
        assert sigma == pytest.approx(get_noise_multiplier(target_epsilon=eps, target_delta=delta, sample_rate=q,
                                                           steps=steps), rel=0.02)
    assert dp.noise_for_epsilon(1.0, delta, q, steps) > dp.noise_for_epsilon(10.0, delta, q, steps)


def test_bad_privacy_settings_are_refused_with_their_reason():
    with pytest.raises(ValueError, match="above 1"):
        dp.sample_rate(300, 256)
    with pytest.raises(ValueError, match="delta must lie in"):
        dp.check_privacy(1.0, 1 / 256, 256)
    with pytest.raises(ValueError, match="epsilon must be a positive"):
        dp.check_privacy(0.0, 1e-5, 256)
    with pytest.raises(ValueError, match="epsilon must be a positive"):
        dp.check_privacy(math.inf, 1e-5, 256)
    with pytest.raises(ValueError, match="no noise multiplier"):
        dp.noise_for_epsilon(1e-6, 1e-12, 1.0, 10**6)
    assert dp.epsilon(0.0, 0.5, 10, 1e-5) == math.inf


def test_layers_opacus_cannot_train_are_named():
    class Scale(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.gain = torch.nn.Parameter(torch.ones(1))

        def forward(self, x):
            return x * self.gain

    model = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3), torch.nn.BatchNorm2d(2), Scale())
    bad = dp.unsupported_layers(model)
    assert any(b.startswith("2 (Scale)") for b in bad) and any("BatchNorm" in b for b in bad)
    with pytest.raises(ValueError, match=r"2 \(Scale\)"):
        dp.check_private_model(model)
    assert dp.unsupported_layers(build_unet(ModelConfig())) == []  # the quick UNet can be trained privately


def _dp_run(steps, **kw):
    cfg = TrainConfig(steps=steps, batch_size=16, grad_clip=0.0, dp_clip=1.0, dp_noise=1.0, warmup_steps=2, **kw)
    torch.manual_seed(0)
    unet = build_unet(ModelConfig(block_out_channels=(8, 16)))
    images = torch.rand(32, 1, 8, 8) * 2 - 1
    return unet, images, cfg


def test_dp_training_is_seeded_resumable_and_leaves_a_plain_module(tmp_path):
    abar = build_scheduler().alphas_cumprod
    runs = []
    for _ in range(2):
        unet, images, cfg = _dp_run(6)
        runs.append(train_diffusion(unet, abar, images, cfg, progress=False))
    for a, b in zip(runs[0].ema_model.state_dict().values(), runs[1].ema_model.state_dict().values()):
        assert torch.equal(a, b)
    model = runs[0].model
    assert not model._forward_hooks and not any(m._forward_hooks or m._backward_hooks for m in model.modules())
    # 3 steps, then 3 more from the saved state: the 6-step model
    unet, images, cfg = _dp_run(3)
    first = train_diffusion(unet, abar, images, cfg, progress=False, keep_state=True)
    from mialib.diffusion.training import write_training_state

    write_training_state(tmp_path / "state.safetensors", first.state)
    unet, images, cfg = _dp_run(6)
    resumed = train_diffusion(unet, abar, images, cfg, progress=False, continue_from=[tmp_path / "state.safetensors"])
    assert resumed.resumed_from == 3
    for a, b in zip(resumed.ema_model.state_dict().values(), runs[0].ema_model.state_dict().values()):
        assert torch.equal(a, b)
    # noise changes the model: sigma 0 gives another one
    unet, images, cfg = _dp_run(6)
    quiet = train_diffusion(unet, abar, images, replace(cfg, dp_noise=0.0), progress=False)
    assert not torch.equal(next(iter(quiet.ema_model.parameters())), next(iter(runs[0].ema_model.parameters())))


def test_dp_settings_that_contradict_each_other_are_refused():
    with pytest.raises(ValueError, match="set grad_clip to 0"):
        TrainConfig(dp_clip=1.0, dp_noise=1.0)  # grad_clip defaults to 1: no batch-level clipping on the DP path
    with pytest.raises(ValueError, match="needs dp_clip"):
        TrainConfig(grad_clip=0.0, dp_noise=1.0)
    with pytest.raises(ValueError, match="dp_clip and dp_noise"):
        TrainConfig(grad_clip=0.0, dp_clip=-1.0)
    with pytest.raises(ValueError, match="unknown augmentation"):
        TrainConfig(augment="rotate")


def test_new_training_fields_leave_existing_cache_keys_alone():
    d = TrainConfig().to_dict()
    assert not {"augment", "dp_clip", "dp_noise", "snr_gamma"} & set(d)
    d = TrainConfig(grad_clip=0.0, dp_clip=1.0, dp_noise=0.5, augment="shift").to_dict()
    assert d["dp_clip"] == 1.0 and d["dp_noise"] == 0.5 and d["augment"] == "shift"
