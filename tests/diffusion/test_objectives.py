"""The pluggable objectives of the one training loop: condition dropout (one branch for class
labels and text embeddings), and the VAE trained, interrupted and resumed through ``fit``."""

from __future__ import annotations

import pytest
import torch

from helpers import Interrupt as _Interrupt
from helpers import same_weights as _same
from mialib.diffusion.objectives import VAEObjective, drop_condition
from mialib.diffusion.parts import TextToImageConfig, build_vae
from mialib.diffusion.text_to_image import train_vae, vae_train_config
from mialib.diffusion.training import fit, read_training_state, state_meta

CFG = TextToImageConfig(vae_channels=(8, 16), vae_steps=6, batch_size=4)


@pytest.fixture(scope="module")
def images():
    return torch.rand(6, 3, 8, 8, generator=torch.Generator().manual_seed(0)) * 2 - 1


@pytest.mark.parametrize("cond, null", [
    (torch.arange(8), torch.tensor(9)),                                  # class labels
    (torch.randn(8, 3, 2, generator=torch.Generator().manual_seed(1)), torch.full((3, 2), 7.0)),  # text embeddings
])
def test_drop_condition_replaces_whole_entries_with_one_draw_each(cond, null):
    gen = torch.Generator().manual_seed(5)
    out = drop_condition(cond, null, 0.5, gen)
    drop = torch.rand(8, generator=torch.Generator().manual_seed(5)) < 0.5
    assert 0 < int(drop.sum()) < 8 and out.dtype == cond.dtype
    for i in range(8):
        assert torch.equal(out[i], null.to(cond.dtype) if drop[i] else cond[i])
    after = torch.Generator().manual_seed(5)
    torch.rand(8, generator=after)
    assert torch.equal(gen.get_state(), after.get_state())  # exactly one number per entry


def test_vae_training_resumes_bitwise(images, tmp_path):
    cfg, objective = vae_train_config(CFG, seed=2), VAEObjective(CFG.vae_kl_weight)
    full = fit(build_vae(CFG, seed=2), images, cfg, objective, progress=False)
    vae = build_vae(CFG, seed=2)
    vae.encoder.register_forward_pre_hook(_Interrupt(4))
    ckpt = tmp_path / "vae.safetensors"
    with pytest.raises(KeyboardInterrupt):
        fit(vae, images, cfg, objective, checkpoint=ckpt, checkpoint_every=3, progress=False)
    resumed = fit(build_vae(CFG, seed=99), images, cfg, objective, checkpoint=ckpt, checkpoint_every=3, progress=False)
    assert resumed.resumed_from == 3
    assert _same(resumed.model, full.model) and resumed.loss_curve == full.loss_curve
    assert not _same(full.model, build_vae(CFG, seed=2))  # it trained


def test_a_vae_state_is_not_continued_as_a_denoising_state(images, tmp_path):
    cfg = vae_train_config(CFG)
    assert vae_train_config(CFG).ema_decay == 0 and cfg.warmup_steps == 0 and cfg.grad_clip == 0
    done = fit(build_vae(CFG), images, cfg, VAEObjective(CFG.vae_kl_weight), keep_state=True, progress=False)
    path = tmp_path / "s.safetensors"
    from mialib.diffusion.training import write_training_state
    write_training_state(path, done.state)
    assert read_training_state(path, state_meta(cfg, images, None, objective=VAEObjective(1e-4).meta)) is not None
    assert read_training_state(path, state_meta(cfg, images, None)) is None
    assert read_training_state(path, state_meta(cfg, images, None, objective=VAEObjective(1e-3).meta)) is None


def test_train_vae_keeps_its_final_state_and_sets_the_scaling_factor(images, tmp_path):
    ckpt = tmp_path / "vae.safetensors"
    first = build_vae(CFG, seed=1)
    curve = train_vae(first, images, CFG, seed=1, progress=False, checkpoint=ckpt)
    assert len(curve) == CFG.vae_steps and ckpt.is_file()
    means = torch.cat([first.encode(images).latent_dist.mean.detach()])
    assert first.config.scaling_factor == pytest.approx(1 / float(means.std()), rel=1e-5)
    again = build_vae(CFG, seed=7)  # a rerun after an interruption later on: the final state is restored
    assert train_vae(again, images, CFG, seed=1, progress=False, checkpoint=ckpt) == curve
    assert _same(again, first) and again.config.scaling_factor == first.config.scaling_factor


class _ConstantNoise(torch.nn.Module):
    """A 'UNet' that predicts the same noise everywhere: its squared error per image is known."""

    def __init__(self, value: float):
        super().__init__()
        self.value = value

    def forward(self, x, t, **kw):
        return type("Out", (), {"sample": torch.full_like(x, self.value)})()


