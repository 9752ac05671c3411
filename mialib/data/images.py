"""The one type every image source returns (:class:`ImageSet`: images in [-1, 1], the range
every attack and model here expects; docs/papers.md, "Conventions"), its content fingerprint,
and plain transforms (``resize``, ``subset``) that later notebooks compose (e.g. colouring digits
to add a sensitive attribute). The sources themselves are in :mod:`.loaders`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace

import numpy as np
import torch
import torch.nn.functional as F

from ..core.checks import check_int


def fingerprint(images: torch.Tensor, labels=None) -> str:
    """SHA-256 (hex, 16 chars) of the images' shape and values and of the labels: identifies
    exactly what a model was trained on, in cache keys."""
    h = hashlib.sha256()
    h.update(str(tuple(images.shape)).encode())
    h.update(images.detach().to("cpu", torch.float32).contiguous().numpy().tobytes())
    if labels is not None:
        h.update(np.asarray(labels, dtype=np.int64).tobytes())
    return h.hexdigest()[:16]


@dataclass(frozen=True)
class ImageSet:
    """Images in [-1, 1] as float32 Tensor[N, C, H, W], with optional integer labels and
    per-image attributes (name -> array of length N)."""

    name: str
    images: torch.Tensor
    labels: np.ndarray | None = None
    attributes: dict[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self):
        x = self.images
        if not isinstance(x, torch.Tensor) or x.ndim != 4:
            raise ValueError(f"{self.name}: images must be a Tensor[N, C, H, W], got "
                             f"{type(x).__name__} with shape {tuple(getattr(x, 'shape', ()))}")
        if len(x) == 0:
            raise ValueError(f"{self.name}: the image set is empty")
        if x.dtype != torch.float32:
            raise ValueError(f"{self.name}: images must be float32, got {x.dtype}")
        if not torch.isfinite(x).all() or x.min() < -1.0 - 1e-6 or x.max() > 1.0 + 1e-6:
            raise ValueError(f"{self.name}: images must be finite and in [-1, 1], got range "
                             f"[{x.min().item():.3g}, {x.max().item():.3g}]")
        for key, arr in [("labels", self.labels), *self.attributes.items()]:
            if arr is not None and len(arr) != len(x):
                raise ValueError(f"{self.name}: {key} has {len(arr)} entries for {len(x)} images")

    def __len__(self) -> int:
        return len(self.images)

    @property
    def shape(self) -> tuple[int, int, int]:
        """(C, H, W) of one image."""
        return tuple(self.images.shape[1:])

    def fingerprint(self) -> str:
        """:func:`fingerprint` of the images and labels."""
        return fingerprint(self.images, self.labels)


def to_unit_range(x: np.ndarray, max_value: float) -> torch.Tensor:
    """Map pixel values in [0, max_value] to float32 in [-1, 1]; values outside are an error."""
    x = np.asarray(x)
    if x.size and (x.min() < 0 or x.max() > max_value):
        raise ValueError(f"pixel values must lie in [0, {max_value:g}], got [{x.min()}, {x.max()}]")
    return torch.from_numpy(np.asarray(x, dtype=np.float32) / float(max_value) * 2.0 - 1.0)


def resize(ds: ImageSet, size: int) -> ImageSet:
    """Resize every image to ``size`` x ``size`` (bilinear with antialiasing; values stay in
    [-1, 1]). A no-op when the images already have that size."""
    check_int(size, "image_size", low=1)
    if ds.images.shape[-2:] == (size, size):
        return ds
    out = F.interpolate(ds.images, size=(size, size), mode="bilinear", align_corners=False,
                        antialias=True).clamp_(-1.0, 1.0)
    return replace(ds, images=out)


def subset(ds: ImageSet, indices) -> ImageSet:
    """The images (and labels, attributes) at ``indices`` (integers in [0, len(ds)); a negative
    index is an error here, not a count from the end)."""
    idx = np.asarray(indices)
    if idx.ndim != 1 or (idx.size and not np.issubdtype(idx.dtype, np.integer)):
        raise ValueError(f"indices must be a 1-D array of integers, got dtype {idx.dtype} and shape {idx.shape}")
    idx = idx.astype(np.int64)
    if idx.size and (idx.min() < 0 or idx.max() >= len(ds)):
        raise ValueError(f"indices must lie in [0, {len(ds) - 1}], got [{idx.min()}, {idx.max()}]")
    return ImageSet(
        name=ds.name,
        images=ds.images[torch.from_numpy(idx)],
        labels=None if ds.labels is None else np.asarray(ds.labels)[idx],
        attributes={k: np.asarray(v)[idx] for k, v in ds.attributes.items()},
    )




def examples_per_class(ds: ImageSet, per_class: int = 10) -> np.ndarray:
    """Indices of the first ``per_class`` images of each class, class by class (the first
    ``per_class`` images when the set has no labels)."""
    if ds.labels is None:
        return np.arange(min(per_class, len(ds)))
    return np.concatenate([np.flatnonzero(ds.labels == c)[:per_class] for c in np.unique(ds.labels)])
