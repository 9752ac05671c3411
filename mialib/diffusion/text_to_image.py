"""A real, tiny text-to-image model built from the parts of Stable Diffusion and trained here
(notebook 07): an ``AutoencoderKL``, a ``CLIPTextModel`` with a ``CLIPTokenizer`` whose vocabulary
is made from the captions, a ``UNet2DConditionModel`` denoising the VAE's latents under the
caption embeddings, and a DDPM schedule, assembled as a ``StableDiffusionPipeline`` (no safety
checker), saved with ``save_pretrained`` and reloaded with ``from_pretrained`` from a local folder.

    model = train_text_to_image(images, captions, TextToImageConfig(), seed=0)
    pipe = model.pipeline
    target = DiffusionTarget.from_pipeline(pipe, prompts=captions)   # latent, text-conditioned

The text encoder is randomly initialised and frozen, as Stable Diffusion's is frozen: it only
has to give different captions different embeddings, and the UNet learns to read them. Captions
are dropped (replaced by the empty prompt) for ``caption_dropout`` of the training steps, so the
model also learns the unconditional noise that classifier-free guidance and the empty-prompt
ablation need. Everything is seeded and cached by the content trained on (images, captions,
configuration).
"""

from __future__ import annotations

import json
import os
import platform
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from .. import __version__
from ..core import cache
from ..core.checks import check_int
from ..core.config import Config
from ..core.progress import progress_bar
from ..data.images import fingerprint
from .models import build_scheduler, resolve_device
from .training import TrainConfig, train_diffusion

# importing the Stable Diffusion pipeline makes transformers warn that torchvision (which cannot be
# installed beside the CPU torch build) is missing for image processors no pipeline here uses
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

DIGIT_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
COLOUR_WORDS = ("red", "blue")
SPECIAL = ("<|startoftext|>", "<|endoftext|>")
REQUIRED_FOLDERS = ("unet", "vae", "text_encoder", "tokenizer", "scheduler")


def caption(digit: int, colour: int) -> str:
    """"a red digit seven" for digit 7 in ink 0."""
    return f"a {COLOUR_WORDS[int(colour)]} digit {DIGIT_WORDS[int(digit)]}"


@dataclass(frozen=True)
class TextToImageConfig(Config):
    """Sizes and training of the tiny pipeline; defaults sized for a 2-core CPU."""

    image_size: int = 8
    vae_channels: tuple = (16, 32)     # the VAE halves the image once per extra level: 8x8 -> 4x4 latents
    latent_channels: int = 4
    vae_steps: int = 800
    vae_lr: float = 0.002
    vae_kl_weight: float = 1e-4
    text_dim: int = 32
    text_layers: int = 2
    max_tokens: int = 8                # caption tokens, start and end included
    unet_channels: tuple = (32, 64)
    unet_steps: int = 1500
    batch_size: int = 64
    lr: float = 0.002
    ema_decay: float = 0.995
    caption_dropout: float = 0.1


# ----------------------------------------------------------------------------- the tokenizer
def _bpe(word: str, ranks: dict) -> list[str]:
    """CLIP's byte-pair encoding of one word under the merge ranks (lowest rank merges first,
    every occurrence of the pair at once; the last character carries the end-of-word marker)."""
    symbols = list(word[:-1]) + [word[-1] + "</w>"]
    while len(symbols) > 1:
        pairs = [(ranks.get((a, b), float("inf")), i) for i, (a, b) in enumerate(zip(symbols, symbols[1:]))]
        rank, _ = min(pairs)
        if rank == float("inf"):
            break
        a, b = next((symbols[i], symbols[i + 1]) for r, i in pairs if r == rank)
        merged, i = [], 0
        while i < len(symbols):
            if i + 1 < len(symbols) and symbols[i] == a and symbols[i + 1] == b:
                merged.append(a + b)
                i += 2
            else:
                merged.append(symbols[i])
                i += 1
        symbols = merged
    return symbols


