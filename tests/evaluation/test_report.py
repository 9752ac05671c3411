"""The sentences that report a run: each states what the numbers given to it say, and its
verdicts flip when the numbers do."""

from __future__ import annotations

import numpy as np
import pytest

from mialib.attacks import NoiseAggregation
from mialib.evaluation import report
from mialib.experiments.sweeps import Sweep


def _r(auc, lo=None, hi=None, **kw):
    lo = auc - 0.02 if lo is None else lo
    hi = auc + 0.02 if hi is None else hi
    out = {"auc": auc, "asr": 0.5 + auc / 3, "calibrated_asr": 0.5 + auc / 4, "tpr@1%fpr": auc / 5,
           "tpr@0.1%fpr": auc / 20, "ci": {"auc": [lo, hi], "tpr@1%fpr": [auc / 6, auc / 4],
                                           "tpr@0.1%fpr": [0.0, auc / 10]}}
    out.update(kw)
    return out


def _diff(d, lo, hi):
    return {"difference": d, "ci": [lo, hi], "p_b_better": 0.5, "n_boot": 100}


def test_formatting_helpers():
    r = _r(0.9172, 0.8981, 0.9333)
    assert report.ci_text(r, "auc") == "0.917 [0.898, 0.933]"
    assert report.ci_text(r, "tpr@1%fpr", percent=True) == "18.3% [15.3, 22.9]"
    assert report.chance_text(_r(0.7, 0.65, 0.75)) == "well above"
    assert report.chance_text(_r(0.56, 0.52, 0.6)) == "above"
    assert report.chance_text(_r(0.52, 0.45, 0.6)) == "not clearly above"


@pytest.mark.parametrize("p, phrase", [(0.5, "consistent with one population"), (0.01, "differ more than usual"),
                                       (None, "no labels")])
def test_split_summary(p, phrase):
    text = report.split_summary(192, 1024, 64, 64, 256, p)
    assert "**192 members**" in text and "trained on 256 images" in text and phrase in text


@pytest.mark.parametrize("closer, phrase", [(0.9, "reproduces its training set"), (0.6, "moderate"),
                                            (0.5, "no clear preference")])
def test_training_summary(closer, phrase):
    text = report.training_summary(0.0312, 64, closer, 0.8, 1.9)
    assert f"**{100 * closer:.0f}%**" in text and phrase in text and "0.0312" in text


def _sweep(param, values_auc):
    return Sweep(param, {v: _r(a) for v, a in values_auc.items()})


def _secmi_text(nns_vs_stat, bf16_vs_fp32, res_fp32_same=None, note="NOTE"):
    return report.secmi_summary(
        res_stat=_r(0.917), t_sec_sweep=_sweep("t_sec", {20: 0.98, 100: 0.917}), t_sec=100, res_bf16=_r(0.9),
        bf16_vs_fp32=bf16_vs_fp32, res_fp32_same=res_fp32_same or _r(0.917), precision_note=note, res_nns=_r(0.84), res_stat_heldout=_r(0.91), nns_vs_stat=nns_vs_stat,
        n_nns_train=243, res_external=_r(0.844), n_training=256, epochs=750, image_size=8)


def test_secmi_summary_states_paired_verdicts():
    text = _secmi_text(_diff(-0.07, -0.1, -0.04), _diff(-0.01, -0.05, 0.04))
    assert "SecMI_NNs loses to SecMI_stat (AUC difference -0.070, 95% CI [-0.100, -0.040])" in text
    assert "bfloat16 is not distinguishable from fp32" in text and "within resampling noise" in text
    text = _secmi_text(_diff(-0.07, -0.1, -0.04), _diff(-0.008, -0.018, 0.001))
    assert "bfloat16 is too close to call against fp32" in text and "cannot be called across machines" in text
    assert "peaks at t_sec = 20 (0.980)" in text and "at the paper's default t_sec = 100 it is 0.917" in text
    text = _secmi_text(_diff(0.05, 0.035, 0.09), _diff(-0.05, -0.08, -0.035))
    assert "SecMI_NNs beats SecMI_stat" in text
    assert "bfloat16 loses to fp32" in text and "Rounding swamps" in text


def test_secmi_summary_sets_bfloat16_beside_fp32_on_the_same_images_and_says_which():
    text = _secmi_text(_diff(-0.07, -0.1, -0.04), _diff(-0.01, -0.03, 0.01), res_fp32_same=_r(0.88),
                       note="a seeded random subset of 128 members")
    assert "reaches AUC 0.900 (fp32 on the same images: 0.880)" in text
    assert "(a seeded random subset of 128 members)" in text


def _na_text(metric_asr, best_t=60):
    ts = {40: 0.9, 60: 0.92, 80: 0.87}
    ts[best_t] = 0.95
    return report.noise_aggregation_summary(
        settings=NoiseAggregation(), res=_r(0.873), queries=5,
        ablation_K=_sweep("K", {2: 0.82, 5: 0.87, 8: 0.93}),
        ablation_metric=Sweep("metric", {k: _r(0.8, asr=v) for k, v in metric_asr.items()}),
        ablation_injection=Sweep("injection", {"decoupled": _r(0.87), "vp": _r(0.7)}),
        ablation_t=_sweep("t", ts), ablation_m=_sweep("m", {5: 0.8, 10: 0.87, 20: 0.9}),
        ablation_sigma=_sweep("sigma", {0.02: 0.91, 0.1: 0.87}))


