"""The notebooks' composite figures, one function each, returning a matplotlib figure built from
a run's numbers with the helpers of :mod:`.plots`. A notebook calls one of these and saves the
figure with ``run.save_fig``; it draws nothing itself."""

from __future__ import annotations

import itertools

import numpy as np
import torch

from . import plots, reference
from .repetitions import aggregate_seeds


def _subplots(*args, **kwargs):
    import matplotlib.pyplot as plt

    return plt.subplots(*args, **kwargs)


# ----------------------------------------------------------------------------- 00 and 01
def examples(images, nrow: int, title: str):
    """A grid of images, ``nrow`` per row."""
    rows = int(np.ceil(len(images) / nrow))
    fig, ax = _subplots(figsize=(6, 0.6 * rows + 0.4))
    plots.image_grid(ax, images, nrow=nrow, title=title)
    return fig


def class_proportions(balance):
    """Bars of each class's share in each part of a split (:class:`mialib.data.splits.LabelBalance`);
    for a data set without labels, a panel that says the balance cannot be checked."""
    fig, ax = _subplots(figsize=(7, 3))
    if not balance.checked:
        ax.text(0.5, 0.5, "this data set has no class labels: the class balance of the parts cannot be checked",
                ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()
        return fig
    counts = balance.counts
    width = 0.8 / len(counts)
    for i, (name, row) in enumerate(zip(balance.names, counts)):
        ax.bar(np.arange(counts.shape[1]) + i * width, row / row.sum(), width, label=name)
    ax.set(xticks=np.arange(counts.shape[1]) + 0.4 - width / 2, xticklabels=balance.classes,
           xlabel="class", ylabel="fraction of the part",
           title=f"class proportions per part ($\\chi^2$ homogeneity p = {balance.p_value:.3f})")
    ax.legend(fontsize=8, ncol=2)
    return fig


def loss_curve(record: dict):
    """The training loss of a model's cache record, on a log scale."""
    steps, losses = np.array(record["loss_curve"]).T
    epochs = record["steps"] * record["train"]["batch_size"] / record["n_training_images"]
    fig, ax = _subplots(figsize=(6, 3))
    ax.plot(steps, losses)
    ax.set(yscale="log", xlabel="training step", ylabel="denoising loss (MSE)",
           title=f"training loss ({record['n_training_images']} images, {epochs:.0f} epochs)")
    return fig


def loss_curves(curves: dict, note: str = "no training record"):
    """One panel per trained part (label -> [(step, loss)]), each on a log scale; with no curve
    (e.g. a model loaded from a folder) one panel that says ``note``."""
    fig, axes = _subplots(1, max(1, len(curves)), figsize=(4.5 * max(1, len(curves)), 3), squeeze=False)
    if not curves:
        axes[0, 0].text(0.5, 0.5, note, ha="center", va="center", transform=axes[0, 0].transAxes)
        axes[0, 0].set_axis_off()
    for ax, (label, curve) in zip(axes[0], curves.items()):
        steps, losses = np.array(curve, dtype=float).T
        ax.plot(steps, losses)
        ax.set(yscale="log", xlabel="training step", ylabel="loss", title=label)
    return fig


def samples_vs_nearest(samples, training, nearest, show: int = 12):
    """Generated images above their nearest training image and nearest non-member
    (:class:`mialib.evaluation.memorisation.NearestImages`)."""
    show = min(show, len(samples))
    fig, axes = _subplots(3, 1, figsize=(0.7 * show + 1, 3.6))
    plots.image_grid(axes[0], samples[:show], nrow=show, title="generated")
    plots.image_grid(axes[1], training[nearest.training_idx[:show]], nrow=show, title="nearest training image")
    plots.image_grid(axes[2], nearest.reference_nonmembers[nearest.nonmember_idx[:show]], nrow=show,
                     title="nearest non-member")
    return fig


def nearest_distances(nearest):
    """Histograms of each sample's distance to its nearest training image and non-member."""
    fig, ax = _subplots(figsize=(6, 3))
    plots.plot_score_hist(ax, nearest.training_dist.numpy(), nearest.nonmember_dist.numpy(),
                          xlabel="L2 distance of a sample to its nearest image", bins=30,
                          labels=("to nearest training image", "to nearest non-member"))
    return fig


# ----------------------------------------------------------------------------- 02 and 03
def score_histogram(member_scores, nonmember_scores, xlabel: str, title: str, log_x: bool = False):
    fig, ax = _subplots(figsize=(6, 3))
    plots.plot_score_hist(ax, np.asarray(member_scores), np.asarray(nonmember_scores), xlabel=xlabel, log_x=log_x)
    ax.set_title(title)
    return fig


def error_maps(maps_members, maps_nonmembers, t_sec: int):
    """|x^ - x~| of a few members and non-members on one colour scale (clipped at the 99th
    percentile), each labelled with its t-error."""
    few = len(maps_members)
    vmax = float(torch.quantile(torch.cat([maps_members, maps_nonmembers]).flatten(), 0.99))
    fig, axes = _subplots(2, few, figsize=(1.1 * few, 2.6), squeeze=False)
    for row, (maps, name) in enumerate([(maps_members, "member"), (maps_nonmembers, "non-member")]):
        for j in range(few):
            axes[row, j].imshow(maps[j].mean(0), cmap="magma", vmin=0, vmax=vmax)
            axes[row, j].set_axis_off()
            axes[row, j].set_title(f"{name}\n{maps[j].pow(2).sum():.1e}", fontsize=7)
    fig.suptitle(f"|x^ - x~| at t_sec = {t_sec} (under each label: its t-error)", fontsize=9, y=1.06)
    return fig


def sweep_panels(sweep, t_mark: int | None = None, keys=(("auc", "AUC"), ("tpr@1%fpr", "TPR at 1% FPR")),
                 title: str = ""):
    """One panel per metric of a sweep, with its 95% band and the default marked."""
    fig, axes = _subplots(1, len(keys), figsize=(4.5 * len(keys), 3.2))
    for ax, (key, label) in zip(np.atleast_1d(axes), keys):
        plots.plot_sweep(ax, sweep, key, band_label="95% CI")
        if t_mark is not None:
            ax.axvline(t_mark, color="k", ls=":", lw=0.8, label=f"{sweep.parameter} = {t_mark}")
        ax.set(ylabel=label, title=f"{title} {label} against {sweep.parameter}".strip())
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def sweeps_overlay(sweeps: dict, key: str = "auc", label: str = "AUC", t_mark: int | None = None, title: str = ""):
    """Several sweeps of one parameter on one axis (``sweeps``: label -> Sweep), each with its 95%
    band, and the default marked."""
    fig, ax = _subplots(figsize=(5.5, 3.6))
    for name, sweep in sweeps.items():
        plots.plot_sweep(ax, sweep, key, label=name)
    if t_mark is not None:
        ax.axvline(t_mark, color="k", ls=":", lw=0.8, label=f"default {next(iter(sweeps.values())).parameter} = {t_mark}")
    ax.set(ylabel=label, title=title)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def noise_grid(images, noises, spreads, t: int, m: int, n_members: int):
    """Each image followed by its K predicted noises (one colour scale), labelled with its spread."""
    n, K = noises.shape[:2]
    lim = float(noises.abs().quantile(0.99))
    fig, axes = _subplots(n, K + 1, figsize=(1.1 * (K + 1) + 1.2, 1.1 * n), squeeze=False)
    for r in range(n):
        axes[r, 0].imshow(images[r].mean(0), cmap="gray", vmin=-1, vmax=1)
        axes[r, 0].text(-0.15, 0.5, f"{'member' if r < n_members else 'non-member'}\nC = {spreads[r]:.3g}",
                        fontsize=8, ha="right", va="center", transform=axes[r, 0].transAxes)
        for i in range(K):
            axes[r, i + 1].imshow(noises[r, i].mean(0), cmap="RdBu_r", vmin=-lim, vmax=lim)
            if r == 0:
                axes[r, i + 1].set_title(f"e_{i} (t = {t - i * m})", fontsize=7)
    for ax in axes.flat:
        ax.set_axis_off()
    return fig


def spread_by_step(distances_members, distances_nonmembers, steps):
    """Median and interquartile band of each prediction's distance from the image's mean
    prediction, step by step ([N, K] arrays)."""
    fig, ax = _subplots(figsize=(5.5, 3.2))
    for d, name in [(distances_members, "members"), (distances_nonmembers, "non-members")]:
        q25, q50, q75 = np.percentile(np.asarray(d), [25, 50, 75], axis=0)
        ax.plot(steps, q50, "o-", label=name)
        ax.fill_between(steps, q25, q75, alpha=0.25)
    ax.invert_xaxis()
    ax.set(xlabel="timestep of the prediction", ylabel="||e_i - mean_j e_j||",
           title="Distance of each noise prediction from the image's mean prediction")
    ax.legend()
    return fig


def ablation_panels(sweeps: list, title: str):
    """Rows AUC and TPR at 1% FPR, one column per (sweep, x label, log x); the paper's K
    ablation in grey where a sweep is over K."""
    fig, axes = _subplots(2, len(sweeps), figsize=(3.2 * len(sweeps), 6), sharey="row", squeeze=False)
    paper_K = reference.ablation("noise_aggregation/K_tpr@1%fpr")
    for row, (key, label) in enumerate([("auc", "AUC"), ("tpr@1%fpr", "TPR at 1% FPR")]):
        for ax, (sweep, xlabel, log_x) in zip(axes[row], sweeps):
            plots.plot_sweep(ax, sweep, key, xlabel=xlabel, log_x=log_x)
            if sweep.parameter == "K" and key == "tpr@1%fpr":
                ax.plot(list(paper_K), list(paper_K.values()), "s--", color="gray", label="paper, CIFAR-10")
                ax.legend(fontsize=8)
        axes[row, 0].set_ylabel(label)
    fig.suptitle(title)
    return fig


# ----------------------------------------------------------------------------- 04
def auc_vs_queries(results: dict, queries: dict, labels: dict, curves: list):
    """Each attack's AUC (with its interval) at its queries per image, and curves of attacks
    along their own cost knob with their 95% bands: ``curves`` is a list of (label, queries list,
    AUC list, colour, lower bounds, upper bounds), as :func:`mialib.experiments.comparison.query_curve`
    gives them."""
    fig, ax = _subplots(figsize=(6, 4))
    for label, xs, ys, colour, lo, hi in curves:
        ax.plot(xs, ys, "--", color=colour, alpha=0.7, label=label)
        ax.fill_between(xs, lo, hi, color=colour, alpha=0.15)
    for i, n in enumerate(results):
        r = results[n]
        ax.plot(queries[n], r["auc"], "o", ms=8, color=f"C{i}", label=labels[n])
        ax.errorbar(queries[n], r["auc"], yerr=np.abs(np.array(r["ci"]["auc"])[:, None] - r["auc"]), color="k", lw=0.8)
    ax.set(xscale="log", xlabel="model queries per image (log)", ylabel="AUC", title="AUC against query budget")
    ax.legend(fontsize=7, loc="lower right")
    return fig


def auc_vs_budget(budget_auc: dict, labels: dict, target_steps: int, epochs_per_step: float,
                  intervals: dict | None = None):
    """AUC of each attack against the training budget (steps, log scale), epochs on top, with 95%
    bands where ``intervals`` (attack -> steps -> (low, high)) gives them."""
    fig, ax = _subplots(figsize=(6.5, 4))
    for i, (n, by_steps) in enumerate(budget_auc.items()):
        ax.plot(list(by_steps), list(by_steps.values()), "o-", color=f"C{i}", label=labels[n])
        if intervals and n in intervals:
            lo, hi = np.array([intervals[n][s] for s in by_steps]).T
            ax.fill_between(list(by_steps), lo, hi, color=f"C{i}", alpha=0.15)
    steps = sorted(next(iter(budget_auc.values())))
    ax.axhline(0.5, color="k", lw=0.8, ls=":")
    ax.axvline(target_steps, color="gray", lw=0.8, ls="--", label=f"the target above ({target_steps} steps)")
    ax.set(xscale="log", xlabel="training steps (log scale)", ylabel="AUC", title="AUC against training budget")
    ax.set_xticks(steps, [str(s) for s in steps])
    ax.minorticks_off()
    top = ax.secondary_xaxis("top", functions=(lambda s: s * epochs_per_step, lambda e: e / epochs_per_step))
    top.set_xticks([s * epochs_per_step for s in steps], [f"{s * epochs_per_step:.0f}" for s in steps])
    top.minorticks_off()
    top.set_xlabel("epochs over the training images")
    ax.legend(fontsize=7)
    return fig


def calibration_tuning(path: dict, chosen: dict, labels: dict, skipped: dict | None = None):
    """The calibration AUC of every value tried while tuning (``path``: attack -> {parameter:
    {value: AUC}}, :class:`mialib.experiments.comparison.Tuning`), one row per attack and one
    panel per parameter in the order they were tuned, the chosen value (``chosen``: attack ->
    {parameter: value}) starred. Values the tuning could not try (``skipped``: attack ->
    {parameter: {value: why}}) follow the tried ones, crossed at the foot of the panel."""
    rows, skipped = list(path), skipped or {}
    if not rows:
        raise ValueError("no attack was tuned: nothing to draw")
    cols = max(len(path[n]) for n in rows)
    fig, axes = _subplots(len(rows), cols, figsize=(2.8 * max(cols, 2), 2.3 * len(rows) + 0.6), squeeze=False,
                          sharey="row", layout="constrained")
    for r, name in enumerate(rows):
        for c in range(cols):
            ax = axes[r][c]
            if c >= len(path[name]):
                ax.set_visible(False)
                continue
            parameter, aucs = list(path[name].items())[c]
            missed = list(skipped.get(name, {}).get(parameter, {}))
            xs = np.arange(len(aucs))
            ax.plot(xs, list(aucs.values()), "o-", color=f"C{r}")
            best = list(aucs).index(chosen[name][parameter])
            ax.plot([best], [aucs[chosen[name][parameter]]], "*", ms=13, color="k", label="chosen")
            if missed:
                foot = min(aucs.values())
                ax.plot(len(aucs) + np.arange(len(missed)), [foot] * len(missed), "x", ms=9, color="0.5",
                        label="could not be tried")
            ax.set_xticks(np.arange(len(aucs) + len(missed)),
                          [str(v) for v in aucs] + [f"{v}\n(skipped)" for v in missed], fontsize=8)
            ax.set_xlabel(f"{parameter}  (step {c + 1})")
            ax.set_ylabel(f"{labels[name]}\ncalibration AUC" if c == 0 else "")
            if missed:
                ax.legend(fontsize=6, loc="best")
    axes[0][0].legend(fontsize=7)
    fig.suptitle("Tuning on the calibration split, one parameter after another\n(each with the earlier choices in place)",
                 fontsize=10)
    return fig


def shift_comparison(nonmembers, shifted, shift: str, strength: float, names: list, iid: list, shifted_auc: list):
    """Example non-members and their shifted copies, and each attack's AUC on the i.i.d. and
    on the shifted split."""
    fig, (a0, a1) = _subplots(1, 2, figsize=(12, 4.2), gridspec_kw={"width_ratios": [1.3, 2.5]})
    plots.image_grid(a0, torch.cat([nonmembers[:4], shifted[:4]]), nrow=4,
                     title=f"top: non-members\nbottom: '{shift}' ({strength})")
    xs = np.arange(len(names))
    a1.bar(xs - 0.2, iid, 0.4, label="i.i.d. split")
    a1.bar(xs + 0.2, shifted_auc, 0.4, label=f"shifted non-members ({shift})")
    a1.axhline(0.5, color="k", lw=0.8, ls=":")
    a1.set_xticks(xs, names, rotation=20, fontsize=8)
    a1.set(ylabel="AUC", ylim=(0.0, 1.05), title="Same members, two kinds of non-members")
    a1.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.28), ncol=2)
    return fig


