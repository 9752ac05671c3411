"""What a latent, text-conditioned model reads, computed from images and prompts: the VAE's
scaled latents (x0 -> scaling_factor x latent mean, Rombach et al. 2022, and back with
:func:`decode_latents`) and the text encoder's hidden states of the prompts."""

from __future__ import annotations

import torch

BATCH = 256  # images per VAE call


def encode_latents(vae, images: torch.Tensor, sample: bool = False, generator=None,
                   scaled: bool = True) -> torch.Tensor:
    """scaling_factor x the VAE's latent mean of each image (or a latent sample with
    ``sample``, drawn from ``generator``); the unscaled latent with ``scaled=False``."""
    out = []
    device = next(vae.parameters()).device
    with torch.no_grad():
        for i in range(0, len(images), BATCH):
            post = vae.encode(images[i:i + BATCH].to(device)).latent_dist
            z = post.sample(generator=generator) if sample else post.mean
            out.append(((vae.config.scaling_factor * z) if scaled else z).float().cpu())
    return torch.cat(out)


def decode_latents(vae, latents: torch.Tensor) -> torch.Tensor:
    """The images (in [-1, 1], CPU) the VAE decodes from scaled latents (divided by
    scaling_factor first, the inverse of :func:`encode_latents`)."""
    device = next(vae.parameters()).device
    with torch.no_grad():
        return torch.cat([vae.decode(latents[i:i + BATCH].to(device) / vae.config.scaling_factor).sample.float().cpu()
                          for i in range(0, len(latents), BATCH)]).clamp(-1, 1)


def embed(prompts, tokenizer, text_encoder) -> torch.Tensor:
    """The text encoder's last hidden states of ``prompts`` (a list of strings), padded to the
    tokenizer's length: Tensor[N, max_tokens, dim] (what the UNet's cross-attention reads)."""
    if isinstance(prompts, str) or not all(isinstance(p, str) for p in prompts):
        raise ValueError("prompts must be a list of strings")
    ids = tokenizer(list(prompts), padding="max_length", max_length=tokenizer.model_max_length, truncation=True,
                    return_tensors="pt").input_ids
    device = next(text_encoder.parameters()).device
    with torch.no_grad():
        return text_encoder(ids.to(device))[0].float()
