"""``mialib.fairness``: fairness poisoning (the sharer's attack on a receiver), importable under
this name; the code lives in :mod:`mialib.attacks.fairness` and the fairness metrics in
:mod:`mialib.evaluation.fairness`."""

from .attacks.fairness import *  # noqa: F401,F403
from .attacks.fairness import __all__ as _attack_names
from .evaluation.fairness import dependence_test, fairness_metrics, paired_difference, paired_differences  # noqa: F401

__all__ = [*_attack_names, "dependence_test", "fairness_metrics", "paired_difference", "paired_differences"]