def test_noise_aggregation_summary_compares_each_ablation_with_the_paper():
    text = _na_text({"l2": 0.81, "l1": 0.80, "centroid": 0.82, "density": 0.805, "hull": 0.74})
    assert "AUC rises with K" in text and "highest at K = 8" in text
    assert "our metrics rank centroid > l2 > density > l1 > hull" in text
    assert "The convex-hull volume is the weakest here too" in text
    assert "decoupled mode gives AUC 0.870, the variance-preserving mode 0.700" in text
    assert "starting lower (t = 60) beats t = 80" in text
    text = _na_text({"l2": 0.81, "l1": 0.70, "centroid": 0.82, "density": 0.805, "hull": 0.74}, best_t=80)
    assert "Unlike the paper, the convex-hull volume is not the weakest here (weakest: l1)" in text
    assert "The t and stride sweeps below show" in text


def _comparison(d_sec, d_naive, budget_gain=0.4, blind_ci=(0.4, 0.52), extra_res=None, **tuning):
    names = ["naive_loss", "secmi_stat", "noise_aggregation"]
    labels = {"naive_loss": "Naive loss", "secmi_stat": "SecMI_stat", "noise_aggregation": "Noise aggregation",
              "pia_proximal": "PIA"}
    res = {"naive_loss": _r(0.826), "secmi_stat": _r(0.917), "noise_aggregation": _r(0.873), **(extra_res or {})}
    queries = {"naive_loss": 1, "secmi_stat": 11, "noise_aggregation": 5, "pia_proximal": 2}
    tuning = {"tuned": {"noise_aggregation": {"t": 60}, "secmi_stat": {"t_sec": 20}},
              "tuned_res": {"noise_aggregation": _r(0.925), "secmi_stat": _r(0.984)}, **tuning}
    return report.comparison_summary(
        res=res, labels=labels, queries={n: queries[n] for n in res},
        diffs={"secmi_stat": d_sec, "naive_loss": d_naive}, tuned_diff=_diff(-0.059, -0.076, -0.044),
        budget_auc={n: {250: 0.5, 6000: 0.5 + budget_gain} for n in names}, epochs_per_step=0.25,
        res_blind=_r(0.46, *blind_ci), res_blind_shifted=_r(1.0), res_shifted={n: _r(0.95) for n in names},
        shift="blur", n_nonmembers=1024, **tuning)


def test_comparison_summary_reproduces_or_refutes_the_claim_by_the_paired_rule():
    text = _comparison(_diff(-0.043, -0.066, -0.033), _diff(0.047, 0.031, 0.084))
    assert "Noise aggregation loses to SecMI_stat (AUC difference -0.043" in text
    assert "Noise aggregation beats Naive loss (AUC difference +0.047" in text
    assert "**not** reproduced" in text
    assert "Noise aggregation loses to SecMI_stat (AUC difference -0.059" in text  # tuned
    assert "noise aggregation (t = 60) reaches AUC 0.925 and SecMI_stat (t_sec = 20) 0.984" in text
    assert "every attack gains with training" in text and "interval contains 0.5" in text
    text = _comparison(_diff(0.05, 0.035, 0.07), _diff(0.047, 0.031, 0.084), budget_gain=-0.1, blind_ci=(0.55, 0.6))
    assert "The claim is reproduced here." in text
    assert "not every attack gains" in text and "interval excludes 0.5" in text
    text = _comparison(_diff(0.01, -0.04, 0.04), _diff(0.047, 0.031, 0.084))
    assert "is not distinguishable from SecMI_stat" in text and "**not** reproduced" in text
    text = _comparison(_diff(0.05, 0.035, 0.07), _diff(0.047, 0.011, 0.084))  # the bound 0.011 is within 0.03 of 0
    assert "Noise aggregation is too close to call against Naive loss" in text and "**too close to call**" in text
    assert "Only timesteps were tuned here" in text
    assert "reproduced here" not in text and "**not** reproduced" not in text


def test_comparison_summary_names_a_strongest_attack_only_when_it_is_outside_the_papers_comparison():
    text = _comparison(_diff(-0.043, -0.066, -0.033), _diff(0.047, 0.031, 0.084))
    assert "neither attack of the paper's comparison is the strongest" not in text  # SecMI_stat is, and is a rival
    text = _comparison(_diff(-0.043, -0.066, -0.033), _diff(0.047, 0.031, 0.084), extra_res={"pia_proximal": _r(0.95)})
    assert "neither attack of the paper's comparison is the strongest here: **PIA** reaches AUC 0.950 at 2 queries " \
           "per image." in text
    text = _comparison(_diff(-0.043, -0.066, -0.033), _diff(0.047, 0.031, 0.084), extra_res={"pia_proximal": _r(0.95)},
                       tuned={"noise_aggregation": {"t": 60}, "secmi_stat": {"t_sec": 20}, "pia_proximal": {"t": 50}},
                       tuned_res={"noise_aggregation": _r(0.925), "secmi_stat": _r(0.984), "pia_proximal": _r(0.99)})
    assert "**PIA** reaches AUC 0.950 at 2 queries per image at its default, and 0.990 tuned (t = 50)." in text


def test_comparison_summary_says_which_knobs_were_tuned_and_how_far_each_moved_the_attack():
    text = _comparison(_diff(-0.043, -0.066, -0.033), _diff(0.047, 0.031, 0.084),
                       tuned={"noise_aggregation": {"t": 60, "K": 8, "injection": "vp"}, "secmi_stat": {"t_sec": 20, "k": 5}},
                       tuned_queries={"noise_aggregation": 8, "secmi_stat": 5},
                       tuned_ranges={"noise_aggregation": {"t": (0.8, 0.9), "K": (0.88, 0.9), "injection": (0.7, 0.9)}},
                       n_calibration=128)
    assert "noise aggregation (t = 60, K = 8, injection = vp) reaches AUC 0.925 at 8 queries" in text
    assert "SecMI_stat (t_sec = 20, k = 5) 0.984 at 5 queries" in text
    assert "Noise aggregation's knobs t, K, injection were tuned on the calibration split" in text
    assert "moved its AUC by up to 0.100 (t), 0.020 (K), 0.200 (injection)" in text and "128 calibration images" in text
    assert "Only timesteps were tuned here" not in text