@pytest.mark.parametrize("gamma", [0.5, 5.0])
def test_min_snr_weighting_is_hang_et_al_for_noise_prediction(gamma):
    """Loss = mean over images of min(SNR_t, gamma) / SNR_t x the image's mean squared error,
    recomputed here from the same draws (t, then the noise, from the generator)."""
    from mialib.diffusion.models import build_scheduler
    from mialib.diffusion.objectives import DenoisingObjective
    abar = build_scheduler().alphas_cumprod
    x0 = torch.rand(16, 1, 4, 4, generator=torch.Generator().manual_seed(0)) * 2 - 1
    model = _ConstantNoise(0.3)
    got = DenoisingObjective(abar, "cpu", snr_gamma=gamma)(model, x0, None, torch.Generator().manual_seed(7))
    g = torch.Generator().manual_seed(7)
    t = torch.randint(0, len(abar), (16,), generator=g)
    noise = torch.randn((16, 1, 4, 4), generator=g)
    snr = abar[t].double() / (1 - abar[t].double())
    weight = torch.minimum(snr, torch.tensor(gamma, dtype=torch.float64)) / snr
    want = (weight * (0.3 - noise.double()).pow(2).flatten(1).mean(1)).mean()
    assert got.item() == pytest.approx(want.item(), rel=1e-5)
    assert (weight < 1).any() and (weight == 1).any()      # both regimes occur among these t
    uniform = DenoisingObjective(abar, "cpu")(model, x0, None, torch.Generator().manual_seed(7))
    assert uniform.item() == pytest.approx((0.3 - noise.double()).pow(2).mean().item(), rel=1e-5)
    assert got.item() < uniform.item()


def test_snr_gamma_enters_the_cache_key_only_when_set():
    from mialib.diffusion.training import TrainConfig
    assert "snr_gamma" not in TrainConfig().to_dict()          # keys of models trained before it existed hold
    assert TrainConfig(snr_gamma=5.0).to_dict()["snr_gamma"] == 5.0
    with pytest.raises(ValueError, match="snr_gamma"):
        TrainConfig(snr_gamma=-1.0)


def _grads(model, loss) -> list[torch.Tensor]:
    model.zero_grad(set_to_none=True)
    loss.backward()
    return [p.grad.clone() for p in model.parameters() if p.grad is not None]


def _sharded_equals_whole(model, objective, x, cond, world: int, atol: float):
    """Data parallelism's arithmetic, in one process: each of ``world`` ranks draws the whole batch's
    randomness from the same seed and runs its contiguous shard; the mean of their gradients (what
    an all-reduce average gives) is the whole batch's gradient, and every rank's generator ends
    where the one-process run's does."""
    from helpers import gen

    g_whole = gen(3)
    whole = _grads(model, objective(model, x, cond, g_whole))
    per_rank, b = [], len(x)
    for rank in range(world):
        g = gen(3)
        shard = slice(rank * b // world, (rank + 1) * b // world)
        per_rank.append(_grads(model, objective(model, x, cond, g, shard=shard)))
        assert torch.equal(g.get_state(), g_whole.get_state()), "a rank's generator drifted from the one-process run"
    for w, *shards in zip(whole, *per_rank):
        torch.testing.assert_close(torch.stack(shards).mean(0), w, atol=atol, rtol=1e-4)


@pytest.mark.parametrize("world", [2, 4])
def test_a_sharded_denoising_step_is_the_whole_batch_step(world):
    from helpers import tiny_unet
    from mialib.diffusion.models import build_scheduler
    from mialib.diffusion.objectives import DenoisingObjective

    torch.manual_seed(0)
    model = tiny_unet()
    x = torch.rand(8, 1, 8, 8) * 2 - 1
    abar = build_scheduler().alphas_cumprod
    _sharded_equals_whole(model, DenoisingObjective(abar, "cpu"), x, None, world, atol=1e-6)
    _sharded_equals_whole(model, DenoisingObjective(abar, "cpu", snr_gamma=5.0), x, None, world, atol=1e-6)


def test_a_sharded_conditional_step_with_guidance_dropout_is_the_whole_batch_step():
    from helpers import TINY, tiny_unet
    from dataclasses import replace
    from mialib.diffusion.models import build_scheduler
    from mialib.diffusion.objectives import DenoisingObjective

    model = tiny_unet(cfg=replace(TINY, num_classes=10))
    x = torch.rand(8, 1, 8, 8) * 2 - 1
    labels = torch.arange(8) % 10
    objective = DenoisingObjective(build_scheduler().alphas_cumprod, "cpu", cond_kw="class_labels",
                                   null=torch.tensor(10), dropout=0.5)
    _sharded_equals_whole(model, objective, x, labels, 2, atol=1e-6)


def test_a_sharded_vae_step_is_the_whole_batch_step():
    torch.manual_seed(0)
    size = CFG.image_size
    _sharded_equals_whole(build_vae(CFG, seed=2), VAEObjective(1e-3), torch.rand(8, 3, size, size) * 2 - 1, None, 2,
                          atol=1e-6)
