"""How every trained model kind goes through the cache (:mod:`mialib.core.cache`): look the
entry up; when absent, take the key's lock, look again (another process may have trained it
while this one waited), train and save it, and drop its resumable checkpoint; and the common
part of every entry's record (timing, device, versions)."""

from __future__ import annotations

import platform
import time
from typing import Callable, TypeVar

import torch

from .. import __version__
from ..core import cache

T = TypeVar("T")


def load(key: str, required: tuple[str, ...], wrap: Callable[[dict, dict], T]) -> T | None:
    """``wrap(components, record)`` of entry ``key``, None when it is absent or unusable."""
    hit = cache.load_entry(key, required)
    return None if hit is None else wrap(*hit)


def load_or_train(key: str, required: tuple[str, ...], wrap: Callable[[dict, dict], T],
                  train: Callable[[], T]) -> T:
    """Entry ``key`` loaded (:func:`load`), or ``train()`` (which saves it) run once under the
    key's lock; concurrent callers wait for each other, and the key's checkpoint
    (:func:`mialib.core.cache.checkpoint_path`) is removed once the entry is saved."""
    hit = load(key, required, wrap)
    if hit is not None:
        return hit
    cache.check_writable()
    with cache.locked(key):
        hit = load(key, required, wrap)
        if hit is not None:
            return hit
        out = train()
        cache.checkpoint_path(key).unlink(missing_ok=True)
    return out


def training_record(fields: dict, *, wall_time_s: float, device, provenance: dict | None = None) -> dict:
    """``fields`` (what was trained, on what) with the time it took, when, on which device,
    any ``provenance``, and the versions of mialib, torch and Python."""
    return {**fields, "wall_time_s": round(wall_time_s, 2), "trained_at_unix": round(time.time()),
            "device": str(device), **(provenance or {}),
            "versions": {"mialib": __version__, "torch": torch.__version__, "python": platform.python_version()}}
