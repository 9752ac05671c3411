"""Notebook 08's figures: privacy against utility, the empirical ε lower bounds beside the
accountant's ε, and each model's samples."""

from __future__ import annotations

import math

import numpy as np

from . import plots
from .defence_report import strongest


def _subplots(*args, **kwargs):
    import matplotlib.pyplot as plt

    return plt.subplots(*args, **kwargs)


def privacy_utility(models: dict, table: dict, utility, attack_labels: dict):
    """Strongest attack's AUC (95% interval) against the Fréchet distance of the samples, one
    point per model; the real images' distance as a dashed line."""
    fig, ax = _subplots(figsize=(7, 4.2))
    markers = {"none": "o", "early stopping": "s", "augmentation": "^", "weight decay": "v", "dp": "D"}
    for name, m in models.items():
        a = strongest(table[name])
        r = table[name][a]["metrics"]
        lo, hi = r["ci"]["auc"]
        x = utility.frechet[name]
        ax.errorbar([x], [r["auc"]], yerr=[[max(r["auc"] - lo, 0)], [max(hi - r["auc"], 0)]], fmt=markers.get(m.kind, "o"),
                    capsize=3, label=f"{m.label} ({attack_labels[a]})")
    ax.axhline(0.5, color="grey", lw=0.8, ls=":")
    ax.axvline(utility.real_floor, color="grey", lw=0.8, ls="--", label="real images' distance")
    ax.set(xscale="log", xlabel="Fréchet distance of samples to held-out digits (log; lower = better samples)",
           ylabel="AUC of the strongest attack", title="Privacy against utility: lower-left is better")
    ax.legend(fontsize=7, loc="best")
    return fig


def epsilon_bounds(models: dict, bounds: dict, attack_labels: dict):
    """For each model the empirical lower bound on ε (best attack, 95%) as a bar, the accountant's
    ε as a marker (DP models), and the largest bound these many images could show as a line."""
    names = list(models)
    fig, ax = _subplots(figsize=(7, 0.45 * len(names) + 1.2))
    y = np.arange(len(names))[::-1]
    lb = [bounds[n]["best"]["epsilon"] for n in names]
    ax.barh(y, lb, color="tab:blue", alpha=0.7, label="empirical lower bound (95%)")
    acc = [(yy, bounds[n]["accountant"]) for yy, n in zip(y, names) if bounds[n]["accountant"] is not None]
    if acc:
        ax.plot([a for _, a in acc], [yy for yy, _ in acc], "r|", ms=18, mew=2.5, label="accountant's ε (claimed)")
    top = bounds[names[0]]["best"]["largest_provable"]
    ax.axvline(top, color="k", ls="--", lw=1, label=f"most these images can prove ({top:.2f})")
    xmax = max([top, *lb, *[a for _, a in acc if math.isfinite(a)]]) * 1.1
    ax.set(yticks=y, yticklabels=[models[n].label for n in names], xlim=(0, xmax), xlabel="ε",
           title="Is the DP claim true? ε ruled out by the attacks vs ε claimed")
    ax.legend(fontsize=7, loc="lower right")
    return fig


def model_samples(models: dict, utility, n: int = 16):
    """One row of ``n`` samples per model, with its Fréchet distance."""
    names = list(models)
    fig, axes = _subplots(len(names), 1, figsize=(7, 0.75 * len(names) + 0.3))
    for ax, name in zip(np.atleast_1d(axes), names):
        plots.image_grid(ax, utility.samples[name][:n], nrow=n,
                         title=f"{models[name].label}: Fréchet distance {utility.frechet[name]:.2f}")
    fig.tight_layout()
    return fig
