"""The training loop: loss curve, EMA, seeding, resuming from one-file states (interrupted
runs and shorter runs), snapshots, class labels; on tiny UNets trained for a few steps."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from safetensors import safe_open

from helpers import Interrupt as _Interrupt
from helpers import same_weights as _same
from helpers import short_training as _small
from helpers import tiny_unet as _unet
from helpers import weights as _weights
from mialib.diffusion.models import ModelConfig, build_scheduler
from mialib.diffusion.training import (TrainConfig, read_training_state, state_meta,
                                       train_diffusion)


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """One intra-op thread: fast on a busy 2-core machine, and one reduction order."""
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


@pytest.fixture(scope="module")
def abar():
    return build_scheduler().alphas_cumprod


@pytest.fixture(scope="module")
def images():
    from mialib.data import load_digits
    return load_digits().images[:8].clone()


def _train(model, abar, images, cfg, **kw):
    kw.setdefault("progress", False)
    return train_diffusion(model, abar, images, cfg, **kw)


@pytest.mark.parametrize("kw", [
    {"steps": 0}, {"steps": -3}, {"batch_size": 0}, {"ema_decay": 1.0}, {"ema_decay": -0.1},
    {"label_dropout": 1.0}, {"label_dropout": -0.5}, {"lr": 0.0}, {"lr": -1e-3}, {"grad_clip": -1.0},
])
def test_train_config_validation(kw):
    with pytest.raises(ValueError):
        TrainConfig(**kw)


def test_train_config_defaults_round_trip():
    cfg = TrainConfig(steps=7, ema_decay=0.0, label_dropout=0.1)
    d = cfg.to_dict()
    assert d["steps"] == 7 and d["ema_decay"] == 0.0 and d["label_dropout"] == 0.1
    assert TrainConfig(**d) == cfg


@pytest.mark.parametrize("steps,log_points,expected", [
    (12, 4, [3, 6, 9, 12]),
    (10, 3, [3, 6, 9, 10]),
    (5, 100, [1, 2, 3, 4, 5]),
])
def test_loss_curve(abar, images, steps, log_points, expected):
    model = _unet(0)
    init = _weights(model)
    res = _train(model, abar, images, _small(steps=steps), log_points=log_points)
    assert [s for s, _ in res.loss_curve] == expected
    losses = np.array([l for _, l in res.loss_curve])
    assert np.all(np.isfinite(losses)) and np.all(losses > 0)
    assert res.resumed_from == 0 and res.wall_time_s > 0
    assert res.model is model and not res.model.training and not res.ema_model.training
    assert not any(p.requires_grad for p in res.ema_model.parameters())
    assert not _same(init, res.model)  # it trained


def test_ema_is_an_average_of_the_weights(abar, images):
    init = _unet(0)
    w0 = _weights(init)
    res = _train(_unet(0), abar, images, _small(steps=1, ema_decay=0.75))
    w1, ema = _weights(res.model), _weights(res.ema_model)
    for k in w0:
        assert torch.allclose(ema[k], 0.75 * w0[k] + 0.25 * w1[k], atol=1e-6), k
    res = _train(_unet(0), abar, images, _small(steps=6, ema_decay=0.9))
    assert not _same(res.ema_model, res.model)
    assert not _same(res.ema_model, w0)


def test_ema_decay_zero_is_the_raw_model(abar, images):
    res = _train(_unet(0), abar, images, _small(steps=6, ema_decay=0.0))
    assert _same(res.ema_model, res.model)
    assert res.ema_model is not res.model


def test_training_is_deterministic_per_seed(abar, images):
    a = _train(_unet(0), abar, images, _small(seed=1))
    b = _train(_unet(0), abar, images, _small(seed=1))
    assert _same(a.ema_model, b.ema_model) and _same(a.model, b.model)
    assert a.loss_curve == b.loss_curve
    c = _train(_unet(0), abar, images, _small(seed=2))
    assert not _same(a.ema_model, c.ema_model)
    assert a.loss_curve != c.loss_curve


def test_training_lowers_the_loss(abar, images):
    res = _train(_unet(0), abar, images, _small(steps=150, warmup_steps=10), log_points=10)
    losses = [l for _, l in res.loss_curve]
    assert len(losses) == 10
    first, last = np.mean(losses[:2]), np.mean(losses[-2:])
    assert last < 0.7 * first, losses


def test_train_diffusion_rejects_bad_images(abar, images):
    with pytest.raises(ValueError):
        _train(_unet(0), abar, images[0], _small())
    with pytest.raises(ValueError):
        _train(_unet(0), abar, images[:0], _small())


def test_conditional_training(abar, images):
    cfg3 = ModelConfig(image_size=8, channels=1, block_out_channels=(8, 16), norm_num_groups=4,
                       num_classes=3)
    labels = np.array([0, 1, 2, 0, 1, 2, 0, 1])
    with pytest.raises(ValueError, match="null_label"):
        _train(_unet(0, cfg3), abar, images, _small(label_dropout=0.5), labels=labels)
    with pytest.raises(ValueError, match="labels"):
        _train(_unet(0, cfg3), abar, images, _small(), labels=labels[:5])

    null_row = _unet(0, cfg3).class_embedding.weight[3].detach().clone()
    with_drop = _train(_unet(0, cfg3), abar, images, _small(label_dropout=0.5), labels=labels,
                       null_label=3)
    assert [s for s, _ in with_drop.loss_curve][-1] == 10
    # the null label was used, so its embedding was trained
    assert not torch.equal(with_drop.model.class_embedding.weight[3], null_row)
    no_drop = _train(_unet(0, cfg3), abar, images, _small(), labels=torch.as_tensor(labels), null_label=3)
    # without dropout the null label never occurs: its embedding is untouched, the others move
    assert torch.equal(no_drop.model.class_embedding.weight[3], null_row)
    assert not torch.equal(no_drop.model.class_embedding.weight[0],
                           _unet(0, cfg3).class_embedding.weight[0])


def test_snapshots_are_the_models_shorter_runs_give(abar, images):
    """Constant learning rate after warm-up and one generator: the EMA model at step 4 of an
    8-step run is bitwise the model of a 4-step run."""
    snaps = {}
    long = _train(_unet(), abar, images, _small(steps=8), snapshot_steps=(4,),
                  on_snapshot=lambda step, ema, curve: snaps.setdefault(step, _weights(ema)))
    short = _train(_unet(), abar, images, _small(steps=4))
    assert set(snaps) == {4}
    assert _same(snaps[4], short.ema_model)
    assert not _same(snaps[4], long.ema_model)


def _info(path):
    with safe_open(str(path), framework="pt") as fh:
        return json.loads(fh.metadata()["mialib"])


@pytest.mark.filterwarnings("error::UserWarning")
def test_resume_after_interruption_is_bitwise_identical(abar, images, tmp_path):
    cfg = _small(steps=20)
    ckpt = tmp_path / "checkpoint.safetensors"
    full = _train(_unet(0), abar, images, cfg, log_points=20)

    model = _unet(0)
    hook = _Interrupt(15)
    model.register_forward_pre_hook(hook)
    with pytest.raises(KeyboardInterrupt):
        _train(model, abar, images, cfg, checkpoint=ckpt, checkpoint_every=10, log_points=20)
    assert hook.calls == 15
    info = _info(ckpt)
    assert info["step"] == 10 and len(info["loss_curve"]) == 10
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint.safetensors"]  # one file, no temporaries

    # a fresh process builds a model with other initial weights: the checkpoint replaces them
    resumed = _train(_unet(123), abar, images, cfg, checkpoint=ckpt, checkpoint_every=10, log_points=20)
    assert resumed.resumed_from == 10
    assert _same(resumed.ema_model, full.ema_model)
    assert _same(resumed.model, full.model)
    assert [tuple(x) for x in resumed.loss_curve] == [tuple(x) for x in full.loss_curve]
    # no checkpoint is written at the last step: the newest stays at step 10
    assert _info(ckpt)["step"] == 10


def test_resume_ignores_foreign_checkpoints_and_warns_on_corrupt_ones(abar, images, tmp_path):
    ckpt = tmp_path / "checkpoint.safetensors"
    cfg = _small(steps=20)
    _train(_unet(0), abar, images, cfg, checkpoint=ckpt, checkpoint_every=10)
    assert _train(_unet(0), abar, images, cfg, checkpoint=ckpt,
                  checkpoint_every=10).resumed_from == 10  # same settings: resumes
    fresh_other = _train(_unet(0), abar, images, _small(steps=20, lr=1e-3))
    other = _train(_unet(0), abar, images, _small(steps=20, lr=1e-3), checkpoint=ckpt, checkpoint_every=10)
    assert other.resumed_from == 0
    assert _same(other.ema_model, fresh_other.ema_model)  # nothing of the foreign checkpoint leaked in
    # the foreign run overwrote the checkpoint at step 10: now other images do not match it
    assert _train(_unet(0), abar, images[:6], _small(steps=20, lr=1e-3), checkpoint=ckpt,
                  checkpoint_every=10).resumed_from == 0
    # a corrupt file is ignored with a warning, not fatal, and the run equals a fresh one
    ckpt.write_bytes(b"garbage")
    with pytest.warns(RuntimeWarning, match="unreadable training state"):
        again = _train(_unet(0), abar, images, _small(steps=20, lr=1e-3), checkpoint=ckpt, checkpoint_every=10)
    assert again.resumed_from == 0 and _same(again.ema_model, fresh_other.ema_model)


def test_a_state_missing_a_field_restores_nothing(abar, images, tmp_path):
    """Every field is checked before anything is loaded: an incomplete state cannot leave its
    weights in a run that then 'starts afresh'."""
    cfg = _small(steps=12)
    res = _train(_unet(0), abar, images, cfg, keep_state=True)
    tensors, metadata = res.state
    info = json.loads(metadata["mialib"])
    del info["window_acc"]
    from safetensors.torch import save_file
    bad = tmp_path / "state.safetensors"
    save_file(tensors, str(bad), metadata={"mialib": json.dumps(info)})
    with pytest.raises(ValueError, match="incomplete"):
        read_training_state(bad, info["meta"])
    fresh = _train(_unet(0), abar, images, _small(steps=20))
    with pytest.warns(RuntimeWarning, match="incomplete"):
        cont = _train(_unet(0), abar, images, _small(steps=20), continue_from=[bad])
    assert cont.resumed_from == 0 and _same(cont.ema_model, fresh.ema_model)


def test_continuing_a_shorter_run_equals_a_run_from_scratch(abar, images, tmp_path):
    """The final state of a 6-step run continues to 10 steps bitwise like a 10-step run."""
    short = _train(_unet(0), abar, images, _small(steps=6), keep_state=True)
    path = tmp_path / "state.safetensors"
    from safetensors.torch import save_file
    save_file(short.state[0], str(path), metadata=short.state[1])
    scratch = _train(_unet(0), abar, images, _small(steps=10))
    cont = _train(_unet(7), abar, images, _small(steps=10), continue_from=[path])
    assert cont.resumed_from == 6
    assert _same(cont.ema_model, scratch.ema_model) and _same(cont.model, scratch.model)
    # other data or other settings do not continue it
    assert _train(_unet(0), abar, images[:7], _small(steps=10), continue_from=[path]).resumed_from == 0
    assert _train(_unet(0), abar, images, _small(steps=10, lr=1e-3), continue_from=[path]).resumed_from == 0
    # a longer state cannot serve a shorter run
    assert _train(_unet(0), abar, images, _small(steps=4), continue_from=[path]).resumed_from == 0


def test_state_meta_ignores_steps_only():
    x = torch.zeros(3, 1, 8, 8)
    a = state_meta(_small(steps=5), x, None)
    assert a == state_meta(_small(steps=50), x, None)
    assert a != state_meta(_small(steps=5, seed=1), x, None)
    assert a != state_meta(_small(steps=5), x + 0.5, None)
    assert a != state_meta(_small(steps=5), x, np.array([0, 1, 0]))


def test_the_loss_regresses_the_noise_at_uniform_timesteps(images):
    """Pin what the loop optimises: with a model that outputs a constant c, the loss is
    E||n - c||^2 = 1 + c^2 for standard normal noise, whatever x0 is, and timesteps are drawn
    from the whole schedule."""
    seen_t = []

    class Const(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.c = torch.nn.Parameter(torch.tensor(0.5))

        def forward(self, x, t, **kw):
            seen_t.append(t.clone())
            return type("Out", (), {"sample": self.c.expand_as(x)})()

    abar = build_scheduler().alphas_cumprod
    res = _train(Const(), abar, images, TrainConfig(steps=1, batch_size=4096, lr=1e-9, warmup_steps=1),
                 log_points=1)
    assert res.loss_curve[0][1] == pytest.approx(1 + 0.5 ** 2, rel=0.01)
    t = torch.cat(seen_t)
    assert t.min() < 20 and t.max() > 980 and abs(t.float().mean().item() - 499.5) < 15


def test_the_model_sees_the_forward_process_of_eq_1(images):
    """Replaying the seeded generator gives exactly the batch, timesteps and noise the loop drew,
    so the model's input must be sqrt(abar_t) x0 + sqrt(1 - abar_t) n."""
    seen = []

    class Record(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.zeros(()))

        def forward(self, x, t, **kw):
            seen.append((x.detach().clone(), t.clone()))
            return type("Out", (), {"sample": x * self.w})()

    abar = build_scheduler().alphas_cumprod
    cfg = TrainConfig(steps=2, batch_size=5, seed=3)
    _train(Record(), abar, images, cfg)
    gen = torch.Generator().manual_seed(3)
    for x_seen, t_seen in seen:
        idx = torch.randint(0, len(images), (5,), generator=gen)
        t = torch.randint(0, 1000, (5,), generator=gen)
        noise = torch.randn((5, *images.shape[1:]), generator=gen)
        a = abar[t].float().view(-1, 1, 1, 1)
        assert torch.equal(t_seen, t)
        torch.testing.assert_close(x_seen, a.sqrt() * images[idx] + (1 - a).sqrt() * noise)


def test_warm_up_scales_the_first_steps(images):
    """Adam's first update moves each weight by about the learning rate: with warm-up over W
    steps, step 1 uses lr / W."""
    abar = build_scheduler().alphas_cumprod
    model = _unet(0)
    before = _weights(model)
    res = _train(model, abar, images, _small(steps=1, lr=0.01, warmup_steps=4, ema_decay=0.0))
    moved = torch.cat([(res.model.state_dict()[k] - before[k]).abs().flatten() for k in before
                       if before[k].dtype.is_floating_point])
    assert moved.max().item() == pytest.approx(0.01 / 4, rel=0.05)


def test_grad_clip_zero_switches_clipping_off(abar, images):
    """grad_clip=0 leaves the gradients as they are (the VAE's setting): the same weights as a
    threshold no gradient reaches, and not those of a clipping threshold."""
    off = _train(_unet(0), abar, images, _small(steps=3, grad_clip=0.0))
    huge = _train(_unet(0), abar, images, _small(steps=3, grad_clip=1e30))
    tight = _train(_unet(0), abar, images, _small(steps=3, grad_clip=1e-3))
    assert _same(off.model, huge.model) and not _same(off.model, tight.model)
