"""Notebook 02's bfloat16-against-fp32 comparison: all images where bfloat16 is native, a stated,
paired subset where it is emulated."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from helpers import TINY_TARGET
from mialib.attacks import SecMI, score_split
from mialib.diffusion import adapters
from mialib.evaluation.metrics import evaluate
from mialib.experiments.membership import TargetSpec, load_data, train_target
from mialib.experiments.precision import compare_precision, subset_indices


@pytest.fixture
def tiny_trained(exp_root):
    spec = TargetSpec.from_params(TINY_TARGET)
    data = load_data(spec)
    return train_target(spec, data, device="cpu", progress=False), data


def test_native_bfloat16_answers_for_the_cpu_and_refuses_other_devices(monkeypatch):
    assert isinstance(adapters.native_bfloat16("cpu"), bool)
    assert adapters.native_bfloat16("meta") is False
    monkeypatch.setattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", lambda: False, raising=False)
    assert adapters.native_bfloat16("cpu") is False
    monkeypatch.setattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", lambda: True, raising=False)
    assert adapters.native_bfloat16("cpu") is True


def test_subset_indices_are_seeded_sorted_distinct_and_capped():
    a, b = subset_indices(100, 10, seed=3), subset_indices(100, 10, seed=3)
    assert np.array_equal(a, b) and len(set(a)) == 10 and np.all(np.diff(a) > 0)
    assert not np.array_equal(a, subset_indices(100, 10, seed=4))
    assert np.array_equal(subset_indices(5, 10, seed=0), np.arange(5))


@pytest.mark.parametrize("native", [True, False])
def test_the_comparison_is_paired_on_the_images_it_names(tiny_trained, native):
    model, data = tiny_trained
    secmi = SecMI(t_sec=20, k=10)
    fp32 = score_split(secmi, model.target(), data, seed=0, calibration=False)
    pc = compare_precision(secmi, model, fp32, data, seed=0, n_boot=20, subset=6, native=native)
    if native:
        assert (pc.n_members, pc.n_nonmembers) == (len(data.members), len(data.nonmembers))
        assert pc.fp32 == evaluate(*fp32.evaluation, n_boot=20, seed=0) and "all" in pc.note
    else:
        assert (pc.n_members, pc.n_nonmembers) == (6, 6) and "emulated" in pc.note and "6 members" in pc.note
        idx_m, idx_n = subset_indices(len(data.members), 6, 0), subset_indices(len(data.nonmembers), 6, 1)
        assert pc.fp32 == evaluate(*fp32.subset(idx_m, idx_n).evaluation, n_boot=20, seed=0)
    assert pc.difference["difference"] == pytest.approx(pc.bf16["auc"] - pc.fp32["auc"])
    with pytest.raises(ValueError, match="subset must be an integer >= 2"):
        compare_precision(secmi, model, fp32, data, seed=0, n_boot=20, subset=1)
