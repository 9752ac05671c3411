"""The one training entry point: content-addressed cache keys, cache hits, corrupt entries
retrained bit for bit, snapshots and budgets from one run, continuation of a shorter run,
labels, and a clear error before training when the cache is not writable."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from helpers import TINY
from helpers import same_weights as _same
from helpers import short_training, tiny_unet
from mialib.core import cache
from mialib.data import load_digits
from mialib.diffusion import trained
from mialib.diffusion.models import ModelConfig
from mialib.diffusion.trained import model_key, train_for_budgets, train_model, train_models


@pytest.fixture(autouse=True)
def cache_root(tmp_path, monkeypatch):
    monkeypatch.setenv("MIALIB_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


@pytest.fixture(scope="module")
def images():
    return load_digits().images[:12].clone()


def _train(images, **kw):
    return train_model(images, TINY, kw.pop("train", short_training(steps=6)), device="cpu", progress=False, **kw)


def test_trains_caches_and_reloads(images, cache_root):
    torch.manual_seed(123)  # the global RNG state must not matter: weights follow the seed
    first = _train(images, provenance={"why": "test"})
    assert first.from_cache is False
    rec = first.record
    assert rec["steps"] == 6 and rec["n_training_images"] == 12 and rec["why"] == "test"
    assert rec["resumed_from_step"] == 0 and [s for s, _ in rec["loss_curve"]][-1] == 6
    assert (cache_root / first.key / "unet").is_dir()
    assert not cache.checkpoint_path(first.key).exists()
    second = _train(images)
    assert second.from_cache is True and second.key == first.key and _same(second.unet, first.unet)
    assert second.record["loss_curve"] == [list(x) for x in rec["loss_curve"]]


def test_the_key_is_the_content_trained_on(images):
    base = model_key(images, TINY, short_training())
    assert base == model_key(images.clone(), TINY, short_training())
    changed = images.clone()
    changed[3, 0, 4, 4] += 0.01
    assert model_key(changed, TINY, short_training()) != base            # one pixel
    assert model_key(images[:11], TINY, short_training()) != base        # one image fewer
    assert model_key(images.flip(0), TINY, short_training()) != base     # another order
    assert model_key(images, TINY, short_training(lr=1e-3)) != base      # training settings
    assert model_key(images, TINY, short_training(steps=7)) != base
    bigger = ModelConfig(image_size=8, channels=1, block_out_channels=(8, 8), norm_num_groups=4)
    assert model_key(images, bigger, short_training()) != base           # model settings
    cond = ModelConfig(image_size=8, channels=1, block_out_channels=(8, 16), norm_num_groups=4, num_classes=2)
    labels = np.arange(12) % 2
    assert model_key(images, cond, short_training(), labels) != model_key(images, cond, short_training(), 1 - labels)


@pytest.mark.parametrize("how", ["truncated weights", "one flipped bit", "record lacks loss_curve"])
def test_a_corrupt_entry_is_retrained_to_the_same_model(images, cache_root, how):
    first = _train(images)
    folder = cache_root / first.key
    weights = folder / "unet" / "diffusion_pytorch_model.safetensors"
    if how == "truncated weights":
        weights.write_bytes(weights.read_bytes()[:100])
    elif how == "one flipped bit":
        data = bytearray(weights.read_bytes())
        data[-50] ^= 0x10
        weights.write_bytes(bytes(data))
    else:
        import json
        rec = json.loads((folder / "record.json").read_text())
        del rec["loss_curve"]
        (folder / "record.json").write_text(json.dumps(rec))
    torch.manual_seed(456)
    with pytest.warns(RuntimeWarning, match="partial or corrupt"):
        again = _train(images)
    assert again.from_cache is False and _same(again.unet, first.unet)
    assert _train(images).from_cache is True


def test_snapshots_and_budgets_come_from_one_run(images, monkeypatch):
    calls = []
    real = trained.train_diffusion

    def counting(*a, **kw):
        calls.append((a[3].steps, kw.get("snapshot_steps")))
        return real(*a, **kw)
    monkeypatch.setattr(trained, "train_diffusion", counting)
    got = train_for_budgets(images, [2, 4, 6], TINY, short_training(steps=6), device="cpu", progress=False)
    assert [c[0] for c in calls] == [6], "one run to the largest budget"
    assert sorted(got) == [2, 4, 6] and all(m.from_cache for m in got.values())
    assert got[2].record["snapshot_of"] == got[6].key
    separate = real(tiny_unet(0), got[2].scheduler.alphas_cumprod, images, short_training(steps=4),
                    progress=False)
    assert _same(separate.ema_model, got[4].unet), "a snapshot is the model a shorter run gives"
    with pytest.raises(ValueError, match="budgets"):
        train_for_budgets(images, [0], TINY, short_training(), device="cpu")


def test_a_longer_budget_continues_the_cached_run(images, monkeypatch, tmp_path):
    """The 6-step run keeps its final state; asking for 10 steps trains only 4 more, and gives
    bitwise the model of a 10-step run from scratch (trained in another cache)."""
    calls = []
    real = trained.train_diffusion

    def counting(*a, **kw):
        res = real(*a, **kw)
        calls.append((a[3].steps, res.resumed_from))
        return res
    monkeypatch.setattr(trained, "train_diffusion", counting)
    train_for_budgets(images, [6], TINY, short_training(steps=6), device="cpu", progress=False)
    longer = train_for_budgets(images, [6, 10], TINY, short_training(steps=6), device="cpu", progress=False)
    assert calls == [(6, 0), (10, 6)]
    monkeypatch.setenv("MIALIB_CACHE", str(tmp_path / "other-cache"))
    scratch = _train(images, train=short_training(steps=10))
    assert scratch.record["resumed_from_step"] == 0 and _same(scratch.unet, longer[10].unet)


def test_class_labels_are_checked_and_used(images):
    cond = ModelConfig(image_size=8, channels=1, block_out_channels=(8, 16), norm_num_groups=4, num_classes=2)
    labels = np.arange(12) % 2
    with pytest.raises(ValueError, match="exactly when the model is class-conditional"):
        train_model(images, cond, short_training(), device="cpu", progress=False)
    with pytest.raises(ValueError, match="exactly when"):
        train_model(images, TINY, short_training(), labels=labels, device="cpu", progress=False)
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 1\]"):
        train_model(images, cond, short_training(), labels=labels + 1, device="cpu", progress=False)
    with pytest.raises(ValueError, match="12 integers"):
        train_model(images, cond, short_training(), labels=labels[:5], device="cpu", progress=False)
    m = train_model(images, cond, short_training(label_dropout=0.2), labels=labels, device="cpu", progress=False)
    assert m.num_classes == 2
    x = m.sample(4, steps=3, class_labels=[0, 1, 0, 1], guidance_scale=1.0, generator=torch.Generator().manual_seed(0),
                 progress=False)
    assert x.shape == (4, 1, 8, 8) and x.min() >= -1 and x.max() <= 1
    target = m.target(batch_size=4)
    assert target.conditional and target.cond.num_embeds == 3


@pytest.mark.parametrize("bad, match", [
    (torch.zeros(0, 1, 8, 8), "non-empty"), (torch.zeros(4, 1, 16, 16), "model config says"),
    (torch.full((4, 1, 8, 8), 2.0), r"\[-1, 1\]"), ("images", "non-empty Tensor"),
])
def test_bad_training_data_is_refused_before_training(bad, match):
    with pytest.raises(ValueError, match=match):
        train_model(bad, TINY, short_training(), device="cpu", progress=False)


def test_unwritable_cache_fails_before_training(images, tmp_path, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv("MIALIB_CACHE", str(blocker / "cache"))
    monkeypatch.setattr(trained, "train_diffusion", lambda *a, **k: pytest.fail("trained before checking"))
    with pytest.raises(ValueError, match="MIALIB_CACHE"):
        _train(images)


def test_train_models_runs_each_job(images):
    jobs = [{"images": images[:6], "model": TINY, "train": short_training(steps=3)},
            {"images": images[6:], "model": TINY, "train": short_training(steps=3)}]
    out = train_models(jobs, device="cpu", progress=False)
    assert [m.record["n_training_images"] for m in out] == [6, 6] and out[0].key != out[1].key
    assert all(m.from_cache for m in train_models(jobs, device="cpu", progress=False))


def test_fine_tuning_starts_from_the_base_and_is_cached_under_its_own_key(images):
    base = _train(images[:6], train=short_training(steps=4))
    scratch = _train(images)
    tuned = _train(images, init=base)
    assert tuned.key not in (scratch.key, base.key) and tuned.record["fine_tuned_from"] == base.key
    assert not _same(tuned.unet, scratch.unet)
    # a fine-tune with a negligible learning rate stays at the base's weights, far from the scratch model's
    near = _train(images, init=base, train=short_training(steps=1, lr=1e-9))
    dist = {name: sum(float((a - b).abs().max()) for a, b in zip(near.unet.parameters(), m.unet.parameters()))
            for name, m in (("base", base), ("scratch", scratch))}
    assert dist["base"] < 1e-5 < dist["scratch"]
    again = _train(images, init=base)
    assert again.from_cache and again.key == tuned.key and _same(again.unet, tuned.unet)
    other = ModelConfig(image_size=8, channels=1, block_out_channels=(8, 8), norm_num_groups=4)
    with pytest.raises(ValueError, match="init is a model of config"):
        train_model(images, other, short_training(steps=2), device="cpu", progress=False, init=base)


def test_a_class_conditional_model_fine_tunes_an_unconditional_base_from_where_it_stands(images):
    from dataclasses import replace
    from mialib.diffusion.trained import load_base_weights
    from mialib.diffusion.models import build_unet
    base = _train(images[:6], train=short_training(steps=4))
    conditional = replace(TINY, num_classes=2)
    labels = np.arange(len(images)) % 2
    tuned = train_model(images, conditional, short_training(steps=3), labels=labels, device="cpu", progress=False, init=base)
    assert tuned.num_classes == 2 and tuned.record["fine_tuned_from"] == base.key
    # before any step the conditional model predicts exactly what the base predicts, for each label and the null one
    start = build_unet(conditional)
    load_base_weights(start, base.unet)
    assert float(start.class_embedding.weight.detach().abs().max()) == 0.0
    x, t = torch.randn(3, *images.shape[1:]), torch.tensor([10, 500, 900])
    with torch.no_grad():
        want = base.unet(x, t).sample
        for label in (0, 1, 2):
            got = start(x, t, class_labels=torch.full((3,), label)).sample
            torch.testing.assert_close(got, want, rtol=0, atol=1e-6)
    # anything else than the class embedding missing or extra is refused
    wider = ModelConfig(image_size=8, channels=1, block_out_channels=(8, 8), norm_num_groups=4, num_classes=2)
    with pytest.raises(ValueError, match="init is a model of config"):
        train_model(images, wider, short_training(steps=2), labels=labels, device="cpu", progress=False, init=base)
    with pytest.raises(ValueError, match="do not fit"):
        load_base_weights(build_unet(replace(TINY, block_out_channels=(8, 8), norm_num_groups=4)), base.unet)
    # the reverse (an unconditional model from a class-conditional base) is refused
    with pytest.raises(ValueError, match="init is a model of config"):
        train_model(images, TINY, short_training(steps=2), device="cpu", progress=False, init=tuned)