def test_tuning_limits_name_the_values_not_tried_and_the_choices_at_an_edge():
    labels = {"na": "Noise aggregation", "sec": "SecMI_stat"}
    chosen = {"na": {"sigma": 0.05, "K": 5}, "sec": {"k": 20}}
    text = report.tuning_limits_text(labels, chosen, {"na": {"K": {8: "K=8 steps go below step 0"}}},
                                     {"na": {"sigma": "smallest"}, "sec": {"k": "largest"}})
    assert ("Not every value of the grid could be tried, the earlier choices in place: K = 8 for Noise aggregation "
            "(K=8 steps go below step 0).") in text
    assert ("At an edge of its grid: Noise aggregation's sigma = 0.05 (the smallest value tried), SecMI_stat's k = 20 "
            "(the largest value tried); a value beyond it might do better") in text
    assert report.tuning_limits_text(labels, chosen, {}, {}) == ""
    assert "edge" not in report.tuning_limits_text(labels, chosen, {"na": {"K": {8: "why"}}}, {})
    whole = _comparison(_diff(-0.043, -0.066, -0.033), _diff(0.047, 0.031, 0.084),
                        tuned_skipped={"noise_aggregation": {"K": {8: "too far"}}},
                        tuned_edges={"secmi_stat": {"t_sec": "smallest"}})
    assert "K = 8 for Noise aggregation (too far)" in whole and "SecMI_stat's t_sec = 20 (the smallest value tried)" in whole
    assert "could be tried" not in _comparison(_diff(-0.043, -0.066, -0.033), _diff(0.047, 0.031, 0.084))


def _quality(*precisions, real=0.9, bar=0.8):
    return {f"p = {i}": {"precision": v, "real_precision": real, "ratio_to_real": v / real, "bar": bar,
                         "passes": v / real >= bar, "k": 3, "n_samples": 100} for i, v in enumerate(precisions)}


def test_sample_quality_text_names_each_model_and_the_bar():
    text, ok = report.sample_quality_text(_quality(0.8, 0.75))
    assert ok and "p = 0 0.800, p = 1 0.750; real digits the models never saw reach 0.900" in text
    assert "the bar is 0.8 of that (0.720). All 2 models pass." in text
    text, ok = report.sample_quality_text(_quality(0.8, 0.72 - 1e-9))
    assert not ok and "**1 of 2 models fail it**" in text
    near = _quality(0.8, 0.721)
    near["p = 1"]["near_bar"] = True
    text, ok = report.sample_quality_text(near)
    assert ok and text.endswith("All 2 models pass. 1 of the 2 lie (p = 1) within sampling error of the bar (the exact 95% "
                                "interval of the precision over the samples holds it), so another draw of samples could "
                                "land on the other side of it.")
    text, ok = report.sample_quality_text(_quality(0.5, 0.8, 0.3, 0.6, 0.7, 0.75, 0.4))  # seven: the range
    assert not ok and "is from 0.300 (p = 2) to 0.800 (p = 1) over 7 models; real digits" in text


def test_property_summary_says_when_the_generators_bias_comes_from_weak_models():
    from mialib.attacks.property import ReaderRates
    names = ("classifier (naive)", "classifier (corrected)")
    kw = dict(delta=0.05, generator_bias={"diffusion": 0.078}, reader_rates=ReaderRates(0.8, 0.15, 130, 130),
              n_per_query=200, n_queries=10, mae=dict(zip(names, (0.14, 0.04))), coverage=dict(zip(names, (0.3, 0.97))),
              width=dict(zip(names, (0.19, 0.6))))
    text = report.property_summary(quality=_quality(0.8, 0.3), **kw)
    assert "comes from the generator itself, and here the diffusion sharers fail" in text and "1 of 2 models" in text
    assert "Where the bias comes from" not in text
    text = report.property_summary(quality=_quality(0.8, 0.3), ink=_ink(), **kw)
    assert "**Where the bias comes from.** The samples' inks scatter about their colour less than" in text
    assert text.index("Where the bias comes from") < text.index("**Sample quality.**")
    text = report.property_summary(quality=_quality(0.8, 0.8), **kw)
    assert "comes from the generator itself." in text and "All 2 models pass" in text


def _ink(samples=(0.11, 0.13, 0.12), training=(0.13, 0.15, 0.14), rule_samples=(0.12, 0.5, 0.85),
         rule_training=(0.21, 0.5, 0.78)):
    return {p: {"ink spread, samples": a, "ink spread, training": b, "rule share, samples": c, "rule share, training": d}
            for p, a, b, c, d in zip((0.1, 0.5, 0.9), samples, training, rule_samples, rule_training)}


def test_ink_text_explains_the_bias_by_narrower_inks_only_when_the_measures_say_so():
    text = report.ink_text(_ink(), models_pass=False)
    assert "spread 0.120 against 0.140, mean over the grid" in text
    assert "further from 1/2 in the samples than in the training images at 2 of 2 proportions other than 1/2" in text
    assert "(p = 0.1: 0.120 against 0.210)" in text and "overshoots" in text
    assert "benchmarks/sharer_quality.py" in text
    assert "benchmarks/sharer_quality.py" not in report.ink_text(_ink(), models_pass=True)
    # inks that scatter as much as the training images' (equal means: not less) explain nothing
    same = report.ink_text(_ink(samples=(0.13, 0.15, 0.14)), models_pass=False)
    assert "not less than the training images'" in same and "ink spread does not explain it" in same
    # narrower inks, but the rule's shares are no further from 1/2 (only one of two): no explanation either
    half = report.ink_text(_ink(rule_samples=(0.12, 0.5, 0.7)), models_pass=False)
    assert "at 1 of 2 proportions" in half and "does not explain it" in half


