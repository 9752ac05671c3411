"""SecMI (docs/papers.md section 1): closed forms, memorisation controls, query counts, bad input."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mialib.attacks import DiffusionTarget, SecMI, secmi_error_maps, secmi_nns, secmi_stat, secmi_terror
from mialib.diffusion.controls import memorising_eps_fn
from mialib.evaluation.metrics import evaluate


def _zero_eps(x, t, cond=None):
    return torch.zeros_like(x)


def test_terror_closed_forms(linear_abar):
    """A memoriser of ONE point x* predicts x0 = x* everywhere; eps is then affine in x and
    D(D(x, s->u), u->s) = x exactly, so the t-error vanishes for every input (a model with
    one training image cannot tell members apart). With two memorised points, each stays on
    its own deterministic trajectory, so the members' t-errors are zero."""
    g = torch.Generator().manual_seed(2)
    pts = torch.rand(2, 1, 8, 8, generator=g) * 2 - 1
    single = DiffusionTarget(memorising_eps_fn(pts[:1], linear_abar), linear_abar)
    assert secmi_terror(single, pts).max().item() < 1e-10
    pair = DiffusionTarget(memorising_eps_fn(pts, linear_abar), linear_abar)
    assert secmi_terror(pair, pts).max().item() < 1e-10
    assert secmi_terror(single, torch.zeros(1, 1, 8, 8)).item() < 1e-10


@pytest.mark.parametrize("memorised, expect_auc", [("members", 1.0), ("nonmembers", 0.0)])
def test_secmi_stat_memorisation_controls(digits_split, linear_abar, memorised, expect_auc):
    members, nonmembers = digits_split
    points = members if memorised == "members" else nonmembers
    target = DiffusionTarget(memorising_eps_fn(points, linear_abar), linear_abar, image_shape=(1, 8, 8))
    auc = evaluate(secmi_stat(target, members), secmi_stat(target, nonmembers), n_boot=0)["auc"]
    assert auc == pytest.approx(expect_auc, abs=0.02)


def test_secmi_nns_memorisation_controls(digits_split, linear_abar):
    members, nonmembers = digits_split
    target = DiffusionTarget(memorising_eps_fn(members, linear_abar), linear_abar)
    res = secmi_nns(target, members, nonmembers, epochs=30, width=8, seed=0, train_frac=0.25)
    auc = evaluate(res.member_scores, res.nonmember_scores, n_boot=0)["auc"]
    assert auc > 0.9
    flipped = DiffusionTarget(memorising_eps_fn(nonmembers, linear_abar), linear_abar)
    res_f = secmi_nns(flipped, members, nonmembers, epochs=30, width=8, seed=0, train_frac=0.25)
    # trained on the flipped model, the classifier learns "low error = member" ... of the
    # other side; its labels still say which side is which, so it still separates them
    auc_f = evaluate(res_f.member_scores, res_f.nonmember_scores, n_boot=0)["auc"]
    assert auc_f > 0.9


def test_secmi_nns_scores_only_held_out_images(digits_split, linear_abar):
    members, nonmembers = digits_split
    target = DiffusionTarget(memorising_eps_fn(members, linear_abar), linear_abar)
    res = secmi_nns(target, members, nonmembers, epochs=1, width=8, seed=3, train_frac=0.25)
    assert len(res.member_scores) == len(res.member_eval_idx) == 36
    assert len(res.nonmember_scores) == len(res.nonmember_eval_idx) == 36
    assert len(np.unique(res.member_eval_idx)) == 36 and res.member_eval_idx.max() < 48
    assert res.queries_per_image == SecMI(t_sec=100, k=10).queries()
    again = secmi_nns(target, members, nonmembers, epochs=1, width=8, seed=3, train_frac=0.25)
    torch.testing.assert_close(res.member_scores, again.member_scores, rtol=0, atol=0)
    with pytest.raises(ValueError, match="train_frac"):
        secmi_nns(target, members, nonmembers, train_frac=1.0)


@pytest.mark.parametrize("t_sec, k", [(100, 10), (50, 10), (10, 10), (60, 20)])
def test_query_count_matches_formula(linear_abar, t_sec, k):
    target = DiffusionTarget(_zero_eps, linear_abar, batch_size=3)
    x = torch.zeros(7, 1, 4, 4)
    with target.counting(len(x)) as q:
        secmi_stat(target, x, t_sec, k)
    assert q.total == 7 * SecMI(t_sec=t_sec, k=k).queries()
    assert q.per_sample == t_sec // k + 1
    assert SecMI().queries() == 11      # 9 inversion steps + 2 (docs/papers.md eq. 3)
    assert target.n_queries == q.total


def test_scores_do_not_depend_on_batch_size(digits_split, linear_abar):
    members, _ = digits_split
    eps = memorising_eps_fn(members[:10], linear_abar)
    a = secmi_stat(DiffusionTarget(eps, linear_abar, batch_size=1), members[:12])
    b = secmi_stat(DiffusionTarget(eps, linear_abar, batch_size=256), members[:12])
    torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-12)


def test_error_maps_and_terror_agree(digits_split, linear_abar):
    members, _ = digits_split
    target = DiffusionTarget(memorising_eps_fn(members[:5], linear_abar), linear_abar)
    maps = secmi_error_maps(target, members[5:9])
    assert maps.shape == (4, 1, 8, 8) and maps.dtype == torch.float32
    torch.testing.assert_close(secmi_terror(target, members[5:9]), maps.double().pow(2).flatten(1).sum(1))
    torch.testing.assert_close(secmi_stat(target, members[5:9]), -secmi_terror(target, members[5:9]))


