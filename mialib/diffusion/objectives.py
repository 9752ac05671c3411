"""What one training step minimises, given a batch: the objective the training loop
(:func:`.training.fit`) plugs in. Each draws its randomness from the loop's one generator, in a
fixed order, so a run stays a pure function of its settings and data.

- :class:`DenoisingObjective`: DDPM's noise regression (Ho et al. 2020, Algorithm 1 / eq. 14),
  ``|| n - eps_theta( sqrt(abar_t) x0 + sqrt(1 - abar_t) n, t, c ) ||^2`` with t ~ U{0..T-1},
  n ~ N(0, I), optionally conditioned on c (class labels or text embeddings), which is replaced
  by the null condition with probability ``dropout`` (classifier-free guidance, Ho & Salimans 2022).
  With ``snr_gamma`` = gamma > 0 each image's squared error is weighted by min(SNR_t, gamma) / SNR_t,
  SNR_t = abar_t / (1 - abar_t) (Min-SNR-gamma, Hang et al., ICCV 2023, for noise prediction): the
  nearly clean steps, whose noise is hard to see and matters little to a sample, weigh less.
- :class:`VAEObjective`: an ``AutoencoderKL``'s reconstruction MSE plus ``kl_weight`` x its
  KL divergence per pixel value (Kingma & Welling 2014, with a reparameterised latent sample).

Data parallelism (``shard``): every process of a data-parallel run draws the randomness of the
whole global batch, in the same order as one process would, and runs the model on its own
contiguous ``shard`` of it only. With equal shards, the mean of the processes' losses (what
averaging their gradients computes) is the one-process loss of the global batch, and the
generator of every process stays where the one-process run leaves it.
"""

from __future__ import annotations

import torch


def drop_condition(cond: torch.Tensor, null: torch.Tensor, p: float, gen: torch.Generator) -> torch.Tensor:
    """``cond`` with each entry replaced by ``null`` (one entry's shape) with probability ``p``;
    draws one uniform number per entry from ``gen``."""
    drop = torch.rand(len(cond), generator=gen) < p
    return torch.where(drop.view(-1, *[1] * (cond.ndim - 1)), null.to(cond.dtype).expand_as(cond), cond)


class DenoisingObjective:
    """The noise-prediction loss under the schedule ``alphas_cumprod``. ``cond_kw`` is the
    keyword the model reads its condition under (``class_labels`` or ``encoder_hidden_states``);
    ``null`` is the condition that stands for "none" when ``dropout`` > 0."""

    meta: dict = {}  # a denoising state carries no extra settings (keeps existing states valid)

    def __init__(self, alphas_cumprod, device, cond_kw: str | None = None, null: torch.Tensor | None = None,
                 dropout: float = 0.0, snr_gamma: float = 0.0):
        self.abar = torch.as_tensor(alphas_cumprod, dtype=torch.float32).to(device)
        self.device, self.cond_kw, self.null, self.dropout = device, cond_kw, null, dropout
        self.snr_gamma = float(snr_gamma)

    def __call__(self, model, x0: torch.Tensor, cond: torch.Tensor | None, gen: torch.Generator,
                 shard: slice | None = None) -> torch.Tensor:
        """The loss of the batch ``x0`` (its rows ``shard`` only, every draw made for all rows)."""
        b = len(x0)
        t = torch.randint(0, len(self.abar), (b,), generator=gen)
        noise = torch.randn((b, *x0.shape[1:]), generator=gen)
        if cond is not None and self.dropout > 0:
            cond = drop_condition(cond, self.null, self.dropout, gen)
        if shard is not None:
            x0, t, noise = x0[shard], t[shard], noise[shard]
            cond = None if cond is None else cond[shard]
        t, noise = t.to(self.device), noise.to(self.device)
        a = self.abar[t].view(-1, 1, 1, 1)
        xt = a.sqrt() * x0 + (1 - a).sqrt() * noise
        kwargs = {}
        if cond is not None:
            kwargs[self.cond_kw] = cond.to(self.device)
        pred = model(xt, t, **kwargs).sample
        if not self.snr_gamma:
            return torch.nn.functional.mse_loss(pred, noise)
        snr = (a / (1 - a)).flatten()
        weight = snr.clamp(max=self.snr_gamma) / snr
        return ((pred - noise).pow(2).flatten(1).mean(1) * weight).mean()


class VAEObjective:
    """Reconstruction MSE + ``kl_weight`` x KL / (values per image) of a diffusers
    ``AutoencoderKL``, decoding one reparameterised latent sample per image."""

    def __init__(self, kl_weight: float):
        self.kl_weight = float(kl_weight)
        self.meta = {"objective": "vae", "kl_weight": self.kl_weight}

    def __call__(self, model, x: torch.Tensor, cond, gen: torch.Generator, shard: slice | None = None) -> torch.Tensor:
        """The loss of the batch ``x`` (its rows ``shard`` only, the latent noise drawn for all rows)."""
        post = model.encode(x if shard is None else x[shard]).latent_dist
        full = (len(x), *post.mean.shape[1:])
        eps = torch.randn(full, generator=gen)
        if shard is not None:
            eps, x = eps[shard], x[shard]
        z = post.mean + post.std * eps.to(x.device)
        recon = model.decode(z).sample
        return torch.nn.functional.mse_loss(recon, x) + self.kl_weight * post.kl().mean() / x[0].numel()
