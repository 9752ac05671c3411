"""Noise aggregation with small-noise injection (Li et al. 2025; docs/papers.md section 2).

No public implementation exists; this one follows the paper's description step by step:

1. inject one small noise in one step, n ~ N(0, I) (docs/papers.md eq. 6):
   - ``injection="decoupled"`` (default): x = sqrt(abar_t) x0 + sigma * n  (sigma = 0.1);
   - ``injection="vp"`` (variance preserving): x = sqrt(abar_t) x0 + sqrt(1 - abar_t) n
     (sigma is then unused); the paper's wording admits both;
2. denoise deterministically K times with stride m, collecting the predicted noises
   e_i = eps_theta(x, t - i m),  x <- D(x, t - i m -> t - (i+1) m),  i = 0..K-1
   (the last update is never used, so it is skipped; K queries in all; eq. 7);
3. aggregate the spread C of {e_i} (:mod:`.aggregation`; default the mean pairwise squared
   L2 distance (1/K^2) sum_{i,j} ||e_i - e_j||^2, eq. 8);
4. score S = -log(C + delta) (eq. 9): a member's noises agree, so its S is high.

Defaults t = 80, m = 10, K = 5 (5 queries per image); it needs t - (K-1) m >= 0. The noises of
a K run are the first K of a longer run's (each is predicted before the next update), so one walk
of max(K) steps scores every K of a sweep (:meth:`NoiseAggregation.sweep_scores`).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..core.checks import check_choice, check_float, check_int
from .aggregation import METRICS, spread, spread_to_score
from .batching import check_generator, iter_batches
from .config import AttackConfig

INJECTIONS = ("decoupled", "vp")


@dataclass(frozen=True)
class NoiseAggregation(AttackConfig):
    """Noise aggregation's settings (the paper's defaults): injection timestep t, stride m,
    number of noises K (= queries per image), injected noise level sigma, injection mode,
    aggregation metric, and the delta of S = -log(C + delta)."""

    t: int = 80
    m: int = 10
    K: int = 5
    sigma: float = 0.1
    injection: str = "decoupled"
    metric: str = "l2"
    delta: float = 1e-12

    def validate(self) -> None:
        if self.K < 2:
            raise ValueError(f"noise aggregation compares K >= 2 noise predictions, got K={self.K}")
        check_choice(self.injection, "injection", INJECTIONS)
        check_choice(self.metric, "metric (aggregation)", METRICS)
        if self.injection == "decoupled":
            check_float(self.sigma, "sigma", low=0.0, low_open=True)
        check_float(self.delta, "delta", low=0.0, low_open=True)

    def check(self, target) -> None:
        check_walk(target, self.t, self.m, self.K)

    def queries(self) -> int:
        """One per collected noise."""
        return self.K

    def walk_timesteps(self) -> list[int]:
        """The K timesteps the noises are predicted at: t, t - m, ..., t - (K - 1) m (eq. 7)."""
        return [self.t - i * self.m for i in range(self.K)]

    def scores(self, target, x0, *, cond=None, generator=None) -> torch.Tensor:
        return self.scores_from_noises(self.noises(target, x0, cond=cond, generator=generator))

    def noises(self, target, x0, *, cond=None, generator=None) -> torch.Tensor:
        """Steps 1-2: the K predicted noises of every image (:func:`noise_aggregation_noises`)."""
        return noise_aggregation_noises(target, x0, self.t, self.m, self.K, self.sigma, self.injection,
                                        generator=generator, cond=cond)

    def scores_from_noises(self, noises: torch.Tensor) -> torch.Tensor:
        """Steps 3-4 on collected noises (:func:`noise_aggregation_scores`): no further query."""
        return noise_aggregation_scores(noises, self.metric, self.delta)

    def shared_sweep(self, parameter: str) -> bool:
        return parameter == "K"

    def sweep_scores(self, target, x0, parameter: str, values, *, cond=None, generator=None) -> dict:
        """Every K of ``values`` scored on the first K noises of one walk of max(K) steps."""
        if not self.shared_sweep(parameter):
            return super().sweep_scores(target, x0, parameter, values, cond=cond, generator=generator)
        values = sorted({int(v) for v in values})
        for v in values:
            self.replace(K=v).check(target)
        noises = self.replace(K=values[-1]).noises(target, x0, cond=cond, generator=generator)
        return {v: self.replace(K=v).scores_from_noises(noises[:, :v].contiguous()) for v in values}


_NA = NoiseAggregation  # the functions' defaults are the class's


def check_walk(target, t: int, m: int, K: int) -> None:
    """The K steps of stride m from t must stay on the schedule (ValueError)."""
    m = target.check_timestep(m, "m", low=1)
    t = target.check_timestep(t, "t", low=0)
    if t - (K - 1) * m < 0:
        raise ValueError(f"K={K} steps of stride m={m} from t={t} go below step 0: need "
                         f"t >= (K-1)*m = {(K - 1) * m}")


def inject_noise(target, x0: torch.Tensor, t: int, noise: torch.Tensor, sigma: float = _NA.sigma,
                 injection: str = _NA.injection) -> torch.Tensor:
    """Step 1: sqrt(abar_t) x0 + sigma n ("decoupled") or + sqrt(1 - abar_t) n ("vp")."""
    a = target.abar(t)
    scale = sigma if injection == "decoupled" else (1.0 - a) ** 0.5
    return a ** 0.5 * x0 + scale * noise


def noise_aggregation_noises(target, x0, t: int = _NA.t, m: int = _NA.m, K: int = _NA.K,
                             sigma: float = _NA.sigma, injection: str = _NA.injection,
                             generator: torch.Generator | None = None, cond=None) -> torch.Tensor:
    """The K predicted noises of every image (steps 1-2): Tensor[N, K, C, H, W], float32, CPU
    (K = 1 is allowed here, e.g. to look at one prediction).

    The injected noise is drawn for all N images at once on the CPU from ``generator`` (the
    global torch RNG when None), so scores do not depend on the batch size or the device."""
    check_generator(generator)
    check_int(K, "K", low=1)
    NoiseAggregation(t=t, m=m, sigma=sigma, injection=injection)  # types and ranges of the others
    check_walk(target, t, m, K)
    x0, cond = target.prepare(x0, cond)
    noise = torch.randn(x0.shape, generator=generator, dtype=torch.float32)
    out = torch.empty((len(x0), K, *x0.shape[1:]), dtype=torch.float32)
    for sl, x, c in iter_batches(target, x0, cond):
        x = inject_noise(target, x, t, noise[sl], sigma, injection)
        for i in range(K):
            s = t - i * m
            if i + 1 < K:
                x, e = target.ddim(x, s, s - m, c)
            else:
                e = target.eps(x, s, c)
            out[sl, i] = e.cpu()
    return out


def noise_aggregation(target, x0, t: int = _NA.t, m: int = _NA.m, K: int = _NA.K,
                      sigma: float = _NA.sigma, injection: str = _NA.injection, metric: str = _NA.metric,
                      generator: torch.Generator | None = None, cond=None,
                      delta: float = _NA.delta) -> torch.Tensor:
    """Noise-aggregation membership scores S = -log(C + delta) (Tensor[N], float64; higher =
    more likely a member). ``K`` queries per image; see the module docstring."""
    cfg = NoiseAggregation(t=t, m=m, K=K, sigma=sigma, injection=injection, metric=metric, delta=delta)
    cfg.check(target)  # before any query
    return cfg.scores(target, x0, cond=cond, generator=generator)


def noise_aggregation_scores(noises: torch.Tensor, metric: str = _NA.metric,
                             delta: float = _NA.delta) -> torch.Tensor:
    """Steps 3-4 on collected noises (Tensor[N, K, ...] from :func:`noise_aggregation_noises`):
    S = -log(C + delta). Scoring one collection under several metrics costs no further query."""
    scores = spread_to_score(spread(noises.flatten(2), metric), delta)
    if not torch.isfinite(scores).all():
        raise ValueError("noise aggregation produced non-finite scores (spread C + delta <= 0 or "
                         "non-finite noises)")
    return scores
