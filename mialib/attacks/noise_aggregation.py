"""Noise aggregation with small-noise injection (Li et al. 2025; PAPERS.md section 2).

No public implementation exists; this one follows the paper's description step by step:

1. inject one small noise in one step, n ~ N(0, I):
   - ``injection="decoupled"`` (default): x = sqrt(abar_t) x0 + sigma * n  (sigma = 0.1);
   - ``injection="vp"`` (variance preserving): x = sqrt(abar_t) x0 + sqrt(1 - abar_t) n
     (sigma is then unused); the paper's wording admits both;
2. denoise deterministically K times with stride m, collecting the predicted noises
   e_i = eps_theta(x, t - i m),  x <- D(x, t - i m -> t - (i+1) m),  i = 0..K-1
   (the last update is never used, so it is skipped; K queries in all);
3. aggregate the spread C of {e_i} (:mod:`.aggregation`; default the mean pairwise squared
   L2 distance (1/K^2) sum_{i,j} ||e_i - e_j||^2);
4. score S = -log(C + delta): a member's noises agree, so its S is high.

Defaults t = 80, m = 10, K = 5 (5 queries per image); it needs t - (K-1) m >= 0.
"""

from __future__ import annotations

import torch

from .aggregation import check_metric, spread, spread_to_score
from .target import DiffusionTarget

INJECTIONS = ("decoupled", "vp")


def noise_aggregation_queries(K: int = 5) -> int:
    """Model queries per image: one per collected noise."""
    return int(K)


def inject_noise(target: DiffusionTarget, x0: torch.Tensor, t: int, noise: torch.Tensor,
                 sigma: float = 0.1, injection: str = "decoupled") -> torch.Tensor:
    """Step 1: sqrt(abar_t) x0 + sigma n ("decoupled") or + sqrt(1 - abar_t) n ("vp")."""
    a = target.abar(t)
    scale = sigma if injection == "decoupled" else (1.0 - a) ** 0.5
    return a ** 0.5 * x0 + scale * noise


def check_noise_aggregation_params(target: DiffusionTarget, t: int = 80, m: int = 10, K: int = 5,
                                   sigma: float = 0.1, injection: str = "decoupled",
                                   metric: str | None = None, min_K: int = 1) -> tuple[int, int, int]:
    """Check the parameters against ``target``'s schedule (ValueError naming the problem) and
    return (t, m, K) as ints. ``metric`` is checked when given; ``min_K`` is 2 for the score,
    which compares noises, and 1 for collecting them."""
    if K < min_K:
        raise ValueError(f"noise aggregation compares K >= {min_K} noise predictions, got K={K}")
    if metric is not None:
        check_metric(metric)
    if injection not in INJECTIONS:
        raise ValueError(f"injection must be one of {INJECTIONS}, got {injection!r}")
    if int(K) != K or K < 1:
        raise ValueError(f"K must be a positive integer, got {K}")
    m = target.check_timestep(m, "m", low=1)
    t = target.check_timestep(t, "t", low=0)
    if t - (K - 1) * m < 0:
        raise ValueError(f"K={K} steps of stride m={m} from t={t} go below step 0: need "
                         f"t >= (K-1)*m = {(K - 1) * m}")
    if injection == "decoupled" and not sigma > 0:
        raise ValueError(f"sigma must be positive, got {sigma}")
    return t, m, int(K)


def noise_aggregation_noises(target: DiffusionTarget, x0, t: int = 80, m: int = 10, K: int = 5,
                             sigma: float = 0.1, injection: str = "decoupled",
                             generator: torch.Generator | None = None, cond=None) -> torch.Tensor:
    """The K predicted noises of every image (steps 1-2): Tensor[N, K, C, H, W], float32, CPU.

    The injected noise is drawn for all N images at once on the CPU from ``generator`` (the
    global torch RNG when None), so scores do not depend on the batch size or the device."""
    x0 = target.check_images(x0)
    cond = target.check_cond(cond, len(x0))
    t, m, K = check_noise_aggregation_params(target, t, m, K, sigma, injection)
    noise = torch.randn(x0.shape, generator=generator, dtype=torch.float32)
    out = torch.empty((len(x0), K, *x0.shape[1:]), dtype=torch.float32)
    for sl in target.batches(len(x0)):
        c = None if cond is None else cond[sl]
        x = inject_noise(target, x0[sl], t, noise[sl], sigma, injection)
        for i in range(K):
            s = t - i * m
            if i + 1 < K:
                x, e = target.ddim(x, s, s - m, c)
            else:
                e = target.eps(x, s, c)
            out[sl, i] = e.cpu()
    return out


def noise_aggregation(target: DiffusionTarget, x0, t: int = 80, m: int = 10, K: int = 5,
                      sigma: float = 0.1, injection: str = "decoupled", metric: str = "l2",
                      generator: torch.Generator | None = None, cond=None,
                      delta: float = 1e-12) -> torch.Tensor:
    """Noise-aggregation membership scores S = -log(C + delta) (Tensor[N], float64; higher =
    more likely a member). ``K`` queries per image; see the module docstring."""
    check_noise_aggregation_params(target, t, m, K, sigma, injection, metric, min_K=2)  # before any query
    noises = noise_aggregation_noises(target, x0, t, m, K, sigma, injection, generator, cond)
    return noise_aggregation_scores(noises, metric, delta)


def noise_aggregation_scores(noises: torch.Tensor, metric: str = "l2", delta: float = 1e-12) -> torch.Tensor:
    """Steps 3-4 on collected noises (Tensor[N, K, ...] from :func:`noise_aggregation_noises`):
    S = -log(C + delta). Scoring one collection under several metrics costs no further query."""
    return spread_to_score(spread(noises.flatten(2), metric), delta)
