"""``mialib.property``: property inference (the receiver's attack on a shared model), importable
under this name; the code lives in :mod:`mialib.attacks.property` and the estimates' metrics in
:mod:`mialib.evaluation.estimates`."""

from .attacks.property import *  # noqa: F401,F403
from .attacks.property import __all__ as _attack_names
from .evaluation.estimates import coverage, mean_absolute_error, mean_interval_width  # noqa: F401

__all__ = [*_attack_names, "mean_absolute_error", "coverage", "mean_interval_width"]
