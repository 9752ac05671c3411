"""How good a receiver's property estimates are (Luo et al. 2024; docs/papers.md section 4):
their mean absolute error against the true proportion, the share of their intervals that hold
it (the coverage Hoeffding's bound, eq. 12, promises to be at least 1 - delta) and their mean
width. ``estimates`` maps each true p to a list of
:class:`mialib.attacks.property.Estimate` (anything with ``value``, ``low``, ``high`` and
``covers``), ``truth`` maps p to the proportion the estimates aim at."""

from __future__ import annotations

import numpy as np

__all__ = ["mean_absolute_error", "coverage", "mean_interval_width"]


def mean_absolute_error(estimates: dict, truth: dict) -> float:
    """Mean |estimate - true p| over every query of every p."""
    errors = [abs(e.value - truth[p]) for p, es in estimates.items() for e in es]
    return float(np.mean(errors))


def coverage(estimates: dict, truth: dict) -> float:
    """The share of intervals that contain the true proportion."""
    hits = [e.covers(truth[p]) for p, es in estimates.items() for e in es]
    return float(np.mean(hits))


def mean_interval_width(estimates: dict) -> float:
    """The mean width high - low of the intervals of every query of every p."""
    return float(np.mean([e.high - e.low for es in estimates.values() for e in es]))
