"""Label-preserving data augmentation, applied to each training batch before the noise is added
(the model learns to denoise shifted copies, so no one pixel layout of a training image is seen
hundreds of times). What preserves a label depends on the data: digits survive a shift of a
pixel but not a mirror image (a mirrored 2 or 7 is no digit); natural images (CIFAR-10) survive
both. The kinds:

- ``"shift"``: a random integer translation of up to ``max_shift`` pixels in each direction,
  with the border pixels repeated into the gap (the background of a digit stays background);
- ``"flip"``: a horizontal flip with probability 1/2;
- ``"shift+flip"``: both.

Every draw comes from the training loop's generator, in a fixed order, so training stays a pure
function of its settings.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

KINDS = ("", "shift", "flip", "shift+flip")


def check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise ValueError(f"unknown augmentation {kind!r}; known: {[k for k in KINDS if k]} ('' for none)")


def augment(x: torch.Tensor, kind: str, generator: torch.Generator, max_shift: int = 1) -> torch.Tensor:
    """``x`` (Tensor[B, C, H, W]) augmented by ``kind`` (module docstring); ``''`` returns it as is
    without drawing anything."""
    check_kind(kind)
    if not kind or len(x) == 0:
        return x
    b, _, h, w = x.shape
    if "shift" in kind:
        s = max_shift
        dy = torch.randint(-s, s + 1, (b,), generator=generator)
        dx = torch.randint(-s, s + 1, (b,), generator=generator)
        padded = F.pad(x, (s, s, s, s), mode="replicate")
        rows = (torch.arange(h).view(1, h) + s - dy.view(b, 1)).to(x.device)   # [B, H]
        cols = (torch.arange(w).view(1, w) + s - dx.view(b, 1)).to(x.device)   # [B, W]
        bi = torch.arange(b, device=x.device).view(b, 1, 1)
        x = padded.permute(0, 2, 3, 1)[bi, rows.view(b, h, 1), cols.view(b, 1, w)].permute(0, 3, 1, 2)
    if "flip" in kind:
        flip = (torch.rand(b, generator=generator) < 0.5).to(x.device).view(b, 1, 1, 1)
        x = torch.where(flip, x.flip(-1), x)
    return x.contiguous()
