"""evaluate_split: the metrics of a SplitScores, its calibration parts fitting the thresholds."""

from __future__ import annotations

import torch

from mialib.attacks import SplitScores
from mialib.evaluation.metrics import evaluate, evaluate_split


def _scores(with_calibration: bool) -> SplitScores:
    g = torch.Generator().manual_seed(0)
    m, n, cm, cn = (torch.randn(k, generator=g, dtype=torch.float64) + shift
                    for k, shift in ((30, 1.0), (40, 0.0), (12, 1.0), (15, 0.0)))
    return SplitScores(m, n, cm, cn) if with_calibration else SplitScores(m, n)


def test_evaluate_split_fits_thresholds_on_the_calibration_parts():
    s = _scores(True)
    got = evaluate_split(s, n_boot=20, seed=3)
    assert got == evaluate(s.members, s.nonmembers, calibration=(s.cal_members, s.cal_nonmembers), n_boot=20, seed=3)
    assert got["n_calibration"] == [12, 15] and got["n_members"] == 30


def test_evaluate_split_without_calibration_has_no_calibrated_metrics():
    s = _scores(False)
    got = evaluate_split(s, n_boot=0)
    assert got == evaluate(s.members, s.nonmembers, n_boot=0) and "calibrated_asr" not in got
