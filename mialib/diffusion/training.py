"""The one training loop of every model here (pixel UNet, class-conditional UNet, latent
text-conditioned UNet, VAE): AdamW, an exponential moving average (EMA) of the weights (the model
that is sampled and attacked), linear learning-rate warm-up, gradient clipping, one seeded
generator for every random draw, a tqdm bar, and resumable training states (one safetensors
file each, written atomically). What a step minimises is plugged in (:mod:`.objectives`);
:func:`train_diffusion` plugs in DDPM's denoising loss (Ho et al. 2020, Algorithm 1 / eq. 14):

    loss = || n - eps_theta( sqrt(abar_t) x0 + sqrt(1 - abar_t) n, t ) ||^2,
    t ~ U{0..T-1}, n ~ N(0, I),

with optional class labels or text embeddings and condition dropout for classifier-free
guidance. It knows nothing about membership, or about what the images are.
"""

from __future__ import annotations

import copy
import json
import time
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from safetensors import safe_open
from safetensors.torch import save_file

from ..core.checks import check_field_types
from ..core.fileio import atomic_path
from ..core.progress import progress_bar
from ..defences.augment import augment, check_kind
from ..defences.dp import PerSampleGradients, sample_rate
from .objectives import DenoisingObjective


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation settings; every field enters the cache key."""

    steps: int = 3000                # optimizer steps
    batch_size: int = 64             # images per step (sampled with replacement)
    lr: float = 2e-3                 # AdamW learning rate (constant after warm-up)
    warmup_steps: int = 100          # linear learning-rate warm-up
    weight_decay: float = 0.0        # AdamW weight decay
    ema_decay: float = 0.999         # EMA of the weights; the EMA model is the target
    grad_clip: float = 1.0           # max gradient norm (0: no clipping)
    label_dropout: float = 0.0       # P(label -> null label) for classifier-free guidance
    seed: int = 0                    # seeds batch order, timesteps and noise
    snr_gamma: float = 0.0           # Min-SNR loss weighting min(SNR_t, gamma) / SNR_t (0: uniform, DDPM's eq. 14)
    augment: str = ""                # label-preserving augmentation of each batch (mialib.defences.augment: "shift", "flip", "shift+flip")
    dp_clip: float = 0.0             # > 0: DP-SGD (mialib.defences.dp) with per-sample gradients clipped to this norm C
    dp_noise: float = 0.0            # DP-SGD's noise multiplier sigma (noise std sigma * C on the summed gradient)

    def __post_init__(self):
        check_field_types(self)
        if self.steps < 1 or self.batch_size < 1:
            raise ValueError(f"steps and batch_size must be >= 1, got {self.steps}, {self.batch_size}")
        if not 0.0 <= self.ema_decay < 1.0 or not 0.0 <= self.label_dropout < 1.0:
            raise ValueError("ema_decay and label_dropout must lie in [0, 1)")
        if self.lr <= 0:
            raise ValueError(f"lr must be positive, got {self.lr}")
        if self.grad_clip < 0:
            raise ValueError(f"grad_clip must be >= 0 (0: no clipping), got {self.grad_clip}")
        if self.snr_gamma < 0:
            raise ValueError(f"snr_gamma must be >= 0 (0: uniform weighting), got {self.snr_gamma}")
        if self.weight_decay < 0:
            raise ValueError(f"weight_decay must be >= 0, got {self.weight_decay}")
        check_kind(self.augment)
        if self.dp_clip < 0 or self.dp_noise < 0:
            raise ValueError(f"dp_clip and dp_noise must be >= 0, got {self.dp_clip}, {self.dp_noise}")
        if self.dp_noise > 0 and self.dp_clip == 0:
            raise ValueError("dp_noise > 0 needs dp_clip > 0: DP-SGD's noise is scaled to the per-sample clipping norm")
        if self.dp_clip > 0 and self.grad_clip > 0:
            raise ValueError("DP-SGD clips each image's gradient (dp_clip); set grad_clip to 0 (no batch-level clipping "
                             "on the DP path)")

    @property
    def private(self) -> bool:
        """Whether this is a DP-SGD run (per-sample clipping, Poisson sampling, noise)."""
        return self.dp_clip > 0

    def to_dict(self) -> dict:
        """The fields, without ``snr_gamma``, ``augment``, ``dp_clip`` and ``dp_noise`` while they
        are off: models trained before those fields existed keep their cache keys."""
        d = asdict(self)
        for name in ("snr_gamma", "augment", "dp_clip", "dp_noise"):
            if not d[name]:
                d.pop(name)
        return d


@dataclass
class TrainResult:
    """The trained EMA model, the raw model, and what the run recorded."""

    ema_model: torch.nn.Module
    model: torch.nn.Module
    loss_curve: list = field(default_factory=list)   # [(step, mean loss over the window)]
    wall_time_s: float = 0.0                          # time spent training in this process
    resumed_from: int = 0                             # step a saved state resumed from (0 = fresh)
    state: tuple | None = None                        # final (tensors, metadata) with keep_state


STATE_FORMAT = 1  # version of the training-state file layout


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


def training_state(model, ema, opt, gen: torch.Generator, step: int, curve,
                   window_acc: tuple[float, int], meta: dict) -> tuple[dict, dict]:
    """Everything a run needs to continue exactly from ``step``: (tensors, metadata) for ONE
    safetensors file (weights, EMA weights, optimizer moments, RNG state; step, loss curve and
    the settings it belongs to in the metadata), so it is written in one atomic step."""
    tensors = {f"model.{k}": v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    tensors.update({f"ema.{k}": v.detach().cpu().contiguous() for k, v in ema.state_dict().items()})
    tensors.update(_flatten_optimizer(opt))
    tensors["rng"] = gen.get_state()
    info = {"format": STATE_FORMAT, "step": int(step), "loss_curve": [list(c) for c in curve],
            "window_acc": list(window_acc), "meta": meta}
    return tensors, {"mialib": json.dumps(info, sort_keys=True)}


def save_training_state(path: Path, *state) -> None:
    """Write :func:`training_state` to ``path`` atomically."""
    write_training_state(path, training_state(*state))


def write_training_state(path: Path, state: tuple[dict, dict]) -> None:
    """Write a (tensors, metadata) state, e.g. a :class:`TrainResult`'s ``state``, to ``path`` atomically."""
    tensors, metadata = state
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata=metadata)


