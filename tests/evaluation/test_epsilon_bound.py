"""The empirical ε lower bound: Clopper-Pearson against scipy, hand-computed cases and closed
forms, threshold choice on the calibration split only, a memorising model caught (the check can
fail a small claimed ε) and a model that learned nothing not."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.stats import binomtest

from mialib.attacks.registry import run_attack
from mialib.diffusion.controls import memorising_eps_fn
from mialib.diffusion.models import build_scheduler
from mialib.diffusion.target import DiffusionTarget
from mialib.evaluation import epsilon_bound as eb


@pytest.mark.parametrize("k,n", [(0, 10), (3, 10), (10, 10), (61, 192), (7, 1024)])
def test_clopper_pearson_is_scipys_exact_interval(k, n):
    ci = binomtest(k, n).proportion_ci(confidence_level=0.95, method="exact")
    assert eb.clopper_pearson(k, n) == pytest.approx((ci.low, ci.high), abs=1e-12)


def test_rates_to_epsilon_by_hand():
    assert eb.epsilon_from_rates(0.5, 0.05, 0.0) == pytest.approx(math.log(10))
    assert eb.epsilon_from_rates(0.5, 0.05, 0.1) == pytest.approx(math.log(8))
    # the other inequality decides when the test misses few members: 1 - FPR <= e^eps (1 - TPR) + delta
    assert eb.epsilon_from_rates(0.99, 0.5, 0.0) == pytest.approx(math.log(0.5 / 0.01))
    assert eb.epsilon_from_rates(0.3, 0.3, 0.0) == 0.0          # chance rules out nothing
    assert eb.epsilon_from_rates(0.1, 0.0, 0.0) == math.inf      # no false positive at all: only a bound with limits
    assert eb.epsilon_from_rates(0.05, 0.0, 0.1) == 0.0          # under delta: nothing


def test_perfect_separation_has_a_closed_form():
    # all n_m members flagged and no non-member: TPR_low = (a/2)^(1/n_m), FPR_high = 1 - (a/2)^(1/n_n)
    n_m, n_n, delta, a = 192, 1024, 1e-4, 0.05
    want = math.log(((a / 2) ** (1 / n_m) - delta) / (1 - (a / 2) ** (1 / n_n)))
    assert eb.largest_provable_epsilon(n_m, n_n, delta) == pytest.approx(want, rel=1e-9)
    assert 5.0 < want < 6.0  # what 192 members and 1024 non-members can prove at most
    # more images prove more
    assert eb.largest_provable_epsilon(10 * n_m, 10 * n_n, delta) > want + 2


def test_counts_bound_uses_the_conservative_limits():
    b = eb.epsilon_lower_bound_counts(100, 192, 10, 1024, 1e-4)
    lo, _ = eb.clopper_pearson(100, 192)
    _, hi = eb.clopper_pearson(10, 1024)
    assert b["epsilon"] == pytest.approx(math.log((lo - 1e-4) / hi))
    assert b["epsilon"] < eb.epsilon_from_rates(100 / 192, 10 / 1024, 1e-4)  # below the point estimate


def test_threshold_comes_from_the_calibration_scores_only():
    rng = np.random.default_rng(0)
    cal_m, cal_n = rng.normal(3, 1, 64), rng.normal(0, 1, 64)
    m, n = rng.normal(3, 1, 192), rng.normal(0, 1, 1024)
    b = eb.epsilon_lower_bound(m, n, cal_m, cal_n, delta=1e-4)
    assert b["threshold"] == eb.choose_threshold(cal_m, cal_n, 1e-4)
    # the evaluation scores do not move the threshold
    b2 = eb.epsilon_lower_bound(m + 1, n, cal_m, cal_n, delta=1e-4)
    assert b2["threshold"] == b["threshold"] and b2["tp"] >= b["tp"]
    assert b["tp"] == int((m >= b["threshold"]).sum()) and b["fp"] == int((n >= b["threshold"]).sum())
    assert 0 < b["epsilon"] <= b["largest_provable"]


def test_scores_without_signal_bound_epsilon_near_zero():
    rng = np.random.default_rng(1)
    bounds = [eb.epsilon_lower_bound(rng.normal(size=192), rng.normal(size=1024), rng.normal(size=64),
                                     rng.normal(size=64), delta=1e-4)["epsilon"] for _ in range(20)]
    assert max(bounds) < 1.0  # a 95% bound: chance alone must not prove much


def _memoriser_scores(members_are_memorised: bool):
    torch.manual_seed(0)
    pts = torch.rand(96, 1, 4, 4) * 2 - 1
    abar = build_scheduler().alphas_cumprod
    memorised = pts[:48] if members_are_memorised else pts[48:]
    target = DiffusionTarget(memorising_eps_fn(memorised, abar), abar)
    s = run_attack("pia_proximal", target, pts).numpy()
    members, nonmembers = s[:48], s[48:]
    return members[:32], nonmembers[:32], members[32:], nonmembers[32:]


def test_a_memorising_model_refutes_a_small_claimed_epsilon():
    m, n, cm, cn = _memoriser_scores(True)
    b = eb.epsilon_lower_bound(m, n, cm, cn, delta=1e-3)
    assert b["epsilon"] > 1.0  # a claim of eps = 1 for this model is shown false at 95%
    assert b["epsilon"] == pytest.approx(b["largest_provable"])
    # the same model with the other side memorised: the members look like non-members, nothing proven
    m, n, cm, cn = _memoriser_scores(False)
    assert eb.epsilon_lower_bound(m, n, cm, cn, delta=1e-3)["epsilon"] == 0.0


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="0 <= k <= n"):
        eb.clopper_pearson(5, 3)
    with pytest.raises(ValueError, match="finite"):
        eb.epsilon_lower_bound([np.nan], [0.0], [1.0], [0.0], delta=1e-4)
    with pytest.raises(ValueError, match="calibration"):
        eb.choose_threshold([], [0.0], 1e-4)
    with pytest.raises(ValueError, match="delta"):
        eb.epsilon_lower_bound([1.0], [0.0], [1.0], [0.0], delta=2.0)
