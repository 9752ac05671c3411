"""Membership inference against a text-to-image model (notebook 07): the tiny pipeline of
:mod:`mialib.diffusion.text_to_image` trained on captioned coloured digits, or any local Stable
Diffusion folder with member and non-member image folders and their captions.

The SecMI paper's prompt ablation is run for every attack: the images are attacked under their
ground-truth captions, under the empty prompt, and under a wrong caption (another digit in the
other ink).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..attacks.scoring import score_split
from ..attacks.secmi import secmi_error_maps_backs, terror_of_maps
from ..core import paths
from ..core.checks import check_int
from ..data.coloured import ColouredPopulation, coloured_population
from ..data.loaders import IMAGE_SUFFIXES, load_image_folder
from ..data.captions import COLOUR_WORDS, DIGIT_WORDS, caption
from ..diffusion.pipeline import load_pipeline
from ..diffusion.sampling import sample_pipeline
from ..diffusion.text_to_image import TextToImageConfig, train_text_to_image
from ..evaluation.compare import compare
from ..evaluation.metrics import evaluate_split, metrics_table
from ..evaluation.memorisation import copying_summary
from ..evaluation.sample_quality import SampleQuality
from .sweeps import sweep_attack

PROMPT_SETTINGS = ("ground-truth caption", "empty prompt", "wrong caption")


@dataclass
class CaptionedSplit:
    """Member and non-member images with one caption each (what score_split reads)."""

    members: torch.Tensor
    nonmembers: torch.Tensor
    member_captions: list
    nonmember_captions: list

    def __post_init__(self):
        for part, caps in (("members", self.member_captions), ("nonmembers", self.nonmember_captions)):
            if len(caps) != len(getattr(self, part)):
                raise ValueError(f"{len(caps)} captions for {len(getattr(self, part))} {part}: give one caption per image")

    def members_captioned(self, prompt: str) -> torch.Tensor:
        """The member images whose caption is ``prompt`` (Tensor[n, C, H, W]; n may be 0)."""
        idx = [i for i, c in enumerate(self.member_captions) if c == prompt]
        return self.members[torch.as_tensor(idx, dtype=torch.long)]

    def prompts(self, setting: str) -> dict:
        """The prompts of each part under one of :data:`PROMPT_SETTINGS`."""
        if setting not in PROMPT_SETTINGS:
            raise ValueError(f"unknown prompt setting {setting!r}; known: {PROMPT_SETTINGS}")
        out = {}
        for part, caps in (("members", self.member_captions), ("nonmembers", self.nonmember_captions)):
            if setting == "ground-truth caption":
                out[part] = list(caps)
            elif setting == "empty prompt":
                out[part] = [""] * len(caps)
            else:
                out[part] = [wrong_caption(c) for c in caps]
        return out


def wrong_caption(text: str) -> str:
    """A caption of the same form that is wrong in both words: the next digit, the other ink
    ("a red digit seven" -> "a blue digit eight"); other captions are reversed word by word."""
    words = text.split()
    if len(words) == 4 and words[1] in COLOUR_WORDS and words[3] in DIGIT_WORDS:
        return caption((DIGIT_WORDS.index(words[3]) + 1) % 10, 1 - COLOUR_WORDS.index(words[1]))
    return " ".join(reversed(words))


def captioned_digits(pop: ColouredPopulation, n_members: int, n_nonmembers: int, seed: int = 0) -> CaptionedSplit:
    """Disjoint member and non-member digits of the sharer's pool, each inked at random (half
    and half) and captioned "a <ink> digit <name>"."""
    check_int(n_members, "n_members", low=1)
    check_int(n_nonmembers, "n_nonmembers", low=1)
    if n_members + n_nonmembers > len(pop.sharer_pool):
        raise ValueError(f"{n_members} + {n_nonmembers} images asked for, the pool has {len(pop.sharer_pool)}")
    rng = np.random.default_rng([seed, 30_000])
    idx = rng.permutation(pop.sharer_pool)
    parts = []
    for k, (start, n) in enumerate(((0, n_members), (n_members, n_nonmembers))):
        sel = idx[start:start + n]
        ds = pop.draw(sel, rng.permutation(np.arange(n) % 2), stream=30_001 + k)
        parts.append((ds.images, [caption(d, s) for d, s in zip(ds.labels, ds.attributes["colour"])]))
    return CaptionedSplit(parts[0][0], parts[1][0], parts[0][1], parts[1][1])


def load_captioned_folders(members_dir: str, nonmembers_dir: str, captions_file: str, image_size: int) -> CaptionedSplit:
    """Members and non-members of a real model: two image folders and one captions CSV
    (columns ``filename,caption``; file names must be unique across both folders)."""
    import csv

    path = Path(captions_file)
    if not path.is_file():
        raise FileNotFoundError(f"captions file {path} not found: a CSV with columns filename,caption")
    with open(path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    if not rows or {"filename", "caption"} - set(rows[0]):
        raise ValueError(f"{path}: the captions CSV needs the columns filename and caption")
    by_name = {r["filename"]: r["caption"] for r in rows}
    parts = []
    for folder in (members_dir, nonmembers_dir):
        ds = load_image_folder(folder, image_size, attributes_csv=None)
        folder = Path(folder) if Path(folder).is_absolute() else paths.data_dir() / folder
        names = sorted(p.name for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        absent = [n for n in names if n not in by_name]
        if absent:
            raise ValueError(f"{path}: no caption for {len(absent)} image(s) of {folder}, e.g. {absent[0]!r}")
        parts.append((ds.images, [by_name[n] for n in names]))
    return CaptionedSplit(parts[0][0], parts[1][0], parts[0][1], parts[1][1])


def generate(pipe, prompts, *, steps: int = 20, guidance_scale: float = 3.0, seed: int = 0) -> torch.Tensor:
    """Images of ``prompts`` from the pipeline, in [-1, 1], by the library's DDIM sampler
    (:func:`mialib.diffusion.sampling.sample_pipeline`). ``guidance_scale`` keeps diffusers'
    meaning g (e_null + g (e_c - e_null); none for g <= 1): the sampler's w is g - 1."""
    return sample_pipeline(pipe, prompts, steps=steps, guidance_scale=max(0.0, guidance_scale - 1.0),
                           generator=torch.Generator().manual_seed(seed))