def test_property_summary_ranks_estimators_on_the_diffusion_sharers_only_and_scores_what_intervals_bound():
    from mialib.attacks.property import ReaderRates
    names = ("classifier (naive)", "classifier (corrected)", "another generator (Gaussian mixture), classifier (corrected)")
    text = report.property_summary(
        mae=dict(zip(names, (0.14, 0.085, 0.05))), coverage=dict(zip(names, (0.3, 1.0, 1.0))),
        coverage_of_target=dict(zip(names, (0.9, 1.0, 1.0))), width=dict(zip(names, (0.19, 0.66, 0.6))), delta=0.05,
        generator_bias={"diffusion": 0.078}, reader_rates=ReaderRates(0.8, 0.15, 130, 130), n_per_query=200,
        n_queries=10, quality=_quality(0.8))
    assert "the most accurate on the diffusion sharers is **classifier (corrected)** (the Gaussian-mixture row" in text
    assert "Scored against what each interval bounds" in text and "classifier (naive) 0.90" in text


def test_property_summary_states_aim_and_coverage():
    from mialib.attacks.property import ReaderRates
    kw = dict(delta=0.05, generator_bias={"diffusion": 0.078}, reader_rates=ReaderRates(0.8, 0.15, 130, 130),
              n_per_query=200, n_queries=10, quality=_quality(0.8))
    names = ("classifier (naive)", "classifier (corrected)")
    text = report.property_summary(mae=dict(zip(names, (0.14, 0.04))), coverage=dict(zip(names, (0.3, 0.97))),
                                   width=dict(zip(names, (0.19, 0.6))), **kw)
    assert "reaches the aim" in text and "keep the promise" in text and "0.140 -> 0.040" in text
    assert "pulled toward 0.43" in text and "738 samples" in text
    text = report.property_summary(mae=dict(zip(names, (0.14, 0.09))), coverage=dict(zip(names, (0.3, 0.8))),
                                   width=dict(zip(names, (0.19, 0.6))), **kw)
    assert "misses the aim" in text and "fall short of it" in text


def test_chance_text_a_bound_at_the_threshold_does_not_count():
    assert report.chance_text(_r(0.7, 0.6, 0.8)) == "above"
    assert report.chance_text(_r(0.7, 0.6 + 1e-12, 0.8)) == "well above"
    assert report.chance_text(_r(0.7, 0.5, 0.8)) == "not clearly above"
    assert report.chance_text(_r(0.7, 0.5 + 1e-12, 0.8)) == "above"


def test_training_summary_thresholds_are_strict():
    assert "moderate" in report.training_summary(0.03, 64, 0.75, 0.8, 1.9)
    assert "reproduces" in report.training_summary(0.03, 64, 0.75 + 1e-12, 0.8, 1.9)
    assert "no clear preference" in report.training_summary(0.03, 64, 0.55, 0.8, 1.9)


def test_split_summary_p_at_the_level_is_consistent():
    assert "consistent with one population" in report.split_summary(1, 1, 1, 1, 1, 0.05)
    assert "differ more than usual" in report.split_summary(1, 1, 1, 1, 1, 0.05 - 1e-12)


def test_secmi_summary_reads_the_default_t_sec_from_the_settings_class():
    from mialib.attacks import SecMI
    text = _secmi_text(_diff(-0.07, -0.1, -0.04), _diff(-0.01, -0.03, 0.01))
    assert f"at the paper's default t_sec = {SecMI().t_sec} it is" in text


def test_property_summary_at_the_aim_and_at_the_promised_coverage():
    from mialib.attacks.property import ReaderRates
    from mialib.evaluation import reference
    names = ("classifier (naive)", "classifier (corrected)")
    kw = dict(delta=0.05, generator_bias={"d": 0.07}, reader_rates=ReaderRates(0.8, 0.15, 130, 130),
              n_per_query=200, n_queries=10, width=dict(zip(names, (0.19, 0.6))), quality=_quality(0.8))
    aim = reference.PROPERTY_MAE_AIM
    text = report.property_summary(mae=dict(zip(names, (0.14, aim))), coverage=dict(zip(names, (0.3, 0.95))), **kw)
    assert f"reaches the aim** of a mean absolute error of at most {aim:.2f}" in text and "keep the promise" in text
    assert "The bounds (Hoeffding's for the naive estimates, exact binomial ones for the corrected) promise" in text
    text = report.property_summary(mae=dict(zip(names, (0.14, aim + 1e-12))),
                                   coverage=dict(zip(names, (0.3, 0.95 - 1e-12))), **kw)
    assert "misses the aim" in text and "fall short of it" in text
    ex = reference.HOEFFDING_EXAMPLE
    assert f"error of at most {ex['eps']:g} with probability {1 - ex['delta']:g} is 738 samples" in text


def _fairness_table(dp_ci, acc_ci, detection_p, mitigated_accuracy=0.9, precision=0.8, seeds=(0, 1, 2)):
    """Three seeds (or the one of ``seeds=(0,)``) whose changes have exactly ``dp_ci`` and ``acc_ci``
    as their Student-t interval over the seeds (values centre -+ sd, sd chosen for it); every seed's
    own bootstrap interval is the same ci."""
    import pandas as pd
    from scipy.stats import t
    q = _quality(precision)["p = 0"]
    offsets = {1: [0.0], 3: [-1.0, 0.0, 1.0]}[len(seeds)]  # mean 0, sample sd 1

    def value(ci, z):
        sd = (ci[1] - ci[0]) / 2 * np.sqrt(len(seeds)) / t.ppf(0.975, len(seeds) - 1) if len(seeds) > 1 else 0.0
        return (ci[0] + ci[1]) / 2 + z * sd

    rows = []
    for seed, z in zip(seeds, offsets):
        rows.append(dict(method="none", alpha=0.0, seed=seed, accuracy=0.95, demographic_parity_difference=0.02,
                         sample_quality=q))
        for alpha in (0.2, 0.4):
            rows.append(dict(method="mi_greedy", alpha=alpha, seed=seed, accuracy=0.93, demographic_parity_difference=0.15,
                             p_label_equals_s=0.7, i_sy=0.12, i_sy_closed_form=0.119, i_xy=0.9, i_xy_pool=0.95,
                             utility_within_10pct=True, demographic_parity_difference_change=value(dp_ci, z),
                             demographic_parity_difference_change_ci=dp_ci, accuracy_change=value(acc_ci, z),
                             accuracy_change_ci=acc_ci, detection_p=detection_p,
                             mitigated_demographic_parity_difference=0.03, mitigated_accuracy=mitigated_accuracy,
                             sample_quality=q))
    return pd.DataFrame(rows)


