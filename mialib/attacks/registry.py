"""Every per-image membership attack in one table: what it is called, how it is run, and how
many model queries it costs per image. Notebooks and the benchmark iterate over it instead of
listing the attacks themselves.

    from mialib.attacks.registry import ATTACKS, run_attack
    for name, info in ATTACKS.items():
        scores = run_attack(name, target, x0, generator=torch.Generator().manual_seed(0))
        print(info.label, info.queries())

SecMI_NNs is not here: it is not a per-image score but a classifier trained on part of the
members and non-members (:func:`.secmi.secmi_nns`; same queries as SecMI_stat).
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from functools import partial
from typing import Callable

import torch

from .baselines import (check_naive_loss_params, check_pia_params, naive_loss, naive_loss_queries,
                        pia_proximal, pia_queries)
from .noise_aggregation import check_noise_aggregation_params, noise_aggregation, noise_aggregation_queries
from .secmi import check_secmi_steps, secmi_queries, secmi_stat


@dataclass(frozen=True)
class AttackInfo:
    """One attack: ``fn(target, x0, **defaults)`` returns scores (higher = member);
    ``count(**params)`` its queries per image; ``check(target, **params)`` raises ValueError on
    parameters the target's schedule cannot take (the attack runs the same check itself);
    ``timestep`` names its main timestep parameter; ``reference`` the key of its reported
    numbers in :mod:`mialib.reference`."""

    name: str
    label: str
    fn: Callable
    count: Callable[..., int]
    check: Callable[..., object]
    timestep: str
    defaults: dict = field(default_factory=dict)
    paper: str = ""
    reference: str = ""

    def params(self, **overrides) -> dict:
        """The defaults with ``overrides`` applied; unknown names are an error."""
        unknown = set(overrides) - set(self.defaults)
        if unknown:
            raise ValueError(f"{self.name} has no parameter(s) {sorted(unknown)}; "
                             f"it takes {sorted(self.defaults)}")
        return {**self.defaults, **overrides}

    def queries(self, **overrides) -> int:
        """Model queries per image with these parameters."""
        return int(_call_with_known(self.count, self.params(**overrides)))

    def is_valid(self, target, **overrides) -> bool:
        """Whether ``target`` can be attacked with these parameters (no model query)."""
        try:
            _call_with_known(self.check, self.params(**overrides), target)
        except ValueError:
            return False
        return True

    @property
    def uses_randomness(self) -> bool:
        return "generator" in inspect.signature(self.fn).parameters


def _call_with_known(fn: Callable, params: dict, *args):
    """``fn(*args, **params)`` restricted to the keyword parameters ``fn`` declares."""
    wanted = inspect.signature(fn).parameters
    return fn(*args, **{k: v for k, v in params.items() if k in wanted})


ATTACKS: dict[str, AttackInfo] = {a.name: a for a in [
    AttackInfo("naive_loss", "Naive loss", naive_loss, naive_loss_queries, check_naive_loss_params, "t",
               {"t": 100}, "Matsumoto et al. 2023", "naive_loss/cifar10"),
    AttackInfo("pia_proximal", "PIA", pia_proximal, pia_queries, check_pia_params, "t",
               {"t": 200, "p": 4, "normalize": False}, "Kong et al., ICLR 2024", "pia_proximal/cifar10"),
    AttackInfo("pian_proximal", "PIAN", pia_proximal, pia_queries, check_pia_params, "t",
               {"t": 200, "p": 4, "normalize": True}, "Kong et al., ICLR 2024", ""),
    AttackInfo("secmi_stat", "SecMI_stat", secmi_stat, secmi_queries, check_secmi_steps, "t_sec",
               {"t_sec": 100, "k": 10}, "Duan et al., ICML 2023", "secmi_stat/cifar10"),
    AttackInfo("noise_aggregation", "Noise aggregation", noise_aggregation, noise_aggregation_queries,
               partial(check_noise_aggregation_params, min_K=2), "t",
               {"t": 80, "m": 10, "K": 5, "sigma": 0.1, "injection": "decoupled", "metric": "l2"},
               "Li et al. 2025", "noise_aggregation/cifar10"),
]}


def get_attack(name: str) -> AttackInfo:
    """The registry entry ``name``, or a ValueError listing the known names."""
    if name not in ATTACKS:
        raise ValueError(f"unknown attack {name!r}; known: {sorted(ATTACKS)}")
    return ATTACKS[name]


def run_attack(name: str, target, x0, *, generator: torch.Generator | None = None, cond=None,
               **overrides) -> torch.Tensor:
    """Scores of attack ``name`` on ``x0`` with its defaults overridden by ``overrides``;
    ``generator`` goes to the attacks that draw noise."""
    info = get_attack(name)
    kwargs = info.params(**overrides)
    if info.uses_randomness:
        kwargs["generator"] = generator
    return info.fn(target, x0, cond=cond, **kwargs)


def queries_table() -> list[dict]:
    """One row per attack: name, label, queries per image at its defaults, paper."""
    return [{"attack": a.name, "label": a.label, "queries_per_sample": a.queries(), "paper": a.paper}
            for a in ATTACKS.values()]
