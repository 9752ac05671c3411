"""Externally produced score files committed under data/external/ (see its README for
provenance): the t-errors of third-party CIFAR DDPMs, a real case on which the metric code is
checked and which notebook 02 sets beside the papers' numbers."""

from __future__ import annotations

import numpy as np

from ..core import paths
from .loaders import DataNotFoundError

# The SecMI settings the third-party t-errors were computed with (data/external/README.md).
SECMI_SETTINGS = {"t_sec": 100, "k": 10}
SOURCE = ("t-errors of third-party CIFAR DDPMs, neilkale/quantile-diffusion-mia "
          "(SecMI/t_errors/<dataset>/{member,nonmember}_results.json); see data/external/README.md")


def load_external_terrors(dataset: str) -> tuple[np.ndarray, np.ndarray]:
    """(member_scores, nonmember_scores) = minus the third-party SecMI t-errors of
    ``dataset`` ("cifar10" or "cifar100"), so higher = more member-like as everywhere here."""
    path = paths.external_data_dir() / f"secmi_terrors_{dataset}.npz"
    if not path.is_file():
        raise DataNotFoundError(f"external t-errors for {dataset!r} not found at {path}; the "
                                "repository ships data/external/secmi_terrors_{cifar10,cifar100}.npz")
    with np.load(path, allow_pickle=False) as z:
        return -z["member"].astype(np.float64), -z["nonmember"].astype(np.float64)