def build_tokenizer(captions, folder: str | Path, max_tokens: int = 8):
    """A ``CLIPTokenizer`` whose vocabulary is every word of ``captions`` (plus the characters
    and merges that spell them), written to ``folder`` (vocab.json, merges.txt) and loaded from
    it. Merges are added word by word, each at the lowest priority, until the word is one token
    under byte-pair encoding; a later merge can never change an earlier word, so every caption
    word is exactly one token."""
    from transformers import CLIPTokenizer

    words = sorted({w for c in captions for w in c.lower().split()})
    if not words:
        raise ValueError("the captions hold no words")
    ranks: dict = {}
    vocab = list(SPECIAL)
    for w in words:
        for sym in list(w[:-1]) + [w[-1] + "</w>"]:
            if sym not in vocab:
                vocab.append(sym)
        while len(symbols := _bpe(w, ranks)) > 1:
            ranks[(symbols[0], symbols[1])] = len(ranks)
            if symbols[0] + symbols[1] not in vocab:
                vocab.append(symbols[0] + symbols[1])
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "vocab.json").write_text(json.dumps({t: i for i, t in enumerate(vocab)}))
    merges = sorted(ranks, key=ranks.get)
    (folder / "merges.txt").write_text("#version: 0.2\n" + "\n".join(f"{a} {b}" for a, b in merges) + "\n")
    tok = CLIPTokenizer(str(folder / "vocab.json"), str(folder / "merges.txt"), model_max_length=max_tokens,
                        pad_token="<|endoftext|>")
    for w in words:
        if len(tok.tokenize(w)) != 1:
            raise ValueError(f"the tokenizer splits {w!r}: {tok.tokenize(w)}")
    return tok


def embed(prompts, tokenizer, text_encoder, device=None) -> torch.Tensor:
    """The text encoder's last hidden states of ``prompts`` (a list of strings), padded to the
    tokenizer's length: Tensor[N, max_tokens, dim] (what the UNet's cross-attention reads)."""
    if isinstance(prompts, str) or not all(isinstance(p, str) for p in prompts):
        raise ValueError("prompts must be a list of strings")
    ids = tokenizer(list(prompts), padding="max_length", max_length=tokenizer.model_max_length, truncation=True,
                    return_tensors="pt").input_ids
    device = device or next(text_encoder.parameters()).device
    with torch.no_grad():
        return text_encoder(ids.to(device))[0].float()


# ----------------------------------------------------------------------------- the parts
def build_text_encoder(config: TextToImageConfig, vocab_size: int, seed: int = 0):
    from transformers import CLIPTextConfig, CLIPTextModel

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return CLIPTextModel(CLIPTextConfig(vocab_size=vocab_size, hidden_size=config.text_dim,
                                            intermediate_size=2 * config.text_dim, num_hidden_layers=config.text_layers,
                                            num_attention_heads=2, max_position_embeddings=config.max_tokens,
                                            projection_dim=config.text_dim, bos_token_id=0, eos_token_id=1,
                                            pad_token_id=1)).eval()


def build_vae(config: TextToImageConfig, seed: int = 0):
    from diffusers import AutoencoderKL

    n = len(config.vae_channels)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return AutoencoderKL(in_channels=3, out_channels=3, down_block_types=("DownEncoderBlock2D",) * n,
                             up_block_types=("UpDecoderBlock2D",) * n, block_out_channels=tuple(config.vae_channels),
                             layers_per_block=1, latent_channels=config.latent_channels,
                             norm_num_groups=min(8, min(config.vae_channels)), sample_size=config.image_size)


def build_latent_unet(config: TextToImageConfig, seed: int = 0):
    from diffusers import UNet2DConditionModel

    size = config.image_size // 2 ** (len(config.vae_channels) - 1)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return UNet2DConditionModel(sample_size=size, in_channels=config.latent_channels,
                                    out_channels=config.latent_channels, block_out_channels=tuple(config.unet_channels),
                                    layers_per_block=1, down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
                                    up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"),
                                    cross_attention_dim=config.text_dim, attention_head_dim=8,
                                    norm_num_groups=min(8, min(config.unet_channels)))


