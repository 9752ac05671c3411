"""A real, tiny text-to-image model built from the parts of Stable Diffusion (:mod:`.parts`)
and trained here (notebook 07), through the same cache entry mechanism (:mod:`.entries`) and the
same training loop (:func:`.training.fit`) as every other model:

    model = train_text_to_image(images, captions, TextToImageConfig(), seed=0)
    pipe = model.pipeline                                  # a StableDiffusionPipeline (:mod:`.pipeline`)
    target = pipeline_target(pipe)                         # latent, text-conditioned (:mod:`.adapters`)

The VAE is fitted first (:class:`.objectives.VAEObjective`; no EMA, warm-up or clipping), its
``scaling_factor`` set to 1 / std of the latent means, as Stable Diffusion's 0.18215 is for its
VAE. The text encoder is randomly initialised and frozen, as Stable Diffusion's is frozen: it
only has to give different captions different embeddings, and the UNet learns to read them.
Captions are dropped (replaced by the empty prompt) for ``caption_dropout`` of the training
steps, so the model also learns the unconditional noise that classifier-free guidance and the
empty-prompt ablation need. Everything is seeded and cached by the content trained on (images,
captions, configuration); both trainings resume from their checkpoints when interrupted.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass

import torch

from ..core import cache
from ..core.checks import check_int
from ..data.images import fingerprint
from .encoders import embed, encode_latents
from .entries import load_or_train, training_record
from .models import build_scheduler, resolve_device
from .objectives import VAEObjective
from .parts import TextToImageConfig, build_latent_unet, build_text_encoder, build_vae
from .pipeline import assemble_pipeline
from .tokenizer import build_tokenizer
from .training import TrainConfig, fit, train_diffusion, write_training_state

REQUIRED_RECORD = ("steps", "loss_curve")
VAE_LOG_POINTS = 50  # points of the VAE's loss curve


@dataclass
class TextToImageModel:
    """A trained tiny pipeline, its cache record, and whether it came from the cache."""

    pipeline: object
    record: dict
    from_cache: bool


def vae_train_config(config: TextToImageConfig, seed: int = 0) -> TrainConfig:
    """The VAE's optimisation: AdamW at ``vae_lr`` with its default weight decay (0.01), no
    warm-up, no gradient clipping, no EMA (the trained weights are the model)."""
    return TrainConfig(steps=config.vae_steps, batch_size=config.batch_size, lr=config.vae_lr, warmup_steps=0,
                       weight_decay=0.01, ema_decay=0.0, grad_clip=0.0, seed=seed)


def train_vae(vae, images: torch.Tensor, config: TextToImageConfig, seed: int = 0, device="cpu",
              progress: bool = True, checkpoint=None) -> list:
    """Fit the VAE to ``images`` (:class:`.objectives.VAEObjective`, seeded, resumable from
    ``checkpoint``, where its final state is also kept); return the loss curve. Afterwards
    ``vae.config.scaling_factor`` is 1 / std of the latent means, so the UNet sees
    unit-variance latents."""
    result = fit(vae, images, vae_train_config(config, seed), VAEObjective(config.vae_kl_weight), device=device,
                 checkpoint=checkpoint, keep_state=checkpoint is not None, progress=progress,
                 log_points=VAE_LOG_POINTS, desc="VAE")
    if checkpoint is not None:
        write_training_state(checkpoint, result.state)
    means = encode_latents(vae.eval(), images, scaled=False)
    vae.register_to_config(scaling_factor=float(1.0 / means.std().clamp_min(1e-6)))
    return result.loss_curve


def text_to_image_key(images: torch.Tensor, captions, config: TextToImageConfig, seed: int) -> str:
    """The cache key of the tiny pipeline trained on ``images`` and ``captions``."""
    return cache.config_hash({"kind": "text-to-image", "config": config.to_dict(), "seed": seed,
                              "images": fingerprint(images), "captions": list(captions)})


def train_text_to_image(images: torch.Tensor, captions, config: TextToImageConfig = TextToImageConfig(), *,
                        seed: int = 0, device: str = "auto", progress: bool = True) -> TextToImageModel:
    """The tiny pipeline trained on ``images`` (Tensor[N, 3, H, W] in [-1, 1]) and their
    ``captions``: from the cache, or trained (VAE, then the latent UNet on the frozen random text
    encoder's caption embeddings) and cached as one pipeline folder."""
    captions = list(captions)
    if images.ndim != 4 or images.shape[1] != 3 or len(images) != len(captions) or not len(images):
        raise ValueError(f"need one caption per RGB image, got {tuple(images.shape)} images and {len(captions)} captions")
    if images.shape[-1] != config.image_size:
        raise ValueError(f"images are {images.shape[-1]} pixels wide, the config says {config.image_size}")
    check_int(seed, "seed")
    dev = resolve_device(device)
    key = text_to_image_key(images, captions, config, seed)

    def wrap(components, record):
        pipe = components["pipeline"].to(dev)
        pipe.set_progress_bar_config(disable=True)
        return TextToImageModel(pipe, record, True)

    def train_now() -> TextToImageModel:
        t0 = time.perf_counter()
        vae_checkpoint = cache.checkpoint_path(f"{key}-vae")
        with tempfile.TemporaryDirectory() as tmp:
            tokenizer = build_tokenizer(captions + [""], tmp, config.max_tokens)
            text_encoder = build_text_encoder(config, len(tokenizer), seed).to(dev)
            vae = build_vae(config, seed)
            vae_curve = train_vae(vae, images, config, seed, dev, progress, checkpoint=vae_checkpoint)
            latents = encode_latents(vae, images)
            texts, null = embed(captions, tokenizer, text_encoder).cpu(), embed([""], tokenizer, text_encoder)[0].cpu()
            unet = build_latent_unet(config, seed)
            train = TrainConfig(steps=config.unet_steps, batch_size=config.batch_size, lr=config.lr,
                                ema_decay=config.ema_decay, label_dropout=config.caption_dropout, seed=seed)
            result = train_diffusion(unet, build_scheduler().alphas_cumprod, latents, train, texts=texts,
                                     null_text=null, device=dev, checkpoint=cache.checkpoint_path(key), progress=progress)
            pipe = assemble_pipeline(vae.eval(), text_encoder, tokenizer, result.ema_model.eval())
            record = training_record({"steps": config.unet_steps, "loss_curve": result.loss_curve,
                                      "vae_loss_curve": vae_curve, "config": config.to_dict(), "seed": seed,
                                      "n_training_images": len(images), "scaling_factor": vae.config.scaling_factor},
                                     wall_time_s=time.perf_counter() - t0, device=dev)
            record = cache.save_entry(key, {"pipeline": pipe}, record)
        vae_checkpoint.unlink(missing_ok=True)
        return TextToImageModel(pipe, record, False)

    return load_or_train(key, REQUIRED_RECORD, wrap, train_now)