def read_training_state(path: Path, meta: dict):
    """(tensors, info) of the state file at ``path`` if it is complete and was written for the
    same ``meta``; None if it belongs to other settings. Raises ValueError if it is unreadable
    or lacks a field; nothing is restored before every field has been checked."""
    try:
        with safe_open(str(path), framework="pt") as fh:
            info = json.loads((fh.metadata() or {})["mialib"])
            tensors = {k: fh.get_tensor(k) for k in fh.keys()}
    except Exception as exc:
        raise ValueError(f"{path}: unreadable training state ({type(exc).__name__}: {exc})") from exc
    missing = [k for k in ("format", "step", "loss_curve", "window_acc", "meta") if k not in info]
    if missing or info["format"] != STATE_FORMAT or "rng" not in tensors:
        raise ValueError(f"{path}: incomplete training state (missing {missing or 'rng'})")
    if info["meta"] != meta:
        return None
    return tensors, info


def restore_training_state(tensors: dict, info: dict, model, ema, opt, gen: torch.Generator):
    """Load a state read by :func:`read_training_state` into the objects; return (step, loss
    curve, window accumulator)."""
    model.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("model.")})
    ema.load_state_dict({k[4:]: v for k, v in tensors.items() if k.startswith("ema.")})
    _restore_optimizer(opt, {k: v for k, v in tensors.items() if k.startswith("opt.")})
    gen.set_state(tensors["rng"])
    acc, acc_n = info["window_acc"]
    return int(info["step"]), [tuple(x) for x in info["loss_curve"]], (float(acc), int(acc_n))


def _resume(paths_to_try, meta: dict, max_step: int, model, ema, opt, gen):
    """Restore the most advanced usable state among ``paths_to_try`` at or before
    ``max_step``; return (step, loss curve, window accumulator), (0, [], (0, 0)) if none. A
    state that is unreadable or belongs to other settings is skipped (a warning if unreadable)."""
    best = None
    for path in paths_to_try:
        if path is None or not Path(path).is_file():
            continue
        try:
            found = read_training_state(Path(path), meta)
        except ValueError as exc:
            warnings.warn(f"{exc}; ignoring it", RuntimeWarning, stacklevel=3)
            continue
        if found is None or found[1]["step"] > max_step:
            continue
        if best is None or found[1]["step"] > best[1]["step"]:
            best = found
    if best is None:
        return 0, [], (0.0, 0)
    return restore_training_state(*best, model, ema, opt, gen)


