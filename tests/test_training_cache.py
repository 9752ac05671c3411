"""Models, the training loop (EMA, seeding, resuming, labels), the model cache and the
experiment glue, on tiny UNets (8x8, widths 8 and 16) trained for a few steps."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
import torch

from mialib import cache, experiment
from mialib.data import load_digits
from mialib.experiment import TargetSpec, cache_key, get_target, load_data
from mialib.models import ModelConfig, build_scheduler, build_unet, count_parameters
from mialib.training import TrainConfig, train_diffusion

CFG = ModelConfig(image_size=8, channels=1, block_out_channels=(8, 16), norm_num_groups=4)


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
    return load_digits().images[:8].clone()


def _unet(seed=0, cfg=CFG):
    torch.manual_seed(seed)
    return build_unet(cfg)


def _weights(model):
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def _same(a, b):
    a, b = (m if isinstance(m, dict) else _weights(m) for m in (a, b))
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def _train(model, abar, images, cfg, **kw):
    kw.setdefault("progress", False)
    return train_diffusion(model, abar, images, cfg, **kw)


def _small(**kw):
    kw = {"steps": 10, "batch_size": 4, "lr": 5e-3, "warmup_steps": 2, "ema_decay": 0.9, **kw}
    return TrainConfig(**kw)


# ----------------------------------------------------------------------------- models
@pytest.mark.parametrize("cfg", [
    CFG,
    ModelConfig(image_size=8, channels=3, block_out_channels=(8, 16), norm_num_groups=4),
    ModelConfig(image_size=8, channels=1, block_out_channels=(8, 16), norm_num_groups=4,
                attention=(False, True)),
    ModelConfig(image_size=16, channels=1, block_out_channels=(8, 8, 16), norm_num_groups=8),
])
def test_build_unet_output_shape(cfg):
    model = _unet(0, cfg)
    x = torch.randn(3, cfg.channels, cfg.image_size, cfg.image_size)
    with torch.no_grad():
        out = model(x, torch.tensor([0, 500, 999])).sample
    assert out.shape == x.shape
    assert torch.isfinite(out).all()
    assert count_parameters(model) == sum(p.numel() for p in model.parameters()) > 0
    assert list(model.config.block_out_channels) == list(cfg.block_out_channels)


def test_model_config_normalises_and_validates():
    cfg = ModelConfig(block_out_channels=[16, 32])
    assert cfg.block_out_channels == (16, 32) and cfg.attention == (False, False)
    assert cfg.to_dict()["block_out_channels"] == (16, 32)
    with pytest.raises(ValueError, match="norm_num_groups"):
        ModelConfig(block_out_channels=(8, 12), norm_num_groups=8)
    with pytest.raises(ValueError, match="norm_num_groups"):
        ModelConfig(block_out_channels=(32, 64), norm_num_groups=3)
    with pytest.raises(ValueError, match="attention"):
        ModelConfig(block_out_channels=(8, 16), attention=(True,))
    with pytest.raises(ValueError, match="attention"):
        ModelConfig(block_out_channels=(8, 16), attention=(True, False, True))
    with pytest.raises(ValueError, match="divisible by"):
        ModelConfig(image_size=6, block_out_channels=(8, 16, 32))
    with pytest.raises(ValueError, match="divisible by"):
        ModelConfig(image_size=12, block_out_channels=(8, 16, 32, 64))
    with pytest.raises(ValueError):
        ModelConfig(block_out_channels=())
    ModelConfig(image_size=12, block_out_channels=(8, 16, 32))  # 12 % 4 == 0


def test_class_conditional_unet_has_null_label():
    cfg = ModelConfig(image_size=8, channels=1, block_out_channels=(8, 16), norm_num_groups=4,
                      num_classes=3)
    model = _unet(0, cfg)
    assert model.class_embedding.num_embeddings == 4
    assert _unet(0, CFG).class_embedding is None
    x = torch.randn(2, 1, 8, 8)
    t = torch.tensor([10, 10])
    with torch.no_grad():
        a = model(x, t, class_labels=torch.tensor([0, 3])).sample
        b = model(x, t, class_labels=torch.tensor([1, 1])).sample
    assert a.shape == x.shape
    assert not torch.equal(a, b)  # the label changes the prediction
    with pytest.raises(IndexError):
        model(x, t, class_labels=torch.tensor([4, 0]))


# ----------------------------------------------------------------------------- TrainConfig
@pytest.mark.parametrize("kw", [
    {"steps": 0}, {"steps": -3}, {"batch_size": 0}, {"ema_decay": 1.0}, {"ema_decay": -0.1},
    {"label_dropout": 1.0}, {"label_dropout": -0.5}, {"lr": 0.0}, {"lr": -1e-3},
])
def test_train_config_validation(kw):
    with pytest.raises(ValueError):
        TrainConfig(**kw)


def test_train_config_defaults_round_trip():
    cfg = TrainConfig(steps=7, ema_decay=0.0, label_dropout=0.1)
    d = cfg.to_dict()
    assert d["steps"] == 7 and d["ema_decay"] == 0.0 and d["label_dropout"] == 0.1
    assert TrainConfig(**d) == cfg


# ----------------------------------------------------------------------------- training
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


class _Interrupt:
    """Forward pre-hook raising KeyboardInterrupt on the forward pass of step ``at`` (0-based)."""

    def __init__(self, at):
        self.at, self.calls = at, 0

    def __call__(self, module, args):
        if self.calls == self.at:
            raise KeyboardInterrupt
        self.calls += 1


# resuming steps the LR scheduler before the optimizer, which torch warns about (harmless)


@pytest.mark.filterwarnings("error::UserWarning")
def test_resume_after_interruption_is_bitwise_identical(abar, images, tmp_path):
    cfg = _small(steps=20)
    ckpt = tmp_path / "ckpt"
    full = _train(_unet(0), abar, images, cfg, log_points=20)

    model = _unet(0)
    hook = _Interrupt(15)
    model.register_forward_pre_hook(hook)
    with pytest.raises(KeyboardInterrupt):
        _train(model, abar, images, cfg, checkpoint_dir=ckpt, checkpoint_every=10, log_points=20)
    assert hook.calls == 15
    info = json.loads((ckpt / "checkpoint.json").read_text())
    assert info["step"] == 10 and len(info["loss_curve"]) == 10
    assert (ckpt / "checkpoint.safetensors").is_file()
    assert not list(ckpt.glob(".*.tmp"))

    # a fresh process builds a model with other initial weights: the checkpoint replaces them
    resumed = _train(_unet(123), abar, images, cfg, checkpoint_dir=ckpt, checkpoint_every=10,
                     log_points=20)
    assert resumed.resumed_from == 10
    assert _same(resumed.ema_model, full.ema_model)
    assert _same(resumed.model, full.model)
    assert [tuple(x) for x in resumed.loss_curve] == [tuple(x) for x in full.loss_curve]
    # no checkpoint is written at the last step: the newest stays at step 10
    assert json.loads((ckpt / "checkpoint.json").read_text())["step"] == 10


@pytest.mark.filterwarnings("error::UserWarning")
def test_resume_ignores_foreign_or_corrupt_checkpoints(abar, images, tmp_path):
    ckpt = tmp_path / "ckpt"
    cfg = _small(steps=20)
    _train(_unet(0), abar, images, cfg, checkpoint_dir=ckpt, checkpoint_every=10)
    assert _train(_unet(0), abar, images, cfg, checkpoint_dir=ckpt,
                  checkpoint_every=10).resumed_from == 10  # same settings: resumes
    fresh_other = _train(_unet(0), abar, images, _small(steps=20, lr=1e-3))
    other = _train(_unet(0), abar, images, _small(steps=20, lr=1e-3), checkpoint_dir=ckpt,
                   checkpoint_every=10)
    assert other.resumed_from == 0
    assert _same(other.ema_model, fresh_other.ema_model)  # nothing of the foreign checkpoint leaked in
    # the foreign run overwrote the checkpoint at step 10: now other images do not match it
    assert _train(_unet(0), abar, images[:6], _small(steps=20, lr=1e-3), checkpoint_dir=ckpt,
                  checkpoint_every=10).resumed_from == 0
    # a corrupt weights file is ignored, not fatal
    (ckpt / "checkpoint.safetensors").write_bytes(b"garbage")
    assert _train(_unet(0), abar, images[:6], _small(steps=20, lr=1e-3), checkpoint_dir=ckpt,
                  checkpoint_every=10).resumed_from == 0


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


# ----------------------------------------------------------------------------- cache
@pytest.fixture
def cache_root(tmp_path, monkeypatch):
    root = tmp_path / "cache"
    monkeypatch.setenv("MIALIB_CACHE", str(root))
    return root


def test_config_hash():
    a = cache.config_hash({"model": {"w": [8, 16], "x": 1}, "lr": 0.002, "name": "digits"})
    assert a == cache.config_hash({"name": "digits", "lr": 0.002, "model": {"x": 1, "w": [8, 16]}})
    assert a == cache.config_hash({"name": "digits", "lr": 0.002, "model": {"x": 1, "w": (8, 16)}})
    assert len(a) == 16 and int(a, 16) >= 0
    assert a != cache.config_hash({"name": "digits", "lr": 0.001, "model": {"x": 1, "w": [8, 16]}})
    assert a != cache.config_hash({"name": "digits", "lr": 0.002, "model": {"x": 1, "w": [8, 32]}})
    assert a != cache.config_hash({"name": "digits", "lr": 0.002, "model": {"x": 1, "w": [16, 8]}})
    assert cache.config_hash({}) != cache.config_hash({"a": None})


def test_save_load_unet_round_trip(cache_root):
    model = _unet(5)
    cache.checkpoint_dir("k1").mkdir(parents=True)
    (cache.checkpoint_dir("k1") / "checkpoint.json").write_text("{}")
    folder = cache.save_unet("k1", model, {"steps": 3, "loss_curve": [[1, 0.5]]})
    assert folder == cache_root / "k1" == cache.entry_dir("k1")
    assert (folder / "unet" / "diffusion_pytorch_model.safetensors").is_file()
    assert not cache.checkpoint_dir("k1").exists()  # the training checkpoint is dropped
    assert sorted(p.name for p in cache_root.iterdir()) == ["k1"]  # no temporary folders
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        loaded, record = cache.load_unet("k1")
    assert record == {"steps": 3, "loss_curve": [[1, 0.5]], "key": "k1"}
    assert _same(loaded, model) and not loaded.training
    assert list(loaded.config.block_out_channels) == list(model.config.block_out_channels)


def test_load_unet_missing_key(cache_root):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert cache.load_unet("absent") is None


def _corrupt(folder, how):
    weights = folder / "unet" / "diffusion_pytorch_model.safetensors"
    if how == "no record":
        (folder / "record.json").unlink()
    elif how == "garbage record":
        (folder / "record.json").write_text("{not json")
    elif how == "wrong key":
        (folder / "record.json").write_text(json.dumps({"key": "someone-else"}))
    elif how == "garbage weights":
        weights.write_bytes(b"\x00garbage" * 10)
    elif how == "truncated weights":
        weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    elif how == "no weights":
        weights.unlink()
    elif how == "no config":
        (folder / "unet" / "config.json").unlink()


CORRUPTIONS = ["no record", "garbage record", "wrong key", "garbage weights", "truncated weights",
               "no weights", "no config"]


@pytest.mark.parametrize("how", CORRUPTIONS)
def test_load_unet_corrupt_entry_warns(cache_root, how):
    folder = cache.save_unet("k2", _unet(0), {"n": 1})
    _corrupt(folder, how)
    with pytest.warns(RuntimeWarning, match="partial or corrupt"):
        assert cache.load_unet("k2") is None


@pytest.mark.parametrize("how", ["no record", "truncated weights"])
def test_save_unet_replaces_corrupt_entry(cache_root, how):
    folder = cache.save_unet("k3", _unet(0), {"n": 1})
    _corrupt(folder, how)
    model = _unet(7)
    cache.save_unet("k3", model, {"n": 2})
    loaded, record = cache.load_unet("k3")
    assert record == {"n": 2, "key": "k3"} and _same(loaded, model)
    assert sorted(p.name for p in cache_root.iterdir()) == ["k3"]


# ----------------------------------------------------------------------------- experiment
PARAMS = dict(dataset="digits", image_size=8, n_members=16, n_nonmembers=16, n_calibration=4,
              block_out_channels=[8, 16], train_steps=5, batch_size=4)


@pytest.fixture
def exp_root(tmp_path, monkeypatch):
    monkeypatch.setenv("MIALIB_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("MIALIB_ROOT", str(tmp_path))
    (tmp_path / "data" / "splits").mkdir(parents=True)
    return tmp_path


def test_target_spec_from_params_and_pick():
    spec = TargetSpec.from_params(**PARAMS)
    assert spec.model.channels == 1 and spec.model.block_out_channels == (8, 16)
    assert (spec.n_cal_members, spec.n_cal_nonmembers, spec.split_seed) == (4, 4, 0)
    assert spec.train.steps == 5 and spec.train.batch_size == 4
    assert TargetSpec.from_params(**PARAMS, device="cuda") == spec  # device is ignored
    assert TargetSpec.from_params(**{**PARAMS, "dataset": "cifar10"}).model.channels == 3
    picked = TargetSpec.pick({**PARAMS, "seed": 3, "attack_batch_size": 64, "n_bootstrap": 10,
                              "device": "cpu"})
    assert picked == {**PARAMS, "seed": 3, "device": "cpu"}
    assert TargetSpec.pick({"unknown": 1}) == {}


def test_get_target_trains_caches_and_retrains_corrupt_entry(exp_root):
    spec = TargetSpec.from_params(**PARAMS)
    data = load_data(spec)
    assert (exp_root / "data" / "splits" / "digits_m16_n16_cm4_cn4_s0.npz").is_file()
    assert data.training.shape == (20, 1, 8, 8)
    key = cache_key(spec, data)
    assert key != cache_key(TargetSpec.from_params(**{**PARAMS, "train_steps": 6}), data)

    torch.manual_seed(123)  # the global RNG state must not matter: weights follow the spec's seed
    first = get_target(spec, device="cpu", progress=False)
    assert first.from_cache is False
    rec = first.record
    assert rec["steps"] == 5 and rec["n_training_images"] == 20
    assert rec["split_hash"] == data.split.hash and rec["resumed_from_step"] == 0
    assert [s for s, _ in rec["loss_curve"]][-1] == 5
    assert (exp_root / "cache" / key / "unet").is_dir()

    second = get_target(spec, data, device="cpu", progress=False)
    assert second.from_cache is True
    assert first.record["key"] == key
    assert second.record["key"] == key and second.record["loss_curve"] == [list(x) for x in rec["loss_curve"]]
    assert _same(second.unet, first.unet)

    weights = exp_root / "cache" / key / "unet" / "diffusion_pytorch_model.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])
    torch.manual_seed(456)
    with pytest.warns(RuntimeWarning, match="partial or corrupt"):
        third = get_target(spec, data, device="cpu", progress=False)
    assert third.from_cache is False
    assert _same(third.unet, first.unet)  # retrained from the spec alone: the same model
    fourth = get_target(spec, data, device="cpu", progress=False)
    assert fourth.from_cache is True and _same(fourth.unet, first.unet)
    assert experiment.cache.entry_dir(key) == exp_root / "cache" / key


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


def test_budget_targets_come_from_one_run_and_match_separate_runs(exp_root):
    from mialib.experiment import get_targets_for_budgets, with_steps
    spec = TargetSpec.from_params(**{**PARAMS, "train_steps": 6})
    data = load_data(spec)
    calls = []
    real = experiment.train_diffusion

    def counting(*a, **kw):
        calls.append(a[3].steps)
        return real(*a, **kw)
    experiment.train_diffusion = counting
    try:
        got = get_targets_for_budgets(spec, [2, 4, 6], data, device="cpu", progress=False)
        assert calls == [6], "one run to the largest budget"
        assert sorted(got) == [2, 4, 6] and all(t.from_cache for t in got.values())
        assert got[2].record["snapshot_of"] == cache_key(with_steps(spec, 6), data)
        again = get_targets_for_budgets(spec, [2, 4, 6, 8], data, device="cpu", progress=False)
        assert calls == [6, 8]  # only the missing budget is trained
        assert _same(again[4].unet, got[4].unet)
    finally:
        experiment.train_diffusion = real
    separate = get_target(with_steps(spec, 4), data, device="cpu", progress=False)
    assert separate.from_cache
    # a fresh 4-step run, trained independently in another cache, gives the same weights
    import os
    os.environ["MIALIB_CACHE"] = str(exp_root / "cache2")
    fresh = get_target(with_steps(spec, 4), data, device="cpu", progress=False)
    assert not fresh.from_cache and _same(fresh.unet, got[4].unet)
    with pytest.raises(ValueError, match="budgets"):
        get_targets_for_budgets(spec, [0, 2], data)
