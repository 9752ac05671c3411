"""The sentences that report a run: each notebook's "what the numbers say" is one function here,
fed with that run's numbers, so every claim in the text comes from the run and every verdict
from one tested rule: a measured number or interval set against a threshold, an aim or another
number by :func:`.compare.interval_vs` and the helpers built on it (:func:`.compare.verdict`,
:func:`.compare.value_vs`, :func:`.compare.meets_aim`, :func:`.compare.overlap`). Choices among
parameter values or names (the best K, the weakest metric) are read off directly. The papers'
numbers come from :mod:`.reference`, the attacks' defaults from their settings classes; the
wording thresholds of this module are the named constants below.

Functions return Markdown. Numbers are formatted by the helpers at the top, so an AUC reads the
same way in every notebook.
"""

from __future__ import annotations

import numpy as np

from ..attacks.property import hoeffding_epsilon, hoeffding_sample_size
from ..attacks.secmi import SecMI
from . import reference
from .repetitions import aggregate_seeds, seed_interval
from .compare import (ABOVE, BEATS, BELOW, CLOSE, FAILS, HOLDS, HOST_TOLERANCE, LOSES, STRADDLES, TIE, TOO_CLOSE,
                      describe, interval_vs,
                      judge, meets_aim, overlap, value_vs, verdict)

CHANCE_AUC = 0.5            # the AUC of a guess
WELL_ABOVE_CHANCE = 0.6     # an AUC interval above this reads "well above" chance
LEVEL = 0.05                # the significance level of the report's tests
CLOSER_STRONG, CLOSER_MODERATE = 0.75, 0.55   # notebook 01: share of samples closer to training images
K_TREND = 0.5               # notebook 03: |correlation of AUC with K| for "rises" / "falls"


# ----------------------------------------------------------------------------- formatting
def ci_text(r: dict, key: str, digits: int = 3, percent: bool = False) -> str:
    """"0.917 [0.898, 0.933]" (or "12.0% [5.2, 24.0]") for metric ``key`` of an evaluate() dict."""
    scale, unit, d = (100.0, "%", 1) if percent else (1.0, "", digits)
    text = f"{scale * r[key]:.{d}f}{unit}"
    if "ci" in r and key in r["ci"]:
        lo, hi = r["ci"][key]
        text += f" [{scale * lo:.{d}f}, {scale * hi:.{d}f}]"
    return text


def auc_text(r: dict) -> str:
    return f"AUC {ci_text(r, 'auc')}"


def chance_text(r: dict) -> str:
    """How an AUC's interval sits against chance: "well above" (wholly above
    :data:`WELL_ABOVE_CHANCE`), "above" (wholly above 0.5) or "not clearly above"."""
    lo, hi = r["ci"]["auc"]
    return ("well above" if interval_vs(lo, hi, WELL_ABOVE_CHANCE) == ABOVE else
            "above" if interval_vs(lo, hi, CHANCE_AUC) == ABOVE else "not clearly above")


def above_below(a: float, b: float) -> str:
    """"above" if ``a`` lies above ``b``, else "below" (also when equal)."""
    return "above" if value_vs(a, b) == ABOVE else "below"


# ----------------------------------------------------------------------------- 00 and 01
def split_summary(n_members: int, n_nonmembers: int, n_cal_members: int, n_cal_nonmembers: int,
                  n_training: int, chi2_p: float | None) -> str:
    """Notebook 00: the split's sizes and whether its class proportions look i.i.d."""
    if chi2_p is None:
        verdict_ = "The data set has no labels, so class balance across the parts cannot be checked."
    elif value_vs(chi2_p, LEVEL) != BELOW:
        verdict_ = (f"The class proportions of the four parts are consistent with one population "
                    f"(χ² homogeneity test p = {chi2_p:.3f} ≥ {LEVEL:g}), as a uniformly random split should be.")
    else:
        verdict_ = (f"The χ² homogeneity test gives p = {chi2_p:.3f} < {LEVEL:g}: at this seed the parts "
                    f"differ more than usual by chance. The split is still uniformly random (the test "
                    f"rejects {LEVEL:.0%} of random splits); try another `seed` to see the p-value move.")
    return (f"This run uses **{n_members} members** and **{n_nonmembers} non-members** for evaluation "
            f"and {n_cal_members} + {n_cal_nonmembers} images for calibration; the target model of "
            f"notebook 01 is trained on {n_training} images. {verdict_}")


def copying_reading(frac_closer: float) -> str:
    """What a share ``frac_closer`` of samples closer to a training image than to any of as many
    non-members says about copying (notebooks 01 and 07)."""
    if value_vs(frac_closer, CLOSER_STRONG) == ABOVE:
        return "The model reproduces its training set closely: membership should be easy to infer."
    if value_vs(frac_closer, CLOSER_MODERATE) == ABOVE:
        return "The preference for training images is moderate: the model generalises as much as it memorises."
    return ("Samples show no clear preference for training images: any membership signal has to come "
            "from subtler differences than copying.")


def training_summary(final_loss: float, n_samples: int, frac_closer: float, median_training: float,
                     median_nonmember: float) -> str:
    """Notebook 01: how much the samples prefer the training images."""
    reading = copying_reading(frac_closer)
    return (f"The final training loss is **{final_loss:.4f}**. Of {n_samples} generated images, "
            f"**{100 * frac_closer:.0f}%** lie closer to a training image than to any of an equal number of "
            f"non-members (50% would mean no preference); the median distance to the nearest training image "
            f"is {median_training:.2f} against {median_nonmember:.2f} to the nearest non-member. {reading}")


