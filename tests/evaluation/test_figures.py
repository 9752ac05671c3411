"""Every composite figure draws from synthetic numbers of the right shape; memorisation
distances against a hand-made case."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from mialib.data.splits import label_balance  # noqa: E402
from mialib.evaluation import figures  # noqa: E402
from mialib.evaluation.memorisation import nearest_images  # noqa: E402
from mialib.experiments.sweeps import Sweep  # noqa: E402


def _r(auc):
    return {"auc": auc, "tpr@1%fpr": auc / 5, "ci": {"auc": [auc - 0.05, auc + 0.05], "tpr@1%fpr": [0.1, 0.2]}}


def test_every_figure_draws():
    g = torch.Generator().manual_seed(0)
    imgs = torch.rand(8, 1, 8, 8, generator=g) * 2 - 1
    sweep = Sweep("t", {20: _r(0.7), 40: _r(0.8)})
    noises = torch.randn(4, 3, 1, 8, 8, generator=g)
    rec = {"loss_curve": [[10, 0.5], [20, 0.3]], "steps": 20, "train": {"batch_size": 4}, "n_training_images": 8}
    near = nearest_images(imgs[:4], imgs, imgs.flip(0), seed=0)
    balance = label_balance(np.arange(40) % 4, {"a": np.arange(20), "b": np.arange(20, 40)})
    figs = [
        figures.examples(imgs, 4, "x"), figures.class_proportions(balance), figures.loss_curve(rec),
        figures.samples_vs_nearest(imgs[:4], imgs, near), figures.nearest_distances(near),
        figures.score_histogram(np.arange(5.0), np.arange(5.0) + 1, "s", "t"),
        figures.error_maps(imgs[:3].abs(), imgs[3:6].abs(), 100), figures.sweep_panels(sweep, t_mark=20),
        figures.noise_grid(imgs[:4], noises, [1.0, 2.0, 3.0, 4.0], 40, 10, 2),
        figures.spread_by_step(np.random.rand(5, 3), np.random.rand(5, 3), [40, 30, 20]),
        figures.ablation_panels([(Sweep("K", {2: _r(0.7), 5: _r(0.8)}), "K", False),
                                 (Sweep("metric", {"l2": _r(0.7), "l1": _r(0.6)}), "metric", False),
                                 (Sweep("sigma", {0.1: _r(0.7), 0.2: _r(0.6)}), "sigma", True)], "t"),
        figures.auc_vs_queries({"a": _r(0.7), "b": _r(0.8)}, {"a": 1, "b": 5}, {"a": "A", "b": "B"},
                               [("curve", [2, 5], [0.6, 0.8], "C1")]),
        figures.auc_vs_budget({"a": {10: 0.6, 20: 0.7}}, {"a": "A"}, 20, 0.5),
        figures.shift_comparison(imgs, imgs * 0.5, "blur", 0.5, ["A", "B"], [0.5, 0.7], [1.0, 0.9]),
    ]
    assert all(len(f.axes) >= 1 for f in figs)
    plt.close("all")


def test_nearest_images_against_a_hand_made_case():
    training = torch.tensor([[[[0.0]]], [[[1.0]]]])
    pool = torch.tensor([[[[0.4]]], [[[-1.0]]], [[[0.9]]]])
    samples = torch.tensor([[[[0.1]]], [[[0.8]]]])
    near = nearest_images(samples, training, pool, seed=0)
    assert len(near.reference_nonmembers) == 2  # as many as the training images
    assert near.training_idx.tolist() == [0, 1]
    torch.testing.assert_close(near.training_dist, torch.tensor([0.1, 0.2], dtype=torch.float64))
    ref = near.reference_nonmembers.flatten()
    want = torch.stack([(ref - s).abs().min() for s in samples.flatten()]).double()
    torch.testing.assert_close(near.nonmember_dist, want)
    assert near.frac_closer_to_training == float((near.training_dist < want).float().mean())
