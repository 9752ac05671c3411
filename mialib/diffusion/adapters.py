"""Adapters from model libraries to the generic :class:`.target.DiffusionTarget`: a diffusers
UNet (pixel or latent, unconditional, class- or text-conditional), a Stable Diffusion pipeline
(latent and text-conditioned), and a deliberately low-precision copy of a UNet."""

from __future__ import annotations

import copy

import torch

from ..core.quiet import EMPTY_FLOAT32_NOTICE, dropping_log_message
from .encoders import embed, encode_latents
from .target import CondSpec, DiffusionTarget, Encoder


def _shape(channels: int, size) -> tuple[int, ...]:
    return (channels, size, size) if isinstance(size, int) else (channels, *size)


PREDICTION_TYPES = ("epsilon", "v_prediction", "sample")


def to_epsilon(output: torch.Tensor, x_t: torch.Tensor, abar_t: torch.Tensor, prediction_type: str) -> torch.Tensor:
    """The noise eps a model's ``output`` at x_t stands for, by diffusers' own formulas
    (``DDIMScheduler.step``, step 3), with abar_t = ``abar_t`` broadcast per image:

        epsilon:       eps = output
        v_prediction:  eps = sqrt(abar_t) v + sqrt(1 - abar_t) x_t          (Salimans & Ho 2022, v = sqrt(abar) eps - sqrt(1 - abar) x0)
        sample:        eps = (x_t - sqrt(abar_t) x0_hat) / sqrt(1 - abar_t)  (Ho et al. 2020, eq. 4 solved for eps)
    """
    if prediction_type == "epsilon":
        return output
    a = abar_t.to(output.device, torch.float64).view(-1, *([1] * (output.ndim - 1)))
    out, x = output.double(), x_t.double()
    if prediction_type == "v_prediction":
        eps = a.sqrt() * out + (1 - a).sqrt() * x
    elif prediction_type == "sample":
        eps = (x - a.sqrt() * out) / (1 - a).sqrt()
    else:
        raise ValueError(f"unknown prediction_type {prediction_type!r}; known: {list(PREDICTION_TYPES)}")
    return eps.to(output.dtype)


def unet_target(unet: torch.nn.Module, scheduler, *, batch_size: int = 256, device: str | torch.device | None = None,
                encoder: Encoder | None = None, image_shape: tuple[int, ...] | None = None,
                embed_prompts=None) -> DiffusionTarget:
    """Wrap a diffusers UNet2DModel (cond = class labels, if it has a class embedding) or
    UNet2DConditionModel (cond = encoder hidden states, or prompts when ``embed_prompts`` maps
    them to those) with its scheduler's abar_t. A model that predicts v or the clean sample (the
    scheduler's ``prediction_type``) is queried through :func:`to_epsilon`, so the attacks see the
    noise they are written for. The UNet must hold fp32 weights (SecMI's errors vanish in fp16).
    With an ``encoder`` (latent models) give the ``image_shape`` of the pixel inputs."""
    cfg = getattr(unet, "config", None)
    if cfg is None:
        raise ValueError("unet_target expects a diffusers UNet2DModel or UNet2DConditionModel")
    pred = getattr(scheduler.config, "prediction_type", "epsilon")
    if pred not in PREDICTION_TYPES:
        raise ValueError(f"the scheduler's prediction_type {pred!r} is none of {list(PREDICTION_TYPES)}")
    abar_all = torch.as_tensor(scheduler.alphas_cumprod, dtype=torch.float64)
    dtype = next(unet.parameters()).dtype
    if dtype != torch.float32:
        raise ValueError(f"the UNet holds {dtype} weights; attacks run in fp32 "
                         "(call unet.float() first)")
    device = device if device is not None else next(unet.parameters()).device
    unet = unet.to(device).eval()
    if "cross_attention_dim" in cfg:  # UNet2DConditionModel
        def eps_fn(x, t, cond=None):
            return to_epsilon(unet(x, t, encoder_hidden_states=cond).sample, x, abar_all[t.cpu()], pred)
        cond = CondSpec("embedding", dim=int(cfg.cross_attention_dim), embed=embed_prompts)
    else:
        def eps_fn(x, t, cond=None):
            return to_epsilon(unet(x, t, class_labels=cond).sample, x, abar_all[t.cpu()], pred)
        n = getattr(cfg, "num_class_embeds", None)
        cond = CondSpec("class", num_embeds=int(n)) if n is not None else None
    sample_shape = _shape(cfg.in_channels, cfg.sample_size)
    if encoder is None:
        image_shape = sample_shape
    return DiffusionTarget(eps_fn, scheduler.alphas_cumprod, image_shape=image_shape, batch_size=batch_size,
                           device=device, cond=cond, encoder=encoder, sample_shape=sample_shape)


def pipeline_target(pipe, *, sample_latents: bool = False, generator=None, batch_size: int = 64,
                    device=None) -> DiffusionTarget:
    """A latent, text-conditioned target from a StableDiffusionPipeline (diffusers): images
    in [-1, 1] go through the encoder hook x0 -> scaling_factor x VAE latent mean (a latent
    sample with ``sample_latents``, drawn from ``generator``), and the UNet is conditioned on
    the text encoder's embeddings of the prompts each attack passes as ``cond=`` (one per image;
    embeddings work too), without classifier-free guidance (docs/papers.md section 1)."""
    vae, unet = pipe.vae, pipe.unet
    device = device if device is not None else next(unet.parameters()).device
    vae = vae.to(device).eval()

    def encoder(x):
        return encode_latents(vae, x, sample_latents, generator)

    def embed_prompts(texts):
        return embed(texts, pipe.tokenizer, pipe.text_encoder).cpu()

    return unet_target(unet, pipe.scheduler, batch_size=batch_size, device=device, encoder=encoder,
                       image_shape=_shape(vae.config.in_channels, vae.config.sample_size), embed_prompts=embed_prompts)


def native_bfloat16(device: str | torch.device = "cpu") -> bool:
    """Whether ``device`` computes in bfloat16 natively: a CUDA GPU that supports it, or a CPU
    with AVX-512 BF16 or AMX instructions (oneDNN's check). Elsewhere PyTorch emulates the
    kernels, correctly but several times slower than fp32."""
    device = torch.device(device)
    if device.type == "cuda":
        return bool(torch.cuda.is_available() and torch.cuda.is_bf16_supported())
    if device.type != "cpu":
        return False
    check = getattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", None)
    try:
        return bool(check()) if check is not None else False
    except RuntimeError:
        return False


def low_precision_target(unet: torch.nn.Module, scheduler, dtype: torch.dtype = torch.bfloat16,
                         batch_size: int = 256) -> DiffusionTarget:
    """A target that runs a copy of ``unet`` in ``dtype`` (inputs cast to it, outputs back to
    fp32): a deliberately imprecise model, for showing what rounding does to SecMI's tiny
    errors. :func:`unet_target` refuses such models for every other use."""
    # casting the whole copy is the point: diffusers' empty "kept in float32: []" notice is dropped
    with dropping_log_message(*EMPTY_FLOAT32_NOTICE):
        low = copy.deepcopy(unet).to(dtype).eval()
    device = next(low.parameters()).device
    cfg = low.config
    n = getattr(cfg, "num_class_embeds", None)

    def eps_fn(x, t, cond=None):
        return low(x.to(dtype), t, class_labels=cond).sample.float()
    return DiffusionTarget(eps_fn, scheduler.alphas_cumprod, image_shape=_shape(cfg.in_channels, cfg.sample_size),
                           batch_size=batch_size, device=device,
                           cond=CondSpec("class", num_embeds=int(n)) if n is not None else None)