# ----------------------------------------------------------------------------- 05 property inference
def property_examples(rows: dict, per_row: int = 8):
    """One grid row per label (e.g. "training, p = 0.1", "generated, p = 0.1") of RGB images."""
    fig, axes = _subplots(len(rows), 1, figsize=(0.7 * per_row + 2.2, 0.8 * len(rows) + 0.3), squeeze=False)
    for ax, (label, images) in zip(axes[:, 0], rows.items()):
        plots.image_grid(ax, images[:per_row], nrow=per_row)
        ax.text(-0.02, 0.5, label, transform=ax.transAxes, ha="right", va="center", fontsize=8)
    return fig


def estimates_vs_truth(estimates: dict, extra: dict | None = None):
    """Each estimator's mean estimate (over the receiver's queries) against the true proportion,
    with bars from the mean lower to the mean upper interval end; ``extra``: label -> {p: value}
    drawn as lines (e.g. the generator's own proportion)."""
    fig, ax = _subplots(figsize=(5.5, 5))
    ax.plot([0, 1], [0, 1], "k--", lw=0.8, label="identity")
    offsets = np.linspace(-0.012, 0.012, len(estimates)) if len(estimates) > 1 else [0.0]
    for off, (name, by_p) in zip(offsets, estimates.items()):
        ps = sorted(by_p)
        mean = [np.mean([e.value for e in by_p[p]]) for p in ps]
        lo = [np.mean([e.low for e in by_p[p]]) for p in ps]
        hi = [np.mean([e.high for e in by_p[p]]) for p in ps]
        ax.errorbar(np.array(ps) + off, mean, yerr=[np.subtract(mean, lo), np.subtract(hi, mean)], fmt="o-",
                    capsize=3, lw=1, label=name)
    for name, by_p in (extra or {}).items():
        ax.plot(sorted(by_p), [by_p[p] for p in sorted(by_p)], "s:", color="gray", label=name)
    ax.set(xlabel="true proportion p in the sharer's training data", ylabel="estimated proportion",
           xlim=(0, 1), ylim=(0, 1), title="Property inference from generated samples")
    ax.legend(fontsize=7, loc="upper left")
    return fig


