"""Train any diffusion model on any data, once: the entry point every notebook trains through.

    model = train_model(images, ModelConfig(...), TrainConfig(...), labels=None)
    target = model.target()                    # a DiffusionTarget for the attacks
    samples = model.sample(64, steps=50)

The cache key is the content of what is trained on (images and labels, :func:`..data.fingerprint`)
and the model and training configs, nothing else: the membership target, the property-inference
models and the fairness models are all "these images, this model, this training", so two
notebooks that train the same thing share one entry, and changing any image changes the key.

A run that needs more steps than a cached run of the same settings and data continues from
that run's saved final state (``keep_state=True`` keeps it) instead of starting again: the
result is bitwise the model a run from scratch gives (:func:`.training.train_diffusion`).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, replace
from typing import Sequence

import numpy as np
import torch

from ..core import cache, paths
from ..core.progress import progress_bar
from ..data.images import fingerprint
from .entries import load_or_train, training_record
from .models import ModelConfig, build_scheduler, build_unet, count_parameters, resolve_device
from .sampling import sample_ddim
from .target import DiffusionTarget
from .training import TrainConfig, train_diffusion

REQUIRED_RECORD = ("model", "train", "data_fingerprint", "lineage", "steps", "loss_curve",
                   "n_training_images", "n_parameters", "wall_time_s", "device")
STATE = "state"  # the extra tensor file of an entry that keeps its final training state


@dataclass
class TrainedModel:
    """A trained denoiser (the EMA weights), its noise schedule, and its cache record."""

    unet: torch.nn.Module
    scheduler: object
    record: dict
    from_cache: bool

    @property
    def key(self) -> str:
        return self.record["key"]

    @property
    def epochs(self) -> float:
        """How many times training saw each training image on average: steps x batch / images."""
        rec = self.record
        return rec["steps"] * rec["train"]["batch_size"] / rec["n_training_images"]

    @property
    def num_classes(self) -> int | None:
        return self.record["model"].get("num_classes")

    def target(self, batch_size: int = 256, device=None) -> DiffusionTarget:
        """This model as a :class:`DiffusionTarget` for the attacks."""
        return DiffusionTarget.from_unet(self.unet, self.scheduler, batch_size=batch_size, device=device)

    def sample(self, n: int, *, steps: int = 50, generator: torch.Generator | None = None,
               class_labels=None, guidance_scale: float = 0.0, batch_size: int = 256,
               progress: bool = True, eta: float = 0.0) -> torch.Tensor:
        """``n`` images by DDIM with noise level ``eta`` (:func:`.sampling.sample_ddim`; 0 is
        deterministic); class-conditional models take ``class_labels`` and classifier-free
        ``guidance_scale``."""
        return sample_ddim(self.unet, self.scheduler.alphas_cumprod, n, steps=steps, generator=generator,
                           class_labels=class_labels, guidance_scale=guidance_scale,
                           null_label=self.num_classes, batch_size=batch_size, progress=progress, eta=eta)


def _check_training_data(images, labels, model: ModelConfig):
    if not isinstance(images, torch.Tensor) or images.ndim != 4 or len(images) == 0:
        raise ValueError("training images must be a non-empty Tensor[N, C, H, W], got "
                         f"{type(images).__name__} {tuple(getattr(images, 'shape', ()))}")
    if tuple(images.shape[1:]) != (model.channels, model.image_size, model.image_size):
        raise ValueError(f"training images have shape {tuple(images.shape[1:])}, the model config "
                         f"says {(model.channels, model.image_size, model.image_size)}")
    if not images.dtype.is_floating_point or not torch.isfinite(images).all() \
            or images.min() < -1 - 1e-6 or images.max() > 1 + 1e-6:
        raise ValueError("training images must be finite floats in [-1, 1]")
    if (labels is None) != (model.num_classes is None):
        raise ValueError("labels are needed exactly when the model is class-conditional "
                         f"(num_classes={model.num_classes}, labels {'absent' if labels is None else 'given'})")
    if labels is None:
        return None
    labels = np.asarray(labels)
    if labels.ndim != 1 or len(labels) != len(images) or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"labels must be {len(images)} integers, got dtype {labels.dtype} and "
                         f"shape {labels.shape}")
    if labels.min() < 0 or labels.max() >= model.num_classes:
        raise ValueError(f"labels must lie in [0, {model.num_classes - 1}], got [{labels.min()}, {labels.max()}]")
    return labels.astype(np.int64)


def lineage(data_fp: str, model: ModelConfig, train: TrainConfig, init: str | None = None) -> str:
    """Identifies runs that differ only in their number of steps (one continues another)."""
    return cache.config_hash({"model": model.to_dict(), "data": data_fp,
                              "train": {k: v for k, v in train.to_dict().items() if k != "steps"},
                              **({} if init is None else {"init": init})})


def model_key(images: torch.Tensor, model: ModelConfig, train: TrainConfig, labels=None) -> str:
    """The cache key of training ``model`` with ``train`` on ``images`` (and ``labels``)."""
    return _key(fingerprint(images, labels), model, train)


def _key(data_fp: str, model: ModelConfig, train: TrainConfig, init: str | None = None) -> str:
    """The cache key; ``init`` (the key of the model training starts from) enters it only when
    given, so the keys of models trained from their initial weights stay as they were."""
    return cache.config_hash({"model": model.to_dict(), "train": train.to_dict(), "data": data_fp,
                              **({} if init is None else {"init": init})})


def _check_init_config(base: dict | None, model: ModelConfig) -> None:
    """A base model can start training of ``model`` when its config is the same, or the same but
    unconditional where ``model`` is class-conditional (:func:`load_base_weights` adds the labels)."""
    same = cache.config_hash(base) == cache.config_hash(model.to_dict())
    conditioned = (model.num_classes is not None and isinstance(base, dict) and base.get("num_classes") is None
                   and cache.config_hash({**base, "num_classes": model.num_classes}) == cache.config_hash(model.to_dict()))
    if not (same or conditioned):
        raise ValueError(f"init is a model of config {base}, not of {model.to_dict()} (or of its unconditional "
                         "version)")


def load_base_weights(unet: torch.nn.Module, base: torch.nn.Module) -> None:
    """Copy the weights of ``base`` into ``unet``. A class-conditional ``unet`` may start from an
    unconditional ``base`` of the same shape otherwise: its class embedding (added to the timestep
    embedding by diffusers' UNet2DModel) starts at zero, so the model it starts from predicts
    exactly what the base predicts, for every label and for the null label, and fine-tuning learns
    what the labels add (the zero-initialised conditioning of ControlNet, Zhang et al. 2023)."""
    try:
        missing, unexpected = unet.load_state_dict(base.state_dict(), strict=False)
    except RuntimeError as exc:  # tensors of other shapes
        raise ValueError(f"the base model's weights do not fit: {exc}") from None
    if unexpected or set(missing) - {"class_embedding.weight"}:
        raise ValueError(f"the base model's weights do not fit: missing {sorted(missing)}, unexpected {sorted(unexpected)}")
    if missing:
        with torch.no_grad():
            unet.class_embedding.weight.zero_()


def _wrap(dev):
    def wrap(components, record):
        return TrainedModel(components["unet"].to(dev), build_scheduler(), record, from_cache=True)
    return wrap


def _continuable_states(line: str, steps: int) -> list:
    """State files of cached runs of the same lineage with fewer steps, longest first."""
    found = []
    folder = paths.cache_dir()
    for rec_path in folder.glob("*/" + cache.RECORD) if folder.is_dir() else []:
        try:
            rec = json.loads(rec_path.read_text())
        except (OSError, ValueError):
            continue
        state = rec_path.parent / f"{STATE}.safetensors"
        if rec.get("lineage") == line and rec.get("steps", steps) < steps and state.is_file():
            found.append((rec["steps"], rec.get("key"), state))
    # a state is only used after its entry verifies (its hash covers the state file)
    good = []
    for n, key, state in sorted(found, key=lambda x: x[0], reverse=True):
        try:
            cache.read_record(key, REQUIRED_RECORD)
        except Exception:  # noqa: BLE001 - an unusable entry is simply not continued
            continue
        good.append(state)
    return good


def _record(model_cfg, train, data_fp, line, n_images, unet, curve, wall, resumed, dev, provenance,
            snapshot_of=None) -> dict:
    return training_record({
        "model": model_cfg.to_dict(), "train": train.to_dict(), "data_fingerprint": data_fp,
        "lineage": line, "steps": train.steps, "n_training_images": n_images,
        "n_parameters": count_parameters(unet), "resumed_from_step": resumed, "loss_curve": curve,
        "snapshot_of": snapshot_of}, wall_time_s=wall, device=dev, provenance=provenance)


def train_model(images: torch.Tensor, model: ModelConfig = ModelConfig(),
                train: TrainConfig = TrainConfig(), *, labels=None, device: str = "auto",
                progress: bool = True, snapshot_steps: Sequence[int] = (), keep_state: bool = False,
                provenance: dict | None = None, init: TrainedModel | None = None) -> TrainedModel:
    """The model ``model`` trained with ``train`` on ``images`` (Tensor[N, C, H, W] in [-1, 1];
    ``labels`` for a class-conditional model, ``model.num_classes`` set): from the cache, or
    trained and cached. With ``init`` (a :class:`TrainedModel` of the same ``model`` config, or
    of its unconditional version: :func:`load_base_weights`) training starts from its weights
    instead of the seeded initial ones: fine-tuning a base model; the base's key enters the cache
    key.

    ``snapshot_steps`` (< train.steps) are cached on the way, each as the model of a run with
    that many steps. ``keep_state`` keeps the final optimizer state, so a later, longer run of
    the same settings continues from it. ``provenance`` (a dict) is stored in the record.
    Interrupted training resumes from its checkpoint; concurrent calls for the same model wait
    for each other and train it once.
    """
    labels = _check_training_data(images, labels, model)
    dev = resolve_device(device)
    data_fp = fingerprint(images, labels)
    init_key = None
    if init is not None:
        _check_init_config(init.record.get("model"), model)
        init_key = init.key
        provenance = {**(provenance or {}), "fine_tuned_from": init_key}
    key, line = _key(data_fp, model, train, init_key), lineage(data_fp, model, train, init_key)

    def train_now() -> TrainedModel:
        with torch.random.fork_rng(devices=[]):  # initial weights depend on the seed only
            torch.manual_seed(train.seed)
            unet = build_unet(model)
        if init is not None:
            load_base_weights(unet, init.unet)
        scheduler = build_scheduler()
        t0 = time.perf_counter()

        def save_snapshot(step, ema, curve):
            """Cache the EMA model at ``step`` as the run of that many steps, unless it is cached."""
            s_train = replace(train, steps=int(step))
            s_key = _key(data_fp, model, s_train, init_key)
            record = _record(model, s_train, data_fp, line, len(images), ema, curve, time.perf_counter() - t0, 0,
                             dev, provenance, snapshot_of=key)
            load_or_train(s_key, REQUIRED_RECORD, lambda components, rec: rec,
                          lambda: cache.save_entry(s_key, {"unet": ema}, record))

        result = train_diffusion(unet, scheduler.alphas_cumprod, images, train, labels=labels,
                                 null_label=model.num_classes, device=dev,
                                 checkpoint=cache.checkpoint_path(key),
                                 continue_from=_continuable_states(line, train.steps),
                                 keep_state=keep_state, progress=progress, on_snapshot=save_snapshot,
                                 snapshot_steps=tuple(int(s) for s in snapshot_steps))
        record = _record(model, train, data_fp, line, len(images), result.ema_model, result.loss_curve,
                         result.wall_time_s, result.resumed_from, dev, provenance)
        record = cache.save_entry(key, {"unet": result.ema_model}, record,
                                  tensors={STATE: result.state} if result.state is not None else None)
        return TrainedModel(result.ema_model, scheduler, record, from_cache=False)

    return load_or_train(key, REQUIRED_RECORD, _wrap(dev), train_now)


def train_models(jobs: Sequence[dict], *, device: str = "auto", progress: bool = True,
                 desc: str = "models") -> list[TrainedModel]:
    """:func:`train_model` for each job (a dict of its arguments: images, model, train, labels,
    provenance, ...), in order, with one progress bar over the models. Measured on a 2-core CPU,
    running several small models in one batched computation (torch.func.vmap) was no faster
    than this loop; see benchmarks/training_throughput.py."""
    out = []
    for job in progress_bar(list(jobs), desc=desc, enabled=progress):
        out.append(train_model(**{"device": device, "progress": False, **job}))
    return out


def train_for_budgets(images: torch.Tensor, budgets: Sequence[int], model: ModelConfig,
                      train: TrainConfig, *, labels=None, device: str = "auto", progress: bool = True,
                      provenance: dict | None = None) -> dict[int, TrainedModel]:
    """One model per training budget (steps), all else equal, all from the cache where
    present. The missing ones come from ONE run to the largest missing budget that caches the
    others on the way (and continues a cached shorter run if one kept its state), so the cost
    is at most the largest missing budget, not the sum."""
    budgets = sorted({int(b) for b in budgets})
    if not budgets or budgets[0] < 1:
        raise ValueError(f"budgets must be positive step counts, got {budgets}")
    labels = _check_training_data(images, labels, model)
    data_fp = fingerprint(images, labels)
    missing = [b for b in budgets
               if not cache.entry_dir(_key(data_fp, model, replace(train, steps=b))).exists()]
    if missing:
        train_model(images, model, replace(train, steps=missing[-1]), labels=labels, device=device,
                    progress=progress, snapshot_steps=missing[:-1], keep_state=True, provenance=provenance)
    return {b: train_model(images, model, replace(train, steps=b), labels=labels, device=device,
                           progress=progress, provenance=provenance) for b in budgets}
