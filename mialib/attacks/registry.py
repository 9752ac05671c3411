"""Every membership attack in one table: its name, label, paper, and its settings class with
the defaults (:mod:`.config`). Notebooks and the benchmark iterate over it instead of listing
the attacks themselves, and take a profile's ``attacks`` mapping as overrides of it:

    from mialib.attacks.registry import ATTACKS, attack_settings, run_attack
    settings = attack_settings({"noise_aggregation": {"t": 60}})   # name -> settings
    for name, info in ATTACKS.items():
        scores = run_attack(name, target, x0, generator=torch.Generator().manual_seed(0))
        print(info.label, info.queries())

SecMI_NNs and the blind baseline are not per-image scores but classifiers trained on part of
the members and non-members; their recipes (:class:`.classifier.ClassifierConfig`) are in
:data:`CLASSIFIERS`, and :func:`attack_settings` covers them too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import torch

from ..core.config import Config
from .baselines import PIA, NaiveLoss
from .classifier import BLIND_CLASSIFIER, SECMI_NNS_CLASSIFIER
from .config import AttackConfig
from .noise_aggregation import NoiseAggregation
from .secmi import SecMI


@dataclass(frozen=True)
class AttackInfo:
    """One per-image attack: its settings with the defaults (``config``), a display label,
    the paper, and the key of its reported numbers in :mod:`mialib.evaluation.reference`."""

    name: str
    label: str
    config: AttackConfig
    paper: str = ""
    reference: str = ""

    @property
    def timestep(self) -> str:
        """The name of its main timestep parameter."""
        return self.config.TIMESTEP

    def configure(self, **overrides) -> AttackConfig:
        """The defaults with ``overrides`` applied (unknown names and wrong types: ValueError)."""
        return self.config.replace(**overrides)

    def queries(self, **overrides) -> int:
        """Model queries per image with these settings."""
        return self.configure(**overrides).queries()

    def is_valid(self, target, **overrides) -> bool:
        """Whether these settings are valid and ``target``'s schedule can take them (no model
        query)."""
        try:
            return self.configure(**overrides).is_valid(target)
        except ValueError:
            return False


ATTACKS: dict[str, AttackInfo] = {a.name: a for a in [
    AttackInfo("naive_loss", "Naive loss", NaiveLoss(), "Matsumoto et al. 2023", "naive_loss/cifar10"),
    AttackInfo("pia_proximal", "PIA", PIA(), "Kong et al., ICLR 2024", "pia_proximal/cifar10"),
    AttackInfo("pian_proximal", "PIAN", PIA(normalize=True), "Kong et al., ICLR 2024"),
    AttackInfo("secmi_stat", "SecMI_stat", SecMI(), "Duan et al., ICML 2023", "secmi_stat/cifar10"),
    AttackInfo("noise_aggregation", "Noise aggregation", NoiseAggregation(), "Li et al. 2025",
               "noise_aggregation/cifar10"),
]}

CLASSIFIERS: dict[str, Config] = {"secmi_nns": SECMI_NNS_CLASSIFIER, "blind_baseline": BLIND_CLASSIFIER}


def get_attack(name: str) -> AttackInfo:
    """The registry entry ``name``, or a ValueError listing the known names."""
    if name not in ATTACKS:
        raise ValueError(f"unknown attack {name!r}; known: {sorted(ATTACKS)}")
    return ATTACKS[name]


def attack_settings(overrides: Mapping | None = None) -> dict[str, Config]:
    """Name -> settings of every attack and classifier recipe, the library's defaults with
    ``overrides`` ({name: {parameter: value}}, e.g. a profile's ``attacks`` mapping) applied.
    Unknown attack or parameter names and wrong types are a ValueError naming them."""
    overrides = dict(overrides or {})
    defaults = {**{n: a.config for n, a in ATTACKS.items()}, **CLASSIFIERS}
    unknown = sorted(set(overrides) - set(defaults))
    if unknown:
        raise ValueError(f"attacks names unknown attack(s) {unknown}; known: {sorted(defaults)}")
    out = {}
    for name, default in defaults.items():
        own = overrides.get(name) or {}
        if not isinstance(own, Mapping):
            raise ValueError(f"attacks[{name!r}] must be a mapping of parameter: value, got {own!r}")
        out[name] = default.replace(**own)
    return out


def run_attack(name: str, target, x0, *, generator: torch.Generator | None = None, cond=None,
               **overrides) -> torch.Tensor:
    """Scores of attack ``name`` on ``x0`` with its defaults overridden by ``overrides``;
    ``generator`` goes to the attacks that draw noise."""
    cfg = get_attack(name).configure(**overrides)
    cfg.check(target)
    return cfg.scores(target, x0, cond=cond, generator=generator)
