"""SecMI: Step-wise Error Comparing Membership Inference (Duan et al., ICML 2023).

Overfitting assumption: the model's deterministic "posterior estimation" at step t is more
accurate on training members. With the DDIM map D of :mod:`.target`:

1. invert x0 deterministically with stride k up to x~ = x_{t_sec - k}
   (steps 0 -> k -> 2k -> ... -> t_sec - k; the clean image is the sample at t = 0);
2. x^ = D(D(x~, t_sec - k -> t_sec), t_sec -> t_sec - k);
3. t-error (the paper's eq. 9 / 10, as the released code computes it) = ||x^ - x~||^2.

That is t_sec / k - 1 + 2 queries (11 for t_sec = 100, k = 10; the paper's text says 12).
SecMI_stat thresholds -t-error; SecMI_NNs trains a classifier on |x^ - x~| maps.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .classifier import HeldoutScores, check_train_frac, heldout_classifier_scores
from .target import DiffusionTarget


def secmi_queries(t_sec: int = 100, k: int = 10) -> int:
    """Model queries per image of one t-error: (t_sec / k - 1) inversion steps + 2."""
    return t_sec // k - 1 + 2


def check_secmi_steps(target: DiffusionTarget, t_sec: int = 100, k: int = 10) -> tuple[int, int]:
    """(t_sec, k) as ints after checking them against ``target``'s schedule (ValueError)."""
    k = target.check_timestep(k, "k", low=1)
    t_sec = target.check_timestep(t_sec, "t_sec", low=k)
    if t_sec % k:
        raise ValueError(f"t_sec ({t_sec}) must be a multiple of the stride k ({k})")
    return t_sec, k


def secmi_error_maps(target: DiffusionTarget, x0, t_sec: int = 100, k: int = 10,
                     cond=None) -> torch.Tensor:
    """x^ - x~ per pixel (Tensor[N, C, H, W], float32, CPU) for every image in ``x0``
    (Tensor[N, C, H, W] in [-1, 1]); see the module docstring for x~ and x^."""
    x0 = target.check_images(x0)
    cond = target.check_cond(cond, len(x0))
    t_sec, k = check_secmi_steps(target, t_sec, k)
    out = torch.empty_like(x0)
    for sl in target.batches(len(x0)):
        c = None if cond is None else cond[sl]
        x = x0[sl]
        for s in range(0, t_sec - k, k):          # deterministic inversion to t_sec - k
            x, _ = target.ddim(x, s, s + k, c)
        x_tilde = x
        x_up, _ = target.ddim(x_tilde, t_sec - k, t_sec, c)
        x_hat, _ = target.ddim(x_up, t_sec, t_sec - k, c)
        out[sl] = (x_hat - x_tilde).cpu()
    return out


def secmi_terror(target: DiffusionTarget, x0, t_sec: int = 100, k: int = 10,
                 cond=None) -> torch.Tensor:
    """The t-error ||x^ - x~||^2 summed over pixels, per image (Tensor[N], float64;
    lower = more member-like)."""
    maps = secmi_error_maps(target, x0, t_sec, k, cond)
    return maps.double().pow(2).flatten(1).sum(1)


def secmi_stat(target: DiffusionTarget, x0, t_sec: int = 100, k: int = 10,
               cond=None) -> torch.Tensor:
    """SecMI_stat membership scores: minus the t-error (Tensor[N], float64; higher = more
    likely a member). A threshold on it is the attack."""
    return -secmi_terror(target, x0, t_sec, k, cond)


@dataclass
class NNsResult(HeldoutScores):
    """SecMI_NNs output: scores of the held-out images only (the classifier never saw them),
    the positions of those images in the inputs, the classifier's training loss, and the
    model queries per image the error maps cost."""

    queries_per_sample: int = 0


def secmi_nns(target: DiffusionTarget, member_x0, nonmember_x0, *, t_sec: int = 100, k: int = 10,
              train_frac: float = 0.2, epochs: int = 15, lr: float = 1e-3, momentum: float = 0.9,
              weight_decay: float = 5e-4, batch_size: int = 128, width: int = 64, seed: int = 0,
              member_cond=None, nonmember_cond=None, progress: bool = False) -> NNsResult:
    """SecMI_NNs: a ResNet-18-shaped classifier on |x^ - x~| maps, trained on a random
    ``train_frac`` of the members and of the non-members (SGD with the paper's lr 1e-3,
    momentum 0.9, weight decay 5e-4, batch 128, 15 epochs by default) and scored on the rest
    (:func:`.classifier.heldout_classifier_scores`). The maps are divided by one scale (their
    standard deviation on the training part) so the tiny errors suit the network. Scores are
    member-minus-non-member logits (higher = member).
    """
    check_train_frac(train_frac)  # before any query
    m_maps = secmi_error_maps(target, member_x0, t_sec, k, member_cond).abs()
    n_maps = secmi_error_maps(target, nonmember_x0, t_sec, k, nonmember_cond).abs()
    res = heldout_classifier_scores(m_maps, n_maps, train_frac=train_frac, epochs=epochs, lr=lr,
                                    momentum=momentum, weight_decay=weight_decay,
                                    batch_size=batch_size, width=width, seed=seed,
                                    device=target.device, progress=progress, desc="SecMI_NNs")
    return NNsResult(**vars(res), queries_per_sample=secmi_queries(t_sec, k))
