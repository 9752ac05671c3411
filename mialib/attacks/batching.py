"""The per-image loop every attack shares: images and their conditioning in the target's
batches (at most ``target.batch_size`` images at a time), and the check of the generator that
the noise-drawing attacks draw from, for all images at once on the CPU before the loop, so
their scores do not depend on the batch size or the device."""

from __future__ import annotations

from typing import Iterator

import torch


def iter_batches(target, x0: torch.Tensor, cond=None) -> Iterator[tuple[slice, torch.Tensor, torch.Tensor | None]]:
    """(sl, x0[sl], cond[sl]) for each slice ``sl`` of :meth:`DiffusionTarget.batches`;
    the conditioning is None for an unconditional call (``cond=None``)."""
    for sl in target.batches(len(x0)):
        yield sl, x0[sl], None if cond is None else cond[sl]


def check_generator(generator) -> None:
    """A ValueError unless ``generator`` is a torch.Generator or None (the global RNG)."""
    if not isinstance(generator, (torch.Generator, type(None))):
        raise ValueError(f"generator must be a torch.Generator or None, got {type(generator).__name__}")
