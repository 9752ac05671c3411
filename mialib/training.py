"""The denoising training loop of DDPM (Ho et al. 2020, Algorithm 1 / eq. 14):

    loss = || n - eps_theta( sqrt(abar_t) x0 + sqrt(1 - abar_t) n, t ) ||^2,
    t ~ U{0..T-1}, n ~ N(0, I),

with AdamW, an exponential moving average (EMA) of the weights (the model that is sampled
and attacked), gradient clipping, optional class labels with label dropout for
classifier-free guidance, one seeded generator for every random draw, a tqdm bar, and
periodic resumable checkpoints (safetensors only). It knows nothing about membership.
"""

from __future__ import annotations

import copy
import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from .fileio import atomic_path, write_json
from .progress import progress_bar


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation settings; every field enters the cache key."""

    steps: int = 3000                # optimizer steps
    batch_size: int = 64             # images per step (sampled with replacement)
    lr: float = 2e-3                 # AdamW learning rate (constant after warm-up)
    warmup_steps: int = 100          # linear learning-rate warm-up
    weight_decay: float = 0.0        # AdamW weight decay
    ema_decay: float = 0.999         # EMA of the weights; the EMA model is the target
    grad_clip: float = 1.0           # max gradient norm
    label_dropout: float = 0.0       # P(label -> null label) for classifier-free guidance
    seed: int = 0                    # seeds batch order, timesteps and noise

    def __post_init__(self):
        if self.steps < 1 or self.batch_size < 1:
            raise ValueError(f"steps and batch_size must be >= 1, got {self.steps}, {self.batch_size}")
        if not 0.0 <= self.ema_decay < 1.0 or not 0.0 <= self.label_dropout < 1.0:
            raise ValueError("ema_decay and label_dropout must lie in [0, 1)")
        if self.lr <= 0:
            raise ValueError(f"lr must be positive, got {self.lr}")

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class TrainResult:
    """The trained EMA model, the raw model, and what the run recorded."""

    ema_model: torch.nn.Module
    model: torch.nn.Module
    loss_curve: list = field(default_factory=list)   # [(step, mean loss over the window)]
    wall_time_s: float = 0.0                          # time spent training in this process
    resumed_from: int = 0                             # step a checkpoint resumed from (0 = fresh)


def _flatten_optimizer(opt: torch.optim.Optimizer) -> dict[str, torch.Tensor]:
    out = {}
    for idx, st in opt.state_dict()["state"].items():
        for name, val in st.items():
            out[f"opt.{idx}.{name}"] = torch.as_tensor(val).detach().cpu().contiguous()
    return out


def _restore_optimizer(opt: torch.optim.Optimizer, flat: dict[str, torch.Tensor]) -> None:
    sd = opt.state_dict()
    state: dict[int, dict] = {}
    for key, val in flat.items():
        _, idx, name = key.split(".", 2)
        state.setdefault(int(idx), {})[name] = val
    sd["state"] = state
    opt.load_state_dict(sd)


def _save_checkpoint(path: Path, model, ema, opt, gen: torch.Generator, step: int, curve,
                     window_acc: tuple[float, int], meta: dict):
    tensors = {f"model.{k}": v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    tensors.update({f"ema.{k}": v.detach().cpu().contiguous() for k, v in ema.state_dict().items()})
    tensors.update(_flatten_optimizer(opt))
    tensors["rng"] = gen.get_state()
    with atomic_path(path / "checkpoint.safetensors") as tmp:
        save_file(tensors, str(tmp))
    write_json(path / "checkpoint.json", {"step": step, "loss_curve": curve,
                                          "window_acc": list(window_acc), "meta": meta})


def _load_checkpoint(path: Path, model, ema, opt, gen: torch.Generator, meta: dict):
    """Restore a checkpoint written for the same ``meta``; return (step, curve, window
    accumulator) or None."""
    js, st = path / "checkpoint.json", path / "checkpoint.safetensors"
    if not (js.is_file() and st.is_file()):
        return None
    info = json.loads(js.read_text())
    if info.get("meta") != meta:
        return None
    tensors = load_file(str(st))
    model.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("model.")})
    ema.load_state_dict({k[4:]: v for k, v in tensors.items() if k.startswith("ema.")})
    _restore_optimizer(opt, {k: v for k, v in tensors.items() if k.startswith("opt.")})
    gen.set_state(tensors["rng"])
    acc, acc_n = info["window_acc"]
    return int(info["step"]), [tuple(x) for x in info["loss_curve"]], (float(acc), int(acc_n))


def train_diffusion(model: torch.nn.Module, alphas_cumprod: torch.Tensor, images: torch.Tensor,
                    cfg: TrainConfig, labels: np.ndarray | torch.Tensor | None = None,
                    null_label: int | None = None, device: str | torch.device = "cpu",
                    checkpoint_dir: str | Path | None = None, checkpoint_every: int = 500,
                    progress: bool = True, log_points: int = 100,
                    on_snapshot=None, snapshot_steps=()) -> TrainResult:
    """Train ``model`` (a diffusers UNet2DModel, or any module with the same call
    signature) to predict the noise, on ``images`` (Tensor[N, C, H, W] in [-1, 1]).

    With ``labels`` the model is class-conditional (``class_labels=``); with
    ``cfg.label_dropout`` > 0 a label is replaced by ``null_label`` with that probability.
    With ``checkpoint_dir`` a checkpoint is written every ``checkpoint_every`` steps and a
    re-run with the same settings resumes from it (a mismatching or unreadable checkpoint is
    ignored). ``on_snapshot(step, ema_model, loss_curve)`` is called after each step in
    ``snapshot_steps``: the learning rate is constant after warm-up and every draw comes from
    one generator, so the EMA model at step s is the one a run of ``steps=s`` would return.
    Returns a :class:`TrainResult`; the EMA model is in eval mode, on ``device``.
    """
    if images.ndim != 4 or len(images) == 0:
        raise ValueError(f"images must be a non-empty Tensor[N, C, H, W], got {tuple(images.shape)}")
    if labels is not None:
        labels = torch.as_tensor(np.asarray(labels), dtype=torch.long)
        if len(labels) != len(images):
            raise ValueError(f"{len(labels)} labels for {len(images)} images")
        if cfg.label_dropout > 0 and null_label is None:
            raise ValueError("label_dropout > 0 needs null_label (the model's 'no label' index)")
    device = torch.device(device)
    abar = torch.as_tensor(alphas_cumprod, dtype=torch.float32)
    T = len(abar)
    gen = torch.Generator().manual_seed(cfg.seed)
    torch.manual_seed(cfg.seed)  # anything inside the model that draws (e.g. dropout)
    model = model.to(device).train()
    ema = copy.deepcopy(model).requires_grad_(False).eval()
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    data = images.to(device, torch.float32)
    abar_dev = abar.to(device)

    meta = {"train": cfg.to_dict(), "n_images": len(images), "shape": list(images.shape[1:]),
            "conditional": labels is not None}
    start, curve, (acc, acc_n) = 0, [], (0.0, 0)
    ckpt = Path(checkpoint_dir) if checkpoint_dir is not None else None
    if ckpt is not None:
        try:
            restored = _load_checkpoint(ckpt, model, ema, opt, gen, meta)
        except Exception:  # unreadable checkpoint: start afresh
            restored = None
        if restored is not None:
            start, curve, (acc, acc_n) = restored

    window = max(1, cfg.steps // log_points)
    t0 = time.perf_counter()
    bar = progress_bar(total=cfg.steps, initial=start, desc="training", enabled=progress)
    for step in range(start, cfg.steps):
        idx = torch.randint(0, len(data), (cfg.batch_size,), generator=gen)
        t = torch.randint(0, T, (cfg.batch_size,), generator=gen)
        noise = torch.randn((cfg.batch_size, *data.shape[1:]), generator=gen)
        x0, t, noise = data[idx.to(device)], t.to(device), noise.to(device)
        a = abar_dev[t].view(-1, 1, 1, 1)
        xt = a.sqrt() * x0 + (1 - a).sqrt() * noise
        kwargs = {}
        if labels is not None:
            y = labels[idx]
            if cfg.label_dropout > 0:
                drop = torch.rand(cfg.batch_size, generator=gen) < cfg.label_dropout
                y = torch.where(drop, torch.full_like(y, null_label), y)
            kwargs["class_labels"] = y.to(device)
        for group in opt.param_groups:  # linear warm-up, then constant
            group["lr"] = cfg.lr * min(1.0, (step + 1) / max(1, cfg.warmup_steps))
        pred = model(xt, t, **kwargs).sample
        loss = torch.nn.functional.mse_loss(pred, noise)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        opt.step()
        with torch.no_grad():
            for pe, p in zip(ema.parameters(), model.parameters()):
                pe.lerp_(p, 1.0 - cfg.ema_decay)
        acc += loss.item()
        acc_n += 1
        if (step + 1) % window == 0 or step + 1 == cfg.steps:
            curve.append((step + 1, acc / acc_n))
            bar.set_postfix(loss=f"{acc / acc_n:.4f}")
            acc, acc_n = 0.0, 0
        bar.update(1)
        if on_snapshot is not None and step + 1 in snapshot_steps and step + 1 < cfg.steps:
            on_snapshot(step + 1, ema, list(curve))
        if ckpt is not None and checkpoint_every and (step + 1) % checkpoint_every == 0 \
                and step + 1 < cfg.steps:
            _save_checkpoint(ckpt, model, ema, opt, gen, step + 1, curve, (acc, acc_n), meta)
    bar.close()
    return TrainResult(ema_model=ema.eval(), model=model.eval(), loss_curve=curve,
                       wall_time_s=time.perf_counter() - t0, resumed_from=start)
