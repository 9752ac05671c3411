"""Deliberate distribution shifts, for showing the pitfall of non-i.i.d. member/non-member
splits (docs/papers.md section 5): when the non-members come from a transformed
population, a blind classifier and every attack "succeed" without measuring membership.

Each shift maps images in [-1, 1] to images in [-1, 1] of the same shape:
- ``blur``: mix with a 3x3 box blur, x <- (1 - s) x + s box(x) (a softer camera);
- ``contrast``: x <- (1 - s) x + s mean(x) per image (lower contrast);
- ``flip``: horizontal mirror (s is ignored; a different population of glyphs);
- ``noise``: add seeded Gaussian pixel noise of std s, clipped (a noisier sensor).
"""

from __future__ import annotations

import torch

SHIFTS = ("blur", "contrast", "flip", "noise")


def shift_population(images: torch.Tensor, kind: str = "blur", strength: float = 0.5,
                     seed: int = 0) -> torch.Tensor:
    """``images`` (Tensor[N, C, H, W] in [-1, 1]) after the shift ``kind`` of ``strength``."""
    if kind not in SHIFTS:
        raise ValueError(f"unknown shift {kind!r}; choose one of {SHIFTS}")
    if images.ndim != 4:
        raise ValueError(f"images must be Tensor[N, C, H, W], got shape {tuple(images.shape)}")
    if kind != "flip" and not 0.0 <= strength <= (1.0 if kind != "noise" else 2.0):
        raise ValueError(f"strength of {kind!r} must lie in [0, {1 if kind != 'noise' else 2}], got {strength}")
    x = images.float()
    if kind == "blur":
        c = x.shape[1]
        kernel = torch.full((c, 1, 3, 3), 1.0 / 9.0)
        padded = torch.nn.functional.pad(x, (1, 1, 1, 1), mode="replicate")
        out = (1 - strength) * x + strength * torch.nn.functional.conv2d(padded, kernel, groups=c)
    elif kind == "contrast":
        out = (1 - strength) * x + strength * x.mean(dim=(1, 2, 3), keepdim=True)
    elif kind == "flip":
        out = x.flip(-1)
    else:
        g = torch.Generator().manual_seed(seed)
        out = x + strength * torch.randn(x.shape, generator=g)
    return out.clamp(-1.0, 1.0)
