"""The one rule by which the library states a verdict, and the paired comparison of two attacks.

Every verdict in the report text is an interval (or a single number) set against a threshold by
:func:`interval_vs`:

- "above" when the whole interval lies strictly above the threshold (``lo > threshold``),
- "below" when it lies strictly below (``hi < threshold``),
- "straddles" otherwise: an interval that contains or merely touches the threshold says
  neither. A bound exactly at the threshold therefore straddles; 1e-12 beyond it decides.

A single number is the interval [value, value] (:func:`value_vs`); a number exactly at the
threshold straddles it. :func:`meets_aim` reads an aim ("at most 0.05", "at least 0.95") by
the same rule, with a number exactly at its aim meeting it. :func:`overlap` says whether two
intervals share a point, again by the same rule.

A claim about a method ("poisoning costs under 5% accuracy") is judged by :func:`judge`, with
three outcomes: "holds", "fails", or "too close to call" when the deciding bound lies within a
tolerance of the threshold (by default :data:`HOST_TOLERANCE`, the largest move of a bound seen
between two hosts running the same code, so that no verdict can flip with the machine) or when
the claim rests on fewer than two repetitions of the method (training seeds).

Wherever two attacks meet on the same members and non-members, they are compared with the
paired bootstrap of :func:`.metrics.paired_auc_difference`, and :func:`verdict` sets its 95%
interval of AUC(a) - AUC(b) against 0 by :func:`judge`, in both directions: "beats" (the lower
bound above 0 by more than the tolerance), "loses to" (the upper bound below 0 by more than it),
"is not distinguishable from" (the interval reaches beyond the tolerance on both sides of 0), and
otherwise "is too close to call against" (a bound within the tolerance of 0: another machine could
put it on the other side). Comparing one attack's AUC with the other's unpaired
interval, or eyeballing two intervals, is not used.
"""

from __future__ import annotations

from .metrics import paired_auc_difference

ABOVE, BELOW, STRADDLES = "above", "below", "straddles"
BEATS, LOSES, TIE, CLOSE = "beats", "loses to", "is not distinguishable from", "is too close to call against"
HOLDS, FAILS, TOO_CLOSE = "holds", "fails", "too close to call"

# The largest move of a verdict's deciding bound measured between two runs of the same code on the
# same data, with a margin: 02's SecMI_NNs - SecMI_stat lower bound moved 0.018 between two hosts
# (-0.110 / -0.092), and 07's SecMI_stat "true minus wrong caption" lower bound 0.0199 between
# torch's AVX2 and its scalar kernels on one host (docs/reproducibility.md). A bound nearer its
# threshold than this can land on the other side on another machine.
HOST_TOLERANCE = 0.03


def interval_vs(lo: float, hi: float, threshold: float) -> str:
    """ABOVE if ``lo > threshold``, BELOW if ``hi < threshold``, else STRADDLES (a bound
    exactly at the threshold straddles it; so does a NaN bound, which decides nothing)."""
    if lo > hi:
        raise ValueError(f"interval [{lo}, {hi}] has its lower end above its upper end")
    return ABOVE if lo > threshold else BELOW if hi < threshold else STRADDLES


def judge(lo: float, hi: float, threshold: float, *, above: bool = True, tolerance: float = HOST_TOLERANCE,
          repetitions: int | None = None) -> str:
    """The verdict on the claim "the quantity lies above ``threshold``" (``above=False``: below
    it) from its interval [``lo``, ``hi``]. The deciding bound is the near one (``lo`` for an
    "above" claim, ``hi`` for a "below" one):

    - HOLDS when it is beyond the threshold, on the claimed side, by more than ``tolerance``;
    - FAILS when it falls short of the threshold by more than ``tolerance``;
    - TOO_CLOSE when it lies within ``tolerance`` of the threshold (ends included), when a bound
      is NaN, or when ``repetitions`` (e.g. the training seeds the claim rests on; None when
      the claim is not about a method's repeatable outcome) is below two.
    """
    if lo > hi:
        raise ValueError(f"interval [{lo}, {hi}] has its lower end above its upper end")
    if not tolerance >= 0:
        raise ValueError(f"tolerance must be a non-negative number, got {tolerance!r}")
    if repetitions is not None and repetitions < 2:
        return TOO_CLOSE
    margin = lo - threshold if above else threshold - hi
    return HOLDS if margin > tolerance else FAILS if margin < -tolerance else TOO_CLOSE


def value_vs(value: float, threshold: float) -> str:
    """:func:`interval_vs` of the one-point interval [value, value]: ABOVE, BELOW, or
    STRADDLES when ``value == threshold`` (or either is NaN)."""
    return interval_vs(value, value, threshold)


def meets_aim(value: float, aim: float, *, at_most: bool = True) -> bool:
    """Whether ``value`` meets the aim "at most ``aim``" (``at_most=True``, e.g. an error) or
    "at least ``aim``" (``at_most=False``, e.g. a coverage): a value exactly at its aim meets
    it; a NaN meets no aim."""
    side = value_vs(value, aim)
    return side == (BELOW if at_most else ABOVE) or (side == STRADDLES and value == aim)


def overlap(a: tuple, b: tuple) -> bool:
    """Whether the intervals ``a`` = (lo, hi) and ``b`` share a point: neither lies wholly
    above the other (touching ends overlap)."""
    return interval_vs(*a, b[1]) != ABOVE and interval_vs(*b, a[1]) != ABOVE


def _pair(scores) -> tuple:
    """(member scores, non-member scores) of a tuple or of a :class:`SplitScores`."""
    return scores.evaluation if hasattr(scores, "evaluation") else tuple(scores)


def compare(a, b, *, n_boot: int = 1000, seed: int = 0) -> dict:
    """AUC(a) - AUC(b) with its paired-bootstrap interval (see
    :func:`.metrics.paired_auc_difference`); ``a`` and ``b`` are (member, non-member) score
    pairs or :class:`mialib.attacks.scoring.SplitScores` of the same images."""
    return paired_auc_difference(_pair(a), _pair(b), n_boot=n_boot, seed=seed)


def verdict(difference: dict, *, tolerance: float = HOST_TOLERANCE) -> str:
    """BEATS, LOSES, TIE or CLOSE (module docstring): the :func:`compare` interval set against 0
    by :func:`judge` as the claim "a beats b" and as the claim "a loses to b"."""
    lo, hi = difference["ci"]
    up = judge(lo, hi, 0.0, above=True, tolerance=tolerance)
    down = judge(lo, hi, 0.0, above=False, tolerance=tolerance)
    return BEATS if up == HOLDS else LOSES if down == HOLDS else TIE if up == down == FAILS else CLOSE


def describe(difference: dict, a: str, b: str, *, tolerance: float = HOST_TOLERANCE) -> str:
    """"<a> beats <b> (AUC difference +0.047, 95% CI [+0.031, +0.084])" and the like; a verdict
    too close to call says why."""
    lo, hi = difference["ci"]
    said = verdict(difference, tolerance=tolerance)
    why = f"; a bound within {tolerance:g} of 0, which another machine can cross" if said == CLOSE else ""
    return f"{a} {said} {b} (AUC difference {difference['difference']:+.3f}, 95% CI [{lo:+.3f}, {hi:+.3f}]{why})"