@dataclass
class PromptAblation:
    """Every attack's scores on the split under each prompt setting (``scores``: setting -> attack
    name -> :class:`mialib.attacks.scoring.SplitScores`; the first setting is the ground truth),
    with the same noise in every setting."""

    scores: dict

    @property
    def settings(self) -> list:
        return list(self.scores)

    def evaluate(self, *, n_boot: int, seed: int) -> dict:
        """Setting -> attack -> :func:`mialib.evaluation.metrics.evaluate_split`."""
        return {s: {n: evaluate_split(sc, n_boot=n_boot, seed=seed) for n, sc in by_name.items()}
                for s, by_name in self.scores.items()}

    def against_ground_truth(self, *, n_boot: int, seed: int) -> dict:
        """Attack -> other setting -> the paired AUC difference ground truth minus that setting
        (:func:`mialib.evaluation.compare.compare`, on the same images)."""
        gt, others = self.settings[0], self.settings[1:]
        return {n: {s: compare(self.scores[gt][n], self.scores[s][n], n_boot=n_boot, seed=seed) for s in others}
                for n in self.scores[gt]}

    @staticmethod
    def differences_record(diffs: dict) -> dict:
        """:meth:`against_ground_truth`'s differences keyed for a results file: attack ->
        "ground truth - <setting>" -> difference."""
        return {n: {f"ground truth - {s}": d for s, d in by.items()} for n, by in diffs.items()}

    @staticmethod
    def table(results: dict, labels: dict):
        """One metrics table (:func:`mialib.evaluation.metrics.metrics_table`) per setting of
        :meth:`evaluate`'s ``results``, stacked with the setting as the outer row label."""
        import pandas as pd

        return pd.concat({s: metrics_table({labels[n]: r for n, r in by.items()}) for s, by in results.items()})

    def curves(self, labels: dict, settings, attacks) -> dict:
        """"<label>, <setting>" -> (member, non-member) scores, for a ROC figure."""
        return {f"{labels[n]}, {s}": self.scores[s][n].evaluation for s in settings for n in attacks}

    def queries_per_image(self) -> dict:
        """Attack -> model queries per image (under the ground-truth captions)."""
        return {n: sc.queries_per_image for n, sc in self.scores[self.settings[0]].items()}