BOUND_DASHES = ("--", ":", "-.", (0, (5, 1, 1, 1, 1, 1)))  # one per bound curve, in order


def error_vs_sample_size(errors: dict, bounds: dict):
    """Mean |error| against the number of samples N (log-log): ``errors`` label -> {N: error},
    ``bounds`` label -> {N: bound} drawn in black, each in its own dash pattern (e.g. Hoeffding's
    eps(N, delta)), so the legend tells them apart."""
    fig, ax = _subplots(figsize=(5.5, 4))
    for name, by_n in errors.items():
        ax.plot(list(by_n), list(by_n.values()), "o-", label=name)
    for (name, by_n), dashes in zip(bounds.items(), itertools.cycle(BOUND_DASHES)):
        ax.plot(list(by_n), list(by_n.values()), color="k", ls=dashes, lw=1.1, label=name)
    ax.set(xscale="log", yscale="log", xlabel="samples N (log)", ylabel="mean |estimate - p| (log)",
           title="Error against the number of samples")
    ax.legend(fontsize=7)
    return fig


# ----------------------------------------------------------------------------- 06 fairness poisoning
def _by_method(table):
    return {m: g.sort_values("alpha") for m, g in table.groupby("method", sort=False)}


def _with_baseline(table):
    """Each poisoning method's rows with the unpoisoned ("none") rows as its alpha = 0."""
    import pandas as pd

    base = table[table.method == "none"]
    return {m: pd.concat([base.assign(method=m), g]).sort_values("alpha")
            for m, g in _by_method(table).items() if m != "none"}


