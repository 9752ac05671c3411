"""Notebook 08's experiment: the plan (every model's training, checked before any training), the
paired attack table, the ε bounds against the accountant, the report text and the figures, on
synthetic scores with known answers."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from mialib.attacks.registry import ATTACKS
from mialib.attacks.scoring import SplitScores
from mialib.evaluation import defence_figures, defence_report
from mialib.experiments import defences as D
from mialib.experiments.membership import TargetSpec


def _plan(**over):
    spec = TargetSpec.from_params({}, seed=0)
    return D.plan_defences(spec, D.DefenceParams.from_overrides(over), 256)


def test_plan_pairs_each_defence_with_the_undefended_model_of_its_budget():
    plan = _plan()
    assert list(plan) == ["undefended", "undefended_1000", "augmentation", "weight_decay", "dp_eps10", "dp_eps1"]
    assert list(_plan(early_stopping=[500, 1000])) == ["undefended", "undefended_1000", "undefended_500", "augmentation",
                                                     "weight_decay", "dp_eps10", "dp_eps1"]
    full = plan["undefended"].train
    assert plan["undefended"].baseline is None and plan["undefended_1000"].baseline == "undefended"
    for name in ("augmentation", "weight_decay", "dp_eps10", "dp_eps1"):
        assert plan[name].baseline == "undefended_1000" and plan[name].train.steps == 1000
    assert plan["augmentation"].train.augment == "shift" and plan["weight_decay"].train.weight_decay == 1.0
    # everything else is the target's training
    assert plan["augmentation"].train.lr == full.lr and plan["augmentation"].train.seed == full.seed
    for eps in (10, 1):
        p = plan[f"dp_eps{eps}"]
        assert p.train.grad_clip == 0.0 and p.train.dp_clip == 1.0 and p.train.private
        assert 0.99 * eps <= p.privacy["epsilon"] <= eps and p.privacy["sample_rate"] == 16 / 256
        assert p.privacy["delta"] < 1 / 256
    assert plan["dp_eps1"].train.dp_noise > plan["dp_eps10"].train.dp_noise


@pytest.mark.parametrize("over,match", [
    ({"dp_delta": 0.01}, "delta must lie in"),
    ({"dp_batch_size": 300}, "above 1"),
    ({"steps": 5000}, "must not exceed"),
    ({"early_stopping": [3000]}, "must not exceed"),
    ({"dp_epsilons": [0.0]}, "positive finite"),
    ({"dp_epsilons": [float("inf")]}, "positive finite"),
    ({"augment": "rotate"}, "unknown augmentation"),
    ({"dp_clip": 0.0}, "dp_clip"),
    ({"stepz": 10}, "no parameter"),
])
def test_bad_defence_settings_are_refused_before_training(over, match):
    with pytest.raises(ValueError, match=match):
        _plan(**over)


def test_a_model_without_a_privacy_level_or_cheap_defence_is_left_out():
    plan = _plan(dp_epsilons=[], augment="", weight_decay=0.0, early_stopping=[])
    assert list(plan) == ["undefended", "undefended_1000"]


def _scores(shift: float, rng, n_m=192, n_n=1024, n_c=64) -> SplitScores:
    t = lambda a: torch.as_tensor(a, dtype=torch.float32)  # noqa: E731
    return SplitScores(t(rng.normal(shift, 1, n_m)), t(rng.normal(0, 1, n_n)), t(rng.normal(shift, 1, n_c)),
                       t(rng.normal(0, 1, n_c)))


def _synthetic():
    """The plan's models with scores of known separation: the undefended target leaks a lot, the 1000-step
    one some, DP ones nothing."""
    plan = _plan()
    rng = np.random.default_rng(0)
    shift = {"undefended": 2.5, "undefended_1000": 1.0, "augmentation": 0.8,
             "weight_decay": 1.0, "dp_eps10": 0.0, "dp_eps1": 0.0}
    scores = {n: {a: _scores(shift[n], rng) for a in ATTACKS} for n in plan}
    return plan, scores


def _tables():
    plan, scores = _synthetic()
    return plan, D.attack_table(scores, plan, n_boot=100, seed=0), D.epsilon_bounds(scores, plan, 1e-4)


def test_attack_table_pairs_and_judges_and_bounds_respect_the_accountant():
    plan, scores = _synthetic()
    table = D.attack_table(scores, plan, n_boot=100, seed=0)
    assert "vs_baseline" not in table["undefended"]["pia_proximal"]
    d = table["dp_eps1"]["pia_proximal"]["vs_baseline"]
    assert d["difference"] < -0.1 and d["verdict"] == "loses to"  # DP's AUC is measurably lower
    bounds = D.epsilon_bounds(scores, plan, 1e-4)
    assert bounds["undefended"]["accountant"] is None and bounds["dp_eps1"]["accountant"] == pytest.approx(
        plan["dp_eps1"].privacy["epsilon"])
    assert bounds["undefended"]["best"]["epsilon"] > 1.5       # a leaky model proves a lot
    assert bounds["dp_eps1"]["best"]["epsilon"] < 1.0          # chance proves little
    assert bounds["undefended"]["best"]["confidence"] == pytest.approx(1 - 0.05 / len(ATTACKS))


def _utility(plan):
    return D.Utility({n: 1.0 + i for i, n in enumerate(plan)}, {n: 0.1 for n in plan}, 0.5, 0.9,
                     {n: torch.zeros(16, 1, 8, 8) for n in plan})


def test_summary_says_when_a_bound_contradicts_the_accountant():
    plan, table, bounds = _tables()
    labels = {a: i.label for a, i in ATTACKS.items()}
    text = defence_report.defences_summary(models=plan, table=table, bounds=bounds, utility=_utility(plan),
                                           attack_labels=labels, n_members=192, n_nonmembers=1024)
    assert "not (ε, δ)-DP" not in text
    assert "DP-SGD, ε = 1: no attack rules out any ε > 0; the accountant claims ε = 0.99" in text
    assert "**DP-SGD, ε = 1** lowers the AUC" in text
    # a DP model whose attack proves more than its accountant claims (what a bug would look like)
    broken = {**bounds, "dp_eps1": {**bounds["undefended"], "accountant": 0.01}}
    text = defence_report.defences_summary(models=plan, table=table, bounds=broken, utility=_utility(plan),
                                           attack_labels=labels, n_members=192, n_nonmembers=1024)
    assert "above the accountant's ε = 0.01: this training is not (ε, δ)-DP" in text
    rows = defence_report.attack_rows(plan, table, labels)
    assert len(rows) == len(plan) * len(ATTACKS) and {r["verdict"] for r in rows} >= {"", "lower"}
    mrows = defence_report.model_rows(plan, table, bounds, _utility(plan), labels)
    assert [r["accountant ε"] for r in mrows][-2:] != ["—", "—"] and mrows[0]["accountant ε"] == "—"


def test_figures_draw_one_point_per_model():
    plan, table, bounds = _tables()
    labels = {a: i.label for a, i in ATTACKS.items()}
    fig = defence_figures.privacy_utility(plan, table, _utility(plan), labels)
    assert len(fig.axes[0].containers) == len(plan)
    fig = defence_figures.epsilon_bounds(plan, bounds, labels)
    assert len(fig.axes[0].patches) == len(plan)
    fig = defence_figures.model_samples(plan, _utility(plan))
    assert len(fig.axes) == len(plan)
    import matplotlib.pyplot as plt

    plt.close("all")


def test_held_out_loss_is_the_training_objective_on_unseen_images():
    from mialib.diffusion.controls import memorising_eps_fn
    from mialib.diffusion.models import build_scheduler

    abar = build_scheduler().alphas_cumprod
    pts = torch.rand(8, 1, 4, 4) * 2 - 1

    class Memoriser(torch.nn.Module):  # exact denoiser of its points: low loss on them, higher elsewhere
        def __init__(self):
            super().__init__()
            self.eps = memorising_eps_fn(pts, abar)
            self.dummy = torch.nn.Parameter(torch.zeros(1))

        def forward(self, x, t):
            return SimpleNamespace(sample=self.eps(x, t))

    model = SimpleNamespace(unet=Memoriser(), scheduler=SimpleNamespace(alphas_cumprod=abar))
    on_members = D.held_out_loss(model, pts, draws=8, seed=0)
    elsewhere = D.held_out_loss(model, torch.rand(8, 1, 4, 4) * 2 - 1, draws=8, seed=0)
    assert on_members < elsewhere and math.isfinite(elsewhere)
    assert D.held_out_loss(model, pts, draws=8, seed=0) == on_members  # seeded