# ----------------------------------------------------------------------------- 02 SecMI
def secmi_summary(*, res_stat: dict, t_sec_sweep, t_sec: int, res_bf16: dict, bf16_vs_fp32: dict,
                  res_fp32_same: dict, precision_note: str,
                  res_nns: dict, res_stat_heldout: dict, nns_vs_stat: dict, n_nns_train: int,
                  res_external: dict, n_training: int, epochs: float, image_size: int) -> str:
    """Notebook 02: SecMI_stat against chance and the paper, the t_sec sweep, precision
    (bfloat16 against fp32 on the same images, ``res_fp32_same``, which ``precision_note`` names),
    SecMI_NNs against SecMI_stat on the same held-out images, the third-party checkpoint."""
    p10, p10nns = reference.reported("secmi_stat/cifar10"), reference.reported("secmi_nns/cifar10")
    paper_setup = reference.setup("secmi/cifar10")
    auc = res_stat["auc"]
    best_t = t_sec_sweep.best("auc")
    sweep, default_t = t_sec_sweep.results, SecMI().t_sec
    text = [
        f"**SecMI_stat** separates members from non-members of our target with **{auc_text(res_stat)}**, "
        f"ASR {res_stat['asr']:.3f} and TPR {100 * res_stat['tpr@1%fpr']:.1f}% at 1% FPR, "
        f"{chance_text(res_stat)} chance (0.5). That is {above_below(auc, p10['auc'])} the paper's CIFAR-10 "
        f"AUC of {p10['auc']:.3f}: our model saw each of its {n_training} training images about {epochs:.0f} "
        f"times, and the smaller the training set per parameter the more it memorises.",
        f"With a threshold fitted on the calibration split instead of the evaluation set, the ASR is "
        f"{res_stat['calibrated_asr']:.3f} against the optimistic {res_stat['asr']:.3f} the papers' definition gives.",
        f"Across the sweep AUC peaks at t_sec = {best_t} ({sweep[best_t]['auc']:.3f})"
        + (f"; at the paper's default t_sec = {default_t} it is {sweep[default_t]['auc']:.3f}. "
           if default_t in sweep else ". ")
        + (f"On {image_size}x{image_size} digits the membership signal sits at other t_sec than on CIFAR-10, so "
           f"the paper's default is not the best choice here; choosing t_sec on the evaluation set, as done in "
           f"this sweep, is optimistic in the same way as the papers' ASR." if best_t != default_t else
           "The paper's default is the best of the sweep." if t_sec != default_t else
           f"The chosen t_sec = {t_sec} is the best of the sweep.")
        + ("" if t_sec == default_t else
           f" This run attacks at t_sec = {t_sec}, which is " + ("the best of the sweep." if best_t == t_sec else
                                                                  "not the sweep's best.")),
        f"Run in **bfloat16**, the same attack reaches AUC {res_bf16['auc']:.3f} (fp32 on the same images: "
        f"{res_fp32_same['auc']:.3f}): by the paired bootstrap, "
        f"{describe(bf16_vs_fp32, 'bfloat16', 'fp32')} ({precision_note}). "
        + {LOSES: "Rounding swamps part of the step-wise error, as the paper warns.",
           CLOSE: "Whether rounding costs anything here cannot be called across machines; the warning stands for "
                  "larger models, whose errors are smaller.",
           }.get(verdict(bf16_vs_fp32), "At this model size and t_sec the loss is within resampling noise, but the "
                                        "warning stands for larger models, whose errors are smaller."),
        f"**SecMI_NNs** reaches AUC {res_nns['auc']:.3f} on its held-out images, where SecMI_stat reaches "
        f"{res_stat_heldout['auc']:.3f}: {describe(nns_vs_stat, 'SecMI_NNs', 'SecMI_stat')}. The paper's NNs "
        f"gain (AUC {p10nns['auc']:.3f} vs {p10['auc']:.3f}) comes from a classifier trained on "
        f"{paper_setup['nns_train_frac'] * (paper_setup['n_members'] + paper_setup['n_nonmembers']):,.0f} error "
        f"maps; ours trains on {n_nns_train}.",
        f"On the **third-party CIFAR-10 checkpoint** the same metrics give AUC {res_external['auc']:.3f}, ASR "
        f"{res_external['asr']:.3f}, TPR {100 * res_external['tpr@1%fpr']:.2f}% at 1% FPR and "
        f"{100 * res_external['tpr@0.1%fpr']:.2f}% at 0.1% FPR, {above_below(res_external['auc'], p10['auc'])} the "
        f"paper's {p10['auc']:.3f} / {p10['asr']:.3f} / {100 * p10['tpr@1%fpr']:.2f}% / "
        f"{100 * p10['tpr@0.1%fpr']:.2f}%: a checkpoint trained differently from the authors' leaks differently, "
        f"and the metric code itself is the same for all rows.",
    ]
    return "\n\n".join(text)


# ----------------------------------------------------------------------------- 03 noise aggregation
def noise_aggregation_summary(*, settings, res: dict, queries: float, ablation_K, ablation_metric,
                              ablation_injection, ablation_t, ablation_m, ablation_sigma) -> str:
    """Notebook 03: the attack at the paper's defaults and each ablation against the paper's."""
    s = settings
    p = reference.reported("noise_aggregation/cifar10")
    paper_K = reference.ablation("noise_aggregation/K_tpr@1%fpr")
    paper_metric = reference.ablation("noise_aggregation/metric_asr")
    k_res, t_res, m_res = ablation_K.results, ablation_t.results, ablation_m.results
    best_K, paper_best_K = ablation_K.best("tpr@1%fpr"), max(paper_K, key=paper_K.get)
    best_t, best_sigma = ablation_t.best("auc"), ablation_sigma.best("auc")
    rank_ours = sorted(ablation_metric.results, key=lambda n: -ablation_metric.results[n]["asr"])
    rank_paper = sorted(paper_metric, key=lambda n: -paper_metric[n])
    dec, vp = ablation_injection.results["decoupled"], ablation_injection.results["vp"]
    ks = list(k_res)
    k_trend = np.corrcoef(ks, [k_res[k]["auc"] for k in ks])[0, 1] if len(ks) > 2 else float("nan")
    trend = ("rises" if value_vs(k_trend, K_TREND) == ABOVE else "falls" if value_vs(k_trend, -K_TREND) == BELOW
             else "does not move monotonically")
    m_max = max(m_res) if m_res else s.m
    lower_steps_help = (best_t < s.t and m_max > s.m
                        and value_vs(m_res[m_max]["auc"], m_res.get(s.m, res)["auc"]) == ABOVE)
    k_text = (f"**K.** The paper's TPR at 1% FPR peaks at K = {paper_best_K} and falls for larger K; ours is "
              f"highest at K = {best_K} ({100 * k_res[best_K]['tpr@1%fpr']:.1f}%), and AUC {trend} with K (from "
              f"{k_res[min(ks)]['auc']:.3f} at K = {min(ks)} to {k_res[max(ks)]['auc']:.3f} at K = {max(ks)}). ")
    if best_K == paper_best_K:
        k_text += "This reproduces the paper's shape. "
    else:
        k_text += f"With stride m = {s.m}, a larger K walks further down, to t = {s.t - (max(ks) - 1) * s.m}. "
        k_text += (f"That the lower steps carry more of the signal on our target fits the t sweep below, where "
                   f"starting lower (t = {best_t}) beats t = {s.t}, and the stride sweep, where walking further "
                   f"(m = {m_max}: AUC {m_res[m_max]['auc']:.3f}) beats m = {s.m}. " if lower_steps_help else
                   "The t and stride sweeps below show whether the lower steps are where the signal is. ")
    text = [
        f"With the paper's defaults (t = {s.t}, m = {s.m}, K = {s.K}, sigma = {s.sigma}, {s.injection} "
        f"injection, {s.metric} aggregation) noise aggregation separates our members from non-members with "
        f"**{auc_text(res)}**, ASR {res['asr']:.3f} (calibrated: {res['calibrated_asr']:.3f}) and TPR "
        f"{100 * res['tpr@1%fpr']:.1f}% at 1% FPR, at {queries:g} queries per image. The paper reports AUC "
        f"{p['auc']:.3f}, ASR {p['asr']:.3f} and TPR {100 * p['tpr@1%fpr']:.1f}% on CIFAR-10.",
        k_text,
        f"**Aggregation.** By ASR our metrics rank {' > '.join(rank_ours)}; the paper's rank "
        f"{' > '.join(rank_paper)}. " + ("The convex-hull volume is the weakest here too, as in the paper. "
                                         if rank_ours[-1] == "hull" else
                                         f"Unlike the paper, the convex-hull volume is not the weakest here "
                                         f"(weakest: {rank_ours[-1]}). "),
        f"**Injection.** The decoupled mode gives AUC {dec['auc']:.3f}, the variance-preserving mode "
        f"{vp['auc']:.3f}: " + ("a small noise keeps the path close to the image, where members and non-members "
                                "differ most." if value_vs(dec["auc"], vp["auc"]) == ABOVE else
                                "here the full schedule noise does at least as well."),
        f"**t and sigma.** Over the t sweep AUC peaks at t = {best_t} ({t_res[best_t]['auc']:.3f}"
        + (f"; at t = {s.t}: {t_res[s.t]['auc']:.3f}" if s.t in t_res else "")
        + f"); over sigma at {best_sigma} ({ablation_sigma.results[best_sigma]['auc']:.3f}). Choosing these on "
        f"the evaluation set, as a sweep does, is optimistic; notebook 04 picks timesteps on the calibration "
        f"split and compares every attack on the same images.",
    ]
    return "\n\n".join(text)


