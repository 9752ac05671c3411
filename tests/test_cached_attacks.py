"""SecMI_NNs computed once per target and shared by notebooks 02 and 04 through the cache: the
second call loads exactly what the first computed, settings and seed are in the key, and a
corrupt entry is recomputed."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from helpers import TINY_TARGET
from mialib.core import cache
from mialib.experiments import cached_attacks
from mialib.experiments.comparison import run_secmi_nns
from mialib.experiments.membership import MembershipExperiment

NNS = {"secmi_nns": {"epochs": 2, "width": 8}, "secmi_stat": {"t_sec": 20}}


@pytest.fixture
def exp(exp_root):
    return MembershipExperiment.open(seed=0, target=TINY_TARGET, device="cpu", attacks=NNS, progress=False)


def _same(a, b):
    assert torch.equal(a.member_scores, b.member_scores) and torch.equal(a.nonmember_scores, b.nonmember_scores)
    assert np.array_equal(a.member_eval_idx, b.member_eval_idx) and np.array_equal(a.nonmember_eval_idx, b.nonmember_eval_idx)
    assert a.train_loss == b.train_loss and a.queries_per_image == b.queries_per_image


def test_the_second_notebook_loads_what_the_first_computed(exp, monkeypatch):
    direct, _ = run_secmi_nns(exp.target, exp.data, exp.settings, seed=0, progress=False)
    first, seconds = cached_attacks.secmi_nns_once(exp, seed=0, progress=False)
    _same(first, direct)   # the cache changes nothing
    assert seconds > 0 and first.queries_per_image == 20 // 10 + 1

    def no_compute(*a, **k):
        raise AssertionError("computed twice")
    monkeypatch.setattr(cached_attacks, "run_secmi_nns", no_compute)
    again, seconds_again = cached_attacks.secmi_nns_once(exp, seed=0, progress=False)
    _same(again, first)
    assert seconds_again == pytest.approx(seconds) and isinstance(again.member_eval_idx, np.ndarray)


def test_settings_seed_and_model_are_in_the_key(exp):
    key = cached_attacks.secmi_nns_key(exp.model.key, exp.data.split.hash, exp.settings, 0, "cpu")
    other = dict(exp.settings, secmi_nns=exp.settings["secmi_nns"].replace(epochs=3))
    assert key != cached_attacks.secmi_nns_key(exp.model.key, exp.data.split.hash, other, 0, "cpu")
    assert key != cached_attacks.secmi_nns_key(exp.model.key, exp.data.split.hash, exp.settings, 1, "cpu")
    assert key != cached_attacks.secmi_nns_key("another-model", exp.data.split.hash, exp.settings, 0, "cpu")
    assert key != cached_attacks.secmi_nns_key(exp.model.key, exp.data.split.hash, exp.settings, 0, "cuda")


def test_a_corrupt_entry_is_recomputed_to_the_same_scores(exp):
    first, _ = cached_attacks.secmi_nns_once(exp, seed=0, progress=False)
    key = cached_attacks.secmi_nns_key(exp.model.key, exp.data.split.hash, exp.settings, 0, exp.target.device)
    scores = cache.entry_dir(key) / "scores.safetensors"
    scores.write_bytes(scores.read_bytes()[:50])
    with pytest.warns(RuntimeWarning, match="partial or corrupt"):
        again, _ = cached_attacks.secmi_nns_once(exp, seed=0, progress=False)
    _same(again, first)
