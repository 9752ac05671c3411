"""Membership-inference metrics from the exact ROC curve (docs/papers.md, "Evaluation practice").

- AUC: area under the exact ROC (scikit-learn's ``roc_auc_score``; ties count one half).
- ASR, as the papers define it: the best balanced accuracy (TPR + TNR) / 2 over every
  threshold, chosen on the evaluation set itself. Optimistic by construction.
- TPR@x%FPR: the largest TPR among thresholds whose FPR <= x% (no interpolation). With
  fewer than 1/x non-members the only such FPR is 0, and the number is flagged unreliable.
- Calibrated ASR / TPR: thresholds fitted on a disjoint calibration split, then applied to
  the evaluation scores: what an attacker who must commit to a threshold achieves.
- 95% confidence intervals: percentile bootstrap, members and non-members resampled
  separately (stratified), all metrics from the same resamples.

Scores are oriented HIGHER = MORE LIKELY A MEMBER; the decision rule is score >= threshold.
"""

from __future__ import annotations

import numpy as np
from sklearn.metrics import roc_curve

from ..core.checks import check_float, check_int

DEFAULT_FPRS = (0.01, 0.001)
__all__ = ["DEFAULT_FPRS", "fpr_key", "roc", "best_threshold", "threshold_at_fpr", "evaluate", "evaluate_split",
           "metrics_table", "paired_auc_difference"]


def fpr_key(fpr: float) -> str:
    """The metric name of a TPR at an FPR budget: 0.01 -> 'tpr@1%fpr', 0.001 -> 'tpr@0.1%fpr'."""
    return f"tpr@{100 * fpr:g}%fpr"


def _as_scores(x, name: str) -> np.ndarray:
    """Scores as a 1-D float64 array (torch tensors of any float dtype, bfloat16 included);
    a ValueError naming ``name`` for anything else."""
    if hasattr(x, "detach"):
        x = x.detach().cpu()
        x = x.double() if x.dtype.is_floating_point else x
    try:
        arr = np.asarray(x)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be a 1-D array of numbers: {exc}") from exc
    if arr.dtype == bool or not (np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)):
        raise ValueError(f"{name} must be a 1-D array of real numbers, got dtype {arr.dtype}")
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D (one score per image), got shape {arr.shape}")
    arr = arr.astype(np.float64)
    if arr.size == 0:
        raise ValueError(f"{name} is empty")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or infinite scores")
    return arr


def _check_fprs(fprs) -> tuple:
    fprs = tuple(fprs)
    for f in fprs:
        check_float(f, "each FPR budget in fprs", low=0.0, high=1.0, low_open=True, high_open=True)
    return fprs


def _check_boot(n_boot, ci, seed) -> None:
    check_int(n_boot, "n_boot", low=0)
    check_float(ci, "ci", low=0.0, high=1.0, low_open=True, high_open=True)
    check_int(seed, "seed")


def _labelled(member, nonmember) -> tuple[np.ndarray, np.ndarray]:
    y = np.r_[np.ones(len(member)), np.zeros(len(nonmember))]
    return y, np.r_[member, nonmember]


def roc(member_scores, nonmember_scores) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The exact ROC curve (fpr, tpr, thresholds), every threshold kept."""
    m = _as_scores(member_scores, "member_scores")
    n = _as_scores(nonmember_scores, "nonmember_scores")
    y, s = _labelled(m, n)
    return roc_curve(y, s, drop_intermediate=False)


def _roc_points(m: np.ndarray, n: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(fps, tps): false and true positives at each distinct threshold, highest first, as
    scikit-learn's ``_binary_clf_curve`` computes them (a stable sort, float64 cumulative sums)."""
    y, s = _labelled(m, n)
    order = np.argsort(s, kind="mergesort")[::-1]
    s, y = s[order], y[order]
    idx = np.r_[np.where(np.diff(s))[0], len(s) - 1]
    tps = np.cumsum(y)[idx]
    return 1 + idx - tps, tps