def prompt_ablation(settings: dict, target, split: CaptionedSplit, *, seed: int, attacks) -> PromptAblation:
    """The SecMI paper's prompt ablation for every attack in ``attacks`` (names of ``settings``):
    scored under each of :data:`PROMPT_SETTINGS`, evaluation parts only."""
    return PromptAblation({s: {n: score_split(settings[n], target, split, seed=seed, calibration=False,
                                              cond=split.prompts(s)) for n in attacks} for s in PROMPT_SETTINGS})


def t_sec_sweeps(secmi, target, split: CaptionedSplit, values, *, seed: int, n_boot: int,
                 prompt_settings=PROMPT_SETTINGS[:2]) -> dict:
    """SecMI's t_sec swept on the latents under each of ``prompt_settings`` (setting -> Sweep, one
    shared inversion per image and setting; evaluation parts): where on the trajectory the
    membership signal of the latent model sits, and whether the caption matters at any t_sec."""
    return {s: sweep_attack(secmi, "t_sec", values, target, split, seed=seed, n_boot=n_boot, cond=split.prompts(s))
            for s in prompt_settings}


def most_caption_sensitive_t_sec(sweeps: dict, settings=PROMPT_SETTINGS[:2]) -> int:
    """The t_sec of :func:`t_sec_sweeps` at which the AUCs under the two ``settings`` differ most
    (the first such t_sec on ties): where the caption does the most, for :func:`caption_halves`."""
    gaps = sweeps[settings[0]].gaps(sweeps[settings[1]])
    if not gaps:
        raise ValueError("the two sweeps share no t_sec")
    return max(gaps, key=lambda t: abs(gaps[t]))


def caption_halves(secmi, target, split: CaptionedSplit, *, settings=PROMPT_SETTINGS[:2], known: dict | None = None) -> dict:
    """SecMI_stat with the prompt of each half of its round trip set apart: (setting of the way up,
    setting of the step back) -> (member scores, non-member scores) for every pair of ``settings``
    (evaluation parts). The way up is the inversion to x~ and the first D of step 2; the step back
    is its second D (:func:`mialib.attacks.secmi.secmi_error_maps_sweep`); the pairs with the same
    way up share one inversion. ``known`` gives pairs already scored (e.g. a setting on both halves,
    from :func:`prompt_ablation`)."""
    prompts = {s: split.prompts(s) for s in settings}
    out = dict(known or {})
    for up in settings:
        backs = [b for b in settings if (up, b) not in out]
        if not backs:
            continue
        maps = {part: secmi_error_maps_backs(target, getattr(split, part), secmi.t_sec, secmi.k, prompts[up][part],
                                             [prompts[b][part] for b in backs]) for part in ("members", "nonmembers")}
        for i, b in enumerate(backs):   # SecMI_stat = -t-error (eq. 4); one inversion per way up serves every step back
            out[(up, b)] = (-terror_of_maps(maps["members"][i]), -terror_of_maps(maps["nonmembers"][i]))
    return {(u, b): out[(u, b)] for u in settings for b in settings}


def caption_half_effects(halves: dict, *, n_boot: int, seed: int, settings=PROMPT_SETTINGS[:2]) -> dict:
    """What the first of ``settings`` (the ground-truth captions) adds on each half of
    :func:`caption_halves` over the second (the empty prompt), by the paired bootstrap
    (:func:`mialib.evaluation.compare.compare`): "way up" = AUC(both halves captioned) - AUC(way up
    uncaptioned), "step back" likewise, and "both" = AUC(both captioned) - AUC(neither)."""
    first, second = settings
    full = halves[(first, first)]
    return {"way up": compare(full, halves[(second, first)], n_boot=n_boot, seed=seed),
            "step back": compare(full, halves[(first, second)], n_boot=n_boot, seed=seed),
            "both": compare(full, halves[(second, second)], n_boot=n_boot, seed=seed)}


def generate_per_prompt(pipe, prompts, per_prompt: int, *, guidance_scale: float, seed: int = 0) -> dict:
    """``per_prompt`` images of each prompt (prompt -> Tensor), all drawn in one :func:`generate`
    call with the prompts repeated in order, so every image keeps its place in the seeded batch."""
    per_prompt = check_int(per_prompt, "per_prompt", low=1)
    prompts = list(prompts)
    images = generate(pipe, [p for p in prompts for _ in range(per_prompt)], guidance_scale=guidance_scale, seed=seed)
    return {p: images[i * per_prompt:(i + 1) * per_prompt] for i, p in enumerate(prompts)}


