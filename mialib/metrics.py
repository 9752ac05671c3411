"""``mialib.metrics``, kept importable under its original name for code outside the repository;
the metrics live in :mod:`mialib.evaluation.metrics`."""

from .evaluation.metrics import *  # noqa: F401,F403
from .evaluation.metrics import __all__  # noqa: F401
