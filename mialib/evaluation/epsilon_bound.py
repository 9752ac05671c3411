"""An empirical lower bound on ε from a membership attack's scores: is a DP claim true?

If training is (ε, δ)-differentially private, every membership test, at every threshold, obeys
(Kairouz, Oh & Viswanath 2015; used for auditing by Jagielski, Ullman & Oprea 2020, eq. 1, and
Nasr et al. 2021)

    TPR <= e^ε · FPR + δ        and        1 - FPR <= e^ε · (1 - TPR) + δ.

So an attack that reaches a TPR/FPR pair rules out every ε below

    max( ln((TPR - δ) / FPR),  ln((1 - FPR - δ) / (1 - TPR)) ).

Measured rates are estimates: with 95% confidence the bound uses the Clopper-Pearson lower limit
of the TPR and the upper limit of the FPR (each at 97.5%, so both hold together with >= 95%). The
threshold is chosen on the calibration split (the one whose bound is largest there) and the bound
is computed once, on the evaluation images, so choosing it costs no confidence.

What it can and cannot show: with n_m members and n_n non-members the largest bound any attack can
give (perfect separation) is :func:`largest_provable_epsilon`, e.g. about 5.3 for 192 / 1024 at
δ = 1e-4. A bound below the accountant's ε does not show the accountant is loose; a bound above it
shows that the training is NOT (ε, δ)-DP (a bug in the implementation or the accounting). Each
image is treated as one independent trial; Steinke, Nasr & Jagielski (NeurIPS 2023, "Privacy
auditing with one (1) training run") show that an audit from one training run is sound when the
members are drawn at random from the candidates, as the split here is, with a more careful
statistic than this one.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.stats import beta

from ..core.checks import check_float


def clopper_pearson(k: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """The two-sided exact binomial interval of a rate of ``k`` successes in ``n`` trials: each
    limit holds with probability (1 + confidence) / 2."""
    if not (isinstance(n, (int, np.integer)) and n >= 1 and isinstance(k, (int, np.integer)) and 0 <= k <= n):
        raise ValueError(f"need integers 0 <= k <= n and n >= 1, got k={k!r}, n={n!r}")
    a = (1 - confidence) / 2
    lo = 0.0 if k == 0 else float(beta.ppf(a, k, n - k + 1))
    hi = 1.0 if k == n else float(beta.ppf(1 - a, k + 1, n - k))
    return lo, hi


def epsilon_from_rates(tpr: float, fpr: float, delta: float) -> float:
    """The largest ε that a test with these TPR and FPR rules out for (ε, δ)-DP training (module
    docstring); 0 when it rules out none, inf when FPR = 0 < TPR - δ."""
    for name, v in (("tpr", tpr), ("fpr", fpr), ("delta", delta)):
        check_float(v, name, low=0.0, high=1.0)
    bounds = [0.0]
    for hit, miss in ((tpr, fpr), (1 - fpr, 1 - tpr)):
        if hit - delta > 0:
            bounds.append(math.inf if miss == 0 else math.log((hit - delta) / miss))
    return max(bounds)


def epsilon_lower_bound_counts(tp: int, n_members: int, fp: int, n_nonmembers: int, delta: float,
                               confidence: float = 0.95) -> dict:
    """The ε that ``tp`` of ``n_members`` members and ``fp`` of ``n_nonmembers`` non-members
    flagged rule out with ``confidence``: :func:`epsilon_from_rates` at the Clopper-Pearson lower
    limit of the TPR and upper limit of the FPR (each at 1 - (1 - confidence) / 2)."""
    # a two-sided interval at `confidence` puts each limit at 1 - (1 - confidence) / 2
    tpr_lo, _ = clopper_pearson(tp, n_members, confidence)
    _, fpr_hi = clopper_pearson(fp, n_nonmembers, confidence)
    return {"epsilon": epsilon_from_rates(tpr_lo, fpr_hi, delta), "tpr": tp / n_members, "fpr": fp / n_nonmembers,
            "tpr_low": tpr_lo, "fpr_high": fpr_hi, "tp": int(tp), "fp": int(fp),
            "n_members": int(n_members), "n_nonmembers": int(n_nonmembers), "delta": float(delta),
            "confidence": float(confidence)}


def largest_provable_epsilon(n_members: int, n_nonmembers: int, delta: float, confidence: float = 0.95) -> float:
    """The bound of a perfect attack (every member flagged, no non-member): no attack on this
    many images can prove more."""
    return epsilon_lower_bound_counts(n_members, n_members, 0, n_nonmembers, delta, confidence)["epsilon"]


def _counts_at(thresholds: np.ndarray, m: np.ndarray, n: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Members and non-members with score >= each threshold."""
    ms, ns = np.sort(m), np.sort(n)
    return (len(m) - np.searchsorted(ms, thresholds, side="left"),
            len(n) - np.searchsorted(ns, thresholds, side="left"))


def choose_threshold(cal_members, cal_nonmembers, delta: float, confidence: float = 0.95) -> float:
    """The threshold (member iff score >= it) whose bound on the calibration scores is largest;
    among ties the one flagging the fewest calibration images."""
    m, n = np.asarray(cal_members, float), np.asarray(cal_nonmembers, float)
    if not len(m) or not len(n):
        raise ValueError("choosing a threshold needs calibration member and non-member scores")
    cands = np.unique(np.r_[m, n, np.inf])
    tp, fp = _counts_at(cands, m, n)
    eps = [epsilon_lower_bound_counts(int(a), len(m), int(b), len(n), delta, confidence)["epsilon"]
           for a, b in zip(tp, fp)]
    best = max(eps)
    return float(cands[max(i for i, e in enumerate(eps) if e == best)])


def epsilon_lower_bound(member_scores, nonmember_scores, cal_member_scores, cal_nonmember_scores, *,
                        delta: float, confidence: float = 0.95) -> dict:
    """The ε an attack's scores rule out with ``confidence`` (module docstring): threshold chosen
    on the calibration scores, bound from the evaluation scores. Returns the counts, rates, the
    confidence limits, the threshold and ``largest_provable`` (the best any attack could show on
    these many images)."""
    check_float(delta, "delta", low=0.0, high=1.0)
    m, n = np.asarray(member_scores, float), np.asarray(nonmember_scores, float)
    if not len(m) or not len(n) or not np.isfinite(m).all() or not np.isfinite(n).all():
        raise ValueError("the bound needs finite member and non-member scores")
    thr = choose_threshold(cal_member_scores, cal_nonmember_scores, delta, confidence)
    tp, fp = (int(c[0]) for c in _counts_at(np.array([thr]), m, n))
    out = epsilon_lower_bound_counts(tp, len(m), fp, len(n), delta, confidence)
    out.update(threshold=thr, largest_provable=largest_provable_epsilon(len(m), len(n), delta, confidence))
    return out
