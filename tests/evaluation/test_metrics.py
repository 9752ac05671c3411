"""evaluate() against scikit-learn, brute force, hand-computed cases and a real external case."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from mialib.data.external import load_external_terrors
from mialib.evaluation import reference
from mialib.evaluation.metrics import (best_threshold, evaluate, fpr_key, metrics_table, roc,
                            threshold_at_fpr)


def brute_force(m, n, fprs=(0.01, 0.001)):
    """Independent reference: try every distinct score (and +inf) as a threshold."""
    m, n = np.asarray(m, float), np.asarray(n, float)
    thresholds = np.r_[np.unique(np.r_[m, n]), np.inf]
    tpr = np.array([(m >= t).mean() for t in thresholds])
    fpr = np.array([(n >= t).mean() for t in thresholds])
    out = {"asr": float(np.max((tpr + 1 - fpr) / 2))}
    for f in fprs:
        out[fpr_key(f)] = float(tpr[fpr <= f].max())
    # AUC as P(member score > non-member score) + 0.5 P(tie) (Mann-Whitney)
    diff = m[:, None] - n[None, :]
    out["auc"] = float((diff > 0).mean() + 0.5 * (diff == 0).mean())
    return out


def test_hand_computed_tiny_case():
    m, n = [0.9, 0.8, 0.3], [0.7, 0.2, 0.1, 0.05]
    r = evaluate(m, n, n_boot=0, fprs=(0.25, 0.01))
    # pairs: 0.9 and 0.8 beat all 4 non-members, 0.3 beats 3 of 4 -> AUC = 11/12
    assert r["auc"] == pytest.approx(11 / 12)
    # threshold 0.3: TPR 1, FPR 1/4 -> balanced accuracy (1 + 3/4) / 2
    assert r["asr"] == pytest.approx(0.875)
    assert r["tpr@25%fpr"] == pytest.approx(1.0)
    # FPR <= 1%: no non-member may pass -> threshold above 0.7 -> TPR 2/3
    assert r["tpr@1%fpr"] == pytest.approx(2 / 3)
    assert r["n_members"] == 3 and r["n_nonmembers"] == 4
    assert "tpr@1%fpr" in r["unreliable"] and "tpr@25%fpr" not in r["unreliable"]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_matches_sklearn_and_brute_force(seed):
    rng = np.random.default_rng(seed)
    m = np.round(rng.normal(0.7, 1, 300), 1)       # rounding creates ties
    n = np.round(rng.normal(0.0, 1, 2000), 1)
    r = evaluate(m, n, n_boot=0)
    ref = brute_force(m, n)
    assert r["auc"] == pytest.approx(roc_auc_score(np.r_[np.ones(300), np.zeros(2000)], np.r_[m, n]))
    for k in ("auc", "asr", "tpr@1%fpr", "tpr@0.1%fpr"):
        assert r[k] == pytest.approx(ref[k], abs=1e-12), k
    assert r["unreliable"] == []


def test_orientation_and_extremes():
    assert evaluate([2, 3], [0, 1], n_boot=0)["auc"] == 1.0
    assert evaluate([0, 1], [2, 3], n_boot=0)["auc"] == 0.0
    r = evaluate([1, 1], [1, 1], n_boot=0)
    assert r["auc"] == 0.5 and r["asr"] == 0.5


def test_bootstrap_ci_is_seeded_and_brackets_the_estimate():
    rng = np.random.default_rng(0)
    m, n = rng.normal(1, 1, 200), rng.normal(0, 1, 200)
    a = evaluate(m, n, n_boot=200, seed=5)
    b = evaluate(m, n, n_boot=200, seed=5)
    c = evaluate(m, n, n_boot=200, seed=6)
    assert a["ci"] == b["ci"] and a["ci"] != c["ci"]
    for k in ("auc", "asr", "tpr@1%fpr"):
        lo, hi = a["ci"][k]
        assert lo <= a[k] <= hi and hi - lo > 0
    # the AUC interval has roughly the width of the normal approximation (Hanley & McNeil)
    auc = a["auc"]
    q1, q2 = auc / (2 - auc), 2 * auc ** 2 / (1 + auc)
    se = np.sqrt((auc * (1 - auc) + 199 * (q1 - auc ** 2) + 199 * (q2 - auc ** 2)) / (200 * 200))
    assert (a["ci"]["auc"][1] - a["ci"]["auc"][0]) == pytest.approx(2 * 1.96 * se, rel=0.3)


def test_calibrated_metrics_use_the_calibration_threshold():
    m, n = [5.0, 4.0, 1.0], [3.0, 2.0, 0.0]
    cal_m, cal_n = [4.5, 3.5], [3.6, 0.5]
    r = evaluate(m, n, calibration=(cal_m, cal_n), n_boot=0, fprs=(0.5,))
    # best balanced accuracy on calibration: threshold 4.5 (TPR 1/2, TNR 1 -> 0.75) ties with
    # 3.5 (TPR 1, TNR 1/2 -> 0.75); roc_curve lists 4.5 first, argmax keeps it
    assert r["calibrated_threshold"] == pytest.approx(4.5)
    assert r["calibrated_asr"] == pytest.approx((1 / 3 + 1) / 2)
    # FPR budget 50% on 2 calibration non-members: one may pass -> threshold just above 0.5
    assert r["calibrated_tpr@50%fpr"] == pytest.approx(1.0)
    assert r["calibrated_fpr@50%fpr"] == pytest.approx(2 / 3)
    assert r["n_calibration"] == [2, 2]


def test_threshold_helpers():
    n = np.array([0.1, 0.2, 0.3, 0.4])
    t = threshold_at_fpr(n, 0.25)          # one false positive allowed
    assert (n >= t).sum() == 1
    t0 = threshold_at_fpr(n, 0.0)
    assert (n >= t0).sum() == 0
    assert best_threshold([3, 4], [1, 2]) == 3
    fpr, tpr, thr = roc([3, 4], [1, 2])
    assert fpr[0] == 0 and tpr[-1] == 1 and len(thr) == len(fpr)


@pytest.mark.parametrize("bad, match", [([], "empty"), ([np.nan], "NaN"), ([np.inf], "NaN")])
def test_bad_scores_raise(bad, match):
    with pytest.raises(ValueError, match=match):
        evaluate(bad, [0.0, 1.0])
    with pytest.raises(ValueError, match=match):
        evaluate([0.0, 1.0], bad)


def test_bad_ci_level_raises():
    with pytest.raises(ValueError, match="ci"):
        evaluate([1.0], [0.0], ci=1.5)


def test_metrics_table_formats_cis_and_flags():
    r = evaluate([0.9, 0.8, 0.3], [0.7, 0.2, 0.1], n_boot=10)
    t = metrics_table({"x": r, "paper": {"auc": 0.881}})
    assert t.loc["x", "auc"].startswith("0.889 [") and t.loc["paper", "auc"] == "0.881"
    assert t.loc["x", "tpr@1%fpr"].endswith("*")


@pytest.mark.parametrize("dataset", ["cifar10", "cifar100"])
def test_external_secmi_terrors(dataset):
    """A real, externally produced case: third-party SecMI t-errors of CIFAR DDPMs
    (25k members / 25k non-members). evaluate() must agree with scikit-learn and with an
    independent sort-based computation of ASR and TPR at low FPR."""
    m, n = load_external_terrors(dataset)
    assert len(m) == len(n) == 25_000 and np.all(m <= 0)
    r = evaluate(m, n, n_boot=0)
    y = np.r_[np.ones(len(m)), np.zeros(len(n))]
    assert r["auc"] == pytest.approx(roc_auc_score(y, np.r_[m, n]), abs=1e-12)
    # independent TPR@FPR: at most floor(f * N) non-members may reach the threshold
    ns = np.sort(n)[::-1]
    for f in (0.01, 0.001):
        k = int(np.floor(f * len(n)))
        assert r[fpr_key(f)] == pytest.approx((m > ns[k]).mean(), abs=1 / len(m))
    # independent ASR: sweep thresholds over the sorted pooled scores
    s = np.r_[m, n]
    order = np.argsort(-s, kind="stable")
    tp = np.cumsum(y[order]) / len(m)
    fp = np.cumsum(1 - y[order]) / len(n)
    distinct = np.r_[s[order][1:] != s[order][:-1], True]
    assert r["asr"] == pytest.approx(np.max(((tp + 1 - fp) / 2)[distinct]), abs=1e-12)
    # the attack is far from chance on a real model and below the paper's over-fit checkpoint
    assert 0.6 < r["auc"] < reference.reported(f"secmi_stat/{dataset}")["auc"]
    assert r["unreliable"] == []


def test_paired_auc_difference_point_estimate_and_controls():
    from sklearn.metrics import roc_auc_score

    from mialib.evaluation.metrics import paired_auc_difference
    rng = np.random.default_rng(0)
    m, n = rng.normal(1.0, 1.0, 80), rng.normal(0.0, 1.0, 120)
    m2, n2 = m + rng.normal(0, 2.0, 80), n + rng.normal(0, 2.0, 120)  # a noisier copy of the same attack
    y = np.r_[np.ones(80), np.zeros(120)]
    res = paired_auc_difference((m, n), (m2, n2), n_boot=300, seed=1)
    want = roc_auc_score(y, np.r_[m, n]) - roc_auc_score(y, np.r_[m2, n2])
    assert res["difference"] == pytest.approx(want, abs=1e-12)
    assert res["ci"][0] > 0 and res["p_b_better"] < 0.05          # the clean attack wins, clearly
    same = paired_auc_difference((m, n), (m, n), n_boot=50)
    assert same["difference"] == 0 and same["ci"] == [0.0, 0.0] and same["p_b_better"] == 1.0
    # a monotone transform of the scores leaves the AUC unchanged
    assert paired_auc_difference((m, n), (np.exp(m), np.exp(n)), n_boot=20)["ci"] == [0.0, 0.0]
    # swapping the roles flips the sign
    flipped = paired_auc_difference((m2, n2), (m, n), n_boot=300, seed=1)
    assert flipped["difference"] == pytest.approx(-res["difference"]) and flipped["ci"][1] < 0


def test_paired_auc_difference_rejects_unpaired_input():
    from mialib.evaluation.metrics import paired_auc_difference
    with pytest.raises(ValueError, match="same images"):
        paired_auc_difference(([1.0, 2.0], [0.0]), ([1.0], [0.0]))


# ----------------------------------------------------------------------------- bad input and edge budgets
@pytest.mark.parametrize("kwargs, match", [
    ({"fprs": (1.5,)}, "fprs must lie in"), ({"fprs": (-0.01,)}, "fprs must lie in"), ({"fprs": (0.0,)}, "fprs"),
    ({"n_boot": 1.5}, "n_boot must be an integer"), ({"n_boot": -1}, "n_boot must be an integer in"),
    ({"ci": 1.0}, "ci must lie in"), ({"seed": "0"}, "seed must be an integer"),
    ({"calibration": ([1.0, 2.0],)}, "calibration must be a pair"),
])
def test_bad_evaluate_arguments_are_named(kwargs, match):
    with pytest.raises(ValueError, match=match):
        evaluate([1.0, 2.0, 3.0], [0.0, 1.0], **kwargs)


def test_score_containers():
    import torch
    m, n = torch.tensor([3.0, 2.0, 1.5]), torch.tensor([1.0, 2.5])
    want = evaluate(m, n, n_boot=0)
    assert evaluate(m.to(torch.bfloat16), n.to(torch.bfloat16), n_boot=0)["auc"] == want["auc"]
    assert evaluate(m.numpy().tolist(), n.numpy(), n_boot=0)["auc"] == want["auc"]
    with pytest.raises(ValueError, match="must be 1-D"):
        evaluate(np.ones((3, 2)), n, n_boot=0)
    with pytest.raises(ValueError, match="real numbers"):
        evaluate(np.array([True, False]), n, n_boot=0)
    with pytest.raises(ValueError, match="real numbers"):
        evaluate(np.array(["1", "2"]), n, n_boot=0)


@pytest.mark.parametrize("n_non, fpr", [(150, 0.01), (250, 0.01), (1999, 0.001), (7, 0.2)])
def test_tpr_at_fpr_budgets_where_fpr_times_n_is_not_whole(n_non, fpr):
    """floor(fpr * N) false positives are allowed, never the rounded-up count: the reached FPR
    must stay within the budget, and one more false positive must exceed it."""
    rng = np.random.default_rng(n_non)
    m, n = rng.normal(1, 1, 300), rng.normal(0, 1, n_non)
    r = evaluate(m, n, calibration=(m, n), fprs=(fpr,), n_boot=0)
    allowed = int(np.floor(fpr * n_non))
    ns = np.sort(n)[::-1]
    assert r[fpr_key(fpr)] == pytest.approx((m > ns[allowed]).mean())
    thr = threshold_at_fpr(n, fpr)
    assert (n >= thr).sum() == allowed and (n >= thr).mean() <= fpr
    assert (allowed + 1) / n_non > fpr
    assert r["calibrated_" + fpr_key(fpr).replace("tpr@", "fpr@")] <= fpr


def test_bootstrap_interval_has_the_width_of_the_auc_standard_error():
    """The bootstrap resamples as many members and non-members as there are: its 95% interval
    is about 2 x 1.96 x the Hanley-McNeil standard error of the AUC (a resample of half the
    members would be sqrt(2) wider)."""
    rng = np.random.default_rng(0)
    m, n = rng.normal(1.0, 1, 400), rng.normal(0.0, 1, 400)
    r = evaluate(m, n, n_boot=2000, seed=1)
    a = r["auc"]
    q1, q2 = a / (2 - a), 2 * a * a / (1 + a)
    se = np.sqrt((a * (1 - a) + (len(m) - 1) * (q1 - a * a) + (len(n) - 1) * (q2 - a * a)) / (len(m) * len(n)))
    width = r["ci"]["auc"][1] - r["ci"]["auc"][0]
    assert width == pytest.approx(2 * 1.96 * se, rel=0.15)


@pytest.mark.parametrize("n_m, n_n, levels", [(50, 80, None), (192, 1024, None), (30, 40, 5), (7, 9, 2), (1, 3, None)])
def test_the_bootstrap_metrics_are_the_same_floats_as_scikit_learns(n_m, n_n, levels):
    """The bootstrap's fast path (no scikit-learn input checks) gives bitwise the AUC, ASR and
    TPR@FPR of roc_auc_score / roc_curve, ties (few score levels) included."""
    from sklearn.metrics import roc_curve
    from mialib.evaluation.metrics import _auc_from_points, _point_metrics, _roc_points
    rng = np.random.default_rng(n_m + n_n)
    for _ in range(25):
        m, n = rng.normal(0.5, 1, n_m), rng.normal(0, 1, n_n)
        if levels:
            m, n = np.round(m * levels) / levels, np.round(n * levels) / levels
        fprs = (0.01, 0.001, 0.1)
        y, sc = np.r_[np.ones(n_m), np.zeros(n_n)], np.r_[m, n]
        fpr, tpr, _ = roc_curve(y, sc, drop_intermediate=False)
        want = {"auc": float(roc_auc_score(y, sc)), "asr": float(np.max((tpr + 1.0 - fpr) / 2.0)),
                **{fpr_key(f): float(np.max(tpr[fpr <= f + 1e-12])) for f in fprs}}
        assert _point_metrics(m, n, fprs) == want
        assert _auc_from_points(*_roc_points(m, n)) == float(roc_auc_score(np.r_[np.ones(n_m), np.zeros(n_n)], np.r_[m, n]))