def _yerr(g, key):
    """[below, above] error-bar lengths of ``key`` from its ``key_ci`` (zero where there is none),
    the interval cut to [0, 1], where every quantity drawn with it lies (gaps, accuracy): a
    Student-t interval over three seeds can reach past either end. A percentile bootstrap interval
    of an absolute gap near 0 can lie wholly above its estimate (|gap| is biased upward there); its
    bar then starts at the estimate (matplotlib draws no negative lengths)."""
    values = np.asarray(g[key], dtype=float)
    cis = g[key + "_ci"] if key + "_ci" in g else [None] * len(g)
    lo, hi = np.array([c if c is not None and not np.isnan(v) else [v, v] for c, v in zip(cis, values)], dtype=float).T
    return [np.maximum(values - np.clip(lo, 0.0, None), 0.0), np.maximum(np.clip(hi, None, 1.0) - values, 0.0)]


def _errorbar(ax, g, key, label, offset=0.0, marker="o"):
    ax.errorbar(g["alpha"] + offset, g[key], yerr=_yerr(g, key), fmt=f"{marker}-", capsize=3, label=label)


def _over_seeds(table, keys):
    """``table`` with one row per (method, alpha): each of ``keys`` the mean over the seeds, its
    ``_ci`` the interval over the seeds, or the one seed's own (:func:`.repetitions.aggregate_seeds`),
    and the sentence that says which the bars show."""
    agg = aggregate_seeds(table if "seed" in table.columns else table.assign(seed=0),
                          [k for k in keys if k in table.columns])
    n, least = int(agg.n_seeds.max()), int(agg.n_seeds.min())
    if least == n:
        return agg, (f"means over {n} training seeds; bars: 95% interval over the seeds (cut to [0, 1])" if n > 1 else
                     "one training seed; bars: 95% bootstrap interval over the test digits")
    many = ", ".join("unpoisoned" if r.method == "none" else f"{r.method} at alpha {r.alpha:g}"
                     for r in agg[agg.n_seeds > 1].itertuples())
    return agg, (f"{many}: means over up to {n} training seeds, bars their 95% interval over the seeds (cut to [0, 1]); "
                 "other points, one seed: bars its 95% bootstrap interval over the test digits")


