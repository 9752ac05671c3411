"""Fairness of a classifier and dependence in a data set, with fairlearn's definitions.

- :func:`fairness_metrics`: accuracy, demographic-parity difference
  |P(yhat = 1 | s = 1) - P(yhat = 1 | s = 0)| (docs/papers.md eq. 18) and equalized-odds
  difference (the larger of the TPR and FPR gaps between groups), computed by fairlearn
  (``MetricFrame``, ``demographic_parity_difference``, ``equalized_odds_difference``), with
  percentile-bootstrap intervals over the test images;
- :func:`dependence_test`: whether S and Y are dependent in a (generated) data set, by a
  permutation test of the demographic-parity gap of the labels themselves.
"""

from __future__ import annotations

import numpy as np

from ..core.checks import check_binary, check_int

METRICS = ("accuracy", "demographic_parity_difference", "equalized_odds_difference")


def _fairlearn_point(y_true, y_pred, s) -> dict:
    from fairlearn.metrics import demographic_parity_difference, equalized_odds_difference

    return {"accuracy": float(np.mean(y_true == y_pred)),
            "demographic_parity_difference": float(demographic_parity_difference(y_true, y_pred, sensitive_features=s)),
            "equalized_odds_difference": float(equalized_odds_difference(y_true, y_pred, sensitive_features=s))}


def _fast_point(y_true, y_pred, s) -> dict:
    """The same three numbers as :func:`_fairlearn_point` (tested equal), in plain numpy, for
    the bootstrap resamples: DP = |P(yhat=1|s=1) - P(yhat=1|s=0)|, EO = the larger of the
    between-group TPR and FPR gaps (a group without positives or negatives contributes 0)."""
    def rate(mask):
        return y_pred[mask].mean() if mask.any() else np.nan
    g1, g0 = s == 1, s == 0
    gaps = [abs(rate(g1 & (y_true == v)) - rate(g0 & (y_true == v))) for v in (1, 0)]
    return {"accuracy": float(np.mean(y_true == y_pred)),
            "demographic_parity_difference": float(abs(rate(g1) - rate(g0))),
            "equalized_odds_difference": float(np.nanmax(gaps)) if not np.all(np.isnan(gaps)) else 0.0}


def fairness_metrics(y_true, y_pred, sensitive, *, n_boot: int = 200, seed: int = 0) -> dict:
    """Accuracy, DP difference and EO difference of ``y_pred`` (fairlearn), the selection rate
    and accuracy per group (fairlearn's MetricFrame), and 95% bootstrap intervals ("ci")."""
    from fairlearn.metrics import MetricFrame, selection_rate

    y_true, y_pred = check_binary(y_true, "y_true"), check_binary(y_pred, "y_pred")
    s = check_binary(sensitive, "sensitive")
    if not (len(y_true) == len(y_pred) == len(s)):
        raise ValueError("y_true, y_pred and sensitive must have one entry per test image")
    check_int(n_boot, "n_boot", low=0)
    out = _fairlearn_point(y_true, y_pred, s)
    frame = MetricFrame(metrics={"selection_rate": selection_rate, "accuracy": lambda a, b: float(np.mean(a == b))},
                        y_true=y_true, y_pred=y_pred, sensitive_features=s)
    out["by_group"] = {str(g): {k: float(v) for k, v in row.items()} for g, row in frame.by_group.iterrows()}
    if n_boot:
        rng = np.random.default_rng(seed)
        draws = []
        for _ in range(n_boot):
            i = rng.integers(0, len(y_true), len(y_true))
            if len(np.unique(s[i])) == 2:
                draws.append(_fast_point(y_true[i], y_pred[i], s[i]))
        out["ci"] = {k: [float(np.percentile([d[k] for d in draws], 2.5)),
                         float(np.percentile([d[k] for d in draws], 97.5))] for k in METRICS}
    return out


def dependence_test(s, y, *, n_permutations: int = 1000, seed: int = 0) -> dict:
    """Permutation test of independence between ``s`` and ``y`` (0/1 arrays): the statistic is
    |P(s = 1 | y = 1) - P(s = 1 | y = 0)|, the p-value (1 + #{permuted >= observed}) / (1 + n),
    which is valid (at most alpha under independence with probability alpha) for any n."""
    s, y = check_binary(s, "s"), check_binary(y, "y")
    if len(s) != len(y) or len(np.unique(y)) < 2:
        raise ValueError("s and y must be aligned, with both values of y present")
    check_int(n_permutations, "n_permutations", low=1)

    def gap(labels):
        return abs(s[labels == 1].mean() - s[labels == 0].mean())
    observed = gap(y)
    rng = np.random.default_rng(seed)
    exceed = sum(gap(rng.permutation(y)) >= observed - 1e-12 for _ in range(n_permutations))
    return {"statistic": float(observed), "p_value": float((1 + exceed) / (1 + n_permutations)),
            "n_permutations": int(n_permutations)}


def paired_differences(y_true, sensitive, pred_a, pred_b, metrics=METRICS, *, n_boot: int = 1000,
                       seed: int = 0) -> dict:
    """metric(a) - metric(b) for two classifiers' predictions on the SAME test images, for each
    of ``metrics`` (names in :data:`METRICS`), with a paired percentile bootstrap (each resample
    applies the same images to both; one set of resamples serves every metric), as
    :func:`mialib.evaluation.metrics.paired_auc_difference` does for attacks. Returns
    metric -> {"difference", "ci"}."""
    unknown = [m for m in metrics if m not in METRICS]
    if unknown:
        raise ValueError(f"metric must be one of {METRICS}, got {unknown[0]!r}")
    y, s = check_binary(y_true, "y_true"), check_binary(sensitive, "sensitive")
    a, b = check_binary(pred_a, "pred_a"), check_binary(pred_b, "pred_b")
    if not (len(y) == len(s) == len(a) == len(b)):
        raise ValueError("the predictions must be of the same test images")
    point_a, point_b = _fast_point(y, a, s), _fast_point(y, b, s)
    rng = np.random.default_rng(seed)
    draws = []
    for _ in range(check_int(n_boot, "n_boot", low=1)):
        i = rng.integers(0, len(y), len(y))
        if len(np.unique(s[i])) == 2:
            draws.append((_fast_point(y[i], a[i], s[i]), _fast_point(y[i], b[i], s[i])))
    out = {}
    for m in metrics:
        diffs = [da[m] - db[m] for da, db in draws]
        out[m] = {"difference": float(point_a[m] - point_b[m]),
                  "ci": [float(np.percentile(diffs, 2.5)), float(np.percentile(diffs, 97.5))]}
    return out


def paired_difference(y_true, sensitive, pred_a, pred_b, metric: str, *, n_boot: int = 1000, seed: int = 0) -> dict:
    """:func:`paired_differences` of one ``metric``: {"difference", "ci"}."""
    return paired_differences(y_true, sensitive, pred_a, pred_b, (metric,), n_boot=n_boot, seed=seed)[metric]