# ----------------------------------------------------------------------------- 04 comparison
def _calibrated_tpr_text(res: dict, labels: dict, attacks, key: str = "tpr@1%fpr") -> str:
    """The calibrated TPR at a nominal FPR beside the FPR its threshold actually reached on the
    evaluation non-members: a calibrated TPR above the best-threshold TPR is bought with a realised
    FPR above the nominal one, and says so."""
    cal, fpr_key = "calibrated_" + key, "calibrated_" + key.replace("tpr@", "fpr@")
    have = [n for n in attacks if cal in res[n] and fpr_key in res[n]]
    if not have:
        return ""
    nominal = key.split("@")[1].replace("fpr", " FPR")
    over = [n for n in have if value_vs(res[n][fpr_key], float(nominal.split("%")[0]) / 100) == ABOVE]
    return (f" With the threshold fitted for {nominal} on the calibration split, TPR / the FPR it really reaches on the "
            "evaluation non-members are " + ", ".join(f"{labels[n]} {res[n][cal]:.3f} / {res[n][fpr_key]:.3f}" for n in have)
            + (f"; where that FPR exceeds {nominal} ({', '.join(labels[n] for n in over)}), the TPR is bought with it and "
               "can exceed the best-threshold TPR at exactly that FPR." if over else "."))


def secmi_stride_text(results: dict, secmi: SecMI, label: str = "SecMI_stat") -> str:
    """Notebook 04: what SecMI's query budget buys. ``results`` maps each stride k of a curve at
    ``secmi.t_sec`` to its metrics (AUC and its interval); the text sets the fewest queries against
    the default stride (or the finest of the curve when the default is not on it) and says what SecMI is at k = t_sec: no inversion, one step up from the model's
    own noise at t = 0 (PIA's proximal initialisation), so its t-error is PIA's score with p = 2 at
    t = t_sec times (1 - abar_t) / abar_t, exactly when abar_0 = 1 (tests/attacks/test_secmi.py)."""
    if not results:
        raise ValueError("the stride curve is empty")
    if len(results) == 1:
        (k, r), = results.items()
        return (f"**What SecMI's queries buy.** This run's stride curve has one point, k = {k} "
                f"({secmi.replace(k=k).queries()} queries, {auc_text(r)}): give k_curve two strides or more to compare.")
    fewest = max(results)                          # the largest stride queries least
    ref = secmi.k if secmi.k in results and secmi.k != fewest else min(results)
    q = {k: secmi.replace(k=k).queries() for k in (fewest, ref)}
    few, default = results[fewest], results[ref]
    lo_f, hi_f = (few.get("ci") or {}).get("auc") or (few["auc"],) * 2
    lo_d, hi_d = (default.get("ci") or {}).get("auc") or (default["auc"],) * 2
    text = (f"**What SecMI's queries buy.** Along its stride k at t_sec = {secmi.t_sec}, {label} reaches "
            f"{auc_text(few)} at k = {fewest} ({q[fewest]} queries) and {auc_text(default)} at "
            f"{'its default ' if ref == secmi.k else ''}k = {ref} ({q[ref]} queries)")
    if fewest == secmi.t_sec:
        text += (". At k = t_sec SecMI inverts nothing: its one step up adds the model's own noise at t = 0, which is "
                 "PIA's proximal initialisation, and its t-error is then PIA's score with p = 2 at t = t_sec, up to "
                 "the factor (1 - abar_t) / abar_t (exactly when abar_0 = 1; tested)")
    if interval_vs(lo_f, hi_f, hi_d) == ABOVE:
        return text + (f". The finer inversion **loses** AUC on this target: at k = {ref} the interval lies wholly "
                       f"below the one at k = {fewest}, so more queries are worse here.")
    if interval_vs(lo_d, hi_d, hi_f) == ABOVE:
        return text + f". The finer inversion gains AUC here: at k = {ref} the interval lies wholly above the one at k = {fewest}."
    return text + ". The two intervals overlap, so these intervals show no gain from the finer inversion's extra queries."


def settings_text(chosen: dict) -> str:
    """{parameter: value} as "t = 60, K = 8" (tuned settings, :class:`mialib.experiments.comparison.Tuning`)."""
    return ", ".join(f"{parameter} = {value}" for parameter, value in chosen.items())


def tuning_limits_text(labels: dict, chosen: dict, skipped: dict, edges: dict) -> str:
    """What the tuning grid could not say (:class:`mialib.experiments.comparison.Tuning`): the
    values it could not try (``skipped``: name -> {parameter: {value: why}}) and the choices at an
    edge of the values tried (``edges``: name -> {parameter: "smallest" or "largest"}); "" when
    there are none."""
    parts = []
    missed = [f"{parameter} = {value} for {labels[name]} ({why})" for name, by_parameter in skipped.items()
              for parameter, reasons in by_parameter.items() for value, why in reasons.items()]
    if missed:
        parts.append("Not every value of the grid could be tried, the earlier choices in place: " + "; ".join(missed)
                     + ".")
    at_edge = [f"{labels[name]}'s {parameter} = {chosen[name][parameter]} (the {side} value tried)"
               for name, by_parameter in edges.items() for parameter, side in by_parameter.items()]
    if at_edge:
        parts.append("At an edge of its grid: " + ", ".join(at_edge) + "; a value beyond it might do better on the "
                     "calibration split, and this grid cannot tell.")
    return " ".join(parts)


def _tuning_reach_text(name: str, label: str, tuned: dict, tuned_ranges: dict, n_calibration: int) -> str:
    """What tuning ``name`` on the calibration split covered: its timestep only, or each of its
    knobs with how far it moved the calibration AUC (``tuned_ranges``: name -> {parameter: (low, high)})."""
    knobs = list(tuned.get(name, {}))
    if len(knobs) <= 1:
        return (f"Only timesteps were tuned here; {label.lower()} has more knobs (K, sigma, the stride m, the "
                f"injection mode), and notebook 03's ablations show each of them moving its AUC, the injection mode "
                f"most, so a tuning of all of them on the calibration split could narrow the gap.")
    moves = ", ".join(f"{hi - lo:.3f} ({parameter})" for parameter, (lo, hi) in tuned_ranges[name].items())
    return (f"{label}'s knobs {', '.join(knobs)} were tuned on the calibration split one after another, each with "
            f"the earlier choices in place; there they moved its AUC by up to {moves}. One round of such a search "
            f"can miss a better joint setting, and on {n_calibration} calibration images its choices fit their "
            f"noise as well as the attack.")


