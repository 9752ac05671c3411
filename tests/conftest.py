"""Test-wide settings: outputs go to temporary folders, progress bars are off, and a few
synthetic targets serve as positive / negative controls."""

from __future__ import annotations

import os

import pytest
import torch


@pytest.fixture(autouse=True, scope="session")
def _isolated_outputs(tmp_path_factory):
    """Cache, figures and results of the whole session go to a temporary folder, so the
    tests never touch (or depend on) the repository's data/cache, figures/ or results/."""
    base = tmp_path_factory.mktemp("mialib_outputs")
    saved = {k: os.environ.get(k) for k in ("MIALIB_CACHE", "MIALIB_FIGURES", "MIALIB_RESULTS",
                                            "MIALIB_PROGRESS", "HF_HUB_OFFLINE", "MPLBACKEND")}
    os.environ.update(MIALIB_CACHE=str(base / "cache"), MIALIB_FIGURES=str(base / "figures"),
                      MIALIB_RESULTS=str(base / "results"), MIALIB_PROGRESS="0",
                      HF_HUB_OFFLINE="1", MPLBACKEND="Agg")
    yield base
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


@pytest.fixture(scope="session")
def digits_split():
    """48 members and 48 non-members of the shipped digits, drawn at random."""
    from mialib.data import load_digits
    ds = load_digits()
    perm = torch.randperm(len(ds), generator=torch.Generator().manual_seed(0))
    return ds.images[perm[:48]], ds.images[perm[48:96]]


@pytest.fixture
def linear_abar():
    """abar_t of the papers' schedule: T = 1000 linear betas from 1e-4 to 0.02."""
    betas = torch.linspace(1e-4, 0.02, 1000, dtype=torch.float64)
    return torch.cumprod(1 - betas, 0)


@pytest.fixture
def exp_root(tmp_path, monkeypatch):
    """An empty repository root and model cache for experiments that write splits and models."""
    monkeypatch.setenv("MIALIB_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("MIALIB_ROOT", str(tmp_path))
    (tmp_path / "data" / "splits").mkdir(parents=True)
    return tmp_path
