"""The parts of a text-to-image model as a diffusers ``StableDiffusionPipeline`` (no safety
checker), and such a pipeline loaded offline from a local ``save_pretrained`` folder."""

from __future__ import annotations

from pathlib import Path

from ..core.progress import library_bars_off
from ..core.quiet import stable_diffusion_pipeline
from .models import build_scheduler, resolve_device

REQUIRED_FOLDERS = ("unet", "vae", "text_encoder", "tokenizer", "scheduler")


def assemble_pipeline(vae, text_encoder, tokenizer, unet):
    """The parts as a StableDiffusionPipeline (DDIM sampling over the DDPM schedule, no safety checker)."""
    from diffusers import DDIMScheduler

    StableDiffusionPipeline = stable_diffusion_pipeline()  # without transformers' torchvision notice
    scheduler = DDIMScheduler.from_config(build_scheduler().config)
    scheduler.register_to_config(clip_sample=False, set_alpha_to_one=False, steps_offset=1)
    pipe = StableDiffusionPipeline(vae=vae, text_encoder=text_encoder, tokenizer=tokenizer, unet=unet,
                                   scheduler=scheduler, safety_checker=None, feature_extractor=None,
                                   requires_safety_checker=False)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def load_pipeline(folder: str | Path, device: str = "auto"):
    """A Stable Diffusion pipeline from a local folder (``save_pretrained`` layout), offline,
    without a safety checker; a clear error naming what is missing when the folder is not one."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"no pipeline folder at {folder}: point pipeline_path at a local Stable Diffusion "
                                "folder (model_index.json, unet/, vae/, text_encoder/, tokenizer/, scheduler/)")
    missing = [p for p in ("model_index.json", *REQUIRED_FOLDERS) if not (folder / p).exists()]
    if missing:
        raise FileNotFoundError(f"{folder} is not a complete Stable Diffusion folder: missing {missing}")
    with library_bars_off():  # "Loading pipeline components...": a dead widget in a notebook
        pipe = stable_diffusion_pipeline().from_pretrained(folder, local_files_only=True, use_safetensors=True,
                                                           safety_checker=None, requires_safety_checker=False)
    pipe.set_progress_bar_config(disable=True)
    return pipe.to(resolve_device(device))
