"""The membership experiment, from a notebook's parameters to its data and its target model:

    spec = TargetSpec.from_params(target, seed=seed)   # target: the profile's `target` mapping
    data = load_data(spec)                             # the split's four parts, in [-1, 1]
    model = train_target(spec, data, device="auto")    # a TrainedModel, cached
    target = model.target()                            # the DiffusionTarget the attacks take

or in one call, with every attack's settings: ``exp = MembershipExperiment.open(seed=...,
target=..., attacks=...)``.

Every notebook that attacks the same target builds the same spec from the same parameters, so
they share one split file and one cache entry. The settings and their defaults live in ONE
place, :class:`TargetParams`; a profile's ``target`` mapping overrides some of them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

import torch

from ..attacks.registry import attack_settings
from ..attacks.scoring import SplitScores, part_generator, score_part
from ..core.config import Config
from ..data import loaders, splits
from ..data.images import ImageSet
from ..diffusion.models import ModelConfig
from ..diffusion.target import DiffusionTarget
from ..diffusion.trained import TrainedModel, train_for_budgets, train_model
from ..diffusion.training import TrainConfig

PARTS = ("members", "nonmembers", "cal_members", "cal_nonmembers")


@dataclass(frozen=True)
class TargetParams(Config):
    """The membership target's settings as a profile writes them (flat, documented); the
    defaults are the quick profile's, sized for a 2-core CPU."""

    dataset: str = "digits"          # "digits" (shipped with scikit-learn), "cifar10" or "folder:<path under data/>"
    image_size: int = 8              # images are resized to image_size x image_size
    n_members: int = 192             # evaluation members: training images the attacks must recognise
    n_nonmembers: int = 1024         # evaluation non-members: never trained on (1000+ for TPR@0.1%FPR)
    n_calibration: int = 64          # members (trained on) and as many non-members set aside to fit thresholds
    block_out_channels: tuple = (32, 64)  # UNet width per resolution level
    layers_per_block: int = 1        # ResNet blocks per level
    attention: tuple = ()            # per level, whether it has self-attention (empty: none)
    train_steps: int = 3000          # optimizer steps
    batch_size: int = 64             # images per step
    lr: float = 0.002                # AdamW learning rate
    ema_decay: float = 0.999         # EMA decay; the EMA weights are the target



@dataclass(frozen=True)
class TargetSpec:
    """Which data, which split, which model, which training: everything a target depends on."""

    dataset: str = "digits"
    n_members: int = 192
    n_nonmembers: int = 1024
    n_cal_members: int = 64
    n_cal_nonmembers: int = 64
    split_seed: int = 0
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    @classmethod
    def from_params(cls, target: Mapping | TargetParams | None = None, *, seed: int = 0) -> "TargetSpec":
        """The spec of a profile's ``target`` mapping (overrides of :class:`TargetParams`) and
        the notebook's ``seed`` (which seeds the split and the training). ``n_calibration``
        members and as many non-members are set aside for threshold calibration (the
        calibration members are trained on too)."""
        p = target if isinstance(target, TargetParams) else TargetParams.from_overrides(target)
        channels = 1 if p.dataset == "digits" else 3
        model = ModelConfig(image_size=p.image_size, channels=channels,
                            block_out_channels=p.block_out_channels,
                            layers_per_block=p.layers_per_block, attention=p.attention)
        train = TrainConfig(steps=p.train_steps, batch_size=p.batch_size, lr=p.lr,
                            ema_decay=p.ema_decay, seed=seed)
        return cls(dataset=p.dataset, n_members=p.n_members, n_nonmembers=p.n_nonmembers,
                   n_cal_members=p.n_calibration, n_cal_nonmembers=p.n_calibration,
                   split_seed=seed, model=model, train=train)


PART_NAMES = {"members": "members", "nonmembers": "non-members", "cal_members": "calibration members",
              "cal_nonmembers": "calibration non-members"}


@dataclass(frozen=True)
class ExperimentData:
    """The data set, its split, and the four parts of the split as image tensors."""

    dataset: ImageSet
    split: splits.Split
    members: torch.Tensor
    nonmembers: torch.Tensor
    cal_members: torch.Tensor
    cal_nonmembers: torch.Tensor

    @property
    def training(self) -> torch.Tensor:
        """The images the target is trained on (members, then calibration members)."""
        return torch.cat([self.members, self.cal_members])

    def part(self, name: str) -> torch.Tensor:
        """One of :data:`PARTS` by name."""
        if name not in PARTS:
            raise ValueError(f"unknown part {name!r}; parts: {PARTS}")
        return getattr(self, name)

    def part_sizes(self) -> dict[str, int]:
        """Images per part, under the names a reader sees (members, non-members, calibration ...)."""
        return {PART_NAMES[name]: len(getattr(self.split, name)) for name in PARTS}

    def size_record(self) -> dict[str, int]:
        """:meth:`part_sizes` keyed for a results file: n_members, n_nonmembers,
        n_calibration_members, n_calibration_nonmembers."""
        return {f"n_{name.replace(' ', '_').replace('-', '')}": n for name, n in self.part_sizes().items()}

    def label_balance(self) -> splits.LabelBalance:
        """Each class's count in each part and the chi-squared homogeneity test
        (:func:`mialib.data.splits.label_balance`; unchecked for a data set without labels)."""
        return splits.label_balance(self.dataset.labels,
                                    {PART_NAMES[name]: getattr(self.split, name) for name in PARTS})


