"""The latent, text-conditioned target: a tiny pipeline built offline in the test, its save and
reload, prompt checks, a missing folder, the tokenizer, and the memorisation controls carried
into latent space."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from helpers import tiny_pipeline
from mialib.attacks import ATTACKS, DiffusionTarget, run_attack
from mialib.diffusion.adapters import pipeline_target
from mialib.diffusion.controls import memorising_eps_fn
from mialib.diffusion.models import build_scheduler
from mialib.data.captions import caption
from mialib.diffusion.encoders import embed, encode_latents
from mialib.diffusion.parts import TextToImageConfig
from mialib.diffusion.pipeline import load_pipeline
from mialib.diffusion.tokenizer import build_tokenizer
from mialib.experiments.text_to_image import CaptionedSplit, wrong_caption
from mialib.evaluation.metrics import evaluate

CFG = TextToImageConfig(vae_channels=(8, 16), unet_channels=(16, 32), text_dim=16)
CAPTIONS = [caption(d, c) for d in range(10) for c in range(2)]


@pytest.fixture(scope="module")
def pipe(tmp_path_factory):
    return tiny_pipeline(tmp_path_factory.mktemp("tok"))[0]


@pytest.fixture(scope="module")
def images():
    return torch.rand(6, 3, 8, 8, generator=torch.Generator().manual_seed(0)) * 2 - 1


def test_every_caption_word_is_one_token(tmp_path):
    tok = build_tokenizer(CAPTIONS + [""], tmp_path, 8)
    for c in CAPTIONS:
        assert len(tok.tokenize(c)) == 4
    ids = tok(CAPTIONS[:2], padding="max_length", max_length=8, return_tensors="pt").input_ids
    assert ids.shape == (2, 8) and not torch.equal(ids[0], ids[1])


def test_every_attack_runs_on_the_pipeline_and_reads_the_prompts(pipe, images):
    target = pipeline_target(pipe, batch_size=4)
    assert target.image_shape == (3, 8, 8) and target.sample_shape == (4, 4, 4)
    latents, cond = target.prepare(images, CAPTIONS[:6])
    torch.testing.assert_close(latents, encode_latents(pipe.vae, images))
    torch.testing.assert_close(cond, embed(CAPTIONS[:6], pipe.tokenizer, pipe.text_encoder))
    for name in ATTACKS:
        s = run_attack(name, target, images, generator=torch.Generator().manual_seed(0), cond=CAPTIONS[:6])
        other = run_attack(name, target, images, generator=torch.Generator().manual_seed(0), cond=[""] * 6)
        assert s.shape == (6,) and torch.isfinite(s).all() and not torch.equal(s, other), name


@pytest.mark.parametrize("cond, match", [
    (CAPTIONS[:5], "5 prompts for 6 images"),
    (None, "conditional: pass cond="),
    ("a red digit one", "a single string"),
    (CAPTIONS[:7], "7 prompts for 6 images"),
])
def test_prompt_and_batch_mismatches_are_clear(pipe, images, cond, match):
    target = pipeline_target(pipe)
    with pytest.raises(ValueError, match=match):
        run_attack("secmi_stat", target, images, cond=cond)


def test_save_and_reload_give_identical_scores(pipe, images, tmp_path):
    pipe.save_pretrained(tmp_path / "tiny")
    again = load_pipeline(tmp_path / "tiny", device="cpu")
    a = run_attack("noise_aggregation", pipeline_target(pipe), images, generator=torch.Generator().manual_seed(3),
                   cond=CAPTIONS[:6])
    b = run_attack("noise_aggregation", pipeline_target(again), images, generator=torch.Generator().manual_seed(3),
                   cond=CAPTIONS[:6])
    torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_a_missing_or_incomplete_folder_is_named(tmp_path, pipe):
    with pytest.raises(FileNotFoundError, match="no pipeline folder"):
        load_pipeline(tmp_path / "nowhere")
    pipe.save_pretrained(tmp_path / "broken")
    import shutil
    shutil.rmtree(tmp_path / "broken" / "vae")
    with pytest.raises(FileNotFoundError, match=r"missing \['vae'\]"):
        load_pipeline(tmp_path / "broken")


@pytest.mark.parametrize("memorised, expect", [("members", 1.0), ("nonmembers", 0.0)])
@pytest.mark.parametrize("name", sorted(ATTACKS))
def test_memorisation_controls_in_latent_space(digits_split, linear_abar, name, memorised, expect):
    """The pixel controls carried over through the encoder hook: a denoiser that memorised the
    members' LATENTS (a fixed linear 'VAE': 2x2 pooling into 4 channels) must expose them, and
    flip when it memorised the non-members' latents."""
    members, nonmembers = (x.repeat(1, 3, 1, 1) for x in digits_split)

    def encoder(x):
        return torch.nn.functional.avg_pool2d(x, 2).repeat(1, 4, 1, 1)[:, :4] * 0.8
    points = encoder(members if memorised == "members" else nonmembers)
    target = DiffusionTarget(memorising_eps_fn(points, linear_abar, bandwidth=0.1), linear_abar, encoder=encoder,
                             image_shape=(3, 8, 8), sample_shape=(4, 4, 4))
    g = torch.Generator().manual_seed(0)
    auc = evaluate(run_attack(name, target, members, generator=g), run_attack(name, target, nonmembers, generator=g),
                   n_boot=0)["auc"]
    assert auc == pytest.approx(expect, abs=0.05), f"{name}: AUC {auc:.3f}"


