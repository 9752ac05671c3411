"""The blind baseline (docs/papers.md, "Evaluation practice"): a classifier that never queries
the model and tells members from non-members from the images alone.

On an i.i.d. member/non-member split it must sit at chance (AUC ~0.5): whatever an attack
gains above that comes from the model. When the two sets come from different populations it
"succeeds" too, which shows that such a split measures the shift rather than membership.
"""

from __future__ import annotations

import torch

from .classifier import BLIND_CLASSIFIER, HeldoutScores, heldout_classifier_scores


def blind_baseline(member_x0: torch.Tensor, nonmember_x0: torch.Tensor, *, seed: int = 0,
                   progress: bool = False, **classifier) -> HeldoutScores:
    """Train the SecMI_NNs classifier on the raw images of ``train_frac`` of each set and
    score the held-out rest (0 model queries). Same recipe as SecMI_NNs with its own
    defaults, :data:`.classifier.BLIND_CLASSIFIER` (more training data and epochs, a larger
    step, a narrower network); ``classifier`` overrides them. Bad input (empty, not 4-D, NaN,
    mismatched shapes) gets a ValueError from the shared recipe."""
    return heldout_classifier_scores(member_x0, nonmember_x0, BLIND_CLASSIFIER.replace(**classifier),
                                     seed=seed, progress=progress, desc="blind baseline")
