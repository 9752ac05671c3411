"""Notebook 07's experiment helpers: the model under attack from the notebook's parameters
(folders without a pipeline refused), samples per prompt beside the members with that caption,
and the loss curves of the trained parts."""

from __future__ import annotations

import pytest
import torch

from helpers import tiny_pipeline
from mialib.data.captions import caption
from mialib.experiments.text_to_image import (CaptionedSplit, TextToImageModelUnderAttack, generate,
                                              generate_per_prompt, open_text_to_image, samples_beside_training,
                                              text_to_image_quality)

@pytest.fixture(scope="module")
def pipe(tmp_path_factory):
    return tiny_pipeline(tmp_path_factory.mktemp("tok"))[0]


CAPTIONS = [caption(d, c) for d in range(10) for c in range(2)]


def _split():
    members = torch.arange(4 * 3 * 8 * 8, dtype=torch.float32).view(4, 3, 8, 8) / 1000 - 0.3
    return CaptionedSplit(members, torch.zeros(1, 3, 8, 8), ["a red digit one", "a blue digit two", "a red digit one",
                                                             "a red digit six"], ["a blue digit two"])


def test_generate_per_prompt_is_one_seeded_call_cut_per_prompt(pipe):
    prompts = ["a red digit seven", "a blue digit two"]
    got = generate_per_prompt(pipe, prompts, 2, guidance_scale=3.0, seed=4)
    want = generate(pipe, [prompts[0]] * 2 + [prompts[1]] * 2, guidance_scale=3.0, seed=4)
    assert list(got) == prompts and torch.equal(got[prompts[1]], want[2:])
    with pytest.raises(ValueError, match="per_prompt"):
        generate_per_prompt(pipe, prompts, 0, guidance_scale=3.0)


def test_samples_sit_above_the_members_trained_with_their_caption():
    split = _split()
    assert torch.equal(split.members_captioned("a red digit one"), split.members[[0, 2]])
    assert len(split.members_captioned("a blue digit nine")) == 0
    samples = {"a red digit one": torch.ones(2, 3, 8, 8), "a blue digit nine": torch.zeros(2, 3, 8, 8)}
    rows = samples_beside_training(samples, split)
    assert list(rows) == ["sample: a red digit one", "training: a red digit one", "sample: a blue digit nine"]


def test_folders_without_a_pipeline_are_refused_not_ignored():
    with pytest.raises(ValueError, match="members_dir, captions_file given without pipeline_path"):
        open_text_to_image(model={}, n_members=4, n_nonmembers=4, seed=0, members_dir="m", captions_file="c.csv")


def test_the_tiny_model_comes_with_its_loss_curves(tmp_path, monkeypatch):
    monkeypatch.setenv("MIALIB_CACHE", str(tmp_path / "cache"))
    model = {"vae_channels": [8, 16], "unet_channels": [16, 32], "text_dim": 16, "vae_steps": 2, "unet_steps": 2,
             "batch_size": 4}
    first = open_text_to_image(model=model, n_members=6, n_nonmembers=3, seed=0, device="cpu")
    assert first.origin == "trained now" and first.from_cache is False
    assert list(first.loss_curves) == ["VAE (reconstruction + KL)", "UNet (denoising MSE)"]
    assert first.describe() == "6 members, 3 non-members; model trained now"
    again = open_text_to_image(model=model, n_members=6, n_nonmembers=3, seed=0, device="cpu")
    assert again.from_cache and again.origin == "from the cache"
    loaded = TextToImageModelUnderAttack(first.pipe, first.split, {}, None, "loaded from /x")
    assert loaded.loss_curves == {}


def test_the_prompt_ablation_scores_every_attack_under_each_setting(pipe):
    from mialib.attacks import attack_settings, score_split
    from mialib.diffusion.adapters import pipeline_target
    from mialib.evaluation.compare import compare
    from mialib.evaluation.metrics import evaluate_split
    from mialib.experiments.text_to_image import PROMPT_SETTINGS, prompt_ablation
    settings = attack_settings({"secmi_stat": {"t_sec": 20}})
    g = torch.Generator().manual_seed(0)
    split = CaptionedSplit(torch.rand(4, 3, 8, 8, generator=g) * 2 - 1, torch.rand(4, 3, 8, 8, generator=g) * 2 - 1,
                           CAPTIONS[:4], CAPTIONS[4:8])
    target = pipeline_target(pipe, batch_size=3)
    ab = prompt_ablation(settings, target, split, seed=2, attacks=["naive_loss", "secmi_stat"])
    assert ab.settings == list(PROMPT_SETTINGS)
    want = score_split(settings["naive_loss"], target, split, seed=2, calibration=False, cond=split.prompts("empty prompt"))
    assert torch.equal(ab.scores["empty prompt"]["naive_loss"].members, want.members)
    res = ab.evaluate(n_boot=5, seed=1)
    assert res["empty prompt"]["naive_loss"] == evaluate_split(want, n_boot=5, seed=1)
    diffs = ab.against_ground_truth(n_boot=5, seed=1)
    assert list(diffs["secmi_stat"]) == ["empty prompt", "wrong caption"]
    assert diffs["naive_loss"]["empty prompt"] == compare(ab.scores["ground-truth caption"]["naive_loss"], want,
                                                          n_boot=5, seed=1)
    assert list(ab.curves({"naive_loss": "N", "secmi_stat": "S"}, PROMPT_SETTINGS[:2], ["secmi_stat"])) == [
        "S, ground-truth caption", "S, empty prompt"]
    assert ab.queries_per_image() == {"naive_loss": 1, "secmi_stat": settings["secmi_stat"].queries()}