def comparison_summary(*, res: dict, labels: dict, queries: dict, diffs: dict, tuned: dict, tuned_res: dict,
                       tuned_diff: dict | None, budget_auc: dict, epochs_per_step: float, res_blind: dict,
                       res_blind_shifted: dict, res_shifted: dict, shift: str, n_nonmembers: int,
                       tuned_queries: dict | None = None, tuned_ranges: dict | None = None, n_calibration: int = 0,
                       tuned_skipped: dict | None = None, tuned_edges: dict | None = None, focus: str = "noise_aggregation", rivals=("secmi_stat", "naive_loss")) -> str:
    """Notebook 04: the noise-aggregation paper's central claim (``focus`` beats ``rivals``) by
    the paired bootstrap, at the defaults and tuned on the calibration split; low FPR; the
    calibrated ASRs; training budget; the blind baseline on an i.i.d. and a shifted split.
    ``diffs[rival]`` is :func:`.compare.compare` of ``focus`` against ``rival``; ``tuned`` (name ->
    {parameter: chosen value}), ``tuned_res``, ``tuned_queries`` and ``tuned_ranges`` (name ->
    {parameter: (lowest, highest) calibration AUC}), ``tuned_skipped`` and ``tuned_edges``
    (:func:`tuning_limits_text`) describe the tuning on ``n_calibration`` calibration images
    (:class:`mialib.experiments.comparison.Tuning`)."""
    na, sec = focus, rivals[0]
    attacks = [n for n in res if n in budget_auc]
    vs = {r: verdict(diffs[r]) for r in rivals}
    claim = all(v == BEATS for v in vs.values())
    refuted = any(v in (LOSES, TIE) for v in vs.values())
    head = (f"**The paper's central claim** is that {labels[na].lower()} at {queries[na]:g} queries beats "
            + " and ".join(f"{labels[r]} ({queries[r]:g})" for r in rivals) + ". On our target, at every paper's "
            "default: " + "; ".join(f"{labels[n]} {auc_text(res[n])}, TPR@1%FPR {100 * res[n]['tpr@1%fpr']:.1f}%"
                                      for n in (na, *rivals))
            + ". By the paired bootstrap " + "; ".join(describe(diffs[r], labels[na], labels[r]) for r in rivals)
            + ". " + ("The claim is reproduced here." if claim else
                      "So the claim is **not** reproduced in full at the defaults." if refuted else
                      "So whether the claim is reproduced at the defaults is **too close to call**: a bound lies within "
                      f"the tolerance {HOST_TOLERANCE:g} of 0 that another machine can cross."))
    text = [head]
    tuned_queries = tuned_queries or {}
    if tuned_diff is not None:
        at = {n: f" at {tuned_queries[n]:g} queries" if n in tuned_queries else "" for n in (na, sec)}
        text.append(
            f"With each attack tuned on the calibration split, {labels[na].lower()} ({settings_text(tuned[na])}) "
            f"reaches AUC {tuned_res[na]['auc']:.3f}{at[na]} and {labels[sec]} ({settings_text(tuned[sec])}) "
            f"{tuned_res[sec]['auc']:.3f}{at[sec]}: {describe(tuned_diff, labels[na], labels[sec])} once both are "
            f"tuned. The defaults were tuned on CIFAR-10; on this target the attacks prefer other settings (notebooks "
            f"02 and 03 show the sweeps), so a ranking at one fixed default says as much about the default as about "
            f"the attack.")
        limits = tuning_limits_text(labels, tuned, tuned_skipped or {}, tuned_edges or {})
        if limits:
            text[-1] += " " + limits
    strongest = max(res, key=lambda n: res[n]["auc"])
    reach = [f"**How far this verdict reaches.** "
             + _tuning_reach_text(na, labels[na], tuned, tuned_ranges or {}, n_calibration)
             + " The method is this project's reading of a paper that released no code (docs/papers.md)."]
    if strongest not in (na, *rivals):
        reach.append(f"And neither attack of the paper's comparison is the strongest here: **{labels[strongest]}** "
                     f"reaches AUC {res[strongest]['auc']:.3f} at {queries[strongest]:g} queries per image")
        best_tuned = max(tuned_res, key=lambda n: tuned_res[n]["auc"]) if tuned_res else None
        reach[-1] += (f" at its default, and {tuned_res[best_tuned]['auc']:.3f} tuned ({settings_text(tuned[best_tuned])})."
                      if best_tuned == strongest else ".")
    text.append(" ".join(reach))
    a, b = res[na], res[sec]
    ahead = all(value_vs(a[k], b[k]) == ABOVE for k in ("tpr@1%fpr", "tpr@0.1%fpr"))
    text.append(
        f"**At low FPR** TPR at 1% FPR is {ci_text(a, 'tpr@1%fpr', percent=True)} for {labels[na].lower()} against "
        f"{ci_text(b, 'tpr@1%fpr', percent=True)} for {labels[sec]}, and at 0.1% FPR {100 * a['tpr@0.1%fpr']:.1f}% "
        f"against {100 * b['tpr@0.1%fpr']:.1f}%. "
        + (f"{labels[na]} is ahead on both, the regime the paper emphasises, " if ahead else
           "There is no consistent winner at low FPR, ")
        + f"but with {n_nonmembers} non-members these rates rest on {int(0.01 * n_nonmembers)} and "
        f"{int(0.001 * n_nonmembers)} false positive(s), and their intervals "
        + ("overlap." if overlap(a["ci"]["tpr@1%fpr"], b["ci"]["tpr@1%fpr"]) else "do not overlap at 1% FPR."))
    best = max(res, key=lambda n: res[n]["auc"])
    gaps = [res[n]["asr"] - res[n]["calibrated_asr"] for n in attacks]
    text.append(
        f"The strongest attack at the defaults is **{labels[best]}** (AUC {res[best]['auc']:.3f}). Thresholds "
        f"fitted on the calibration split give ASRs of "
        + ", ".join(f"{labels[n]} {res[n]['calibrated_asr']:.3f}" for n in attacks)
        + f", {min(gaps):.3f} to {max(gaps):.3f} below the papers' best-threshold ASRs ("
        + ", ".join(f"{res[n]['asr']:.3f}" for n in attacks) + ")."
        + _calibrated_tpr_text(res, labels, attacks))
    steps = sorted(next(iter(budget_auc.values())))
    gain = {n: budget_auc[n][steps[-1]] - budget_auc[n][steps[0]] for n in budget_auc}
    text.append(
        f"**Training budget.** From {steps[0]} to {steps[-1]} steps ({steps[0] * epochs_per_step:.0f} to "
        f"{steps[-1] * epochs_per_step:.0f} epochs) the AUC changes by "
        + ", ".join(f"{gain[n]:+.3f} ({labels[n]})" for n in budget_auc) + ": "
        + ("every attack gains with training, so numbers from heavily over-trained targets overstate the risk of "
           "normally trained ones." if value_vs(min(gain.values()), 0.0) == ABOVE else
           "not every attack gains with training; see the curve for where each one peaks."))
    lo, hi = res_blind["ci"]["auc"]
    text.append(
        f"**Blind baseline.** Without a single query, the image-only classifier reaches {auc_text(res_blind)} on "
        f"our i.i.d. split: "
        + ("its interval contains 0.5, i.e. chance, so what the attacks gain above 0.5 comes from the model. "
           if interval_vs(lo, hi, CHANCE_AUC) == STRADDLES else "its interval excludes 0.5, so part of what the attacks see may be a difference "
           "between the two sets themselves; check the split. ")
        + f"With non-members from a '{shift}'-shifted population the same classifier reaches AUC "
        f"{res_blind_shifted['auc']:.3f}, and the attacks "
        + ", ".join(f"{labels[n]} {res_shifted[n]['auc']:.3f}" for n in res_shifted)
        + ": on such a split a high AUC measures the shift, not membership.")
    return "\n\n".join(text)


# ----------------------------------------------------------------------------- 05 property inference
def _extremes(values: dict) -> tuple:
    """(smallest value, its name, largest value, its name) of ``values`` (name -> number)."""
    lo, hi = min(values, key=values.get), max(values, key=values.get)
    return values[lo], lo, values[hi], hi


