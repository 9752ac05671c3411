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

from ..core import paths
from ..core.checks import check_int
from ..data.colored import ColouredPopulation
from ..data.loaders import IMAGE_SUFFIXES, load_image_folder
from ..diffusion.sampling import sample_pipeline
from ..data.captions import COLOUR_WORDS, DIGIT_WORDS, caption

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