def samples_beside_training(samples: dict, split: CaptionedSplit) -> dict:
    """Figure rows: for each prompt its samples ("sample: <prompt>") above the members trained
    with that caption ("training: <prompt>"; left out when no member has it)."""
    rows = {}
    for prompt, images in samples.items():
        rows[f"sample: {prompt}"] = images
        training = split.members_captioned(prompt)
        if len(training):
            rows[f"training: {prompt}"] = training
    return rows


@dataclass
class TextToImageModelUnderAttack:
    """What notebook 07 attacks: the pipeline, the captioned member / non-member split, the
    training record (empty for a pipeline loaded from a folder) and where the model came from."""

    pipe: object
    split: CaptionedSplit
    record: dict
    from_cache: bool | None    # None: loaded from ``origin``, a pipeline folder
    origin: str

    @property
    def loss_curves(self) -> dict:
        """Trained part -> its loss curve [(step, loss)] (empty for a loaded pipeline)."""
        curves = {"VAE (reconstruction + KL)": self.record.get("vae_loss_curve"),
                  "UNet (denoising MSE)": self.record.get("loss_curve")}
        return {name: c for name, c in curves.items() if c}

    def describe(self) -> str:
        """One line: the split's sizes and where the model came from."""
        return f"{len(self.split.members)} members, {len(self.split.nonmembers)} non-members; model {self.origin}"


def open_text_to_image(*, model: dict, n_members: int, n_nonmembers: int, seed: int, device: str = "auto",
                       pipeline_path: str = "", members_dir: str = "", nonmembers_dir: str = "",
                       captions_file: str = "", image_size: int = 512) -> TextToImageModelUnderAttack:
    """Notebook 07's model and split from its parameters: with ``pipeline_path`` a local Stable
    Diffusion folder and the member / non-member folders with their captions; without, the tiny
    pipeline trained here (``model``: :class:`TextToImageConfig` overrides) on captioned digits.
    Folders given without ``pipeline_path`` are an error, not silently ignored."""
    if pipeline_path:
        pipe = load_pipeline(pipeline_path, device=device)
        split = load_captioned_folders(members_dir, nonmembers_dir, captions_file, image_size)
        return TextToImageModelUnderAttack(pipe, split, {}, None, f"loaded from {pipeline_path}")
    given = [n for n, v in (("members_dir", members_dir), ("nonmembers_dir", nonmembers_dir),
                            ("captions_file", captions_file)) if v]
    if given:
        raise ValueError(f"{', '.join(given)} given without pipeline_path: set pipeline_path to the Stable Diffusion "
                         "folder those images belong to, or leave them empty to train the tiny model")
    config = TextToImageConfig.from_overrides(model)
    split = captioned_digits(coloured_population(image_size=config.image_size, seed=seed), n_members, n_nonmembers,
                             seed=seed)
    trained = train_text_to_image(split.members, split.member_captions, config, seed=seed, device=device)
    origin = "from the cache" if trained.from_cache else "trained now"
    return TextToImageModelUnderAttack(trained.pipeline, split, trained.record, trained.from_cache, origin)


def text_to_image_quality(study: TextToImageModelUnderAttack, n: int, *, guidance_scale: float,
                          seed: int = 0) -> dict | None:
    """The sample-quality check (:mod:`mialib.evaluation.sample_quality`) of the tiny model trained
    here: ``n`` images generated under the non-members' captions (repeated in order), against the
    manifold of the member images, with the non-members as the held-out reference of real images.
    Its "copying" entry (:func:`mialib.evaluation.memorisation.copying_summary`) says how far the
    same samples copy the members, which precision cannot see. None for a pipeline loaded from a
    folder: the check reads the grey intensity of this project's coloured digits, which its images
    are not."""
    n = check_int(n, "n", low=1)
    if study.from_cache is None:
        return None
    caps = study.split.nonmember_captions
    images = generate(study.pipe, [caps[i % len(caps)] for i in range(n)], guidance_scale=guidance_scale, seed=seed + 1)
    check = SampleQuality.fit(study.split.members, study.split.nonmembers).check(images)
    return {**check, "copying": copying_summary(images, study.split.members, study.split.nonmembers, seed=seed)}
