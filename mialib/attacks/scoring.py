"""Scoring the parts of a member / non-member split, with one documented rule for the noise.

An attack that draws noise (naive loss, noise aggregation) draws it for each part of the split
from its own generator, seeded with ``seed + SEED_OFFSETS[part]``:

    members 0, nonmembers 1, cal_members 2, cal_nonmembers 3.

Every notebook scores through :func:`score_split` / :func:`score_part`, so the same attack at
the same settings gets the same scores, and the same calibrated threshold, wherever it runs; a
transformed copy of a part (e.g. shifted non-members) is scored with that part's offset.
:func:`score_split` also measures the queries per image and the time the evaluation parts cost.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch

from .config import AttackConfig

SEED_OFFSETS = {"members": 0, "nonmembers": 1, "cal_members": 2, "cal_nonmembers": 3}


def part_generator(seed: int, part: str) -> torch.Generator:
    """The generator of ``part`` of the split: seeded with ``seed + SEED_OFFSETS[part]``."""
    if part not in SEED_OFFSETS:
        raise ValueError(f"unknown part {part!r}; parts: {list(SEED_OFFSETS)}")
    return torch.Generator().manual_seed(int(seed) + SEED_OFFSETS[part])


def score_part(attack: AttackConfig, target, x0, *, seed: int, part: str, cond=None) -> torch.Tensor:
    """Scores of ``attack`` on the images ``x0`` of ``part``, noise from :func:`part_generator`."""
    attack.check(target)
    return attack.scores(target, x0, cond=cond, generator=part_generator(seed, part))


@dataclass
class SplitScores:
    """Scores of one attack on the evaluation parts and, when scored, the calibration parts: a
    plain container (its metrics: :func:`mialib.evaluation.metrics.evaluate_split`)."""

    members: torch.Tensor
    nonmembers: torch.Tensor
    cal_members: torch.Tensor | None = None
    cal_nonmembers: torch.Tensor | None = None
    queries_per_image: float = float("nan")   # measured on the evaluation parts
    seconds_per_1000: float = float("nan")    # wall time per 1000 evaluation images

    @property
    def evaluation(self) -> tuple[torch.Tensor, torch.Tensor]:
        return self.members, self.nonmembers

    @property
    def calibration(self) -> tuple[torch.Tensor, torch.Tensor] | None:
        if self.cal_members is None or self.cal_nonmembers is None:
            return None
        return self.cal_members, self.cal_nonmembers

    def subset(self, member_idx, nonmember_idx) -> "SplitScores":
        """The evaluation scores of the images at these positions (e.g. a classifier's held-out
        images), to compare attacks on exactly the same images."""
        m, n = (torch.as_tensor(np.asarray(i), dtype=torch.long) for i in (member_idx, nonmember_idx))
        return SplitScores(self.members[m], self.nonmembers[n], self.cal_members, self.cal_nonmembers,
                           self.queries_per_image, self.seconds_per_1000)


def score_split(attack: AttackConfig, target, data, *, seed: int, calibration: bool = True,
                cond: dict | None = None, on_part=None) -> SplitScores:
    """Scores of ``attack`` on the parts of ``data`` (an object with ``members``,
    ``nonmembers``, ``cal_members`` and ``cal_nonmembers`` image tensors, e.g.
    :class:`mialib.experiments.membership.ExperimentData`): the evaluation parts, and the calibration parts
    unless ``calibration=False``. ``cond`` maps a part name to its conditioning; ``on_part(part,
    n_images)``, when given, is called as each part is done (e.g. to move a progress bar)."""
    attack.check(target)  # before any query

    def score(p):
        x = getattr(data, p)
        out = score_part(attack, target, x, seed=seed, part=p, cond=(cond or {}).get(p))
        if on_part is not None:
            on_part(p, len(x))
        return out
    n_eval = len(data.members) + len(data.nonmembers)
    started = time.perf_counter()
    with target.counting(n_eval) as q:
        members, nonmembers = score("members"), score("nonmembers")
    seconds = time.perf_counter() - started
    cal = (score("cal_members"), score("cal_nonmembers")) if calibration else (None, None)
    return SplitScores(members, nonmembers, *cal, queries_per_image=q.per_sample,
                       seconds_per_1000=1000 * seconds / n_eval)