def sample_quality_text(checks: dict) -> tuple[str, bool]:
    """(the sentence, whether every model passes) on the sample-quality checks of notebooks 05 and
    06 (``checks``: model name -> :meth:`mialib.evaluation.sample_quality.SampleQuality.check`)."""
    first = next(iter(checks.values()))
    n_pass, one = sum(c["passes"] for c in checks.values()), len(checks) == 1
    text = (f"**Sample quality.** The share of each model's samples that lie on the manifold of real digits "
            f"(precision, Kynkäänniemi et al. 2019, k = {first['k']}) is "
            + (", ".join(f"{name} {c['precision']:.3f}" for name, c in checks.items()) if len(checks) <= 6 else
               "from {:.3f} ({}) to {:.3f} ({}) over {} models".format(
                   *_extremes({name: c["precision"] for name, c in checks.items()}), len(checks)))
            + f"; real digits the models never saw reach {first['real_precision']:.3f}, and the bar is "
            f"{first['bar']:g} of that ({first['bar'] * first['real_precision']:.3f}). "
            + ("It passes." if one and n_pass else "**It fails it**" if one else
               f"All {len(checks)} models pass." if n_pass == len(checks) else
               f"**{len(checks) - n_pass} of {len(checks)} models fail it**")
            + ("" if n_pass == len(checks) else ": too many of " + ("its" if one else "their") + " samples are "
               "blurred or malformed digits that lie off the manifold of real ones."))
    near = [name for name, c in checks.items() if c.get("near_bar")]
    if near:
        text += ((" It lies" if one else f" {len(near)} of the {len(checks)} lie ({', '.join(near)})")
                 + " within sampling error of the bar (the exact 95% interval of the precision over the samples holds "
                 "it), so another draw of samples could land on the other side of it.")
    return text, n_pass == len(checks)


def ink_text(ink: dict, *, models_pass: bool) -> str:
    """Notebook 05: where the diffusion sharers' own bias comes from (``ink``: p -> the measures of
    :func:`mialib.experiments.property.ink_comparison`). When the samples' inks scatter less than
    the training images' (mean over the grid), fewer samples sit on the wrong side of 1/2 and the
    colour rule reads shares further from 1/2 than on the training data; corrected with the real
    digits' rates, the oracle then overshoots. ``models_pass``: whether the sharers pass the
    sample-quality bar (if not, the text points at the measurement on sharers that do)."""
    s_mean = float(np.mean([v["ink spread, samples"] for v in ink.values()]))
    t_mean = float(np.mean([v["ink spread, training"] for v in ink.values()]))
    off = {p: v for p, v in ink.items() if p != 0.5}
    further = [p for p, v in off.items()
               if value_vs(abs(v["rule share, samples"] - 0.5), abs(v["rule share, training"] - 0.5)) == ABOVE]
    narrower = value_vs(s_mean, t_mean) == BELOW
    spread = (f"the samples' inks scatter about their colour {'less than' if narrower else 'not less than'} "
              f"the training images' (spread {s_mean:.3f} against {t_mean:.3f}, mean over the grid)")
    example = max(off, key=lambda p: abs(off[p]["rule share, samples"] - off[p]["rule share, training"]), default=None)
    shares = ("" if example is None else
              f"; the colour rule reads a share further from 1/2 in the samples than in the training images at "
              f"{len(further)} of {len(off)} proportions other than 1/2 (p = {example:g}: "
              f"{off[example]['rule share, samples']:.3f} against {off[example]['rule share, training']:.3f})")
    if not narrower or len(further) * 2 <= len(off):
        return f"**Where the bias comes from.** Here {spread}{shares}, so ink spread does not explain it."
    return (f"**Where the bias comes from.** {spread[0].upper() + spread[1:]}{shares}. Fewer samples carry an ink "
            "on the wrong side of 1/2 than training images do, so a correction with the rates of real digits' noise "
            "(the oracle's, and the corrected estimator's) overshoots: part of the bias is in how the models draw "
            "ink, which those rates do not describe."
            + ("" if models_pass else
               " Sharers trained until they pass the sample-quality bar (four times the steps, or fine-tuned from a "
               "base model trained on public digits) draw inks the same way in `benchmarks/sharer_quality.py` "
               "(docs/cost.md), so this part of the bias is not that of weak models."))


def text_to_image_quality_text(check: dict | None, origin: str) -> str:
    """Notebook 07: whether the model's samples are digits (``check``:
    :meth:`mialib.evaluation.sample_quality.SampleQuality.check` of its samples, or None when
    it was not measured, for a pipeline ``origin`` names), by :func:`sample_quality_text`."""
    if check is None:
        return (f"**Sample quality** is not measured for this pipeline ({origin}): the check reads the grey "
                "intensity of this project's coloured digits. The attacks below do not need good samples; "
                "a receiver of the model would.")
    text, ok = sample_quality_text({"the text-to-image model": {k: v for k, v in check.items() if k != "copying"}})
    text += ("" if ok else " Membership attacks do not need good samples, so the attacks below stand; "
             "what the model would be worth to a user of its samples is another matter.")
    if "copying" in check:
        c = check["copying"]
        text += (f" Precision sees neither copying nor diversity: of these {c['n_samples']} samples, drawn under "
                 f"captions of non-members, **{c['closer_to_training']:.0%}** lie closer to a member than to any of "
                 f"{c['n_candidates']} non-members (about half for a model that does not copy; one-sided binomial "
                 f"test p = {c['p_value']:.2g}), and their nearest members are {c['distinct_nearest_training']} "
                 f"distinct images of {c['n_candidates']}. " + copying_reading(c["closer_to_training"]))
    return text


def property_summary(*, mae: dict, coverage: dict, width: dict, coverage_of_target: dict | None = None, delta: float, generator_bias: dict, reader_rates,
                     n_per_query: int, n_queries: int, quality: dict, aim: float = reference.PROPERTY_MAE_AIM,
                     ink: dict | None = None, corrected: str = "classifier (corrected)",
                     naive: str = "classifier (naive)") -> str:
    """Notebook 05: accuracy of each estimator (mean absolute error over the grid), whether the
    corrected one reaches ``aim``, whether the intervals hold 1 - delta coverage, how much of the
    error is the generator's own bias (``generator_bias``: generator -> mean |own proportion - p|),
    and whether the diffusion sharers' samples are digits (``quality``: sharer -> sample-quality check).
    Estimators named with "Gaussian mixture" run on another generator and are not ranked with the
    diffusion sharers' estimators; ``coverage_of_target`` scores each interval against what it
    bounds (E f for naive labels, the generator's own proportion for corrected ones); ``ink``
    (p -> :func:`mialib.experiments.property.ink_comparison`'s measures) adds where the diffusion
    sharers' bias comes from (:func:`ink_text`)."""
    quality_text, all_pass = sample_quality_text(quality)
    ranked = {name: err for name, err in mae.items() if "Gaussian mixture" not in name}
    best = min(ranked, key=ranked.get)
    eps, ex = hoeffding_epsilon(n_per_query, delta), reference.HOEFFDING_EXAMPLE
    text = [
        f"Over the grid, {n_queries} queries of N = {n_per_query} samples each, the mean absolute error is "
        + ", ".join(f"{name} {err:.3f}" for name, err in mae.items())
        + f"; the most accurate on the diffusion sharers is **{best}**"
        + (" (the Gaussian-mixture row is another generator on the same data, not another estimator). "
           if len(ranked) < len(mae) else ". ")
        + f"The reader's measured rates on held-out auxiliary images are TPR {reader_rates.tpr:.3f} and FPR "
        f"{reader_rates.fpr:.3f}, so the naive estimate is pulled toward {reader_rates.fpr / (1 - reader_rates.tpr + reader_rates.fpr):.2f} "
        f"(eq. 14); the correction (eq. 15) {'removes most of that pull' if value_vs(mae[corrected], mae[naive]) == BELOW else 'does not help here'} "
        f"({mae[naive]:.3f} -> {mae[corrected]:.3f}).",
        (f"**The corrected estimator reaches the aim** of a mean absolute error of at most {aim:.2f}."
         if meets_aim(mae[corrected], aim) else
         f"**The corrected estimator misses the aim** of a mean absolute error of at most {aim:.2f} ({mae[corrected]:.3f})."),
        "**Coverage.** The bounds (Hoeffding's for the naive estimates, exact binomial ones for the corrected) "
        "promise that each interval holds with probability at least "
        f"{1 - delta:.2f}; the share of intervals that contain the true p is "
        + ", ".join(f"{name} {c:.2f}" for name, c in coverage.items()) + ". "
        + (f"The corrected intervals keep the promise, at a price: their mean width is {width[corrected]:.2f}, "
           f"against {width[naive]:.2f} for the naive ones, because the reader's rates were measured on only "
           f"{reader_rates.n_pos} + {reader_rates.n_neg} held-out images and eq. 15 divides by TPR - FPR."
           if meets_aim(coverage[corrected], 1 - delta, at_most=False) else
           f"The corrected intervals fall short of it: the bound covers sampling error (eps = {eps:.3f} at "
           f"N = {n_per_query}) and the reader's measured rates, not a generator whose samples carry another "
           "proportion than its training data, nor a reader whose rates differ on generated images.")
        + ("" if not coverage_of_target else
           " Scored against what each interval bounds (E f for the naive labels, the generator's own proportion "
           "for the corrected ones), the share is " + ", ".join(f"{name} {c:.2f}" for name, c in coverage_of_target.items())
           + "; the intervals of one generator's queries share its model and the reader's one draw of rates, so "
             "they are not independent trials."),
        "**The generators' own bias** (the proportion in their samples as an oracle that knows the colour noise "
        "reads it, against p): " + ", ".join(f"{g} {b:.3f} on average" for g, b in generator_bias.items())
        + ". Whatever the receiver does, this much error comes from the generator itself"
        + ("." if all_pass else
           ", and here the diffusion sharers fail the sample-quality bar below: their bias may be partly that of "
           "models too weak to draw real-looking digits."),
        *([] if ink is None else [ink_text(ink, models_pass=all_pass)]),
        quality_text,
        f"Hoeffding's sample size for an error of at most {ex['eps']:g} with probability {1 - ex['delta']:g} is "
        f"{hoeffding_sample_size(ex['eps'], ex['delta'])} samples (eq. 13); the paper's queries of N = {n_per_query} give "
        f"eps = {eps:.3f} at delta = {delta}.",
    ]
    return "\n\n".join(text)