def load_data(spec: TargetSpec) -> ExperimentData:
    """Load ``spec.dataset`` at the model's image size and its (committed) split."""
    ds = loaders.load_dataset(spec.dataset, spec.model.image_size)
    if ds.shape[0] != spec.model.channels:
        raise ValueError(f"{spec.dataset} images have {ds.shape[0]} channel(s) but the model "
                         f"expects {spec.model.channels}")
    sp = splits.get_split(spec.dataset, len(ds), spec.n_members, spec.n_nonmembers,
                          spec.n_cal_members, spec.n_cal_nonmembers, seed=spec.split_seed,
                          labels=ds.labels)
    parts = [ds.images[torch.from_numpy(getattr(sp, name))] for name in PARTS]
    return ExperimentData(ds, sp, *parts)


def _provenance(spec: TargetSpec, data: ExperimentData) -> dict:
    return {"dataset": spec.dataset, "split_hash": data.split.hash,
            "population_fingerprint": data.dataset.fingerprint()}


def train_target(spec: TargetSpec, data: ExperimentData | None = None, device: str = "auto",
                 progress: bool = True, snapshot_steps=()) -> TrainedModel:
    """The target model of ``spec``, trained on the members and calibration members (from the
    cache if present). Its final training state is kept, so a longer budget continues it;
    the models at ``snapshot_steps`` are cached on the way (see
    :func:`mialib.diffusion.trained.train_model`)."""
    data = data if data is not None else load_data(spec)
    return train_model(data.training, spec.model, spec.train, device=device, progress=progress,
                       snapshot_steps=[s for s in snapshot_steps if s < spec.train.steps],
                       keep_state=True, provenance=_provenance(spec, data))


def training_line(model: TrainedModel) -> str:
    """One line on where ``model`` came from and what its training was: parameters, steps, batch,
    images, epochs, wall time and device (notebook 01)."""
    rec = model.record
    origin = "loaded from cache" if model.from_cache else "trained"
    return (f"{origin}: {rec['n_parameters']:,} parameters, {rec['steps']} steps of {rec['train']['batch_size']} "
            f"images on {rec['n_training_images']} images = {model.epochs:.0f} epochs, {rec['wall_time_s']:.0f} s "
            f"on {rec['device']}")


def train_target_budgets(spec: TargetSpec, budgets, data: ExperimentData | None = None,
                         device: str = "auto", progress: bool = True) -> dict[int, TrainedModel]:
    """The target of ``spec`` at each training budget (steps), all else equal
    (:func:`mialib.diffusion.trained.train_for_budgets`)."""
    data = data if data is not None else load_data(spec)
    return train_for_budgets(data.training, budgets, spec.model, spec.train, device=device,
                             progress=progress, provenance=_provenance(spec, data))


@dataclass
class MembershipExperiment:
    """Everything a membership notebook attacks: the spec, the split's images, the trained
    target model, the DiffusionTarget over it, and every attack's settings."""

    spec: TargetSpec
    data: ExperimentData
    model: TrainedModel
    target: DiffusionTarget
    settings: dict

    @classmethod
    def open(cls, *, seed: int, target: Mapping | None = None, device: str = "auto",
             attacks: Mapping | None = None, batch_size: int = 256, snapshot_steps=(),
             progress: bool = True) -> "MembershipExperiment":
        """From a notebook's parameters: ``target`` (the profile's target mapping), ``attacks``
        (its attack overrides, :func:`mialib.attacks.attack_settings`), ``batch_size`` (images
        per model call). The model comes from the cache, or is trained (with ``snapshot_steps``)."""
        settings = attack_settings(attacks)  # checked before anything is loaded or trained
        spec = TargetSpec.from_params(target, seed=seed)
        data = load_data(spec)
        model = train_target(spec, data, device=device, progress=progress, snapshot_steps=snapshot_steps)
        return cls(spec, data, model, model.target(batch_size=batch_size), settings)

    def summary(self) -> str:
        """One line: the target and the split it is attacked on."""
        rec, d = self.model.record, self.data
        return (f"target: {rec['n_parameters']:,} parameters, {rec['steps']} steps on "
                f"{rec['n_training_images']} images ({'cache' if self.model.from_cache else 'trained now'}); "
                f"{len(d.members)} members / {len(d.nonmembers)} non-members, calibration "
                f"{len(d.cal_members)} / {len(d.cal_nonmembers)}")

    def collect_noises(self, attack, *, seed: int, parts=("members", "nonmembers")) -> tuple[dict, float]:
        """The K predicted noises of noise aggregation (:meth:`NoiseAggregation.noises`) for every
        image of ``parts``, each part's noise drawn from :func:`mialib.attacks.scoring.part_generator`
        as :func:`score_split` draws it: (part -> Tensor[N, K, ...], model queries per image)."""
        n = sum(len(self.data.part(p)) for p in parts)
        with self.target.counting(n) as q:
            noises = {p: attack.noises(self.target, self.data.part(p), generator=part_generator(seed, p))
                      for p in parts}
        return noises, q.per_sample

    def scores_from_noises(self, attack, noises: dict, *, seed: int) -> SplitScores:
        """The :class:`SplitScores` that :func:`score_split` gives ``attack``, with the evaluation
        parts' scores computed from ``noises`` (:meth:`collect_noises`, no query repeated) and the
        calibration parts scored with their own part seeds."""
        cal = (score_part(attack, self.target, self.data.part(p), seed=seed, part=p)
               for p in ("cal_members", "cal_nonmembers"))
        return SplitScores(attack.scores_from_noises(noises["members"]),
                           attack.scores_from_noises(noises["nonmembers"]), *cal)

    @property
    def epochs_per_step(self) -> float:
        """The share of the training images one training step sees (batch / training images)."""
        return self.spec.train.batch_size / len(self.data.training)

    @property
    def epochs(self) -> float:
        """How many times the training run saw each training image on average
        (:attr:`TrainedModel.epochs` of the target)."""
        return self.model.epochs
