"""SecMI: Step-wise Error Comparing Membership Inference (Duan et al., ICML 2023;
docs/papers.md section 1).

Overfitting assumption: the model's deterministic "posterior estimation" at step t is more
accurate on training members. With the DDIM map D (docs/papers.md eq. 2):

1. invert x0 deterministically with stride k up to x~ = x_{t_sec - k}
   (steps 0 -> k -> 2k -> ... -> t_sec - k; the clean image is the sample at t = 0);
2. x^ = D(D(x~, t_sec - k -> t_sec), t_sec -> t_sec - k);
3. t-error (docs/papers.md eq. 3; the paper's eq. 9/10 as the released code computes it)
   = ||x^ - x~||^2.

That is t_sec / k - 1 + 2 queries (11 for t_sec = 100, k = 10; the paper's text says 12).
The inversion to the largest t_sec of a sweep passes through x~ of every smaller multiple of k,
so one trajectory scores them all (:func:`secmi_error_maps_sweep`): max(t_sec) / k - 1 + 2 x
(number of values) queries instead of the sum.
SecMI_stat thresholds -t-error; SecMI_NNs trains a classifier on |x^ - x~| maps. On a latent
model (a target with an encoder) every step happens in latent space, as in the paper's
Stable Diffusion experiments.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .batching import iter_batches
from .classifier import SECMI_NNS_CLASSIFIER, HeldoutScores, heldout_classifier_scores
from .config import AttackConfig


@dataclass(frozen=True)
class SecMI(AttackConfig):
    """SecMI's settings: the timestep t_sec and the inversion stride k (the paper's defaults)."""

    TIMESTEP = "t_sec"

    t_sec: int = 100
    k: int = 10

    def validate(self) -> None:
        if self.k < 1:
            raise ValueError(f"k must be an integer >= 1, got {self.k}")
        if self.t_sec < self.k or self.t_sec % self.k:
            raise ValueError(f"t_sec ({self.t_sec}) must be a positive multiple of the stride k ({self.k})")

    def check(self, target) -> None:
        target.check_timestep(self.k, "k", low=1)
        target.check_timestep(self.t_sec, "t_sec", low=self.k)

    def queries(self) -> int:
        """(t_sec / k - 1) inversion steps + 2."""
        return self.t_sec // self.k - 1 + 2

    def scores(self, target, x0, *, cond=None, generator=None) -> torch.Tensor:
        return secmi_stat(target, x0, self.t_sec, self.k, cond=cond)

    def shared_sweep(self, parameter: str) -> bool:
        return parameter == "t_sec"

    def sweep_scores(self, target, x0, parameter: str, values, *, cond=None, generator=None) -> dict:
        if not self.shared_sweep(parameter):
            return super().sweep_scores(target, x0, parameter, values, cond=cond, generator=generator)
        maps = secmi_error_maps_sweep(target, x0, values, self.k, cond)
        return {t: -terror_of_maps(m) for t, m in maps.items()}


def secmi_error_maps_sweep(target, x0, t_secs, k: int = SecMI.k, cond=None, back_cond=None) -> dict:
    """{t_sec: x^ - x~ per element} for every t_sec of ``t_secs`` (multiples of ``k``) from ONE
    deterministic inversion of each batch up to max(t_secs) - k: the x~ of a smaller t_sec is a
    point on the way (module docstring). Each map is bitwise the one of a run to that t_sec alone.
    ``cond`` conditions the way up (the inversion and step 2's first D); ``back_cond``, when given,
    the one step back (step 2's second D) instead, to measure what a caption does on each half of
    the round trip (notebook 07)."""
    return {t: maps[0] for t, maps in _round_trips(target, x0, t_secs, k, cond, [back_cond]).items()}


def secmi_error_maps_backs(target, x0, t_sec: int, k: int, cond, back_conds) -> list:
    """The maps x^ - x~ at ``t_sec`` for each condition of ``back_conds`` on the step back, from ONE
    inversion under ``cond`` (None in ``back_conds``: ``cond`` itself); each equals
    :func:`secmi_error_maps` with that ``back_cond``."""
    return _round_trips(target, x0, [t_sec], k, cond, list(back_conds))[int(t_sec)]


def _round_trips(target, x0, t_secs, k: int, cond, back_conds: list) -> dict:
    """{t_sec: [x^ - x~ for each of ``back_conds``]} from one inversion per batch under ``cond``."""
    t_secs = sorted({int(t) for t in t_secs})
    if not t_secs:
        raise ValueError("t_secs is empty: give at least one t_sec")
    for t in t_secs:
        SecMI(t_sec=t, k=k).check(target)
    x0, cond = target.prepare(x0, cond)
    backs = [cond if b is None else target.cond.check(b, len(x0)) for b in back_conds]
    out = {t: [torch.empty_like(x0) for _ in backs] for t in t_secs}
    for sl, x, c in iter_batches(target, x0, cond):
        at = 0                                    # the step x is at
        for t_sec in t_secs:
            for s in range(at, t_sec - k, k):     # deterministic inversion on to t_sec - k
                x, _ = target.ddim(x, s, s + k, c)
            at = t_sec - k
            x_tilde = x
            x_up, _ = target.ddim(x_tilde, t_sec - k, t_sec, c)
            for i, back in enumerate(backs):
                x_hat, _ = target.ddim(x_up, t_sec, t_sec - k, None if back is None else back[sl])
                out[t_sec][i][sl] = (x_hat - x_tilde).cpu()
    return out


def secmi_error_maps(target, x0, t_sec: int = SecMI.t_sec, k: int = SecMI.k,
                     cond=None, back_cond=None) -> torch.Tensor:
    """x^ - x~ per element (Tensor[N, C, H, W], float32, CPU; in latent space for a latent
    target) for every image in ``x0`` (Tensor[N, C, H, W] in [-1, 1]); see the module docstring
    and :func:`secmi_error_maps_sweep` for ``back_cond``."""
    return secmi_error_maps_sweep(target, x0, [t_sec], k, cond, back_cond)[t_sec]


def terror_of_maps(maps: torch.Tensor) -> torch.Tensor:
    """||x^ - x~||^2 summed over elements, per image (eq. 3), in float64."""
    return maps.double().pow(2).flatten(1).sum(1)


def secmi_terror(target, x0, t_sec: int = SecMI.t_sec, k: int = SecMI.k, cond=None, back_cond=None) -> torch.Tensor:
    """The t-error ||x^ - x~||^2 summed over elements, per image (Tensor[N], float64;
    lower = more member-like); ``back_cond`` as in :func:`secmi_error_maps_sweep`."""
    return terror_of_maps(secmi_error_maps(target, x0, t_sec, k, cond, back_cond))


def secmi_stat(target, x0, t_sec: int = SecMI.t_sec, k: int = SecMI.k, cond=None, back_cond=None) -> torch.Tensor:
    """SecMI_stat membership scores: minus the t-error (Tensor[N], float64; higher = more
    likely a member). A threshold on it is the attack."""
    return -secmi_terror(target, x0, t_sec, k, cond, back_cond)


@dataclass
class NNsResult(HeldoutScores):
    """SecMI_NNs output: scores of the held-out images only (the classifier never saw them),
    the positions of those images in the inputs, the classifier's training loss, and the
    model queries per image the error maps cost."""

    queries_per_image: int = 0


def secmi_nns(target, member_x0, nonmember_x0, *, t_sec: int = SecMI.t_sec, k: int = SecMI.k,
              seed: int = 0, member_cond=None, nonmember_cond=None, progress: bool = False,
              **classifier) -> NNsResult:
    """SecMI_NNs: a ResNet-18-shaped classifier on |x^ - x~| maps, trained on a random
    ``train_frac`` of the members and of the non-members and scored on the rest
    (:func:`.classifier.heldout_classifier_scores`). ``classifier`` overrides the paper's
    recipe, :data:`.classifier.SECMI_NNS_CLASSIFIER` (train_frac 0.2, SGD lr 1e-3, momentum
    0.9, weight decay 5e-4, batch 128, 15 epochs, width 64). The maps are divided by one
    scale (their standard deviation on the training part) so the tiny errors suit the
    network. Scores are member-minus-non-member logits (higher = member)."""
    recipe = SECMI_NNS_CLASSIFIER.replace(**classifier)  # checked before any query
    m_maps = secmi_error_maps(target, member_x0, t_sec, k, member_cond).abs()
    n_maps = secmi_error_maps(target, nonmember_x0, t_sec, k, nonmember_cond).abs()
    res = heldout_classifier_scores(m_maps, n_maps, recipe, seed=seed, device=target.device,
                                    progress=progress, desc="SecMI_NNs")
    return NNsResult(**vars(res), queries_per_image=SecMI(t_sec=t_sec, k=k).queries())
