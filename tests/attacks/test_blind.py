"""The blind baseline: at chance on an i.i.d. split, near 1 on a shifted one; bad input."""

from __future__ import annotations

import pytest
import torch

from helpers import gen as _gen
from mialib.attacks import blind_baseline
from mialib.data import load_digits
from mialib.evaluation.metrics import evaluate


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


@pytest.mark.parametrize("bad, match", [(torch.zeros(0, 1, 8, 8), "non-empty"), (torch.zeros(8, 8), "non-empty"),
                                        (torch.full((4, 1, 8, 8), float("nan")), "NaN"),
                                        (torch.zeros(4, 1, 4, 4), "one shape")])
def test_blind_baseline_bad_input(bad, match):
    with pytest.raises(ValueError, match=match):
        blind_baseline(torch.zeros(4, 1, 8, 8), bad, epochs=1)