def test_fairness_summary_judges_the_claim_by_the_paired_intervals():
    text = report.fairness_summary(_fairness_table((0.056, 0.197), (-0.015, 0.02), 0.001))
    assert "accuracy 0.950 on real test digits" in text and "**mi_greedy** at alpha = 0.4 (means over 3 training" in text
    assert "(95% interval over the seeds [+0.056, +0.197]) (3 of 3 seeds' own paired bootstrap intervals" in text
    assert "unfairness at under 5% accuracy loss, **holds** here" in text
    assert "in the samples of 3 of 3 seeds at level 0.05 (p from 0.0010 to 0.0010)" in text
    assert "gap to 0.030 at accuracy 0.900." in text
    assert ("P(label = ink) in the training set is between 0.700 and 0.700 (3 of 3 seeds on the side y = s; on "
            "average 0.200 away from 1/2)") in text
    opposite = _fairness_table((0.056, 0.197), (-0.015, 0.02), 0.001)
    opposite.loc[(opposite.method == "mi_greedy") & (opposite.seed == 1), "p_label_equals_s"] = 0.25
    assert ("between 0.250 and 0.700 (2 of 3 seeds on the side y = s; on average 0.217 away from 1/2)"
            in report.fairness_summary(opposite))  # the mean share, 0.55, would hide seed 1's opposite lean
    assert "demographic-parity difference of 0.020 (means over 3 training seeds)." in text  # no mitigation of the clean one
    clean = _fairness_table((0.056, 0.197), (-0.015, 0.02), 0.001)
    clean.loc[clean.method == "none", ["mitigated_demographic_parity_difference", "mitigated_accuracy"]] = [0.15, 0.94]
    assert ("takes that gap to 0.150 at accuracy 0.940 (on real test digits it widens the gap it is meant to close"
            in report.fairness_summary(clean))
    clean.loc[clean.method == "none", "mitigated_demographic_parity_difference"] = 0.01
    assert "takes that gap to 0.010 at accuracy 0.940." in report.fairness_summary(clean)
    one = _fairness_table((0.056, 0.197), (-0.015, 0.02), 0.001, seeds=(0,))
    text = report.fairness_summary(one)
    assert "changes by +0.127 (95% CI [+0.056, +0.197]) and accuracy" in text and "means over" not in text
    assert "P(label = ink) in the training set is 0.700 and its I(S;Y)" in text
    assert "p = 0.0010 (detected at level 0.05)" in text
    text = report.fairness_summary(_fairness_table((0.056, 0.197), (-0.09, 0.02), 0.05, float("nan")))
    assert "does **not** hold here (fairness degrades, but the accuracy loss may reach 5% or more)" in text
    assert "in the samples of 0 of 3 seeds at level 0.05" in text and "could not be fitted" in text
    text = report.fairness_summary(_fairness_table((-0.04, 0.197), (-0.01, 0.02), 0.5))
    assert "does **not** hold here (the fairness gap does not clearly grow)" in text
    text = report.fairness_summary(_fairness_table((0.01, 0.197), (-0.09, 0.02), 0.5))
    assert "may reach 5% or more; whether fairness degrades is too close to call)" in text
    text = report.fairness_summary(_fairness_table((1e-12 + 0.03, 0.197), (-0.065, 0.02), 0.5), max_accuracy_loss=0.1)
    assert "unfairness at under 10% accuracy loss, **holds** here" in text


@pytest.mark.parametrize("acc_lo", [-0.05 - 1e-12, -0.05, -0.05 + 1e-12, -0.069, -0.031])
def test_a_bound_near_the_line_is_too_close_to_call(acc_lo):
    text = report.fairness_summary(_fairness_table((0.056, 0.197), (acc_lo, 0.02), 0.001))
    assert ("is **too close to call** here: the accuracy interval ends within 0.03 of its line, less than a "
            "bound has moved between two machines") in text


def test_greedy_rules_summary_reads_each_rule_over_its_seeds():
    import pandas as pd
    rows = [dict(rule="all_cells", seed=s, p_label_equals_s=v, i_sy=i, i_sy_closed_form=0.119, utility_drift=d)
            for s, v, i, d in [(0, 0.71, 0.13, 0.003), (1, 0.29, 0.14, -0.004), (2, 0.72, 0.15, 0.001)]]
    rows += [dict(rule="one_direction", seed=s, p_label_equals_s=0.70, i_sy=0.12, i_sy_closed_form=0.119,
                  utility_drift=0.002) for s in range(3)]
    text = report.greedy_rules_summary(pd.DataFrame(rows))
    assert text.startswith("Over 3 seeds, the **all-cells** rule ends with P(label = ink) between 0.290 and 0.720 "
                           "(2 of 3 seeds on the side y = s), mean I(S;Y) 0.140 bits, utility drift at most 0.4%; "
                           "the **one-direction** rule ends with P(label = ink) between 0.700 and 0.700 (3 of 3")
    assert "Eq. 17 gives 0.119 bits" in text


