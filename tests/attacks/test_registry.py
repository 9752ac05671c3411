"""The attack registry: every attack's queries, checks and conditioning, and the memorisation
controls every attack must pass (AUC ~1 when the model memorised the members, ~0 when it
memorised the non-members)."""

from __future__ import annotations

import pytest
import torch

from helpers import gen as _gen
from mialib.attacks import ATTACKS, DiffusionTarget, get_attack, run_attack
from mialib.diffusion.controls import memorising_eps_fn
from mialib.evaluation.metrics import evaluate

BANDWIDTH = 0.1  # memorise the points, each with a little Gaussian of its own (mialib.diffusion.controls)


def test_registry_lists_every_attack_with_its_queries():
    want = {"naive_loss": 1, "pia_proximal": 2, "pian_proximal": 2, "secmi_stat": 11, "noise_aggregation": 5}
    assert {n: a.queries() for n, a in ATTACKS.items()} == want
    assert get_attack("secmi_stat").queries(t_sec=50) == 6
    with pytest.raises(ValueError, match="unknown attack"):
        get_attack("pia")
    with pytest.raises(ValueError, match="no parameter"):
        get_attack("naive_loss").configure(sigma=0.1)


@pytest.mark.parametrize("name", sorted(ATTACKS))
def test_registry_query_counts_match_the_counter(linear_abar, name):
    target = DiffusionTarget(lambda x, t, cond=None: torch.tanh(x), linear_abar)
    x0 = torch.zeros(6, 1, 4, 4)
    with target.counting(len(x0)) as q:
        s = run_attack(name, target, x0, generator=_gen(0))
    assert s.shape == (6,) and s.dtype == torch.float64
    assert q.per_sample == get_attack(name).queries()


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


@pytest.mark.parametrize("name", sorted(ATTACKS))
def test_every_attack_passes_class_labels_to_a_conditional_unet(name):
    """cond= reaches the model: the same images under other labels get other scores."""
    from mialib.diffusion.models import ModelConfig, build_scheduler, build_unet
    torch.manual_seed(0)
    cfg = ModelConfig(image_size=8, channels=1, block_out_channels=(8, 16), norm_num_groups=4, num_classes=2)
    target = DiffusionTarget.from_unet(build_unet(cfg), build_scheduler(), batch_size=3)
    x = torch.rand(4, 1, 8, 8, generator=_gen(0)) * 2 - 1
    s0 = run_attack(name, target, x, generator=_gen(1), cond=torch.zeros(4, dtype=torch.long))
    s1 = run_attack(name, target, x, generator=_gen(1), cond=torch.ones(4, dtype=torch.long))
    assert not torch.equal(s0, s1)
    with pytest.raises(ValueError, match="cond has 3 entries"):
        run_attack(name, target, x, generator=_gen(1), cond=torch.zeros(3, dtype=torch.long))


@pytest.mark.parametrize("name", sorted(ATTACKS))
@pytest.mark.parametrize("memorised, expect_auc", [("members", 1.0), ("nonmembers", 0.0)])
def test_memorisation_controls_for_every_attack(digits_split, linear_abar, name, memorised, expect_auc):
    """A model that memorised the members must expose them (AUC ~1); one that memorised the
    non-members must flip the attack (AUC ~0)."""
    members, nonmembers = digits_split
    points = members if memorised == "members" else nonmembers
    target = DiffusionTarget(memorising_eps_fn(points, linear_abar, bandwidth=BANDWIDTH), linear_abar,
                             image_shape=(1, 8, 8))
    g = _gen(0)
    auc = evaluate(run_attack(name, target, members, generator=g),
                   run_attack(name, target, nonmembers, generator=g), n_boot=0)["auc"]
    assert auc == pytest.approx(expect_auc, abs=0.02), f"{name}: AUC {auc:.3f}"



def test_attack_settings_apply_overrides_and_name_what_is_wrong():
    from mialib.attacks import CLASSIFIERS, NoiseAggregation, attack_settings
    s = attack_settings({"noise_aggregation": {"t": 60}, "secmi_nns": {"epochs": 3}})
    assert s["noise_aggregation"] == NoiseAggregation(t=60)
    assert s["secmi_nns"].epochs == 3 and s["blind_baseline"] == CLASSIFIERS["blind_baseline"]
    assert set(s) == set(ATTACKS) | set(CLASSIFIERS)
    assert attack_settings() == attack_settings({}) == attack_settings(None)
    with pytest.raises(ValueError, match=r"unknown attack\(s\) \['secmi'\]"):
        attack_settings({"secmi": {"t_sec": 20}})
    with pytest.raises(ValueError, match=r"NoiseAggregation has no parameter\(s\) \['T'\]"):
        attack_settings({"noise_aggregation": {"T": 60}})
    with pytest.raises(ValueError, match="must be a mapping"):
        attack_settings({"noise_aggregation": 60})


@pytest.mark.parametrize("name, overrides, match", [
    ("secmi_stat", {"t_sec": "20"}, "SecMI.t_sec must be an integer"),
    ("secmi_stat", {"t_sec": None}, "SecMI.t_sec must be an integer"),
    ("noise_aggregation", {"K": "5"}, "NoiseAggregation.K must be an integer"),
    ("noise_aggregation", {"t": True}, "NoiseAggregation.t must be an integer"),
    ("noise_aggregation", {"K": 5.0}, "NoiseAggregation.K must be an integer"),
    ("noise_aggregation", {"sigma": float("inf")}, "sigma must be finite"),
    ("noise_aggregation", {"delta": float("nan")}, "delta must be finite"),
    ("noise_aggregation", {"injection": 1}, "NoiseAggregation.injection must be a string"),
    ("pia_proximal", {"p": "2"}, "PIA.p must be a number"),
    ("pia_proximal", {"p": float("inf")}, "p must be finite"),
    ("pia_proximal", {"normalize": 1}, "PIA.normalize must be True or False"),
    ("naive_loss", {"t": 100.0}, "NaiveLoss.t must be an integer"),
])
def test_wrong_parameter_types_are_named_not_coerced(linear_abar, name, overrides, match):
    calls = []
    target = DiffusionTarget(lambda x, t, cond=None: calls.append(1) or torch.zeros_like(x), linear_abar)
    with pytest.raises(ValueError, match=match):
        run_attack(name, target, torch.zeros(2, 1, 4, 4), generator=_gen(0), **overrides)
    assert not calls


@pytest.mark.parametrize("name", ["naive_loss", "noise_aggregation"])
def test_a_generator_that_is_not_a_generator_is_refused(linear_abar, name):
    target = DiffusionTarget(lambda x, t, cond=None: torch.zeros_like(x), linear_abar)
    with pytest.raises(ValueError, match="generator must be a torch.Generator"):
        run_attack(name, target, torch.zeros(2, 1, 4, 4), generator=0)


@pytest.mark.parametrize("name, want", [
    ("naive_loss", [100]), ("pia_proximal", [0, 200]), ("pian_proximal", [0, 200]),
    ("secmi_stat", [0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100]), ("noise_aggregation", [80, 70, 60, 50, 40]),
])
def test_the_timesteps_each_attack_queries(linear_abar, name, want):
    seen = []
    target = DiffusionTarget(lambda x, t, cond=None: seen.append(int(t[0])) or torch.tanh(x), linear_abar)
    run_attack(name, target, torch.zeros(2, 1, 4, 4), generator=_gen(0))
    assert seen == want