def train_vae(vae, images: torch.Tensor, config: TextToImageConfig, seed: int = 0, device="cpu",
              progress: bool = True) -> list:
    """Fit the VAE to ``images`` (reconstruction MSE + ``vae_kl_weight`` x KL), seeded; return the
    loss curve. Afterwards ``vae.config.scaling_factor`` is set to 1 / std of the latent means,
    as Stable Diffusion's 0.18215 is for its VAE, so the UNet sees unit-variance latents."""
    gen = torch.Generator().manual_seed(seed)
    vae.to(device).train()
    opt = torch.optim.AdamW(vae.parameters(), lr=config.vae_lr)
    curve = []
    for step in progress_bar(range(config.vae_steps), desc="VAE", enabled=progress):
        idx = torch.randint(0, len(images), (config.batch_size,), generator=gen)
        x = images[idx].to(device)
        post = vae.encode(x).latent_dist
        z = post.mean + post.std * torch.randn(post.mean.shape, generator=gen).to(device)
        recon = vae.decode(z).sample
        loss = torch.nn.functional.mse_loss(recon, x) + config.vae_kl_weight * post.kl().mean() / x[0].numel()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if (step + 1) % max(1, config.vae_steps // 50) == 0:
            curve.append((step + 1, float(loss.detach())))
    vae.eval()
    with torch.no_grad():
        means = torch.cat([vae.encode(images[i:i + 256].to(device)).latent_dist.mean.cpu()
                           for i in range(0, len(images), 256)])
    vae.register_to_config(scaling_factor=float(1.0 / means.std().clamp_min(1e-6)))
    return curve


def encode_latents(vae, images: torch.Tensor, sample: bool = False, generator=None) -> torch.Tensor:
    """scaling_factor x the VAE's latent mean of each image (or a latent sample with ``sample``)."""
    out = []
    device = next(vae.parameters()).device
    with torch.no_grad():
        for i in range(0, len(images), 256):
            post = vae.encode(images[i:i + 256].to(device)).latent_dist
            z = post.sample(generator=generator) if sample else post.mean
            out.append((vae.config.scaling_factor * z).float().cpu())
    return torch.cat(out)


# ----------------------------------------------------------------------------- the pipeline
@dataclass
class TextToImageModel:
    """A trained tiny pipeline, its cache record, and whether it came from the cache."""

    pipeline: object
    record: dict
    from_cache: bool


def assemble_pipeline(vae, text_encoder, tokenizer, unet):
    """The parts as a StableDiffusionPipeline (DDIM sampling over the DDPM schedule, no safety checker)."""
    from diffusers import DDIMScheduler, StableDiffusionPipeline

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
    from diffusers import StableDiffusionPipeline

    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"no pipeline folder at {folder}: point pipeline_path at a local Stable Diffusion "
                                "folder (model_index.json, unet/, vae/, text_encoder/, tokenizer/, scheduler/)")
    missing = [p for p in ("model_index.json", *REQUIRED_FOLDERS) if not (folder / p).exists()]
    if missing:
        raise FileNotFoundError(f"{folder} is not a complete Stable Diffusion folder: missing {missing}")
    pipe = StableDiffusionPipeline.from_pretrained(folder, local_files_only=True, use_safetensors=True,
                                                   safety_checker=None, requires_safety_checker=False)
    pipe.set_progress_bar_config(disable=True)
    return pipe.to(resolve_device(device))


def _key(images, captions, config: TextToImageConfig, seed: int) -> str:
    return cache.config_hash({"kind": "text-to-image", "config": config.to_dict(), "seed": seed,
                              "images": fingerprint(images), "captions": list(captions)})


def _cached(key: str, dev) -> TextToImageModel | None:
    hit = cache.load_entry(key, ("steps", "loss_curve"))
    if hit is None:
        return None
    pipe = hit[0]["pipeline"].to(dev)
    pipe.set_progress_bar_config(disable=True)
    return TextToImageModel(pipe, hit[1], True)


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
    key = _key(images, captions, config, seed)
    hit = _cached(key, dev)
    if hit is not None:
        return hit
    cache.check_writable()
    with cache.locked(key):
        hit = _cached(key, dev)
        if hit is not None:
            return hit
        t0 = time.perf_counter()
        with tempfile.TemporaryDirectory() as tmp:
            tokenizer = build_tokenizer(captions + [""], tmp, config.max_tokens)
            text_encoder = build_text_encoder(config, len(tokenizer), seed).to(dev)
            vae = build_vae(config, seed)
            vae_curve = train_vae(vae, images, config, seed, dev, progress)
            latents = encode_latents(vae, images)
            texts, null = embed(captions, tokenizer, text_encoder).cpu(), embed([""], tokenizer, text_encoder)[0].cpu()
            unet = build_latent_unet(config, seed)
            train = TrainConfig(steps=config.unet_steps, batch_size=config.batch_size, lr=config.lr,
                                ema_decay=config.ema_decay, label_dropout=config.caption_dropout, seed=seed)
            result = train_diffusion(unet, build_scheduler().alphas_cumprod, latents, train, texts=texts,
                                     null_text=null, device=dev, checkpoint=cache.checkpoint_path(key), progress=progress)
            pipe = assemble_pipeline(vae.eval(), text_encoder, tokenizer, result.ema_model.eval())
            record = {"steps": config.unet_steps, "loss_curve": result.loss_curve, "vae_loss_curve": vae_curve,
                      "config": config.to_dict(), "seed": seed, "n_training_images": len(images),
                      "scaling_factor": vae.config.scaling_factor, "wall_time_s": round(time.perf_counter() - t0, 2),
                      "device": str(dev), "versions": {"mialib": __version__, "torch": torch.__version__,
                                                       "python": platform.python_version()}}
            record = cache.save_entry(key, {"pipeline": pipe}, record)
        cache.checkpoint_path(key).unlink(missing_ok=True)
    return TextToImageModel(pipe, record, False)