@pytest.mark.parametrize("t_sec, k, match", [(105, 10, "multiple"), (1000, 10, "t_sec"),
                                              (100, 0, "k must"), (5, 10, "t_sec")])
def test_bad_steps_raise(linear_abar, t_sec, k, match):
    target = DiffusionTarget(_zero_eps, linear_abar)
    with pytest.raises(ValueError, match=match):
        secmi_stat(target, torch.zeros(1, 1, 4, 4), t_sec, k)



def _nonlinear_eps(x, t, cond=None):
    """Any smooth eps that depends on x and t non-trivially (t: one step, or one per image)."""
    t = torch.as_tensor(t, dtype=x.dtype, device=x.device)
    t = t.view(-1, *[1] * (x.ndim - 1)) if t.numel() > 1 else t
    return torch.tanh(1.7 * x + 0.001 * t) * (1 + 0.0005 * t) + 0.3 * x.roll(1, -1) ** 2


@pytest.mark.parametrize("t_sec", [50, 100, 300])
def test_secmi_at_stride_t_sec_is_pia_with_p_2_when_abar_0_is_1(linear_abar, t_sec):
    """At k = t_sec SecMI inverts nothing (x~ = x0) and its one step up uses e0 = eps(x0, 0), PIA's
    proximal initialisation. With abar_0 = 1, x^ - x0 = sqrt((1 - abar_t) / abar_t) (e0 - eps(x_t, t)),
    so SecMI_stat = (1 - abar_t) / abar_t x PIA's score with p = 2 at t = t_sec, exactly."""
    from mialib.attacks.baselines import pia_proximal
    abar = torch.cat([torch.full((1,), 1 - 1e-15, dtype=torch.float64), linear_abar[1:]])  # abar_0 = 1 to float64
    target = DiffusionTarget(_nonlinear_eps, abar, image_shape=(1, 8, 8))
    x0 = torch.rand(12, 1, 8, 8, generator=torch.Generator().manual_seed(3)) * 2 - 1
    a = float(abar[t_sec])
    torch.testing.assert_close(secmi_stat(target, x0, t_sec, k=t_sec),
                               (1 - a) / a * pia_proximal(target, x0, t_sec, p=2), rtol=1e-4, atol=1e-7)
    # with the finer default stride the two are different attacks
    assert not torch.allclose(secmi_stat(target, x0, t_sec, k=10), (1 - a) / a * pia_proximal(target, x0, t_sec, p=2),
                              rtol=1e-2)


def test_secmi_at_stride_t_sec_ranks_images_as_pia_with_p_2_on_the_papers_schedule(linear_abar):
    """On the papers' schedule (abar_0 = 1 - 1e-4) the identity holds to first order: the ranks agree."""
    from scipy.stats import spearmanr

    from mialib.attacks.baselines import pia_proximal
    target = DiffusionTarget(_nonlinear_eps, linear_abar, image_shape=(1, 8, 8))
    x0 = torch.rand(64, 1, 8, 8, generator=torch.Generator().manual_seed(4)) * 2 - 1
    rho = spearmanr(secmi_stat(target, x0, 100, k=100).numpy(), pia_proximal(target, x0, 100, p=2).numpy())[0]
    assert rho > 0.99


def _class_eps(x, t, cond=None):
    """A class-conditional eps: the label shifts the prediction."""
    shift = 0.0 if cond is None else 0.05 * cond.to(x.dtype).view(-1, *[1] * (x.ndim - 1))
    return _nonlinear_eps(x, t) + shift


def test_back_cond_conditions_only_the_step_back(linear_abar):
    """``back_cond`` replaces the condition of step 2's second D only: the maps equal a hand-made
    round trip with the inversion under ``cond`` and the step back under ``back_cond``."""
    from mialib.diffusion.target import CondSpec
    target = DiffusionTarget(_class_eps, linear_abar, image_shape=(1, 8, 8), cond=CondSpec("class", num_embeds=3))
    x0 = torch.rand(5, 1, 8, 8, generator=torch.Generator().manual_seed(5)) * 2 - 1
    up, back = torch.tensor([0, 1, 2, 0, 1]), torch.tensor([2, 2, 0, 1, 0])
    t_sec, k = 40, 10
    x = x0
    for s in range(0, t_sec - k, k):
        x, _ = target.ddim(x, s, s + k, up)
    x_up, _ = target.ddim(x, t_sec - k, t_sec, up)
    x_hat, _ = target.ddim(x_up, t_sec, t_sec - k, back)
    got = secmi_error_maps(target, x0, t_sec, k, cond=up, back_cond=back)
    torch.testing.assert_close(got, (x_hat - x).cpu(), rtol=0, atol=1e-6)
    assert torch.equal(secmi_error_maps(target, x0, t_sec, k, cond=up, back_cond=up), secmi_error_maps(target, x0, t_sec, k, cond=up))
    assert not torch.allclose(got, secmi_error_maps(target, x0, t_sec, k, cond=up))
    with pytest.raises(ValueError):
        secmi_error_maps(target, x0, t_sec, k, cond=up, back_cond=back[:3])
    from mialib.attacks.secmi import secmi_error_maps_backs
    shared = secmi_error_maps_backs(target, x0, t_sec, k, up, [back, None, up])   # one inversion, three steps back
    assert torch.equal(shared[0], got) and torch.equal(shared[1], shared[2])
    assert torch.equal(shared[1], secmi_error_maps(target, x0, t_sec, k, cond=up))