def state_meta(cfg: TrainConfig, images: torch.Tensor, labels, texts=None, objective: dict | None = None) -> dict:
    """What a saved training state must agree on to be continued: every training setting but
    the number of steps, the objective's own settings (none for denoising), and the exact data
    and conditioning (so a run of any length continues a shorter one)."""
    from ..data.images import fingerprint

    meta = {"train": {k: v for k, v in cfg.to_dict().items() if k != "steps"},
            "data": fingerprint(images, labels), "shape": list(images.shape[1:]),
            "conditional": labels is not None}
    if texts is not None:
        meta["texts"] = fingerprint(texts)
    if objective:
        meta.update(objective)
    return meta


def train_diffusion(model: torch.nn.Module, alphas_cumprod: torch.Tensor, images: torch.Tensor,
                    cfg: TrainConfig, labels: np.ndarray | torch.Tensor | None = None,
                    null_label: int | None = None, texts: torch.Tensor | None = None,
                    null_text: torch.Tensor | None = None, device: str | torch.device = "cpu",
                    **loop) -> TrainResult:
    """Train ``model`` (a diffusers UNet2DModel, or any module with the same call
    signature) to predict the noise, on ``images`` (Tensor[N, C, H, W] in [-1, 1]).

    With ``labels`` the model is class-conditional (``class_labels=``); with
    ``cfg.label_dropout`` > 0 a label is replaced by ``null_label`` with that probability. With
    ``texts`` (Tensor[N, sequence, dim], e.g. caption embeddings) the model is a
    UNet2DConditionModel conditioned on them (``encoder_hidden_states=``), and dropout replaces a
    caption by ``null_text`` (the empty prompt's embedding). ``loop`` are :func:`fit`'s
    checkpoint, resume, snapshot and progress arguments.
    """
    if images.ndim != 4 or len(images) == 0:
        raise ValueError(f"images must be a non-empty Tensor[N, C, H, W], got {tuple(images.shape)}")
    cond = null = kw = None
    if labels is not None:
        labels = cond = torch.as_tensor(np.asarray(labels), dtype=torch.long)
        if len(labels) != len(images):
            raise ValueError(f"{len(labels)} labels for {len(images)} images")
        if cfg.label_dropout > 0 and null_label is None:
            raise ValueError("label_dropout > 0 needs null_label (the model's 'no label' index)")
        kw, null = "class_labels", None if null_label is None else torch.tensor(null_label, dtype=torch.long)
    if texts is not None:
        if labels is not None or texts.ndim != 3 or len(texts) != len(images):
            raise ValueError("texts must be Tensor[N, sequence, dim] with one entry per image, and "
                             "exclude class labels")
        if cfg.label_dropout > 0 and (null_text is None or tuple(null_text.shape) != tuple(texts.shape[1:])):
            raise ValueError("label_dropout > 0 with texts needs null_text of shape [sequence, dim]")
        cond, null, kw = texts, null_text, "encoder_hidden_states"
    device = torch.device(device)
    objective = DenoisingObjective(alphas_cumprod, device, kw, null, cfg.label_dropout, snr_gamma=cfg.snr_gamma)
    return fit(model, images, cfg, objective, cond=cond, meta=state_meta(cfg, images, labels, texts),
               device=device, **loop)


