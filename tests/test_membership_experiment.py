"""The membership experiment: one target parameter block with checked overrides, the split's
four parts, and the target trained on exactly the members and calibration members."""

from __future__ import annotations

import pytest
import torch

from helpers import TINY_TARGET, same_weights as _same
from mialib.diffusion.trained import model_key
from mialib.experiments.membership import PARTS, TargetParams, TargetSpec, load_data, train_target, train_target_budgets

PARAMS = TINY_TARGET


def test_target_spec_from_params():
    spec = TargetSpec.from_params(PARAMS, seed=3)
    assert spec.model.channels == 1 and spec.model.block_out_channels == (8, 16)
    assert (spec.n_cal_members, spec.n_cal_nonmembers, spec.split_seed) == (4, 4, 3)
    assert spec.train.steps == 5 and spec.train.batch_size == 4 and spec.train.seed == 3
    assert TargetSpec.from_params({**PARAMS, "dataset": "cifar10"}).model.channels == 3
    # no overrides: the library defaults, which are the quick profile's target
    default = TargetSpec.from_params()
    assert (default.n_members, default.n_nonmembers, default.model.block_out_channels,
            default.train.steps) == (192, 1024, (32, 64), 3000)
    assert TargetSpec.from_params(TargetParams()) == default


@pytest.mark.parametrize("overrides, match", [
    ({"train_step": 5}, r"no parameter\(s\) \['train_step'\]"),
    ({"train_steps": "20"}, "TargetParams.train_steps must be an integer"),
    ({"lr": "0.1"}, "TargetParams.lr must be a number"),
    ({"n_members": 1.5}, "must be an integer"),
    ({"block_out_channels": 16}, "block_out_channels must be a list"),
    ("digits", "must be a mapping"),
])
def test_bad_target_settings_name_the_setting(overrides, match):
    with pytest.raises(ValueError, match=match):
        TargetSpec.from_params(overrides)


def test_train_target_trains_on_members_and_calibration_members(exp_root):
    spec = TargetSpec.from_params(PARAMS)
    data = load_data(spec)
    assert (exp_root / "data" / "splits" / "digits_m16_n16_cm4_cn4_s0.npz").is_file()
    assert [len(data.part(p)) for p in PARTS] == [16, 16, 4, 4]
    assert torch.equal(data.training, torch.cat([data.members, data.cal_members]))
    model = train_target(spec, data, device="cpu", progress=False)
    assert model.key == model_key(data.training, spec.model, spec.train)
    assert model.key != model_key(torch.cat([data.members, data.cal_nonmembers]), spec.model, spec.train)
    assert model.record["split_hash"] == data.split.hash and model.record["n_training_images"] == 20
    again = train_target(spec, device="cpu", progress=False)
    assert again.from_cache and _same(again.unet, model.unet)
    # another split size: other training images, so another model (never a stale cache hit)
    other = TargetSpec.from_params({**PARAMS, "n_members": 12})
    assert train_target(other, device="cpu", progress=False).key != model.key
    with pytest.raises(ValueError, match="unknown part"):
        data.part("calibration")


def test_budgets_share_the_target_and_its_snapshots(exp_root):
    spec = TargetSpec.from_params({**PARAMS, "train_steps": 6})
    data = load_data(spec)
    target = train_target(spec, data, device="cpu", progress=False, snapshot_steps=[2, 4, 8])
    budgets = train_target_budgets(spec, [2, 4, 6], data, device="cpu", progress=False)
    assert all(m.from_cache for m in budgets.values())  # snapshots of the target's own run
    assert budgets[6].key == target.key and budgets[2].record["snapshot_of"] == target.key


def test_part_sizes_and_label_balance_of_the_split(exp_root):
    spec = TargetSpec.from_params(PARAMS)
    data = load_data(spec)
    assert data.part_sizes() == {"members": 16, "non-members": 16, "calibration members": 4,
                                 "calibration non-members": 4}
    balance = data.label_balance()
    assert balance.checked and balance.names == list(data.part_sizes())
    assert balance.counts.sum(1).tolist() == [16, 16, 4, 4]
    assert 0.0 <= balance.p_value <= 1.0


def test_training_line_says_where_the_model_came_from(exp_root):
    spec = TargetSpec.from_params(PARAMS)
    data = load_data(spec)
    first = train_target(spec, data, progress=False)
    again = train_target(spec, data, progress=False)
    from mialib.experiments.membership import training_line
    assert training_line(first).startswith("trained: ") and training_line(again).startswith("loaded from cache: ")
    n = first.record["n_parameters"]
    assert f"{n:,} parameters, 5 steps of 4 images on 20 images = 1 epochs" in training_line(first)


def test_noises_collected_once_give_the_scores_of_score_split(exp_root):
    from mialib.attacks import NoiseAggregation, score_split
    from mialib.experiments.membership import MembershipExperiment
    exp = MembershipExperiment.open(seed=0, target=PARAMS, progress=False)
    na = NoiseAggregation(t=40, m=10, K=3)
    noises, q = exp.collect_noises(na, seed=2)
    assert q == na.queries() and noises["members"].shape[:2] == (16, 3)
    got = exp.scores_from_noises(na, noises, seed=2)
    want = score_split(na, exp.target, exp.data, seed=2)
    for part in ("members", "nonmembers", "cal_members", "cal_nonmembers"):
        assert torch.equal(getattr(got, part), getattr(want, part)), part


def test_epochs_and_size_record(exp_root):
    from mialib.experiments.membership import MembershipExperiment
    exp = MembershipExperiment.open(seed=0, target=PARAMS, progress=False)
    assert exp.model.epochs == pytest.approx(5 * 4 / 20) == exp.epochs and exp.epochs_per_step == pytest.approx(4 / 20)
    assert exp.data.size_record() == {"n_members": 16, "n_nonmembers": 16, "n_calibration_members": 4,
                                      "n_calibration_nonmembers": 4}
