"""How spread out a set of K predicted noises is: the aggregation step of noise aggregation
(Li et al. 2025; docs/papers.md section 2, eq. 8).

Every function takes ``e``: Tensor[N, K, D] (K flattened noise predictions per image) and
returns C: Tensor[N] in float64, a *spread*: small C = the noises agree = member-like.

- ``l2``       (default) C = (1/K^2) sum_{i,j} ||e_i - e_j||_2^2, computed through the identity
               (1/K^2) sum_{i,j} ||e_i - e_j||^2 = (2/K) sum_i ||e_i - e_bar||^2 (e_bar: centroid);
- ``l1``       C = (1/K^2) sum_{i,j} ||e_i - e_j||_1;
- ``centroid`` C = (1/K) sum_i ||e_i - e_bar||_2 (mean distance to the centroid);
- ``density``  C = (1/K) sum_i min_{j != i} ||e_i - e_j||_2 (mean nearest-neighbour distance:
               dense clouds have small C);
- ``hull``     C = the (K-1)-dimensional volume of the convex hull of the K points. K <= D
               points in general position are the vertices of a (K-1)-simplex, whose volume is
               sqrt(det G) / (K-1)! with G the Gram matrix of e_i - e_0 (i = 1..K-1).
               Degenerate (coplanar) sets have volume 0.

The paper does not define the last three beyond their names; these are the standard
definitions. The score is S = -log(C + delta) (:func:`spread_to_score`).
"""

from __future__ import annotations

import math

import torch

from ..core.checks import check_float


def _check(e: torch.Tensor, min_k: int = 2) -> torch.Tensor:
    if e.ndim != 3:
        raise ValueError(f"noise sets must be Tensor[N, K, D], got shape {tuple(e.shape)}")
    if e.shape[1] < min_k:
        raise ValueError(f"aggregation needs K >= {min_k} noise predictions per image, got {e.shape[1]}")
    return e.double()


def l2_pairwise(e: torch.Tensor) -> torch.Tensor:
    """(1/K^2) sum_{i,j} ||e_i - e_j||_2^2 (docs/papers.md eq. 8, the default)."""
    e = _check(e)
    centred = e - e.mean(1, keepdim=True)
    return 2.0 * centred.pow(2).sum(2).mean(1)


def l1_pairwise(e: torch.Tensor) -> torch.Tensor:
    """(1/K^2) sum_{i,j} ||e_i - e_j||_1."""
    e = _check(e)
    k = e.shape[1]
    total = torch.zeros(len(e), dtype=torch.float64, device=e.device)
    for i in range(k):  # pairs i < j, counted twice; K <= ~10 so the loop is cheap
        total += (e[:, i:i + 1] - e[:, i + 1:]).abs().sum((1, 2))
    return 2.0 * total / k ** 2


def centroid_distance(e: torch.Tensor) -> torch.Tensor:
    """(1/K) sum_i ||e_i - e_bar||_2."""
    return distances_to_centroid(_check(e)).mean(1)


def _pairwise_distances(e: torch.Tensor) -> torch.Tensor:
    """||e_i - e_j||_2 for every pair: Tensor[N, K, K] (exact differences, not the Gram trick,
    so near-identical noises do not lose their small distances to cancellation)."""
    return (e.unsqueeze(2) - e.unsqueeze(1)).pow(2).sum(3).sqrt()


def nn_density(e: torch.Tensor) -> torch.Tensor:
    """(1/K) sum_i min_{j != i} ||e_i - e_j||_2."""
    e = _check(e)
    d = _pairwise_distances(e)
    d.diagonal(dim1=1, dim2=2).fill_(float("inf"))
    return d.min(2).values.mean(1)


def hull_volume(e: torch.Tensor) -> torch.Tensor:
    """(K-1)-volume of the convex hull of the K points: sqrt(det G) / (K-1)!, G_ab =
    <e_a - e_0, e_b - e_0>. Needs K - 1 <= D."""
    e = _check(e)
    k, d = e.shape[1], e.shape[2]
    if k - 1 > d:
        raise ValueError(f"the hull volume of K={k} points needs dimension >= K-1, got D={d}")
    v = e[:, 1:] - e[:, :1]                                  # [N, K-1, D]
    gram = v @ v.transpose(1, 2)                             # [N, K-1, K-1]
    sign, logdet = torch.linalg.slogdet(gram)
    vol = torch.exp(0.5 * logdet - math.lgamma(k))
    return torch.where(sign > 0, vol, torch.zeros_like(vol))


def distances_to_centroid(e: torch.Tensor) -> torch.Tensor:
    """||e_i - e_bar||_2 for each of the K noises of each image: Tensor[N, K] (what the
    centroid metric averages; the L2 metric is (2/K) times the sum of their squares)."""
    e = _check(e, min_k=1)
    return (e - e.mean(1, keepdim=True)).pow(2).sum(2).sqrt()


METRICS = {
    "l2": l2_pairwise,
    "l1": l1_pairwise,
    "centroid": centroid_distance,
    "density": nn_density,
    "hull": hull_volume,
}


def check_metric(metric: str) -> str:
    """``metric`` if it names one of :data:`METRICS`, else a ValueError listing them."""
    if not isinstance(metric, str) or metric not in METRICS:
        raise ValueError(f"unknown aggregation metric {metric!r}; choose one of {sorted(METRICS)}")
    return metric


def spread(e: torch.Tensor, metric: str = "l2") -> torch.Tensor:
    """The spread C of each image's noise set under ``metric`` (one of :data:`METRICS`)."""
    return METRICS[check_metric(metric)](e)


def spread_to_score(c: torch.Tensor, delta: float = 1e-12) -> torch.Tensor:
    """S = -log(C + delta) (docs/papers.md eq. 9): higher = tighter noises = more likely a member."""
    check_float(delta, "delta", low=0.0, low_open=True)
    return -torch.log(c.double() + delta)