def fairness_vs_alpha(table):
    """Demographic-parity and equalized-odds gaps, and accuracy, against alpha per method (means
    over the seeds with their interval over the seeds when the table has several)."""
    keys = ("demographic_parity_difference", "equalized_odds_difference", "accuracy")
    agg, what = _over_seeds(table, keys)
    fig, axes = _subplots(1, 3, figsize=(13, 3.9))
    for i, (m, g) in enumerate(_with_baseline(agg).items()):
        for ax, key in zip(axes, keys):
            _errorbar(ax, g, key, m, offset=0.005 * (i - 0.5))
    for ax, title in zip(axes, ("demographic-parity difference", "equalized-odds difference", "accuracy")):
        ax.set(xlabel="alpha (share of poisoned records)", title=title)
        ax.legend(fontsize=8)
    fig.suptitle(what, fontsize=9)
    fig.tight_layout()
    return fig


def accuracy_fairness_scatter(table):
    """Accuracy against demographic-parity difference, one point per sharer, labelled by alpha."""
    fig, ax = _subplots(figsize=(5, 4))
    for m, g in _by_method(table).items():
        ax.scatter(g["demographic_parity_difference"], g["accuracy"], label=m)
        for _, row in g.iterrows():
            ax.annotate(f"{row['alpha']:g}", (row["demographic_parity_difference"], row["accuracy"]), fontsize=7,
                        xytext=(3, 3), textcoords="offset points")
    ax.set(xlabel="demographic-parity difference", ylabel="accuracy on real test digits",
           title="Accuracy against unfairness (labels: alpha)")
    ax.legend(fontsize=8)
    return fig


