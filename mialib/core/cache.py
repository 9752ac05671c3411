"""Trained models cached under ``data/cache/<key>/`` ($MIALIB_CACHE moves the whole cache).

An entry is a folder written atomically (built beside, then renamed into place) holding one
sub-folder per model component (``unet/``, and for a text-to-image pipeline also ``vae/``,
``text_encoder/``, ...) written with ``save_pretrained`` (safetensors weights), optional extra
tensor files (``<name>.safetensors``, e.g. the optimizer state a longer run continues from), and
``record.json``: what was trained, on what, how long it took, which class each component is, and
the SHA-256 of every other file in the entry.

Reading an entry checks all of that: an entry that is partial, unreadable, recorded under
another key, missing a required record field, or whose files no longer match their recorded
hash (flipped bits, an edited ``config.json``) is reported with a warning and treated as absent,
so the caller retrains it. Weights are only read with safetensors via ``from_pretrained`` on the
local folder; component classes come from a fixed allow-list, never from the file.

Processes that train or save the same key at once are serialised by :func:`locked`.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import importlib
import json
import os
import tempfile
import warnings
from pathlib import Path

from . import paths, quiet
from .fileio import atomic_path
from .progress import library_bars_off

CACHE_VERSION = 3  # 3: fused AdamW, foreach EMA and clipping; bump when training semantics change, so old entries are not reused
RECORD = "record.json"
BASE_FIELDS = ("key", "components", "files_sha256")


def config_hash(config: dict) -> str:
    """SHA-256 (16 hex chars) of ``config`` as canonical JSON, plus the cache version."""
    blob = json.dumps({"cache_version": CACHE_VERSION, **config}, sort_keys=True, default=list)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def entry_dir(key: str) -> Path:
    """The folder of cache entry ``key``."""
    return paths.cache_dir() / key


def checkpoint_path(key: str) -> Path:
    """The resumable training checkpoint of entry ``key`` while it trains (one file)."""
    return paths.cache_dir() / f"{key}.checkpoint.safetensors"


def check_writable() -> Path:
    """The cache folder, after checking a file can be created in it; a ValueError that says
    how to point the cache elsewhere otherwise. Called before training, not after."""
    folder = paths.cache_dir()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".write-test.", dir=folder)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise ValueError(f"the model cache {folder} is not writable ({exc.strerror or exc}); "
                         "point it at a writable folder with the environment variable "
                         "MIALIB_CACHE=/path/to/cache before training") from exc
    return folder


@contextlib.contextmanager
def locked(key: str):
    """Hold an exclusive lock on ``key`` for the block (other processes wait for it), so a
    model is trained and saved once even when several notebooks or runs ask for it at once.
    A process that finds the lock taken says so once, then sleeps in the kernel until it is
    released (no polling delay)."""
    lock_dir = check_writable() / ".locks"
    lock_dir.mkdir(exist_ok=True)
    with open(lock_dir / f"{key}.lock", "a+") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print(f"[mialib] another process is training or saving model {key}; waiting", flush=True)
            fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def files_digest(folder: Path) -> str:
    """SHA-256 over the relative path and bytes of every file in ``folder`` except the record."""
    h = hashlib.sha256()
    for p in sorted(q for q in folder.rglob("*") if q.is_file() and q.name != RECORD):
        h.update(str(p.relative_to(folder)).encode() + b"\0")
        with open(p, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()


# the classes a cached component may be loaded as (the allow-list), and the package of each
LOADABLE = {"UNet2DModel": "diffusers", "UNet2DConditionModel": "diffusers", "AutoencoderKL": "diffusers",
            "StableDiffusionPipeline": "diffusers", "CLIPTextModel": "transformers", "CLIPTokenizer": "transformers"}


def _component_class(name: str):
    """The allow-listed class ``name`` (None if it is not allow-listed), imported only when an
    entry holds one: importing StableDiffusionPipeline also imports transformers' image
    processors (:func:`.quiet.stable_diffusion_pipeline`), which a pixel UNet's entry never needs."""
    if name not in LOADABLE:
        return None
    if name == "StableDiffusionPipeline":
        return quiet.stable_diffusion_pipeline()
    return getattr(importlib.import_module(LOADABLE[name]), name)


def read_record(key: str, required: tuple[str, ...] = ()) -> dict:
    """The verified record of entry ``key``; ValueError when the entry is unusable."""
    folder = entry_dir(key)
    record = json.loads((folder / RECORD).read_text())
    if not isinstance(record, dict):
        raise ValueError("record.json is not a JSON object")
    missing = [f for f in (*BASE_FIELDS, *required) if f not in record]
    if missing:
        raise ValueError(f"record.json lacks {missing}")
    if record["key"] != key:
        raise ValueError(f"record.json names key {record['key']!r}")
    if files_digest(folder) != record["files_sha256"]:
        raise ValueError("the files no longer match the hash recorded when they were written "
                         "(changed or corrupted weights or configs)")
    return record


def load_entry(key: str, required: tuple[str, ...] = ()):
    """(components, record) of cache entry ``key``, components being name -> loaded model;
    None when there is no entry, or a warning and None when it is unusable (see the module
    docstring), so the caller retrains it."""
    folder = entry_dir(key)
    if not folder.exists():
        return None
    try:
        record = read_record(key, required)
        components = {}
        for name, cls_name in record["components"].items():
            cls = _component_class(cls_name)
            if cls is None:
                raise ValueError(f"component {name!r} has class {cls_name!r}, which is not loadable")
            kwargs = {} if cls_name == "CLIPTokenizer" else {"use_safetensors": True, "low_cpu_mem_usage": False}
            with library_bars_off():  # "Loading weights" etc.: a dead widget in a notebook
                components[name] = cls.from_pretrained(folder / name, local_files_only=True, **kwargs)
    except Exception as exc:
        warnings.warn(f"cache entry {folder} is partial or corrupt ({type(exc).__name__}: "
                      f"{str(exc)[:200]}); retraining it", RuntimeWarning, stacklevel=2)
        return None
    for model in components.values():
        if hasattr(model, "eval"):
            model.eval()
    return components, record


def save_entry(key: str, components: dict, record: dict, tensors: dict | None = None) -> dict:
    """Write ``components`` (name -> model with ``save_pretrained``), ``tensors`` (name ->
    (dict of tensors, dict of str metadata), saved as ``<name>.safetensors``) and ``record`` as
    entry ``key``, atomically, replacing what was there; return the record as written (with
    ``key``, ``components`` and ``files_sha256``). Call it inside :func:`locked`."""
    import torch
    from safetensors.torch import save_file

    folder = entry_dir(key)
    with atomic_path(folder, directory=True) as tmp:
        classes = {}
        for name, model in components.items():
            weights = isinstance(model, torch.nn.Module)  # a tokenizer has files, not weights
            with library_bars_off():  # "Writing model shards": a dead widget in a notebook
                model.save_pretrained(tmp / name, **({"safe_serialization": True} if weights else {}))
            classes[name] = type(model).__name__
        for name, (tdict, meta) in (tensors or {}).items():
            save_file(tdict, str(tmp / f"{name}.safetensors"), metadata=meta)
        full = {**record, "key": key, "components": classes, "files_sha256": files_digest(tmp)}
        (tmp / RECORD).write_text(json.dumps(full, indent=2, sort_keys=True) + "\n")
    return full