def fit(model: torch.nn.Module, data: torch.Tensor, cfg: TrainConfig, objective, *, cond: torch.Tensor | None = None,
        meta: dict | None = None, device: str | torch.device = "cpu", checkpoint: str | Path | None = None,
        checkpoint_every: int = 500, continue_from=(), keep_state: bool = False, progress: bool = True,
        log_points: int = 100, on_snapshot=None, snapshot_steps=(), desc: str = "training") -> TrainResult:
    """Minimise ``objective(model, batch, cond_batch, generator)`` over batches of ``data``
    (drawn with replacement, with their rows of ``cond``) for ``cfg.steps`` AdamW steps.

    The learning rate is constant after warm-up and every random draw comes from one
    generator, so the run is a pure function of its settings and data, and its state at step
    s is the state of any longer run at step s. Hence:

    - with ``checkpoint`` (a file) the state is saved every ``checkpoint_every`` steps, and a
      re-run resumes from it;
    - ``continue_from`` lists state files of shorter runs (from ``keep_state``); the run starts
      from the most advanced one written for the same ``meta`` (default: :func:`state_meta`);
    - ``on_snapshot(step, ema_model, loss_curve)`` is called after each step in
      ``snapshot_steps``: the EMA model there is the one a run of ``steps=step`` returns.

    A state file that is unreadable or incomplete is ignored with a warning. Returns a
    :class:`TrainResult`; the EMA model is in eval mode, on ``device``; with ``keep_state``
    its ``state`` holds the final training state (see :func:`training_state`).
    """
    device = torch.device(device)
    gen = torch.Generator().manual_seed(cfg.seed)
    torch.manual_seed(cfg.seed)  # anything inside the model that draws (e.g. dropout)
    model = model.to(device).train()
    ema = copy.deepcopy(model).requires_grad_(False).eval()
    # DP-SGD (mialib.defences.dp): Poisson batches, per-sample clipping and noise replace the
    # batch-level clipping; the per-sample gradients come from hooks on ``model`` itself
    private = PerSampleGradients(model) if cfg.private else None
    q = sample_rate(cfg.batch_size, len(data)) if cfg.private else None
    params = list(model.parameters())
    ema_params = list(ema.parameters())
    # the fused kernel (CPU and CUDA) and the foreach EMA / clipping: ~7% off a quick step on a
    # 2-core CPU, same maths (benchmarks/training_variants.py)
    fast = device.type in ("cpu", "cuda")
    opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay, **({"fused": True} if fast else {}))
    images = data
    data = images.to(device, torch.float32)

    meta = meta if meta is not None else state_meta(cfg, images, None, objective=getattr(objective, "meta", None))
    ckpt = Path(checkpoint) if checkpoint is not None else None
    start, curve, (acc, acc_n) = _resume([ckpt, *continue_from], meta, cfg.steps, model, ema, opt, gen)
    state = (model, ema, opt, gen)

    window = max(1, cfg.steps // log_points)
    t0 = time.perf_counter()
    bar = progress_bar(total=cfg.steps, initial=start, desc=desc, enabled=progress)
    for step in range(start, cfg.steps):
        if private is None:
            idx = torch.randint(0, len(data), (cfg.batch_size,), generator=gen)
        else:  # Poisson sampling: each image joins with probability q (the accountant assumes it)
            idx = (torch.rand(len(data), generator=gen) < q).nonzero().flatten()
        for group in opt.param_groups:  # linear warm-up, then constant
            group["lr"] = cfg.lr * min(1.0, (step + 1) / max(1, cfg.warmup_steps))
        opt.zero_grad(set_to_none=True)
        loss = None
        if len(idx):
            batch = augment(data[idx.to(device)], cfg.augment, gen)
            loss = objective(private or model, batch, None if cond is None else cond[idx], gen)
            with warnings.catch_warnings():  # opacus' hooks fire on the model's output (the inputs need no grad)
                warnings.filterwarnings("ignore", message="Full backward hook is firing", category=UserWarning)
                loss.backward()
        if private is not None:
            private.private_gradient(cfg.dp_clip, cfg.dp_noise, cfg.batch_size, gen, len(idx))
        elif cfg.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(params, cfg.grad_clip, foreach=True if fast else None)
        opt.step()
        with torch.no_grad():
            torch._foreach_lerp_(ema_params, params, 1.0 - cfg.ema_decay)
        if loss is not None:
            acc += loss.item()
            acc_n += 1
        if (step + 1) % window == 0 or step + 1 == cfg.steps:
            curve.append((step + 1, acc / max(acc_n, 1)))
            bar.set_postfix(loss=f"{acc / max(acc_n, 1):.4f}")
            acc, acc_n = 0.0, 0
        bar.update(1)
        if on_snapshot is not None and step + 1 in snapshot_steps and step + 1 < cfg.steps:
            on_snapshot(step + 1, ema, list(curve))
        if ckpt is not None and checkpoint_every and (step + 1) % checkpoint_every == 0 \
                and step + 1 < cfg.steps:
            save_training_state(ckpt, *state, step + 1, curve, (acc, acc_n), meta)
    bar.close()
    if private is not None:
        private.close()
    final = training_state(*state, cfg.steps, curve, (acc, acc_n), meta) if keep_state else None
    return TrainResult(ema_model=ema.eval(), model=model.eval(), loss_curve=curve,
                       wall_time_s=time.perf_counter() - t0, resumed_from=start, state=final)
