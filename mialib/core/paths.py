"""Repository-relative locations, so code runs the same from papermill, pytest or JupyterLab."""

from __future__ import annotations

import os
from pathlib import Path


def repo_root() -> Path:
    """The repository root: $MIALIB_ROOT if set, else the folder holding ``mialib/`` when it
    also holds ``notebooks/``, else the current directory's nearest such ancestor."""
    env = os.environ.get("MIALIB_ROOT")
    if env:
        return Path(env).resolve()
    here = Path(__file__).resolve().parents[2]
    if (here / "notebooks").is_dir():
        return here
    for parent in [Path.cwd(), *Path.cwd().parents]:
        if (parent / "notebooks").is_dir() and (parent / "mialib").is_dir():
            return parent
    return Path.cwd()


def data_dir() -> Path:
    """``data/``: user-provided data sets and the committed splits."""
    return repo_root() / "data"


def splits_dir() -> Path:
    """``data/splits/``: member / non-member index files (committed)."""
    return data_dir() / "splits"


def cache_dir() -> Path:
    """``data/cache/``: trained models keyed by config hash (ignored by git).
    Overridable with $MIALIB_CACHE (the tests use a temporary folder)."""
    env = os.environ.get("MIALIB_CACHE")
    return Path(env).resolve() if env else data_dir() / "cache"


def figures_dir() -> Path:
    """``figures/``: regenerated PNG and PDF figures ($MIALIB_FIGURES overrides)."""
    env = os.environ.get("MIALIB_FIGURES")
    return Path(env).resolve() if env else repo_root() / "figures"


def results_dir() -> Path:
    """``results/``: one JSON per notebook ($MIALIB_RESULTS overrides)."""
    env = os.environ.get("MIALIB_RESULTS")
    return Path(env).resolve() if env else repo_root() / "results"


def external_data_dir() -> Path:
    """``data/external/``: externally produced reference data committed with the repository
    (third-party SecMI t-errors of CIFAR models; see its README for provenance)."""
    return data_dir() / "external"
