"""DiffusionTarget and SecMI: closed forms, memorisation controls, query counts, bad input."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mialib.attacks import (DiffusionTarget, secmi_error_maps, secmi_nns, secmi_queries, secmi_stat,
                            secmi_terror)
from mialib.controls import memorizing_eps_fn
from mialib.data import load_digits
from mialib.ddim import ddim_step, predict_x0
from mialib.metrics import evaluate
from mialib.models import ModelConfig, build_scheduler, build_unet


@pytest.fixture(scope="module")
def digits_split():
    ds = load_digits()
    perm = torch.randperm(len(ds), generator=torch.Generator().manual_seed(0))
    return ds.images[perm[:48]], ds.images[perm[48:96]]


def _zero_eps(x, t, cond=None):
    return torch.zeros_like(x)


# ----------------------------------------------------------------------------- DDIM map
def test_ddim_step_matches_hand_computation():
    x, e = torch.tensor([0.5]), torch.tensor([0.2])
    a_s, a_u = 0.81, 0.64
    expected = 0.8 * (0.5 - 0.19 ** 0.5 * 0.2) / 0.9 + 0.6 * 0.2
    assert ddim_step(x, e, a_s, a_u).item() == pytest.approx(expected, rel=1e-6)
    assert predict_x0(x, e, a_s).item() == pytest.approx((0.5 - 0.19 ** 0.5 * 0.2) / 0.9, rel=1e-6)


def test_ddim_round_trip_is_exact_when_eps_is_constant(linear_abar):
    """With a noise prediction that does not depend on x, D(D(x, s->u), u->s) = x."""
    const = torch.randn(1, 1, 4, 4, generator=torch.Generator().manual_seed(1))
    target = DiffusionTarget(lambda x, t, cond=None: const.expand_as(x), linear_abar)
    x = torch.rand(3, 1, 4, 4) * 2 - 1
    up, _ = target.ddim(x, 30, 90)
    back, _ = target.ddim(up, 90, 30)
    torch.testing.assert_close(back, x, rtol=0, atol=1e-5)


def test_terror_closed_forms(linear_abar):
    """A memoriser of ONE point x* predicts x0 = x* everywhere; eps is then affine in x and
    D(D(x, s->u), u->s) = x exactly, so the t-error vanishes for every input (a model with
    one training image cannot tell members apart). With two memorised points, each stays on
    its own deterministic trajectory, so the members' t-errors are zero."""
    g = torch.Generator().manual_seed(2)
    pts = torch.rand(2, 1, 8, 8, generator=g) * 2 - 1
    single = DiffusionTarget(memorizing_eps_fn(pts[:1], linear_abar), linear_abar)
    assert secmi_terror(single, pts).max().item() < 1e-10
    pair = DiffusionTarget(memorizing_eps_fn(pts, linear_abar), linear_abar)
    assert secmi_terror(pair, pts).max().item() < 1e-10
    assert secmi_terror(single, torch.zeros(1, 1, 8, 8)).item() < 1e-10


# ----------------------------------------------------------------------------- controls
@pytest.mark.parametrize("memorised, expect_auc", [("members", 1.0), ("nonmembers", 0.0)])
def test_secmi_stat_memorisation_controls(digits_split, linear_abar, memorised, expect_auc):
    members, nonmembers = digits_split
    points = members if memorised == "members" else nonmembers
    target = DiffusionTarget(memorizing_eps_fn(points, linear_abar), linear_abar, image_shape=(1, 8, 8))
    auc = evaluate(secmi_stat(target, members), secmi_stat(target, nonmembers), n_boot=0)["auc"]
    assert auc == pytest.approx(expect_auc, abs=0.02)


def test_secmi_nns_memorisation_controls(digits_split, linear_abar):
    members, nonmembers = digits_split
    target = DiffusionTarget(memorizing_eps_fn(members, linear_abar), linear_abar)
    res = secmi_nns(target, members, nonmembers, epochs=30, width=8, seed=0, train_frac=0.25)
    auc = evaluate(res.member_scores, res.nonmember_scores, n_boot=0)["auc"]
    assert auc > 0.9
    flipped = DiffusionTarget(memorizing_eps_fn(nonmembers, linear_abar), linear_abar)
    res_f = secmi_nns(flipped, members, nonmembers, epochs=30, width=8, seed=0, train_frac=0.25)
    # trained on the flipped model, the classifier learns "low error = member" ... of the
    # other side; its labels still say which side is which, so it still separates them
    auc_f = evaluate(res_f.member_scores, res_f.nonmember_scores, n_boot=0)["auc"]
    assert auc_f > 0.9


def test_secmi_nns_scores_only_held_out_images(digits_split, linear_abar):
    members, nonmembers = digits_split
    target = DiffusionTarget(memorizing_eps_fn(members, linear_abar), linear_abar)
    res = secmi_nns(target, members, nonmembers, epochs=1, width=8, seed=3, train_frac=0.25)
    assert len(res.member_scores) == len(res.member_eval_idx) == 36
    assert len(res.nonmember_scores) == len(res.nonmember_eval_idx) == 36
    assert len(np.unique(res.member_eval_idx)) == 36 and res.member_eval_idx.max() < 48
    assert res.queries_per_sample == secmi_queries(100, 10)
    again = secmi_nns(target, members, nonmembers, epochs=1, width=8, seed=3, train_frac=0.25)
    torch.testing.assert_close(res.member_scores, again.member_scores, rtol=0, atol=0)
    with pytest.raises(ValueError, match="train_frac"):
        secmi_nns(target, members, nonmembers, train_frac=1.0)


