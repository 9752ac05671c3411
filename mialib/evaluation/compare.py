"""Comparing two attacks on the same images, with one rule for saying which is stronger.

Wherever two attacks meet on the same members and non-members, they are compared with the
paired bootstrap of :func:`.metrics.paired_auc_difference`, and :func:`verdict` turns its
interval into words: "beats" when the whole 95% interval of AUC(a) - AUC(b) lies above 0,
"loses to" when it lies below, and "is not distinguishable from" otherwise. Comparing one
attack's AUC with the other's unpaired interval, or eyeballing two intervals, is not used.
"""

from __future__ import annotations

from .metrics import paired_auc_difference

BEATS, LOSES, TIE = "beats", "loses to", "is not distinguishable from"


def _pair(scores) -> tuple:
    """(member scores, non-member scores) of a tuple or of a :class:`SplitScores`."""
    return scores.evaluation if hasattr(scores, "evaluation") else tuple(scores)


def compare(a, b, *, n_boot: int = 1000, seed: int = 0) -> dict:
    """AUC(a) - AUC(b) with its paired-bootstrap interval (see
    :func:`.metrics.paired_auc_difference`); ``a`` and ``b`` are (member, non-member) score
    pairs or :class:`mialib.attacks.scoring.SplitScores` of the same images."""
    return paired_auc_difference(_pair(a), _pair(b), n_boot=n_boot, seed=seed)


def verdict(difference: dict) -> str:
    """"beats", "loses to" or "is not distinguishable from", from a :func:`compare` result."""
    lo, hi = difference["ci"]
    return BEATS if lo > 0 else LOSES if hi < 0 else TIE


def describe(difference: dict, a: str, b: str) -> str:
    """"<a> beats <b> (AUC difference +0.047, 95% CI [+0.011, +0.084])" and the like."""
    lo, hi = difference["ci"]
    return (f"{a} {verdict(difference)} {b} (AUC difference {difference['difference']:+.3f}, "
            f"95% CI [{lo:+.3f}, {hi:+.3f}])")