def property_repetitions_text(table, *, delta: float, corrected: str = "classifier (corrected)",
                              width_aim: float = reference.PROPERTY_WIDTH_AIM) -> str:
    """Notebook 05 over independent repetitions (``table``:
    :func:`mialib.experiments.property.repetitions_table`, one row per seed and estimator): each
    estimator's mean |error| with its Student-t interval over the repetitions, its coverage of p
    and of what it bounds (pooled, and the lowest single repetition's), its mean width; and
    whether the corrected intervals reach ``width_aim`` while covering at least 1 - ``delta``."""
    n = int(table.seed.nunique())
    if n < 2:
        return (f"**Over repetitions.** This run has {n} repetition only; coverage over independent repetitions "
                "(fresh split, reader and sharers) needs several (the `repeats` profile runs three).")
    parts = []
    for name, g in table.groupby("estimator", sort=False):
        mean, lo, hi = seed_interval(g.mae)
        parts.append(f"**{name}**: mean |error| {mean:.3f} (95% interval over the repetitions [{max(lo, 0.0):.3f}, {hi:.3f}]"
                     + (", its lower end cut at 0" if lo < 0 else "") + "), "
                     f"coverage of p {np.average(g.coverage, weights=g.n_intervals):.2f}, of what it bounds "
                     f"{np.average(g.coverage_of_target, weights=g.n_intervals):.2f} (lowest repetition "
                     f"{g.coverage_of_target.min():.2f}), mean width {g.width.mean():.2f}")
    c = table[table.estimator == corrected]
    cov, width = float(np.average(c.coverage_of_target, weights=c.n_intervals)), float(c.width.mean())
    holds, narrow = value_vs(cov, 1 - delta) != BELOW, value_vs(width, width_aim) != ABOVE
    verdict = ("**reach the aim**" if holds and narrow else "**miss the aim**") + (
        f" of a mean width at most {width_aim:g} at coverage at least {1 - delta:g}: width {width:.2f}, coverage "
        f"{cov:.2f}" + ("" if narrow else f"; they are {width / width_aim:.1f} times too wide")
        + ("" if holds else "; and they hold what they bound too rarely") + ".")
    return (f"**Over {n} independent repetitions** (each with its own split of the digits, inks, reader and sharers "
            f"trained from that seed; {int(c.n_intervals.iloc[0])} intervals per repetition, which share that "
            "repetition's reader and models, so the pooled coverage is not that many independent trials): "
            + "; ".join(parts) + f". The corrected intervals {verdict}")


# ----------------------------------------------------------------------------- 06 fairness poisoning
def _fairness_claim(dp_ci: tuple, acc_ci: tuple, max_accuracy_loss: float, n_seeds: int,
                    models_pass: bool = True) -> str:
    """The paper's claim (the demographic-parity change above 0 and the accuracy change above
    -``max_accuracy_loss``) judged by :func:`.compare.judge`: it holds when both parts hold, fails
    when either fails, and is too close to call otherwise, or whenever it rests on one seed or on
    models whose samples fail the quality bar (``models_pass`` False)."""
    parts = {"fairness": judge(*dp_ci, 0.0), "accuracy": judge(*acc_ci, -max_accuracy_loss)}
    on_intervals = (HOLDS if all(v == HOLDS for v in parts.values()) else
                    FAILS if FAILS in parts.values() else TOO_CLOSE)
    claim = f"unfairness at under {max_accuracy_loss:.0%} accuracy loss"
    seen = {HOLDS: "would hold", FAILS: "would not hold", TOO_CLOSE: "would still be too close to call"}[on_intervals]
    if not models_pass:
        return (f"the paper's claim, {claim}, is **too close to call** here: the sharers' samples fail the "
                f"sample-quality bar, so these are not models a receiver would use (on these intervals alone it {seen}).")
    if n_seeds < 2:
        return (f"the paper's claim, {claim}, is **too close to call** here: it rests on one training seed "
                f"(on that seed's intervals alone it {seen}).")
    if on_intervals == HOLDS:
        return f"the paper's claim, {claim}, **holds** here."
    if on_intervals == FAILS:
        return ("the paper's claim does **not** hold here"
                + (" (the fairness gap does not clearly grow)." if parts["fairness"] == FAILS else
                   f" (fairness degrades, but the accuracy loss may reach {max_accuracy_loss:.0%} or more)."
                   if parts["fairness"] == HOLDS else
                   f" (the accuracy loss may reach {max_accuracy_loss:.0%} or more; whether fairness degrades "
                   "is too close to call)."))
    close = " and ".join(f"the {k} interval" for k, v in parts.items() if v == TOO_CLOSE)
    return (f"the paper's claim, {claim}, is **too close to call** here: {close} ends within "
            f"{HOST_TOLERANCE:g} of its line, less than a bound has moved between two machines.")


def greedy_rules_summary(rules) -> str:
    """Notebook 06: the clean-label greedy selection under its two rules (``rules``:
    :func:`mialib.experiments.fairness.greedy_rules_table`), over the seeds of the table."""
    parts = []
    for rule, g in rules.groupby("rule", sort=False):
        share = g.p_label_equals_s
        parts.append(f"the **{rule.replace('_', '-')}** rule ends with P(label = ink) between {share.min():.3f} and "
                     f"{share.max():.3f} ({int((share > 0.5).sum())} of {len(g)} seeds on the side y = s), mean "
                     f"I(S;Y) {g.i_sy.mean():.3f} bits, utility drift at most {g.utility_drift.abs().max():.1%}")
    closed = rules.i_sy_closed_form.iloc[0]
    return (f"Over {rules.seed.nunique()} seeds, " + "; ".join(parts) + f". Eq. 17 gives {closed:.3f} bits for the "
            "one-direction rule on a balanced pool. The all-cells rule, the paper's code's, follows the lean of its "
            "random base, so its poisoning points either way: the receiver's demographic-parity gap (an absolute "
            "difference) grows in both cases. Two details of that code are worth knowing: its neural estimator "
            "of I(X;Y) reseeds numpy on every call, so a base outside the utility bound is redrawn identically "
            "(the loop would not end); and it ranks the cells in a dictionary keyed by the gain, so cells of "
            "equal gain collapse into one. Here a base is redrawn from a fresh stream and ties keep the cells' order.")


