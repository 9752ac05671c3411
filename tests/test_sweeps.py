"""Parameter sweeps and tuning on the calibration split."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch

from mialib.attacks import DiffusionTarget, NoiseAggregation, SecMI, score_split
from mialib.attacks.scoring import score_part
from mialib.diffusion.controls import memorising_eps_fn
from mialib.experiments.sweeps import (Sweep, sweep_attack, sweep_boot, sweep_part_scores, sweep_values,
                                      tune_on_calibration, tune_settings_on_calibration, calibration_aucs)
from mialib.evaluation.metrics import evaluate


@pytest.fixture
def setup(digits_split, linear_abar):
    m, n = digits_split
    data = SimpleNamespace(members=m[:24], nonmembers=n[:24], cal_members=m[24:], cal_nonmembers=n[24:])
    target = DiffusionTarget(memorising_eps_fn(m, linear_abar, bandwidth=0.1), linear_abar)
    return data, target


def test_sweep_attack_equals_scoring_each_value_and_lists_skipped(setup):
    data, target = setup
    sw = sweep_attack(NoiseAggregation(m=10, K=3), "t", [10, 20, 40], target, data, seed=3, n_boot=10)
    assert list(sw.results) == [20, 40] and sw.skipped == [10]  # t=10 cannot take 3 steps of 10
    want = evaluate(*score_split(NoiseAggregation(t=40, m=10, K=3), target, data, seed=3, calibration=False).evaluation,
                    n_boot=10, seed=3)
    assert sw.results[40] == want
    assert sw.summary(("auc",)) == {"20": {"auc": sw.results[20]["auc"]}, "40": {"auc": want["auc"]}}
    assert sw.best("auc") in (20, 40) and sw.values("auc") == [sw.results[20]["auc"], want["auc"]]


def test_empty_sweep_says_why():
    with pytest.raises(ValueError, match="no valid value"):
        Sweep("t", {}, [5]).best()


def test_sweep_values_skips_what_raises_and_says_why():
    def score(v):
        if v == 1:
            raise ValueError("one is not allowed")
        return [1.0, 2.0], [0.0, 0.5]
    sw = sweep_values("x", [1, 2], score, n_boot=0, seed=0)
    assert sw.skipped == [1] and sw.reasons == {1: "one is not allowed"} and sw.results[2]["auc"] == 1.0
    assert sweep_boot(1000) == 200 and sweep_boot(20) == 20


class _EvaluationForbidden(SimpleNamespace):
    @property
    def members(self):
        raise AssertionError("tuning looked at the evaluation members")

    @property
    def nonmembers(self):
        raise AssertionError("tuning looked at the evaluation non-members")


def test_tuning_looks_only_at_the_calibration_split(setup):
    data, target = setup
    cal_only = _EvaluationForbidden(cal_members=data.cal_members, cal_nonmembers=data.cal_nonmembers)
    best, aucs = tune_on_calibration(SecMI(), "t_sec", [10, 20, 25, 50], target, cal_only, seed=0)
    assert set(aucs) == {10, 20, 50}  # 25 is no multiple of k = 10
    assert best == max(aucs, key=aucs.get)
    assert all(0.0 <= a <= 1.0 for a in aucs.values())


def test_several_parameters_are_tuned_one_after_another_on_the_calibration_split(setup):
    data, target = setup
    cal_only = _EvaluationForbidden(cal_members=data.cal_members, cal_nonmembers=data.cal_nonmembers)
    grid = {"t": [20, 40], "K": [2, 3], "sigma": [0.05, 0.4], "injection": ["decoupled", "vp"]}
    start = NoiseAggregation(m=10, K=2)
    tuned, sweeps = tune_settings_on_calibration(start, grid, target, cal_only, seed=0)
    by_hand = start  # coordinate ascent written out: each parameter at its best with the earlier ones in place
    for parameter, values in grid.items():
        best, aucs = tune_on_calibration(by_hand, parameter, values, target, cal_only, seed=0)
        assert calibration_aucs(sweeps[parameter]) == aucs and sweeps[parameter].parameter == parameter
        by_hand = by_hand.replace(**{parameter: best})
    assert tuned == by_hand and list(sweeps) == list(grid)
    assert tuned.m == 10  # not in the grid: left alone


def test_tuning_lists_the_values_the_earlier_choices_rule_out_with_the_reason(setup):
    data, target = setup
    cal_only = _EvaluationForbidden(cal_members=data.cal_members, cal_nonmembers=data.cal_nonmembers)
    # t = 20 is chosen first (the only t); K = 4 at stride 10 would walk below step 0 from there
    tuned, sweeps = tune_settings_on_calibration(NoiseAggregation(m=10, K=2), {"t": [20], "K": [2, 3, 4]}, target,
                                                 cal_only, seed=0)
    assert sweeps["t"].skipped == [] and sweeps["K"].skipped == [4]
    assert "below step 0" in sweeps["K"].reasons[4] and set(calibration_aucs(sweeps["K"])) == {2, 3}


def test_tuning_a_parameter_none_of_whose_values_fits_says_why(setup):
    data, target = setup
    with pytest.raises(ValueError, match="no valid value"):
        tune_settings_on_calibration(SecMI(t_sec=20), {"k": [30, 40]}, target, data, seed=0)


def test_skipped_notes_name_each_skipped_value_and_why(setup):
    data, target = setup
    sw = sweep_attack(NoiseAggregation(m=10, K=3), "t", [10, 20], target, data, seed=3, n_boot=0)
    note = sw.skipped_note()
    assert note == f"t: 1 value(s) scored; skipped 10 ({sw.reasons[10]})" and "below step 0" in note
    full = sweep_attack(NoiseAggregation(m=10, K=3), "t", [20, 40], target, data, seed=3, n_boot=0)
    assert full.skipped_note() == "t: 2 value(s) scored, none skipped"
    from mialib.experiments.sweeps import skipped_notes
    assert skipped_notes({"a": sw, "b": full}) == note + "\n" + full.skipped_note()


def test_the_metric_sweep_reuses_the_noises(setup):
    data, target = setup
    from mialib.attacks.scoring import part_generator
    from mialib.experiments.sweeps import sweep_aggregation_metric
    na = NoiseAggregation(t=40, m=10, K=3)
    noises = {p: na.noises(target, getattr(data, p), generator=part_generator(3, p)) for p in ("members", "nonmembers")}
    with target.counting() as q:
        sw = sweep_aggregation_metric(na, noises, ["l2", "l1"], n_boot=0, seed=3)
    assert q.total == 0 and list(sw.results) == ["l2", "l1"]
    # equal to scoring the attack with that metric from scratch (same noise)
    direct = score_split(na.replace(metric="l1"), target, data, seed=3, calibration=False)
    assert sw.results["l1"]["auc"] == evaluate(*direct.evaluation, n_boot=0)["auc"]


@pytest.mark.parametrize("attack, parameter, values", [
    (SecMI(k=10), "t_sec", [50, 10, 20, 25, 100]),          # 25: no multiple of k, skipped
    (NoiseAggregation(t=60, m=10), "K", [8, 2, 3, 5]),       # 8 steps of 10 from 60 go below 0
])
def test_a_shared_sweep_is_bitwise_each_value_alone_for_the_queries_of_the_largest(setup, attack, parameter, values):
    data, target = setup
    assert attack.shared_sweep(parameter)
    with target.counting() as q:
        shared = sweep_attack(attack, parameter, values, target, data, seed=3, n_boot=0)
    valid = [v for v in values if v not in shared.skipped]
    assert shared.shared and list(shared.results) == valid and len(shared.skipped) == 1
    for part in ("members", "nonmembers"):
        both, _ = sweep_part_scores(attack, parameter, valid, target, getattr(data, part), seed=3, part=part)
        for v in valid:
            alone = score_part(attack.replace(**{parameter: v}), target, getattr(data, part), seed=3, part=part)
            assert torch.equal(both[v], alone), (parameter, v, part)
    for v in valid:
        alone = score_split(attack.replace(**{parameter: v}), target, data, seed=3, calibration=False)
        assert shared.results[v] == evaluate(*alone.evaluation, n_boot=0)
    cost = {v: attack.replace(**{parameter: v}).queries() for v in valid}
    if parameter == "K":
        assert shared.queries_per_image == max(cost.values())
    else:  # one inversion to max(t_sec) - k, then 2 queries per value
        assert shared.queries_per_image == max(valid) // 10 - 1 + 2 * len(valid)
    assert max(cost.values()) <= shared.queries_per_image < sum(cost.values())
    assert q.total == shared.queries_per_image * (len(data.members) + len(data.nonmembers))
    assert "one shared pass" in shared.skipped_note()


def test_an_unshared_sweep_costs_the_sum_and_says_nothing_of_sharing(setup):
    data, target = setup
    na = NoiseAggregation(m=10, K=3)
    assert not na.shared_sweep("t")
    sw = sweep_attack(na, "t", [20, 40], target, data, seed=3, n_boot=0)
    assert not sw.shared and sw.queries_per_image == 2 * na.queries()
    with pytest.raises(NotImplementedError, match="no shared sweep"):
        na.sweep_scores(target, data.members, "t", [20, 40])


def test_tuning_a_shared_sweep_chooses_what_per_value_tuning_chooses(setup):
    data, target = setup
    best, aucs = tune_on_calibration(SecMI(), "t_sec", [10, 20, 50, 100], target, data, seed=0)
    want = {t: evaluate(*(score_part(SecMI(t_sec=t), target, getattr(data, p), seed=0, part=p)
                          for p in ("cal_members", "cal_nonmembers")), n_boot=0)["auc"] for t in (10, 20, 50, 100)}
    assert aucs == want and best == max(want, key=want.get)


@pytest.mark.parametrize("parameter, values", [("t", [20, 40]), ("sigma", [0.05, 0.1, 0.2])])
def test_known_scores_of_the_attack_itself_stand_in_for_its_own_value(setup, parameter, values):
    data, target = setup
    na = NoiseAggregation(t=40, m=10, K=3)
    mine = score_split(na, target, data, seed=3)
    with target.counting() as fresh_q:
        fresh = sweep_attack(na, parameter, values, target, data, seed=3, n_boot=10)
    with target.counting() as reuse_q:
        reused = sweep_attack(na, parameter, values, target, data, seed=3, n_boot=10, known={na: mine})
    assert reused.results == fresh.results and list(reused.results) == values
    n_eval = len(data.members) + len(data.nonmembers)
    assert fresh_q.total - reuse_q.total == na.queries() * n_eval   # one value fewer scored
    # scores of other settings are never taken for these
    other = sweep_attack(na.replace(injection="vp"), parameter, values, target, data, seed=3, n_boot=10,
                         known={na: mine})
    assert other.results == sweep_attack(na.replace(injection="vp"), parameter, values, target, data, seed=3,
                                         n_boot=10).results


def test_auc_by_model_takes_known_scores_instead_of_scoring_again(setup):
    data, target = setup
    from mialib.experiments.sweeps import auc_by_model

    class _Model:
        def target(self, batch_size):
            return target
    attacks = {"na": NoiseAggregation(t=40, m=10, K=3), "secmi": SecMI(t_sec=20)}
    fresh = auc_by_model({1: _Model(), 2: _Model()}, attacks, data, seed=3)
    known = {2: {n: score_split(a, target, data, seed=3, calibration=False) for n, a in attacks.items()}}
    with target.counting() as q:
        reused = auc_by_model({1: _Model(), 2: _Model()}, attacks, data, seed=3, known=known)
    assert reused == fresh
    assert q.total == sum(a.queries() for a in attacks.values()) * (len(data.members) + len(data.nonmembers))


def test_metrics_by_model_gives_the_same_aucs_with_their_intervals(setup):
    data, target = setup
    from mialib.experiments.sweeps import auc_by_model, metric_of, metrics_by_model

    class _Model:
        def target(self, batch_size):
            return target
    attacks = {"secmi": SecMI(t_sec=20)}
    metrics = metrics_by_model({1: _Model()}, attacks, data, seed=3, n_boot=30)
    assert metric_of(metrics) == auc_by_model({1: _Model()}, attacks, data, seed=3)
    lo, hi = metric_of(metrics, interval=True)["secmi"][1]
    assert lo <= metrics["secmi"][1]["auc"] <= hi and 0.0 <= lo <= hi <= 1.0
    assert metrics["secmi"][1]["ci"]["auc"] == [lo, hi]


@pytest.mark.parametrize("attack, parameter, values, shared_pass", [
    (SecMI(t_sec=50, k=10), "t_sec", [10, 20, 100], True),   # 50 is a point of the pass to 100
    (SecMI(t_sec=50, k=10), "t_sec", [10, 20], False),       # 50 lies beyond the sweep: scored alone
    (NoiseAggregation(t=60, m=10, K=3), "K", [2, 5], True),  # K = 3: a prefix of the walk of 5
    (NoiseAggregation(t=60, m=10, K=3), "t", [40, 60], False),  # t cannot share a trajectory
])
def test_the_headline_scores_from_the_sweep_are_bitwise_those_scored_alone(setup, attack, parameter, values,
                                                                           shared_pass):
    from mialib.experiments.sweeps import score_split_with_sweep
    data, target = setup
    alone = score_split(attack, target, data, seed=3)
    sweep_alone = sweep_attack(attack, parameter, values, target, data, seed=3, n_boot=0)
    with target.counting() as q:
        scores, sweep = score_split_with_sweep(attack, parameter, values, target, data, seed=3, n_boot=0)
    for part in ("members", "nonmembers", "cal_members", "cal_nonmembers"):
        assert torch.equal(getattr(scores, part), getattr(alone, part)), part
    assert sweep.results == sweep_alone.results and list(sweep.results) == values
    assert scores.queries_per_image == alone.queries_per_image == attack.queries() and scores.seconds_per_1000 > 0
    n_eval, n_cal = len(data.members) + len(data.nonmembers), len(data.cal_members) + len(data.cal_nonmembers)
    own = getattr(attack, parameter)
    if shared_pass:  # one pass that also holds the attack's own value, then the calibration parts alone
        with_own = sweep_attack(attack, parameter, sorted({*values, own}), target, data, seed=3, n_boot=0)
        assert with_own.queries_per_image < sweep_alone.queries_per_image + attack.queries()
        assert q.total == with_own.queries_per_image * n_eval + attack.queries() * n_cal
    else:  # scored alone, then the sweep (which takes the attack's own value, when swept, as known)
        assert q.total == (sweep_alone.queries_per_image - attack.queries() * (own in values)) * n_eval \
            + attack.queries() * (n_eval + n_cal)


def test_gaps_are_the_differences_at_the_values_both_sweeps_scored():
    a = Sweep("t_sec", {50: {"auc": 0.9}, 100: {"auc": 0.8}, 200: {"auc": 0.7}})
    b = Sweep("t_sec", {100: {"auc": 0.75}, 200: {"auc": 0.71}, 300: {"auc": 0.6}})
    gaps = a.gaps(b)
    assert list(gaps) == [100, 200] and gaps[100] == pytest.approx(0.05) and gaps[200] == pytest.approx(-0.01)
    assert Sweep("t_sec", {1: {"auc": 0.5}}).gaps(b) == {}