# ----------------------------------------------------------------------------- bookkeeping
@pytest.mark.parametrize("t_sec, k", [(100, 10), (50, 10), (10, 10), (60, 20)])
def test_query_count_matches_formula(linear_abar, t_sec, k):
    target = DiffusionTarget(_zero_eps, linear_abar, batch_size=3)
    x = torch.zeros(7, 1, 4, 4)
    with target.counting(len(x)) as q:
        secmi_stat(target, x, t_sec, k)
    assert q.total == 7 * secmi_queries(t_sec, k)
    assert q.per_sample == t_sec // k + 1
    assert secmi_queries(100, 10) == 11      # 9 inversion steps + 2 (PAPERS.md)
    assert target.n_queries == q.total


def test_scores_do_not_depend_on_batch_size(digits_split, linear_abar):
    members, _ = digits_split
    eps = memorizing_eps_fn(members[:10], linear_abar)
    a = secmi_stat(DiffusionTarget(eps, linear_abar, batch_size=1), members[:12])
    b = secmi_stat(DiffusionTarget(eps, linear_abar, batch_size=256), members[:12])
    torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-12)


def test_error_maps_and_terror_agree(digits_split, linear_abar):
    members, _ = digits_split
    target = DiffusionTarget(memorizing_eps_fn(members[:5], linear_abar), linear_abar)
    maps = secmi_error_maps(target, members[5:9])
    assert maps.shape == (4, 1, 8, 8) and maps.dtype == torch.float32
    torch.testing.assert_close(secmi_terror(target, members[5:9]), maps.double().pow(2).flatten(1).sum(1))
    torch.testing.assert_close(secmi_stat(target, members[5:9]), -secmi_terror(target, members[5:9]))


def test_from_unet_runs_a_real_unet():
    cfg = ModelConfig(image_size=8, channels=1, block_out_channels=(8, 16), norm_num_groups=4)
    unet, sched = build_unet(cfg), build_scheduler()
    target = DiffusionTarget.from_unet(unet, sched, batch_size=4)
    assert target.image_shape == (1, 8, 8) and not target.conditional
    x = torch.rand(5, 1, 8, 8) * 2 - 1
    with target.counting(5) as q:
        s = secmi_stat(target, x, t_sec=20, k=10)
    assert s.shape == (5,) and s.dtype == torch.float64 and torch.isfinite(s).all()
    assert q.per_sample == 3
    with pytest.raises(ValueError, match="shape"):
        secmi_stat(target, torch.zeros(2, 1, 16, 16))


def test_from_unet_class_conditional_passes_labels():
    cfg = ModelConfig(image_size=8, channels=1, block_out_channels=(8, 16), norm_num_groups=4, num_classes=2)
    target = DiffusionTarget.from_unet(build_unet(cfg), build_scheduler())
    assert target.conditional
    x = torch.rand(4, 1, 8, 8) * 2 - 1
    s0 = secmi_stat(target, x, 20, 10, cond=torch.zeros(4, dtype=torch.long))
    s1 = secmi_stat(target, x, 20, 10, cond=torch.ones(4, dtype=torch.long))
    assert not torch.equal(s0, s1)
    with pytest.raises(ValueError, match="cond has 3 entries"):
        secmi_stat(target, x, 20, 10, cond=torch.zeros(3, dtype=torch.long))


def test_from_unet_refuses_half_precision_and_other_parameterisations():
    cfg = ModelConfig(image_size=8, channels=1, block_out_channels=(8, 16), norm_num_groups=4)
    with pytest.raises(ValueError, match="fp32"):
        DiffusionTarget.from_unet(build_unet(cfg).half(), build_scheduler())
    sched = build_scheduler()
    sched.register_to_config(prediction_type="v_prediction")
    with pytest.raises(ValueError, match="epsilon"):
        DiffusionTarget.from_unet(build_unet(cfg), sched)


# ----------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("bad, match", [
    (torch.zeros(0, 1, 8, 8), "empty"),
    (torch.zeros(1, 8, 8), "4 dimensions"),
    (torch.full((2, 1, 8, 8), 255.0), r"\[-1, 1\]"),
    (torch.full((2, 1, 8, 8), float("nan")), "NaN"),
    (torch.zeros(2, 3, 8, 8), "shape"),
    ([[0.0]], "torch.Tensor"),
])
def test_bad_images_raise_clear_errors(linear_abar, bad, match):
    target = DiffusionTarget(_zero_eps, linear_abar, image_shape=(1, 8, 8))
    with pytest.raises(ValueError, match=match):
        secmi_stat(target, bad)


@pytest.mark.parametrize("t_sec, k, match", [(105, 10, "multiple"), (1000, 10, "t_sec"),
                                              (100, 0, "k must"), (5, 10, "t_sec")])
def test_bad_steps_raise(linear_abar, t_sec, k, match):
    target = DiffusionTarget(_zero_eps, linear_abar)
    with pytest.raises(ValueError, match=match):
        secmi_stat(target, torch.zeros(1, 1, 4, 4), t_sec, k)


def test_bad_schedule_and_batch_size_raise():
    with pytest.raises(ValueError, match="alphas_cumprod"):
        DiffusionTarget(_zero_eps, [0.5, 1.5])
    with pytest.raises(ValueError, match="batch_size"):
        DiffusionTarget(_zero_eps, [0.9, 0.8], batch_size=0)


def test_eps_fn_with_wrong_output_shape_is_reported(linear_abar):
    target = DiffusionTarget(lambda x, t, cond=None: x[:, :1, :2], linear_abar)
    with pytest.raises(ValueError, match="eps_fn returned shape"):
        secmi_stat(target, torch.zeros(2, 1, 4, 4))