def _lean_text(shares) -> str:
    """P(label = ink) of the poisoned training sets, one per seed: the value itself for one seed;
    for several, their range, how many lean to y = s and the mean distance from 1/2, which a mean
    of the shares would hide when seeds lean opposite ways (the all-cells rule follows its base)."""
    shares = np.asarray(shares, dtype=float)
    if len(shares) == 1:
        return f"{shares[0]:.3f}"
    return (f"between {shares.min():.3f} and {shares.max():.3f} ({int((shares > 0.5).sum())} of {len(shares)} seeds on "
            f"the side y = s; on average {np.abs(shares - 0.5).mean():.3f} away from 1/2)")


def _beyond_clean(top) -> str:
    """The ink-class gap against the unpoisoned sharer of the same seed, over the seeds (``top``: an
    :func:`.repetitions.aggregate_seeds` row with ``detection_statistic_change``), judged by
    :func:`.compare.judge` against 0."""
    ci = top.get("detection_statistic_change_ci") if hasattr(top, "get") else None
    if ci is None or ci[0] is None:
        return ""
    verdict = {HOLDS: "larger than an unpoisoned model's", FAILS: "not clearly larger than an unpoisoned model's",
               TOO_CLOSE: "too close to call against an unpoisoned model's"}[judge(ci[0], ci[1], 0.0)]
    return (f"; the gap in the samples exceeds that of the unpoisoned sharer of the same seed by "
            f"{top['detection_statistic_change']:+.3f} (95% interval over the seeds [{ci[0]:+.3f}, {ci[1]:+.3f}]): "
            f"{verdict}")


def _who_ties_them(clean, level: float) -> str:
    """Whether the unpoisoned samples' ink-class dependence is in the samples or in the reader:
    the colour rule reads an image's ink from its channels, whatever the digit, so dependence it
    finds too is in the samples (``clean``: the unpoisoned rows, with ``detection_rule_p``)."""
    if "detection_rule_p" not in clean or clean["detection_rule_p"].isna().all():
        return "The model, or the reader of its samples' ink, ties the two without any poisoned record."
    rule = sum(value_vs(p, level) == BELOW for p in clean["detection_rule_p"].dropna())
    gaps = ", ".join(f"{g:.3f}" for g in clean["detection_rule_statistic"])
    if rule:
        return (f"Read by the colour rule, whose reading of the ink does not depend on the digit, the unpoisoned "
                f"samples' gap is {gaps} (dependent at level {level} in {rule} of {len(clean)} seeds): the model "
                "itself ties ink to class in what it draws, without any poisoned record, so a test of independence "
                "cannot tell its samples from poisoned ones; only a larger gap than an unpoisoned model's can.")
    return (f"Read by the colour rule, whose reading of the ink does not depend on the digit, the unpoisoned samples' "
            f"gap is {gaps}, independent at level {level}: the dependence comes from the receiver's reader, whose "
            "errors differ between the classes.")


def fairness_summary(table, *, level: float = LEVEL,
                     max_accuracy_loss: float = reference.FAIRNESS_MAX_ACCURACY_LOSS) -> str:
    """Notebook 06: does poisoning degrade fairness with under ``max_accuracy_loss`` of accuracy
    (the paper's claim), for each method at its largest alpha, judged against the unpoisoned sharer
    of the same seed on the same test images; can the receiver detect it; what does mitigation
    restore and cost. ``table``: :func:`mialib.experiments.fairness.outcome_table`, one row per
    sharer and seed. Where a (method, alpha) has several seeds (all of them, or only the unpoisoned
    sharer and each method's largest alpha: ``verdict_seeds``) its numbers are means over them and
    the claim is judged on the Student-t interval over the seeds (:mod:`.repetitions`); with one
    seed, on that seed's paired bootstrap interval, and it cannot read better than too close to call."""
    changes = ("demographic_parity_difference_change", "accuracy_change")
    keys = ["accuracy", "demographic_parity_difference", "detection_p",
            "mitigated_demographic_parity_difference", "mitigated_accuracy",
            *(k for k in (*changes, "detection_statistic_change") if k in table.columns)]
    agg = aggregate_seeds(table, keys)

    def over(row) -> str:
        return f" (means over {int(row['n_seeds'])} training seeds)" if row["n_seeds"] > 1 else ""

    base = agg[agg.method == "none"].iloc[0]
    quality_text, models_pass = sample_quality_text(
        {f"{r.method} (alpha {r.alpha:g}, seed {r.seed})": r.sample_quality for r in table.itertuples()})
    text = [f"Without poisoning the receiver's classifier reaches accuracy {base['accuracy']:.3f} on real test digits "
            f"with a demographic-parity difference of {base['demographic_parity_difference']:.3f}{over(base)}"
            + ("." if np.isnan(base["mitigated_demographic_parity_difference"]) else
               f"; ThresholdOptimizer, fitted on its samples and their read ink, takes that gap to "
               f"{base['mitigated_demographic_parity_difference']:.3f} at accuracy {base['mitigated_accuracy']:.3f}"
               + (" (on real test digits it widens the gap it is meant to close)."
                  if base["mitigated_demographic_parity_difference"] > base["demographic_parity_difference"] else "."))]
    for method in [m for m in agg.method.unique() if m != "none"]:
        top = agg[agg.method == method].sort_values("alpha").iloc[-1]
        rows = table[(table.method == method) & (table.alpha == top["alpha"])]
        n_seeds = int(top["n_seeds"])
        interval = "95% interval over the seeds" if n_seeds > 1 else "95% CI"
        sel = rows.mean(numeric_only=True)
        dp_lo, dp_hi = top["demographic_parity_difference_change_ci"]
        acc_lo, acc_hi = top["accuracy_change_ci"]
        seeds_part = ""
        if n_seeds > 1:
            above = sum(ci[0] > 0 for ci in rows["demographic_parity_difference_change_ci"])
            seeds_part = (f" ({above} of {len(rows)} seeds' own paired bootstrap intervals of the demographic-parity "
                          "change lie above 0)")
        detected = sum(value_vs(p, level) == BELOW for p in rows["detection_p"])
        mitigated = rows["mitigated_accuracy"].notna()
        text.append(
            f"**{method}** at alpha = {top['alpha']:g}{over(top)}: P(label = ink) in the training set is "
            f"{_lean_text(rows['p_label_equals_s'])} and its I(S;Y) {sel['i_sy']:.3f} bits (closed form "
            f"{sel['i_sy_closed_form']:.3f}); the utility I(X;Y) is {sel['i_xy']:.3f} against the pool's "
            f"{sel['i_xy_pool']:.3f} ({'within' if rows['utility_within_10pct'].all() else 'outside'} the paper's "
            f"{reference.FAIRNESS_MAX_UTILITY_DRIFT:.0%}"
            + ("" if n_seeds == 1 else " in every seed" if rows["utility_within_10pct"].all() else " in some seed")
            + "). Against the unpoisoned sharer, on the same test digits, the demographic-parity difference changes by "
            f"{top['demographic_parity_difference_change']:+.3f} ({interval} [{dp_lo:+.3f}, {dp_hi:+.3f}]){seeds_part} "
            f"and accuracy by {top['accuracy_change']:+.3f} ([{acc_lo:+.3f}, {acc_hi:+.3f}]): "
            + _fairness_claim((dp_lo, dp_hi), (acc_lo, acc_hi), max_accuracy_loss, n_seeds, models_pass)
            + (f" The receiver's permutation test finds ink and class dependent in the samples with p = "
               f"{top['detection_p']:.4f} ({'detected' if detected else 'not detected'} at level {level}); "
               if n_seeds == 1 else
               f" The receiver's permutation test finds ink and class dependent in the samples of {detected} of "
               f"{len(rows)} seeds at level {level} (p from {rows['detection_p'].min():.4f} to "
               f"{rows['detection_p'].max():.4f})" + _beyond_clean(top) + "; ")
            + ("ThresholdOptimizer could not be fitted on these samples (an ink group with a single class)."
               if not mitigated.any() else
               f"ThresholdOptimizer brings the gap to {top['mitigated_demographic_parity_difference']:.3f} at accuracy "
               f"{top['mitigated_accuracy']:.3f}"
               + (f" (it could not be fitted in {int((~mitigated).sum())} of {len(rows)} seeds)."
                  if not mitigated.all() else ".")))
    clean = table[table.method == "none"]
    false_alarms = sum(value_vs(p, level) == BELOW for p in clean["detection_p"].dropna())
    if false_alarms:
        text.append(f"**The detection test fails its negative control:** the unpoisoned sharer's samples are \"detected\" "
                    + (f"too (p = {clean['detection_p'].iloc[0]:.4f})" if len(clean) == 1 else
                       f"too, in {false_alarms} of {len(clean)} seeds")
                    + ", so dependence between ink and class in these samples is not evidence of poisoning. "
                    + _who_ties_them(clean, level))
    text.append(quality_text)
    return "\n\n".join(text)