def test_a_claim_on_models_that_fail_the_quality_bar_is_too_close_to_call():
    text = report.fairness_summary(_fairness_table((0.056, 0.197), (-0.015, 0.02), 0.001, precision=0.3))
    assert ("is **too close to call** here: the sharers' samples fail the sample-quality bar, so these are not "
            "models a receiver would use (on these intervals alone it would hold)") in text
    assert "**9 of 9 models fail it**" in text


def test_a_claim_on_one_seed_is_too_close_to_call_whatever_its_intervals():
    for acc_ci, seen in [((-0.015, 0.02), "would hold"), ((-0.09, 0.02), "would not hold"),
                         ((-0.05, 0.02), "would still be too close to call")]:
        text = report.fairness_summary(_fairness_table((0.056, 0.197), acc_ci, 0.001, seeds=(0,)))
        assert ("is **too close to call** here: it rests on one training seed (on that seed's intervals alone it "
                f"{seen})") in text


def test_text_to_image_summary_names_what_the_true_caption_changes():
    from mialib.evaluation import reference
    res = {"ground truth": {"a": _r(0.8), "b": _r(0.7)}, "empty prompt": {"a": _r(0.7), "b": _r(0.6)}}
    diffs = {"a": {"empty prompt": _diff(0.1, 0.05, 0.15)}, "b": {"empty prompt": _diff(-0.1, -0.15, -0.05)}}
    text = report.text_to_image_summary(results=res, diffs=diffs, labels={"a": "A", "b": "B"},
                                        reference_auc=reference.stable_diffusion_reference())
    assert "the strongest attack is **A** (AUC 0.800 [0.780, 0.820]); B 0.700." in text
    assert "for A, lowers it for B; A +0.100 [+0.050, +0.150]; B -0.100 [-0.150, -0.050]." in text
    assert "Stable Diffusion v1.4: SecMI_stat AUC 0.707, noise aggregation ASR 0.701 (real LAION" in text
    diffs = {"a": {"empty prompt": _diff(0.1, 0.0, 0.15)}, "b": {"empty prompt": _diff(-0.1, -0.15, 0.0)}}
    text = report.text_to_image_summary(results=res, diffs=diffs, labels={"a": "A", "b": "B"})
    assert "for no attack; too close to call for A, B;" in text and "Stable Diffusion" not in text
    diffs = {"a": {"empty prompt": _diff(0.05, -0.05, 0.13)}, "b": {"empty prompt": _diff(0.1, 0.04, 0.15)}}
    text = report.text_to_image_summary(results=res, diffs=diffs, labels={"a": "A", "b": "B"})
    assert "tolerance 0.03) for B;" in text and "too close" not in text
    assert "; no difference to tell for A (the interval reaches past the tolerance on both sides of 0);" in text


@pytest.mark.parametrize("t_sec, peak, says", [
    (100, 20, ["the paper's default is not the best choice here"]),
    (100, 100, ["The chosen t_sec = 100 is the best of the sweep."]),
    (50, 100, ["The paper's default is the best of the sweep.", "This run attacks at t_sec = 50, which is not the sweep's best."]),
    (50, 50, ["the paper's default is not the best choice here", "This run attacks at t_sec = 50, which is the best of the sweep."]),
])
def test_secmi_summary_tells_the_default_from_the_chosen_t_sec(t_sec, peak, says):
    """The sentence about the paper's default compares the sweep's best with the default, not with
    the t_sec this run chose (a profile may override it)."""
    sweep = _sweep("t_sec", {v: (0.95 if v == peak else 0.9) for v in (20, 50, 100)})
    diff = _diff(-0.07, -0.1, -0.04)
    text = report.secmi_summary(
        res_stat=_r(0.917), t_sec_sweep=sweep, t_sec=t_sec, res_bf16=_r(0.9), bf16_vs_fp32=diff,
        res_fp32_same=_r(0.917), precision_note="all", res_nns=_r(0.84),
        res_stat_heldout=_r(0.91), nns_vs_stat=diff, n_nns_train=243, res_external=_r(0.844), n_training=256,
        epochs=750, image_size=8)
    for phrase in says:
        assert phrase in text


def test_calibrated_tpr_is_shown_with_the_fpr_it_really_reaches():
    res = {"a": _r(0.8, **{"calibrated_tpr@1%fpr": 0.24, "calibrated_fpr@1%fpr": 0.027}),
           "b": _r(0.9, **{"calibrated_tpr@1%fpr": 0.3, "calibrated_fpr@1%fpr": 0.01}), "c": _r(0.7)}
    text = report._calibrated_tpr_text(res, {"a": "A", "b": "B", "c": "C"}, ["a", "b", "c"])
    assert text == (" With the threshold fitted for 1% FPR on the calibration split, TPR / the FPR it really reaches on "
                    "the evaluation non-members are A 0.240 / 0.027, B 0.300 / 0.010; where that FPR exceeds 1% FPR "
                    "(A), the TPR is bought with it and can exceed the best-threshold TPR at exactly that FPR.")
    assert report._calibrated_tpr_text({"c": _r(0.7)}, {"c": "C"}, ["c"]) == ""


def test_t_sec_sweeps_text_says_whether_the_caption_matters_at_any_t_sec():
    gt = _sweep("t_sec", {10: 0.8, 50: 0.85, 100: 0.78})
    flat = _sweep("t_sec", {10: 0.79, 50: 0.84, 100: 0.79})
    text = report.t_sec_sweeps_text({"ground-truth caption": gt, "empty prompt": flat}, 100)
    assert "Under the ground-truth captions the AUC peaks at t_sec = 50 (0.850); at this run's t_sec = 100 " \
           "it is 0.780. The ranking of the attacks below is at the default" in text
    assert "differs by -0.010 to +0.010 across the 3 t_sec values" in text and "not a matter of the t_sec chosen" in text
    steep = _sweep("t_sec", {10: 0.7, 50: 0.85, 100: 0.78})
    text = report.t_sec_sweeps_text({"ground-truth caption": gt, "empty prompt": steep}, 20)
    assert "at some t_sec the caption moves the AUC" in text and "t_sec = 20" not in text


