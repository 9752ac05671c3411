"""Figures: one helper writes them all, deterministic bytes; the plot helpers draw."""

from __future__ import annotations


import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from mialib.evaluation import metrics, plots  # noqa: E402


def _fig():
    fig, ax = plt.subplots(figsize=(2, 2))
    ax.plot([0, 1], [0, 1])
    return fig


def test_save_fig_writes_png_and_pdf_deterministically(tmp_path):
    fig = _fig()
    first = plots.save_fig(fig, "99_test", "line", folder=tmp_path)
    blobs = [p.read_bytes() for p in first]
    second = plots.save_fig(fig, "99_test", "line", folder=tmp_path)
    assert [p.name for p in first] == ["99_test_line.png", "99_test_line.pdf"]
    assert [p.read_bytes() for p in second] == blobs
    assert blobs[0][:8] == b"\x89PNG\r\n\x1a\n" and blobs[1][:5] == b"%PDF-"
    assert not list(tmp_path.glob(".*tmp"))
    plt.close(fig)


@pytest.mark.parametrize("name", ["../escape", "has space", ""])
def test_save_fig_rejects_bad_names(tmp_path, name):
    with pytest.raises(ValueError, match="letters, digits"):
        plots.save_fig(_fig(), "99_test", name, folder=tmp_path)


def _legend(ax):
    return [t.get_text() for t in ax.get_legend().get_texts()]


def test_roc_figure_draws_each_exact_roc_on_linear_and_log_log_axes():
    rng = np.random.default_rng(0)
    curves = {"a": (rng.normal(1, 1, 50), rng.normal(0, 1, 40)), "b": (rng.normal(0.3, 1, 50), rng.normal(0, 1, 40))}
    lin, log = plots.roc_figure(curves, title="toy").axes
    for ax in (lin, log):
        for line, (m, n) in zip(ax.lines, curves.values()):
            fpr, tpr, _ = metrics.roc(m, n)
            np.testing.assert_array_equal(line.get_xdata(), fpr)
            np.testing.assert_array_equal(line.get_ydata(), tpr)
        assert len(ax.lines) == 3 and ax.lines[2].get_linestyle() == "--"  # the chance line
        aucs = [metrics.evaluate(m, n, n_boot=0)["auc"] for m, n in curves.values()]
        assert _legend(ax) == [f"a (AUC {aucs[0]:.3f})", f"b (AUC {aucs[1]:.3f})", "chance"]
    assert (lin.get_xscale(), lin.get_yscale(), lin.get_title()) == ("linear", "linear", "toy")
    assert (log.get_xscale(), log.get_yscale(), log.get_title()) == ("log", "log", "toy (log-log)")
    assert log.get_xlim() == pytest.approx((0.5 / 40, 1))  # down to half a false positive
    (only,) = plots.roc_figure(curves, linear=False).axes
    assert (only.get_xscale(), only.get_yscale(), only.get_title()) == ("log", "log", "ROC (log-log)")
    plt.close("all")


def test_plot_sweep_numeric_categorical_and_log_axes():
    from mialib.experiments.sweeps import Sweep
    r = lambda a: {"auc": a, "ci": {"auc": [a - 0.1, a + 0.1]}}  # noqa: E731
    fig, (a0, a1, a2) = plt.subplots(1, 3)
    plots.plot_sweep(a0, Sweep("t", {20: r(0.6), 40: r(0.7)}), band_label="95% CI")
    np.testing.assert_allclose([a0.lines[0].get_xdata(), a0.lines[0].get_ydata()], [[20, 40], [0.6, 0.7]])
    band = a0.collections[0].get_paths()[0].vertices
    assert band[:, 1].min() == pytest.approx(0.5) and band[:, 1].max() == pytest.approx(0.8)
    assert a0.get_xlabel() == "t" and a0.collections[0].get_label() == "95% CI"
    plots.plot_sweep(a1, Sweep("metric", {"l2": r(0.6), "hull": r(0.5)}), xlabel="aggregation")
    assert list(a1.lines[0].get_xdata()) == [0, 1] and [t.get_text() for t in a1.get_xticklabels()] == ["l2", "hull"]
    assert a1.get_xlabel() == "aggregation"
    plots.plot_sweep(a2, Sweep("sigma", {0.01: r(0.6), 0.1: r(0.5)}), log_x=True)
    assert a2.get_xscale() == "log" and [t.get_text() for t in a2.get_xticklabels()] == ["0.01", "0.1"]
    plt.close(fig)


def test_score_hist_and_image_grid():
    fig, (ax0, ax) = plt.subplots(1, 2)
    plots.plot_score_hist(ax0, [1, 2, 3], [2, 3, 4, 0], xlabel="x", log_x=True, bins=4)
    assert ax0.get_xscale() == "log" and len(ax0.patches) == 8 and ax0.get_xlabel() == "x"
    assert _legend(ax0) == ["members (n=3)", "non-members (n=3)"]  # 0 has no place on a log axis
    assert sum(p.get_height() * np.log10(p.get_x() + p.get_width()) - p.get_height() * np.log10(p.get_x())
               for p in ax0.patches[:4]) == pytest.approx(1.0)  # area 1 per group in log10 units
    plots.image_grid(ax, torch.zeros(5, 1, 4, 4), nrow=3)
    assert ax.images[0].get_array().shape == (2 * 5 + 1, 3 * 5 + 1)
    canvas = ax.images[0].get_array()
    assert canvas[1:5, 1:5].max() == 0.5 and canvas[0].min() == 1.0  # the images at 0 -> grey, white gaps
    plt.close("all")

