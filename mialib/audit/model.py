"""The model under audit, from a local diffusers folder, as a :class:`DiffusionTarget`.

What is accepted (all loaded offline with ``from_pretrained``, safetensors weights only):

* a ``DDPMPipeline`` / ``DDIMPipeline`` folder (``model_index.json``, ``unet/``, ``scheduler/``),
  or any folder holding ``unet/`` and ``scheduler/``;
* a bare ``UNet2DModel`` folder (``config.json`` and its weights) with a scheduler folder given
  apart (``scheduler=``);
* a class-conditional ``UNet2DModel`` (``num_class_embeds`` set) in either layout: the audit then
  needs a class label per image;
* a ``StableDiffusionPipeline`` folder: images go through its VAE (scaled latent mean) and the
  UNet reads the text encoder's embedding of each image's caption.

Whatever the scheduler's ``prediction_type`` (epsilon, v_prediction, sample), the attacks see the
noise (:func:`mialib.diffusion.adapters.to_epsilon`); fp16 / bf16 weights are cast to fp32, with
a notice, because SecMI's step errors vanish in half precision.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import torch

from ..core.quiet import EMPTY_FLOAT32_NOTICE, dropping_log_message
from ..diffusion.adapters import PREDICTION_TYPES, pipeline_target, unet_target
from ..diffusion.models import resolve_device
from ..diffusion.target import DiffusionTarget
from .errors import AuditError

PIXEL_PIPELINES = ("DDPMPipeline", "DDIMPipeline")
TEXT_PIPELINES = ("StableDiffusionPipeline",)
WEIGHT_SUFFIXES = (".safetensors",)
PICKLED_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt", ".pkl")


@dataclass
class AuditedModel:
    """A model ready for the attacks: its target, what conditioning it takes (None, "class" or
    "text"), the shape of the images it takes, its scheduler's prediction type, a fingerprint of
    its files, and notices for the report (e.g. a cast to fp32)."""

    target: DiffusionTarget
    conditioning: str | None
    image_shape: tuple[int, int, int]
    prediction_type: str
    fingerprint: str
    description: str
    notices: list[str] = field(default_factory=list)
    num_classes: int | None = None


def _entries(folder: Path) -> str:
    names = sorted(p.name + ("/" if p.is_dir() else "") for p in folder.iterdir())
    return ", ".join(names[:12]) + (" ..." if len(names) > 12 else "") if names else "nothing"


def files_fingerprint(*folders: Path) -> str:
    """SHA-256 (16 hex characters) of every weight and config file under ``folders``, by relative
    path and content: two audits of the same files share it, any changed weight changes it."""
    h = hashlib.sha256()
    for folder in folders:
        for p in sorted(q for q in folder.rglob("*") if q.is_file() and q.suffix in (*WEIGHT_SUFFIXES, ".json", ".txt")):
            h.update(str(p.relative_to(folder)).encode())
            with open(p, "rb") as fh:
                for block in iter(lambda: fh.read(1 << 20), b""):
                    h.update(block)
    return h.hexdigest()[:16]


def _stored_dtypes(folder: Path) -> set[str]:
    """The dtypes the safetensors files under ``folder`` store (e.g. {"F16"})."""
    from safetensors import safe_open

    found = set()
    for f in folder.glob("*.safetensors"):
        with safe_open(str(f), framework="pt") as st:
            found |= {st.get_slice(k).get_dtype() for k in list(st.keys())[:50]}
    return found


def _require_safetensors(folder: Path, what: str) -> None:
    if not folder.is_dir():
        raise AuditError(f"{what}: no folder {folder}")
    if any(folder.glob("*.safetensors")):
        return
    pickled = sorted(p.name for p in folder.iterdir() if p.suffix in PICKLED_SUFFIXES)
    if pickled:
        raise AuditError(f"{what} in {folder} has only pickled weights ({', '.join(pickled)}); the audit loads "
                         "safetensors only (a pickle can run code): save the model with save_pretrained("
                         "safe_serialization=True) or convert it")
    raise AuditError(f"{what}: no weights (*.safetensors) in {folder}; found {_entries(folder)}")


def _class_name(config: Path) -> str | None:
    try:
        return json.loads(config.read_text()).get("_class_name")
    except (OSError, ValueError) as exc:
        raise AuditError(f"{config} is not readable JSON ({exc})") from None


def _load_unet(folder: Path, notices: list[str]):
    from diffusers import UNet2DModel

    _require_safetensors(folder, "the UNet")
    name = _class_name(folder / "config.json") if (folder / "config.json").is_file() else None
    if name != "UNet2DModel":
        raise AuditError(f"{folder} holds a {name or 'model without config.json'}, not a UNet2DModel; a pixel "
                         "model's audit needs a UNet2DModel (a text-to-image model: pass its StableDiffusionPipeline folder)")
    stored = _stored_dtypes(folder)
    try:
        unet = UNet2DModel.from_pretrained(folder, use_safetensors=True, local_files_only=True, low_cpu_mem_usage=False)
    except (OSError, ValueError, RuntimeError) as exc:
        raise AuditError(f"the UNet in {folder} could not be loaded: {exc}") from None
    low = sorted(d for d in stored if d in ("F16", "BF16"))
    if low or next(unet.parameters()).dtype != torch.float32:
        notices.append(f"The UNet's weights are stored in {', '.join(low) or next(unet.parameters()).dtype}; they were "
                       "cast to fp32, as the attacks need (SecMI's step errors vanish in half precision).")
    return unet.float()


def _load_scheduler(folder: Path):
    from diffusers import DDPMScheduler

    cfg_path = folder / "scheduler_config.json"
    if not cfg_path.is_file():
        raise AuditError(f"no scheduler in {folder} (no scheduler_config.json; found {_entries(folder) if folder.is_dir() else 'no folder'}); "
                         "pass the folder of the scheduler the model was trained with")
    try:
        config = json.loads(cfg_path.read_text())
    except ValueError as exc:
        raise AuditError(f"{cfg_path} is not readable JSON ({exc})") from None
    pred = config.get("prediction_type", "epsilon")
    if pred not in PREDICTION_TYPES:
        raise AuditError(f"{cfg_path}: prediction_type {pred!r} is none of {list(PREDICTION_TYPES)}")
    # any diffusers scheduler's betas give abar_t; DDPMScheduler reads the common fields and ignores the rest
    return DDPMScheduler.from_config(config)


def _pixel_model(unet_dir: Path, scheduler_dir: Path, *, device, batch_size: int, kind: str) -> AuditedModel:
    notices: list[str] = []
    unet = _load_unet(unet_dir, notices)
    scheduler = _load_scheduler(scheduler_dir)
    target = unet_target(unet, scheduler, batch_size=batch_size, device=resolve_device(device))
    n = unet.config.num_class_embeds
    pred = scheduler.config.prediction_type
    shape = target.image_shape
    desc = (f"{kind}: a UNet2DModel ({shape[0]} channels, {shape[1]}x{shape[2]}"
            + (f", {n} class embeddings" if n is not None else "") + f"), {pred} prediction, "
            f"{target.num_timesteps} timesteps")
    return AuditedModel(target, "class" if n is not None else None, shape, pred,
                        files_fingerprint(unet_dir, scheduler_dir), desc, notices, num_classes=n)


def _text_model(folder: Path, *, device, batch_size: int) -> AuditedModel:
    from ..diffusion.pipeline import load_pipeline

    for part in ("unet", "vae", "text_encoder"):
        _require_safetensors(folder / part, f"the pipeline's {part}")
    try:
        pipe = load_pipeline(folder, device=device)
    except (OSError, ValueError, RuntimeError) as exc:
        raise AuditError(f"the Stable Diffusion pipeline in {folder} could not be loaded: {exc}") from None
    notices = []
    dtypes = {str(next(m.parameters()).dtype) for m in (pipe.unet, pipe.vae, pipe.text_encoder)}
    if dtypes != {"torch.float32"}:
        notices.append(f"The pipeline's weights are {', '.join(sorted(dtypes))}; they were cast to fp32.")
        with dropping_log_message(*EMPTY_FLOAT32_NOTICE):  # the cast is stated in the notice above
            pipe = pipe.to(torch.float32)
    target = pipeline_target(pipe, batch_size=batch_size)
    pred = pipe.scheduler.config.prediction_type
    shape = target.image_shape
    desc = (f"a StableDiffusionPipeline ({shape[0]}x{shape[1]}x{shape[2]} images, latents "
            f"{'x'.join(map(str, target.sample_shape))}, {pred} prediction, {target.num_timesteps} timesteps)")
    return AuditedModel(target, "text", shape, pred, files_fingerprint(folder), desc, notices)


def load_audited_model(model: str | Path, *, scheduler: str | Path | None = None, device: str = "auto",
                       batch_size: int = 64) -> AuditedModel:
    """The model in the local diffusers folder ``model`` (module docstring), with the scheduler
    folder ``scheduler`` when ``model`` is a bare UNet. Paths are relative to the current directory.
    Anything else is an :class:`AuditError` that says what the folder holds."""
    folder = Path(model).expanduser()
    if not folder.is_dir():
        raise AuditError(f"--model: no folder {folder.resolve()}")
    if scheduler is not None:
        return _pixel_model(folder, Path(scheduler).expanduser(), device=device, batch_size=batch_size,
                            kind=f"a UNet folder with the scheduler of {scheduler}")
    index = folder / "model_index.json"
    if index.is_file():
        name = _class_name(index)
        if name in TEXT_PIPELINES:
            return _text_model(folder, device=device, batch_size=batch_size)
        if name not in PIXEL_PIPELINES:
            raise AuditError(f"{folder} holds a {name}; the audit reads {', '.join(PIXEL_PIPELINES + TEXT_PIPELINES)} "
                             "folders, or a UNet2DModel folder with --scheduler")
    if (folder / "unet").is_dir():
        return _pixel_model(folder / "unet", folder / "scheduler", device=device, batch_size=batch_size,
                            kind=f"a {_class_name(index) if index.is_file() else 'pipeline'} folder")
    if (folder / "config.json").is_file():
        raise AuditError(f"{folder} is a bare model folder ({_class_name(folder / 'config.json')}): pass the folder of "
                         "its scheduler too (--scheduler DIR, the folder with scheduler_config.json)")
    raise AuditError(f"{folder} is not a diffusers model folder: no model_index.json, unet/ or config.json; found "
                     f"{_entries(folder)}")