def _stride_point(auc, lo, hi):
    return {"auc": auc, "ci": {"auc": (lo, hi)}}


@pytest.mark.parametrize("few, default, expect", [
    ((0.98, 0.96, 0.99), (0.91, 0.88, 0.93), "**loses** AUC"),
    ((0.80, 0.76, 0.84), (0.91, 0.88, 0.93), "gains AUC"),
    ((0.92, 0.90, 0.94), (0.91, 0.88, 0.93), "intervals overlap"),
    ((0.95, 0.93, 0.97), (0.91, 0.88, 0.93), "intervals overlap"),   # touching ends overlap
    ((0.95, 0.9300000000001, 0.97), (0.91, 0.88, 0.93), "**loses** AUC"),
])
def test_secmi_stride_text_says_what_the_extra_queries_buy(few, default, expect):
    from mialib.attacks import SecMI
    results = {10: _stride_point(*default), 50: _stride_point(0.9, 0.85, 0.95), 100: _stride_point(*few)}
    text = report.secmi_stride_text(results, SecMI())
    assert expect in text
    assert "k = 100 (2 queries)" in text and "k = 10 (11 queries)" in text
    assert "PIA's proximal initialisation" in text        # k = t_sec is in the curve


def test_secmi_stride_text_names_pia_only_when_the_curve_reaches_k_equal_t_sec():
    from mialib.attacks import SecMI
    results = {10: _stride_point(0.91, 0.88, 0.93), 50: _stride_point(0.95, 0.94, 0.96)}
    text = report.secmi_stride_text(results, SecMI())
    assert "PIA" not in text and "k = 50 (3 queries)" in text and "**loses**" in text
    text = report.secmi_stride_text({50: _stride_point(0.95, 0.94, 0.96), 20: _stride_point(0.9, 0.85, 0.91)}, SecMI())
    assert "at k = 20 (6 queries)" in text and "default" not in text   # the default stride is not on this curve
    one = report.secmi_stride_text({50: _stride_point(0.95, 0.94, 0.96)}, SecMI())
    assert "has one point, k = 50 (3 queries, AUC 0.950 [0.940, 0.960])" in one
    with pytest.raises(ValueError, match="empty"):
        report.secmi_stride_text({}, SecMI())


def _diff(d, lo, hi):
    return {"difference": d, "ci": (lo, hi)}


def test_caption_halves_text_names_the_half_that_uses_the_caption():
    settings = ("ground-truth caption", "empty prompt")
    aucs = {(a, b): v for (a, b), v in zip([(s, t) for s in settings for t in settings], [0.80, 0.70, 0.79, 0.69])}
    effects = {"way up": _diff(0.01, -0.01, 0.025), "step back": _diff(0.10, 0.07, 0.13), "both": _diff(0.11, 0.08, 0.14)}
    text = report.caption_halves_text(effects, aucs, settings)
    assert "the AUC is 0.800; with the empty prompt on the way up only 0.790, on the step back only 0.700, on both 0.690" in text
    assert "The caption matters on the step back; it raises the AUC." in text
    flat = {h: _diff(0.0, -0.02, 0.02) for h in effects}
    assert "show no effect of the caption on either half" in report.caption_halves_text(flat, aucs, settings)
    both = {"way up": _diff(-0.1, -0.13, -0.07), "step back": _diff(0.10, 0.07, 0.13), "both": _diff(0.0, -0.02, 0.02)}
    assert ("The caption matters on both halves: on the way up (the inversion) it lowers the AUC; on the step back it "
            "raises the AUC." in report.caption_halves_text(both, aucs, settings))
    down = {"way up": _diff(-0.1, -0.13, -0.07), "step back": _diff(-0.1, -0.13, -0.07), "both": _diff(0.0, -0.02, 0.02)}
    assert ("The caption matters on the way up (the inversion) and on the step back; it lowers the AUC on both."
            in report.caption_halves_text(down, aucs, settings))


def test_fairness_summary_says_when_the_detection_test_fails_its_negative_control():
    table = _fairness_table((0.056, 0.197), (-0.015, 0.02), 0.001)
    assert "negative control" not in report.fairness_summary(table)      # the clean row has no p here
    table.loc[table.method == "none", "detection_p"] = 0.2
    assert "negative control" not in report.fairness_summary(table)
    table.loc[table.method == "none", "detection_p"] = 0.001
    assert ("**The detection test fails its negative control:** the unpoisoned sharer's samples are \"detected\" too, "
            "in 3 of 3 seeds") in report.fairness_summary(table)
    table.loc[(table.method == "none") & (table.seed > 0), "detection_p"] = 0.3
    assert "too, in 1 of 3 seeds" in report.fairness_summary(table)
    one = table[table.seed == 0]
    assert "\"detected\" too (p = 0.0010)" in report.fairness_summary(one)
    assert "The model, or the reader of its samples' ink, ties the two" in report.fairness_summary(one)


def test_the_colour_rule_says_whether_the_model_or_the_reader_ties_ink_to_class():
    table = _fairness_table((0.056, 0.197), (-0.015, 0.02), 0.001)
    clean = table.method == "none"
    table.loc[clean, "detection_p"] = 0.001
    table.loc[clean, "detection_rule_statistic"] = [0.118, 0.05, 0.02]
    table.loc[clean, "detection_rule_p"] = [0.002, 0.2, 0.5]
    text = report.fairness_summary(table)
    assert ("the unpoisoned samples' gap is 0.118, 0.050, 0.020 (dependent at level 0.05 in 1 of 3 seeds): the model "
            "itself ties ink to class") in text
    table.loc[clean, "detection_rule_p"] = [0.05, 0.2, 0.5]   # p = level is not below it
    assert "independent at level 0.05: the dependence comes from the receiver's reader" in report.fairness_summary(table)