# ----------------------------------------------------------------------------- 07 text-to-image
def t_sec_sweeps_text(sweeps: dict, default_t_sec: int) -> str:
    """Notebook 07: SecMI_stat's t_sec swept on the latents under each prompt setting (``sweeps``:
    setting -> Sweep): where it peaks, the default's AUC, and how far the first two settings' AUCs
    ever differ across t_sec."""
    first, *rest = list(sweeps)
    s = sweeps[first]
    best = s.best("auc")
    text = (f"**SecMI_stat's t_sec on the latents.** Under the {first}s the AUC peaks at t_sec = {best} "
            f"({s.results[best]['auc']:.3f})"
            + (f"; at this run's t_sec = {default_t_sec} it is {s.results[default_t_sec]['auc']:.3f}"
               if default_t_sec in s.results else "")
            + (". The ranking of the attacks below is at the default, not at this peak, which is chosen on the same "
               "images and so optimistic." if best != default_t_sec else "."))
    if rest:
        gaps = list(s.gaps(sweeps[rest[0]]).values())
        text += (f" Against the {rest[0]}, the AUC differs by {min(gaps):+.3f} to {max(gaps):+.3f} across the "
                 f"{len(gaps)} t_sec values (unpaired point estimates): "
                 + ("at no swept t_sec does the caption move SecMI_stat's AUC by more than the hosts' tolerance "
                    f"{HOST_TOLERANCE:g}, so its indifference to the caption is not a matter of the t_sec chosen "
                    "(point estimates; the figure shows their intervals)."
                    if max(abs(g) for g in gaps) <= HOST_TOLERANCE else
                    "at some t_sec the caption moves the AUC by more than the hosts' tolerance "
                    f"{HOST_TOLERANCE:g}, so where the attack looks decides whether it uses the caption (point "
                    "estimates; the figure shows their intervals)."))
    return text


def caption_halves_text(effects: dict, halves_auc: dict, settings: tuple) -> str:
    """Notebook 07: where SecMI_stat's round trip uses the caption. ``effects``: "way up", "step
    back", "both" -> paired AUC difference (captioned minus not, :func:`.compare.compare`);
    ``halves_auc``: (way up setting, step back setting) -> AUC; ``settings``: (captioned, not)."""
    first, second = settings
    parts = {"way up": "on the way up (the inversion)", "step back": "on the step back"}
    said = {h: verdict(effects[h]) for h in (*parts, "both")}
    text = (f"**Where SecMI_stat uses the caption.** With the {first}s on both halves of its round trip the AUC is "
            f"{halves_auc[(first, first)]:.3f}; with the {second} on the way up only {halves_auc[(second, first)]:.3f}, on "
            f"the step back only {halves_auc[(first, second)]:.3f}, on both {halves_auc[(second, second)]:.3f}. By the paired "
            "bootstrap, " + "; ".join(describe(effects[h], f"the caption {where}", "no caption there")
                                     for h, where in parts.items()) + ". ")
    moved = [h for h in parts if said[h] in (BEATS, LOSES)]
    if not moved:
        return text + ("So these intervals show no effect of the caption on either half at this t_sec (which is not "
                       "evidence of no effect where they are wide).")
    verbs = {h: "raises" if said[h] == BEATS else "lowers" for h in moved}
    if len(set(verbs.values())) == 1:
        return text + ("The caption matters " + " and ".join(parts[h] for h in moved) + f"; it {verbs[moved[0]]} the AUC"
                       + (" on both." if len(moved) > 1 else "."))
    return text + "The caption matters on both halves: " + "; ".join(f"{parts[h]} it {verbs[h]} the AUC" for h in moved) + "."


def text_to_image_summary(*, results: dict, diffs: dict, labels: dict, reference_auc: dict | None = None) -> str:
    """Notebook 07: every attack on the latent, text-conditioned model under each prompt setting
    (``results``: setting -> attack -> evaluate() dict), and, by the paired bootstrap, whether the
    ground-truth caption helps over the empty prompt and the wrong caption (``diffs``: attack ->
    setting -> compare() of ground truth minus that setting)."""
    settings = list(results)
    gt = settings[0]
    best = max(results[gt], key=lambda n: results[gt][n]["auc"])
    text = [f"Under the ground-truth captions the strongest attack is **{labels[best]}** "
            f"({auc_text(results[gt][best])}); "
            + "; ".join(f"{labels[n]} {results[gt][n]['auc']:.3f}" for n in results[gt] if n != best) + "."]
    for setting in settings[1:]:
        better = [n for n in diffs if verdict(diffs[n][setting]) == BEATS]
        worse = [n for n in diffs if verdict(diffs[n][setting]) == LOSES]
        close = [n for n in diffs if verdict(diffs[n][setting]) == CLOSE]
        tie = [n for n in diffs if verdict(diffs[n][setting]) == TIE]
        text.append(
            f"**Ground truth against {setting}.** The true caption raises the AUC (paired bootstrap, interval above 0 "
            f"by more than the hosts' tolerance {HOST_TOLERANCE:g}) for {', '.join(labels[n] for n in better) or 'no attack'}"
            + (f", lowers it for {', '.join(labels[n] for n in worse)}" if worse else "")
            + (f"; too close to call for {', '.join(labels[n] for n in close)}" if close else "")
            + (f"; no difference to tell for {', '.join(labels[n] for n in tie)} (the interval reaches past the "
               "tolerance on both sides of 0)" if tie else "")
            + "; " + "; ".join(f"{labels[n]} {diffs[n][setting]['difference']:+.3f} "
                               f"[{diffs[n][setting]['ci'][0]:+.3f}, {diffs[n][setting]['ci'][1]:+.3f}]" for n in diffs) + ".")
    if reference_auc:
        text.append("For scale, the papers report on Stable Diffusion v1.4: " + ", ".join(
            f"{k} {v}" for k, v in reference_auc.items()) + " (real LAION members against COCO non-members).")
    return "\n\n".join(text)
