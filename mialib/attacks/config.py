"""The base of every attack's settings: a :class:`~mialib.core.config.Config` whose fields are
the attack's parameters with their defaults, so each attack's defaults, parameter checks,
query count and call live in one class:

    cfg = NoiseAggregation()                 # the paper's defaults
    cfg = cfg.replace(t=60)                  # an override; unknown names are an error
    cfg.check(target)                        # ValueError if the target's schedule cannot take it
    cfg.queries()                            # model queries per image
    scores = cfg.scores(target, x0, generator=g)
    cfg.sweep_scores(target, x0, "K", [2, 5, 8], generator=g)   # where cfg.shared_sweep("K")

Field types are checked on construction (a number given as a string is an error naming the
field); ranges that do not depend on the target in :meth:`validate`; constraints from the
target's schedule (timesteps, strides) in :meth:`check`, before any model query.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch

from ..core.config import Config


@dataclass(frozen=True)
class AttackConfig(Config):
    """Settings of one attack. Subclasses add fields and override :meth:`validate`,
    :meth:`check`, :meth:`queries` and (per-image attacks) :meth:`scores`."""

    TIMESTEP: ClassVar[str] = "t"  # the name of its main timestep parameter

    def check(self, target) -> None:
        """Checks against ``target``'s schedule (ValueError); the attack runs it before any query."""

    def queries(self) -> int:
        """Model queries per image."""
        raise NotImplementedError(f"{type(self).__name__} does not say how many queries it makes")

    def scores(self, target, x0, *, cond=None, generator: torch.Generator | None = None) -> torch.Tensor:
        """Membership scores of ``x0`` (higher = more likely a member)."""
        raise NotImplementedError(f"{type(self).__name__} is not a per-image attack")

    def shared_sweep(self, parameter: str) -> bool:
        """Whether :meth:`sweep_scores` scores every value of ``parameter`` from ONE pass of
        model queries (a value that is a prefix or a point of another's trajectory)."""
        return False

    def sweep_scores(self, target, x0, parameter: str, values, *, cond=None,
                     generator: torch.Generator | None = None) -> dict:
        """{value: the scores of ``self.replace(parameter=value)``} from one pass, bitwise equal to
        scoring each value alone with the same generator; the pass costs the queries of the most
        expensive value, not their sum. Only where :meth:`shared_sweep` is true."""
        raise NotImplementedError(f"{type(self).__name__} has no shared sweep over {parameter}")

    def is_valid(self, target) -> bool:
        """Whether ``target`` can be attacked with these settings (no model query)."""
        try:
            self.check(target)
        except ValueError:
            return False
        return True