def test_captioned_split_and_wrong_captions():
    assert wrong_caption("a red digit seven") == "a blue digit eight"
    assert wrong_caption("a blue digit nine") == "a red digit zero"
    assert wrong_caption("a photo of a cat") == "cat a of photo a"
    split = CaptionedSplit(torch.zeros(2, 3, 8, 8), torch.zeros(1, 3, 8, 8), ["a red digit one"] * 2, ["a blue digit two"])
    assert split.prompts("empty prompt") == {"members": ["", ""], "nonmembers": [""]}
    assert split.prompts("wrong caption")["nonmembers"] == ["a red digit three"]
    with pytest.raises(ValueError, match="unknown prompt setting"):
        split.prompts("no prompt")
    with pytest.raises(ValueError, match="1 captions for 2 members"):
        CaptionedSplit(torch.zeros(2, 3, 8, 8), torch.zeros(1, 3, 8, 8), ["x"], ["y"])
    assert np.isfinite(build_scheduler().alphas_cumprod.numpy()).all()


def test_train_text_to_image_caches_the_pipeline(tmp_path, monkeypatch, images):
    from mialib.diffusion.text_to_image import train_text_to_image
    monkeypatch.setenv("MIALIB_CACHE", str(tmp_path / "cache"))
    cfg = TextToImageConfig(vae_channels=(8, 16), unet_channels=(16, 32), text_dim=16, vae_steps=3, unet_steps=4,
                            batch_size=4)
    first = train_text_to_image(images, CAPTIONS[:6], cfg, seed=0, device="cpu", progress=False)
    assert not first.from_cache and first.record["steps"] == 4 and first.record["scaling_factor"] > 0
    again = train_text_to_image(images, CAPTIONS[:6], cfg, seed=0, device="cpu", progress=False)
    assert again.from_cache
    for a, b in zip(first.pipeline.unet.state_dict().values(), again.pipeline.unet.state_dict().values()):
        assert torch.equal(a, b)
    other = train_text_to_image(images, CAPTIONS[1:7], cfg, seed=0, device="cpu", progress=False)
    assert not other.from_cache  # other captions, another model
    assert not list((tmp_path / "cache").glob("*.checkpoint.safetensors"))  # both checkpoints removed
    with pytest.raises(ValueError, match="one caption per RGB image"):
        train_text_to_image(images, CAPTIONS[:5], cfg, seed=0, device="cpu", progress=False)


def test_the_text_to_image_cache_key_is_stable(images):
    """The key these inputs get under cache version 3 (the training loop with fused AdamW): it
    changes only when training semantics change (the version is bumped), not on refactors."""
    from mialib.diffusion.text_to_image import text_to_image_key
    cfg = TextToImageConfig(vae_channels=(8, 16), unet_channels=(16, 32), text_dim=16, vae_steps=7, unet_steps=6,
                            batch_size=4, caption_dropout=0.3)
    captions = [caption(d % 10, d % 2) for d in range(6)]
    assert text_to_image_key(images, captions, cfg, 3) == "9380a9786a2a9480"
    assert text_to_image_key(images, captions, cfg, 4) != "9380a9786a2a9480"


def test_the_pipeline_samples_through_the_library_sampler(pipe):
    from mialib.diffusion.encoders import decode_latents
    from mialib.diffusion.sampling import sample_ddim, sample_pipeline
    from mialib.experiments.text_to_image import generate
    prompts = CAPTIONS[:3]
    out = sample_pipeline(pipe, prompts, steps=4, guidance_scale=2.0, generator=torch.Generator().manual_seed(1))
    assert out.shape == (3, 3, 8, 8) and out.min() >= -1 and out.max() <= 1
    cond, null = embed(prompts, pipe.tokenizer, pipe.text_encoder), embed([""], pipe.tokenizer, pipe.text_encoder)[0]
    latents = sample_ddim(pipe.unet, pipe.scheduler.alphas_cumprod, 3, steps=4, cond=cond, null_cond=null,
                          guidance_scale=2.0, generator=torch.Generator().manual_seed(1), progress=False, clip=False)
    torch.testing.assert_close(out, decode_latents(pipe.vae, latents), rtol=0, atol=0)
    decoded = pipe.vae.decode(latents / pipe.vae.config.scaling_factor).sample.detach().clamp(-1, 1)
    torch.testing.assert_close(out, decoded)
    # generate keeps diffusers' guidance_scale g: the sampler's w = g - 1 (no guidance for g <= 1)
    torch.testing.assert_close(generate(pipe, prompts, steps=4, guidance_scale=3.0, seed=1), out, rtol=0, atol=0)
    unguided = sample_pipeline(pipe, prompts, steps=4, generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(generate(pipe, prompts, steps=4, guidance_scale=1.0, seed=1), unguided, rtol=0, atol=0)
    assert not torch.equal(unguided, out)


@pytest.mark.parametrize("overrides, match", [
    ({"unet_channels": (32, 64, 64)}, "two widths"), ({"vae_channels": ()}, "non-empty list"),
    ({"unet_channels": (32, 0)}, "positive widths"), ({"image_size": 6, "vae_channels": (8, 16, 32)}, "divisible")])
def test_text_to_image_sizes_the_parts_cannot_take_are_refused_at_once(overrides, match):
    with pytest.raises(ValueError, match=match):
        TextToImageConfig(**overrides)