def detection_vs_alpha(table, level: float = 0.05, n_permutations: int | None = None):
    """The receiver's dependence test on its samples, per method against alpha: left, the statistic
    (the ink-class gap in the samples, which keeps growing where p-values saturate), the mean over
    the seeds with its interval over them; right, its permutation p-value (log): the line through
    the median over the seeds, a point per seed when there are several, with the level and, given
    ``n_permutations``, the smallest p such a test can give, 1 / (n + 1). Methods are drawn side
    by side (a small offset in alpha, distinct markers), so one cannot hide another."""
    agg, what = _over_seeds(table, ("detection_statistic",))
    several = int(agg.n_seeds.max()) > 1
    per_seed = table if "seed" in table.columns else table.assign(seed=0)
    fig, (ax_s, ax_p) = _subplots(1, 2, figsize=(10, 3.9))
    groups, seeds = _with_baseline(agg), _with_baseline(per_seed)
    for i, (m, g) in enumerate(groups.items()):
        dx = (i - (len(groups) - 1) / 2) * 0.006
        marker = "osD^v"[i % 5]
        _errorbar(ax_s, g, "detection_statistic", m, offset=dx, marker=marker)
        p = seeds[m].groupby("alpha", sort=True).detection_p.median()
        ax_p.plot(p.index.to_numpy() + dx, p.to_numpy(), marker=marker, ls="-", label=m)
        if several:
            ax_p.scatter(seeds[m].alpha + dx, seeds[m].detection_p, marker=marker, s=12, alpha=0.5,
                         color=ax_p.lines[-1].get_color())
    ax_p.axhline(level, color="k", ls=":", lw=0.8, label=f"level {level}")
    if n_permutations:
        ax_p.axhline(1 / (n_permutations + 1), color="grey", ls="--", lw=0.8,
                     label=f"smallest p of {n_permutations} permutations")
    ax_s.set(xlabel="alpha", ylabel="ink-class gap in the samples", title="What the receiver measures")
    ax_p.set(yscale="log", xlabel="alpha", ylabel="p-value (log)", title="Can the receiver see the poisoning?")
    ax_s.legend(fontsize=8)
    ax_p.legend(fontsize=7)
    fig.suptitle(what if several else "one training seed: no interval over seeds" , fontsize=9)
    fig.tight_layout()
    return fig


def mitigation(table):
    """Demographic-parity difference and accuracy of each sharer's receiver, before and after
    fairlearn's ThresholdOptimizer: means over the seeds, bars their interval over the seeds (or,
    with one seed, its bootstrap interval over the test digits)."""
    keys = ("demographic_parity_difference", "accuracy")
    agg, what = _over_seeds(table, (*keys, *("mitigated_" + k for k in keys)))
    fig, axes = _subplots(1, 2, figsize=(11, 3.9))
    names = [f"{r.method}, {r.alpha:g}" for r in agg.itertuples()]
    xs = np.arange(len(names))
    for ax, key, title in zip(axes, keys, ("demographic-parity difference", "accuracy")):
        for dx, col, label in ((-0.2, key, "as trained"), (0.2, "mitigated_" + key, "ThresholdOptimizer (demographic parity)")):
            ax.bar(xs + dx, agg[col], 0.4, yerr=_yerr(agg, col), capsize=2, label=label)
        ax.set_xticks(xs, names, rotation=30, fontsize=7)
        ax.set(title=title)
    axes[0].legend(fontsize=7)
    fig.suptitle(what, fontsize=9)
    fig.tight_layout()
    return fig
