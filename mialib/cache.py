"""Trained models cached under ``data/cache/<config hash>/``.

An entry is a folder written atomically (built beside, then renamed into place) holding
``unet/`` (diffusers ``save_pretrained``, safetensors weights) and ``record.json`` (what
was trained, on which split, how long it took, the loss curve). An entry that is partial,
unreadable or recorded under another key is reported with a warning and retrained;
weights are only ever read with safetensors via ``from_pretrained`` on the local folder.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import warnings
from pathlib import Path

from . import paths
from .fileio import atomic_path

CACHE_VERSION = 1  # bump when training semantics change, so old entries are not reused


def config_hash(config: dict) -> str:
    """SHA-256 (16 hex chars) of ``config`` as canonical JSON, plus the cache version."""
    blob = json.dumps({"cache_version": CACHE_VERSION, **config}, sort_keys=True, default=list)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def entry_dir(key: str) -> Path:
    """The folder of cache entry ``key``."""
    return paths.cache_dir() / key


def checkpoint_dir(key: str) -> Path:
    """Where training of entry ``key`` keeps its resumable checkpoint until it finishes."""
    return paths.cache_dir() / f"{key}.partial"


def load_unet(key: str, model_cls=None):
    """(model, record) of cache entry ``key``, or None when there is no usable entry.
    A partial or corrupt entry gives a warning (and None, so the caller retrains)."""
    from diffusers import UNet2DModel

    model_cls = model_cls or UNet2DModel
    folder = entry_dir(key)
    if not folder.exists():
        return None
    try:
        record = json.loads((folder / "record.json").read_text())
        if record.get("key") != key:
            raise ValueError(f"record.json names key {record.get('key')!r}")
        model = model_cls.from_pretrained(folder / "unet", use_safetensors=True,
                                          local_files_only=True, low_cpu_mem_usage=False)
    except Exception as exc:
        warnings.warn(f"cache entry {folder} is partial or corrupt ({type(exc).__name__}: "
                      f"{str(exc)[:200]}); retraining it", RuntimeWarning, stacklevel=2)
        return None
    return model.eval(), record


def save_unet(key: str, model, record: dict) -> Path:
    """Write ``model`` (save_pretrained, safetensors) and ``record`` as entry ``key``,
    atomically, replacing a corrupt entry if there was one; drop the training checkpoint."""
    folder = entry_dir(key)
    with atomic_path(folder, directory=True) as tmp:
        model.save_pretrained(tmp / "unet", safe_serialization=True)
        (tmp / "record.json").write_text(json.dumps({**record, "key": key}, indent=2,
                                                    sort_keys=True) + "\n")
    shutil.rmtree(checkpoint_dir(key), ignore_errors=True)
    return folder
