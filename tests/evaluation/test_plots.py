"""Figures: one helper writes them all, deterministic bytes; the plot helpers draw."""

from __future__ import annotations

import json

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from mialib.evaluation import plots  # noqa: E402


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


def test_roc_figure_and_hist_and_grid_draw():
    rng = np.random.default_rng(0)
    fig = plots.roc_figure({"a": (rng.normal(1, 1, 50), rng.normal(0, 1, 50))})
    lin, log = fig.axes
    assert lin.get_xscale() == "linear" and log.get_xscale() == "log"
    assert any("AUC" in t.get_text() for t in lin.get_legend().get_texts())
    assert any(t.get_text() == "chance" for t in log.get_legend().get_texts())
    fig2, (ax0, ax) = plt.subplots(1, 2)
    plots.plot_score_hist(ax0, [1, 2, 3], [2, 3, 4], xlabel="x", log_x=True)
    assert ax0.get_xscale() == "log" and len(ax0.patches) > 0
    plots.image_grid(ax, torch.zeros(5, 1, 4, 4), nrow=3)
    assert ax.images[0].get_array().shape == (2 * 5 + 1, 3 * 5 + 1)
    plt.close("all")

