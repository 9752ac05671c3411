"""From a notebook's parameters to its data and its trained target model, in two calls:

    spec = TargetSpec.from_params(dataset="digits", image_size=8, n_members=256, ...)
    # in a notebook: TargetSpec.from_params(**TargetSpec.pick(run.parameters))
    data = load_data(spec)                      # the split images, as tensors in [-1, 1]
    target = get_target(spec, device="auto")    # cached, trained on the members if absent

Every notebook that attacks the same target builds the same spec from the same
parameters, so they share one split file and one cache entry.
"""

from __future__ import annotations

import platform
import time
from dataclasses import asdict, dataclass, field, replace

import torch

from . import __version__, cache, data as datamod, splits
from .models import ModelConfig, build_scheduler, build_unet, count_parameters, resolve_device
from .training import TrainConfig, train_diffusion


@dataclass(frozen=True)
class TargetSpec:
    """Which data, which split, which model, which training: everything a target depends on."""

    dataset: str = "digits"
    n_members: int = 256
    n_nonmembers: int = 256
    n_cal_members: int = 0
    n_cal_nonmembers: int = 0
    split_seed: int = 0
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    @classmethod
    def pick(cls, params: dict) -> dict:
        """The entries of a notebook's parameters that :meth:`from_params` takes."""
        import inspect

        names = set(inspect.signature(cls.from_params).parameters)
        return {k: v for k, v in params.items() if k in names}

    @classmethod
    def from_params(cls, *, dataset: str, image_size: int, n_members: int, n_nonmembers: int,
                    n_calibration: int = 0, block_out_channels=(32, 64), layers_per_block: int = 1,
                    attention=(), train_steps: int = 3000, batch_size: int = 64,
                    lr: float = 2e-3, ema_decay: float = 0.999, seed: int = 0,
                    channels: int | None = None, device: str | None = None) -> "TargetSpec":
        """Build a spec from flat notebook parameters. ``n_calibration`` members and as many
        non-members are set aside for threshold calibration (the calibration members are
        trained on too). ``channels`` defaults to what the data set has (digits: 1).
        ``device`` is accepted (and ignored) so a notebook's parameters can be passed whole:
        where a model is trained does not change what it is."""
        if channels is None:
            channels = 1 if dataset == "digits" else 3
        model = ModelConfig(image_size=image_size, channels=channels,
                            block_out_channels=tuple(block_out_channels),
                            layers_per_block=layers_per_block, attention=tuple(attention))
        train = TrainConfig(steps=train_steps, batch_size=batch_size, lr=lr,
                            ema_decay=ema_decay, seed=seed)
        return cls(dataset=dataset, n_members=n_members, n_nonmembers=n_nonmembers,
                   n_cal_members=n_calibration, n_cal_nonmembers=n_calibration,
                   split_seed=seed, model=model, train=train)


@dataclass(frozen=True)
class ExperimentData:
    """The data set, its split, and the four parts of the split as image tensors."""

    dataset: datamod.ImageSet
    split: splits.Split
    members: torch.Tensor
    nonmembers: torch.Tensor
    cal_members: torch.Tensor
    cal_nonmembers: torch.Tensor

    @property
    def training(self) -> torch.Tensor:
        """The images the target is trained on (members, then calibration members)."""
        return torch.cat([self.members, self.cal_members])


@dataclass
class Target:
    """A trained target: the EMA UNet, its noise schedule and its cache record."""

    unet: torch.nn.Module
    scheduler: object
    record: dict
    from_cache: bool


def load_data(spec: TargetSpec) -> ExperimentData:
    """Load ``spec.dataset`` at the model's image size and its (committed) split."""
    ds = datamod.load_dataset(spec.dataset, spec.model.image_size)
    if ds.shape[0] != spec.model.channels:
        raise ValueError(f"{spec.dataset} images have {ds.shape[0]} channel(s) but the model "
                         f"expects {spec.model.channels}")
    sp = splits.get_split(spec.dataset, len(ds), spec.n_members, spec.n_nonmembers,
                          spec.n_cal_members, spec.n_cal_nonmembers, seed=spec.split_seed,
                          labels=ds.labels)
    part = lambda idx: ds.images[torch.from_numpy(idx)]  # noqa: E731
    return ExperimentData(ds, sp, part(sp.members), part(sp.nonmembers),
                          part(sp.cal_members), part(sp.cal_nonmembers))