def _auc_from_points(fps: np.ndarray, tps: np.ndarray) -> float:
    """The trapezoidal AUC of ``roc_auc_score`` from :func:`_roc_points`: the same collinear
    points dropped, the same (0, 0) start and the same ``trapezoid`` sum, so the same float."""
    from scipy.integrate import trapezoid

    if len(fps) > 2:
        keep = np.where(np.r_[True, np.logical_or(np.diff(fps, 2), np.diff(tps, 2)), True])[0]
        fps, tps = fps[keep], tps[keep]
    fps, tps = np.r_[0.0, fps], np.r_[0.0, tps]
    return float(trapezoid(tps / tps[-1], fps / fps[-1]))


def _point_metrics(m: np.ndarray, n: np.ndarray, fprs) -> dict:
    """AUC, ASR and TPR at each FPR budget from the exact ROC: the same floats as scikit-learn's
    roc_auc_score and roc_curve (tests/evaluation/test_metrics.py checks them bitwise), without
    their per-call input checks (~20x faster on a bootstrap resample)."""
    fps, tps = _roc_points(m, n)
    fpr, tpr = np.r_[0.0, fps] / fps[-1], np.r_[0.0, tps] / tps[-1]
    out = {"auc": _auc_from_points(fps, tps), "asr": float(np.max((tpr + 1.0 - fpr) / 2.0))}
    for f in fprs:
        out[fpr_key(f)] = float(np.max(tpr[fpr <= f + 1e-12]))
    return out


def best_threshold(member_scores, nonmember_scores) -> float:
    """The threshold maximising balanced accuracy (rule: member iff score >= threshold)."""
    fpr, tpr, thr = roc(member_scores, nonmember_scores)
    i = int(np.argmax((tpr + 1.0 - fpr) / 2.0))
    return float(thr[i])


def threshold_at_fpr(nonmember_scores, fpr: float) -> float:
    """The smallest threshold whose FPR on ``nonmember_scores`` is <= ``fpr``."""
    check_float(fpr, "fpr", low=0.0, high=1.0)
    n = np.sort(_as_scores(nonmember_scores, "nonmember_scores"))[::-1]
    k = int(np.floor(fpr * len(n) + 1e-9))      # false positives allowed
    if k >= len(n):
        return float(n[-1])
    # member iff score >= thr; choose thr just above the (k+1)-th largest non-member score
    return float(np.nextafter(n[k], np.inf))


def evaluate(member_scores, nonmember_scores, *, calibration=None, fprs=DEFAULT_FPRS,
             n_boot: int = 1000, ci: float = 0.95, seed: int = 0) -> dict:
    """All metrics of one attack on one evaluation split.

    Returns a dict with ``auc``, ``asr``, ``tpr@1%fpr``, ``tpr@0.1%fpr`` (for the default
    ``fprs``), ``n_members``, ``n_nonmembers``, ``ci`` (metric -> [low, high], when
    ``n_boot`` > 0), ``unreliable`` (TPR@FPR metrics whose FPR budget allows no false
    positive at this number of (calibration) non-members: they measure TPR at FPR = 0) and, when
    ``calibration=(cal_member_scores, cal_nonmember_scores)`` is given,
    ``calibrated_asr``, ``calibrated_threshold`` and per FPR budget ``calibrated_tpr@..``
    and ``calibrated_fpr@..`` (the FPR actually reached on the evaluation non-members).
    """
    m = _as_scores(member_scores, "member_scores")
    n = _as_scores(nonmember_scores, "nonmember_scores")
    fprs = _check_fprs(fprs)
    _check_boot(n_boot, ci, seed)
    if calibration is not None and (not isinstance(calibration, (tuple, list)) or len(calibration) != 2):
        raise ValueError("calibration must be a pair (calibration member scores, calibration non-member scores)")
    out = _point_metrics(m, n, fprs)
    out.update(n_members=int(len(m)), n_nonmembers=int(len(n)))
    out["unreliable"] = [fpr_key(f) for f in fprs if len(n) * f < 1.0]

    if n_boot > 0:
        rng = np.random.default_rng(seed)
        draws = [_point_metrics(rng.choice(m, len(m)), rng.choice(n, len(n)), fprs)
                 for _ in range(int(n_boot))]
        lo, hi = 100 * (1 - ci) / 2, 100 * (1 + ci) / 2
        out["ci"] = {k: [float(np.percentile([d[k] for d in draws], lo)),
                         float(np.percentile([d[k] for d in draws], hi))] for k in draws[0]}
        out["ci_level"] = ci
        out["n_boot"] = int(n_boot)

    if calibration is not None:
        cm = _as_scores(calibration[0], "calibration member scores")
        cn = _as_scores(calibration[1], "calibration non-member scores")
        thr = best_threshold(cm, cn)
        out["calibrated_threshold"] = thr
        out["calibrated_asr"] = float(((m >= thr).mean() + (n < thr).mean()) / 2.0)
        for f in fprs:
            t_f = threshold_at_fpr(cn, f)
            out["calibrated_" + fpr_key(f)] = float((m >= t_f).mean())
            out["calibrated_" + fpr_key(f).replace("tpr@", "fpr@")] = float((n >= t_f).mean())
        out["n_calibration"] = [int(len(cm)), int(len(cn))]
        out["unreliable"] += ["calibrated_" + fpr_key(f) for f in fprs if len(cn) * f < 1.0]
    return out


