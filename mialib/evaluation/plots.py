"""Figures: one helper writes them all (figures/<notebook>_<name>.png and .pdf), plus the
plots every membership notebook needs (ROC on linear and log-log axes, score histograms)."""

from __future__ import annotations

import re
from pathlib import Path


import numpy as np

from ..core import paths
from ..core.fileio import atomic_path
from . import metrics as _metrics

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_\-]*$")


def use_style() -> None:
    """One consistent, print-friendly look for every notebook."""
    import matplotlib.pyplot as plt

    plt.rcParams.update({
        "figure.dpi": 100, "savefig.dpi": 150, "savefig.bbox": "tight",
        "axes.grid": True, "grid.alpha": 0.3, "axes.spines.top": False,
        "axes.spines.right": False, "font.size": 10, "legend.frameon": False,
        "pdf.fonttype": 42, "svg.hashsalt": "mialib",
    })


def save_fig(fig, notebook: str, name: str, formats=("png", "pdf"), folder: str | Path | None = None) -> list[Path]:
    """Write ``fig`` to ``figures/<notebook>_<name>.<fmt>`` for each format, atomically and
    without timestamps (the same figure gives the same file). Returns the paths."""
    for part, label in [(notebook, "notebook"), (name, "name")]:
        if not _NAME.match(part):
            raise ValueError(f"figure {label} {part!r} may hold only letters, digits, '_' and '-'")
    folder = Path(folder) if folder is not None else paths.figures_dir()
    out = []
    for fmt in formats:
        path = folder / f"{notebook}_{name}.{fmt}"
        meta = {"Software": None} if fmt == "png" else {"CreationDate": None, "Producer": None} \
            if fmt == "pdf" else None
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format=fmt, metadata=meta)
        out.append(path)
    return out


def plot_roc(ax_lin, ax_log, curves: dict[str, tuple], title: str | None = None) -> None:
    """ROC curves on linear axes (``ax_lin``) and log-log axes (``ax_log``, where the
    low-FPR regime is visible), with the chance line. ``curves``: label ->
    (member_scores, nonmember_scores)."""
    for label, (m, n) in curves.items():
        fpr, tpr, _ = _metrics.roc(m, n)
        auc = _metrics.evaluate(m, n, n_boot=0)["auc"]
        for ax in (ax_lin, ax_log):
            if ax is not None:
                ax.plot(fpr, tpr, lw=1.5, label=f"{label} (AUC {auc:.3f})")
    grid = np.logspace(-5, 0, 200)
    if ax_lin is not None:
        ax_lin.plot([0, 1], [0, 1], "k--", lw=0.8, label="chance")
        ax_lin.set(xlabel="false positive rate", ylabel="true positive rate", xlim=(0, 1),
                   ylim=(0, 1.01), title=title or "ROC")
        ax_lin.legend(loc="lower right", fontsize=8)
    if ax_log is not None:
        ax_log.plot(grid, grid, "k--", lw=0.8, label="chance")
        n_min = min(len(n) for _, n in curves.values())
        ax_log.set(xscale="log", yscale="log", xlim=(max(1e-5, 0.5 / n_min), 1),
                   ylim=(max(1e-5, 0.5 / n_min), 1.05), xlabel="false positive rate",
                   ylabel="true positive rate", title=(title or "ROC") + " (log-log)")
        ax_log.legend(loc="lower right", fontsize=8)


def roc_figure(curves: dict[str, tuple], title: str | None = None, linear: bool = True):
    """ROC on linear and on log-log axes side by side, or (``linear=False``) on log-log axes only."""
    import matplotlib.pyplot as plt

    if not linear:
        fig, ax = plt.subplots(figsize=(5, 4))
        plot_roc(None, ax, curves, title)
        return fig
    fig, (a, b) = plt.subplots(1, 2, figsize=(9, 4))
    plot_roc(a, b, curves, title)
    fig.tight_layout()
    return fig


def plot_sweep(ax, sweep, key: str = "auc", xlabel: str | None = None, log_x: bool = False,
               band_label: str | None = None, **line_kw) -> None:
    """One metric of a :class:`~mialib.experiments.sweeps.Sweep` against the swept values, with
    its 95% bootstrap band; string values (e.g. aggregation metrics) become categories."""
    xs = list(sweep.results)
    lo, hi = np.array([sweep.results[x]["ci"][key] for x in xs]).T
    categorical = isinstance(xs[0], str)
    pos = np.arange(len(xs)) if categorical else np.array(xs, dtype=float)
    ax.plot(pos, sweep.values(key), "o-", **line_kw)
    ax.fill_between(pos, lo, hi, alpha=0.25, label=band_label)
    if categorical:
        ax.set_xticks(pos, xs, rotation=30)
    if log_x:
        ax.set_xscale("log")
        ax.set_xticks(pos, [f"{x:g}" for x in xs])
        ax.minorticks_off()
    ax.set(xlabel=xlabel or sweep.parameter)


def plot_score_hist(ax, member_scores, nonmember_scores, xlabel: str, bins: int = 40,
                    log_x: bool = False, labels=("members", "non-members")) -> None:
    """Overlaid density histograms (seaborn's ``histplot``) of member and non-member values on
    one set of ``bins`` equal-width bins, each normalised to area 1 on its own; the legend
    gives ``labels`` with each group's size. With ``log_x`` the bins are equal in log10 and
    the density is per log10 unit, so equal heights mean equal counts on the log axis; values
    <= 0 are left out."""
    import seaborn as sns

    groups = [np.asarray(v, dtype=np.float64) for v in (member_scores, nonmember_scores)]
    if log_x:
        groups = [g[g > 0] for g in groups]
    both = np.concatenate(groups)
    lo, hi = (np.log10(both.min()), np.log10(both.max())) if log_x else (both.min(), both.max())
    edges = np.linspace(lo, hi, bins + 1)
    for values, label in zip(groups, labels):
        sns.histplot(x=values, bins=edges, stat="density", log_scale=log_x, alpha=0.55, ax=ax,
                     label=f"{label} (n={len(values)})")
    ax.set(xlabel=xlabel, ylabel="density per log10 unit" if log_x else "density")
    ax.legend(fontsize=8)


def image_grid(ax, images, nrow: int, title: str | None = None) -> None:
    """Show Tensor[N, C, H, W] images in [-1, 1] as one grid with ``nrow`` images per row."""
    x = np.asarray(images.detach().cpu() if hasattr(images, "detach") else images)
    n, c, h, w = x.shape
    ncol = int(np.ceil(n / nrow))
    canvas = np.ones((ncol * (h + 1) + 1, nrow * (w + 1) + 1, c), dtype=np.float32)
    for i in range(n):
        r, q = divmod(i, nrow)
        canvas[1 + r * (h + 1):1 + r * (h + 1) + h, 1 + q * (w + 1):1 + q * (w + 1) + w] = \
            (x[i].transpose(1, 2, 0) + 1) / 2
    canvas = canvas.clip(0, 1)
    ax.imshow(canvas[..., 0] if c == 1 else canvas, cmap="gray" if c == 1 else None,
              vmin=0, vmax=1, interpolation="nearest")
    ax.set_axis_off()
    if title:
        ax.set_title(title)
