"""What others measured and claimed: the papers' reported numbers (cited, never recomputed here)
and the numbers of their stated claims. Pure numbers: externally produced score files are read
by :mod:`mialib.data.external`.

Keep every number typed from a paper in THIS module, with its source, so notebooks can put
them beside this run's numbers without typing them again.
"""

from __future__ import annotations

# Duan et al., "Are Diffusion Models Vulnerable to Membership Inference Attacks?" (SecMI),
# ICML 2023, DDPM targets, 800k training steps, members/non-members from the SecMI splits.
# Values as listed in docs/papers.md section 1; TPRs as fractions.
REPORTED = {
    "secmi_stat/cifar10": {"asr": 0.811, "auc": 0.881, "tpr@1%fpr": 0.0911, "tpr@0.1%fpr": 0.0066},
    "secmi_nns/cifar10": {"asr": 0.888, "auc": 0.951, "tpr@1%fpr": 0.3798, "tpr@0.1%fpr": 0.0759},
    "secmi_stat/cifar100": {"asr": 0.798, "auc": 0.868},
    "secmi_stat/tiny-imagenet": {"asr": 0.821, "auc": 0.894},
    "secmi_stat/sd-v1.4": {"asr": 0.664, "auc": 0.707},
}
# Li et al. 2025, noise aggregation with small-noise injection, DDPM targets; the naive-loss
# and SecMI rows are the baselines of the same table (docs/papers.md sections 2 and 3).
REPORTED.update({
    "noise_aggregation/cifar10": {"asr": 0.901, "auc": 0.957, "tpr@1%fpr": 0.287, "tpr@0.1%fpr": 0.0122},
    "noise_aggregation/cifar100": {"asr": 0.839, "auc": 0.903, "tpr@1%fpr": 0.0965},
    "noise_aggregation/tiny-imagenet": {"asr": 0.842, "auc": 0.912, "tpr@1%fpr": 0.1458},
    "naive_loss/cifar10": {"asr": 0.663, "auc": 0.718, "tpr@1%fpr": 0.0335},
    "noise_aggregation/sd-v1.4": {"asr": 0.701},
    "noise_aggregation/sd-v1.5": {"asr": 0.696},
    "secmi_stat/cifar10 (noise-aggregation paper)": {"asr": 0.811, "auc": 0.881, "tpr@1%fpr": 0.0911},
    # Kong et al., ICLR 2024 (PIA), CIFAR-10 DDPM
    "pia_proximal/cifar10": {"auc": 0.885, "tpr@1%fpr": 0.137},
})
# Noise-aggregation ablations on CIFAR-10 (same source): TPR@1%FPR against K, ASR per metric.
ABLATIONS = {
    "noise_aggregation/K_tpr@1%fpr": {2: 0.255, 3: 0.269, 4: 0.286, 5: 0.297, 6: 0.269, 7: 0.220, 8: 0.177},
    "noise_aggregation/metric_asr": {"l2": 0.901, "density": 0.901, "centroid": 0.899, "l1": 0.885,
                                     "hull": 0.771},
}
# The experimental setup behind those numbers (same source).
SETUP = {
    "secmi/cifar10": {"n_members": 25_000, "n_nonmembers": 25_000, "train_steps": 800_000,
                      "nns_train_frac": 0.2, "nns_epochs": 15},
}
# Luo et al. 2024 (docs/papers.md section 4): eq. 13's worked example, an error of at most
# eps = 0.05 with probability 1 - delta = 0.95 (N >= 738 samples), and the fairness-poisoning
# claim "fairness degrades with under 5% loss of accuracy".
HOEFFDING_EXAMPLE = {"eps": 0.05, "delta": 0.05}
FAIRNESS_MAX_ACCURACY_LOSS = 0.05
# The fairness-poisoning selection's utility constraint: I(X;Y) of the chosen records stays within
# 0.1 x I0 of the clean pool's value I0 (Luo et al., fairness poisoning, docs/papers.md section 4).
FAIRNESS_MAX_UTILITY_DRIFT = 0.1
# Notebook 05's aim for the corrected estimator: a mean absolute error of at most eq. 13's eps
# (README, "05, property inference").
PROPERTY_MAE_AIM = HOEFFDING_EXAMPLE["eps"]
# ... and for its intervals over independent repetitions: a mean width of at most 0.3 while at
# least 1 - delta of them hold what they bound (this project's aim: an interval wider than that
# cannot tell p = 0.1 from p = 0.5 on one query).
PROPERTY_WIDTH_AIM = 0.3
# The papers' Stable Diffusion v1.4 rows (real LAION members against COCO non-members), quoted
# for scale beside notebook 07's tiny latent model: label -> (REPORTED key, metric).
STABLE_DIFFUSION = {"SecMI_stat AUC": ("secmi_stat/sd-v1.4", "auc"),
                    "noise aggregation ASR": ("noise_aggregation/sd-v1.4", "asr")}
SOURCES = {
    "secmi": "Duan et al., ICML 2023 (SecMI), arXiv:2302.01316; docs/papers.md section 1",
    "noise_aggregation": "Li, Chen, Fan 2025 (noise aggregation with small-noise injection), arXiv:2510.21783; docs/papers.md section 2",
    "pia": "Kong et al., ICLR 2024 (PIA), arXiv:2305.18355; docs/papers.md section 3",
    "luo": "Luo et al., IEEE TIFS 2024 (property inference and fairness poisoning), arXiv:2402.18607; "
           "docs/papers.md section 4",
}


def reported(key: str) -> dict:
    """The reported metrics of ``key`` ("secmi_stat/cifar10", ...)."""
    if key not in REPORTED:
        raise KeyError(f"no reported numbers for {key!r}; known: {sorted(REPORTED)}")
    return dict(REPORTED[key])


def ablation(key: str) -> dict:
    """A reported ablation ("noise_aggregation/K_tpr@1%fpr", "noise_aggregation/metric_asr")."""
    if key not in ABLATIONS:
        raise KeyError(f"no reported ablation {key!r}; known: {sorted(ABLATIONS)}")
    return dict(ABLATIONS[key])


def setup(key: str) -> dict:
    """The reported experimental setup of ``key`` ("secmi/cifar10")."""
    if key not in SETUP:
        raise KeyError(f"no reported setup for {key!r}; known: {sorted(SETUP)}")
    return dict(SETUP[key])


def stable_diffusion_reference() -> dict:
    """{label: number} of :data:`STABLE_DIFFUSION`: {"SecMI_stat AUC": 0.707, "noise aggregation
    ASR": 0.701}."""
    return {label: reported(key)[metric] for label, (key, metric) in STABLE_DIFFUSION.items()}

