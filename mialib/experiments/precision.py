"""Notebook 02's precision comparison: the same attack with the model run in bfloat16 beside fp32,
on the same images, with a paired-bootstrap interval for the AUC difference.

Where the device has no native bfloat16 (:func:`mialib.diffusion.adapters.native_bfloat16`: on
such a CPU PyTorch emulates the kernels, several times slower than fp32), the comparison runs on
a seeded random subset of ``subset`` members and ``subset`` non-members of the evaluation split,
and the fp32 side is the same images' fp32 scores, so the interval stays paired and honest,
only wider; :attr:`PrecisionComparison.note` says which was done.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace

import numpy as np
import torch

from ..attacks.scoring import SplitScores, score_split
from ..diffusion.adapters import low_precision_target, native_bfloat16
from ..evaluation.compare import compare
from ..evaluation.metrics import evaluate


@dataclass
class PrecisionComparison:
    """bfloat16 against fp32 on the same images: both metric dicts, their paired difference
    (bfloat16 - fp32), how many members / non-members were scored, and whether all were."""

    bf16: dict
    fp32: dict
    difference: dict
    n_members: int
    n_nonmembers: int
    native: bool

    @property
    def note(self) -> str:
        """One line for the reader: which images, and why."""
        if self.native:
            return (f"bfloat16 is native on this device: all {self.n_members} members and "
                    f"{self.n_nonmembers} non-members of the evaluation split were scored in both precisions")
        return (f"bfloat16 is emulated on this device (several times slower than fp32), so both precisions "
                f"were compared on a seeded random subset of {self.n_members} members and {self.n_nonmembers} "
                f"non-members of the evaluation split (the interval is paired, and wider than on all images)")


def subset_indices(n: int, size: int, seed: int) -> np.ndarray:
    """``min(size, n)`` sorted positions out of ``n``, drawn without replacement from ``seed``."""
    if size >= n:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size=size, replace=False))


def compare_precision(attack, model, fp32: SplitScores, data, *, seed: int, n_boot: int, subset: int,
                      batch_size: int = 256, native: bool | None = None) -> PrecisionComparison:
    """``attack`` on ``model`` (a :class:`~mialib.diffusion.trained.TrainedModel`) run in
    bfloat16, against its fp32 scores ``fp32`` of the same ``data``: on every evaluation image
    where bfloat16 is ``native`` (default: detected), else on ``subset`` members and ``subset``
    non-members (see the module docstring). Meant for deterministic attacks (SecMI): one that draws
    noise would draw other noise for a subset than for the whole split."""
    if isinstance(subset, bool) or not isinstance(subset, int) or subset < 2:
        raise ValueError(f"subset must be an integer >= 2 (images per part), got {subset!r}")
    device = next(model.unet.parameters()).device
    native = native_bfloat16(device) if native is None else native
    size_m, size_n = (len(data.members), len(data.nonmembers)) if native else (subset, subset)
    idx_m = subset_indices(len(data.members), size_m, seed)
    idx_n = subset_indices(len(data.nonmembers), size_n, seed + 1)
    images = SimpleNamespace(members=data.members[torch.as_tensor(idx_m)],
                             nonmembers=data.nonmembers[torch.as_tensor(idx_n)])
    target = low_precision_target(model.unet, model.scheduler, batch_size=batch_size)
    low = score_split(attack, target, images, seed=seed, calibration=False)
    same = fp32.subset(idx_m, idx_n)
    return PrecisionComparison(
        bf16=evaluate(*low.evaluation, n_boot=n_boot, seed=seed),
        fp32=evaluate(*same.evaluation, n_boot=n_boot, seed=seed),
        difference=compare(low, same, n_boot=n_boot, seed=seed),
        n_members=len(idx_m), n_nonmembers=len(idx_n), native=native)