def test_ablation_records_and_tables_keep_every_setting():
    from mialib.experiments.text_to_image import PromptAblation
    diffs = {"naive_loss": {"empty prompt": {"difference": 0.1}, "wrong caption": {"difference": 0.2}}}
    assert PromptAblation.differences_record(diffs) == {
        "naive_loss": {"ground truth - empty prompt": {"difference": 0.1}, "ground truth - wrong caption": {"difference": 0.2}}}
    res = {"a": {"auc": 0.7, "asr": 0.6}, "b": {"auc": 0.5, "asr": 0.5}}
    table = PromptAblation.table({"ground-truth caption": {"naive_loss": res["a"]}, "empty prompt": {"naive_loss": res["b"]}},
                                 {"naive_loss": "Naive"})
    assert list(table.index) == [("ground-truth caption", "Naive"), ("empty prompt", "Naive")]


def test_caption_halves_score_each_pair_and_the_pure_pairs_are_the_prompt_ablations(pipe):
    from mialib.attacks import attack_settings, score_split
    from mialib.diffusion.adapters import pipeline_target
    from mialib.evaluation.compare import compare
    from mialib.experiments.text_to_image import caption_half_effects, caption_halves
    secmi = attack_settings({"secmi_stat": {"t_sec": 20}})["secmi_stat"]
    g = torch.Generator().manual_seed(3)
    split = CaptionedSplit(torch.rand(4, 3, 8, 8, generator=g) * 2 - 1, torch.rand(4, 3, 8, 8, generator=g) * 2 - 1,
                           CAPTIONS[:4], CAPTIONS[4:8])
    target = pipeline_target(pipe, batch_size=3)
    halves = caption_halves(secmi, target, split)
    gt, empty = "ground-truth caption", "empty prompt"
    assert list(halves) == [(gt, gt), (gt, empty), (empty, gt), (empty, empty)]
    for s in (gt, empty):   # a setting on both halves is the attack under that setting
        want = score_split(secmi, target, split, seed=0, calibration=False, cond=split.prompts(s))
        assert torch.equal(halves[(s, s)][0], want.members) and torch.equal(halves[(s, s)][1], want.nonmembers)
    assert not torch.equal(halves[(gt, empty)][0], halves[(gt, gt)][0])   # the caption of the step back counts
    assert not torch.equal(halves[(empty, gt)][0], halves[(gt, gt)][0])   # ... and that of the way up
    known = caption_halves(secmi, target, split, known={(gt, gt): "given"})
    assert known[(gt, gt)] == "given"
    effects = caption_half_effects(halves, n_boot=5, seed=1)
    assert effects["step back"] == compare(halves[(gt, gt)], halves[(gt, empty)], n_boot=5, seed=1)
    assert effects["way up"] == compare(halves[(gt, gt)], halves[(empty, gt)], n_boot=5, seed=1)
    assert effects["both"] == compare(halves[(gt, gt)], halves[(empty, empty)], n_boot=5, seed=1)


def test_most_caption_sensitive_t_sec_is_where_the_two_sweeps_differ_most():
    from mialib.experiments.sweeps import Sweep
    from mialib.experiments.text_to_image import most_caption_sensitive_t_sec
    gt = Sweep("t_sec", {10: {"auc": 0.8}, 50: {"auc": 0.9}, 300: {"auc": 0.6}})
    empty = Sweep("t_sec", {10: {"auc": 0.79}, 50: {"auc": 0.95}, 300: {"auc": 0.75}})
    assert most_caption_sensitive_t_sec({"ground-truth caption": gt, "empty prompt": empty}) == 300
    with pytest.raises(ValueError, match="share no t_sec"):
        most_caption_sensitive_t_sec({"ground-truth caption": gt, "empty prompt": Sweep("t_sec", {20: {"auc": 0.5}})})


def test_the_quality_check_reads_samples_of_the_non_members_captions_against_the_members(tmp_path, monkeypatch):
    from mialib.evaluation.memorisation import copying_summary
    from mialib.evaluation.sample_quality import SampleQuality
    monkeypatch.setenv("MIALIB_CACHE", str(tmp_path / "cache"))
    model = {"vae_channels": [8, 16], "unet_channels": [16, 32], "text_dim": 16, "vae_steps": 2, "unet_steps": 2,
             "batch_size": 4}
    study = open_text_to_image(model=model, n_members=8, n_nonmembers=4, seed=0, device="cpu")
    check = text_to_image_quality(study, 6, guidance_scale=3.0, seed=2)
    caps = study.split.nonmember_captions
    images = generate(study.pipe, [caps[i % 4] for i in range(6)], guidance_scale=3.0, seed=3)
    want = SampleQuality.fit(study.split.members, study.split.nonmembers).check(images)
    assert {k: v for k, v in check.items() if k != "copying"} == want and check["n_samples"] == 6
    assert check["copying"] == copying_summary(images, study.split.members, study.split.nonmembers, seed=2)
    loaded = TextToImageModelUnderAttack(study.pipe, study.split, {}, None, "loaded from /x")
    assert text_to_image_quality(loaded, 6, guidance_scale=3.0) is None
    with pytest.raises(ValueError, match="n"):
        text_to_image_quality(study, 0, guidance_scale=3.0)
