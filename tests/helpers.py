"""Small builders shared by the tests: tiny UNets and configs, weight comparisons."""

from __future__ import annotations

import contextlib
import logging

import torch

from mialib.diffusion.models import ModelConfig, build_unet
from mialib.diffusion.training import TrainConfig

# a tiny membership target (mialib.experiments.membership.TargetParams overrides): 16 + 16 digits,
# 4 + 4 for calibration, widths 8 and 16, 5 steps
TINY_TARGET = dict(dataset="digits", image_size=8, n_members=16, n_nonmembers=16, n_calibration=4,
                   block_out_channels=[8, 16], train_steps=5, batch_size=4)

# a tiny UNet: 8x8 grey images, widths 8 and 16
TINY = ModelConfig(image_size=8, channels=1, block_out_channels=(8, 16), norm_num_groups=4)


def tiny_unet(seed: int = 0, cfg: ModelConfig = TINY):
    torch.manual_seed(seed)
    return build_unet(cfg)


def short_training(**kw) -> TrainConfig:
    """A few steps with a short warm-up: enough to move the weights."""
    return TrainConfig(**{"steps": 10, "batch_size": 4, "lr": 5e-3, "warmup_steps": 2, "ema_decay": 0.9, **kw})


def weights(model) -> dict:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def same_weights(a, b) -> bool:
    a, b = (m if isinstance(m, dict) else weights(m) for m in (a, b))
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


class Interrupt:
    """Forward pre-hook raising KeyboardInterrupt on the forward pass of step ``at`` (0-based)."""

    def __init__(self, at):
        self.at, self.calls = at, 0

    def __call__(self, module, args):
        if self.calls == self.at:
            raise KeyboardInterrupt
        self.calls += 1


def tiny_pipeline(folder):
    """A tiny, untrained Stable Diffusion pipeline (VAE 8-16, UNet 16-32, text width 16) whose
    tokenizer knows every coloured-digit caption; its vocabulary files go to ``folder``.
    Returns (pipeline, config, captions)."""
    from mialib.data.captions import caption
    from mialib.diffusion.parts import TextToImageConfig, build_latent_unet, build_text_encoder, build_vae
    from mialib.diffusion.pipeline import assemble_pipeline
    from mialib.diffusion.tokenizer import build_tokenizer

    cfg = TextToImageConfig(vae_channels=(8, 16), unet_channels=(16, 32), text_dim=16)
    captions = [caption(d, c) for d in range(10) for c in range(2)]
    tok = build_tokenizer(captions + [""], folder, cfg.max_tokens)
    pipe = assemble_pipeline(build_vae(cfg, seed=1).eval(), build_text_encoder(cfg, len(tok), seed=2), tok,
                             build_latent_unet(cfg, seed=3).eval())
    return pipe, cfg, captions


class RewrittenUNet(torch.nn.Module):
    """An epsilon UNet that reports its noise as another parameterisation: v = sqrt(a) eps -
    sqrt(1 - a) x0 (``"v_prediction"``) or x0 = (x - sqrt(1 - a) eps) / sqrt(a) (``"sample"``), with
    a = abar_t of ``alphas_cumprod``. Written here independently of the library's conversion, so a
    target over it that converts back must give the epsilon model's noise."""

    def __init__(self, unet, alphas_cumprod, prediction_type: str):
        super().__init__()
        self.inner, self.config, self.kind = unet, unet.config, prediction_type
        self.abar = torch.as_tensor(alphas_cumprod, dtype=torch.float64)

    def forward(self, x, t, class_labels=None):
        eps = self.inner(x, t).sample.double()
        a = self.abar[t].view(-1, 1, 1, 1)
        x0 = (x.double() - (1 - a).sqrt() * eps) / a.sqrt()
        out = a.sqrt() * eps - (1 - a).sqrt() * x0 if self.kind == "v_prediction" else x0
        return type("Out", (), {"sample": out.float()})()


@contextlib.contextmanager
def logged_messages(logger_name: str):
    """The messages ``logger_name`` logs inside the block, as a list (diffusers' loggers do not
    propagate to pytest's caplog)."""
    seen = []
    handler = logging.Handler()
    handler.emit = lambda record: seen.append(record.getMessage())
    logger = logging.getLogger(logger_name)
    logger.addHandler(handler)
    try:
        yield seen
    finally:
        logger.removeHandler(handler)
