"""Notebook 08's experiment: the membership target of notebooks 01-04 trained again under each
defence, on the same split (same members, same non-members), every attack of the registry on
every model, paired against the undefended model on the same images, the models' utility, and
the empirical lower bound on ε next to the accountant's.

    params = DefenceParams.from_overrides(defences)          # the profile's `defences` mapping
    plan = plan_defences(exp, params)                        # every model's training, checked first
    models = train_defences(plan, exp, device=device)        # cached, like every model here
    scores = score_models(models, exp.settings, exp.data, seed=seed)

The defences (Abadi et al. 2016 for DP-SGD; data augmentation, weight decay and early stopping
are the usual regularisers) are trained for ``steps`` steps each and paired with the undefended
model of that many steps (a snapshot of the target's own training run, so "early stopping" is
that model set against the full target). Every model is one cache entry of
:func:`mialib.diffusion.trained.train_model`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
import torch

from ..attacks.registry import ATTACKS
from ..attacks.scoring import SplitScores, score_split
from ..core.config import Config
from ..core.progress import progress_bar
from ..defences import dp
from ..defences.augment import check_kind
from ..diffusion.models import build_unet
from ..diffusion.objectives import DenoisingObjective
from ..diffusion.trained import TrainedModel, train_model
from ..diffusion.training import TrainConfig
from ..evaluation.compare import compare, verdict
from ..evaluation.epsilon_bound import epsilon_lower_bound
from ..evaluation.frechet import FeatureNetwork, train_feature_network
from ..evaluation.metrics import evaluate


@dataclass(frozen=True)
class DefenceParams(Config):
    """Notebook 08's defences, as a profile's ``defences`` mapping writes them."""

    steps: int = 1000                # training steps of every defended model (and of the undefended model it is paired with)
    dp_epsilons: tuple = (10.0, 1.0)  # one DP-SGD model per target epsilon (the accountant's, at dp_delta)
    dp_delta: float = 1e-4           # DP's delta; must lie below 1 / (training images)
    dp_clip: float = 1.0             # per-sample gradient clipping norm C
    dp_batch_size: int = 16          # DP-SGD's expected batch (Poisson sampling rate = this / training images); per-sample gradients cost ~3x a plain step at 64, so quick takes 16
    dp_lr: float = 0.002             # AdamW learning rate of the DP models
    augment: str = "shift"           # the augmentation model's kind (mialib.defences.augment), "" for none
    weight_decay: float = 1.0        # AdamW's decoupled weight decay of the weight-decay model (0: no such model)
    early_stopping: tuple = ()       # further budgets (steps) whose snapshots stand for early stopping (besides `steps`)
    n_samples: int = 512             # samples per model for the Fréchet distance (as many held-out real images)
    sample_steps: int = 10           # DDIM steps per sample (eta = 1)
    loss_draws: int = 4              # (t, noise) draws per image of the held-out denoising loss

    def validate(self) -> None:
        if self.steps < 1 or self.dp_batch_size < 1 or self.n_samples < 2 or self.sample_steps < 1 \
                or self.loss_draws < 1:
            raise ValueError("steps, dp_batch_size, sample_steps and loss_draws must be >= 1, n_samples >= 2")
        for e in self.dp_epsilons:
            if isinstance(e, bool) or not isinstance(e, (int, float)) or not 0 < e < math.inf:
                raise ValueError(f"dp_epsilons must be positive finite numbers, got {list(self.dp_epsilons)}")
        if not 0 < self.dp_delta < 1:
            raise ValueError(f"dp_delta must lie in (0, 1), got {self.dp_delta}")
        if self.dp_clip <= 0 or self.dp_lr <= 0 or self.weight_decay < 0:
            raise ValueError("dp_clip and dp_lr must be positive and weight_decay >= 0")
        check_kind(self.augment)
        if any(isinstance(b, bool) or not isinstance(b, int) or b < 1 for b in self.early_stopping):
            raise ValueError(f"early_stopping must list positive step counts, got {list(self.early_stopping)}")


@dataclass(frozen=True)
class PlannedModel:
    """One model of the comparison: how it is trained, and what it is paired with."""

    name: str                 # short key
    label: str                # what tables and figures call it
    kind: str                 # "none", "early stopping", "dp", "augmentation", "weight decay"
    train: TrainConfig
    baseline: str | None      # the model it is paired with (None: the reference itself)
    privacy: dict | None = None  # DP: epsilon, delta, noise multiplier, sampling rate, steps


def _dp_label(eps: float) -> str:
    return f"DP-SGD, ε = {eps:g}"


def plan_defences(spec, params: DefenceParams, n_training: int) -> dict[str, PlannedModel]:
    """Every model of the comparison, checked before anything trains: the DP settings against
    the training set's size (δ < 1/N, sampling rate <= 1, a reachable ε) and the UNet's layers
    against what DP-SGD can train."""
    full = spec.train
    if params.steps > full.steps or any(b >= full.steps for b in params.early_stopping):
        raise ValueError(f"the defended models' steps ({params.steps}) and early_stopping budgets "
                         f"({list(params.early_stopping)}) must not exceed the target's {full.steps} steps "
                         "(early-stopping budgets below it)")
    s = params.steps
    ref = f"undefended_{s}" if s < full.steps else "undefended"
    plan = {"undefended": PlannedModel("undefended", f"undefended, {full.steps} steps", "none", full, None)}
    if s < full.steps:
        plan[ref] = PlannedModel(ref, f"undefended, {s} steps (early stopping)", "early stopping",
                                 replace(full, steps=s), "undefended")
    for b in sorted(set(params.early_stopping) - {s}):
        plan[f"undefended_{b}"] = PlannedModel(f"undefended_{b}", f"undefended, {b} steps (early stopping)",
                                               "early stopping", replace(full, steps=b), "undefended")
    if params.augment:
        plan["augmentation"] = PlannedModel("augmentation", f"augmentation ({params.augment})", "augmentation",
                                            replace(full, steps=s, augment=params.augment), ref)
    if params.weight_decay > 0:
        plan["weight_decay"] = PlannedModel("weight_decay", f"weight decay {params.weight_decay:g}", "weight decay",
                                            replace(full, steps=s, weight_decay=params.weight_decay), ref)
    if params.dp_epsilons:
        dp.check_private_model(build_unet(spec.model))
        q = dp.sample_rate(params.dp_batch_size, n_training)
        for eps in params.dp_epsilons:
            dp.check_privacy(eps, params.dp_delta, n_training)
            sigma = dp.noise_for_epsilon(eps, params.dp_delta, q, s)
            privacy = {"target_epsilon": float(eps), "epsilon": dp.epsilon(sigma, q, s, params.dp_delta),
                       "delta": params.dp_delta, "noise_multiplier": sigma, "sample_rate": q, "steps": s,
                       "clip": params.dp_clip, "accountant": "RDP (opacus)"}
            train = replace(full, steps=s, batch_size=params.dp_batch_size, lr=params.dp_lr, grad_clip=0.0,
                            dp_clip=params.dp_clip, dp_noise=sigma)
            plan[f"dp_eps{eps:g}"] = PlannedModel(f"dp_eps{eps:g}", _dp_label(eps), "dp", train, ref, privacy)
    return plan


def train_defences(plan: dict[str, PlannedModel], exp, *, device: str = "auto",
                   progress: bool = True) -> dict[str, TrainedModel]:
    """The models of ``plan``, from the cache or trained (the undefended ones are the target and
    its snapshots, cached by notebook 01; a missing budget continues the target's run)."""
    from .membership import train_target_budgets

    budgets = sorted({p.train.steps for p in plan.values() if p.kind in ("none", "early stopping")})
    undefended = train_target_budgets(exp.spec, budgets, exp.data, device=device, progress=progress)
    out = {}
    for name, p in plan.items():
        if p.kind in ("none", "early stopping"):
            out[name] = undefended[p.train.steps]
        else:
            prov = {"defence": p.kind, **({"privacy": p.privacy} if p.privacy else {})}
            out[name] = train_model(exp.data.training, exp.spec.model, p.train, device=device, progress=progress,
                                    provenance=prov)
    return out


def score_models(models: dict[str, TrainedModel], settings: dict, data, *, seed: int, batch_size: int = 256,
                 progress: bool = True) -> dict[str, dict[str, SplitScores]]:
    """{model: {attack: SplitScores}}: every per-image attack of the registry on every model,
    on all four parts of the split with the same noise (paired across models)."""
    out = {}
    for name, model in progress_bar(list(models.items()), desc="attacking models", enabled=progress):
        target = model.target(batch_size=batch_size)
        out[name] = {a: score_split(settings[a], target, data, seed=seed) for a in ATTACKS}
    return out


def attack_table(scores: dict, plan: dict[str, PlannedModel], *, n_boot: int, seed: int) -> dict:
    """{model: {attack: row}}: each attack's metrics (:func:`evaluate`, with calibration) and,
    for a defended model, the paired AUC difference to its baseline on the same images
    (``vs_baseline``: :func:`compare` plus its :func:`verdict`)."""
    out = {}
    for name, by_attack in scores.items():
        base = plan[name].baseline
        out[name] = {}
        for a, s in by_attack.items():
            row = {"metrics": evaluate(*s.evaluation, calibration=s.calibration, n_boot=n_boot, seed=seed)}
            if base is not None:
                d = compare(s, scores[base][a], n_boot=n_boot, seed=seed)
                row["vs_baseline"] = {**d, "verdict": verdict(d)}
            out[name][a] = row
    return out


def epsilon_bounds(scores: dict, plan: dict[str, PlannedModel], delta: float, confidence: float = 0.95) -> dict:
    """{model: {"per_attack": {attack: bound dict}, "best": bound dict, "accountant": ε or None}}.
    The best bound over the A attacks takes each at confidence 1 - (1 - confidence) / A
    (Bonferroni), so the maximum holds with ``confidence``."""
    out = {}
    for name, by_attack in scores.items():
        level = 1 - (1 - confidence) / len(by_attack)
        per = {a: {**epsilon_lower_bound(s.members, s.nonmembers, s.cal_members, s.cal_nonmembers, delta=delta,
                                         confidence=level), "attack": a} for a, s in by_attack.items()}
        best = max(per.values(), key=lambda b: b["epsilon"])
        priv = plan[name].privacy
        out[name] = {"per_attack": per, "best": best, "accountant": None if priv is None else priv["epsilon"],
                     "confidence": confidence}
    return out


def held_out_loss(model: TrainedModel, images: torch.Tensor, *, draws: int, seed: int, batch_size: int = 512) -> float:
    """The denoising loss (Ho et al. eq. 14, the training objective) on ``images``, averaged over
    ``draws`` seeded (t, noise) draws per image: how well the model denoises images it never saw."""
    unet = model.unet
    device = next(unet.parameters()).device
    objective = DenoisingObjective(model.scheduler.alphas_cumprod, device)
    gen = torch.Generator().manual_seed(seed)
    total, n = 0.0, 0
    with torch.no_grad():
        for _ in range(draws):
            for i in range(0, len(images), batch_size):
                x = images[i:i + batch_size].to(device)
                total += float(objective(unet, x, None, gen)) * len(x)
                n += len(x)
    return total / n


@dataclass
class Utility:
    """Each model's Fréchet distance and held-out loss, with the real-image floor."""

    frechet: dict            # model -> Fréchet distance of its samples to the held-out reference
    held_out_loss: dict      # model -> denoising loss on the held-out non-members
    real_floor: float        # the distance as many other real images reach
    feature_accuracy: float  # the feature network's accuracy on the reference images
    samples: dict            # model -> the samples (for the figure)


def reference_images(data) -> tuple[torch.Tensor, np.ndarray, torch.Tensor, torch.Tensor, np.ndarray]:
    """The held-out reference (even-indexed evaluation non-members) and its labels, the real
    floor's images (odd-indexed ones), and the labelled images the feature network trains on
    (everything of the data set but the evaluation non-members): (reference, reference labels,
    other, train images, train labels)."""
    if data.dataset.labels is None:
        raise ValueError("the Fréchet distance's feature network needs a labelled data set")
    labels = np.asarray(data.dataset.labels)
    keep = np.setdiff1d(np.arange(len(data.dataset)), data.split.nonmembers)
    return (data.nonmembers[0::2], labels[data.split.nonmembers[0::2]], data.nonmembers[1::2],
            data.dataset.images[torch.from_numpy(keep)], labels[keep])


def measure_utility(models: dict[str, TrainedModel], data, params: DefenceParams, *, seed: int,
                    progress: bool = True) -> Utility:
    """:class:`Utility` of every model: ``params.n_samples`` DDIM samples (eta = 1) against as many
    held-out real images in the feature space of a classifier trained here."""
    ref, ref_labels, other, train_x, train_y = reference_images(data)
    n = min(params.n_samples, len(ref), len(other))
    net: FeatureNetwork = train_feature_network(train_x, train_y, ref, ref_labels, seed=seed)
    floor = net.distance(other[:n], ref[:n])
    fd, loss, samples = {}, {}, {}
    for name, m in progress_bar(list(models.items()), desc="sampling models", enabled=progress):
        x = m.sample(n, steps=params.sample_steps, generator=torch.Generator().manual_seed(seed), eta=1.0,
                     progress=False)
        samples[name] = x
        fd[name] = net.distance(x, ref[:n])
        loss[name] = held_out_loss(m, data.nonmembers, draws=params.loss_draws, seed=seed)
    return Utility(fd, loss, floor, net.accuracy, samples)


def plan_rows(plan: dict[str, PlannedModel]) -> list[dict]:
    """The plan as table rows: each model's training and what it is paired with."""
    rows = []
    for p in plan.values():
        t = p.train
        how = {"none": "the target", "early stopping": "a snapshot of the target's run",
               "augmentation": f"augment={t.augment}", "weight decay": f"weight_decay={t.weight_decay:g}",
               "dp": (f"σ = {p.privacy['noise_multiplier']:.3f}, C = {t.dp_clip:g}, q = {p.privacy['sample_rate']:.3f} "
                      f"→ ε = {p.privacy['epsilon']:.2f} at δ = {p.privacy['delta']:g}") if p.privacy else ""}[p.kind]
        rows.append({"model": p.label, "steps": t.steps, "batch": t.batch_size, "training": how,
                     "paired with": "" if p.baseline is None else plan[p.baseline].label})
    return rows


def training_rows(plan: dict[str, PlannedModel], models: dict[str, TrainedModel]) -> list[dict]:
    """Where each model came from and its final training loss."""
    return [{"model": plan[n].label, "from": "cache" if m.from_cache else "trained now",
             "training time (s)": round(float(m.record["wall_time_s"]), 1),
             "final training loss": round(float(m.record["loss_curve"][-1][1]), 4)} for n, m in models.items()]


def models_record(plan: dict[str, PlannedModel], models: dict[str, TrainedModel]) -> dict:
    """For the results file: each model's label, kind, baseline, training settings, cache key and DP accounting."""
    return {n: {"label": p.label, "kind": p.kind, "baseline": p.baseline, "train": p.train.to_dict(),
                "key": models[n].key, "privacy": p.privacy} for n, p in plan.items()}


def utility_record(utility: Utility) -> dict:
    """For the results file: the utility numbers without the samples."""
    return {"frechet_distance": utility.frechet, "held_out_loss": utility.held_out_loss,
            "real_floor": utility.real_floor, "feature_accuracy": utility.feature_accuracy}
