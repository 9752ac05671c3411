"""Notebook 04's comparison helpers: tuning every attack's settings on the calibration split,
SecMI_NNs scored and timed on the split, and the attacks with reported numbers."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch

from mialib.attacks import ATTACKS, DiffusionTarget, attack_settings, score_split, secmi_nns
from mialib.diffusion.controls import memorising_eps_fn
from mialib.evaluation.compare import compare
from mialib.experiments.comparison import Tuning, check_tuning_grid, reported_attacks, run_secmi_nns, tune_attacks
from mialib.experiments.sweeps import calibration_aucs, tune_on_calibration, tune_settings_on_calibration
from mialib.evaluation.metrics import evaluate


@pytest.fixture
def setup(digits_split, linear_abar):
    m, n = digits_split
    data = SimpleNamespace(members=m[:24], nonmembers=n[:24], cal_members=m[24:], cal_nonmembers=n[24:])
    return data, DiffusionTarget(memorising_eps_fn(m, linear_abar, bandwidth=0.1), linear_abar)


def test_tuned_timesteps_are_chosen_on_calibration_and_scored_on_evaluation(setup):
    data, target = setup
    settings = attack_settings({"noise_aggregation": {"K": 2}})
    grid = {"naive_loss": [20, 100], "noise_aggregation": [40, 80]}
    tuning = tune_attacks(settings, grid, target, data, seed=1, n_boot=10)
    for name, values in grid.items():
        step = ATTACKS[name].timestep
        best, aucs = tune_on_calibration(settings[name], step, values, target, data, seed=1)
        assert tuning.chosen[name] == {step: best} and tuning.path[name] == {step: aucs}
        assert tuning.calibration_ranges(name) == {step: (min(aucs.values()), max(aucs.values()))}
        assert tuning.describe(name) == f"{step} = {best}"
        want = score_split(settings[name].replace(**{step: best}), target, data, seed=1, calibration=False)
        assert torch.equal(tuning.scores[name].members, want.members)
        assert tuning.results[name] == evaluate(*want.evaluation, n_boot=10, seed=1)
    d = tuning.comparison("noise_aggregation", "naive_loss", n_boot=10, seed=1)
    assert d == compare(tuning.scores["noise_aggregation"], tuning.scores["naive_loss"], n_boot=10, seed=1)
    assert tuning.comparison("noise_aggregation", "secmi_stat", n_boot=10, seed=1) is None


def test_tuning_takes_known_scores_where_the_chosen_value_is_the_attacks_own(setup):
    data, target = setup
    settings = attack_settings({"noise_aggregation": {"K": 2}})
    grid = {"naive_loss": [20, 100], "noise_aggregation": [40, 80]}
    plain = tune_attacks(settings, grid, target, data, seed=1, n_boot=10)
    own = {n: settings[n].replace(**plain.chosen[n]) for n in grid}  # as if already chosen
    known = {n: score_split(own[n], target, data, seed=1) for n in grid}
    with target.counting() as q:
        again = tune_attacks(own, grid, target, data, seed=1, n_boot=10, known=known)
    assert again.chosen == plain.chosen and again.results == plain.results
    calibration_only = sum(len(values) * settings[n].queries() for n, values in grid.items()) * 48
    assert q.total == calibration_only   # nothing scored on the evaluation parts


def test_knobs_beyond_the_timestep_are_tuned_in_the_order_given(setup):
    data, target = setup
    settings = attack_settings({"noise_aggregation": {"K": 2}})
    grid = {"noise_aggregation": {"t": [40, 80], "sigma": [0.05, 0.4], "K": [2, 3]}, "naive_loss": [20, 100]}
    tuning = tune_attacks(settings, grid, target, data, seed=1, n_boot=10)
    cfg, sweeps = tune_settings_on_calibration(settings["noise_aggregation"], grid["noise_aggregation"], target, data,
                                               seed=1)
    assert tuning.chosen["noise_aggregation"] == {"t": cfg.t, "sigma": cfg.sigma, "K": cfg.K}
    assert list(tuning.chosen["noise_aggregation"]) == ["t", "sigma", "K"]
    assert tuning.path["noise_aggregation"] == {p: calibration_aucs(sw) for p, sw in sweeps.items()}
    want = score_split(cfg, target, data, seed=1, calibration=False)
    assert torch.equal(tuning.scores["noise_aggregation"].nonmembers, want.nonmembers)
    assert tuning.queries() == {"noise_aggregation": cfg.queries(), "naive_loss": 1}
    sigma_aucs = calibration_aucs(sweeps["sigma"])
    assert tuning.ranges()["noise_aggregation"]["sigma"] == (min(sigma_aucs.values()), max(sigma_aucs.values()))
    assert tuning.describe("noise_aggregation") == f"t = {cfg.t}, sigma = {cfg.sigma}, K = {cfg.K}"


def test_tuning_keeps_the_values_it_could_not_try_and_why(setup):
    data, target = setup
    settings = attack_settings({"noise_aggregation": {"K": 2, "m": 10}})
    grid = {"noise_aggregation": {"t": [20], "K": [2, 3, 4]}, "naive_loss": [20, 100]}
    tuning = tune_attacks(settings, grid, target, data, seed=1, n_boot=0)
    assert list(tuning.skipped) == ["noise_aggregation"] and list(tuning.skipped["noise_aggregation"]) == ["K"]
    assert "below step 0" in tuning.skipped["noise_aggregation"]["K"][4]
    assert set(tuning.path["noise_aggregation"]["K"]) == {2, 3}


def _tuning(path, chosen, skipped=None):
    return Tuning(chosen=chosen, path=path, scores={}, results={}, skipped=skipped or {})


def test_choices_at_an_edge_of_a_grid_of_three_or_more_are_flagged():
    path = {"na": {"t": {40: 0.6, 60: 0.7, 80: 0.65}, "sigma": {0.05: 0.8, 0.1: 0.7, 0.2: 0.6},
                   "injection": {"decoupled": 0.8, "vp": 0.7, "ddim": 0.6}, "m": {5: 0.6, 10: 0.7}},
            "sec": {"k": {5: 0.6, 10: 0.7, 20: 0.8}}}
    chosen = {"na": {"t": 60, "sigma": 0.05, "injection": "decoupled", "m": 10}, "sec": {"k": 20}}
    # the interior t, the categorical injection and the two-value m are not flagged
    assert _tuning(path, chosen).at_grid_edge() == {"na": {"sigma": "smallest"}, "sec": {"k": "largest"}}
    # K = 5 of [3, 5, 8] with 8 skipped: the largest value it could take
    path = {"na": {"K": {3: 0.6, 5: 0.7}}}
    tuning = _tuning(path, {"na": {"K": 5}}, {"na": {"K": {8: "below step 0"}}})
    assert tuning.at_grid_edge() == {"na": {"K": "largest"}}
    assert _tuning(path, {"na": {"K": 5}}).at_grid_edge() == {}  # a grid of two: every choice is an edge


@pytest.mark.parametrize("grid, match", [
    ({"naive": [20]}, r"unknown attacks \['naive'\]"), ({"naive_loss": []}, "non-empty list"),
    ({"naive_loss": 20}, "non-empty list"), ([20], "must map attack names"), ({"naive_loss": {}}, "non-empty"),
    ({"noise_aggregation": {"T": [3]}}, r"parameters \['T'\] that noise_aggregation does not have"),
    ({"secmi_stat": {"t_sec": [20], "k": []}}, r"non-empty list of values; not so for secmi_stat: \['k'\]")])
def test_bad_tuning_grids_are_refused_before_any_query(grid, match):
    with pytest.raises(ValueError, match=match):
        check_tuning_grid(grid)


def test_secmi_nns_runs_at_secmi_stats_settings(setup):
    data, target = setup
    settings = attack_settings({"secmi_stat": {"t_sec": 20}, "secmi_nns": {"epochs": 1, "width": 8}})
    nns, seconds = run_secmi_nns(target, data, settings, seed=0, progress=False)
    direct = secmi_nns(target, data.members, data.nonmembers, t_sec=20, k=10, seed=0, epochs=1, width=8,
                       **{k: v for k, v in settings["secmi_nns"].to_dict().items() if k not in ("epochs", "width")})
    assert torch.equal(nns.member_scores, direct.member_scores) and seconds > 0


def test_reported_attacks_are_those_with_a_reference():
    got = reported_attacks()
    assert got and all(info.reference for info in got.values())
    assert set(got) == {n for n, a in ATTACKS.items() if a.reference} and "pian_proximal" not in got


def test_a_query_curve_is_the_sweeps_queries_and_aucs_in_the_attacks_colour(setup):
    from mialib.attacks import NoiseAggregation
    from mialib.experiments.comparison import query_curve
    from mialib.experiments.sweeps import sweep_attack
    data, target = setup
    na = NoiseAggregation(t=40, m=10)
    sw = sweep_attack(na, "K", [2, 3], target, data, seed=0, n_boot=0)
    legend, queries, aucs, colour, lo, hi = query_curve("noise_aggregation", "noise aggregation", sw, na,
                                                        {"naive_loss": 0, "noise_aggregation": 1})
    assert legend == "noise aggregation, K = 2, 3" and queries == [2, 3] and aucs == sw.values("auc") and colour == "C1"
    assert lo == hi == aucs  # no bootstrap here: the bounds are the AUCs
    sw = sweep_attack(na, "K", [2, 3], target, data, seed=0, n_boot=20)
    *_, lo, hi = query_curve("noise_aggregation", "noise aggregation", sw, na, {"noise_aggregation": 0})
    assert lo == [sw.results[k]["ci"]["auc"][0] for k in (2, 3)] and hi == [sw.results[k]["ci"]["auc"][1] for k in (2, 3)]