def test_the_gap_against_the_unpoisoned_sharer_of_the_same_seed_over_seeds():
    from mialib.evaluation.repetitions import seed_interval
    table = _fairness_table((0.056, 0.197), (-0.015, 0.02), 0.001)
    poisoned = table.method == "mi_greedy"
    table.loc[poisoned, "detection_statistic_change"] = [0.30, 0.32, 0.28, 0.30, 0.34, 0.29]  # (0.2, 0.4) per seed
    _, lo, hi = seed_interval([0.32, 0.30, 0.29])
    text = report.fairness_summary(table)
    assert (f"exceeds that of the unpoisoned sharer of the same seed by +0.303 (95% interval over the seeds "
            f"[{lo:+.3f}, {hi:+.3f}]): larger than an unpoisoned model's") in text
    table.loc[poisoned, "detection_statistic_change"] = [0.0, 0.03, 0.0, 0.04, 0.0, 0.035]  # low end 0.023
    assert "too close to call against an unpoisoned model's" in report.fairness_summary(table)
    table.loc[poisoned, "detection_statistic_change"] = [0.0, 0.1, 0.0, -0.1, 0.0, 0.1]
    assert "not clearly larger than an unpoisoned model's" in report.fairness_summary(table)
    assert "exceeds that of" not in report.fairness_summary(table[table.seed == 0])  # one seed: no interval


def _repetitions(widths, coverages):
    import pandas as pd
    rows = []
    for seed, (w, c) in enumerate(zip(widths, coverages)):
        rows.append(dict(seed=seed, estimator="classifier (naive)", mae=0.08 + 0.01 * seed, coverage=0.6,
                         coverage_of_target=1.0, width=0.2, n_intervals=50))
        rows.append(dict(seed=seed, estimator="classifier (corrected)", mae=0.05 + 0.01 * seed, coverage=c,
                         coverage_of_target=c, width=w, n_intervals=50))
    return pd.DataFrame(rows)


def test_property_repetitions_text_over_seeds_and_the_width_aim():
    from mialib.evaluation.repetitions import seed_interval
    text = report.property_repetitions_text(_repetitions([0.46, 0.44, 0.45], [1.0, 0.96, 0.98]), delta=0.05)
    _, lo, hi = seed_interval([0.05, 0.06, 0.07])
    assert text.startswith("**Over 3 independent repetitions**")
    assert (f"**classifier (corrected)**: mean |error| 0.060 (95% interval over the repetitions [{lo:.3f}, {hi:.3f}]), "
            "coverage of p 0.98, of what it bounds 0.98 (lowest repetition 0.96), mean width 0.45") in text
    assert "**miss the aim** of a mean width at most 0.3 at coverage at least 0.95: width 0.45, coverage 0.98; they are 1.5 times too wide." in text
    at = report.property_repetitions_text(_repetitions([0.3, 0.3], [0.95, 0.95]), delta=0.05)
    assert "**reach the aim**" in at and "too wide" not in at and "too rarely" not in at
    over = report.property_repetitions_text(_repetitions([0.3 + 1e-12, 0.3], [0.95 - 1e-12, 0.95]), delta=0.05)
    assert "**miss the aim**" in over and "too rarely" in over
    one = report.property_repetitions_text(_repetitions([0.3], [0.95]), delta=0.05)
    assert "has 1 repetition only" in one and "`repeats` profile" in one
    spread = _repetitions([0.3, 0.3], [0.95, 0.95]).assign(mae=[0.01, 0.01, 0.3, 0.5])  # t-interval below 0
    assert "mean |error| 0.155 (95% interval over the repetitions [0.000, " in report.property_repetitions_text(spread, delta=0.05)
    assert "its lower end cut at 0" in report.property_repetitions_text(spread, delta=0.05)


def test_text_to_image_quality_text_says_what_was_measured_and_what_it_means():
    check = _quality(0.5)["p = 0"]
    text = report.text_to_image_quality_text(check, "trained now")
    assert "the text-to-image model 0.500" in text and "**It fails it**: too many of its samples" in text
    assert "attacks below stand" in text
    good = report.text_to_image_quality_text(_quality(0.8)["p = 0"], "trained now")
    assert "It passes." in good and "attacks below stand" not in good
    none = report.text_to_image_quality_text(None, "loaded from /models/sd")
    assert "not measured for this pipeline (loaded from /models/sd)" in none
    copying = {"closer_to_training": 0.9, "n_samples": 400, "n_candidates": 200, "p_value": 1e-60,
               "distinct_nearest_training": 37}
    copied = report.text_to_image_quality_text({**_quality(0.8)["p = 0"], "copying": copying}, "trained now")
    assert copied.startswith(good)
    assert ("of these 400 samples, drawn under captions of non-members, **90%** lie closer to a member than to any of 200 "
            "non-members (about half for a model that does not copy; one-sided binomial test p = 1e-60), and their nearest "
            "members are 37 distinct images of 200. The model reproduces its training set closely") in copied
    half = report.text_to_image_quality_text({**_quality(0.8)["p = 0"], "copying": {**copying, "closer_to_training": 0.5}},
                                             "trained now")
    assert "**50%**" in half and "no clear preference for training images" in half


def test_verdict_seeds_judge_the_largest_alpha_over_its_seeds_while_other_alphas_keep_one():
    table = _fairness_table((0.056, 0.197), (-0.015, 0.02), 0.001)
    mixed = table[(table.seed == 0) | (table.alpha != 0.2)]  # alpha 0.2 under seed 0 only
    text = report.fairness_summary(mixed)
    assert "**mi_greedy** at alpha = 0.4 (means over 3 training seeds)" in text
    assert "unfairness at under 5% accuracy loss, **holds** here" in text
    assert "demographic-parity difference of 0.020 (means over 3 training seeds)" in text