def cache_key(spec: TargetSpec, data: ExperimentData) -> str:
    """The cache key: model and training configs, the split hash and the data fingerprint."""
    return cache.config_hash({"model": spec.model.to_dict(), "train": spec.train.to_dict(),
                              "split": data.split.hash, "data": data.dataset.fingerprint()})


def with_steps(spec: TargetSpec, steps: int) -> TargetSpec:
    """``spec`` with a different training budget."""
    return replace(spec, train=replace(spec.train, steps=int(steps)))


def _record(spec: TargetSpec, data: ExperimentData, key: str, model, loss_curve, wall_time_s: float,
            resumed_from: int, started: float, dev, snapshot_of: str | None = None) -> dict:
    return {
        "key": key,
        "spec": asdict(spec),
        "split_hash": data.split.hash,
        "data_fingerprint": data.dataset.fingerprint(),
        "n_training_images": len(data.training),
        "n_parameters": count_parameters(model),
        "steps": spec.train.steps,
        "resumed_from_step": resumed_from,
        "loss_curve": loss_curve,
        "wall_time_s": round(wall_time_s, 2),
        "trained_at_unix": round(started),
        "device": str(dev),
        "snapshot_of": snapshot_of,
        "versions": {"mialib": __version__, "torch": torch.__version__,
                     "python": platform.python_version()},
    }


def get_target(spec: TargetSpec, data: ExperimentData | None = None, device: str = "auto",
               progress: bool = True, snapshot_steps=()) -> Target:
    """The target model of ``spec``: loaded from the cache, or trained on the members (and
    calibration members) and cached. An interrupted training resumes from its checkpoint.
    While training, the models at ``snapshot_steps`` (< spec.train.steps) are cached too,
    each under the key of ``with_steps(spec, s)``: they are the models those shorter runs
    would give (see :func:`mialib.training.train_diffusion`)."""
    data = data if data is not None else load_data(spec)
    dev = resolve_device(device)
    key = cache_key(spec, data)
    scheduler = build_scheduler()
    hit = cache.load_unet(key)
    if hit is not None:
        unet, record = hit
        return Target(unet.to(dev), scheduler, record, from_cache=True)
    with torch.random.fork_rng(devices=[]):  # initial weights depend on the spec's seed only
        torch.manual_seed(spec.train.seed)
        unet = build_unet(spec.model)
    started = time.time()
    t0 = time.perf_counter()

    def save_snapshot(step, ema, curve):
        s_spec = with_steps(spec, step)
        s_key = cache_key(s_spec, data)
        cache.save_unet(s_key, ema, _record(s_spec, data, s_key, ema, curve, time.perf_counter() - t0,
                                            0, started, dev, snapshot_of=key))

    result = train_diffusion(unet, scheduler.alphas_cumprod, data.training, spec.train,
                             device=dev, checkpoint_dir=cache.checkpoint_dir(key),
                             progress=progress, on_snapshot=save_snapshot,
                             snapshot_steps=tuple(int(s) for s in snapshot_steps))
    record = _record(spec, data, key, result.ema_model, result.loss_curve, result.wall_time_s,
                     result.resumed_from, started, dev)
    cache.save_unet(key, result.ema_model, record)
    return Target(result.ema_model, scheduler, record, from_cache=False)


def get_targets_for_budgets(spec: TargetSpec, budgets, data: ExperimentData | None = None,
                            device: str = "auto", progress: bool = True) -> dict[int, Target]:
    """One target per training budget (steps), all from the cache where present. The missing
    ones come from ONE training run to the largest missing budget that caches the others on
    the way, so the cost is the largest missing budget, not the sum."""
    budgets = sorted({int(b) for b in budgets})
    if not budgets or budgets[0] < 1:
        raise ValueError(f"budgets must be positive step counts, got {budgets}")
    data = data if data is not None else load_data(spec)
    missing = [b for b in budgets if not cache.entry_dir(cache_key(with_steps(spec, b), data)).exists()]
    if missing:
        get_target(with_steps(spec, missing[-1]), data, device=device, progress=progress,
                   snapshot_steps=missing[:-1])
    return {b: get_target(with_steps(spec, b), data, device=device, progress=progress) for b in budgets}
