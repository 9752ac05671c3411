"""The aggregation metrics of noise aggregation (docs/papers.md eq. 8-9): brute force, closed
forms, invariances, bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from helpers import gen as _gen
from mialib.attacks import aggregation as agg


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

