"""Noise aggregation, naive loss, PIA/PIAN, the blind baseline and the attack registry:
hand-computed cases, brute-force references, memorisation controls, seeding, bad input."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch

from mialib.attacks import (ATTACKS, DiffusionTarget, blind_baseline, get_attack, naive_loss,
                            noise_aggregation, noise_aggregation_noises, pia_proximal, run_attack)
from mialib.attacks import aggregation as agg
from mialib.controls import memorizing_eps_fn
from mialib.data import load_digits
from mialib.metrics import evaluate


@pytest.fixture(scope="module")
def digits_split():
    ds = load_digits()
    perm = torch.randperm(len(ds), generator=torch.Generator().manual_seed(0))
    return ds.images[perm[:48]], ds.images[perm[48:96]]


# memorise the points, each with a little Gaussian of its own (see mialib.controls)
BANDWIDTH = 0.1


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


# ----------------------------------------------------------------------------- aggregation
def _brute_force(e: np.ndarray, metric: str) -> float:
    """The definitions in the module docstring, written out pair by pair in numpy."""
    k = len(e)
    if metric == "l2":
        return sum(np.sum((e[i] - e[j]) ** 2) for i in range(k) for j in range(k)) / k ** 2
    if metric == "l1":
        return sum(np.sum(np.abs(e[i] - e[j])) for i in range(k) for j in range(k)) / k ** 2
    if metric == "centroid":
        c = e.mean(0)
        return float(np.mean([np.linalg.norm(x - c) for x in e]))
    if metric == "density":
        return float(np.mean([min(np.linalg.norm(e[i] - e[j]) for j in range(k) if j != i)
                              for i in range(k)]))
    raise AssertionError(metric)


@pytest.mark.parametrize("metric", ["l2", "l1", "centroid", "density"])
def test_aggregation_matches_brute_force(metric):
    e = torch.randn(4, 5, 7, generator=_gen(3), dtype=torch.float64)
    got = agg.spread(e, metric).numpy()
    want = [_brute_force(x, metric) for x in e.numpy()]
    np.testing.assert_allclose(got, want, rtol=1e-12)


def test_hull_volume_closed_forms():
    # the unit right triangle in 3-D has area 1/2; the unit right tetrahedron volume 1/6
    tri = torch.tensor([[[0., 0, 0], [1, 0, 0], [0, 1, 0]]])
    tet = torch.tensor([[[0., 0, 0, 0], [1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0]]])
    assert agg.hull_volume(tri).item() == pytest.approx(0.5, rel=1e-12)
    assert agg.hull_volume(tet).item() == pytest.approx(1 / 6, rel=1e-12)
    # a segment: its length; translation and rotation do not change volumes
    seg = torch.tensor([[[1., 2, 3], [4, 6, 3]]])
    assert agg.hull_volume(seg).item() == pytest.approx(5.0, rel=1e-12)
    q, _ = torch.linalg.qr(torch.randn(4, 4, generator=_gen(1), dtype=torch.float64))
    assert agg.hull_volume(tet.double() @ q.T + 3.0).item() == pytest.approx(1 / 6, rel=1e-9)
    # collinear points span no area
    line = torch.tensor([[[0., 0], [1, 1], [2, 2]]])
    assert agg.hull_volume(line).item() == pytest.approx(0.0, abs=1e-12)


def test_identical_noises_have_zero_spread_under_every_metric():
    e = torch.randn(2, 1, 6, generator=_gen(0)).expand(2, 4, 6)
    for metric in agg.METRICS:
        assert agg.spread(e, metric).abs().max().item() < 1e-12, metric


def test_scaling_the_noises_scales_the_spread():
    e = torch.randn(3, 4, 9, generator=_gen(5), dtype=torch.float64)
    powers = {"l2": 2, "l1": 1, "centroid": 1, "density": 1, "hull": 3}
    for metric, pw in powers.items():
        torch.testing.assert_close(agg.spread(2 * e, metric), 2 ** pw * agg.spread(e, metric))


def test_score_is_minus_log_spread():
    c = torch.tensor([0.0, 1.0, math.e])
    torch.testing.assert_close(agg.spread_to_score(c, delta=1e-12),
                               torch.tensor([-math.log(1e-12), -math.log(1 + 1e-12), -1.0], dtype=torch.float64))
    with pytest.raises(ValueError, match="delta"):
        agg.spread_to_score(c, delta=0)


@pytest.mark.parametrize("bad, match", [(torch.zeros(3, 4), "N, K, D"), (torch.zeros(2, 1, 5), "K >= 2")])
def test_aggregation_bad_input(bad, match):
    with pytest.raises(ValueError, match=match):
        agg.spread(bad, "l2")
    with pytest.raises(ValueError, match="unknown aggregation metric"):
        agg.spread(torch.zeros(2, 3, 4), "l3")
    with pytest.raises(ValueError, match="dimension"):
        agg.hull_volume(torch.zeros(1, 5, 2))


# ----------------------------------------------------------------------------- the procedure
def test_noise_aggregation_follows_the_paper_step_by_step(linear_abar):
    """Recompute steps 1-4 by hand with an eps function that depends on x and t."""
    def eps_fn(x, t, cond=None):
        return torch.tanh(x) * (1 + t.view(-1, 1, 1, 1).float() / 100)
    target = DiffusionTarget(eps_fn, linear_abar, batch_size=3)
    x0 = torch.rand(5, 1, 4, 4, generator=_gen(1)) * 2 - 1
    t, m, K, sigma = 60, 15, 4, 0.2
    got = noise_aggregation(target, x0, t=t, m=m, K=K, sigma=sigma, generator=_gen(7))

    a = linear_abar.double()
    n = torch.randn(x0.shape, generator=_gen(7))
    x = a[t].sqrt() * x0.double() + sigma * n.double()
    es = []
    for i in range(K):
        s, u = t - i * m, t - (i + 1) * m
        e = torch.tanh(x) * (1 + s / 100)
        es.append(e)
        if i + 1 < K:
            x = a[u].sqrt() * (x - (1 - a[s]).sqrt() * e) / a[s].sqrt() + (1 - a[u]).sqrt() * e
    e = torch.stack(es, 1).flatten(2)
    c = sum(((e[:, i] - e[:, j]) ** 2).sum(1) for i in range(K) for j in range(K)) / K ** 2
    torch.testing.assert_close(got, -torch.log(c + 1e-12), rtol=1e-5, atol=1e-6)


def test_vp_injection_uses_the_schedule_noise_level(linear_abar):
    seen = []

    def eps_fn(x, t, cond=None):
        seen.append(x.clone())
        return torch.zeros_like(x)
    target = DiffusionTarget(eps_fn, linear_abar)
    x0 = torch.zeros(2, 1, 4, 4)
    noise_aggregation_noises(target, x0, t=80, m=10, K=2, injection="vp", generator=_gen(0))
    n = torch.randn(x0.shape, generator=_gen(0))
    torch.testing.assert_close(seen[0], (1 - linear_abar[80]).sqrt().float() * n)
    seen.clear()
    noise_aggregation_noises(target, x0, t=80, m=10, K=2, sigma=0.3, generator=_gen(0))
    torch.testing.assert_close(seen[0], 0.3 * n)


@pytest.mark.parametrize("K", [2, 5, 8])
def test_noise_aggregation_costs_K_queries(linear_abar, K):
    target = DiffusionTarget(lambda x, t, cond=None: torch.tanh(x), linear_abar, batch_size=7)
    x0 = torch.zeros(10, 1, 4, 4)
    with target.counting(len(x0)) as q:
        noise_aggregation(target, x0, K=K, generator=_gen(0))
    assert q.per_sample == K == get_attack("noise_aggregation").queries(K=K)


def test_scores_are_seeded_and_batch_independent(digits_split, linear_abar):
    members, _ = digits_split
    eps = memorizing_eps_fn(members[:10], linear_abar)
    small, big = DiffusionTarget(eps, linear_abar, batch_size=7), DiffusionTarget(eps, linear_abar, batch_size=64)
    a = noise_aggregation(small, members, generator=_gen(3))
    b = noise_aggregation(big, members, generator=_gen(3))
    torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)
    c = noise_aggregation(big, members, generator=_gen(4))
    assert not torch.allclose(b, c)
    torch.testing.assert_close(naive_loss(small, members, generator=_gen(1)),
                               naive_loss(big, members, generator=_gen(1)), rtol=1e-5, atol=1e-5)


# ----------------------------------------------------------------------------- baselines
def test_naive_loss_hand_computed(linear_abar):
    target = DiffusionTarget(lambda x, t, cond=None: 0.5 * x, linear_abar)
    x0 = torch.rand(3, 1, 2, 2, generator=_gen(2)) * 2 - 1
    got = naive_loss(target, x0, t=150, generator=_gen(9))
    a = linear_abar[150].double()
    n = torch.randn(x0.shape, generator=_gen(9)).double()
    xt = a.sqrt() * x0.double() + (1 - a).sqrt() * n
    torch.testing.assert_close(got, -((n - 0.5 * xt) ** 2).flatten(1).sum(1), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("normalize", [False, True])
def test_pia_hand_computed(linear_abar, normalize):
    def eps_fn(x, t, cond=None):
        return torch.sin(3 * x) + t.view(-1, 1, 1, 1).float() / 1000
    target = DiffusionTarget(eps_fn, linear_abar)
    x0 = torch.rand(4, 1, 3, 3, generator=_gen(4)) * 2 - 1
    with target.counting(len(x0)) as q:
        got = pia_proximal(target, x0, t=200, p=4, normalize=normalize)
    assert q.per_sample == 2
    x = x0.double()
    e0 = torch.sin(3 * x)
    if normalize:
        e0 = e0 * math.sqrt(2 / math.pi) / e0.abs().flatten(1).mean(1).view(-1, 1, 1, 1)
    a = linear_abar[200].double()
    et = torch.sin(3 * (a.sqrt() * x + (1 - a).sqrt() * e0)) + 0.2
    torch.testing.assert_close(got, -((e0 - et).abs() ** 4).flatten(1).sum(1), rtol=1e-4, atol=1e-6)


# ----------------------------------------------------------------------------- controls
def test_a_pure_memoriser_gives_noise_aggregation_nothing_to_see(digits_split, linear_abar):
    """Why the controls below give the memoriser a bandwidth: where the exact memoriser's
    posterior has collapsed onto one point, its DDIM trajectory is straight and its predicted
    noise is the same at every step, for members and many non-members alike."""
    members, nonmembers = digits_split
    target = DiffusionTarget(memorizing_eps_fn(members, linear_abar), linear_abar)
    e = noise_aggregation_noises(target, nonmembers, generator=_gen(0)).flatten(2).double()
    rel = agg.l2_pairwise(e) / e.pow(2).sum(2).mean(1)
    assert (rel < 1e-6).float().mean().item() > 0.5


def test_bandwidth_memoriser_closed_forms(linear_abar):
    """One point p with bandwidth r is the Gaussian N(p, r^2 I): eps = sqrt(1-a) (x - sqrt(a) p) / v.
    Bandwidth 0 is the exact memoriser."""
    p = torch.full((1, 1, 2, 2), 0.3)
    x = torch.randn(3, 1, 2, 2, generator=_gen(0))
    t = torch.full((3,), 120)
    a, r = linear_abar[120].float(), 0.2
    want = (1 - a).sqrt() * (x - a.sqrt() * p) / (a * r ** 2 + 1 - a)
    torch.testing.assert_close(memorizing_eps_fn(p, linear_abar, bandwidth=r)(x, t), want, rtol=1e-5, atol=1e-6)
    pts = torch.rand(5, 1, 2, 2, generator=_gen(1))
    torch.testing.assert_close(memorizing_eps_fn(pts, linear_abar, bandwidth=0.0)(x, t),
                               memorizing_eps_fn(pts, linear_abar)(x, t))
    with pytest.raises(ValueError, match="bandwidth"):
        memorizing_eps_fn(pts, linear_abar, bandwidth=-1)


@pytest.mark.parametrize("name", sorted(ATTACKS))
@pytest.mark.parametrize("memorised, expect_auc", [("members", 1.0), ("nonmembers", 0.0)])
def test_memorisation_controls_for_every_attack(digits_split, linear_abar, name, memorised, expect_auc):
    """A model that memorised the members must expose them (AUC ~1); one that memorised the
    non-members must flip the attack (AUC ~0)."""
    members, nonmembers = digits_split
    points = members if memorised == "members" else nonmembers
    target = DiffusionTarget(memorizing_eps_fn(points, linear_abar, bandwidth=BANDWIDTH), linear_abar,
                             image_shape=(1, 8, 8))
    g = _gen(0)
    auc = evaluate(run_attack(name, target, members, generator=g),
                   run_attack(name, target, nonmembers, generator=g), n_boot=0)["auc"]
    assert auc == pytest.approx(expect_auc, abs=0.02), f"{name}: AUC {auc:.3f}"


@pytest.mark.parametrize("metric", sorted(agg.METRICS))
@pytest.mark.parametrize("injection", ["decoupled", "vp"])
def test_noise_aggregation_controls_for_every_metric_and_injection(digits_split, linear_abar, metric, injection):
    members, nonmembers = digits_split
    target = DiffusionTarget(memorizing_eps_fn(members, linear_abar, bandwidth=BANDWIDTH), linear_abar)
    kw = dict(metric=metric, injection=injection)
    auc = evaluate(noise_aggregation(target, members, generator=_gen(0), **kw),
                   noise_aggregation(target, nonmembers, generator=_gen(1), **kw), n_boot=0)["auc"]
    assert auc > 0.95, f"{metric}/{injection}: AUC {auc:.3f}"


def test_blind_baseline_is_at_chance_on_iid_and_catches_a_shift(digits_split):
    """Same population: nothing to learn. Non-members darkened by 0.3: trivially separable."""
    ds = load_digits()
    perm = torch.randperm(len(ds), generator=_gen(1))
    a, b = ds.images[perm[:400]], ds.images[perm[400:800]]
    iid = blind_baseline(a, b, epochs=10, seed=0)
    auc_iid = evaluate(iid.member_scores, iid.nonmember_scores, n_boot=0)["auc"]
    assert abs(auc_iid - 0.5) < 0.1
    shifted = blind_baseline(a, (b - 0.3).clamp(-1, 1), epochs=10, seed=0)
    assert evaluate(shifted.member_scores, shifted.nonmember_scores, n_boot=0)["auc"] > 0.95
    again = blind_baseline(a, b, epochs=10, seed=0)
    torch.testing.assert_close(iid.member_scores, again.member_scores)


# ----------------------------------------------------------------------------- registry
def test_registry_lists_every_attack_with_its_queries():
    want = {"naive_loss": 1, "pia_proximal": 2, "pian_proximal": 2, "secmi_stat": 11, "noise_aggregation": 5}
    assert {n: a.queries() for n, a in ATTACKS.items()} == want
    assert get_attack("secmi_stat").queries(t_sec=50) == 6
    with pytest.raises(ValueError, match="unknown attack"):
        get_attack("pia")
    with pytest.raises(ValueError, match="no parameter"):
        get_attack("naive_loss").params(sigma=0.1)


@pytest.mark.parametrize("name", sorted(ATTACKS))
def test_registry_query_counts_match_the_counter(linear_abar, name):
    target = DiffusionTarget(lambda x, t, cond=None: torch.tanh(x), linear_abar)
    x0 = torch.zeros(6, 1, 4, 4)
    with target.counting(len(x0)) as q:
        s = run_attack(name, target, x0, generator=_gen(0))
    assert s.shape == (6,) and s.dtype == torch.float64
    assert q.per_sample == get_attack(name).queries()


# ----------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("kwargs, match", [
    (dict(K=1), "K >= 2"), (dict(t=30, m=10, K=5), "below step 0"), (dict(m=0), "m must"),
    (dict(injection="ve"), "injection"), (dict(metric="cosine"), "metric"), (dict(sigma=0.0), "sigma"),
    (dict(t=1000), "t must"),
])
def test_noise_aggregation_bad_parameters(linear_abar, kwargs, match):
    calls = []
    target = DiffusionTarget(lambda x, t, cond=None: calls.append(1) or torch.zeros_like(x), linear_abar)
    with pytest.raises(ValueError, match=match):
        noise_aggregation(target, torch.zeros(2, 1, 4, 4), **kwargs)
    assert not calls, "parameters must be checked before the model is queried"


@pytest.mark.parametrize("fn", [noise_aggregation, naive_loss, pia_proximal])
@pytest.mark.parametrize("bad, match", [
    (torch.zeros(4, 4), "4 dimensions"), (torch.zeros(0, 1, 4, 4), "empty"),
    (torch.full((1, 1, 4, 4), 2.0), r"\[-1, 1\]"), (torch.full((1, 1, 4, 4), float("nan")), "NaN"),
])
def test_bad_images_raise_for_every_attack(linear_abar, fn, bad, match):
    target = DiffusionTarget(lambda x, t, cond=None: torch.zeros_like(x), linear_abar)
    with pytest.raises(ValueError, match=match):
        fn(target, bad)


def test_pia_bad_parameters(linear_abar):
    target = DiffusionTarget(lambda x, t, cond=None: torch.zeros_like(x), linear_abar)
    with pytest.raises(ValueError, match="p must"):
        pia_proximal(target, torch.zeros(1, 1, 2, 2), p=0)
    with pytest.raises(ValueError, match="t must"):
        pia_proximal(target, torch.zeros(1, 1, 2, 2), t=0)
    with pytest.raises(ValueError, match="t must"):
        naive_loss(target, torch.zeros(1, 1, 2, 2), t=-1)


# ----------------------------------------------------------------------------- shifts
def test_shifts_keep_shape_and_range_and_do_what_they_say():
    from mialib.shifts import SHIFTS, shift_population
    x = torch.rand(3, 1, 4, 4, generator=_gen(0)) * 2 - 1
    for kind in SHIFTS:
        y = shift_population(x, kind, 0.5)
        assert y.shape == x.shape and y.min() >= -1 and y.max() <= 1, kind
    torch.testing.assert_close(shift_population(x, "flip"), x.flip(-1))
    torch.testing.assert_close(shift_population(x, "contrast", 1.0), x.mean((1, 2, 3), keepdim=True).expand_as(x))
    torch.testing.assert_close(shift_population(x, "blur", 0.0), x)
    const = torch.full((1, 1, 4, 4), 0.3)
    torch.testing.assert_close(shift_population(const, "blur", 1.0), const)  # a flat image stays flat
    torch.testing.assert_close(shift_population(x, "noise", 0.2, seed=1), shift_population(x, "noise", 0.2, seed=1))
    with pytest.raises(ValueError, match="unknown shift"):
        shift_population(x, "rotate")
    with pytest.raises(ValueError, match="strength"):
        shift_population(x, "blur", 1.5)


def test_reported_numbers_are_reachable():
    from mialib import reference
    assert reference.reported("noise_aggregation/cifar10")["auc"] == 0.957
    assert reference.ablation("noise_aggregation/K_tpr@1%fpr")[5] == 0.297
    assert set(reference.ablation("noise_aggregation/metric_asr")) == set(agg.METRICS)
    for info in ATTACKS.values():
        if info.reference:
            reference.reported(info.reference)
    with pytest.raises(KeyError):
        reference.ablation("nope")


@pytest.mark.parametrize("name", sorted(ATTACKS))
def test_every_attack_passes_class_labels_to_a_conditional_unet(name):
    """cond= reaches the model: the same images under other labels get other scores."""
    from mialib.models import ModelConfig, build_scheduler, build_unet
    torch.manual_seed(0)
    cfg = ModelConfig(image_size=8, channels=1, block_out_channels=(8, 16), norm_num_groups=4, num_classes=2)
    target = DiffusionTarget.from_unet(build_unet(cfg), build_scheduler(), batch_size=3)
    x = torch.rand(4, 1, 8, 8, generator=_gen(0)) * 2 - 1
    s0 = run_attack(name, target, x, generator=_gen(1), cond=torch.zeros(4, dtype=torch.long))
    s1 = run_attack(name, target, x, generator=_gen(1), cond=torch.ones(4, dtype=torch.long))
    assert not torch.equal(s0, s1)
    with pytest.raises(ValueError, match="cond has 3 entries"):
        run_attack(name, target, x, generator=_gen(1), cond=torch.zeros(3, dtype=torch.long))


def test_registry_checks_parameters_without_querying(linear_abar):
    calls = []
    target = DiffusionTarget(lambda x, t, cond=None: calls.append(1) or torch.zeros_like(x), linear_abar)
    na, sec = get_attack("noise_aggregation"), get_attack("secmi_stat")
    assert na.is_valid(target) and na.is_valid(target, t=40, m=10, K=5)
    assert not na.is_valid(target, t=30, m=10, K=5) and not na.is_valid(target, K=1)
    assert not na.is_valid(target, metric="cosine")
    assert sec.is_valid(target, t_sec=20) and not sec.is_valid(target, t_sec=25)
    assert not get_attack("pia_proximal").is_valid(target, t=0)
    assert not get_attack("naive_loss").is_valid(target, t=1000)
    assert not calls
    assert {n: a.timestep for n, a in ATTACKS.items()} == {
        "naive_loss": "t", "pia_proximal": "t", "pian_proximal": "t", "secmi_stat": "t_sec", "noise_aggregation": "t"}


@pytest.mark.parametrize("bad, match", [(torch.zeros(0, 1, 8, 8), "non-empty"), (torch.zeros(8, 8), "non-empty"),
                                        (torch.full((4, 1, 8, 8), float("nan")), "NaN"),
                                        (torch.zeros(4, 1, 4, 4), "one shape")])
def test_blind_baseline_bad_input(bad, match):
    with pytest.raises(ValueError, match=match):
        blind_baseline(torch.zeros(4, 1, 8, 8), bad, epochs=1)


def test_scoring_collected_noises_equals_the_attack(linear_abar):
    from mialib.attacks import noise_aggregation_scores
    target = DiffusionTarget(lambda x, t, cond=None: torch.tanh(2 * x) * (1 + t.view(-1, 1, 1, 1) / 50), linear_abar)
    x0 = torch.rand(6, 1, 4, 4, generator=_gen(2)) * 2 - 1
    noises = noise_aggregation_noises(target, x0, generator=_gen(5))
    for metric in agg.METRICS:
        torch.testing.assert_close(noise_aggregation_scores(noises, metric),
                                   noise_aggregation(target, x0, metric=metric, generator=_gen(5)), rtol=0, atol=0)
