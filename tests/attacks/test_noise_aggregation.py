"""Noise aggregation (docs/papers.md section 2): the procedure recomputed by hand, injection
modes, queries, seeding, memorisation controls, bad parameters."""

from __future__ import annotations

import pytest
import torch

from helpers import gen as _gen
from mialib.attacks import DiffusionTarget, get_attack, noise_aggregation, noise_aggregation_noises, naive_loss
from mialib.attacks import aggregation as agg
from mialib.diffusion.controls import memorising_eps_fn
from mialib.evaluation.metrics import evaluate

BANDWIDTH = 0.1  # memorise the points, each with a little Gaussian of its own (mialib.diffusion.controls)


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
    eps = memorising_eps_fn(members[:10], linear_abar)
    small, big = DiffusionTarget(eps, linear_abar, batch_size=7), DiffusionTarget(eps, linear_abar, batch_size=64)
    a = noise_aggregation(small, members, generator=_gen(3))
    b = noise_aggregation(big, members, generator=_gen(3))
    torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)
    c = noise_aggregation(big, members, generator=_gen(4))
    assert not torch.allclose(b, c)
    torch.testing.assert_close(naive_loss(small, members, generator=_gen(1)),
                               naive_loss(big, members, generator=_gen(1)), rtol=1e-5, atol=1e-5)


def test_a_pure_memoriser_gives_noise_aggregation_nothing_to_see(digits_split, linear_abar):
    """Why the controls below give the memoriser a bandwidth: where the exact memoriser's
    posterior has collapsed onto one point, its DDIM trajectory is straight and its predicted
    noise is the same at every step, for members and many non-members alike."""
    members, nonmembers = digits_split
    target = DiffusionTarget(memorising_eps_fn(members, linear_abar), linear_abar)
    e = noise_aggregation_noises(target, nonmembers, generator=_gen(0)).flatten(2).double()
    rel = agg.l2_pairwise(e) / e.pow(2).sum(2).mean(1)
    assert (rel < 1e-6).float().mean().item() > 0.5


@pytest.mark.parametrize("metric", sorted(agg.METRICS))
@pytest.mark.parametrize("injection", ["decoupled", "vp"])
def test_noise_aggregation_controls_for_every_metric_and_injection(digits_split, linear_abar, metric, injection):
    members, nonmembers = digits_split
    target = DiffusionTarget(memorising_eps_fn(members, linear_abar, bandwidth=BANDWIDTH), linear_abar)
    kw = dict(metric=metric, injection=injection)
    auc = evaluate(noise_aggregation(target, members, generator=_gen(0), **kw),
                   noise_aggregation(target, nonmembers, generator=_gen(1), **kw), n_boot=0)["auc"]
    assert auc > 0.95, f"{metric}/{injection}: AUC {auc:.3f}"


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


def test_scoring_collected_noises_equals_the_attack(linear_abar):
    from mialib.attacks import noise_aggregation_scores
    target = DiffusionTarget(lambda x, t, cond=None: torch.tanh(2 * x) * (1 + t.view(-1, 1, 1, 1) / 50), linear_abar)
    x0 = torch.rand(6, 1, 4, 4, generator=_gen(2)) * 2 - 1
    noises = noise_aggregation_noises(target, x0, generator=_gen(5))
    for metric in agg.METRICS:
        torch.testing.assert_close(noise_aggregation_scores(noises, metric),
                                   noise_aggregation(target, x0, metric=metric, generator=_gen(5)), rtol=0, atol=0)



def test_walk_timesteps_are_the_steps_the_noises_are_predicted_at():
    from mialib.attacks import NoiseAggregation
    assert NoiseAggregation(t=80, m=10, K=5).walk_timesteps() == [80, 70, 60, 50, 40]
    assert NoiseAggregation(t=20, m=5, K=2).walk_timesteps() == [20, 15]
