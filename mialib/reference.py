"""What others measured: the papers' reported numbers (cited, never recomputed here) and
externally produced score files committed under data/external/.

Keep every number typed from a paper in THIS module, with its source, so notebooks can put
them beside this run's numbers without typing them again.
"""

from __future__ import annotations

import numpy as np

from . import paths
from .data import DataNotFoundError

# Duan et al., "Are Diffusion Models Vulnerable to Membership Inference Attacks?" (SecMI),
# ICML 2023, DDPM targets, 800k training steps, members/non-members from the SecMI splits.
# Values as listed in ../shared/PAPERS.md section 1; TPRs as fractions.
REPORTED = {
    "secmi_stat/cifar10": {"asr": 0.811, "auc": 0.881, "tpr@1%fpr": 0.0911, "tpr@0.1%fpr": 0.0066},
    "secmi_nns/cifar10": {"asr": 0.888, "auc": 0.951, "tpr@1%fpr": 0.3798, "tpr@0.1%fpr": 0.0759},
    "secmi_stat/cifar100": {"asr": 0.798, "auc": 0.868},
    "secmi_stat/tiny-imagenet": {"asr": 0.821, "auc": 0.894},
    "secmi_stat/sd-v1.4": {"asr": 0.664, "auc": 0.707},
}
# The experimental setup behind those numbers (same source).
SETUP = {
    "secmi/cifar10": {"n_members": 25_000, "n_nonmembers": 25_000, "train_steps": 800_000,
                      "nns_train_frac": 0.2, "nns_epochs": 15},
}
SOURCES = {
    "secmi": "Duan et al., ICML 2023 (SecMI), as summarised in PAPERS.md section 1",
    "external_terrors": "t-errors of third-party CIFAR DDPMs, neilkale/quantile-diffusion-mia "
                        "(SecMI/t_errors/<dataset>/{member,nonmember}_results.json); see "
                        "data/external/README.md",
}


def reported(key: str) -> dict:
    """The reported metrics of ``key`` ("secmi_stat/cifar10", ...)."""
    if key not in REPORTED:
        raise KeyError(f"no reported numbers for {key!r}; known: {sorted(REPORTED)}")
    return dict(REPORTED[key])


def setup(key: str) -> dict:
    """The reported experimental setup of ``key`` ("secmi/cifar10")."""
    if key not in SETUP:
        raise KeyError(f"no reported setup for {key!r}; known: {sorted(SETUP)}")
    return dict(SETUP[key])


def load_external_terrors(dataset: str) -> tuple[np.ndarray, np.ndarray]:
    """(member_scores, nonmember_scores) = minus the third-party SecMI t-errors of
    ``dataset`` ("cifar10" or "cifar100"), so higher = more member-like as everywhere here."""
    path = paths.external_data_dir() / f"secmi_terrors_{dataset}.npz"
    if not path.is_file():
        raise DataNotFoundError(f"external t-errors for {dataset!r} not found at {path}; the "
                                "repository ships data/external/secmi_terrors_{cifar10,cifar100}.npz")
    with np.load(path, allow_pickle=False) as z:
        return -z["member"].astype(np.float64), -z["nonmember"].astype(np.float64)