def metrics_table(results: dict[str, dict], keys=("auc", "asr", "tpr@1%fpr", "tpr@0.1%fpr")):
    """A pandas DataFrame, one row per attack, with "value [low, high]" strings where a CI exists."""
    import pandas as pd

    rows = {}
    for name, r in results.items():
        row = {}
        for k in keys:
            if k not in r:
                continue
            v = r[k]
            cell = f"{v:.3f}"
            if "ci" in r and k in r["ci"]:
                cell += f" [{r['ci'][k][0]:.3f}, {r['ci'][k][1]:.3f}]"
            if k in r.get("unreliable", []):
                cell += " *"
            row[k] = cell
        rows[name] = row
    return pd.DataFrame.from_dict(rows, orient="index")


def paired_auc_difference(a: tuple, b: tuple, *, n_boot: int = 1000, ci: float = 0.95,
                          seed: int = 0) -> dict:
    """AUC(a) - AUC(b) for two attacks scored on the SAME members and non-members, with a
    paired percentile bootstrap: each resample draws one set of member and non-member
    indices and applies it to both attacks, so the interval accounts for their correlation.

    ``a`` and ``b`` are (member_scores, nonmember_scores) with entries aligned image by image.
    Returns {"difference", "ci": [low, high], "p_b_better"} where ``p_b_better`` is the
    fraction of resamples in which b's AUC is at least a's (a one-sided bootstrap p-value for
    "a beats b")."""
    ma, na = _as_scores(a[0], "a member scores"), _as_scores(a[1], "a non-member scores")
    mb, nb = _as_scores(b[0], "b member scores"), _as_scores(b[1], "b non-member scores")
    if len(ma) != len(mb) or len(na) != len(nb):
        raise ValueError("paired comparison needs both attacks scored on the same images "
                         f"(got {len(ma)}/{len(na)} and {len(mb)}/{len(nb)})")
    check_int(n_boot, "n_boot", low=1)
    _check_boot(n_boot, ci, seed)

    def auc(m, n):
        return _auc_from_points(*_roc_points(m, n))

    diff = auc(ma, na) - auc(mb, nb)
    rng = np.random.default_rng(seed)
    draws = np.empty(int(n_boot))
    for i in range(int(n_boot)):
        im, inn = rng.integers(0, len(ma), len(ma)), rng.integers(0, len(na), len(na))
        draws[i] = auc(ma[im], na[inn]) - auc(mb[im], nb[inn])
    lo, hi = np.percentile(draws, [100 * (1 - ci) / 2, 100 * (1 + ci) / 2])
    return {"difference": diff, "ci": [float(lo), float(hi)], "p_b_better": float(np.mean(draws <= 0)),
            "n_boot": int(n_boot)}


def evaluate_split(scores, **kwargs) -> dict:
    """:func:`evaluate` of a :class:`mialib.attacks.scoring.SplitScores`: its evaluation parts,
    with its calibration parts (when scored) fitting the calibrated thresholds; ``kwargs`` go
    to :func:`evaluate` (``n_boot``, ``seed``, ``fprs``, ``ci``)."""
    return evaluate(*scores.evaluation, calibration=scores.calibration, **kwargs)
