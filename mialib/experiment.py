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
from dataclasses import asdict, dataclass, field

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


def get_target(spec: TargetSpec, data: ExperimentData | None = None, device: str = "auto",
               progress: bool = True) -> Target:
    """The target model of ``spec``: loaded from the cache, or trained on the members (and
    calibration members) and cached. An interrupted training resumes from its checkpoint."""
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
    result = train_diffusion(unet, scheduler.alphas_cumprod, data.training, spec.train,
                             device=dev, checkpoint_dir=cache.checkpoint_dir(key),
                             progress=progress)
    record = {
        "key": key,
        "spec": asdict(spec),
        "split_hash": data.split.hash,
        "data_fingerprint": data.dataset.fingerprint(),
        "n_training_images": len(data.training),
        "n_parameters": count_parameters(result.ema_model),
        "steps": spec.train.steps,
        "resumed_from_step": result.resumed_from,
        "loss_curve": result.loss_curve,
        "wall_time_s": round(result.wall_time_s, 2),
        "trained_at_unix": round(started),
        "device": str(dev),
        "versions": {"mialib": __version__, "torch": torch.__version__,
                     "python": platform.python_version()},
    }
    cache.save_unet(key, result.ema_model, record)
    return Target(result.ema_model, scheduler, record, from_cache=False)
